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

@test "the shipped systemd units are valid and run the installed tools" {
	command -v systemd-analyze >/dev/null || skip "systemd-analyze not installed"
	local build u out; build=$(cd "$BIN/.." && pwd)
	run -0 make -s -C "$NONSTOP_TOP" BUILD="$build" install PREFIX=/usr DESTDIR="$BATS_TEST_TMPDIR/stage"
	for u in "$BATS_TEST_TMPDIR"/stage/usr/lib/systemd/system/*; do
		# Outside the staged root the binaries and man pages are not found:
		# only those complaints are expected.
		out=$(systemd-analyze verify "$u" 2>&1 |
		    grep -v -e 'is not executable' -e "Command 'man " || true)
		[ -z "$out" ] || { echo "$u: $out"; false; }
		grep -q '^ExecStart=/usr/sbin/' "$u"
		grep -q '^NoNewPrivileges=yes' "$u"
		grep -q '^CapabilityBoundingSet=' "$u"
	done
}
