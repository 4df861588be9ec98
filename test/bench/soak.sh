#!/usr/bin/env bash
# ha-beat soak: a three-node group at a fast setting (default 5 ms, dead 3)
# for SECONDS (default 300) while a busy loop keeps the other core loaded;
# counts false failovers (any transition after the initial election).
# Usage: test/bench/soak.sh [seconds] [interval_ms] [dead]   (root; build first)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
HA_BEAT=${HA_BEAT:-${NONSTOP_BIN:-$top/build/bin}/ha-beat}
dur=${1:-300}
ivl=${2:-5}
dead=${3:-3}
[ "$(id -u)" -eq 0 ] || { echo "soak: fatal: run as root" >&2; exit 100; }
[ -x "$HA_BEAT" ] || { echo "soak: fatal: $HA_BEAT not built" >&2; exit 100; }
P=nssoak$$
work=$(mktemp -d)
busy=
cleanup() {
	[ -n "$busy" ] && kill $busy 2>/dev/null
	for ns in $(ip netns list | awk '{print $1}' | grep "^$P"); do
		for pid in $(ip netns pids "$ns"); do kill -9 "$pid" 2>/dev/null; done
		ip netns del "$ns"
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 111' INT TERM
ip netns add "${P}sw"
ip -n "${P}sw" link add br0 type bridge
ip -n "${P}sw" link set br0 up
for i in 1 2 3; do
	ip netns add "${P}h$i"
	ip -n "${P}sw" link add "p$i" type veth peer name eth0 netns "${P}h$i"
	ip -n "${P}sw" link set "p$i" master br0 up
	ip -n "${P}h$i" addr add "192.0.2.$i/24" dev eth0
	ip -n "${P}h$i" link set eth0 up
done
head -c 32 /dev/urandom >"$work/key"; chmod 600 "$work/key"
printf '%s\n' "group soak" "interface eth0" "interval $ivl" "dead $dead" "key $work/key" \
	"node a 192.0.2.1 priority 100" "node b 192.0.2.2 priority 90" \
	"node c 192.0.2.3 priority 80" "vip 192.0.2.100/24" >"$work/conf"
names=(x a b c)
for i in 1 2 3; do
	ip netns exec "${P}h$i" "$HA_BEAT" -q -f "$work/conf" -N "${names[$i]}" \
		>"$work/ev$i" 2>"$work/err$i" 3>&- &
done
sleep 2
# Load: one busy loop per core but one, plus a burst of short-lived processes.
n=$(( $(nproc) - 1 )); [ "$n" -ge 1 ] || n=1
for ((k = 0; k < n; k++)); do timeout "$dur" sh -c 'while :; do :; done' & busy="$busy $!"; done
echo "soak: ${dur} s, heartbeat ${ivl} ms, dead after $dead, 3 nodes, $n busy loop(s) on $(nproc) cores"
sleep "$dur"
for i in 1 2 3; do
	for pid in $(ip netns pids "${P}h$i"); do kill -USR1 "$pid" 2>/dev/null; done
done
sleep 0.5
grep -h '^event=stats' "$work"/ev* | sed 's/ rejected_.*//'
base=$(cat "$work"/ev* | grep -c '^event=transition')
# Initial: a: init->backup, backup->master; b, c: init->backup = 4 transitions.
false_failovers=$((base - 4))
echo "transitions: $base (4 expected at start)"
echo "false failovers: $false_failovers"
cat "$work"/ev* | grep 'event=transition' | grep -v 'reason=startup' | grep -v 'node=a from=backup to=master reason=elected' || true
[ "$false_failovers" -eq 0 ]
