#!/usr/bin/env bats
# lc-role: role files, dry run, idempotence, undo, role changes (nftables).
load lib/common

LC_ROLE=${LC_ROLE:-$BIN/lc-role}

setup() {
	need_root
	nft list tables >/dev/null 2>&1 || skip "nftables unavailable"
	topo_lan 5
	R=$BATS_TEST_TMPDIR
	# h1 client, h2 balancer, h3-h5 real servers.
	cat >"$R/web.role" <<-EOR
	role=lb host=lb1 cluster=web generation=1 version=1
	service=web vip=192.0.2.100 port=80 proto=tcp sched=wrr fwd=dr
	lb=lb1 addr=192.0.2.2
	bs=bs1 addr=192.0.2.6 order=1
	rs=rs1 addr=192.0.2.3 weight=1
	rs=rs2 addr=192.0.2.4 weight=2
	rs=rs3 addr=192.0.2.5 port=80 weight=3
	agent=lb1 addr=192.0.2.2 port=161
	EOR
	sed 's/^role=lb host=lb1/role=rs host=rs1/' "$R/web.role" >"$R/rs.role"
	sed 's/^role=lb host=lb1/role=bs host=bs1/' "$R/web.role" >"$R/bs.role"
	echo "role=none host=lb1 version=1" >"$R/none.role"
}

teardown() { topo_teardown; }

snap() { hx "$1" nft list ruleset; hx "$1" ip addr; hx "$1" sysctl net.ipv4.conf.all.arp_ignore net.ipv4.conf.all.arp_announce; }

@test "usage, version and unknown options exit 100" {
	run -100 $LC_ROLE
	run -100 $LC_ROLE frobnicate -f "$R/web.role"
	run -100 $LC_ROLE -x apply -f "$R/web.role"
	run -100 $LC_ROLE apply
	run -0 $LC_ROLE -V
	[[ $output == "lc-role "* ]]
	run -100 hx 2 $LC_ROLE -s "$R/st" -d frob apply -f "$R/web.role"
	run -100 hx 2 $LC_ROLE -s "$R/st" -r king apply -f "$R/web.role"
}

@test "bad role files exit 100 and change nothing" {
	local before nc=0 bad
	local -a cases=(
		'service=web vip=192.0.2.100 port=80\nrole=lb host=lb1 cluster=web version=1\n'
		'role=lb host=lb1 cluster=web version=2\nservice=web vip=192.0.2.100 port=80\nlb=lb1 addr=192.0.2.2\n'
		'role=boss host=lb1 cluster=web version=1\n'
		'role=lb host=lb1 cluster=web version=1\nservice=web vip=192.0.2.100 port=80 colour=red\nlb=lb1 addr=192.0.2.2\n'
		'role=lb host=lb1 cluster=web version=1\nservice=web vip=192.0.2.100 port=80\nlb=lb1 addr=192.0.2.2\nfrob=1\n'
		'role=lb host=lb1 cluster=web version=1\nservice=web vip=192.0.2.100 port=0\nlb=lb1 addr=192.0.2.2\n'
		'role=lb host=lb1 cluster=web version=1\nservice=web vip=192.0.2.100 port=80 sched=fifo\nlb=lb1 addr=192.0.2.2\n'
		'role=lb host=lb1 cluster=web version=1\nservice=web vip=192.0.2.300 port=80\nlb=lb1 addr=192.0.2.2\n'
		'role=lb host=lb1 cluster=web version=1\nservice=web vip=192.0.2.100 port=80\nlb=lb1 addr=192.0.2.2\nrs=rs1 addr=192.0.2.3 weight=-1\n'
		'role=lb host=lb1 cluster=web version=1\nservice=web vip=192.0.2.100 port=80\nlb=lb1 addr=192.0.2.2\nrs=rs1 addr=192.0.2.3\nrs=rs1 addr=192.0.2.4\n'
		'role=lb host=lb1 cluster=web version=1\nservice=web vip=192.0.2.100 port=80\n'
		'role=lb host=lb1 cluster=web version=1\nrole=lb host=lb1 cluster=web version=1\n'
		'role=lb host=lb1 cluster=web version=1\nservice=web vip=192.0.2.100 port=80 fwd=nat\nlb=lb1 addr=192.0.2.2\n'
		'role=lb host=lb1 cluster=web version=1\nservice=web vip="192.0.2.100 port=80\n'
		'role=none host=lb1 version=1\nlb=lb1 addr=192.0.2.2\n'
		'role=lb host=lb1 cluster=web version=1\nservice=web vip=2001:db8::100 port=80\nlb=lb1 addr=192.0.2.2\nrs=rs1 addr=192.0.2.3\n'
	)
	before=$(snap 2)
	for bad in "${cases[@]}"; do
		nc=$((nc + 1))
		printf '%b' "$bad" >"$R/bad$nc.role"
		run -100 hx 2 $LC_ROLE -s "$R/st" apply -f "$R/bad$nc.role"
		[[ $output == "lc-role: fatal: "* ]] || { echo "case $nc: $output"; false; }
		[ "${#lines[@]}" -eq 1 ] || { echo "case $nc: $output"; false; }
	done
	[ "$nc" -eq 16 ]
	run -100 hx 2 $LC_ROLE -s "$R/st" apply -f "$R/nonexistent.role"
	[ "$before" = "$(snap 2)" ]
	[ ! -e "$R/st/state" ]
}

