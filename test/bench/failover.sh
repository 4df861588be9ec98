#!/usr/bin/env bash
# failover.sh: client-visible outage of a virtual-IP failover, keepalived
# (VRRPv3, unicast peers) against ha-beat at the same heartbeat interval,
# plus ha-beat at its fastest safe setting. A benchmark, not a test.
#
# usage: test/bench/failover.sh [-r runs] [-i interval_ms] [-f fast_ms]
#            [-d dead] [-w post_ms] [-T tools] [-S soak_seconds] [-x]
#   -r runs per tool and scenario (default 5)
#   -i heartbeat / advert interval in ms for both tools (default 10, the
#      smallest keepalived accepts)
#   -f ha-beat's fastest safe interval in ms (default 5; 0 skips it)
#   -d heartbeats missed before ha-beat declares a peer dead (default 3,
#      as VRRP's 3 x advert_int)
#   -w ms the client keeps probing after the failure (default 1200)
#   -T tools to measure, comma-separated (default keepalived,ha-beat)
#   -x after the measured runs, one captured run per tool and scenario
#      (tcpdump on the switch) printed as a timeline: where the time goes
#   -S seconds: afterwards, a soak run of each tool (ha-beat at the fast
#      interval) with one core kept busy, counting false failovers
#      (default 0: none; the issue's target is 300)
#
# Topology (network namespaces, torn down on exit): a switch, node a
# (192.0.2.1, priority 100), node b (192.0.2.2, priority 90) and a client
# (192.0.2.3) that opens a TCP connection to the virtual IP 192.0.2.100
# every 1 ms (connprobe.c: non-blocking connects, 50 ms timeout) and
# reports the longest gap between successful connects. Each node runs an
# accept-and-close server. Scenarios, each run from a fresh start with a
# master:
#   crash  the master's link is cut at the switch and its daemon SIGKILLed
#   clean  the master's daemon gets SIGTERM (it resigns)
# A baseline first: the same probe against a VIP that never moves gives
# the measurement's noise floor on this machine (scheduling, 1 ms cadence).
# Output: one line per run, then per tool/interval/scenario a line
#   bench=failover tool=T interval=MS scenario=S runs=N ok=N min=X median=X max=X
# and a table of medians with the ratios ha-beat/keepalived.
# The client probes at SCHED_FIFO priority $PROBE_RT (default 20; 0 for
# none): it is the measuring instrument, and on a loaded 2-core machine an
# ordinary-priority prober shows 5-20 ms gaps with no failover at all. The
# daemons run at their own defaults.
# Needs root, keepalived, a C compiler; ha-beat from $HA_BEAT or
# $NONSTOP_BIN/ha-beat (skipped when not built).
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
BIN=${NONSTOP_BIN:-$top/build/bin}
HA_BEAT=${HA_BEAT:-$BIN/ha-beat}
KEEPALIVED=${KEEPALIVED:-keepalived}

RUNS=5 INTERVAL=10 FAST=5 DEAD=3 POST=1200 TOOLS=keepalived,ha-beat SOAK=0 EXPLAIN=0
PRE=300			# ms of steady probing before the failure
PROBE_RT=${PROBE_RT:-20}
VIP=192.0.2.100 PORT=8080

die() { echo "failover.sh: fatal: $*" >&2; exit "${2:-111}"; }
usage() {
	echo "usage: failover.sh [-r runs] [-i interval_ms] [-f fast_ms] [-d dead] [-w post_ms] [-T tools] [-S soak_seconds] [-x]" >&2
	exit 100
}
num() { [[ $1 =~ ^[0-9]+$ ]] || usage; }
while getopts "d:f:i:r:S:T:w:x" o; do
	case $o in
	d) num "$OPTARG"; DEAD=$OPTARG ;;
	f) num "$OPTARG"; FAST=$OPTARG ;;
	i) num "$OPTARG"; INTERVAL=$OPTARG ;;
	r) num "$OPTARG"; RUNS=$OPTARG ;;
	S) num "$OPTARG"; SOAK=$OPTARG ;;
	T) TOOLS=$OPTARG ;;
	w) num "$OPTARG"; POST=$OPTARG ;;
	x) EXPLAIN=1 ;;
	*) usage ;;
	esac
done
((RUNS >= 1 && INTERVAL >= 1 && DEAD >= 1 && POST >= 100)) || usage
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)" 100

