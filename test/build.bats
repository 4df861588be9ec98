#!/usr/bin/env bats
# The build frame: make install stages every tool with its man page.

load lib/common

@test "make install PREFIX= DESTDIR= stages every tool, its man page and the units" {
	command -v make >/dev/null || skip "make not installed"
	local build; build=$(cd "$BIN/.." && pwd)
	run -0 make -s -C "$NONSTOP_TOP" BUILD="$build" install PREFIX=/usr DESTDIR="$BATS_TEST_TMPDIR/stage"
	local d t s=$BATS_TEST_TMPDIR/stage
	for d in "$NONSTOP_TOP"/cmd/*/; do
		t=$(basename "$d")
		[ -x "$s/usr/sbin/$t" ] || { echo "no $t"; false; }
		[ -f "$s/usr/share/man/man8/$t.8" ] || { echo "no $t.8"; false; }
	done
	[ -f "$s/usr/share/man/man7/nonstop.7" ]
	grep -q '^ExecStart=/usr/sbin/ha-beat ' "$s/usr/lib/systemd/system/ha-beat@.service"
	! grep -rq '@SBINDIR@' "$s/usr/lib/systemd/system/"
}
