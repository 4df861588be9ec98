#!/usr/bin/env bash
# lc-build apply -a benchmark: one cluster of N hosts (1 load balancer,
# N-1 real servers) in a slapd on loopback, each host with its own real
# snmpd + lc-agent (no converger) on a distinct loopback address, port 161.
# Times, as medians over R runs:
#  - apply of a changed cluster: a new generation, every host's file new,
#    pushed to every agent (SNMPv3 authPriv SET), the agents write them;
#  - apply again with nothing changed (every agent sent the file it has);
#  - the peer, in the same run: net-snmp's snmpset, one process per host,
#    one after the other, sending each host the file it has (fixed engine
#    ID, no discovery), as a shell loop over the hosts would.
# usage: test/bench/lc-build-apply.sh [hosts] [runs]     (default 200 5)
# env: NONSTOP_BIN (binaries)
set -u
here=$(cd "$(dirname "$0")" && pwd)
NONSTOP_TOP=$(dirname "$(dirname "$here")")
BIN=${NONSTOP_BIN:-$NONSTOP_TOP/build/bin}
LC_BUILD=${LC_BUILD:-$BIN/lc-build}
N=${1:-200}
R=${2:-5}
PR=$((R < 3 ? R : 3))	# the peer is slow: at most 3 runs
NET=$((100 + RANDOM % 100))	# agents on 127.NET.x.y:161
BATS_TEST_TMPDIR=$(mktemp -d /tmp/lc-build-apply.XXXXXX)
W=$BATS_TEST_TMPDIR
export NONSTOP_TOP BATS_TEST_TMPDIR
pids=()

# shellcheck source=../lib/slapd.bash
. "$NONSTOP_TOP/test/lib/slapd.bash"

