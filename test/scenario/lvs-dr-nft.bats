#!/usr/bin/env bats
# LVS-DR on nftables: a client reaches a VIP served by three real servers,
# replies bypass the balancer, rr and wrr spread connections as configured,
# and lc-role follow takes a failed server out and back without disturbing
# established connections.
load ../lib/common

LC_ROLE=${LC_ROLE:-$BIN/lc-role}
PY=${PY:-/usr/bin/python3}

setup() {
	need_root
	nft list tables >/dev/null 2>&1 || skip "nftables unavailable"
	[ -x "$PY" ] || skip "needs python3 for the test servers"
	topo_lan 5
	R=$BATS_TEST_TMPDIR
	tools
	# h1 client, h2 balancer, h3-h5 real servers rs1-rs3.
	role wrr 1 2 3 >"$R/web.role"
	local i
	for i in 3 4 5; do
		sed 's/^role=lb host=lb1/role=rs host=rs1/' "$R/web.role" >"$R/rs.role"
		hx $i $LC_ROLE -s "$R/st$i" apply -f "$R/rs.role"
		bg "srv$i" $i $PY "$R/t.py" serve "rs$((i - 2))"
	done
	for i in 3 4 5; do wait_until 5000 hx $i $PY "$R/t.py" up 192.0.2.$i; done
}

teardown() { topo_teardown; }

role() {
	cat <<-EOR
	role=lb host=lb1 cluster=web generation=1 version=1
	service=web vip=192.0.2.100 port=80 proto=tcp sched=$1 fwd=dr
	lb=lb1 addr=192.0.2.2
	rs=rs1 addr=192.0.2.3 weight=$2
	rs=rs2 addr=192.0.2.4 weight=$3
	rs=rs3 addr=192.0.2.5 weight=$4
	EOR
}

# t.py serve NAME | count VIP N PORT0 | hold VIP GO OUT | up ADDR
tools() {
	cat >"$R/t.py" <<-'EOP'
	import os, socket, sys, threading, time, collections
	def serve(name):
	    s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
	    s.bind(("::", 80)); s.listen(256)
	    def one(c):
	        try:
	            c.sendall((name + "\n").encode())
	            while True:
	                d = c.recv(100)
	                if not d: break
	                c.sendall((name + " " + d.decode()).encode())
	        except OSError: pass
	        finally: c.close()
	    while True:
	        c, _ = s.accept()
	        threading.Thread(target=one, args=(c,), daemon=True).start()
	def conn(vip, port=0):
	    v6 = ":" in vip
	    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET); s.settimeout(5)
	    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	    s.bind(("::" if v6 else "0.0.0.0", port)); s.connect((vip, 80))
	    return s, s.makefile().readline().strip()
	cmd = sys.argv[1]
	if cmd == "serve": serve(sys.argv[2])
	elif cmd == "up":
	    socket.create_connection((sys.argv[2], 80), 2).close()
	elif cmd == "count":
	    vip, n, p0 = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
	    cnt = collections.Counter()
	    for i in range(n):
	        try:
	            s, name = conn(vip, p0 + i); s.close()
	        except OSError: name = "fail"
	        cnt[name or "empty"] += 1
	    print(" ".join("%s=%d" % kv for kv in sorted(cnt.items())))
	elif cmd == "hold":
	    # Hold one connection per server; when GO appears, talk on each.
	    vip, go, out = sys.argv[2], sys.argv[3], sys.argv[4]
	    held = {}
	    for i in range(200):
	        s, name = conn(vip)
	        if name in held: s.close()
	        else: held[name] = s
	        if len(held) == 3: break
	    with open(out + ".tmp", "w") as f: f.write(" ".join(sorted(held)) + "\n")
	    os.rename(out + ".tmp", out)
	    for i in range(3000):
	        if os.path.exists(go): break
	        time.sleep(0.01)
	    res = []
	    for name, s in sorted(held.items()):
	        try:
	            s.sendall(b"ping\n"); r = s.makefile().readline().strip()
	        except OSError: r = "fail"
	        res.append("%s:%s" % (name, r.replace(" ", "/")))
	    print(" ".join(res))
	EOP
}

