#!/usr/bin/env bash
# lb-takeover.sh: client-visible outage when the load balancer crashes and
# the backup server takes over the balancing (VIP + lc-role's nftables DR
# table), ha-beat + lb-watch against keepalived's VRRP running the same
# lb-watch hook, at the same interval. A benchmark, not a test.
#   usage: test/bench/lb-takeover.sh [runs] [interval_ms]   (root)
# Topology (namespaces, removed on exit): h1 client, h2 lb1, h3 bs1,
# h4-h6 real servers (DR, accept-and-close on port 80). The client opens a
# connection to the VIP every 1 ms (connprobe) and reports the longest gap;
# the crash cuts lb1's cable and SIGKILLs its daemon.
# Tools: keepalived, ha-beat (the hook sets up the table at takeover),
# ha-beat-armed (lb-watch -a: the backup holds the table idle, a takeover
# moves only the VIP). TOOLS=keepalived,ha-beat,ha-beat-armed@5 picks them
# (default: all three, keepalived when installed); TOOL@MS runs one at
# interval MS instead.
#   TOOLS=keepalived,ha-beat,ha-beat@5 test/bench/lb-takeover.sh 7 10
#   FAULT=flush test/bench/lb-takeover.sh 5 10
# hook_ms in a run line: from ha-beat's takeover to the end of the hook
# (lc-role apply done, files synced); the table is in place well before.
# Output: one line per run, then per tool
#   bench=lb-takeover tool=T interval=MS runs=N ok=N min=X median=X max=X
# and, when keepalived ran, each median against keepalived's best run
#   ratio tool=T median=X keepalived_best=X ratio=X
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
BIN=${NONSTOP_BIN:-$top/build/bin}
HA_BEAT=${HA_BEAT:-$BIN/ha-beat}
LB_WATCH=${LB_WATCH:-$BIN/lb-watch}
export LC_ROLE=${LC_ROLE:-$BIN/lc-role}
KEEPALIVED=${KEEPALIVED:-keepalived}
RUNS=${1:-5} IV=${2:-10} IV0=${2:-10}
# FAULT=flush: instead of the crash, lb1's table is deleted while it runs,
# its own check off (conf -S): lb-watch watch on bs1 (every WATCH_MS,
# default 50, fall 3) judges it and demotes it (ha-beat tools only).
FAULT=${FAULT:-crash} WATCH_MS=${WATCH_MS:-50}
# A short probe: on this shared machine a stall of the client itself can
# make the longest gap; at= in a run line says when (ms into the probe; the
# crash is at about PRE).
PRE=200 POST=600
[ "$FAULT" = flush ] && POST=2500

[ "$(id -u)" -eq 0 ] || { echo "lb-takeover.sh: fatal: needs root" >&2; exit 100; }
bats_require_minimum_version() { :; }
export BATS_TEST_DIRNAME=$top/test
# shellcheck source=../lib/common.bash
. "$top/test/lib/common.bash"
work=$(mktemp -d)
export BATS_TEST_TMPDIR=$work
# shellcheck disable=SC2154  # p is the traps' own loop variable
[ -n "${KEEP:-}" ] && echo "work: $work" && trap 'for p in $(cat "$work/pids" 2>/dev/null); do kill -9 -- "-$p" 2>/dev/null; done; topo_teardown' EXIT || trap 'for p in $(cat "$work/pids" 2>/dev/null); do kill -9 -- "-$p" 2>/dev/null; done; topo_teardown; rm -rf "$work"' EXIT
cc -std=c11 -D_GNU_SOURCE -O2 -o "$work/connprobe" "$here/connprobe.c" ||
	{ echo "lb-takeover.sh: fatal: unable to build connprobe" >&2; exit 111; }
P=$work/connprobe
head -c 32 /dev/urandom >"$work/key"; chmod 600 "$work/key"

