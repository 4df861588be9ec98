#!/usr/bin/env bats
# tcpr-capture snap: records of a live process's sessions, the process
# undisturbed.
load lib/common

TCPR_CAPTURE=${TCPR_CAPTURE:-$BIN/tcpr-capture}
TCPR_SYNC=${TCPR_SYNC:-$BIN/tcpr-sync}
TCPR_RESTORE=${TCPR_RESTORE:-$BIN/tcpr-restore}

teardown() {
	topo_teardown
}

@test "tcpr-capture: usage, version, bad process ids" {
	run -100 $TCPR_CAPTURE
	run -100 $TCPR_CAPTURE frob
	run -100 $TCPR_CAPTURE snap
	run -100 $TCPR_CAPTURE snap 12x
	run -100 $TCPR_CAPTURE -p 70000 snap 1
	run -0 $TCPR_CAPTURE -n snap 1
	run -0 $TCPR_CAPTURE -V
	[[ $output == "tcpr-capture "* ]]
}

@test "tcpr-capture snap: one record per session of the port, peer undisturbed" {
	need_root
	command -v python3 >/dev/null || skip "python3 not installed"
	topo_lan 1
	local D=$BATS_TEST_TMPDIR
	mkdir -p "$D/c"
	bg srv 1 python3 "$NONSTOP_TOP/contrib/tcpr/tcpr-echo-py" 192.0.2.1 7
	wait_until 10000 grep -q ready "$D/srv.err"
	bg cli 1 python3 "$NONSTOP_TOP/contrib/tcpr/tcpr-echo-client.py" 192.0.2.1 7 "$D/c" 10 3 10
	wait_until 30000 test -e "$D/c/ready"
	hx 1 $TCPR_CAPTURE -p 7 snap "$(bg_pid srv)" >"$D/recs" 2>/dev/null
	run -0 $TCPR_SYNC dump "$D/recs"
	[ "${#lines[@]}" -eq 1 ]
	[[ $output == "full sid="*" family=inet local=192.0.2.1:7 peer=192.0.2.1:"*" flags=sack,ts,wscale "*" rcv="* ]]
	# another port: nothing
	hx 1 $TCPR_CAPTURE -p 8 snap "$(bg_pid srv)" >"$D/none" 2>/dev/null
	[ ! -s "$D/none" ]
	touch "$D/c/cut"
	wait_until 30000 not_running "$(bg_pid cli)"
	[[ $(bg_out cli) == "ok sent="* ]]
	run -1 $TCPR_CAPTURE snap 999999999
}

@test "tcpr-capture: live mode needs a port; -n checks" {
	run -100 $TCPR_CAPTURE
	run -100 $TCPR_CAPTURE -t 0 -p 7
	run -100 $TCPR_CAPTURE -Q 70000 -p 7
	run -0 $TCPR_CAPTURE -n -p 7
	run -0 $TCPR_CAPTURE -n -x -Q 5 -t 50 -p 7
	run -0 $TCPR_CAPTURE -n -x -G -C /nonexistent/table -p 7
}

