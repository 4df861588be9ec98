#!/usr/bin/env bats
# garp-send: peers' neighbour entries follow the announcements (IPv4 request
# and reply forms, IPv6 unsolicited NA), bad input exits 100, packets are
# well formed on the wire. Host 3 announces addresses; host 2 is the peer.

load lib/common

MAC1=02:00:00:00:00:01
MAC3=02:00:00:00:00:03

setup() {
	need_root
	[ -x "${GARP_SEND%% *}" ] || skip "garp-send not built ($GARP_SEND)"
	topo_lan 3
}

teardown() {
	topo_teardown
}

# neigh_mac H ADDR: the link-layer address host H holds for ADDR (empty if none).
neigh_mac() {
	hx "$1" ip neigh show "$2" dev eth0 |
		awk '{ for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1) }'
}
neigh_is() { [ "$(neigh_mac "$1" "$2")" = "$3" ]; }

# prime H ADDR: give host H a real neighbour entry for ADDR by talking to it
# (a connect to a closed port resolves the address, then is refused).
prime() {
	hx "$1" timeout 3 bash -c "exec 3<>/dev/tcp/${2}/9" 2>/dev/null || true
	wait_until 3000 neigh_is "$1" "$2" "$MAC1"
}

@test "IPv4: a peer's existing entry moves to the announcing MAC" {
	prime 2 192.0.2.1
	run -0 hx 3 $GARP_SEND -c 1 -i eth0 192.0.2.1
	[ -z "$output" ]
	wait_until 1000 neigh_is 2 192.0.2.1 "$MAC3"
}

@test "IPv4: no entry is created without arp_accept" {
	hx 2 sysctl -qw net.ipv4.conf.eth0.arp_accept=0
	run -0 hx 3 $GARP_SEND -c 2 -t 10 -i eth0 192.0.2.100
	sleep 0.2
	[ -z "$(neigh_mac 2 192.0.2.100)" ]
}

@test "IPv4: with arp_accept=1 a missing entry is created" {
	hx 2 sysctl -qw net.ipv4.conf.eth0.arp_accept=1
	run -0 hx 3 $GARP_SEND -c 1 -i eth0 192.0.2.100
	wait_until 1000 neigh_is 2 192.0.2.100 "$MAC3"
}

@test "IPv4 reply form (-r): moves an entry and creates one with arp_accept=1" {
	prime 2 192.0.2.1
	hx 2 sysctl -qw net.ipv4.conf.eth0.arp_accept=1
	run -0 hx 3 $GARP_SEND -r -c 1 -i eth0 192.0.2.1 192.0.2.101
	wait_until 1000 neigh_is 2 192.0.2.1 "$MAC3"
	wait_until 1000 neigh_is 2 192.0.2.101 "$MAC3"
}

@test "IPv6: a peer's existing entry moves with the unsolicited NA" {
	prime 2 2001:db8::1
	run -0 hx 3 $GARP_SEND -c 1 -i eth0 2001:db8::1
	wait_until 1000 neigh_is 2 2001:db8::1 "$MAC3"
}

@test "IPv6: a forwarding peer with accept_untracked_na creates a missing entry" {
	hx 2 sysctl -qw net.ipv6.conf.eth0.accept_untracked_na=1 2>/dev/null ||
		skip "kernel has no accept_untracked_na"
	hx 2 sysctl -qw net.ipv6.conf.eth0.forwarding=1
	run -0 hx 3 $GARP_SEND -c 1 -i eth0 2001:db8::100
	wait_until 1000 neigh_is 2 2001:db8::100 "$MAC3"
}

@test "IPv4 and IPv6 mixed, with prefix lengths, in one call" {
	prime 2 192.0.2.1
	prime 2 2001:db8::1
	run -0 hx 3 $GARP_SEND -c 2 -t 0 -i eth0 192.0.2.1/24 2001:db8::1/64
	wait_until 1000 neigh_is 2 192.0.2.1 "$MAC3"
	wait_until 1000 neigh_is 2 2001:db8::1 "$MAC3"
}

