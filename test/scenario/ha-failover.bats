#!/usr/bin/env bats
# ha-beat groups in network namespaces: election, failover, failback,
# no-preempt, clean stop, leases, partitions, witness, forged and replayed
# heartbeats. Hosts 1..3 run ha-beat; host 4 is a client or the witness.

load ../lib/common
load ../lib/hb

setup() {
	need_root
	T=$BATS_TEST_TMPDIR
	topo_lan 4
}

teardown() {
	topo_teardown
}

@test "three nodes elect the highest priority, which alone holds the IPv4 and IPv6 VIPs" {
	hb_conf 3
	hb_start 1; hb_start 2; hb_start 3
	wait_until 3000 hb_is 1 master
	wait_until 3000 hb_is 2 backup
	wait_until 3000 hb_is 3 backup
	sole_holder 3 1
	has_vip6 1
	grep -q '^event=transition group=web node=a from=[a-z]* to=master reason=elected master=a ' "$T/hb1.out"
	! grep -q 'to=master' "$T/hb2.out" "$T/hb3.out"
	# The client reaches the VIP at the master's MAC.
	hx 4 ip neigh flush dev eth0
	hx 4 bash -c 'exec 3<>/dev/tcp/192.0.2.100/9 || true' 2>/dev/null || true
	wait_until 2000 bash -c "ip netns exec $(ns 4) ip neigh show 192.0.2.100 | grep -q 02:00:00:00:00:01"
}

@test "master crash (link cut and SIGKILL): the next node takes over and announces, the old master takes back" {
	hb_conf 3
	hb_start 1; hb_start 2; hb_start 3
	wait_until 3000 hb_is 1 master
	hx 4 ip neigh replace 192.0.2.100 lladdr 02:00:00:00:00:01 dev eth0 nud stale
	link_cut 1
	bg_stop hb1 KILL
	wait_until 2000 hb_is 2 master
	has_vip 2
	grep -q 'from=backup to=master reason=elected' "$T/hb2.out"
	# The gratuitous ARP moved the client's entry to node b.
	wait_until 2000 bash -c "ip netns exec $(ns 4) ip neigh show 192.0.2.100 | grep -q 02:00:00:00:00:02"
	hb_is 3 backup
	# a returns (preempt is the default) and takes back; b lets go.
	link_mend 1
	hb_start 1
	wait_until 3000 hb_is 1 master
	wait_until 3000 hb_is 2 backup
	wait_until 2000 sole_holder 3 1
}

@test "no-preempt: a returning higher-priority node stays backup" {
	hb_conf 3 "preempt no"
	hb_start 1; hb_start 2; hb_start 3
	wait_until 3000 hb_is 1 master
	bg_stop hb1 KILL
	hx 1 ip addr flush dev eth0 scope global
	hx 1 ip addr add 192.0.2.1/24 dev eth0
	wait_until 3000 hb_is 2 master
	hb_start 1
	wait_until 3000 hb_is 1 backup
	sleep 0.3
	hb_is 1 backup
	hb_is 2 master
	sole_holder 3 2
}

@test "clean stop: the master resigns and a backup takes over at once" {
	hb_conf 3
	hb_start 1; hb_start 2; hb_start 3
	wait_until 3000 hb_is 1 master
	wait_until 3000 hb_is 2 backup
	bg_stop hb1 TERM
	hb_is 1 stop
	! has_vip 1
	! has_vip6 1
	grep -q 'from=master to=stop reason=signal signal=TERM' "$T/hb1.out"
	wait_until 1000 hb_is 2 master
	grep -q 'a resigned' "$T/hb2.err"
	# Well before a dead-master timeout could have fired: the resign did it.
	t0=$(sed -n 's/.*to=stop.* time=\([0-9.]*\).*/\1/p' "$T/hb1.out")
	t1=$(sed -n 's/.*to=master.* time=\([0-9.]*\).*/\1/p' "$T/hb2.out")
	run awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 0.5) }'
	[ "$status" -eq 0 ]
	sole_holder 3 2
}

@test "kill -9 of ha-beat with the link up: the VIP expires with its lease, never two holders for longer" {
	HB_LEASE=1 hb_conf 3
	hb_start 1; hb_start 2; hb_start 3
	wait_until 3000 hb_is 1 master
	bg_stop hb1 KILL
	wait_until 2000 hb_is 2 master
	# Sample who holds the VIP every 20 ms: overlap bounded by the lease.
	local start=$(date +%s%N) both_ms=0 i
	for ((i = 0; i < 150; i++)); do
		if has_vip 1 && has_vip 2; then both_ms=$((($(date +%s%N) - start) / 1000000)); fi
		has_vip 1 || break
		sleep 0.02
	done
	! has_vip 1
	[ "$both_ms" -le 1500 ]
	sole_holder 3 2
	# The IPv6 address had the same lease.
	wait_until 1000 bash -c "! ip netns exec $(ns 1) ip -6 -o addr show dev eth0 | grep -q 2001:db8::100/"
	has_vip6 2
}

