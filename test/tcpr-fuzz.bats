#!/usr/bin/env bats
# Build the tcpr libFuzzer targets (test/fuzz/tcpr_*.c) and run each for a
# bounded number of inputs, seeded with valid records.
load lib/common

fuzz_build() {
	command -v clang >/dev/null || skip "clang not installed"
	local t=$1; shift
	clang -g -O1 -fsanitize=fuzzer,address -D_GNU_SOURCE -I"$NONSTOP_TOP/lib" \
	    "$NONSTOP_TOP/test/fuzz/$t.c" "$@" -o "$BATS_TEST_TMPDIR/$t" -lcrypto \
	    2>"$BATS_TEST_TMPDIR/cc.err" || {
		grep -q "fuzzer" "$BATS_TEST_TMPDIR/cc.err" &&
			skip "clang's libFuzzer runtime is missing"
		cat "$BATS_TEST_TMPDIR/cc.err"
		return 1
	}
}

@test "fuzz tcpr_rec: the record decoder survives 50000 inputs" {
	fuzz_build tcpr_rec "$NONSTOP_TOP/lib/tcpr_rec.c"
	local c=$BATS_TEST_TMPDIR/corpus
	mkdir -p "$c"
	# seeds: one full record followed by one sync record (tcpr-records(5))
	printf '\001\001\000\144\000\000\000\007\004\007\007\007\005\250\000\007\234\100\000\000\300\000\002\144\000\000\000\000\000\000\000\000\000\000\000\000\300\000\002\001\000\000\000\000\000\000\000\000\000\000\000\000\000\000\003\350\000\000\007\320\000\000\000\000\000\000\000\012\000\000\000\000\000\000\000\005\000\000\000\000\000\000\000\010\000\000\000\173\000\000\001\310\000\001\000\000\000\001\000\000' >"$c/full"
	printf '\001\002\000\050\000\000\000\007\000\000\000\000\000\000\000\024\000\000\000\000\000\000\000\010\000\000\000\000\000\000\000\011\000\000\000\310\002\000\000\000' >"$c/sync"
	cat "$c/full" "$c/sync" >"$c/both"
	[ "$(wc -c <"$c/full")" -eq 100 ]
	run -0 "$BATS_TEST_TMPDIR/tcpr_rec" -runs=50000 -max_len=400 "$c"
}

@test "fuzz tcpr_sync: the sync datagram parser survives 50000 inputs" {
	fuzz_build tcpr_sync -I"$NONSTOP_TOP/cmd/tcpr-sync" \
	    "$NONSTOP_TOP/cmd/tcpr-sync/proto.c" "$NONSTOP_TOP/lib/tcpr_rec.c" \
	    "$NONSTOP_TOP/lib/auth.c"
	local c=$BATS_TEST_TMPDIR/corpus
	mkdir -p "$c"
	# seeds (MAC added by the target): an ack, and data with a sync record
	printf '\001\002\000\000\000\000\000\000\000\000\000\001\000\000\000\000\000\000\000\002\000\000\000\000\000\000\000\001\000\000\000\000\000\000\000\005\000\000\000\000\000\000\000\037' >"$c/ack"
	printf '\001\001\000\000\000\000\000\000\000\000\000\001\000\000\000\000\000\000\000\003\001\002\000\050\000\000\000\007\000\000\000\000\000\000\000\024\000\000\000\000\000\000\000\010\000\000\000\000\000\000\000\011\000\000\000\310\002\000\000\000' >"$c/data"
	# data with a packed block (tcpr-sync(8)): sid 7 all fields, sid 9
	# rcv only with end, sid 309 window only
	printf '\001\001\000\000\000\000\000\000\000\000\000\001\000\000\000\000\000\000\000\004\001\003\000\026\007\037\144\310\001\377\177\005\200\004\002\201\054\254\002\020\200\002' >"$c/packed"
	run -0 "$BATS_TEST_TMPDIR/tcpr_sync" -runs=50000 -max_len=1500 "$c"
}
