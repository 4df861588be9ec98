#!/usr/bin/env bash
# lc-web response times through lighttpd (CGI: fork, exec, LDAP bind and
# searches per request) over a real slapd on loopback: 40 GETs of each
# main page and 20 applied weight changes. Not a test: figures only.
# Usage (from the source tree, after make): test/web/bench.sh
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
export NONSTOP_TOP=$top NONSTOP_BIN=${NONSTOP_BIN:-$top/build/bin}
export BATS_TEST_TMPDIR=$(mktemp -d /tmp/lc-web-bench.XXXXXX)
skip() { echo "bench: skipped: $*" >&2; exit 0; }
bats_require_minimum_version() { :; }
. "$top/test/lib/common.bash"
. "$top/test/lib/slapd.bash"
. "$top/test/lib/web.bash"
trap 'web_stop; slapd_stop_all; rm -rf "$BATS_TEST_TMPDIR"' EXIT
need_web
web_boot >/dev/null || exit 111
$LCB host add lb1 addr=192.0.2.2 roles=lb >/dev/null
for i in 1 2 3; do $LCB host add rs$i addr=192.0.2.1$i roles=rs >/dev/null; done
$LCB cluster add web service=192.0.2.100:80/tcp lb=lb1 rs=rs1,rs2,rs3 >/dev/null
web_login alice alice-secret
stats() {
	sort -n | awk -v w="$1" '{ a[NR] = $1 } END { printf "%-22s n=%d min=%.1f ms median=%.1f ms p90=%.1f ms\n",
		w, NR, a[1] * 1000, a[int((NR + 1) / 2)] * 1000, a[int(NR * 0.9)] * 1000 }'
}
for p in clusters "cluster&c=web" hosts history; do
	for i in $(seq 40); do
		curl -s -o /dev/null -b "$WT/jar" -w '%{time_total}\n' "$WEB?p=$p"
	done | stats "GET $p"
done
tok=$(curl -s -b "$WT/jar" "$WEB?p=clusters" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p')
for i in $(seq 20); do
	curl -s -o /dev/null -b "$WT/jar" -w '%{time_total}\n' \
		--data "csrf=$tok&act=weight&c=web&host=rs1&weight=$i&gen=$((i - 1))" "$WEB?p=apply"
done | stats "POST apply (weight)"
