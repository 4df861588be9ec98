#!/usr/bin/env bash
# nonstop demo, part 1: a three-node failover group (ha-beat) in network namespaces,
# with a client fetching from the virtual IP every 20 ms. Prints a timeline:
# election, master crash, failback, clean stop, and the outages the client saw.
# Run as root from the top of the tree after `make` (README: make demo).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${NONSTOP_BIN:-$top/build/bin}
HA_BEAT=$bin/ha-beat
[ "$(id -u)" -eq 0 ] || { echo "demo: fatal: run as root (network namespaces)" >&2; exit 100; }
[ -x "$HA_BEAT" ] || { echo "demo: fatal: $HA_BEAT not built: run make" >&2; exit 100; }

P=nsdemo$$
work=$(mktemp -d /tmp/nonstop-demo.XXXXXX)
names=(x a b c)
. "$top/contrib/demo/lib.sh"
cleanup() {
	demo_sweep
	if [ -n "${DEMO_KEEP:-}" ]; then echo "demo: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 111' INT TERM

echo "== nonstop demo: three ha-beat nodes (a, b, c) and a client on one bridge"
demo_lan h1 192.0.2.1 h2 192.0.2.2 h3 192.0.2.3 h4 192.0.2.4
head -c 32 /dev/urandom >"$work/key"
chmod 600 "$work/key"
printf '%s\n' "group web" "interface eth0" "interval 10" "dead 3" "key $work/key" \
	"node a 192.0.2.1 priority 100" "node b 192.0.2.2 priority 90" \
	"node c 192.0.2.3 priority 80" "vip 192.0.2.100/24" >"$work/ha-beat.conf"
echo "   group web: heartbeat every 10 ms, dead after 3 missed, VIP 192.0.2.100,"
echo "   HMAC-SHA256 with a fresh random key; a web server on each node says its name"
echo

for i in 1 2 3; do
	mkdir -p "$work/www$i"
	echo "${names[$i]}" >"$work/www$i/index.html"
	ip netns exec "${P}h$i" python3 -m http.server 80 --bind 0.0.0.0 \
		--directory "$work/www$i" >/dev/null 2>&1 3>&- &
done
start_node() {
	local i=$1
	mkdir -p "$work/s$i"
	ip netns exec "${P}h$i" "$HA_BEAT" -q -f "$work/ha-beat.conf" -N "${names[$i]}" \
		-s "$work/s$i" >>"$work/events" 2>>"$work/ha-beat.log" 3>&- &
	echo $! >"$work/pid$i"
	disown
}
# The client: one HTTP GET (a new connection) every 20 ms, logs "time who".
demo_client
ip netns exec "${P}h4" python3 "$work/client.py" "$work/client" "$work/client.stop" 0.05 >/dev/null 2>&1 3>&- &
client=$!

state() { cat "$work/s$1/state" 2>/dev/null; }
wait_state() {
	local k
	for ((k = 0; k < 300; k++)); do
		[ "$(state "$1")" = "$2" ] && return 0
		sleep 0.01
	done
	echo "demo: warning: node ${names[$1]} did not become $2" >&2
	return 1
}
mark() { echo "$(date +%s.%N) $*" >>"$work/marks"; }

mark "start ha-beat on a, b and c"
for i in 1 2 3; do start_node "$i"; done
wait_state 1 master
sleep 1.5

mark "CRASH: cut a's cable and kill -9 its ha-beat"
ip -n "${P}sw" link set ph1 down
kill -9 "$(cat "$work/pid1")"
wait_state 2 master
sleep 1.5

mark "a comes back (cable mended, ha-beat restarted) and preempts"
ip -n "${P}sw" link set ph1 up
start_node 1
wait_state 1 master
sleep 1.5

mark "CLEAN STOP of a (SIGTERM, as systemctl stop does)"
kill -TERM "$(cat "$work/pid1")"
wait_state 2 master
sleep 1.5
touch "$work/client.stop"
wait "$client" 2>/dev/null

echo "== timeline ([op] what the operator did, [ha] ha-beat's events, [client] what the client saw)"
t0=$(head -n 1 "$work/marks" | cut -d' ' -f1)
{
	sed 's/^\([0-9.]*\) \(.*\)/\1 [op]     \2/' "$work/marks"
	sed -n 's/^event=transition .*node=\([a-z]*\) from=\([a-z]*\) to=\([a-z]*\) reason=\([a-z-]*\).* time=\([0-9.]*\)$/\5 [ha]     node \1: \2 -> \3 (\4)/p' "$work/events"
	# Client lines only where the answer changes.
	awk '{ if ($2 != last) { print $1, ($2 == "-") ? "[client] no answer from 192.0.2.100" : "[client] served by node " $2; last = $2 } }' "$work/client"
} | sort -n | awk -v t0="$t0" '{ t = $1; $1 = ""; printf "%8.3f s %s\n", t - t0, $0 }'
echo
echo "== client-visible outages (requests every 20 ms, each a new TCP connection)"
awk '{ if ($2 == "-") { if (!s) s = $1 } else { if (s) printf "   %4.0f ms without an answer, then served by node %s\n", ($1 - s) * 1000, $2; s = 0 } }' "$work/client"
grep -q ' - ' "$work/client" || echo "   none: every request was answered"
echo "   (a crash costs the detection time, 3 x 10 ms, plus the takeover;"
echo "    a clean stop hands over at once; see test/bench/failover.sh for 1 ms figures)"
echo "== done: namespaces removed"
