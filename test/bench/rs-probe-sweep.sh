#!/usr/bin/env bash
# rs-probe sweep benchmark: many targets, some dead, one sweep against
# one timeout. Memory allows a few hundred snmpd + lc-agent pairs, so a
# few snmpd instances (each with its lc-agent and one engine ID) listen
# on many loopback addresses each; rs-probe's engine file (-E) names each
# target's engine. The dead targets' addresses have nothing behind them
# and an nft rule drops what is sent there (a dead host: no ICMP, only
# silence). All of it runs in a network namespace made here.
# Prints each sweep's duration against the timeout (-w) and the ratio.
# usage: test/bench/rs-probe-sweep.sh [targets] [dead] [per-snmpd] [sweeps]
# env: NONSTOP_BIN (binaries), BENCH_TIMEOUT (ms, default 1000)
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$(dirname "$here")")
BIN=${NONSTOP_BIN:-$top/build/bin}
N=${1:-1000}
D=${2:-$((N / 10))}
PER=${3:-100}
S=${4:-5}
TIMEOUT=${BENCH_TIMEOUT:-1000}
L=$((N - D))
G=$(((L + PER - 1) / PER))
NS=rsps$$
W=$(mktemp -d /tmp/rs-probe-sweep.XXXXXX)
WEB=8080
pids=()