@test "lc and wlc are refused on nftables with a clear message" {
	local before; before=$(snap 2)
	sed 's/sched=wrr/sched=wlc/' "$R/web.role" >"$R/wlc.role"
	run -100 hx 2 $LC_ROLE -d nft -s "$R/st" apply -f "$R/wlc.role"
	[[ $output == *"scheduler wlc needs IPVS"* ]]
	[ "$before" = "$(snap 2)" ]
}

@test "dry run prints the changes and changes nothing; apply is idempotent" {
	local before; before=$(snap 2)
	run -0 hx 2 $LC_ROLE -d nft -n -s "$R/st" apply -f "$R/web.role"
	[[ $output == *"+ addr=192.0.2.100 dev=eth0"* ]]
	[[ $output == *"+ rs=rs3 service=web vip=192.0.2.100 addr=192.0.2.5 port=80 weight=3"* ]]
	[ "$before" = "$(snap 2)" ]
	run -0 hx 2 $LC_ROLE -d nft -s "$R/st" apply -f "$R/web.role"
	hx 2 nft list table netdev nonstop >/dev/null
	run -0 hx 2 $LC_ROLE -d nft -s "$R/st" apply -f "$R/web.role"
	run -0 hx 2 $LC_ROLE -n -s "$R/st" apply -f "$R/web.role"
	[ "$output" = "# no changes" ]
	# A weight change shows as one line.
	sed 's/rs=rs2 addr=192.0.2.4 weight=2/rs=rs2 addr=192.0.2.4 weight=5/' "$R/web.role" >"$R/w5.role"
	run -0 hx 2 $LC_ROLE -n -s "$R/st" apply -f "$R/w5.role"
	[[ $output == "~ rs=rs2 "*"weight=5"*"was=2" ]]
	run -0 hx 2 $LC_ROLE -s "$R/st" show
	[[ $output == *"rs=rs2 service=web vip=192.0.2.100 addr=192.0.2.4 port=80 weight=2"* ]]
}

@test "undo leaves no trace on a balancer" {
	local before; before=$(snap 2)
	run -0 hx 2 $LC_ROLE -d nft -s "$R/st" apply -f "$R/web.role"
	[ "$before" != "$(snap 2)" ]
	run -0 hx 2 $LC_ROLE -s "$R/st" undo
	[ "$before" = "$(snap 2)" ]
	[ ! -e "$R/st/state" ]
	run -0 hx 2 $LC_ROLE -s "$R/st" undo
}

@test "a real server gets the VIP on lo and the ARP settings; undo restores them" {
	local before; before=$(snap 3)
	run -0 hx 3 $LC_ROLE -s "$R/st" apply -f "$R/rs.role"
	hx 3 ip addr show dev lo | grep -q "inet 192.0.2.100/32"
	[ "$(hx 3 sysctl -n net.ipv4.conf.all.arp_ignore)" = 1 ]
	[ "$(hx 3 sysctl -n net.ipv4.conf.all.arp_announce)" = 2 ]
	run -0 hx 3 $LC_ROLE -s "$R/st" undo
	[ "$before" = "$(snap 3)" ]
}