role() {
	cat <<-EOR
	role=$1 host=$2 cluster=bench generation=1 version=1
	service=web vip=192.0.2.100 port=80 proto=tcp sched=rr fwd=dr
	lb=lb1 addr=192.0.2.2
	bs=bs1 addr=192.0.2.3 order=1
	rs=rs1 addr=192.0.2.4 weight=1
	rs=rs2 addr=192.0.2.5 weight=1
	rs=rs3 addr=192.0.2.6 weight=1
	EOR
}
role lb lb1 >"$work/lb1.role"
role bs bs1 >"$work/bs1.role"
role rs rs >"$work/rs.role"
topo_lan 6
for i in 4 5 6; do
	hx $i "$LC_ROLE" -q -s "$work/st$i" apply -f "$work/rs.role"
	setsid ip netns exec "$(ns $i)" "$P" -l -p 80 >/dev/null 2>&1 </dev/null &
	echo $! >>"$work/pids"
done

ka_conf() {	# host name prio
	cat <<-CONF
	global_defs {
		router_id $2
		vrrp_version 3
	}
	vrrp_instance bench {
		state BACKUP
		interface eth0
		virtual_router_id 52
		priority $3
		advert_int $(awk -v i="$IV" 'BEGIN { printf "%.2f", i / 1000 }')
		unicast_src_ip 192.0.2.$1
		unicast_peer {
			192.0.2.$((5 - $1))
		}
		virtual_ipaddress {
			192.0.2.100/32 dev eth0
		}
		notify_master "$LB_WATCH -q -d nft -e /dev/null -s $work/lw$1 -f $work/$2.role hook master"
		notify_backup "$LB_WATCH -q -d nft -e /dev/null -s $work/lw$1 -f $work/$2.role hook backup"
		notify_fault "$LB_WATCH -q -d nft -e /dev/null -s $work/lw$1 -f $work/$2.role hook fault"
	}
	CONF
}
start() {	# tool host name prio
	case $1 in
	keepalived)
		ka_conf "$2" "$3" "$4" >"$work/ka$2.conf"
		setsid ip netns exec "$(ns "$2")" "$KEEPALIVED" -n -l -D -G -P \
		    -f "$work/ka$2.conf" -p "$work/ka$2.pid" -r "$work/ka$2-vrrp.pid" \
		    >"$work/ka$2.log" 2>&1 </dev/null &
		;;
	ha-beat*)
		# shellcheck disable=SC2046
		"$LB_WATCH" $([ "$1" = ha-beat-armed ] && echo -a) $([ "$FAULT" = flush ] && echo -S) \
		    -d nft -e /dev/null -H "$work/hb$2" -i eth0 -k "$work/key" -t "$IV" -s "$work/lw$2" \
		    -f "$work/$3.role" conf >"$work/hb$2.conf"
		mkdir -p "$work/hb$2"
		if [ "$FAULT" = flush ]; then
			setsid ip netns exec "$(ns "$2")" "$LB_WATCH" -e /dev/null -H "$work/hb$2" \
			    -k "$work/key" -s "$work/lw$2" -T "$WATCH_MS" -w $((WATCH_MS / 2)) -F 3 \
			    -D 60000 -f "$work/$3.role" watch >"$work/watch$2.log" 2>&1 </dev/null &
			echo $! >>"$work/pids"
			echo $! >>"$work/wpids"
		fi
		setsid ip netns exec "$(ns "$2")" "$HA_BEAT" -s "$work/hb$2" \
		    -f "$work/hb$2.conf" >"$work/hb$2.log" 2>&1 </dev/null &
		;;
	esac
	echo $! >>"$work/pids"
	echo $!
}
has_vip() { hx "$1" ip -br addr show dev eth0 | grep -q '192\.0\.2\.100/'; }
ready() { has_vip 2 && ! has_vip 3 && hx 1 "$P" -1 -a 192.0.2.100 -p 80 -T 100 &&
	grep -q "^lb$" "$work/lw2/role" 2>/dev/null && ! grep -q "^lb$" "$work/lw3/role" 2>/dev/null; }

