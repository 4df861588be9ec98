#!/usr/bin/env bats
# Thousands of real sessions restored at once. tcpr-restore hands the
# session list over in TCPR_SESSIONS while it is shorter than 64 KiB and
# in a sealed memfd named by TCPR_SESSIONS_FD beyond (4,500 sessions
# here): the program and libtcpr get every session either way, and with
# 4,500 the clients of a dead server carry on with every byte echoed.
load ../lib/common

TCPR_CAPTURE=${TCPR_CAPTURE:-$BIN/tcpr-capture}
TCPR_SYNC=${TCPR_SYNC:-$BIN/tcpr-sync}
TCPR_RESTORE=${TCPR_RESTORE:-$BIN/tcpr-restore}
TCPR_ECHOD=${TCPR_ECHOD:-$BIN/tcpr-echod}
LIBDIR=${TCPR_LIBDIR:-$BIN/..}
MANY=$NONSTOP_TOP/contrib/tcpr/tcpr-echo-many.py
CHECK=$NONSTOP_TOP/test/lib/tcpr-many-check.py

setup() {
	need_root
	command -v python3 >/dev/null || skip "python3 not installed"
	[ -x "$TCPR_ECHOD" ] || skip "tcpr-echod not built"
	# the client and the server hold 4,500 sockets each, tcpr-restore
	# needs n + 19 descriptors
	ulimit -n "$(ulimit -Hn)" 2>/dev/null
	[ "$(ulimit -n)" -ge 10000 ] || skip "needs 10000 descriptors (ulimit -Hn is $(ulimit -Hn))"
	topo_lan 3
	D=$BATS_TEST_TMPDIR
	mkdir -p "$D/store"
}

# nskill NS: kill every process in namespace NS until none is left.
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

# many_store N: N live sessions, tcpr-echo-many's clients on h1 and
# tcpr-echod on h2 at 192.0.2.100:7, three lines echoed on each (the
# offsets differ from session to session), recorded and stored; the
# store's records in $D/list. The clients then wait for $D/m/cut.
many_store() {
	local n=$1
	hx 2 ip addr add 192.0.2.100/24 dev eth0
	bg srv 2 "$TCPR_ECHOD" 192.0.2.100 7
	wait_until 10000 grep -q ready "$D/srv.err"
	mkdir -p "$D/m"
	bg many 1 python3 "$MANY" 192.0.2.100 7 "$D/m" "$n"
	wait_until 60000 test -e "$D/m/ready" || { bg_out many; false; }
	hx 2 $TCPR_CAPTURE -q -p 7 snap "$(bg_pid srv)" >"$D/recs"
	run -0 $TCPR_SYNC -s "$D/store" apply "$D/recs"
	$TCPR_SYNC -s "$D/store" list >"$D/list"
	[ "$(wc -l <"$D/list")" -eq "$n" ]
}

# A program on libtcpr that takes every session and checks it.
build_accept() {
	[ -e "$LIBDIR/libtcpr.so" ] || skip "libtcpr.so not built"
	command -v cc >/dev/null || skip "no C compiler"
	cc -Wall -Werror -D_GNU_SOURCE -I"$NONSTOP_TOP/libtcpr" -o "$D/accept" \
	    "$NONSTOP_TOP/test/lib/tcpr-many-accept.c" -L"$LIBDIR" -ltcpr \
	    -Wl,-rpath,"$LIBDIR"
}

# handover N VIA: N sessions restored on h3 (its cable cut: the sockets
# close when the programs end, and those FINs must not reach the
# clients) into the checker (the variables, the descriptors, the list
# by VIA), which execs the libtcpr program (tcpr_accept).
handover() {
	local n=$1 via=$2
	build_accept
	many_store "$n"
	link_cut 3
	run --separate-stderr hx 3 $TCPR_RESTORE -K -s "$D/store" \
	    python3 "$CHECK" "$D/list" "$n" "$via" \
	    "$D/accept" "$D/list" 192.0.2.100 7 "$n"
	echo "$stderr"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $stderr == *"restored $n sessions in "*", 0 failed"* ]]
	[[ $stderr == *"ok fds=$n via=$via bytes="* ]]
	[ "$output" = "ok accepted=$n" ]
}

@test "tcpr-restore: 4,500 sessions, the list in a sealed memfd (TCPR_SESSIONS_FD), every one taken by tcpr_accept" {
	handover 4500 fd
	bytes=$(sed -n 's/.*ok fds=4500 via=fd bytes=\([0-9]*\).*/\1/p' <<<"$stderr")
	[ "$bytes" -ge 65536 ]
}

@test "tcpr-restore: 2,000 sessions, the list still in TCPR_SESSIONS (no memfd), every one taken by tcpr_accept" {
	handover 2000 env
}

@test "tcpr-restore: tcpr-echod resumes 4,500 sessions of a dead server and every client carries on" {
	many_store 4500
	# the master dies: cable first, so its kernel's FINs never leave
	link_cut 2
	nskill "$(ns 2)"
	touch "$D/m/cut"	# each client writes 2 lines into the outage
	bg app 3 $TCPR_RESTORE -s "$D/store" "$TCPR_ECHOD" -v 192.0.2.100 7
	# (libtcpr reads each session's local port once: 4,500 taken in
	# about 0.07 s; asked at every tcpr_pending it took 3 to 10 s)
	wait_until 30000 grep -q "ready, " "$D/app.err"
	grep "restored 4500 sessions in .*, 0 failed" "$D/app.err"
	grep -q "tcpr-echod: ready, 4500 sessions resumed" "$D/app.err"
	hx 3 ip addr add 192.0.2.100/24 dev eth0
	hx 3 "$GARP_SEND" -c 2 -i eth0 192.0.2.100 2>/dev/null || hx 1 ip neigh flush dev eth0
	wait_until 120000 not_running "$(bg_pid many)"
	echo "client: $(bg_out many)"
	[[ $(bg_out many) == "ok conns=4500 bytes="* ]]
	# each session resumed at its record's offsets (echoed: in = out)
	sed -n 's/.* rcv=\([0-9]*\) .* snd_nxt=\([0-9]*\) .*/\1 \2/p' "$D/list" | sort >"$D/want"
	sed -n 's/^tcpr-echod: resumed fd [0-9]* at in=\([0-9]*\) out=\([0-9]*\)$/\1 \2/p' "$D/app.err" | sort >"$D/got"
	[ "$(wc -l <"$D/got")" -eq 4500 ]
	cmp "$D/want" "$D/got"
}
