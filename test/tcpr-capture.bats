#!/usr/bin/env bats
# tcpr-capture snap: records of a live process's sessions, the process
# undisturbed.
load lib/common

TCPR_CAPTURE=${TCPR_CAPTURE:-$BIN/tcpr-capture}
TCPR_SYNC=${TCPR_SYNC:-$BIN/tcpr-sync}

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
}