@test "-v prints one key=value line per packet, in order" {
	run -0 --separate-stderr hx 3 $GARP_SEND -v -c 2 -t 5 -i eth0 192.0.2.100 2001:db8::100
	[ "${#lines[@]}" -eq 4 ]
	[[ ${lines[0]} == "event=sent interface=eth0 address=192.0.2.100 mac=$MAC3 kind=request round=1 ms="* ]]
	[[ ${lines[1]} == "event=sent interface=eth0 address=2001:db8::100 mac=$MAC3 kind=na round=1 ms="* ]]
	[[ ${lines[2]} == *" address=192.0.2.100 "*" round=2 ms="* ]]
	[[ ${lines[3]} == *" kind=na round=2 ms="* ]]
	[ -z "$stderr" ]
	run -0 hx 3 $GARP_SEND -v -r -c 1 -i eth0 192.0.2.100
	[[ $output == *" kind=reply round=1 "* ]]
}

@test "rounds keep to the schedule (-t): never early, none after the last" {
	run -0 hx 3 $GARP_SEND -v -c 3 -t 50 -i eth0 192.0.2.100
	[ "${#lines[@]}" -eq 3 ]
	# Round k is due k-1 intervals after the first (a fixed schedule, so a
	# late round may be followed closely by the next). A lower bound only:
	# sleeping may run late on a loaded machine, never early.
	awk '{ sub(/.* ms=/, ""); t[NR] = $1 } END { exit !(t[2] >= 49.9 && t[3] >= 99.9) }' <<<"$output"
	run -0 hx 3 $GARP_SEND -v -c 2 -t 0 -i eth0 192.0.2.100
	[ "${#lines[@]}" -eq 2 ]
}

@test "holds no capability once the socket is open" {
	bg garp 3 $GARP_SEND -c 3 -t 1000 -i eth0 192.0.2.100
	pid=$(bg_pid garp)
	capeff() { grep -q '^CapEff:[[:space:]]*0000000000000000$' "/proc/$pid/status"; }
	wait_until 3000 capeff
	grep -q '^NoNewPrivs:[[:space:]]*1$' "/proc/$pid/status"
	bg_stop garp
}

@test "bad interface exits 100 with a message and sends nothing" {
	run -100 --separate-stderr hx 3 $GARP_SEND -i nosuch0 192.0.2.100
	[ "$stderr" = "garp-send: fatal: bad interface: nosuch0: no such interface" ]
	[ -z "$output" ]
	run -100 --separate-stderr hx 3 $GARP_SEND -i lo 192.0.2.100
	[ "$stderr" = "garp-send: fatal: bad interface: lo: no Ethernet address" ]
}

@test "bad addresses exit 100 with a message" {
	local a
	for a in 192.0.2.300 not-an-address 2001:db8::1::2 192.0.2.1/33 \
	    0.0.0.0 255.255.255.255 224.0.0.1 127.0.0.1 :: ::1 ff02::1; do
		run -100 --separate-stderr hx 3 $GARP_SEND -i eth0 192.0.2.100 "$a"
		[[ $stderr == "garp-send: fatal: bad address: $a"* ]]
		[ "${#stderr_lines[@]}" -eq 1 ]
		[ -z "$output" ]
	done
}