@test "addresses and rules that were there before are left alone" {
	hx 2 ip addr add 192.0.2.100/32 dev eth0
	hx 2 nft add table ip other
	hx 2 nft add chain ip other c '{ type filter hook input priority 0; }'
	local before; before=$(snap 2)
	run -0 hx 2 $LC_ROLE -d nft -s "$R/st" apply -f "$R/web.role"
	run -0 hx 2 $LC_ROLE -s "$R/st" undo
	[ "$before" = "$(snap 2)" ]
}

@test "role changes: lb to bs to rs to none, each leaving only the new role" {
	local before; before=$(snap 2)
	run -0 hx 2 $LC_ROLE -d nft -s "$R/st" apply -f "$R/web.role"
	run -0 hx 2 $LC_ROLE -s "$R/st" apply -f "$R/bs.role"
	# A backup keeps the table, inert without the VIP: ready to take over.
	hx 2 nft list table netdev nonstop | grep -q "meta pkttype host ip daddr 192.0.2.100"
	! hx 2 ip addr show dev eth0 | grep -q 192.0.2.100 || false
	run -0 hx 2 $LC_ROLE -s "$R/st" show
	[[ ${lines[0]} == "role=bs dp=nft if=eth0 "* ]]
	run -0 hx 2 $LC_ROLE -s "$R/st" check
	run -0 hx 2 $LC_ROLE -s "$R/st" apply -f "$R/rs.role"
	run -1 hx 2 nft list table netdev nonstop
	hx 2 ip addr show dev lo | grep -q 192.0.2.100
	run -0 hx 2 $LC_ROLE -s "$R/st" apply -f "$R/none.role"
	[ "$before" = "$(snap 2)" ]
}

@test "-r lb makes a backup balance (what lb-watch does on takeover)" {
	run -0 hx 2 $LC_ROLE -d nft -r lb -s "$R/st" apply -f "$R/bs.role"
	hx 2 nft list table netdev nonstop | grep -q "fwd to \"eth0\""
	hx 2 ip addr show dev eth0 | grep -q "192.0.2.100/32"
	run -0 hx 2 $LC_ROLE -s "$R/st" apply -f "$R/bs.role"
	! hx 2 ip addr show dev eth0 | grep -q 192.0.2.100 || false
	hx 2 nft list table netdev nonstop | grep -q "fwd to \"eth0\""
}

@test "a backup leaves out a real server it cannot reach yet; a balancer refuses" {
	sed 's/rs=rs3 addr=192.0.2.5/rs=rs3 addr=192.0.2.77/' "$R/bs.role" >"$R/bsgone.role"
	run -0 hx 2 $LC_ROLE -d nft -s "$R/st" apply -f "$R/bsgone.role"
	[ "$output" = "lc-role: warning: real server rs3 not reachable yet: left out" ]
	run -0 hx 2 nft list map netdev nonstop s_c0000264_80_t
	[[ $output == *"02:00:00:00:00:03"* && $output != *"02:00:00:00:00:05"* ]]
	run -111 hx 2 $LC_ROLE -r lb -s "$R/st" apply -f "$R/bsgone.role"
}

@test "an unreachable real server is a temporary failure (111)" {
	sed 's/rs=rs3 addr=192.0.2.5/rs=rs3 addr=192.0.2.77/' "$R/web.role" >"$R/gone.role"
	run -111 hx 2 $LC_ROLE -d nft -s "$R/st" apply -f "$R/gone.role"
	[[ $output == *"no MAC address for real server rs3"* ]]
}

@test "the role file parser survives fuzzing" {
	command -v clang >/dev/null || skip "clang not installed"
	[ -n "$(find /usr/lib/llvm-*/lib/clang -name 'libclang_rt.fuzzer-x86_64.a' 2>/dev/null | head -n 1)" ] ||
		skip "clang's libFuzzer runtime is missing (libclang-rt-14-dev)"
	run -0 make -s -C "$NONSTOP_TOP" fuzz-role_parse FUZZ_OUT="$R/fuzz"
	mkdir -p "$R/corpus"
	run -0 "$R/fuzz/role_parse" -runs=20000 -max_len=512 "$R/corpus" "$NONSTOP_TOP/test/fuzz/corpus/role_parse"
}