# Reuse the test harness's topology helpers outside bats.
bats_require_minimum_version() { :; }
# shellcheck disable=SC2034 # these three are read by common.bash
BATS_TEST_DIRNAME=$top/test
work=$(mktemp -d /tmp/failover.XXXXXX) || die "mktemp failed"
: >"$work/pids"
BATS_TEST_TMPDIR=$work
NONSTOP_TOP=$top
# shellcheck source-path=SCRIPTDIR source=../lib/common.bash
. "$top/test/lib/common.bash"
NS_P=fo$(printf '%x' "$$" | tail -c 5)

# Every process we start is listed in $work/pids (daemons are started in
# command substitutions, so a shell array would not see them).
cleanup() {
	local p
	while read -r p; do kill -9 -- "-$p" "$p" 2>/dev/null; done <"$work/pids"
	topo_teardown
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cc -std=c11 -D_GNU_SOURCE -O2 -o "$work/connprobe" "$here/connprobe.c" ||
	die "unable to build connprobe"
PROBE=$work/connprobe
RT=()
if ((PROBE_RT > 0)) && command -v chrt >/dev/null; then
	RT=(chrt -f "$PROBE_RT")
fi

now_ms() { local s; s=$(date +%s%N); echo $((s / 1000000)); }
has_vip() { ip -n "$(ns "$1")" -br addr show dev eth0 | grep -q " $VIP/24"; }
vip_on_a_only() { has_vip 1 && ! has_vip 2; }
client_ok() { hx 3 "$PROBE" -1 -a "$VIP" -p "$PORT" -T 100; }
ready() { vip_on_a_only && client_ok; }

# --- the two daemons ------------------------------------------------------
# start_daemon TOOL NODE INTERVAL: pid (= its process group) on stdout.
ka_conf() {	# node(1|2) interval_ms
	local n=$1 peer=$((3 - $1)) prio=$(($1 == 1 ? 100 : 90))
	cat <<-CONF
	global_defs {
		router_id ka$n
		vrrp_version 3
		enable_script_security
	}
	vrrp_instance bench {
		state BACKUP
		interface eth0
		virtual_router_id 51
		priority $prio
		advert_int $(awk -v i="$2" 'BEGIN { printf "%.2f", i / 1000 }')
		unicast_src_ip 192.0.2.$n
		unicast_peer {
			192.0.2.$peer
		}
		virtual_ipaddress {
			$VIP/24 dev eth0
		}
	}
	CONF
}
hb_conf() {	# interval_ms
	cat <<-CONF
	group bench
	interface eth0
	port 7400
	interval $1
	dead $DEAD
	key $work/key
	node a 192.0.2.1 priority 100
	node b 192.0.2.2 priority 90
	vip $VIP/24
	preempt yes
	lease 2
	CONF
}
start_daemon() {
	local tool=$1 n=$2 iv=$3 name=$1-$2
	case $tool in
	keepalived)
		ka_conf "$n" "$iv" >"$work/$name.conf"
		rm -f "$work/$name.pid" "$work/$name-vrrp.pid"
		setsid ip netns exec "$(ns "$n")" "$KEEPALIVED" -n -l -D -G -P \
			-f "$work/$name.conf" -p "$work/$name.pid" \
			-r "$work/$name-vrrp.pid" >"$work/$name.log" 2>&1 </dev/null &
		;;
	ha-beat)
		hb_conf "$iv" >"$work/$name.conf"
		mkdir -p "$work/$name.state"
		setsid ip netns exec "$(ns "$n")" "$HA_BEAT" -f "$work/$name.conf" \
			-N "$([ "$n" = 1 ] && echo a || echo b)" \
			-s "$work/$name.state" >"$work/$name.log" 2>&1 </dev/null &
		;;
	esac
	echo $! >>"$work/pids"
	disown $!
	echo $!
}
# The backup has seen the master and settled into the backup state.
is_backup() {
	case $1 in
	keepalived) grep -q "Entering BACKUP STATE" "$work/$1-2.log" ;;
	ha-beat) grep -q "to=backup" "$work/$1-2.log" ;;
	esac
}
stop_group() {	# pid: TERM the group, then KILL after 3 s
	local p=$1 t
	kill -TERM -- "-$p" 2>/dev/null
	for ((t = 0; t < 300; t++)); do
		kill -0 "$p" 2>/dev/null || return 0
		sleep 0.01
	done
	kill -9 -- "-$p" 2>/dev/null
	sleep 0.05
}

