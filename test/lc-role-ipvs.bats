#!/usr/bin/env bats
# lc-role on IPVS: this kernel has none, so one qemu boot of a Debian
# kernel runs test/qemu/lc-role-ipvs.sh (LVS-DR with three real servers in
# namespaces) and each test here checks its part of the guest's report.
load lib/common

RUN_GUEST=${RUN_GUEST:-$NONSTOP_TOP/test/qemu/run-guest}

setup_file() {
	local rc=0
	[ "$(id -u)" -eq 0 ] || return 0
	NONSTOP_BIN=$BIN "$RUN_GUEST" "$NONSTOP_TOP/test/qemu/lc-role-ipvs.sh" \
	    >"$BATS_FILE_TMPDIR/guest.out" 2>"$BATS_FILE_TMPDIR/guest.err" 3>&- || rc=$?
	echo "$rc" >"$BATS_FILE_TMPDIR/guest.rc"
}

setup() {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	local rc; rc=$(cat "$BATS_FILE_TMPDIR/guest.rc")
	[ "$rc" -ne 77 ] || skip "$(sed -n 's/^run-guest: skip: //p' "$BATS_FILE_TMPDIR/guest.err")"
	if [ "$rc" -ne 0 ]; then
		cat "$BATS_FILE_TMPDIR/guest.err" "$BATS_FILE_TMPDIR/guest.out"
		false
	fi
}

# check NAME...: every named guest check passed.
check() {
	local c
	for c in "$@"; do
		grep -E "^CHECK $c (ok|fail)" "$BATS_FILE_TMPDIR/guest.out" || {
			echo "check $c did not run"; cat "$BATS_FILE_TMPDIR/guest.out"; return 1; }
		grep -qx "CHECK $c ok" "$BATS_FILE_TMPDIR/guest.out"
	done
}

@test "the guest ran every check" {
	grep -qx "CHECKS done fails=0" "$BATS_FILE_TMPDIR/guest.out" ||
		{ grep "^CHECK" "$BATS_FILE_TMPDIR/guest.out"; false; }
}

@test "dry run changes nothing; apply builds the service; ipvsadm -Ln reads back the same" {
	check dry-run apply-rr readback-rr vip idempotent show
}

@test "real servers get their DR setup inside the guest" {
	! grep -q "^CHECK rs-apply fail" "$BATS_FILE_TMPDIR/guest.out" || false
}

@test "rr: 30 connections, 10 on each server" {
	check traffic-rr
}

@test "wrr: the scheduler changes in place; 60 connections go 10/20/30" {
	check readback-wrr traffic-wrr
}

@test "lc: with two servers busy, new connections go to the idle one" {
	check readback-lc traffic-lc
}

@test "wlc: six held connections spread 1:2:3 by weight" {
	check readback-wlc traffic-wlc
}

@test "follow: quiesce (weight 0), drain, remove, re-add, weight in place; a held connection survives" {
	check hold-rs3 quiesce traffic-quiesced held-survives removed follow-up-weight follow-events
}

@test "undo removes the service and the VIP, and leaves others' services alone" {
	check undo others-kept
}

@test "a backup server has the services without the VIP; -r lb takes over" {
	check bs-ready bs-takeover
}

@test "follow: a quiesced server with no connection left is removed at once" {
	check drained-early
}

@test "300 real servers (several netlink batches) are added, reweighted and removed" {
	check batches
}
