#!/usr/bin/env bats
# Every tool has a man page; every page is mandoc -Tlint clean.

load lib/common

@test "every man page is mandoc -Tlint clean" {
	command -v mandoc >/dev/null || skip "mandoc not installed"
	run mandoc -Tlint -W warning "$NONSTOP_TOP"/man/*.[0-9]
	[ -z "$output" ]
}

@test "every tool under cmd/ has a section-8 page with EXIT STATUS and EXAMPLES" {
	local d t missing=
	for d in "$NONSTOP_TOP"/cmd/*/; do
		t=$(basename "$d")
		f="$NONSTOP_TOP/man/$t.8"
		if [ ! -f "$f" ] || ! grep -q '^\.Sh EXIT STATUS' "$f" || ! grep -q '^\.Sh EXAMPLES' "$f"; then
			missing="$missing $t"
		fi
	done
	[ -z "$missing" ] || { echo "missing or incomplete:$missing"; false; }
}

@test "nonstop(7) exists and is lint clean" {
	command -v mandoc >/dev/null || skip "mandoc not installed"
	run -0 mandoc -Tlint -W warning "$NONSTOP_TOP/man/nonstop.7"
	[ -z "$output" ]
}