@test "heartbeat partition in a three-node group: only the majority side holds the VIP" {
	hb_conf 3
	hb_start 1; hb_start 2; hb_start 3
	wait_until 3000 hb_is 1 master
	link_blackhole 1
	wait_until 3000 hb_is 1 fault
	wait_until 3000 hb_is 2 master
	! has_vip 1
	has_vip 2
	grep -q 'to=fault reason=no-quorum' "$T/hb1.out"
	link_unblackhole
	wait_until 3000 hb_is 1 master
	wait_until 3000 sole_holder 3 1
}

@test "two nodes with a witness: the isolated master goes to fault, the other takes over" {
	hb_conf 2 "witness 192.0.2.4 20"
	hb_start 1; hb_start 2
	wait_until 3000 hb_is 1 master
	wait_until 3000 hb_is 2 backup
	link_blackhole 1
	wait_until 3000 hb_is 1 fault
	wait_until 3000 hb_is 2 master
	grep -q 'to=fault reason=witness-lost' "$T/hb1.out"
	! has_vip 1
	has_vip 2
}

@test "two nodes without a witness keep the old behaviour: both sides of a cut become master" {
	hb_conf 2
	hb_start 1; hb_start 2
	wait_until 3000 hb_is 1 master
	link_blackhole 1
	wait_until 3000 hb_is 2 master
	hb_is 1 master
}

@test "link down on the master: fault at once, the VIP moves" {
	hb_conf 3
	hb_start 1; hb_start 2; hb_start 3
	wait_until 3000 hb_is 1 master
	link_cut 1
	wait_until 2000 hb_is 1 fault
	grep -q 'to=fault reason=link-down' "$T/hb1.out"
	wait_until 2000 hb_is 2 master
	! has_vip 1
}

@test "a second heartbeat path keeps the group whole when the first one fails" {
	# Path 2 on a second subnet over the same bridge.
	for i in 1 2; do hx $i ip addr add 198.51.100.$i/24 dev eth0; done
	make_key "$T/key" >/dev/null
	cat >"$T/hb.conf" <<-EOF
	group web
	interface eth0
	interval 10
	dead 3
	key $T/key
	node a 192.0.2.1 198.51.100.1 priority 100
	node b 192.0.2.2 198.51.100.2 priority 90
	vip 192.0.2.100/24
	EOF
	hb_start 1; hb_start 2
	wait_until 3000 hb_is 1 master
	wait_until 3000 hb_is 2 backup
	# Drop the first path only: b still hears a on the second.
	hx 2 nft add table ip hbt
	hx 2 nft add chain ip hbt in '{ type filter hook input priority 0; }'
	hx 2 nft add rule ip hbt in ip saddr 192.0.2.1 udp dport 7400 drop
	sleep 0.5
	hb_is 2 backup
	hb_is 1 master
	! grep -q 'to=master' "$T/hb2.out"
}

@test "forged heartbeats are rejected and counted; the group is undisturbed" {
	hb_conf 3
	hb_start 1; hb_start 2; hb_start 3
	wait_until 3000 hb_is 1 master
	# From the client: claims to be node a with the top priority, wrong MAC.
	hx 4 python3 "$NONSTOP_TOP/test/lib/hbtool.py" forge 192.0.2.2 7400 50
	run hb_stats 2
	[[ "$output" == *"rejected_bad-mac=50 "* ]]
	hb_is 1 master
	hb_is 2 backup
	grep -q 'rejected heartbeat from 192.0.2.4: bad-mac' "$T/hb2.err"
}

@test "replayed heartbeats are rejected and counted" {
	hb_conf 3
	hb_start 1; hb_start 2; hb_start 3
	wait_until 3000 hb_is 1 master
	# Capture a real a->b heartbeat at the switch, send it again down b's port.
	ip netns exec "${NS_P}sw" python3 "$NONSTOP_TOP/test/lib/hbtool.py" capture p1 7400 192.0.2.1 192.0.2.2 "$T/frame"
	for i in 1 2 3; do
		ip netns exec "${NS_P}sw" python3 "$NONSTOP_TOP/test/lib/hbtool.py" inject p2 "$T/frame"
	done
	run hb_stats 2
	[[ "$output" == *"rejected_replay="[1-9]* ]]
	hb_is 1 master
}

@test "hooks run as argv with HA_ variables on every transition, never through a shell" {
	cat >"$T/hook" <<-'EOF'
	#!/bin/sh
	printf '%s|%s|%s|%s|%s|%s|%s\n' "$HA_STATE" "$HA_PREV_STATE" "$HA_NODE" "$HA_GROUP" "$HA_VIPS" "$1" "$2" >>"$HOOKLOG"
	EOF
	chmod +x "$T/hook"
	hb_conf 2 'hook master '"$T"'/hook m ";touch '"$T"'/pwned"' "hook backup $T/hook b x" "hook stop $T/hook s x"
	export HOOKLOG=$T/hooks.log
	hb_start 1; hb_start 2
	wait_until 3000 hb_is 1 master
	wait_until 2000 grep -q '^master|backup|a|web|192.0.2.100/24 2001:db8::100/64|m|;touch' "$HOOKLOG"
	grep -q '^backup|init|a|web|' "$HOOKLOG"
	grep -q '^backup|init|b|web|' "$HOOKLOG"
	bg_stop hb1 TERM
	grep -q '^stop|master|a|web|.*|s|x$' "$HOOKLOG"
	[ ! -e "$T/pwned" ]
}

