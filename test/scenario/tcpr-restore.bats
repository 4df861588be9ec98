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
	bg app 3 $TCPR_RESTORE -s "$D/store" ${APP:-python3 $ECHO} ${APP:+"$vip" 7}
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

@test "tcpr-restore: dry run lists the sessions and leaves the peer alone" {
	hx 2 ip addr add 192.0.2.100/24 dev eth0
	bg srv 2 python3 "$ECHO" 192.0.2.100 7
	wait_until 10000 listening 2 7
	mkdir -p "$D/c1"
	bg cli1 1 python3 "$CLIENT" 192.0.2.100 7 "$D/c1" 5 2 5
	wait_until 30000 test -e "$D/c1/ready"
	hx 2 $TCPR_CAPTURE -p 7 snap "$(bg_pid srv)" >"$D/recs"
	run -0 $TCPR_SYNC -s "$D/store" apply "$D/recs"
	# same host, while the original socket lives: a dry run must not
	# disturb it (repair mode, silent close)
	run -0 --separate-stderr hx 3 $TCPR_RESTORE -s "$D/store"
	[[ $output == "restored sid="*" local=192.0.2.100:7 peer=192.0.2.1:"* ]]
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