@test "check: 0 while the kernel holds what was set up, 1 with the difference when not" {
	run -0 hx 2 $LC_ROLE -d nft -s "$R/st" apply -f "$R/web.role"
	run -0 hx 2 $LC_ROLE -s "$R/st" check
	[ -z "$output" ]
	hx 2 nft delete table netdev nonstop
	run -1 hx 2 $LC_ROLE -s "$R/st" check
	[[ $output == *"+ service=web vip=192.0.2.100 port=80 proto=tcp sched=wrr nrs=3"* ]]
	hx 2 ip addr del 192.0.2.100/32 dev eth0
	run -1 hx 2 $LC_ROLE -q -s "$R/st" check
	[ -z "$output" ]
	run -0 hx 2 $LC_ROLE -s "$R/st" apply -f "$R/web.role"
	run -0 hx 2 $LC_ROLE -s "$R/st" check
	# A real server whose ARP settings were undone by someone else.
	run -0 hx 3 $LC_ROLE -s "$R/st3" apply -f "$R/rs.role"
	run -0 hx 3 $LC_ROLE -s "$R/st3" check
	hx 3 sysctl -qw net.ipv4.conf.all.arp_ignore=0
	run -1 hx 3 $LC_ROLE -s "$R/st3" check
	[ "$output" = "~ sysctl=net.ipv4.conf.all.arp_ignore value=0" ]
}

@test "-A leaves the VIPs to another holder (ha-beat)" {
	run -0 hx 2 $LC_ROLE -d nft -A -s "$R/st" apply -f "$R/web.role"
	! hx 2 ip addr show dev eth0 | grep -q 192.0.2.100 || false
	hx 2 nft list table netdev nonstop | grep -q "ip daddr 192.0.2.100"
}

@test "dry run of a role change lists the addresses that go" {
	run -0 hx 2 $LC_ROLE -d nft -s "$R/st" apply -f "$R/web.role"
	run -0 hx 2 $LC_ROLE -n -s "$R/st" apply -f "$R/rs.role"
	[[ $output == *"- addr=192.0.2.100 dev=eth0"* ]]
	[[ $output == *"+ addr=192.0.2.100 dev=lo"* ]]
	[[ $output == *"- service=web vip=192.0.2.100"* ]]
}

@test "follow: a change the dataplane refuses ends its line with applied=no; the next event gets a line of its own" {
	run -0 hx 2 $LC_ROLE -d nft -s "$R/st" apply -f "$R/web.role"
	mkfifo "$R/ev"
	exec 5<>"$R/ev"
	# Not bg: a background job's stdin would be /dev/null.
	hx 2 $LC_ROLE -s "$R/st" -t 0 follow -f "$R/web.role" <&5 \
	    >"$R/follow.out" 2>"$R/follow.err" 3>&- &
	echo $! >"$BATS_TEST_TMPDIR/follow.pid"
	echo "event=rs-down rs=rs3 addr=192.0.2.5 reason=timeout" >&5
	wait_until 10000 grep -qx "event=removed rs=rs3" "$R/follow.out"
	# rs3 comes back unreachable: no MAC, so the balancer refuses it.
	link_cut 5
	hx 2 ip neigh del 192.0.2.5 dev eth0 2>/dev/null || true
	echo "event=rs-up rs=rs3 addr=192.0.2.5" >&5
	wait_until 15000 grep -qx "event=added rs=rs3 weight=3 applied=no" "$R/follow.out"
	# Still unresolved: rs1's quiesce is refused too, on a line of its own.
	echo "event=rs-down rs=rs1 addr=192.0.2.3 reason=timeout" >&5
	wait_until 15000 grep -qx "event=quiesced rs=rs1 applied=no" "$R/follow.out"
	wait_until 15000 grep -qx "event=removed rs=rs1 applied=no" "$R/follow.out"
	grep -q "no MAC address for real server rs3" "$R/follow.err"
	# rs3 reachable again: the next change carries all of them through.
	link_mend 5
	echo "event=weight rs=rs2 weight=4" >&5
	wait_until 15000 grep -qE "^event=weight rs=rs2 weight=4 us=[0-9]+$" "$R/follow.out"
	bg_stop follow
	exec 5>&-
	cat "$R/follow.out"
	# One complete record per line.
	run -1 grep -vE '^event=(quiesced|removed|added|weight) rs=rs[0-9]( weight=[0-9]+)?( us=[0-9]+| applied=no)?$' "$R/follow.out"
	[ "$(wc -l <"$R/follow.out")" -eq 6 ]
	# The kernel holds what follow recorded: rs1 gone, rs2 at 4, rs3 back.
	run -0 hx 2 $LC_ROLE -s "$R/st" check
	run -0 hx 2 $LC_ROLE -s "$R/st" show
	[[ $output == *"rs=rs2 service=web vip=192.0.2.100 addr=192.0.2.4 port=80 weight=4"* ]]
	[[ $output == *"rs=rs3 service=web vip=192.0.2.100 addr=192.0.2.5 port=80 weight=3"* ]]
	[[ $output != *"rs=rs1 "* ]]
}