# count N PORT0: connections from the client, "rs1=.. rs2=.. rs3=.."
count() { hx 1 $PY "$R/t.py" count 192.0.2.100 "$1" "$2"; }
# n NAME OUTPUT: how many connections NAME served in OUTPUT
n() { local v; v=$(tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"); echo "${v:-0}"; }
between() { [ "$1" -ge "$2" ] && [ "$1" -le "$3" ] || { echo "$1 not in [$2,$3]"; false; }; }

@test "DR: the client reaches the VIP on three servers; replies bypass the balancer" {
	run -0 hx 2 $LC_ROLE -d nft -s "$R/st" apply -f "$R/web.role"
	# A second table of our own on the balancer counts packets from the VIP.
	hx 2 nft add table netdev probe
	hx 2 nft add chain netdev probe in "{ type filter hook ingress device eth0 priority -10; }"
	hx 2 nft add rule netdev probe in ip saddr 192.0.2.100 counter
	hx 2 nft add rule netdev probe in ip daddr 192.0.2.100 tcp dport 80 counter
	run -0 count 60 20000
	echo "$output"
	[ "$(n fail "$output")" -eq 0 ]
	[ "$(n rs1 "$output")" -gt 0 ] && [ "$(n rs2 "$output")" -gt 0 ] && [ "$(n rs3 "$output")" -gt 0 ]
	run -0 hx 2 nft list chain netdev probe in
	echo "$output"
	[[ $output == *"ip saddr 192.0.2.100 counter packets 0 bytes 0"* ]]
	[[ ! $output == *"tcp dport 80 counter packets 0 "* ]]
	# The balancer's stack never saw the connections either.
	run -0 hx 2 nstat -az TcpPassiveOpens
	[[ $output == *"TcpPassiveOpens"*" 0 "* ]]
	hx 2 nft delete table netdev probe
}

@test "rr spreads connections evenly over the three servers" {
	role rr 1 2 3 >"$R/rr.role"
	run -0 hx 2 $LC_ROLE -d nft -s "$R/st" apply -f "$R/rr.role"
	run -0 count 600 21000
	echo "$output"
	between "$(n rs1 "$output")" 130 270
	between "$(n rs2 "$output")" 130 270
	between "$(n rs3 "$output")" 130 270
}

@test "wrr spreads connections 1:2:3 as configured" {
	run -0 hx 2 $LC_ROLE -d nft -s "$R/st" apply -f "$R/web.role"
	run -0 count 600 22000
	echo "$output"
	between "$(n rs1 "$output")" 50 150
	between "$(n rs2 "$output")" 140 260
	between "$(n rs3 "$output")" 230 370
	[ "$(n fail "$output")" -eq 0 ]
}

@test "follow: rs-down quiesces and removes, rs-up returns, weight changes in place; held connections survive" {
	run -0 hx 2 $LC_ROLE -d nft -s "$R/st" apply -f "$R/web.role"
	mkfifo "$R/ev"
	exec 5<>"$R/ev"
	# Not bg: a background job's stdin would be /dev/null.
	hx 2 $LC_ROLE -s "$R/st" -t 1500 follow -f "$R/web.role" <&5 \
	    >"$R/follow.out" 2>"$R/follow.err" 3>&- &
	echo $! >"$R/follow.pid"
	# After setup it keeps CAP_NET_ADMIN only, with no_new_privs.
	local lp
	wait_until 5000 pgrep -f "$R/st -t 1500 follow"
	lp=$(pgrep -f "$R/st -t 1500 follow" | head -n 1)
	wait_until 5000 grep -q "^CapEff:.*0000000000001000$" "/proc/$lp/status"
	grep -q "^NoNewPrivs:.*1$" "/proc/$lp/status"
	bg hold 0 hx 1 $PY "$R/t.py" hold 192.0.2.100 "$R/go" "$R/held"
	wait_until 20000 test -e "$R/held"
	[ "$(cat "$R/held")" = "rs1 rs2 rs3" ]

	echo "event=rs-down rs=rs3 addr=192.0.2.5 reason=timeout" >&5
	wait_until 5000 grep -q "event=quiesced rs=rs3" "$R/follow.out"
	run -0 count 90 23000
	echo "$output"
	[ "$(n rs3 "$output")" -eq 0 ] && [ "$(n fail "$output")" -eq 0 ]
	wait_until 10000 grep -q "event=removed rs=rs3" "$R/follow.out"

	echo "event=weight rs=rs1 weight=6" >&5
	wait_until 5000 grep -q "event=weight rs=rs1 weight=6" "$R/follow.out"
	run -0 count 240 24000
	echo "$output"
	[ "$(n rs1 "$output")" -gt "$(n rs2 "$output")" ] && [ "$(n rs3 "$output")" -eq 0 ]
	between "$(n rs1 "$output")" 130 230

	echo "event=rs-up rs=rs3 addr=192.0.2.5" >&5
	wait_until 5000 grep -q "event=added rs=rs3 weight=3" "$R/follow.out"
	run -0 count 120 25000
	echo "$output"
	[ "$(n rs3 "$output")" -gt 0 ]

	# The connections held across all of it still reach their own servers.
	touch "$R/go"
	wait_until 10000 not_running "$(bg_pid hold)"
	run -0 bg_out hold
	echo "$output"
	[ "$output" = "rs1:rs1/ping rs2:rs2/ping rs3:rs3/ping" ]
	bg_stop follow
	exec 5>&-
	[ ! -s "$R/follow.err" ]
	run -0 hx 2 $LC_ROLE -s "$R/st" show
	[[ $output == *"rs=rs1 service=web vip=192.0.2.100 addr=192.0.2.3 port=80 weight=6"* ]]
}

@test "IPv6: a client reaches an IPv6 VIP on the three servers" {
	local i
	sed 's/192\.0\.2\.100/2001:db8::100/; s/addr=192\.0\.2\./addr=2001:db8::/' "$R/web.role" >"$R/v6.role"
	sed 's/^role=lb host=lb1/role=rs host=rs1/' "$R/v6.role" >"$R/v6rs.role"
	for i in 3 4 5; do hx $i $LC_ROLE -s "$R/st6$i" apply -f "$R/v6rs.role"; done
	hx 3 ip -6 addr show dev lo | grep -q "2001:db8::100/128"
	run -0 hx 2 $LC_ROLE -d nft -s "$R/st" apply -f "$R/v6.role"
	run -0 hx 1 $PY "$R/t.py" count 2001:db8::100 60 26000
	echo "$output"
	[ "$(n fail "$output")" -eq 0 ]
	[ "$(n rs1 "$output")" -gt 0 ] && [ "$(n rs2 "$output")" -gt 0 ] && [ "$(n rs3 "$output")" -gt 0 ]
	run -0 hx 2 $LC_ROLE -s "$R/st" check
}

@test "re-applying changed roles while the client connects loses no connection" {
	role rr 1 1 1 >"$R/a.role"
	role wrr 5 1 2 >"$R/b.role"
	# c: rs3 leaves the service.
	grep -v '^rs=rs3' "$R/web.role" >"$R/c.role"
	run -0 hx 2 $LC_ROLE -d nft -s "$R/st" apply -f "$R/web.role"
	bg load 0 hx 1 $PY "$R/t.py" count 192.0.2.100 400 27000
	local k=0
	while ! not_running "$(bg_pid load)" && ((k < 60)); do
		for f in a b c web; do
			hx 2 $LC_ROLE -q -s "$R/st" apply -f "$R/$f.role"
		done
		k=$((k + 1))
	done
	wait_until 30000 not_running "$(bg_pid load)"
	run -0 bg_out load
	echo "$output (rounds of 4 applies: $k)"
	[ "$k" -ge 2 ]
	[ "$(n fail "$output")" -eq 0 ]
}
