#!/usr/bin/env bats
# A real client stays connected to an echo service on a virtual IP while
# the server host dies: its sessions are recorded (tcpr-capture snap),
# stored (tcpr-sync apply), restored on a third host (tcpr-restore) and
# served by a new echo process; every byte comes back once and in order.
load ../lib/common

TCPR_CAPTURE=${TCPR_CAPTURE:-$BIN/tcpr-capture}
TCPR_SYNC=${TCPR_SYNC:-$BIN/tcpr-sync}
TCPR_RESTORE=${TCPR_RESTORE:-$BIN/tcpr-restore}
ECHO=$NONSTOP_TOP/contrib/tcpr/tcpr-echo-py
CLIENT=$NONSTOP_TOP/contrib/tcpr/tcpr-echo-client.py

setup() {
	need_root
	command -v python3 >/dev/null || skip "python3 not installed"
	topo_lan 3
	D=$BATS_TEST_TMPDIR
	mkdir -p "$D/store"
}

# nskill NS: kill every process in namespace NS until none is left. One
# pass is not enough: a hook or a shell pipeline that forks while we kill
# leaves a child nobody listed, running on in a namespace without a name.
nskill() {
	local r pids
	for ((r = 0; r < 100; r++)); do
		pids=$(ip netns pids "$1" 2>/dev/null)
		[ -n "$pids" ] || return 0
		# shellcheck disable=SC2086
		kill -9 $pids 2>/dev/null
		sleep 0.02
	done
	echo "nskill: processes left in $1: $(ip netns pids "$1" 2>/dev/null)" >&2
	return 1
}

teardown() {
	local ns
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${NS_P:-/}"); do
		nskill "$ns" || true
	done
	topo_teardown
}

listening() { hx "$1" ss -Htln "sport = :$2" | grep -q .; }

# failover VIP PLEN FAMILY-FLAG NCLIENTS: client(s) on h1, server on h2,
# new master h3.
failover() {
	local vip=$1 plen=$2 n=${3:-1} i
	hx 2 ip addr add "$vip/$plen" dev eth0 nodad 2>/dev/null || hx 2 ip addr add "$vip/$plen" dev eth0
	bg srv 2 ${APP:-python3 $ECHO} "$vip" 7
	wait_until 10000 listening 2 7
	for ((i = 1; i <= n; i++)); do
		mkdir -p "$D/c$i"
		bg "cli$i" 1 python3 "$CLIENT" "$vip" 7 "$D/c$i" 20 5 20
	done
	for ((i = 1; i <= n; i++)); do
		wait_until 30000 test -e "$D/c$i/ready"
	done
	# The master's last word: its sessions as recovery records.
	hx 2 $TCPR_CAPTURE -p 7 snap "$(bg_pid srv)" >"$D/recs" 2>"$D/snap.err"
	[ "$(wc -c <"$D/recs")" -eq $((100 * n)) ]
	run -0 $TCPR_SYNC -s "$D/store" apply "$D/recs"
	# Crash: cable first, so the dying kernel's FIN/RST never leaves.
	link_cut 2
	kill -9 "$(bg_pid srv)"
	for ((i = 1; i <= n; i++)); do touch "$D/c$i/cut"; done
	sleep 0.3	# the client's outage writes go nowhere
	bg app 3 $TCPR_RESTORE ${RESTORE_OPTS:-} -s "$D/store" ${APP:-python3 $ECHO} ${APP:+"$vip" 7}
	wait_until 10000 grep -q ready "$D/app.err"
	cat "$D/app.err" "$D/snap.err"
	grep -q "restored $n sessions" "$D/app.err"
	if [ "$vip" = "${vip#*:}" ]; then
		hx 3 ip addr add "$vip/$plen" dev eth0
	else
		hx 3 ip addr add "$vip/$plen" dev eth0 nodad
	fi
	hx 3 "$GARP_SEND" -c 2 -i eth0 "$vip" 2>/dev/null ||
		hx 1 ip neigh flush dev eth0	# no garp-send: the peer re-resolves
	for ((i = 1; i <= n; i++)); do
		wait_until 60000 not_running "$(bg_pid "cli$i")"
		echo "client $i: $(bg_out "cli$i")"
		[[ $(bg_out "cli$i") == "ok sent="* ]]
		cmp "$D/c$i/sent" "$D/c$i/got"
	done
}