@test "role changes lb -> rs -> lb under client load: the host keeps serving, no SYN goes unanswered or refused" {
	command -v python3 >/dev/null || skip "needs python3 for the test servers"
	cat >"$R/t.py" <<-'EOP'
	import socket, sys, threading
	if sys.argv[1] == "serve":
	    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	    s.bind(("0.0.0.0", 80)); s.listen(256)
	    def one(c):
	        try: c.sendall((sys.argv[2] + "\n").encode())
	        except OSError: pass
	        c.close()
	    while True:
	        c, _ = s.accept()
	        threading.Thread(target=one, args=(c,), daemon=True).start()
	elif sys.argv[1] == "up":
	    socket.create_connection((sys.argv[2], 80), 2).close()
	else:
	    # load VIP N: N connections in a row. A SYN unanswered or refused
	    # is the service down; a connection reset after the handshake was
	    # in flight across a switch between balancing and serving locally.
	    ok = down = broken = 0
	    why = set()
	    for i in range(int(sys.argv[3])):
	        c = socket.socket(); c.settimeout(3)
	        try: c.connect((sys.argv[2], 80))
	        except (socket.timeout, ConnectionRefusedError) as e:
	            down += 1; why.add(str(e)); c.close(); continue
	        except OSError: broken += 1; c.close(); continue
	        try: ok += 1 if c.makefile().readline().strip() else 0
	        except OSError: broken += 1
	        c.close()
	    print("ok=%d down=%d broken=%d %s" % (ok, down, broken, ";".join(sorted(why))))
	EOP
	local i k=0
	for i in 2 3 4 5; do
		[ "$i" = 2 ] || hx $i $LC_ROLE -s "$R/st$i" apply -f "$R/rs.role"
		bg "srv$i" $i python3 "$R/t.py" serve "h$i"
	done
	for i in 2 3 4 5; do wait_until 5000 hx $i python3 "$R/t.py" up 192.0.2.$i; done
	run -0 hx 2 $LC_ROLE -d nft -s "$R/st" apply -f "$R/web.role"
	# As a real server h2 no longer answers ARP for the VIP (arp_ignore):
	# in a cluster the new balancer would. Pin the client's entry instead.
	hx 1 ip neigh replace 192.0.2.100 dev eth0 nud permanent lladdr \
	    "$(hx 2 cat /sys/class/net/eth0/address)"
	bg load 1 python3 "$R/t.py" load 192.0.2.100 600
	while ! not_running "$(bg_pid load)" && ((k < 40)); do
		hx 2 $LC_ROLE -q -s "$R/st" apply -f "$R/rs.role"
		hx 2 ip addr show dev lo | grep -q 192.0.2.100
		hx 2 $LC_ROLE -q -s "$R/st" apply -f "$R/web.role"
		k=$((k + 1))
	done
	wait_until 60000 not_running "$(bg_pid load)"
	run -0 bg_out load
	echo "$output (rounds lb->rs->lb: $k)"
	[ "$k" -ge 2 ]
	[[ $output == "ok="*" down=0 "* ]]
}

# slots HOST: the balancer's slot map as sorted "slot : mac" lines.
slots() {
	hx "$1" nft list map netdev nonstop s_c0000264_80_t | tr ',{}' '\n\n\n' |
	    grep -oE '[0-9]+ : ([0-9a-f]{2}:){5}[0-9a-f]{2}' | sort -n
}