@test "5 ms heartbeats: a killed master is replaced" {
	HB_INTERVAL=5 hb_conf 3
	hb_start 1; hb_start 2; hb_start 3
	wait_until 3000 hb_is 1 master
	wait_until 3000 hb_is 2 backup
	link_cut 1
	bg_stop hb1 KILL
	wait_until 2000 hb_is 2 master
	hb_is 3 backup
}

@test "a stale VIP left by a crashed run is removed at start" {
	hb_conf 2
	hx 2 ip addr add 192.0.2.100/24 dev eth0
	hb_start 1; hb_start 2
	wait_until 3000 hb_is 1 master
	wait_until 3000 hb_is 2 backup
	sole_holder 2 1
}

@test "a failing health check puts the master in fault; the next node takes over, and back when it passes" {
	cat >"$T/check" <<-EOF
	#!/bin/sh
	[ ! -e "$T/broken-\$HA_NODE" ]
	EOF
	chmod +x "$T/check"
	hb_conf 3 "check every 50 fall 2 rise 2 $T/check"
	hb_start 1; hb_start 2; hb_start 3
	wait_until 3000 hb_is 1 master
	touch "$T/broken-a"
	wait_until 3000 hb_is 1 fault
	grep -q "to=fault reason=check-failed check=$T/check" "$T/hb1.out"
	wait_until 3000 hb_is 2 master
	wait_until 2000 sole_holder 3 2
	rm "$T/broken-a"
	wait_until 3000 hb_is 1 master
	wait_until 2000 sole_holder 3 1
}

@test "a check that hangs counts as failed" {
	printf '#!/bin/sh\nexec sleep 10\n' >"$T/hang"
	chmod +x "$T/hang"
	hb_conf 2 "check every 50 fall 2 rise 1 $T/hang"
	hb_start 1
	wait_until 3000 hb_is 1 fault
	grep -q 'reason=check-failed' "$T/hb1.out"
}

@test "a check slower than its interval passes within its timeout, and fails past it" {
	# Each run takes 0.3 s, six intervals: the next run waits for it.
	printf '#!/bin/sh\necho run >>"%s"\nexec sleep 0.3\n' "$T/runs" >"$T/slow"
	chmod +x "$T/slow"
	hb_conf 2 "check every 50 timeout 2000 fall 2 rise 1 $T/slow"
	hb_start 1
	wait_until 3000 hb_is 1 master
	sleep 1.5
	hb_is 1 master
	! grep -q 'reason=check-failed' "$T/hb1.out"
	# No run overlapped another: at most one per 0.3 s.
	[ "$(wc -l <"$T/runs")" -le 8 ]
	bg_stop hb1
	hb_conf 2 "check every 50 timeout 100 fall 2 rise 1 $T/slow"
	hb_start 1
	wait_until 3000 hb_is 1 fault
	grep -q 'reason=check-failed' "$T/hb1.out"
}

@test "hooks of successive transitions run in order, never two transitions' hooks at once" {
	# A slow hook that logs its start and end.
	cat >"$T/slow" <<-'EOF'
	#!/bin/sh
	echo "start $HA_STATE" >>"$HOOKLOG"
	sleep 0.3
	echo "end $HA_STATE" >>"$HOOKLOG"
	EOF
	chmod +x "$T/slow"
	hb_conf 2 "hook master $T/slow" "hook backup $T/slow" "hook fault $T/slow"
	export HOOKLOG=$T/hooks.log
	hb_start 1
	wait_until 3000 hb_is 1 master
	# master -> fault -> master within the slow hooks' time.
	link_cut 1
	wait_until 2000 hb_is 1 fault
	link_mend 1
	wait_until 3000 hb_is 1 master
	sleep 1.5
	# Every start is followed by its own end before the next start.
	run awk '/^start/ { if (open) bad = 1; open = $2 } /^end/ { if ($2 != open) bad = 1; open = "" } END { exit bad }' "$HOOKLOG"
	[ "$status" -eq 0 ] || { cat "$HOOKLOG"; false; }
	# And the last hook that ran is the master's.
	[ "$(tail -n 1 "$HOOKLOG")" = "end master" ]
}

@test "hold: a starting node that hears nobody waits before it takes the role" {
	hb_conf 2 "hold 800"
	hb_start 1
	sleep 0.4
	hb_is 1 backup
	wait_until 3000 hb_is 1 master
	grep -q 'from=backup to=master reason=elected' "$T/hb1.out"
}

@test "quorum 1: the last node of a cascade serves alone" {
	hb_conf 3 "quorum 1"
	hb_start 1; hb_start 2; hb_start 3
	wait_until 3000 hb_is 1 master
	link_cut 1; bg_stop hb1 KILL
	wait_until 3000 hb_is 2 master
	link_cut 2; bg_stop hb2 KILL
	wait_until 3000 hb_is 3 master
	has_vip 3
}