@test "tcpr-restore: an IPv4 session survives its server host's death" {
	failover 192.0.2.100 24 1
	# the app got the session with its offsets
	run -0 $TCPR_SYNC -s "$D/store" list
	[[ $output == *"local=192.0.2.100:7 peer=192.0.2.1:"* ]]
}

@test "tcpr-restore: libtcpr's tcpr-echod resumes 5 sessions and serves new ones" {
	[ -x "$BIN/tcpr-echod" ] || skip "tcpr-echod not built"
	APP="$BIN/tcpr-echod -v"
	failover 192.0.2.100 24 5
	grep -q "tcpr-echod: ready, 5 sessions resumed" "$D/app.err"
	[ "$(grep -c "resumed fd .* at in=[1-9]" "$D/app.err")" -eq 5 ]
	# a new client on the same port, beside the restored sessions
	mkdir -p "$D/n"
	touch "$D/n/cut"
	run -0 hx 1 python3 "$CLIENT" 192.0.2.100 7 "$D/n" 3 3 3
	[[ $output == "ok sent="* ]]
}

@test "tcpr-restore: 20 IPv6 sessions survive" {
	failover 2001:db8::100 64 20
}

@test "tcpr-restore -j 2: a preparing process hands 20 sessions over" {
	RESTORE_OPTS="-U -j 2 -v"
	failover 192.0.2.100 24 20
	run -1 grep "preparing process" "$D/app.err"
	grep -q "by system calls" "$D/app.err"
}

# io_uring's socket, setsockopt and bind requests: Linux 6.11, not disabled
ring_ok() {
	local v
	v=$(uname -r | awk -F'[.-]' '{print $1 * 1000 + $2}')
	[ "$v" -ge 6011 ] && [ "$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo 0)" = 0 ]
}

@test "tcpr-restore -u: 20 sessions restored through io_uring" {
	ring_ok || skip "io_uring without socket requests (Linux < 6.11 or disabled)"
	RESTORE_OPTS="-u -v"
	failover 192.0.2.100 24 20
	grep -q "restored 20 sessions .* by io_uring$" "$D/app.err"
}

@test "tcpr-restore -u -j 2: two threads, each with its ring, restore 20 IPv6 sessions" {
	ring_ok || skip "io_uring without socket requests (Linux < 6.11 or disabled)"
	RESTORE_OPTS="-u -j 2 -v"
	failover 2001:db8::100 64 20
	# the second thread helps if it starts in time
	grep -Eq "restored 20 sessions .* 0 failed, by io_uring(, two threads)?$" "$D/app.err"
}

@test "tcpr-restore: a ring that loses the answers of its last round, redone by system calls" {
	ring_ok || skip "io_uring without socket requests (Linux < 6.11 or disabled)"
	RESTORE_OPTS="-u -v"
	export TCPR_URING_LOSE=4	# repair off, SO_REUSEADDR
	failover 192.0.2.100 24 10
	grep -q "restored 10 sessions .* 0 failed, by io_uring and system calls$" "$D/app.err"
}

@test "tcpr-restore TCPR_URING=0: 10 IPv6 sessions restored by system calls" {
	RESTORE_OPTS="-v"
	export TCPR_URING=0
	failover 2001:db8::100 64 10
	grep -q "restored 10 sessions .* by system calls" "$D/app.err"
}

