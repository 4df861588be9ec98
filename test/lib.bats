#!/usr/bin/env bats
# lib/ unit checks (test/unit/libtest.c) against the built libnonstop.a.

load lib/common

@test "lib: kv, atomic, auth, replay and addr checks pass" {
	local liba=${NONSTOP_LIB:-$BIN/../libnonstop.a}
	[ -f "$liba" ] || skip "libnonstop.a not built at $liba"
	run -0 cc -std=c11 -D_GNU_SOURCE -I"$NONSTOP_TOP/lib" -o "$BATS_TEST_TMPDIR/libtest" \
		"$NONSTOP_TOP/test/unit/libtest.c" "$liba" $(pkg-config --libs libcrypto libmnl libcap)
	run -0 "$BATS_TEST_TMPDIR/libtest"
	echo "$output"
	[[ "$output" != *"not ok"* ]]
	[[ "$output" == *"1..3"[0-9]* ]]
}