# A libtcpr server that reads 1000 bytes without consuming them (manual
# marks), then consumes on command: files consume600, consume400, quit in
# its control folder. And a peer that reports its unacknowledged bytes.
exact_setup() {
	need_root
	command -v cc >/dev/null || skip "no C compiler"
	[ -e "$BIN/../libtcpr.so" ] || skip "libtcpr.so not built"
	D=$BATS_TEST_TMPDIR
	mkdir -p "$D/ctl"
	cat >"$D/srv.c" <<'C'
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tcpr.h"

static int
has(const char *dir, const char *name)
{
	char p[4096];

	snprintf(p, sizeof p, "%s/%s", dir, name);
	return access(p, F_OK) == 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	char buf[4096];
	size_t got = 0;
	int l, s, i, c600 = 0, c400 = 0;

	a.sin_port = htons(atoi(argv[2]));
	inet_pton(AF_INET, argv[1], &a.sin_addr);
	if ((l = tcpr_socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    tcpr_bind(l, (struct sockaddr *)&a, sizeof a) < 0 ||
	    tcpr_listen(l, 4) < 0)
		return 111;
	printf("ready\n");
	fflush(stdout);
	if ((s = tcpr_accept(l, NULL, NULL)) < 0)
		return 111;
	tcpr_manual(s, 1);
	while (got < 1000) {
		ssize_t n = tcpr_recv(s, buf, sizeof buf, 0);

		if (n <= 0)
			return 1;
		got += (size_t)n;
	}
	printf("read %zu\n", got);
	fflush(stdout);
	for (i = 0; i < 6000 && !has(argv[3], "quit"); i++) {
		if (!c600 && has(argv[3], "consume600")) {
			c600 = tcpr_consumed(s, 600) == 0;
			printf("consumed 600\n");
			fflush(stdout);
		}
		if (!c400 && has(argv[3], "consume400")) {
			c400 = tcpr_consumed(s, 400) == 0;
			printf("consumed 400\n");
			fflush(stdout);
		}
		usleep(10000);
	}
	tcpr_close(s);
	return 0;
}
C
	cc -Wall -Werror -I"$NONSTOP_TOP/libtcpr" -o "$D/srv" "$D/srv.c" \
	    -L"$BIN/.." -ltcpr -Wl,-rpath,"$BIN/.."
	cat >"$D/peer.py" <<'PY'
import fcntl, os, socket, struct, sys, termios, time
host, port, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.create_connection((host, port), timeout=10)
s.sendall(b'x' * 1000)
t0 = time.monotonic()
while time.monotonic() - t0 < 60 and not os.path.exists(d + '/quit'):
    q = struct.unpack('i', fcntl.ioctl(s, termios.TIOCOUTQ, b'\0' * 4))[0]
    with open(d + '/outq.tmp', 'w') as f:
        f.write('%d\n' % q)
    os.rename(d + '/outq.tmp', d + '/outq')
    time.sleep(0.02)
PY
	topo_lan 2
}

stored() { [ "$($TCPR_SYNC -s "$D/store" list 2>/dev/null | wc -l)" -eq "$1" ]; }
stored_rcv() { $TCPR_SYNC -s "$D/store" list | grep -q " rcv=$1 "; }
outq_is() { [ "$(cat "$D/ctl/outq" 2>/dev/null)" = "$1" ]; }

# exact_hold [-G]: the peer's 1000 bytes are read but not consumed, then
# consumed in two steps; the acknowledgement leaves only for the whole.
exact_hold() {
	exact_setup
	run -100 $TCPR_CAPTURE -C "$D/consumed" -p 7000
	bg cap 1 $TCPR_CAPTURE -x -C "$D/consumed" "$@" -Q 31077 -p 7000
	wait_until 10000 grep -q capturing "$D/cap.err"
	bg srv 1 env TCPR_CONSUMED="$D/consumed" "$D/srv" 192.0.2.1 7000 "$D/ctl"
	wait_until 5000 grep -q ready "$D/srv.out"
	bg peer 2 python3 "$D/peer.py" 192.0.2.1 7000 "$D/ctl"
	wait_until 10000 grep -q "read 1000" "$D/srv.out"
	# read but not consumed: the peer still holds all of it, past the
	# kernel's delayed acknowledgement and the peer's retransmissions
	sleep 1.5
	outq_is 1000 || { cat "$D/ctl/outq" "$D/cap.err"; false; }
	# consumed in part: the acknowledgement of the whole still waits
	touch "$D/ctl/consume600"
	wait_until 5000 grep -q "consumed 600" "$D/srv.out"
	sleep 0.5
	outq_is 1000 || { cat "$D/ctl/outq" "$D/cap.err"; false; }
	touch "$D/ctl/consume400"
	wait_until 10000 outq_is 0
	touch "$D/ctl/quit"
	wait_until 10000 not_running "$(bg_pid srv)"
	bg_stop cap
	[[ $(bg_err cap) == *"held="* ]]
	[[ $(bg_err cap) != *"held=0 "* ]]
	# the records follow what the peer saw: the whole input, in the end
	run -0 $TCPR_SYNC dump "$D/cap.out"
	[[ $output == *"rcv=1000 "* ]]
}

@test "tcpr-capture exact mode, -C: input the application has not consumed is not acknowledged (in-kernel gate)" {
	exact_hold
	[[ $(bg_err cap) == *"in-kernel gate on"* ]]
	[[ $(bg_err cap) == *"gate: kernel="* ]]
}

@test "tcpr-capture exact mode, -C -G: the same with every segment through the queue" {
	exact_hold -G
	[[ $(bg_err cap) != *"gate"* ]]
}

# A libtcpr echo server (marks as it reads) in front of the gate: its
# answers acknowledge only consumed input and pass in the kernel; the
# records still follow every byte (from the kernel's counters and the
# consumed table), IPv4 and IPv6.
@test "tcpr-capture exact mode, -C: consumed traffic passes in the kernel, records follow it" {
	need_root
	[ -x "$BIN/tcpr-echod" ] || skip "tcpr-echod not built"
	command -v python3 >/dev/null || skip "python3 not installed"
	local D=$BATS_TEST_TMPDIR v4 v6
	topo_lan 2
	bg cap 1 $TCPR_CAPTURE -x -C "$D/consumed" -Q 31080 -p 7000
	wait_until 10000 grep -q capturing "$D/cap.err"
	grep -q "in-kernel gate on" "$D/cap.err"
	bg srv4 1 env TCPR_CONSUMED="$D/consumed" $BIN/tcpr-echod 192.0.2.1 7000
	bg srv6 1 env TCPR_CONSUMED="$D/consumed" $BIN/tcpr-echod 2001:db8::1 7000
	wait_until 10000 grep -q ready "$D/srv4.err"
	wait_until 10000 grep -q ready "$D/srv6.err"
	mkdir -p "$D/c4" "$D/c6"
	touch "$D/c4/cut" "$D/c6/cut"
	bg cli4 2 python3 "$NONSTOP_TOP/contrib/tcpr/tcpr-echo-client.py" 192.0.2.1 7000 "$D/c4" 40 5 40
	bg cli6 2 python3 "$NONSTOP_TOP/contrib/tcpr/tcpr-echo-client.py" 2001:db8::1 7000 "$D/c6" 40 5 40
	wait_until 60000 not_running "$(bg_pid cli4)"
	wait_until 60000 not_running "$(bg_pid cli6)"
	[[ $(bg_out cli4) == "ok sent="* ]]
	[[ $(bg_out cli6) == "ok sent="* ]]
	v4=$(stat -c %s "$D/c4/sent")
	v6=$(stat -c %s "$D/c6/sent")
	sleep 0.5
	bg_stop cap
	# most segments never left the kernel
	local line kern queued
	line=$(grep -o "gate: kernel=[0-9]* queued=[0-9]*" "$D/cap.err")
	kern=${line#gate: kernel=}
	kern=${kern%% *}
	queued=${line##*queued=}
	echo "$line"
	[ "$kern" -ge 60 ]
	[ "$kern" -gt "$queued" ]
	# every byte of either stream recorded as received and as sent
	run -0 $TCPR_SYNC dump "$D/cap.out"
	[[ $output == *"family=inet "*"rcv=$v4 snd_una=$v4 snd_nxt=$v4 "* ]] || { echo "$output"; false; }
	[[ $output == *"family=inet6 "*"rcv=$v6 snd_una=$v6 snd_nxt=$v6 "* ]] || { echo "$output"; false; }
}

@test "tcpr-capture exact mode, -C: another run of the capture (-P) has the application's sessions in its gate" {
	need_root
	[ -x "$BIN/tcpr-echod" ] || skip "tcpr-echod not built"
	command -v python3 >/dev/null || skip "python3 not installed"
	local D=$BATS_TEST_TMPDIR line kern
	topo_lan 2
	bg cap 1 $TCPR_CAPTURE -x -C "$D/consumed" -Q 31081 -p 7000
	wait_until 10000 grep -q capturing "$D/cap.err"
	bg srv 1 env TCPR_CONSUMED="$D/consumed" $BIN/tcpr-echod 192.0.2.1 7000
	wait_until 10000 grep -q ready "$D/srv.err"
	mkdir -p "$D/c"
	bg cli 2 python3 "$NONSTOP_TOP/contrib/tcpr/tcpr-echo-client.py" 192.0.2.1 7000 "$D/c" 20 5 60
	wait_until 30000 test -e "$D/c/ready"
	bg_stop cap
	# the new run's table is another map: the application enters its
	# session there at its next mark
	bg cap2 1 $TCPR_CAPTURE -x -C "$D/consumed" -P "$(bg_pid srv)" -Q 31081 -p 7000
	wait_until 10000 grep -q capturing "$D/cap2.err"
	grep -q "adopted 1 sessions" "$D/cap2.err"
	touch "$D/c/cut"
	wait_until 60000 not_running "$(bg_pid cli)"
	[[ $(bg_out cli) == "ok sent="* ]]
	bg_stop cap2
	line=$(grep -o "gate: kernel=[0-9]*" "$D/cap2.err")
	kern=${line#gate: kernel=}
	echo "$line"
	[ "$kern" -ge 30 ]
}

@test "tcpr-capture exact mode without -C: the kernel acknowledges at once" {
	exact_setup
	bg cap 1 $TCPR_CAPTURE -x -Q 31078 -p 7000
	wait_until 10000 grep -q capturing "$D/cap.err"
	bg srv 1 "$D/srv" 192.0.2.1 7000 "$D/ctl"
	wait_until 5000 grep -q ready "$D/srv.out"
	bg peer 2 python3 "$D/peer.py" 192.0.2.1 7000 "$D/ctl"
	wait_until 10000 grep -q "read 1000" "$D/srv.out"
	wait_until 5000 outq_is 0 || { cat "$D/ctl/outq" "$D/peer.err"; false; }
	touch "$D/ctl/quit"
	bg_stop cap
}

# exact_failover C: the application reads the peer's 1000 bytes (one
# segment) and consumes C of them; the master dies; the restored
# application must get exactly bytes C..999 once.
exact_failover() {
	local c=$1
	exact_setup
	command -v iptables >/dev/null || skip "iptables not installed"
	[ -x "$TCPR_RESTORE" ] || skip "tcpr-restore not built"
	topo_teardown
	unset NS_P
	topo_lan 3
	# the new master's application: the restored session's offset, then
	# every byte the peer resends, counted and summed
	cat >"$D/resume.c" <<'C'
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include "tcpr.h"

int
main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(7000) };
	unsigned char buf[4096];
	uint64_t in, out, got = 0, sum = 0;
	int l, s, i;

	/* any address: the virtual one comes up after us */
	if ((l = tcpr_socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    tcpr_bind(l, (struct sockaddr *)&a, sizeof a) < 0 ||
	    tcpr_listen(l, 4) < 0 || tcpr_pending(l) != 1) {
		perror("listen");
		return 111;
	}
	s = tcpr_accept(l, NULL, NULL);
	tcpr_offsets(s, &in, &out);
	fprintf(stderr, "ready offset=%llu\n", (unsigned long long)in);
	for (i = 0; i < 3000 && in + got < 1000; i++) {
		struct pollfd p = { s, POLLIN, 0 };
		ssize_t n, k;

		if (poll(&p, 1, 10) <= 0)
			continue;
		if ((n = tcpr_recv(s, buf, sizeof buf, 0)) <= 0)
			break;
		for (k = 0; k < n; k++)
			sum += buf[k] * (in + got + (uint64_t)k + 1);
		got += (uint64_t)n;
	}
	printf("offset=%llu got=%llu sum=%llu\n", (unsigned long long)in,
	    (unsigned long long)got, (unsigned long long)sum);
	fflush(stdout);
	/* and the peer hears that all of it arrived */
	for (i = 0; i < 500; i++)
		poll(NULL, 0, 10);
	return 0;
}
C
	cc -Wall -Werror -I"$NONSTOP_TOP/libtcpr" -o "$D/resume" "$D/resume.c" \
	    -L"$BIN/.." -ltcpr -Wl,-rpath,"$BIN/.."
	# the peer's 1000 bytes: i mod 251; their weighted sum from offset 0
	sed -i "s/s.sendall(b'x' \* 1000)/s.sendall(bytes(i % 251 for i in range(1000)))/" "$D/peer.py"
	local want
	want=$(python3 -c "print(sum((i % 251) * (i + 1) for i in range($c, 1000)))")
	KEY=$(make_key)
	mkdir -p "$D/store"
	hx 2 ip addr add 192.0.2.100/24 dev eth0
	bg recv 3 $TCPR_SYNC -k "$KEY" -s "$D/store" recv 7001
	wait_until 5000 grep -q receiving "$D/recv.err"
	bg cap 2 sh -c "$TCPR_CAPTURE -x -C $D/consumed -Q 31079 -p 7000 | $TCPR_SYNC -t 20 -k $KEY send 192.0.2.3:7001"
	wait_until 10000 grep -q capturing "$D/cap.err"
	grep -q "in-kernel gate on" "$D/cap.err"
	bg srv 2 env TCPR_CONSUMED="$D/consumed" "$D/srv" 192.0.2.100 7000 "$D/ctl"
	wait_until 5000 grep -q ready "$D/srv.out"
	bg peer 1 python3 "$D/peer.py" 192.0.2.100 7000 "$D/ctl"
	wait_until 10000 grep -q "read 1000" "$D/srv.out"
	wait_until 10000 stored 1
	sleep 1
	# read, never consumed: not acknowledged, so not stored as received
	outq_is 1000
	$TCPR_SYNC -s "$D/store" list | grep -q " rcv=0 "
	if [ "$c" -gt 0 ]; then
		# consumed in part: the segment's acknowledgement still waits,
		# but the store learns where the application stands
		touch "$D/ctl/consume$c"
		wait_until 5000 grep -q "consumed $c" "$D/srv.out"
		wait_until 5000 stored_rcv "$c" ||
			{ $TCPR_SYNC -s "$D/store" list; false; }
		sleep 0.3
		outq_is 1000
	fi
	# the master dies: the cable first, then every process
	link_cut 2
	for pid in $(ip netns pids "$(ns 2)"); do kill -9 "$pid" 2>/dev/null || true; done
	bg_stop recv
	bg app 3 $TCPR_RESTORE -s "$D/store" "$D/resume"
	wait_until 10000 grep -q "ready offset=$c" "$D/app.err" || { cat "$D/app.err"; false; }
	hx 3 ip addr add 192.0.2.100/24 dev eth0
	hx 3 "$GARP_SEND" -c 2 -i eth0 192.0.2.100 2>/dev/null || hx 1 ip neigh flush dev eth0
	wait_until 30000 grep -q "got=" "$D/app.out" || { cat "$D/app.err" "$D/app.out"; false; }
	[ "$(cat "$D/app.out")" = "offset=$c got=$((1000 - c)) sum=$want" ]
	wait_until 20000 outq_is 0
	touch "$D/ctl/quit"
}

@test "tcpr-capture exact mode, -C: after a failover the peer resends what was not consumed, delivered once" {
	exact_failover 0
}

@test "tcpr-capture exact mode, -C: input consumed in part of a segment is not delivered again after a failover" {
	exact_failover 600
}
