#!/usr/bin/env bash
# tcpr first-byte benchmark: the master dies with N sessions open (default
# 1000); the backup restores them (tcpr-restore), starts the application,
# adds the virtual address and announces it (garp-send). Per session, from
# the crash (the master's cable cut):
#   push  the first byte the new master's application writes reaches the
#         peer (target: p99 <= 100 ms)
#   echo  a line the peer wrote into the outage comes back echoed: the
#         peer had to resend it, at once when kicked (tcpr-restore's
#         default) or when its retransmission timer ran out (-K)
# Takeover starts D ms after the crash (0, and 1000: a peer that has
# backed off its timer; what a slow failure detector costs).
# usage: test/bench/tcpr-firstbyte.sh [N]   (root; NONSTOP_BIN, DELAYS="0 1000",
# SACK=0 for peers without SACK)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$(dirname "$here")")
BIN=${NONSTOP_BIN:-$top/build/bin}
N=${1:-1000}
DELAYS=${DELAYS:-0 1000}
P=tf$$
tmp=$(mktemp -d)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
VIP=10.9.1.100

nskill() {
	local r pids
	for ((r = 0; r < 100; r++)); do
		pids=$(ip netns pids "$1" 2>/dev/null) || return 0
		[ -n "$pids" ] || return 0
		# shellcheck disable=SC2086
		kill -9 $pids 2>/dev/null || true
		sleep 0.02
	done
}
down() {
	local n
	for n in a b c s; do
		nskill $P$n
		ip netns del $P$n 2>/dev/null || true
	done
}
cleanup() { down; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 111' HUP INT PIPE TERM	# the cleanup runs for these too

# s: a switch; a the peer (10.9.1.1), b the master, c the backup
up() {
	local i=1 n
	ip netns add ${P}s
	ip -n ${P}s link add br0 type bridge forward_delay 0 stp_state 0
	ip -n ${P}s link set br0 up
	for n in a b c; do
		ip netns add $P$n
		ip -n $P$n link set lo up
		ip -n ${P}s link add p$n type veth peer name eth0 netns $P$n
		ip -n ${P}s link set p$n master br0 up
		ip -n $P$n addr add 10.9.1.$i/24 dev eth0
		ip -n $P$n link set eth0 up
		i=$((i + 1))
	done
	ip -n ${P}b addr add $VIP/24 dev eth0
	# SACK=0: a peer without SACK (the kicker's duplicate ACKs reach it)
	[ "${SACK:-1}" = 1 ] || ip netns exec ${P}a sysctl -qw net.ipv4.tcp_sack=0
}

# The application on the new master: writes one byte on every restored
# session at once, then echoes.
cat >"$tmp/app.c" <<'C'
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(void) {
	const char *e = getenv("TCPR_FDS");
	int n = e ? atoi(e) : 0, i;
	struct pollfd *p = calloc((size_t)n + 1, sizeof *p);
	char buf[4096];
	for (i = 0; i < n; i++) {
		p[i].fd = 3 + i;
		p[i].events = POLLIN;
		if (write(3 + i, "R", 1) != 1)
			p[i].fd = -1;
	}
	fprintf(stderr, "app: ready, %d sessions\n", n);
	if (getenv("READY"))
		close(creat(getenv("READY"), 0600));
	for (;;) {
		if (poll(p, (nfds_t)n, -1) < 0)
			return 111;
		for (i = 0; i < n; i++)
			if (p[i].revents) {
				ssize_t r = read(p[i].fd, buf, sizeof buf);
				if (r <= 0 || write(p[i].fd, buf, (size_t)r) != r)
					p[i].fd = -1;
			}
	}
}
C
cc -O2 -o "$tmp/app" "$tmp/app.c"

# The peer: N connections, one echoed line each (the RTT is known); then
# at DIR/cut one line on each into the outage; the times (the wall clock,
# as bash's EPOCHREALTIME) of the pushed byte and of the echo.
cat >"$tmp/peer.py" <<'PY'
import os, selectors, socket, sys, time
host, n, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sel = selectors.DefaultSelector()
cs = []
for i in range(n):
    s = socket.create_connection((host, 7))
    s.sendall(b'hello\n')
    cs.append(s)
for s in cs:
    b = b''
    while len(b) < 6:
        b += s.recv(64)
    s.setblocking(False)
open(os.path.join(d, 'ready'), 'w').close()
while not os.path.exists(os.path.join(d, 'cut')):
    time.sleep(0.001)
for s in cs:
    s.send(b'ping\n')
got = {}
push, echo = {}, {}
for i, s in enumerate(cs):
    sel.register(s, selectors.EVENT_READ, i)
    got[i] = b''
end = time.time() + 30
while len(echo) < n and time.time() < end:
    for k, _ in sel.select(1):
        i = k.data
        b = k.fileobj.recv(4096)
        if not b:
            print('fail: session %d closed' % i, flush=True)
            sys.exit(1)
        t = time.time()
        got[i] += b
        if i not in push and got[i].startswith(b'R'):
            push[i] = t
        if i not in echo and got[i].endswith(b'ping\n'):
            echo[i] = t
if len(echo) < n or len(push) < n or any(got[i] != b'Rping\n' for i in range(n)):
    print('fail: %d pushed, %d echoed of %d' % (len(push), len(echo), n), flush=True)
    sys.exit(1)
with open(os.path.join(d, 'times'), 'w') as f:
    for i in range(n):
        f.write('%.6f %.6f\n' % (push[i], echo[i]))
print('ok', flush=True)
PY

now() { echo "$EPOCHREALTIME"; }
mkfifo "$tmp/never"
exec 9<>"$tmp/never"	# read -t on it: a sleep without a process
# pct FILE COL: p50 p99 max of column COL (ms)
pct() {
	sort -n -k "$2" "$1" | awk -v c="$2" '{v[NR] = $c} END {
		i50 = int(NR * 0.50 + 0.5); i99 = int(NR * 0.99 + 0.5)
		if (i50 < 1) i50 = 1; if (i99 < 1) i99 = 1
		printf "%8.1f %8.1f %8.1f", v[i50], v[i99], v[NR] }'
}