cleanup() {
	local p k
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do
		for ((k = 0; k < 40; k++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 111' INT TERM

[ "$(id -u)" = 0 ] || { echo "rs-probe-sweep.sh: fatal: needs root (network namespace)" >&2; exit 111; }
for t in snmpd python3 nft ip; do
	command -v $t >/dev/null || { echo "rs-probe-sweep.sh: fatal: $t not installed" >&2; exit 111; }
done
[ -x "$BIN/rs-probe" ] && [ -x "$BIN/lc-agent" ] ||
	{ echo "rs-probe-sweep.sh: fatal: no rs-probe/lc-agent in $BIN" >&2; exit 111; }
[ "$L" -ge 1 ] && [ "$D" -ge 0 ] && [ "$L" -le 60000 ] ||
	{ echo "usage: rs-probe-sweep.sh [targets] [dead] [per-snmpd] [sweeps]" >&2; exit 100; }

ip netns add "$NS" || exit 111
ip -n "$NS" link set lo up
# Background processes are started by ip netns exec itself (it execs them),
# so that $! is the process to stop.
nx() { ip netns exec "$NS" "$@"; }
# Live target i (1..L) is 127.1.x.y, dead target j (1..D) 127.3.x.y.
taddr() { echo "127.$1.$(($2 / 250)).$(($2 % 250 + 1))"; }
nx nft -f - <<-NFT || exit 111
	table inet rsps {
		chain out {
			type filter hook output priority 0; policy accept;
			ip daddr 127.3.0.0/16 drop
		}
	}
NFT

user=bench auth=a$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
priv=p$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
(umask 077; echo "user=$user auth=SHA-256 authpass=$auth priv=AES privpass=$priv" >"$W/creds")
export SNMP_PERSISTENT_DIR=$W/mgr SNMPCONFPATH=$W/mgr MIBS= MIBDIRS=$top/test/mibs
mkdir -p "$W/mgr/cert_indexes" "$W/lbstate"

# The service every real server offers: one listener for all addresses.
ip netns exec "$NS" python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(4096)
while True:
    c, _ = s.accept(); c.close()' "$WEB" 3>&- & pids+=($!)

echo "# $N targets: $L live on $G snmpd + lc-agent pairs ($PER addresses each), $D dead (dropped)"
t0=$(date +%s%N)
: >"$W/engines"
for ((g = 0; g < G; g++)); do
	d=$W/a$g
	mkdir -p "$d/persist" "$d/state"
	cat >"$d/snmpd.conf" <<-CONF
	master agentx
	agentXSocket $d/agentx.sock
	engineID pool$g
	dontLogTCPWrappersConnects yes
	createUser $user SHA-256 "$auth" AES "$priv"
	rwuser -s usm $user priv .1.3.6.1.4.1.8072.9999.9999
	CONF
	printf 'role=rs host=pool%s cluster=b generation=1 version=1\nservice=web vip=192.0.2.100 port=80 proto=tcp sched=rr fwd=dr\nlb=lb addr=192.0.2.1\nrs=pool%s addr=127.0.0.1 port=%s\n' \
		"$g" "$g" "$WEB" >"$d/role"
	addrs=()
	for ((i = g * PER + 1; i <= (g + 1) * PER && i <= L; i++)); do
		addrs+=("udp:$(taddr 1 "$i"):161")
		echo "rs=rs$i engine=pool$g" >>"$W/engines"
	done
	# Listening addresses as arguments: no config line length limit.
	ip netns exec "$NS" env SNMP_PERSISTENT_DIR="$d/persist" snmpd -f -C -c "$d/snmpd.conf" -Lf "$d/snmpd.log" \
		-I -smux -p "$d/pid" "${addrs[@]}" 3>&- & pids+=($!)
done
for ((g = 0; g < G; g++)); do
	d=$W/a$g
	k=0
	while [ ! -S "$d/agentx.sock" ] && [ $((k += 1)) -lt 400 ]; do sleep 0.05; done
	ip netns exec "$NS" "$BIN/lc-agent" -a '' -f "$d/role" -s "$d/state" -x "$d/agentx.sock" 2>"$d/agent.err" 3>&- &
	pids+=($!)
done
{
	printf 'role=lb host=lb cluster=b generation=1 version=1\nservice=web vip=192.0.2.100 port=%s proto=tcp sched=rr fwd=dr\nlb=lb addr=192.0.2.1\n' "$WEB"
	for ((i = 1; i <= L; i++)); do printf 'rs=rs%s addr=%s weight=1\n' "$i" "$(taddr 1 "$i")"; done
	for ((j = 1; j <= D; j++)); do printf 'rs=dead%s addr=%s weight=1\n' "$j" "$(taddr 3 "$j")"; done
} >"$W/lb.role"
{
	head -3 "$W/lb.role"
	grep '^rs=rs' "$W/lb.role"
} >"$W/live.role"

# Wait until every live agent answers one sweep (bounded).
for ((k = 0; k < 60; k++)); do
	out=$(nx "$BIN/rs-probe" -1 -A -E "$W/engines" -f "$W/live.role" -k "$W/creds" -w 3000 -t 3000 2>"$W/probe.err")
	up=$(grep -c 'event=rs-up' <<<"$out")
	[ "$up" -eq "$L" ] && break
	sleep 1
done
echo "# $up of $L live targets answer after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
[ "$up" -gt 0 ] || { cat "$W/probe.err" "$W/a0/snmpd.log" >&2; exit 111; }

# S sweeps over all targets, SNMP and TCP checks, rise/fall 1: every
# sweep's duration, and what each sweep found.
nx "$BIN/rs-probe" -v -r 1 -F 1 -c "$S" -t $((TIMEOUT + 500)) -w "$TIMEOUT" -E "$W/engines" \
	-f "$W/lb.role" -k "$W/creds" -s "$W/lbstate" >"$W/sweep.out" 2>"$W/sweep.err"
sed -n 's/.*debug: sweep \([0-9]*\): [0-9]* servers in \([0-9]*\) ms/\1 \2/p' "$W/sweep.err" >"$W/times"
# The same over the live targets alone: how long the agents take to answer.
nx "$BIN/rs-probe" -v -r 1 -F 1 -c "$S" -t $((TIMEOUT + 500)) -w "$TIMEOUT" -E "$W/engines" \
	-f "$W/live.role" -k "$W/creds" -s "$W/lbstate" >/dev/null 2>"$W/live.err"
live_ms=$(sed -n 's/.*debug: sweep [0-9]*: [0-9]* servers in \([0-9]*\) ms/\1/p' "$W/live.err" | tr '\n' ' ')
live_down=$(grep -c '^event=rs-down rs=rs' "$W/sweep.out")
dead_down=$(grep -c '^event=rs-down rs=dead' "$W/sweep.out")
live_fail=$(grep '^rs=rs' "$W/lbstate/rs-probe.state" | sed -n 's/.* failures=\([0-9]*\) .*/\1/p' | awk '{s += $1} END {print s + 0}')
# The manager's CPU per poll over the live targets, SNMP only (-A): two
# runs of different lengths, so that start-up cancels out.
cpu_us() {
	ip netns exec "$NS" python3 -c '
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(int(r.ru_utime * 1e6), int(r.ru_stime * 1e6))' "$@"
}
a=$(cpu_us "$BIN/rs-probe" -A -c 2 -t $((TIMEOUT + 500)) -w "$TIMEOUT" -E "$W/engines" -f "$W/live.role" -k "$W/creds" -s "$W/lbstate")
b=$(cpu_us "$BIN/rs-probe" -A -c $((S + 2)) -t $((TIMEOUT + 500)) -w "$TIMEOUT" -E "$W/engines" -f "$W/live.role" -k "$W/creds" -s "$W/lbstate")
cpu=$(echo "$a $b" | awk -v n="$L" -v c="$S" '{printf "user %.1f us, system %.1f us, user+system %.1f us", ($3 - $1) / (n * c), ($4 - $2) / (n * c), ($3 + $4 - $1 - $2) / (n * c)}')
echo "targets: $N ($L live on $G snmpd, $D dead), SNMPv3 authPriv + TCP connect, timeout $TIMEOUT ms"
echo "sweep durations (ms): $(awk '{printf "%s%s", sep, $2; sep = " "}' "$W/times")"
med=$(awk '{print $2}' "$W/times" | sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
max=$(awk '{print $2}' "$W/times" | sort -n | tail -1)
echo "sweep of $N targets ($D dead): median $med ms, max $max ms"
echo "sweeps of the $L live targets alone (ms): $live_ms"
echo "manager CPU per poll of the $L live targets, SNMP only (-A): $cpu"
awk -v s="$med" -v m="$max" -v t="$TIMEOUT" 'BEGIN {printf "sweep / timeout: median %.3f, max %.3f (%s)\n", s / t, m / t, m <= t * 1.02 ? "within one timeout" : "OVER"}'
echo "dead targets reported down: $dead_down of $D; live targets reported down: $live_down; failed live checks in $S sweeps: $live_fail"
grep -m3 'reason=' "$W/sweep.out" | sed 's/^/# e.g. /'
