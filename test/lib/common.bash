# Shared bats helpers: binaries under test, network-namespace topologies
# with per-run names that are always torn down, background daemons, and
# bounded waits. Load with: load lib/common  (or ../lib/common)

bats_require_minimum_version 1.5.0

NONSTOP_TOP=${NONSTOP_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${NONSTOP_BIN:-$NONSTOP_TOP/build/bin}
# Binaries under test; override to wrap them (valgrind) or test installed ones.
GARP_SEND=${GARP_SEND:-$BIN/garp-send}
HA_BEAT=${HA_BEAT:-$BIN/ha-beat}

need_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces)"
	ip netns list >/dev/null 2>&1 || skip "network namespaces unavailable"
}

# --- topology -------------------------------------------------------------
# topo_lan N: a switch namespace with bridge br0 and hosts 1..N, each a
# namespace with eth0 on the bridge, 192.0.2.<i>/24 and 2001:db8::<i>/64.
# Nothing is created in the caller's namespace. Names start with $NS_P,
# unique per test run; topo_teardown removes them all.
topo_lan() {
	local n=$1 i
	# test/run sets NS_RUN_PREFIX and sweeps what a killed file left behind.
	NS_P=${NS_P:-${NS_RUN_PREFIX:-nst}$(printf '%x%x' "$BASHPID" "$RANDOM" | tail -c 6)}
	export NS_P NS_N=$n
	ip netns add "${NS_P}sw" || return 1
	ip -n "${NS_P}sw" link set lo up
	ip -n "${NS_P}sw" link add br0 type bridge forward_delay 0 stp_state 0
	ip -n "${NS_P}sw" link set br0 up
	for ((i = 1; i <= n; i++)); do
		ip netns add "${NS_P}h$i" || return 1
		ip -n "${NS_P}h$i" link set lo up
		ip -n "${NS_P}sw" link add "p$i" type veth peer name eth0 netns "${NS_P}h$i"
		ip -n "${NS_P}sw" link set "p$i" master br0 up
		ip netns exec "${NS_P}h$i" sysctl -qw net.ipv6.conf.eth0.accept_dad=0
		ip -n "${NS_P}h$i" link set eth0 address "02:00:00:00:00:0$i" 2>/dev/null ||
			ip -n "${NS_P}h$i" link set eth0 address "02:00:00:00:00:$(printf %02x "$i")"
		ip -n "${NS_P}h$i" addr add "192.0.2.$i/24" dev eth0
		ip -n "${NS_P}h$i" addr add "2001:db8::$i/64" dev eth0 nodad
		ip -n "${NS_P}h$i" link set eth0 up
	done
}

# Kill everything running in our namespaces, then delete them.
topo_teardown() {
	[ -n "${NS_P:-}" ] || return 0
	local ns pid
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${NS_P}"); do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -9 "$pid" 2>/dev/null
		done
	done
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${NS_P}"); do
		ip netns del "$ns" 2>/dev/null
	done
	return 0
}

ns() { echo "${NS_P}h$1"; }
# hx I CMD...: run CMD in host I's namespace.
hx() { local h=$1; shift; ip netns exec "${NS_P}h$h" "$@"; }
# Cut host I's cable at the switch (its eth0 loses carrier) / mend it.
link_cut() { ip -n "${NS_P}sw" link set "p$1" down; }
link_mend() { ip -n "${NS_P}sw" link set "p$1" up; }
# Drop host I's traffic at the switch while both ends keep carrier.
link_blackhole() {
	ip netns exec "${NS_P}sw" nft add table bridge nsblk 2>/dev/null
	ip netns exec "${NS_P}sw" nft add chain bridge nsblk blk '{ type filter hook forward priority 0; }' 2>/dev/null
	ip netns exec "${NS_P}sw" nft add rule bridge nsblk blk iifname "p$1" drop
	ip netns exec "${NS_P}sw" nft add rule bridge nsblk blk oifname "p$1" drop
}
link_unblackhole() { ip netns exec "${NS_P}sw" nft delete table bridge nsblk 2>/dev/null; true; }

# --- background processes -------------------------------------------------
# bg NAME HOST CMD...: start CMD in host HOST's namespace (HOST 0: here),
# stdout to $BATS_TEST_TMPDIR/NAME.out, stderr to NAME.err, pid in NAME.pid.
bg() {
	local name=$1 h=$2; shift 2
	local d=$BATS_TEST_TMPDIR
	if [ "$h" = 0 ]; then
		"$@" >"$d/$name.out" 2>"$d/$name.err" 3>&- &
	else
		ip netns exec "${NS_P}h$h" "$@" >"$d/$name.out" 2>"$d/$name.err" 3>&- &
	fi
	echo $! >"$d/$name.pid"
	disown $!	# no "Killed" job notices when teardown kills it
}
bg_pid() { cat "$BATS_TEST_TMPDIR/$1.pid"; }
# bg_stop NAME [SIGNAL]: signal it and wait (at most 5 s) for it to end.
bg_stop() {
	local pid; pid=$(bg_pid "$1")
	kill -"${2:-TERM}" "$pid" 2>/dev/null || return 0
	wait_until 5000 not_running "$pid"
}
not_running() { ! kill -0 "$1" 2>/dev/null; }
bg_out() { cat "$BATS_TEST_TMPDIR/$1.out"; }
bg_err() { cat "$BATS_TEST_TMPDIR/$1.err"; }

# wait_until MS CMD...: poll CMD every 10 ms until it succeeds; fail after
# MS ms of time (the monotonic clock of /proc/uptime, in 10 ms steps), or
# after MS/10 tries if that comes first. A count alone stretches on a
# loaded host, where a try and its sleep take longer than 10 ms (a 1 s
# wait took 2.4 s at a load of 7 on 2 cores).
wait_until() {
	local ms=$1 t=0 now end; shift
	read -r now _ </proc/uptime
	end=$((10#${now/./} + ms / 10))
	while ! "$@" >/dev/null 2>&1; do
		((t += 10))
		read -r now _ </proc/uptime
		((t > ms || 10#${now/./} > end)) && return 1
		sleep 0.01
	done
}

# Key file for authenticated tools, mode 600.
make_key() {
	local f=${1:-$BATS_TEST_TMPDIR/key}
	head -c 32 /dev/urandom >"$f" && chmod 600 "$f"
	echo "$f"
}
