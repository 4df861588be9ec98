#!/usr/bin/env bash
# tcpr-restore benchmark: restore time per session at 64/128/256/512/4096
# sessions (and any given as arguments), median of R runs, against the
# paper's figures (Hong et al. 2017: 512/628/705/758 us per session at
# 64/128/256/512) and against a plain reconnect (socket+connect+accept)
# measured in the same run, on the same machine.
# usage: test/bench/tcpr-restore.sh [N ...]   (root; NONSTOP_BIN, R=5,
# OPTS (tcpr-restore options) for the main column, WRAP="perf record -g" to profile,
# SETTLE=0.3 seconds between runs for the kernel to clean up the last one)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$(dirname "$here")")
BIN=${NONSTOP_BIN:-$top/build/bin}
R=${R:-5}
sizes=${*:-64 128 256 512 4096}
P=tb$$
tmp=$(mktemp -d)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

cleanup() {
	for n in a b c d; do
		for pid in $(ip netns pids $P$n 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
		ip netns del $P$n 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 111' HUP INT PIPE TERM	# the cleanup runs for these too

# a (clients) -- b (server, 10.9.0.100) ; c restores, its cable to d (mute)
for n in a b; do ip netns add $P$n; ip -n $P$n link set lo up; done
ip -n ${P}a link add eth0 type veth peer name eth0 netns ${P}b
ip -n ${P}a addr add 10.9.0.1/24 dev eth0; ip -n ${P}a link set eth0 up
ip -n ${P}b addr add 10.9.0.100/24 dev eth0; ip -n ${P}b link set eth0 up
# c, made afresh for each run (the restored sockets die with it): its
# cable leads to d, where nobody answers, so what c sends goes nowhere
# (and nothing reaches the address it holds)
mkc() {
	ip netns del ${P}c 2>/dev/null || true
	ip netns del ${P}d 2>/dev/null || true
	ip netns add ${P}c && ip netns add ${P}d
	ip -n ${P}c link set lo up
	ip -n ${P}c link add eth0 type veth peer name eth0 netns ${P}d
	ip -n ${P}d link set eth0 up
	ip -n ${P}c addr add 10.9.0.3/24 dev eth0; ip -n ${P}c link set eth0 up
	# the service address is up, as ha-beat adds it before its hook
	# restores (the hook's lock keeps the peers out meanwhile)
	ip -n ${P}c addr add 10.9.0.100/24 dev eth0
}

# the baseline: N x (socket + connect + accept) on loopback, in us
cat >"$tmp/reconnect.c" <<'C'
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
	int n = atoi(argv[1]), i, l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	int *fd = calloc(2 * n, sizeof *fd);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t sl = sizeof a;
	struct timespec t0, t1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 65535) || getsockname(l, (struct sockaddr *)&a, &sl))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		fd[2 * i] = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd[2 * i], (struct sockaddr *)&a, sizeof a)) return 1;
		if ((fd[2 * i + 1] = accept(l, NULL, NULL)) < 0) return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.0f\n", ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 1e3);
	return 0;
}
C
cc -O2 -o "$tmp/reconnect" "$tmp/reconnect.c"

cat >"$tmp/hold.py" <<'PY'
import socket, sys, time
role, n = sys.argv[1], int(sys.argv[2])
if role == 'server':
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(('10.9.0.100', 7)); l.listen(65535)
    print('ready', flush=True)
    c = [l.accept()[0] for _ in range(n)]
    for s in c: s.recv(5)
    for s in c: s.sendall(b'x' * 10)
    print('held', flush=True)
else:
    c = []
    for _ in range(n):
        s = socket.create_connection(('10.9.0.100', 7)); s.sendall(b'hello'); c.append(s)
    for s in c: s.recv(10)
    print('held', flush=True)
time.sleep(3600)
PY

median() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
paper() { case $1 in 64) echo 512;; 128) echo 628;; 256) echo 705;; 512) echo 758;; *) echo -;; esac; }

# restore N OPTS [WRAP...]: one restore in a fresh c; prints its time in us
restore() {
	local n=$1 o=$2 k us
	shift 2
	mkc
	# shellcheck disable=SC2086 # OPTS: tcpr-restore's options, split
	ip netns exec ${P}c "$@" "$BIN/tcpr-restore" -K $o -s "$tmp/store" true 2>&1 | tee "$tmp/restore.err" |
		sed -n 's/.*restored \([0-9]*\) sessions in \([0-9]*\) us.*/\1 \2/p' >"$tmp/one"
	read -r k us <"$tmp/one"
	[ "$k" -eq "$n" ] || { echo "restored $k of $n" >&2; head -3 "$tmp/restore.err" >&2; exit 1; }
	# the namespace's sockets go now, and the kernel's cleanup of them
	# (a worker on the other core) ends before the next run, not in it
	ip netns del ${P}c
	ip netns del ${P}d
	sleep "${SETTLE:-0.3}"
	echo "$us"
}