# run_one TOOL INTERVAL SCENARIO [capture]: print the outage in ms, or
# "fail:why". With capture, the switch's traffic goes to $work/cap.pcap and
# the wall-clock time of the failure to $work/trigger.
run_one() {
	local tool=$1 iv=$2 sc=$3 cap=${4:-} pa pb probe out gap rec tcpd
	pa=$(start_daemon "$tool" 1 "$iv")
	if ! wait_until 10000 ready; then
		stop_group "$pa"; reset_nodes
		echo "fail:a never became master with the VIP"; return
	fi
	pb=$(start_daemon "$tool" 2 "$iv")
	if ! wait_until 10000 is_backup "$tool"; then
		stop_group "$pa"; stop_group "$pb"; reset_nodes
		echo "fail:b never reached the backup state"; return
	fi
	sleep 0.3
	if ! vip_on_a_only; then
		stop_group "$pa"; stop_group "$pb"; reset_nodes
		echo "fail:VIP not on a alone once b started"; return
	fi
	if [ -n "$cap" ]; then
		rm -f "$work/cap.pcap" "$work/cap.err"
		ip netns exec "${NS_P}sw" timeout 30 tcpdump -i br0 -n -s 128 -B 16384 \
			-w "$work/cap.pcap" >/dev/null 2>"$work/cap.err" &
		tcpd=$!
		wait_until 5000 grep -q "listening on" "$work/cap.err"
	fi
	hx 3 timeout 30 "${RT[@]}" "$PROBE" -a "$VIP" -p "$PORT" -d $((PRE + POST)) >"$work/probe.out" &
	probe=$!
	sleep "$(awk -v m="$PRE" 'BEGIN { print m / 1000 }')"
	case $sc in
	crash)
		link_cut 1
		# The cut is the failure: time it once ip(8) has done it.
		[ -n "$cap" ] && date +%s.%N >"$work/trigger"
		kill -9 -- "-$pa" 2>/dev/null ;;
	clean)
		[ -n "$cap" ] && date +%s.%N >"$work/trigger"
		kill -TERM "$pa" 2>/dev/null ;;
	esac
	wait "$probe"
	if [ -n "$cap" ]; then
		kill -INT "$tcpd" 2>/dev/null
		wait "$tcpd" 2>/dev/null
	fi
	stop_group "$pa"; stop_group "$pb"
	reset_nodes
	out=$(cat "$work/probe.out")
	gap=$(sed -n 's/.* maxgap_ms=\([0-9.]*\) .*/\1/p' <<<"$out")
	rec=$(sed -n 's/.* recovered=\([01]\) .*/\1/p' <<<"$out")
	if [ -z "$gap" ]; then
		echo "fail:no probe result"
	elif [ "$rec" != 1 ]; then
		echo "fail:no takeover within ${POST} ms"
	else
		echo "$gap"
	fi
}
# Back to a clean slate: link up, no VIP anywhere, client forgets the MAC.
reset_nodes() {
	local n
	link_mend 1
	for n in 1 2; do
		ip -n "$(ns $n)" addr del "$VIP/24" dev eth0 2>/dev/null
	done
	ip -n "$(ns 3)" neigh flush dev eth0 2>/dev/null
	wait_until 3000 carrier_a
}
carrier_a() { [ "$(ip netns exec "$(ns 1)" cat /sys/class/net/eth0/carrier 2>/dev/null)" = 1 ]; }

# stats FILE: "ok min median max" over the numeric lines of FILE.
stats() {
	sort -n "$1" | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "0 - - -"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%d %.1f %.1f %.1f\n", NR, v[1], m, v[NR] }'
}

# --- main -----------------------------------------------------------------
topo_lan 3 || die "unable to build the namespaces"
head -c 32 /dev/urandom >"$work/key" && chmod 600 "$work/key"
for n in 1 2; do
	ip netns exec "$(ns "$n")" "$PROBE" -l -p "$PORT" </dev/null >/dev/null 2>&1 &
	echo $! >>"$work/pids"
	disown $!
done