# one_session_store [CLIENT ARGS]: a store of one live session (client
# on h1, server on h2); the client's arguments default to 20 5 20.
one_session_store() {
	local args=("$@")
	[ $# -gt 0 ] || args=(20 5 20)
	hx 2 ip addr add 192.0.2.100/24 dev eth0
	bg srv 2 python3 "$ECHO" 192.0.2.100 7
	wait_until 10000 listening 2 7
	mkdir -p "$D/c1"
	bg cli1 1 python3 "$CLIENT" 192.0.2.100 7 "$D/c1" "${args[@]}"
	wait_until 30000 test -e "$D/c1/ready"
	hx 2 $TCPR_CAPTURE -p 7 snap "$(bg_pid srv)" >"$D/recs"
	run -0 $TCPR_SYNC -s "$D/store" apply "$D/recs"
}

@test "tcpr-restore: the dry run gives the same sessions either way" {
	ring_ok || skip "io_uring without socket requests (Linux < 6.11 or disabled)"
	one_session_store
	run -0 --separate-stderr hx 3 $TCPR_RESTORE -u -s "$D/store"
	[[ $stderr == *"by io_uring"* ]]
	ring=$output
	run -0 --separate-stderr hx 3 $TCPR_RESTORE -U -s "$D/store"
	[[ $stderr == *"by system calls"* ]]
	[ "$output" = "$ring" ]
	[[ $output == "restored sid="*"local=192.0.2.100:7 peer=192.0.2.1:"* ]]
	run -100 $TCPR_RESTORE -x -s "$D/store"
	# the answers of the sockets, the set-up and binds, the connects
	# lost (the ring's first to third submissions): steps redone
	for lose in 1 2 3; do
		run -0 --separate-stderr hx 3 env TCPR_URING_LOSE=$lose $TCPR_RESTORE -u -s "$D/store"
		[[ $stderr == *"by io_uring and system calls"* ]]
		[ "$output" = "$ring" ]
	done
}

@test "tcpr-restore -u exits 111 where io_uring is refused, whatever -j says" {
	command -v cc >/dev/null || skip "no C compiler for the seccomp wrapper"
	# nouring PROG ...: PROG where io_uring_setup fails with ENOSYS
	cat >"$D/nouring.c" <<'C'
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>
int
main(int argc, char **argv)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog p = { sizeof f / sizeof f[0], f };

	if (argc < 2 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p) < 0)
		return perror("nouring"), 100;
	execvp(argv[1], argv + 1);
	return perror("nouring"), 111;
}
C
	cc -o "$D/nouring" "$D/nouring.c"
	one_session_store
	run -0 --separate-stderr hx 3 $TCPR_RESTORE -U -s "$D/store"
	calls=$output
	for j in 1 2; do
		run -111 --separate-stderr hx 3 "$D/nouring" $TCPR_RESTORE -u -j $j -s "$D/store"
		[ -z "$output" ]
		[[ $stderr == *"fatal: unable to restore through io_uring: Function not implemented"* ]]
		run -0 --separate-stderr hx 3 "$D/nouring" $TCPR_RESTORE -j $j -s "$D/store"
		[[ $stderr == *"by system calls"* ]]
		[ "$output" = "$calls" ]
	done
}

@test "tcpr-restore: dry run lists the sessions and leaves the peer alone" {
	one_session_store 5 2 5
	# same host, while the original socket lives: a dry run must not
	# disturb it (repair mode, silent close)
	run -0 --separate-stderr hx 3 $TCPR_RESTORE -s "$D/store"
	[[ $output == "restored sid="*" local=192.0.2.100:7 peer=192.0.2.1:"* ]]
	touch "$D/c1/cut"
	wait_until 30000 not_running "$(bg_pid cli1)"
	[[ $(bg_out cli1) == "ok sent="* ]]
}

@test "tcpr-restore: a program that cannot start leaves the peer alone" {
	one_session_store 5 2 5
	# restored out of repair mode on h3, then no program: the sockets
	# go back into repair mode and close silently (a FIN from the
	# service address would end the client's session)
	run -100 hx 3 $TCPR_RESTORE -K -s "$D/store" /nonexistent/prog
	[[ $output == *"restored 1 sessions"*"unable to run /nonexistent/prog"* ]]
	touch "$D/c1/cut"
	wait_until 30000 not_running "$(bg_pid cli1)"
	[[ $(bg_out cli1) == "ok sent="* ]]
}

@test "tcpr-restore: usage, empty and bad stores" {
	run -100 $TCPR_RESTORE
	run -100 $TCPR_RESTORE -s "$D/none"
	run -100 $TCPR_RESTORE -p 0 -s "$D/store"
	run -0 $TCPR_RESTORE -V
	run -0 $TCPR_RESTORE -n -s "$D/store"
	head -c 30 /dev/zero >"$D/store/4-c0000264-0007-c0000201-0001.rec"
	run -1 $TCPR_RESTORE -n -s "$D/store"
	run -1 $TCPR_RESTORE -s "$D/store"
	run -100 $TCPR_RESTORE -s "$D/store" /nonexistent/prog
}

@test "tcpr-restore -L: learns where the peer is when the store lags our output" {
	hx 2 ip addr add 192.0.2.100/24 dev eth0
	# A server that writes unasked: line 1, then (at DIR/push) line 2.
	# Run by tcpr-restore it writes line 3 on every restored session.
	cat >"$D/push.py" <<'PY'
import os, socket, sys, time
d = sys.argv[1]
if os.environ.get('TCPR_FDS'):
    print('offsets ' + os.environ['TCPR_SESSIONS'], file=sys.stderr, flush=True)
    for fd in range(3, 3 + int(os.environ['TCPR_FDS'])):
        socket.socket(fileno=fd).sendall(b'line 3\n')
    print('ready', file=sys.stderr, flush=True)
    time.sleep(3600)
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('192.0.2.100', 7))
l.listen(8)
print('ready', file=sys.stderr, flush=True)
c = l.accept()[0]
c.sendall(b'line 1\n')
while not os.path.exists(os.path.join(d, 'push')):
    time.sleep(0.01)