@test "bad options exit 100 with one line" {
	run -100 --separate-stderr $GARP_SEND -x -i eth0 192.0.2.1
	[[ $stderr == "garp-send: fatal: unknown option -x; usage: garp-send "* ]]
	[ "${#stderr_lines[@]}" -eq 1 ]
	run -100 --separate-stderr $GARP_SEND -i
	[[ $stderr == "garp-send: fatal: missing value for option -i; usage:"* ]]
	run -100 --separate-stderr $GARP_SEND -c 0 -i eth0 192.0.2.1
	[ "$stderr" = "garp-send: fatal: bad -c value: 0 (want 1..1000000)" ]
	run -100 --separate-stderr $GARP_SEND -t 5ms -i eth0 192.0.2.1
	[[ $stderr == "garp-send: fatal: bad -t value: 5ms "* ]]
	run -100 --separate-stderr $GARP_SEND -t -1 -i eth0 192.0.2.1
	run -100 --separate-stderr $GARP_SEND 192.0.2.1
	[ "$stderr" = "garp-send: fatal: no interface given (-i)" ]
	run -100 --separate-stderr $GARP_SEND -i eth0
	[ "$stderr" = "garp-send: fatal: no address given" ]
	run -100 --separate-stderr $GARP_SEND -q -v -i eth0 192.0.2.1
	[ "${#stderr_lines[@]}" -eq 1 ]
}

@test "-n checks without sending; -V prints the version" {
	hx 2 sysctl -qw net.ipv4.conf.eth0.arp_accept=1
	run -0 --separate-stderr hx 3 $GARP_SEND -n -i eth0 192.0.2.100
	[ "$stderr" = "garp-send: configuration OK" ]
	[ -z "$output" ]
	sleep 0.2
	[ -z "$(neigh_mac 2 192.0.2.100)" ]
	run -0 $GARP_SEND -V
	[[ $output == "garp-send "[0-9]* ]]
}

@test "system failures exit 111: interface down, no CAP_NET_RAW" {
	hx 3 ip link set eth0 down
	run -111 --separate-stderr hx 3 $GARP_SEND -c 1 -i eth0 192.0.2.100
	[[ $stderr == "garp-send: warning: unable to announce 192.0.2.100 on eth0: "* ]]
	hx 3 ip link set eth0 up
	command -v setpriv >/dev/null || skip "setpriv not installed"
	run -111 --separate-stderr hx 3 setpriv --bounding-set -net_raw $GARP_SEND -i eth0 192.0.2.100
	[[ $stderr == "garp-send: fatal: unable to open a packet socket on eth0: Operation not permitted" ]]
}

@test "the packets are well formed on the wire" {
	command -v tcpdump >/dev/null || skip "tcpdump not installed (contrib/deps.sh installs it)"
	bg cap 2 timeout 20 tcpdump -l -i eth0 -n -e -vv -c 3 \
		'ether src 02:00:00:00:00:03 and (arp or (icmp6 and ip6[40] == 136))'
	listening() { grep -q "listening on" "$BATS_TEST_TMPDIR/cap.err"; }
	wait_until 10000 listening
	run -0 hx 3 $GARP_SEND -c 1 -i eth0 192.0.2.100 2001:db8::100
	run -0 hx 3 $GARP_SEND -r -c 1 -i eth0 192.0.2.100
	captured() { [ "$(grep -c ' > ' "$BATS_TEST_TMPDIR/cap.out")" -ge 3 ]; }
	wait_until 10000 captured
	run -0 bg_out cap
	# Request form: broadcast, sender = target = the address.
	[[ ${lines[0]} == *"02:00:00:00:00:03 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: "*"Request who-has 192.0.2.100 tell 192.0.2.100, length 28" ]]
	# NA: all-nodes, hop limit 255, checksum verified by tcpdump, override, TLLA.
	[[ ${lines[1]} == *"02:00:00:00:00:03 > 33:33:00:00:00:01, ethertype IPv6 (0x86dd)"*"hlim 255"*"2001:db8::100 > ff02::1: [icmp6 sum ok] ICMP6, neighbor advertisement, length 32, tgt is 2001:db8::100, Flags [override]" ]]
	[[ ${lines[2]} == *"destination link-address option (2), length 8 (1): 02:00:00:00:00:03" ]]
	# Reply form: broadcast, is-at our MAC.
	[[ $output == *"02:00:00:00:00:03 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: "*"Reply 192.0.2.100 is-at 02:00:00:00:00:03, length 28"* ]]
}
