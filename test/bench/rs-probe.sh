#!/usr/bin/env bash
# rs-probe benchmark: many real snmpd + lc-agent instances on loopback
# (one port each), 10% more targets that never answer (a UDP sink), and
# rs-probe polling them all with SNMPv3 authPriv.
# Measures the manager's own CPU per poll (rusage of rs-probe, startup
# subtracted by running two sweep counts) with and without the direct TCP
# checks, the duration of a sweep with the dead targets in it, and a peer:
# net-snmp's snmpget, one process per poll (fixed engine ID, keys given).
# usage: test/bench/rs-probe.sh [agents] [repeats]
# env: NONSTOP_BIN (binaries), BENCH_TIMEOUT (ms, default 1000)
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$(dirname "$here")")
BIN=${NONSTOP_BIN:-$top/build/bin}
N=${1:-100}
R=${2:-5}
TIMEOUT=${BENCH_TIMEOUT:-1000}
D=$(( (N + 8) / 9 ))		# dead targets: 10% of all targets
BASE=$((30000 + RANDOM % 10000))
W=$(mktemp -d /tmp/rs-probe-bench.XXXXXX)
pids=()

cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do
		for ((k = 0; k < 40; k++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

for t in snmpd snmpget python3; do
	command -v $t >/dev/null || { echo "rs-probe.sh: fatal: $t not installed" >&2; exit 111; }
done
[ -x "$BIN/rs-probe" ] && [ -x "$BIN/lc-agent" ] ||
	{ echo "rs-probe.sh: fatal: no rs-probe/lc-agent in $BIN" >&2; exit 111; }

user=bench auth=a$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
priv=p$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
(umask 077; echo "user=$user auth=SHA-256 authpass=$auth priv=AES privpass=$priv" >"$W/creds")
export SNMP_PERSISTENT_DIR=$W/mgr SNMPCONFPATH=$W/mgr MIBS= MIBDIRS=$top/test/mibs
mkdir -p "$W/mgr/cert_indexes" "$W/www" "$W/lbstate"
echo ok >"$W/www/index.html"
WEB=$((BASE - 1))
# The real servers' addresses are 127.1.x.y: the direct TCP checks are
# answered by the kernel (RST) without a listener, the same work for the
# prober as a listener's SYN-ACK. The agents count a listener on
# 127.0.0.1:WEB as their service being up.
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
time.sleep(3600)' "$WEB" 3>&- & pids+=($!)

echo "# starting $N snmpd + lc-agent pairs on 127.0.0.1:$BASE.. and $D dead targets"
t0=$(date +%s%N)
for ((i = 1; i <= N; i++)); do
	d=$W/a$i
	mkdir -p "$d/persist" "$d/state"
	cat >"$d/snmpd.conf" <<-CONF
	agentAddress udp:127.0.0.1:$((BASE + i))
	master agentx
	agentXSocket $d/agentx.sock
	engineID rs$i
	dontLogTCPWrappersConnects yes
	createUser $user SHA-256 "$auth" AES "$priv"
	rwuser -s usm $user priv .1.3.6.1.4.1.8072.9999.9999
	CONF
	printf 'role=rs host=rs%s cluster=b generation=1 version=1\nservice=web vip=192.0.2.100 port=80 proto=tcp sched=rr fwd=dr\nlb=lb addr=192.0.2.1\nrs=rs%s addr=127.0.0.1 port=%s\n' \
		"$i" "$i" "$WEB" >"$d/role"
	SNMP_PERSISTENT_DIR=$d/persist snmpd -f -C -c "$d/snmpd.conf" -Lf "$d/snmpd.log" -I -smux \
		-p "$d/pid" 3>&- & pids+=($!)
done
for ((i = 1; i <= N; i++)); do
	d=$W/a$i
	k=0
	while [ ! -S "$d/agentx.sock" ] && [ $((k += 1)) -lt 300 ]; do sleep 0.05; done
	"$BIN/lc-agent" -a '' -f "$d/role" -s "$d/state" -x "$d/agentx.sock" 2>/dev/null 3>&- &
	pids+=($!)
done
# The dead: ports that take datagrams and never answer.
python3 - "$BASE" "$N" "$D" 3>&- <<'PY' &
import socket, sys, time
base, n, d = map(int, sys.argv[1:])
socks = []
for i in range(n + 1, n + d + 1):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", base + i))
    socks.append(s)
time.sleep(3600)
PY
pids+=($!)

{
	printf 'role=lb host=lb cluster=b generation=1 version=1\nservice=web vip=192.0.2.100 port=80 proto=tcp sched=rr fwd=dr\nlb=lb addr=192.0.2.1\n'
	for ((i = 1; i <= N + D; i++)); do
		printf 'rs=rs%s addr=127.1.%s.%s port=%s weight=1\nagent=rs%s addr=127.0.0.1 port=%s\n' "$i" $((i / 250)) $((i % 250 + 1)) "$WEB" "$i" $((BASE + i))
	done
} >"$W/lb.role"
{
	printf 'role=lb host=lb cluster=b generation=1 version=1\nservice=web vip=192.0.2.100 port=80 proto=tcp sched=rr fwd=dr\nlb=lb addr=192.0.2.1\n'
	for ((i = 1; i <= N; i++)); do
		printf 'rs=rs%s addr=127.1.%s.%s port=%s weight=1\nagent=rs%s addr=127.0.0.1 port=%s\n' "$i" $((i / 250)) $((i % 250 + 1)) "$WEB" "$i" $((BASE + i))
	done
} >"$W/live.role"

# Wait until every live agent answers one sweep.
for ((k = 0; k < 60; k++)); do
	out=$("$BIN/rs-probe" -1 -A -f "$W/live.role" -k "$W/creds" -w 2000 -t 2000 2>"$W/probe.err")
	up=$(grep -c 'event=rs-up' <<<"$out")
	[ "$up" -eq "$N" ] && break
	sleep 1
done
echo "# $up of $N agents answer after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
[ "$up" -gt 0 ] || { cat "$W/probe.err" "$W/a1/snmpd.log" >&2; echo "$out" >&2; exit 111; }

# BENCH_HOLD=S: keep the agents up S seconds for profiling by hand.
if [ -n "${BENCH_HOLD:-}" ]; then
	echo "# holding: $W (live.role, lb.role, creds)"
	sleep "$BENCH_HOLD"
fi

# cpu_us ARGS...: "user system" microseconds of one rs-probe run.
cpu_us() {
	python3 -c '
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(int(r.ru_utime * 1e6), int(r.ru_stime * 1e6))' "$@"
}
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# Sweeps far enough apart that every agent answers in time (the agents,
# all on this machine, are the bottleneck; a timed-out poll would cost the
# manager less and flatter the figure); failures are counted below.
C1=5 C2=25
PT=$((N * 3 > 300 ? N * 3 : 300)) PW=$((PT - 10))
# per_poll FIELD EXTRA-OPTS: median us per poll over R repeats; FIELD
# 1 user, 2 system, 3 both. PLAIN=1 in the environment: net-snmp's own
# crypto and a socket per session (rs-probe's RS_PROBE_GENERIC_CRYPTO and
# RS_PROBE_OWN_SOCKETS), the code path before they were added.
per_poll() {
	local r a b f=$1; shift
	for ((r = 0; r < R; r++)); do
		a=$(RS_PROBE_GENERIC_CRYPTO=${PLAIN:-0} RS_PROBE_OWN_SOCKETS=${PLAIN:-0} cpu_us "$BIN/rs-probe" -c $C1 -t $PT -w $PW -f "$W/live.role" -k "$W/creds" -s "$W/lbstate" "$@")
		b=$(RS_PROBE_GENERIC_CRYPTO=${PLAIN:-0} RS_PROBE_OWN_SOCKETS=${PLAIN:-0} cpu_us "$BIN/rs-probe" -c $C2 -t $PT -w $PW -f "$W/live.role" -k "$W/creds" -s "$W/lbstate" "$@")
		echo "$a $b" | awk -v f="$f" -v n="$N" -v c=$((C2 - C1)) '{
			u = $3 - $1; s = $4 - $2; v = f == 1 ? u : f == 2 ? s : u + s
			printf "%.1f\n", v / (n * c) }'
	done | median
}
rm -f "$W/lbstate/events"
snmp_user=$(per_poll 1 -A)
snmp_sys=$(per_poll 2 -A)
snmp_us=$(per_poll 3 -A)
# Every run ends with a state file: the last -A run's failed checks.
fails=$(sed -n 's/.* failures=\([0-9]*\) .*/\1/p' "$W/lbstate/rs-probe.state" | awk '{s += $1} END {print s + 0}')
downs=$(grep -c 'event=rs-down' "$W/lbstate/events" 2>/dev/null)
full_us=$(per_poll 3)
plain_user=$(PLAIN=1 per_poll 1 -A)
plain_us=$(PLAIN=1 per_poll 3 -A)

# Peer: one snmpget process per poll, the same five objects, no discovery.
eid=$(printf 'rs1' | od -An -tx1 | tr -d ' \n')
peer_one() {
	local r
	for ((r = 0; r < R; r++)); do
		python3 -c '
import resource, subprocess, sys
n = 20
for _ in range(n):
    subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.1f" % ((r.ru_utime + r.ru_stime) * 1e6 / n))' \
			snmpget -v3 -l authPriv -u "$user" -a SHA-256 -A "$auth" -x AES -X "$priv" \
			-e "0x80001f8804$eid" -t 1 -r 0 "udp:127.0.0.1:$((BASE + 1))" \
			.1.3.6.1.4.1.8072.9999.9999.6678.1.1.2.0 .1.3.6.1.4.1.8072.9999.9999.6678.1.1.8.0 \
			.1.3.6.1.4.1.8072.9999.9999.6678.1.1.9.0 .1.3.6.1.4.1.8072.9999.9999.6678.1.1.10.0 \
			.1.3.6.1.4.1.8072.9999.9999.6678.1.1.11.0
	done | median
}
peer_us=$(peer_one)

# A sweep over live + dead targets: its duration against the timeout.
sweep_ms() {
	local r
	for ((r = 0; r < R; r++)); do
		"$BIN/rs-probe" -v -c 2 -t $((TIMEOUT + 100)) -w "$TIMEOUT" -f "$W/lb.role" \
			-k "$W/creds" -s "$W/lbstate" 2>&1 >/dev/null |
			sed -n 's/.*debug: sweep 2: [0-9]* servers in \([0-9]*\) ms/\1/p'
	done | median
}
sw=$(sweep_ms)

echo "targets: $N live agents (snmpd + lc-agent), $D dead; SNMPv3 authPriv SHA-256/AES"
echo "rs-probe manager CPU per poll, SNMP only (-A), user: median $snmp_user us (target <= 30 us)"
echo "rs-probe manager CPU per poll, SNMP only (-A), system: median $snmp_sys us"
echo "rs-probe manager CPU per poll, SNMP only (-A), user+system: median $snmp_us us (target <= 30 us; system includes the kernel's loopback delivery to the agent)"
echo "the same with net-snmp's own crypto and a socket per agent (RS_PROBE_GENERIC_CRYPTO=1 RS_PROBE_OWN_SOCKETS=1): user median $plain_user us, user+system median $plain_us us"
awk -v a="$plain_us" -v b="$snmp_us" 'BEGIN {printf "ratio plain / rs-probe (user+system): %.2fx\n", a / b}'
echo "rs-probe manager CPU per poll, SNMP + TCP check: median $full_us us"
echo "failed agent polls in the last -A run: $fails of $((N * C2)); rs-down events in all -A runs: ${downs:-0}"
echo "peer: snmpget, one process per poll (fixed engine ID): median $peer_us us"
awk -v a="$peer_us" -v b="$snmp_us" 'BEGIN {printf "ratio peer / rs-probe (SNMP only): %.0fx\n", a / b}'
echo "sweep of $((N + D)) targets ($D dead) with timeout $TIMEOUT ms: median $sw ms"
awk -v s="$sw" -v t="$TIMEOUT" 'BEGIN {printf "sweep / timeout: %.3f (%s)\n", s / t, s <= t * 1.02 ? "within one timeout" : "OVER"}'

# lc-build apply's push (lib/snmp_push through test/bench/snmp-push.c):
# every live agent gets a new generation of its role file, all in
# parallel; then the same again (idempotent, nothing changes).
if cc -D_GNU_SOURCE -DVERSION=\"bench\" -I"$top/lib" -o "$W/snmp-push" \
	"$top/test/bench/snmp-push.c" "$BIN/../libnonstop.a" $(net-snmp-config --libs) -lcrypto 2>/dev/null; then
	args=()
	for ((i = 1; i <= N; i++)); do
		sed 's/generation=1/generation=2/' "$W/a$i/role" >"$W/a$i/role2"
		args+=("rs$i,udp:127.0.0.1:$((BASE + i)),$W/a$i/role2")
	done
	push_ms() {
		local r
		for ((r = 0; r < R; r++)); do
			"$W/snmp-push" -k "$W/creds" -w 2000 "${args[@]}" 2>&1 >"$W/push.out" |
				sed -n 's/.* \([0-9]*\) failed, \([0-9]*\) ms$/\2 \1/p'
		done | sort -n | awk '{a[NR] = $1; f += $2} END {print a[int((NR + 1) / 2)], f}'
	}
	read -r p1 f1 < <(push_ms)
	echo "push of a new role file to $N agents in parallel: median $p1 ms, $f1 host failures in $R runs (target: 200 hosts within 2000 ms)"
	ok=$(grep -c 'result=ok' "$W/push.out")
	echo "last push: $ok of $N hosts ok"
else
	echo "push: no libnonstop.a next to $BIN; skipped"
fi
