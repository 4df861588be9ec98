#!/usr/bin/env bash
# Benchmark lc-build against slapd on loopback (schema/slapd.conf.example):
#  1. bulk import of 10,000 hosts: lc-build host load vs ldapadd of the
#     same LDIF (same bind, same server config), each into a fresh slapd;
#  2. plan for a cluster of 1,000 real servers in a directory of 10,000
#     hosts and 100 clusters, before and after apply.
# Prints medians. Usage: test/bench/lc-build.sh [runs]   (default 3)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
NONSTOP_TOP=$(dirname "$(dirname "$here")")
BIN=${NONSTOP_BIN:-$NONSTOP_TOP/build/bin}
LC_BUILD=${LC_BUILD:-$BIN/lc-build}
RUNS=${1:-3}
NHOSTS=10000
NCLUSTERS=100
BIGRS=1000

BATS_TEST_TMPDIR=$(mktemp -d /tmp/lc-build-bench.XXXXXX)
export NONSTOP_TOP BATS_TEST_TMPDIR
skip() { echo "lc-build.sh: skipped: $*" >&2; exit 0; }
# shellcheck source=../lib/slapd.bash
. "$NONSTOP_TOP/test/lib/slapd.bash"
T=$BATS_TEST_TMPDIR
trap 'slapd_stop_all; rm -rf "$T"' EXIT
[ -x /usr/sbin/slapd ] || skip "slapd not installed"
[ -x "${LC_BUILD%% *}" ] || { echo "lc-build.sh: fatal: no $LC_BUILD" >&2; exit 100; }

printf 'bench-secret\n' >"$T/pw" && chmod 600 "$T/pw"
printf 'bench-secret' >"$T/pw.nonl" && chmod 600 "$T/pw.nonl"

now() { date +%s.%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Hosts h0..h9999: the first 2*NCLUSTERS may balance or back up, the rest serve.
gen_ldif() {
	awk -v n=$NHOSTS -v nc=$NCLUSTERS -v base="$SLAPD_BASE" 'BEGIN {
		for (i = 0; i < n; i++) {
			printf "dn: cn=h%d,ou=hosts,%s\nobjectClass: nonstopHost\ncn: h%d\n", i, base, i
			printf "nonstopIpAddress: 10.%d.%d.%d\n", int(i / 65536), int(i / 256) % 256, i % 256
			printf "nonstopWeight: %d\nnonstopCpuType: x86_64\nnonstopMemorySize: 4096\n", 1 + i % 5
			if (i < 2 * nc) printf "nonstopRolePotential: lb\nnonstopRolePotential: bs\n"
			else printf "nonstopRolePotential: rs\n"
			printf "nonstopRoleStatus: none\n\n"
		}
	}'
}

fresh() {
	slapd_stop_all
	rm -rf "$T"/slapd-*
	slapd_start a conf >/dev/null
	ROOT="$LC_BUILD -H $SLAPD_LDAPI -b $SLAPD_BASE"
	$ROOT init >/dev/null
	$ROOT admin add bench secret="$T/pw" >/dev/null
	DN="uid=bench,ou=admins,$SLAPD_BASE"
	L="$LC_BUILD -H $SLAPD_URI -b $SLAPD_BASE -D $DN -y $T/pw"
}

fresh
gen_ldif >"$T/hosts.ldif"

echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (others' work skews the rates)"
echo "# bulk import of $NHOSTS hosts, $RUNS runs each, fresh slapd per run"
for ((r = 0; r < RUNS; r++)); do
	fresh
	t0=$(now)
	$L host load "$T/hosts.ldif" >/dev/null
	t1=$(now)
	echo "$t0 $t1" | awk -v n=$NHOSTS '{ print n / ($2 - $1) }' >>"$T/lc.rate"
	fresh
	t0=$(now)
	ldapadd -x -H "$SLAPD_URI" -D "$DN" -y "$T/pw.nonl" -f "$T/hosts.ldif" >/dev/null
	t1=$(now)
	echo "$t0 $t1" | awk -v n=$NHOSTS '{ print n / ($2 - $1) }' >>"$T/peer.rate"
done
lc=$(median <"$T/lc.rate")
peer=$(median <"$T/peer.rate")
printf 'import lc-build host load: median %.0f hosts/s (target >= 5000)\n' "$lc"
printf 'import ldapadd (peer):     median %.0f hosts/s\n' "$peer"
printf 'import ratio lc-build/ldapadd: %.2f\n' "$(echo "$lc $peer" | awk '{ print $1 / $2 }')"

echo "# plan: $NCLUSTERS clusters over $NHOSTS hosts, one with $BIGRS real servers"
fresh
$L host load "$T/hosts.ldif" >/dev/null
# Cluster c0: lb h0, bs h1, RS h200..h1199; the others share the rest.
rs=$(seq -f 'h%.0f' $((2 * NCLUSTERS)) $((2 * NCLUSTERS + BIGRS - 1)) | paste -sd,)
$L -q cluster add c0 service=192.0.2.100:80 sched=wlc lb=h0 bs=h1 rs="$rs"
per=$(((NHOSTS - 2 * NCLUSTERS - BIGRS) / (NCLUSTERS - 1)))
for ((c = 1; c < NCLUSTERS; c++)); do
	first=$((2 * NCLUSTERS + BIGRS + (c - 1) * per))
	rs=$(seq -f 'h%.0f' $first $((first + per - 1)) | paste -sd,)
	$L -q cluster add "c$c" service=192.0.2.$((100 + c % 100)):$((80 + c)) sched=wrr \
		lb="h$((2 * c))" bs="h$((2 * c + 1))" rs="$rs"
done
for ((r = 0; r < 5; r++)); do
	t0=$(now)
	$L cluster plan c0 >/dev/null
	t1=$(now)
	echo "$t0 $t1" | awk '{ print $2 - $1 }' >>"$T/plan.new"
done
mkdir -p "$T/roles"
t0=$(now)
$L -o "$T/roles" cluster apply c0 >/dev/null
t1=$(now)
apply=$(echo "$t0 $t1" | awk '{ print $2 - $1 }')
$L -q cluster change c0 sched=wrr
for ((r = 0; r < 5; r++)); do
	t0=$(now)
	$L cluster plan c0 >"$T/plan.out"
	t1=$(now)
	echo "$t0 $t1" | awk '{ print $2 - $1 }' >>"$T/plan.applied"
done
printf 'plan %d RS, never applied:   median %.3f s (target <= 1 s)\n' $BIGRS "$(median <"$T/plan.new")"
printf 'plan %d RS, against applied: median %.3f s (target <= 1 s; %d hosts change)\n' $BIGRS \
	"$(median <"$T/plan.applied")" "$(grep -c 'action=change' "$T/plan.out")"
printf 'apply %d RS (first, %d role files written and synced): %.3f s (one run)\n' $BIGRS \
	$((BIGRS + 2)) "$apply"
