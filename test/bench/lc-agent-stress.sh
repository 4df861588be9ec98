#!/usr/bin/env bash
# lc-agent stress: one snmpd (agentXTimeout 1) and one lc-agent on
# loopback, hammered for D seconds by, at once:
#  - SET writers: good role configs (racing generations), role and weight
#    SETs, bad SETs of every kind;
#  - readers walking the whole NONSTOP-MIB;
#  - the agent stopped (SIGSTOP) past agentXTimeout in the middle of SETs;
#  - snmpd restarted in the middle of SETs;
#  - a converger stand-in that runs up to 1.5 s, so SETs arrive while it runs;
#  - rs-probe's state, the event log and lc-role's state replaced or grown.
# Build lc-agent with -fsanitize=address,undefined to make it worth it.
# Prints what was done, and exits 1 if the agent died or a sanitizer spoke.
# usage: test/bench/lc-agent-stress.sh [seconds]      (default 60)
# env: NONSTOP_BIN (binaries), LC_AGENT (the agent, e.g. an ASan build, or
#   "valgrind -q --log-file=F /path/lc-agent": the last word is the binary)
set -u
here=$(cd "$(dirname "$0")" && pwd)
NONSTOP_TOP=$(dirname "$(dirname "$here")")
BIN=${NONSTOP_BIN:-$NONSTOP_TOP/build/bin}
LC_AGENT=${LC_AGENT:-$BIN/lc-agent}
D=${1:-60}
W=$(mktemp -d /tmp/lc-agent-stress.XXXXXX)
PORT=$((20000 + RANDOM % 20000))
T=udp:127.0.0.1:$PORT
pids=()
snmpd_pid=

cleanup() {
	local p
	for p in "${pids[@]}" $snmpd_pid; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

command -v snmpd >/dev/null && command -v snmpset >/dev/null ||
	{ echo "lc-agent-stress.sh: fatal: net-snmp not installed" >&2; exit 111; }
[ -x "${LC_AGENT##* }" ] || { echo "lc-agent-stress.sh: fatal: no ${LC_AGENT##* }" >&2; exit 111; }
case $D in ''|*[!0-9]*) echo "usage: lc-agent-stress.sh [seconds]" >&2; exit 100;; esac

user=stress auth=a$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
priv=p$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
export SNMP_PERSISTENT_DIR=$W/mgr SNMPCONFPATH=$W/mgr MIBS='' MIBDIRS=$NONSTOP_TOP/test/mibs
mkdir -p "$W/mgr/cert_indexes" "$W/persist" "$W/state/lc-role"
cat >"$W/snmpd.conf" <<CONF
agentAddress $T
master agentx
agentXSocket $W/agentx.sock
agentXPerms 0600 0700
agentXTimeout 1
agentXRetries 0
engineID stress
dontLogTCPWrappersConnects yes
createUser $user SHA-256 "$auth" AES "$priv"
rwuser -s usm $user priv .1.3.6.1.4.1.8072.9999.9999
CONF
B=.1.3.6.1.4.1.8072.9999.9999.6678.1
v3() {
	local tool=$1; shift
	"$tool" -v3 -l authPriv -u $user -a SHA-256 -A "$auth" -x AES -X "$priv" \
		-t 3 -r 0 "$T" "$@"
}
role() {	# role GEN [WEIGHT]
	printf 'role=lb host=lb1 cluster=web generation=%s version=1\n' "$1"
	printf 'service=web vip=192.0.2.100 port=80 proto=tcp sched=wrr fwd=dr\n'
	printf 'lb=lb1 addr=192.0.2.2\n'
	printf 'rs=rs1 addr=192.0.2.11 port=80 weight=%s\n' "${2:-1}"
	printf 'rs=rs2 addr=192.0.2.12 weight=2\n'
}
role 1 >"$W/role"
printf '#!/bin/sh\nsleep 0.$(od -An -N1 -tu1 /dev/urandom | tr -d " ")\nexit $(( $(od -An -N1 -tu1 /dev/urandom) %% 3 ))\n' >"$W/lc-role"
chmod 755 "$W/lc-role"

start_snmpd() {
	env SNMP_PERSISTENT_DIR="$W/persist" snmpd -f -C -c "$W/snmpd.conf" \
		-Lf "$W/snmpd.log" -p "$W/snmpd.pid" &
	snmpd_pid=$!
}
start_snmpd
for ((k = 0; k < 100; k++)); do [ -S "$W/agentx.sock" ] && break; sleep 0.1; done
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
	$LC_AGENT -a "$W/lc-role" -f "$W/role" -s "$W/state" -x "$W/agentx.sock" \
	-N lb1 2>"$W/agent.err" &
agent=$!
for ((k = 0; k < 100; k++)); do v3 snmpget -Oqv $B.1.1.0 2>/dev/null | grep -q lb1 && break; sleep 0.1; done