# run KICK(yes|no) DELAY_MS: one crash and takeover; prints a result line
run() {
	local kick=$1 delay=$2 d=$tmp/run t0 tv kopt=
	[ "$kick" = no ] && kopt=-K
	rm -rf "$d" "$tmp/store"
	mkdir -p "$d" "$tmp/store"
	up
	# the master: a plain echo server
	ip netns exec ${P}b python3 -c '
import selectors, socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("'$VIP'", 7)); l.listen(65535)
sel = selectors.DefaultSelector(); sel.register(l, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for k, _ in sel.select():
        if k.fileobj is l:
            c, _ = l.accept(); sel.register(c, selectors.EVENT_READ)
        else:
            b = k.fileobj.recv(4096)
            if b: k.fileobj.sendall(b)
            else: sel.unregister(k.fileobj); k.fileobj.close()
' >"$d/srv" 2>&1 &
	disown
	for _ in $(seq 500); do grep -q ready "$d/srv" 2>/dev/null && break; sleep 0.01; done
	ip netns exec ${P}a python3 "$tmp/peer.py" $VIP "$N" "$d" >"$d/peer" 2>&1 &
	local peer=$!
	for _ in $(seq 12000); do [ -e "$d/ready" ] && break; sleep 0.01; done
	[ -e "$d/ready" ] || { echo "peer not ready" >&2; cat "$d/peer" >&2; exit 1; }
	# the store as the backup holds it at the crash
	ip netns exec ${P}b "$BIN/tcpr-capture" -q -p 7 snap "$(ip netns pids ${P}b | head -n 1)" |
		"$BIN/tcpr-sync" -s "$tmp/store" apply
	# the crash: cable, processes; the peer writes into the outage
	t0=$(now)
	ip -n ${P}s link set pb down
	touch "$d/cut"
	# its processes stay until the end (another machine's dying is not
	# this one's work; they cannot send anything: no cable)
	[ "$delay" -gt 0 ] && sleep "$(awk -v m="$delay" 'BEGIN {print m / 1000}')"
	READY=$d/up ip netns exec ${P}c "$BIN/tcpr-restore" $kopt -s "$tmp/store" "$tmp/app" 2>"$d/restore" &
	disown
	# poll without a fork (a sleep or grep every 2 ms would take a core)
	for _ in $(seq 5000); do [ -e "$d/up" ] && break; read -r -t 0.002 -u 9 || true; done
	[ -n "${DEBUG:-}" ] && echo "app ready $(awk -v a="$t0" -v b="$(now)" 'BEGIN {print (b - a) * 1000}')" >&2
	ip -n ${P}c addr add $VIP/24 dev eth0
	ip netns exec ${P}c "$BIN/garp-send" -c 1 -i eth0 $VIP >/dev/null 2>&1 ||
		ip -n ${P}a neigh flush dev eth0
	tv=$(now)
	wait "$peer" || { echo "peer failed: $(cat "$d/peer")" >&2; grep -v "^$" "$d/restore" | head -5 >&2; exit 1; }
	grep -q "restored $N sessions" "$d/restore" || { cat "$d/restore" >&2; exit 1; }
	[ -n "${DEBUG:-}" ] && cat "$d/restore" >&2
	awk -v t0="$t0" '{printf "%.3f %.3f\n", ($1 - t0) * 1000, ($2 - t0) * 1000}' "$d/times" >"$d/ms"
	printf '%-5s %6s %8.1f %s   %s\n' "$kick" "$delay" \
	    "$(awk -v a="$t0" -v b="$tv" 'BEGIN {print (b - a) * 1000}')" \
	    "$(pct "$d/ms" 1)" "$(pct "$d/ms" 2)"
	down
}

echo "# $N sessions; ms from the master's crash (cable cut); peer SACK ${SACK:-1}"
printf '%-5s %6s %8s %8s %8s %8s   %8s %8s %8s\n' kick delay vip_up push_p50 p99 max echo_p50 p99 max
for delay in $DELAYS; do
	run yes "$delay"
	run no "$delay"
done
echo "# vip_up: the address is up on the new master and announced (restore,
# application start, ip addr add, garp-send)"
echo "# push: the new master's first byte at the peer; echo: the peer's outage line back"
echo "# kick=no is tcpr-restore -K: the peer resends when its own timer runs out"