printf '%-6s %12s %12s %12s %10s %14s %12s %12s %12s %12s %10s\n' sessions "restore_us" "us/session" "paper_us" "paper/ours" "reconnect_us" "reconn/ours" "ring_j1/s" "calls_us/s" "calls_j2/s" "load_us/s"
for n in $sizes; do
	rm -f "$tmp/srv" "$tmp/cli"
	ip netns exec ${P}b python3 "$tmp/hold.py" server "$n" >"$tmp/srv" 2>&1 &
	srvpid=$!
	disown
	for _ in $(seq 500); do grep -q ready "$tmp/srv" && break; sleep 0.01; done
	ip netns exec ${P}a python3 "$tmp/hold.py" client "$n" >"$tmp/cli" 2>&1 &
	disown
	for _ in $(seq 6000); do grep -q held "$tmp/srv" && grep -q held "$tmp/cli" && break; sleep 0.01; done
	rm -rf "$tmp/store"; mkdir "$tmp/store"
	ip netns exec ${P}b "$BIN/tcpr-capture" -q -p 7 snap "$srvpid" | "$BIN/tcpr-sync" -s "$tmp/store" apply
	got=$("$BIN/tcpr-sync" -s "$tmp/store" list | wc -l)
	[ "$got" -eq "$n" ] || { echo "only $got of $n sessions recorded" >&2; cat "$tmp/srv" "$tmp/cli" >&2; exit 1; }
	: >"$tmp/r"; : >"$tmp/r1"; : >"$tmp/r2"; : >"$tmp/rj"; : >"$tmp/b"; : >"$tmp/l"
	for _ in $(seq "$R"); do
		# restore every session (silently: c's cable is a dummy), hand to
		# 'true': as by default (io_uring where the kernel has it), then
		# with system calls (-U), and -U -j 2, in the same run
		# shellcheck disable=SC2086 # WRAP: a profiler's words, e.g. "perf record -g"
		restore "$n" "${OPTS:-}" ${WRAP:-} >>"$tmp/r"
		cp "$tmp/restore.err" "$tmp/main.err"
		sed -n 's/.*store loaded in \([0-9]*\) us.*/\1/p' "$tmp/main.err" >>"$tmp/l"
		restore "$n" "-u -j 1" >>"$tmp/rj"
		restore "$n" "-U -j 1" >>"$tmp/r1"
		restore "$n" "-U -j 2" >>"$tmp/r2"
		# two descriptors a connection: within the limit, scaled to n
		rn=$(( n * 2 + 32 > $(ulimit -n) ? ($(ulimit -n) - 32) / 2 : n ))
		mkc
		ip netns exec ${P}c "$tmp/reconnect" "$rn" | awk -v n="$n" -v r="$rn" '{printf "%d\n", $1 * n / r}' >>"$tmp/b"
		ip netns del ${P}c; ip netns del ${P}d
	done
	r=$(median <"$tmp/r"); b=$(median <"$tmp/b"); r2=$(median <"$tmp/r2")
	r1=$(median <"$tmp/r1"); rj=$(median <"$tmp/rj"); l=$(median <"$tmp/l")
	p=$(paper "$n")
	awk -v n="$n" -v r="$r" -v b="$b" -v p="$p" -v r2="$r2" -v r1="$r1" -v rj="$rj" -v l="$l" 'BEGIN {
		per = r / n
		printf "%-6d %12d %12.1f %12s %10s %14d %12.2f %12.1f %12.1f %12.1f %10.2f\n", n, r, per, p,
		    (p == "-") ? "-" : sprintf("%.1fx", p / per), b, b / r, rj / n, r1 / n, r2 / n, l / n }'
	for pid in $(ip netns pids ${P}a) $(ip netns pids ${P}b); do kill -9 "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
done
echo "# restore_us: tcpr-restore's own timing of its restore loop, median of $R runs;"
echo "# paper/ours: how many times faster than the paper's per-session figure;"
echo "# reconn/ours: a plain socket+connect+accept loop of the same size over the restore (> 1: restore faster);"
echo "#   beyond the descriptor limit (2 a connection) it runs as many as fit and is scaled;"
echo "# restore_us, us/session: tcpr-restore ${OPTS:-as by default}; at the largest size by $(sed -n 's/.*failed, by //p' "$tmp/main.err" | head -1)"
echo "# ring_j1/s: tcpr-restore -u -j 1 (io_uring, one thread) per session, same runs;"
echo "# calls_us/s: tcpr-restore -U (system calls, no io_uring) per session, same runs;"
echo "# calls_j2/s: tcpr-restore -U -j 2 (a child process prepares the sockets), same runs;"
echo "# load_us/s: the store's load before the restore (store loaded in, main column's runs) per session;"
echo "#   the store is read moments after it was written, mostly from the page cache; one left unread for"
echo "#   a while loads slower (10,000 files out of the page cache: about 7 us each here)."