@test "every balancer with the same table has the same slots; a server that leaves and returns gets its own back" {
	run -0 hx 2 $LC_ROLE -d nft -s "$R/st" apply -f "$R/web.role"
	run -0 hx 1 $LC_ROLE -d nft -s "$R/st1" apply -f "$R/bs.role"
	slots 2 >"$R/lb.slots"
	slots 1 >"$R/bs.slots"
	[ "$(wc -l <"$R/lb.slots")" -ge 64 ]
	diff "$R/lb.slots" "$R/bs.slots"
	# Weights 1:2:3 share the slots exactly.
	[ "$(grep -c ' 02:00:00:00:00:03$' "$R/lb.slots")" -eq $(( $(wc -l <"$R/lb.slots") / 6 )) ]
	[ "$(grep -c ' 02:00:00:00:00:05$' "$R/lb.slots")" -eq $(( $(wc -l <"$R/lb.slots") / 2 )) ]
	mkfifo "$R/ev"
	exec 5<>"$R/ev"
	hx 2 $LC_ROLE -s "$R/st" -t 0 follow -f "$R/web.role" <&5 \
	    >"$R/follow.out" 2>"$R/follow.err" 3>&- &
	echo $! >"$BATS_TEST_TMPDIR/follow.pid"
	echo "event=rs-down rs=rs3 addr=192.0.2.5 reason=timeout" >&5
	wait_until 10000 grep -qx "event=removed rs=rs3" "$R/follow.out"
	slots 2 >"$R/without.slots"
	run -1 grep -q ' 02:00:00:00:00:05$' "$R/without.slots"
	[ "$(wc -l <"$R/without.slots")" -eq "$(wc -l <"$R/lb.slots")" ]
	echo "event=rs-up rs=rs3 addr=192.0.2.5" >&5
	wait_until 10000 grep -q "^event=added rs=rs3 weight=3 us=" "$R/follow.out"
	bg_stop follow
	exec 5>&-
	slots 2 | diff "$R/lb.slots" -
	[ ! -s "$R/follow.err" ]
}

@test "follow -R (real-time): events applied, a table flushed under it rebuilt by the next event, the state written on exit" {
	run -0 hx 2 $LC_ROLE -d nft -s "$R/st" apply -f "$R/web.role"
	mkfifo "$R/ev"
	exec 5<>"$R/ev"
	hx 2 $LC_ROLE -R -s "$R/st" -t 0 follow -f "$R/web.role" <&5 \
	    >"$R/follow.out" 2>"$R/follow.err" 3>&- &
	echo $! >"$BATS_TEST_TMPDIR/follow.pid"
	echo "event=rs-down rs=rs3 addr=192.0.2.5 reason=timeout" >&5
	wait_until 10000 grep -qx "event=removed rs=rs3" "$R/follow.out"
	echo "event=weight rs=rs2 weight=4" >&5
	wait_until 10000 grep -qE "^event=weight rs=rs2 weight=4 us=[0-9]+$" "$R/follow.out"
	run -0 hx 2 $LC_ROLE -s "$R/st" check
	# Someone flushes the table: the next event's change cannot be made
	# in place, so the whole table is put back.
	hx 2 nft delete table netdev nonstop
	echo "event=weight rs=rs1 weight=2" >&5
	wait_until 10000 grep -qE "^event=weight rs=rs1 weight=2 us=[0-9]+$" "$R/follow.out"
	bg_stop follow
	exec 5>&-
	cat "$R/follow.out" "$R/follow.err"
	run -0 hx 2 $LC_ROLE -s "$R/st" check
	run -0 hx 2 $LC_ROLE -s "$R/st" show
	[[ $output == *"rs=rs1 service=web vip=192.0.2.100 addr=192.0.2.3 port=80 weight=2"* ]]
	[[ $output == *"rs=rs2 service=web vip=192.0.2.100 addr=192.0.2.4 port=80 weight=4"* ]]
	[[ $output != *"rs=rs3 "* ]]
	# The state file holds the same (what a restart starts from).
	grep -q "^rs=rs1 .*weight=2" "$R/st/state"
	grep -q "^rs=rs2 .*weight=4" "$R/st/state"
	run -1 grep -q "^rs=rs3 " "$R/st/state"
}