configs=()	# "tool interval"
IFS=, read -ra want <<<"$TOOLS"
for t in "${want[@]}"; do
	case $t in
	keepalived)
		if ! command -v "$KEEPALIVED" >/dev/null; then
			echo "keepalived: not installed, skipped"
		elif ((INTERVAL < 10)); then
			echo "keepalived: advert_int below 10 ms is not possible, skipped"
		else
			configs+=("keepalived $INTERVAL")
		fi ;;
	ha-beat)
		if [ ! -x "$HA_BEAT" ]; then
			echo "ha-beat: not built, skipped"
		else
			configs+=("ha-beat $INTERVAL")
			((FAST > 0 && FAST != INTERVAL)) && configs+=("ha-beat $FAST")
		fi ;;
	*) die "unknown tool: $t" 100 ;;
	esac
done
[ ${#configs[@]} -gt 0 ] || die "nothing to measure" 100

echo "# failover benchmark: $RUNS runs per case, probe every 1 ms${RT[*]:+ (${RT[*]})}, dead=$DEAD, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), $(uname -r)"
[ -x "$HA_BEAT" ] && echo "# ha-beat: $("$HA_BEAT" -V 2>&1 | head -n 1)"
echo "# keepalived: $("$KEEPALIVED" -v 2>&1 | head -n 1)"
# Baseline: no daemon, the VIP fixed on a; any gap is noise.
: >"$work/gaps"
for ((r = 1; r <= RUNS; r++)); do
	ip -n "$(ns 1)" addr add "$VIP/24" dev eth0
	wait_until 3000 client_ok
	hx 3 timeout 30 "${RT[@]}" "$PROBE" -a "$VIP" -p "$PORT" -d $((PRE + POST)) >"$work/probe.out"
	reset_nodes
	gap=$(sed -n 's/.* maxgap_ms=\([0-9.]*\) .*/\1/p' "$work/probe.out")
	echo "run tool=none scenario=baseline run=$r outage_ms=${gap:-fail}"
	[ -n "$gap" ] && echo "$gap" >>"$work/gaps"
done
read -r ok mn md mx < <(stats "$work/gaps")
echo "bench=failover tool=none scenario=baseline runs=$RUNS ok=$ok min=$mn median=$md max=$mx"
base=$md

declare -A med
for sc in crash clean; do
	for c in "${configs[@]}"; do
		read -r tool iv <<<"$c"
		: >"$work/gaps"
		for ((r = 1; r <= RUNS; r++)); do
			res=$(run_one "$tool" "$iv" "$sc")
			echo "run tool=$tool interval=$iv scenario=$sc run=$r outage_ms=$res"
			[[ $res == fail:* ]] || echo "$res" >>"$work/gaps"
			if [[ $res == fail:* ]] && [ "$tool" = ha-beat ]; then
				tail -n 5 "$work/$tool-1.log" "$work/$tool-2.log" | sed 's/^/#   /'
			fi
		done
		read -r ok mn md mx < <(stats "$work/gaps")
		echo "bench=failover tool=$tool interval=$iv scenario=$sc runs=$RUNS ok=$ok min=$mn median=$md max=$mx"
		med[$tool.$iv.$sc]=$md
	done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }
echo
printf '%-7s %16s %16s %8s' scenario "keepalived@$INTERVAL" "ha-beat@$INTERVAL" ratio
((FAST > 0 && FAST != INTERVAL)) && printf ' %16s %8s' "ha-beat@$FAST" "vs ka"
echo
for sc in crash clean; do
	k=${med[keepalived.$INTERVAL.$sc]:--} h=${med[ha-beat.$INTERVAL.$sc]:--}
	printf '%-7s %13s ms %13s ms %8s' "$sc" "$k" "$h" "$(ratio "$h" "$k")"
	if ((FAST > 0 && FAST != INTERVAL)); then
		f=${med[ha-beat.$FAST.$sc]:--}
		printf ' %13s ms %8s' "$f" "$(ratio "$f" "$k")"
	fi
	echo
done
echo "(medians of the client-visible outage; ratio = ha-beat / keepalived, lower is better;"
echo " noise floor: longest gap with no failover, median $base ms)"

# --- explain: one captured run per case, as a timeline ---------------------
# Times in ms from the failure (link cut / SIGTERM): a's last heartbeat,
# a's last SYN-ACK to the client, b's first gratuitous ARP for the VIP,
# b's first SYN-ACK; takeover = b's first GARP - a's last heartbeat (the
# detection plus the address change); outage = b's first SYN-ACK - a's
# last SYN-ACK, as the client saw it.
timeline() {	# tool interval scenario
	tcpdump -r "$work/cap.pcap" -tt -n -e 2>/dev/null | awk -v t0="$(cat "$work/trigger")" \
	    -v vip="$VIP" -v tool="$1" -v iv="$2" -v sc="$3" '
	function ms(t) { return sprintf("%.1f", (t - t0) * 1000) }
	$2 == "02:00:00:00:00:01" && (/VRRP/ || /\.7400 > /) && $1 < t0 + 1 { ahb = $1 }
	$2 == "02:00:00:00:00:01" && index($0, vip ".8080 > ") && /Flags \[S\.\]/ { asa = $1 }
	$2 == "02:00:00:00:00:02" && /ARP/ && index($0, vip) && bgarp == "" && $1 > t0 - 0.05 { bgarp = $1 }
	$2 == "02:00:00:00:00:02" && index($0, vip ".8080 > ") && /Flags \[S\.\]/ && bsa == "" { bsa = $1 }
	END {
		printf "explain tool=%s interval=%s scenario=%s a_last_heartbeat=%s a_last_synack=%s b_first_garp=%s b_first_synack=%s takeover=%s outage=%s\n",
		    tool, iv, sc, ahb ? ms(ahb) : "-", asa ? ms(asa) : "-",
		    bgarp ? ms(bgarp) : "-", bsa ? ms(bsa) : "-",
		    (ahb && bgarp) ? sprintf("%.1f", (bgarp - ahb) * 1000) : "-",
		    (asa && bsa) ? sprintf("%.1f", (bsa - asa) * 1000) : "-"
	}'
}
if ((EXPLAIN)); then
	if ! command -v tcpdump >/dev/null; then
		echo "explain: tcpdump not installed, skipped"
	else
		echo
		echo "# timelines, ms from the failure (one captured run each)"
		for sc in crash clean; do
			for c in "${configs[@]}"; do
				read -r tool iv <<<"$c"
				res=$(run_one "$tool" "$iv" "$sc" capture)
				if [[ $res == fail:* ]] || [ ! -s "$work/cap.pcap" ]; then
					echo "explain tool=$tool interval=$iv scenario=$sc $res"
				else
					timeline "$tool" "$iv" "$sc"
				fi
			done
		done
	fi
fi

# --- soak: no false failover with the other core busy ----------------------
# masters TOOL: how many times node b became master (false failovers).
masters() {
	case $1 in
	keepalived) grep -c "Entering MASTER STATE" "$work/$1-2.log" ;;
	ha-beat) grep -c "to=master" "$work/$1-2.log" ;;
	esac
}
soak() {	# tool interval
	local tool=$1 iv=$2 pa pb busy n
	pa=$(start_daemon "$tool" 1 "$iv")
	wait_until 10000 ready || { echo "soak tool=$tool: a never became master"; stop_group "$pa"; reset_nodes; return; }
	pb=$(start_daemon "$tool" 2 "$iv")
	wait_until 10000 is_backup "$tool" || { echo "soak tool=$tool: b never reached backup"; stop_group "$pa"; stop_group "$pb"; reset_nodes; return; }
	sleep 0.5
	n=$(masters "$tool")
	timeout "$SOAK" bash -c 'while :; do :; done' &
	busy=$!
	echo $busy >>"$work/pids"
	sleep "$SOAK"
	wait "$busy" 2>/dev/null
	echo "bench=soak tool=$tool interval=$iv seconds=$SOAK busy_cores=1 false_failovers=$(($(masters "$tool") - n)) vip_on_a=$(has_vip 1 && echo yes || echo no) vip_on_b=$(has_vip 2 && echo yes || echo no)"
	stop_group "$pa"; stop_group "$pb"
	reset_nodes
}
if ((SOAK > 0)); then
	for c in "${configs[@]}"; do
		read -r tool iv <<<"$c"
		# ha-beat soaks at its fast setting only (the one claimed safe).
		[ "$tool" = ha-beat ] && ((FAST > 0 && iv != FAST)) && continue
		soak "$tool" "$iv"
	done
fi