run_one() {	# tool: prints the outage in ms or fail:why
	local tool=$1 pa pb out gap
	pa=$(start "$tool" 2 lb1 100)
	wait_until 10000 has_vip 2
	pb=$(start "$tool" 3 bs1 90)
	if ! wait_until 15000 ready; then
		echo "fail:not-ready(vip2=$(has_vip 2 && echo y) vip3=$(has_vip 3 && echo y) role2=$(cat "$work/lw2/role" 2>/dev/null) role3=$(cat "$work/lw3/role" 2>/dev/null))"
	else
		sleep 0.3
		hx 1 "$P" -a 192.0.2.100 -p 80 -d $((PRE + POST)) >"$work/probe" &
		local probe=$!
		sleep "$(awk -v p=$PRE 'BEGIN { print p / 1000 }')"
		if [ "$FAULT" = flush ]; then
			hx 2 nft delete table netdev nonstop
		else
			link_cut 2
			kill -9 -- "-$pa" 2>/dev/null
		fi
		wait "$probe"
		out=$(cat "$work/probe")
		gap=$(sed -n 's/.*maxgap_ms=\([0-9.]*\).*recovered=1.*/\1/p' <<<"$out")
		# ha-beat's takeover to the end of the hook's lc-role apply.
		local t0 t1 hook=""
		t0=$(sed -n 's/.*node=bs1 from=[a-z]* to=master .*time=\([0-9.]*\).*/\1/p' "$work/hb3.log" 2>/dev/null | tail -n 1)
		t1=$(sed -n 's/^time=\([0-9.]*\) event=takeover .*/\1/p' "$work/lw3/events" 2>/dev/null | tail -n 1)
		[ -n "$t0" ] && [ -n "$t1" ] && hook=" hook_ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }')"
		echo "${gap:-fail:$out}$hook at=$(sed -n 's/.*gap_at_ms=\([0-9.]*\).*/\1/p' <<<"$out")"
	fi
	kill -9 -- "-$pa" "-$pb" 2>/dev/null
	for p in $(cat "$work/wpids" 2>/dev/null); do kill -9 -- "-$p" 2>/dev/null; done
	rm -f "$work/wpids"
	# keepalived's VRRP child, should it have left the group.
	for f in "$work"/ka?.pid "$work"/ka?-vrrp.pid; do
		[ -s "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
		rm -f "$f"
	done
	sleep 0.2
	link_mend 2
	for h in 2 3; do
		hx $h "$LC_ROLE" -q -s "$work/lw$h/lc-role" undo 2>/dev/null
		hx $h ip addr del 192.0.2.100/32 dev eth0 2>/dev/null
		rm -rf "$work/lw$h" "$work/hb$h"
	done
}

tools=(ha-beat ha-beat-armed)
command -v "$KEEPALIVED" >/dev/null && tools=(keepalived ha-beat ha-beat-armed)
[ "$FAULT" = flush ] && tools=(ha-beat ha-beat-armed)
[ -n "${TOOLS:-}" ] && read -ra tools <<<"${TOOLS//,/ }"
for tool in "${tools[@]}"; do
	: >"$work/res"
	IV=$IV0
	case $tool in *@*) IV=${tool#*@} ;; esac
	for ((r = 1; r <= RUNS; r++)); do
		g=$(run_one "${tool%@*}")
		echo "run tool=$tool interval=$IV n=$r outage_ms=$g"
		echo "${g%% *}" >>"$work/res"
	done
	grep -v fail "$work/res" | sort -n >"$work/ok"
	n=$(wc -l <"$work/ok")
	if [ "$n" -gt 0 ]; then
		med=$(sed -n "$((n / 2 + 1))p" "$work/ok")
		echo "$tool $med" >>"$work/medians"
		[ "$tool" = keepalived ] && head -n 1 "$work/ok" >"$work/ka_best"
		echo "bench=lb-takeover tool=$tool interval=$IV runs=$RUNS ok=$n min=$(head -n 1 "$work/ok") median=$med max=$(tail -n 1 "$work/ok")"
	else
		echo "bench=lb-takeover tool=$tool interval=$IV runs=$RUNS ok=0"
	fi
done
if [ -s "$work/ka_best" ]; then
	best=$(cat "$work/ka_best")
	while read -r tool med; do
		echo "ratio tool=$tool median=$med keepalived_best=$best ratio=$(awk -v m="$med" -v b="$best" 'BEGIN { printf "%.2f", m / b }')"
	done <"$work/medians"
fi