end=$(($(date +%s) + D))
running() { [ "$(date +%s)" -lt "$end" ]; }

writer() {	# writer ID: SETs, good and bad
	local id=$1 n=0 g
	while running; do
		g=$(( $(date +%s%N) / 1000000 % 1000000000 + id ))
		case $((RANDOM % 8)) in
		0|1|2) v3 snmpset $B.1.6.0 s "$(role $g $((RANDOM % 9)))" ;;
		3) v3 snmpset $B.1.6.0 s "$(role $g)" $B.1.2.0 i 2 ;;
		4) v3 snmpset $B.2.2.1.6.$((RANDOM % 3 + 1)) i $((RANDOM % 300)) ;;
		5) v3 snmpset $B.1.6.0 s "role=xx host=lb1" ;;
		6) v3 snmpset $B.1.2.0 i $((RANDOM % 6)) ;;
		7) v3 snmpset $B.1.6.0 s "$(role 1)" $B.2.2.1.6.1 i 3 ;;
		esac >/dev/null 2>&1
		n=$((n + 1))
	done
	echo "$n" >"$W/writer.$id"
}
reader() {
	local n=0
	while running; do
		v3 snmpwalk -Cc $B >/dev/null 2>&1
		v3 snmpbulkwalk -Cc $B >/dev/null 2>&1
		n=$((n + 2))
	done
	echo "$n" >"$W/reader"
}
stopper() {	# stop the agent past agentXTimeout, mostly while a SET runs
	local n=0
	while running; do
		sleep 0.$((RANDOM % 9 + 1))
		kill -STOP $agent 2>/dev/null || break
		sleep $((RANDOM % 3)).$((RANDOM % 10))
		kill -CONT $agent 2>/dev/null
		n=$((n + 1))
	done
	echo "$n" >"$W/stops"
}
files() {	# the agent's inputs, replaced and grown under it
	local n=0 s=$W/state
	while running; do
		printf 'probe=rs-probe version=1 time=1 sweeps=%s down_events=0 up_events=1\nrs=rs1 status=%s reason=timeout weight=%s\n' \
			$n $([ $((RANDOM % 2)) = 0 ] && echo up || echo down) $((RANDOM % 5)) >"$s/rs-probe.tmp"
		mv "$s/rs-probe.tmp" "$s/rs-probe.state"
		printf 'event=rs-down rs=rs1 time=%s reason="x y"\n' $n >>"$s/events"
		[ $((n % 50)) = 0 ] && : >"$s/events"
		[ $((n % 7)) = 0 ] && printf 'garbage "unterminated\n' >"$s/rs-probe.state"
		printf 'master\n' >"$s/lc-role/state.tmp" && mv "$s/lc-role/state.tmp" "$s/lc-role/state"
		n=$((n + 1))
		sleep 0.05
	done
	echo "$n" >"$W/files"
}
restarter() {
	local n=0
	while running; do
		sleep $((RANDOM % 4 + 2))
		running || break
		kill $snmpd_pid 2>/dev/null
		wait $snmpd_pid 2>/dev/null
		start_snmpd
		n=$((n + 1))
	done
	echo "$n" >"$W/restarts"
}

echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; $D s"
writer 1 & pids+=($!)
writer 2 & pids+=($!)
writer 3 & pids+=($!)
reader & pids+=($!)
stopper & pids+=($!)
files & pids+=($!)
restarter
wait "${pids[@]}"
pids=($agent)
kill -CONT $agent 2>/dev/null
sleep 3
rc=0
if kill -0 $agent 2>/dev/null && v3 snmpget -Oqv $B.1.1.0 2>/dev/null | grep -q lb1; then
	echo "agent alive and serving"
else
	echo "AGENT DEAD OR NOT SERVING"; rc=1
fi
# lib/role.c passes qsort() a NULL array of 0 backup servers: known, benign.
if grep -v 'role.c:376' "$W/agent.err" | grep -q 'AddressSanitizer\|runtime error\|LeakSanitizer'; then
	echo "SANITIZER REPORT:"; grep -v '^lc-agent: warning: refused' "$W/agent.err" | head -60; rc=1
fi
echo "sets sent: $(cat "$W"/writer.* | paste -sd+ | bc)  walks: $(cat "$W/reader")" \
	" stops: $(cat "$W/stops" 2>/dev/null)  file changes: $(cat "$W/files")  snmpd restarts: $(cat "$W/restarts")"
echo "agent counters: $(v3 snmpget -Oqv $B.4.1.0 $B.4.2.0 $B.4.3.0 $B.4.4.0 2>/dev/null | paste -sd' ')"
[ $rc = 0 ] || cp "$W/agent.err" /tmp/lc-agent-stress.err
exit $rc