cleanup() {
	local p k
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do
		for ((k = 0; k < 40; k++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
		kill -9 "$p" 2>/dev/null
	done
	slapd_stop_all
	wait 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

for t in snmpd snmpset /usr/sbin/slapd; do
	command -v $t >/dev/null || { echo "lc-build-apply.sh: fatal: $t not installed" >&2; exit 111; }
done
if [ ! -x "$LC_BUILD" ] || [ ! -x "$BIN/lc-agent" ]; then
	echo "lc-build-apply.sh: fatal: no lc-build/lc-agent in $BIN" >&2
	exit 111
fi
if [ "$N" -lt 2 ] || [ "$N" -gt 1000 ]; then
	echo "usage: lc-build-apply.sh [hosts 2-1000] [runs]" >&2
	exit 100
fi

now() { date +%s%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
addr() { echo "127.$NET.$(($1 / 250)).$(($1 % 250 + 1))"; }
name() { if [ "$1" -eq 0 ]; then echo lb; else echo "rs$1"; fi; }

user=bench auth=a$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
priv=p$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
(umask 077; echo "user=$user auth=SHA-256 authpass=$auth priv=AES privpass=$priv" >"$W/creds")
export SNMP_PERSISTENT_DIR=$W/mgr SNMPCONFPATH=$W/mgr MIBS='' MIBDIRS=$NONSTOP_TOP/test/mibs
mkdir -p "$W/mgr/cert_indexes" "$W/roles"

echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
echo "# starting $N snmpd + lc-agent pairs on 127.$NET.x.y:161"
t0=$(now)
for ((i = 0; i < N; i++)); do
	d=$W/a$i
	mkdir -p "$d/persist" "$d/state"
	cat >"$d/snmpd.conf" <<-CONF
	agentAddress udp:$(addr $i):161
	master agentx
	agentXSocket $d/agentx.sock
	agentXTimeout 5
	engineID $(name $i)
	dontLogTCPWrappersConnects yes
	createUser $user SHA-256 "$auth" AES "$priv"
	rwuser -s usm $user priv .1.3.6.1.4.1.8072.9999.9999
	CONF
	SNMP_PERSISTENT_DIR=$d/persist snmpd -f -C -c "$d/snmpd.conf" -Lf "$d/snmpd.log" -I -smux \
		-p "$d/pid" 3>&- & pids+=($!)
done
for ((i = 0; i < N; i++)); do
	d=$W/a$i
	k=0
	while [ ! -S "$d/agentx.sock" ] && [ $((k += 1)) -lt 300 ]; do sleep 0.05; done
	"$BIN/lc-agent" -a '' -f "$d/role" -N "$(name $i)" -s "$d/state" -x "$d/agentx.sock" \
		2>"$d/agent.err" 3>&- & pids+=($!)
done

slapd_start a conf >/dev/null || { echo "lc-build-apply.sh: fatal: slapd did not start" >&2; exit 111; }
L="$LC_BUILD -H $SLAPD_LDAPI -b $SLAPD_BASE"
$L init >/dev/null
{
	for ((i = 0; i < N; i++)); do
		printf 'dn: cn=%s,ou=hosts,%s\nobjectClass: nonstopHost\ncn: %s\n' "$(name $i)" "$SLAPD_BASE" "$(name $i)"
		printf 'nonstopIpAddress: %s\nnonstopAgentPort: 161\n' "$(addr $i)"
		if [ "$i" -eq 0 ]; then printf 'nonstopRolePotential: lb\n'; else printf 'nonstopRolePotential: rs\n'; fi
		printf 'nonstopRoleStatus: none\n\n'
	done
} >"$W/hosts.ldif"
$L host load "$W/hosts.ldif" >/dev/null || { echo "lc-build-apply.sh: fatal: host load failed" >&2; exit 111; }
rs=$(for ((i = 1; i < N; i++)); do printf '%srs%s' "$([ $i -gt 1 ] && echo ,)" "$i"; done)
$L cluster add web service=192.0.2.100:80/tcp sched=wrr lb=lb "rs=$rs" >/dev/null ||
	{ echo "lc-build-apply.sh: fatal: cluster add failed" >&2; exit 111; }
A="$L -a $W/creds -t 2000 -o $W/roles"

# The first apply, until every agent has taken its file (they start slowly).
for ((k = 0; k < 60; k++)); do
	out=$($A cluster apply web 2>"$W/apply.err")
	failed=$(sed -n 's/.* failed=\([0-9]*\)$/\1/p' <<<"$out")
	[ "${failed:-x}" = 0 ] && break
	sleep 1
done
echo "# every agent took its file after $(( ($(now) - t0) / 1000000 )) ms (failed=${failed:-?})"
[ "${failed:-x}" = 0 ] || { cat "$W/apply.err" >&2; exit 111; }

ms() { echo $((($2 - $1) / 1000000)); }
# apply_ms: one timed apply; fails the benchmark when a host failed.
apply_ms() {
	local a b out
	a=$(now)
	out=$($A cluster apply web 2>>"$W/apply.err")
	b=$(now)
	if ! grep -q ' applied=yes failed=0$' <<<"$out"; then
		echo "lc-build-apply.sh: an apply failed (load: $(cut -d' ' -f1-3 /proc/loadavg)):" >&2
		tail -n 3 <<<"$out" >&2
		for f in "$W"/a*/agent.err; do grep -v 'info:' "$f"; done | sort | uniq -c | head -n 5 >&2
		exit 1
	fi
	ms "$a" "$b"
}
: >"$W/changed"; : >"$W/again"; : >"$W/peer"
for ((r = 0; r < R; r++)); do
	# A change of one weight: a new generation, so every file is new.
	$L cluster change web "rs=${rs/rs1,/rs1:$((r % 2 + 2)),}" >/dev/null
	apply_ms >>"$W/changed"
	apply_ms >>"$W/again"
done
# Each agent holds what the last apply sent: the peer sends it again.
gen=$(head -n 1 "$W/roles/lb.role" | sed 's/.*generation=\([0-9]*\).*/\1/')
for ((r = 0; r < PR; r++)); do
	a=$(now)
	bad=0
	for ((i = 0; i < N; i++)); do
		n=$(name $i)
		eid=$(printf '%s' "$n" | od -An -tx1 | tr -d ' \n')
		# The file as it is, its last newline kept.
		text=$(cat "$W/roles/$n.role"; printf x)
		snmpset -v3 -l authPriv -u "$user" -a SHA-256 -A "$auth" -x AES -X "$priv" \
			-e "0x80001f8804$eid" -t 2 -r 1 "udp:$(addr $i):161" \
			.1.3.6.1.4.1.8072.9999.9999.6678.1.1.6.0 s "${text%x}" \
			>/dev/null 2>>"$W/peer.err" || bad=$((bad + 1))
	done
	b=$(now)
	[ "$bad" -eq 0 ] || { echo "# peer run $r: $bad hosts failed:" >&2; tail -n 4 "$W/peer.err" >&2; }
	ms "$a" "$b" >>"$W/peer"
done

c=$(median <"$W/changed")
g=$(median <"$W/again")
p=$(median <"$W/peer")
echo "cluster: 1 lb + $((N - 1)) rs, each with snmpd + lc-agent; SNMPv3 authPriv SHA-256/AES; generation now $gen"
echo "lc-build apply -a, changed cluster (every file new, pushed to $N agents): median $c ms over $R (target <= 2000 ms)"
echo "lc-build apply -a, unchanged (every agent sent the file it has): median $g ms over $R"
echo "peer: snmpset per host, sequential, $N hosts: median $p ms over $PR"
awk -v p="$p" -v g="$g" 'BEGIN { printf "ratio peer / lc-build apply (unchanged): %.1fx\n", p / g }'
awk -v c="$c" 'BEGIN { printf "target: %s\n", c <= 2000 ? "met" : "MISSED" }'