c.sendall(b'line 2\n')
time.sleep(3600)
PY
	cat >"$D/read.py" <<'PY'
import os, socket, sys
s = socket.create_connection(('192.0.2.100', 7), timeout=30)
got = b''
while got.count(b'\n') < 3:
    b = s.recv(100)
    if not b:
        break
    got += b
    open(os.path.join(sys.argv[1], 'got%d' % got.count(b'\n')), 'w').close()
print(got.decode().replace('\n', '|'))
PY
	bg srv 2 python3 "$D/push.py" "$D"
	wait_until 10000 grep -q ready "$D/srv.err"
	bg cli 1 python3 "$D/read.py" "$D"
	wait_until 10000 test -e "$D/got1"
	hx 2 $TCPR_CAPTURE -p 7 snap "$(bg_pid srv)" >"$D/recs"
	run -0 $TCPR_SYNC -s "$D/store" apply "$D/recs"
	# line 2 leaves after the record: the store lags what the peer has
	touch "$D/push"
	wait_until 10000 test -e "$D/got2"
	sleep 0.2	# its acknowledgement reaches the master
	link_cut 2
	nskill "$(ns 2)"
	# the new master: address up and announced, under a traffic lock
	hx 3 iptables -I INPUT -d 192.0.2.100 -p tcp --dport 7 -j DROP
	hx 3 iptables -I OUTPUT -s 192.0.2.100 -p tcp --sport 7 -m mark ! --mark 0xc114 -j DROP
	hx 3 ip addr add 192.0.2.100/24 dev eth0
	hx 3 "$GARP_SEND" -c 2 -i eth0 192.0.2.100 2>/dev/null || hx 1 ip neigh flush dev eth0
	bg app 3 $TCPR_RESTORE -v -L 1000 -s "$D/store" python3 "$D/push.py" "$D"
	wait_until 10000 grep -q ready "$D/app.err"
	hx 3 iptables -F
	wait_until 30000 not_running "$(bg_pid cli)"
	cat "$D/app.err"
	grep -q "learn: 1 of 1 peers answered in [0-9]* us, 1 output offsets moved" "$D/app.err"
	# the application was told: input at 0, output at 14 (two lines)
	grep -q "^offsets [0-9]*:0:14:" "$D/app.err"
	[ "$(bg_out cli)" = "line 1|line 2|line 3|" ]
}

@test "fuzz tcpr_seg: the probe answers' parser survives 30000 inputs" {
	command -v clang >/dev/null || skip "clang not installed"
	clang -g -O1 -fsanitize=fuzzer,address -D_GNU_SOURCE -I"$NONSTOP_TOP/lib" \
	    "$NONSTOP_TOP/test/fuzz/tcpr_seg.c" "$NONSTOP_TOP/lib/tcpr_kick.c" \
	    -o "$D/tcpr_seg" 2>"$D/cc.err" || {
		grep -q "fuzzer" "$D/cc.err" && skip "clang's libFuzzer runtime is missing"
		cat "$D/cc.err"
		false
	}
	mkdir -p "$D/corpus"
	# seeds: a bare ACK over IPv4 and over IPv6 (40 and 60 bytes)
	printf '\105\000\000\050\000\000\100\000\100\006\000\000\300\000\002\001\300\000\002\144\242\064\000\007\000\000\000\001\000\000\000\002\120\020\001\000\000\000\000\000' >"$D/corpus/v4"
	printf '\140\000\000\000\000\024\006\100\040\001\015\270\000\000\000\000\000\000\000\000\000\000\000\001\040\001\015\270\000\000\000\000\000\000\000\000\000\000\001\000\242\064\000\007\000\000\000\001\000\000\000\002\120\020\001\000\000\000\000\000' >"$D/corpus/v6"
	[ "$(wc -c <"$D/corpus/v4")" -eq 40 ] && [ "$(wc -c <"$D/corpus/v6")" -eq 60 ]
	run -0 "$D/tcpr_seg" -runs=30000 -max_len=200 "$D/corpus"
}
