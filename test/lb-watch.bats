#!/usr/bin/env bats
# lb-watch with ha-beat: the balancer's cascade in namespaces. h1 client,
# h2 lb1, h3 bs1 (primary), h4 bs2 (secondary), h5-h7 real servers.
load lib/common
load lib/snmpd

LB_WATCH=${LB_WATCH:-$BIN/lb-watch}
LC_ROLE=${LC_ROLE:-$BIN/lc-role}
PY=${PY:-/usr/bin/python3}

setup() {
	need_root
	nft list tables >/dev/null 2>&1 || skip "nftables unavailable"
	[ -x "$PY" ] || skip "needs python3 for the test servers"
	[ -x "$HA_BEAT" ] || skip "ha-beat not built"
	R=$BATS_TEST_TMPDIR
	export LC_ROLE
	role lb lb1 >"$R/lb1.role"
	role bs bs1 >"$R/bs1.role"
	role bs bs2 >"$R/bs2.role"
	role rs rs >"$R/rs.role"
	make_key "$R/key" >/dev/null
}

teardown() {
	local n p
	# The backups' ha-beat first: none may take over (and start a prober)
	# while the group is being killed.
	for n in 4 3 2; do
		[ -s "$R/beat$n.pid" ] && kill -9 "$(cat "$R/beat$n.pid")" 2>/dev/null
	done
	for n in lb1 bs1 rs1 rs2 rs3; do snmpd_stop "$n"; done
	topo_teardown
	# Whatever a hook started meanwhile: processes naming this test's files.
	for p in $(grep -l -a -F "$R/" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
		[ "$p" != $$ ] && kill -9 "$p" 2>/dev/null
	done
	true
}

role() {
	cat <<-EOR
	role=$1 host=$2 cluster=web generation=1 version=1
	service=web vip=192.0.2.100 port=80 proto=tcp sched=rr fwd=dr
	lb=lb1 addr=192.0.2.2
	bs=bs1 addr=192.0.2.3 order=1
	bs=bs2 addr=192.0.2.4 order=2
	rs=rs1 addr=192.0.2.5 weight=1
	rs=rs2 addr=192.0.2.6 weight=1
	rs=rs3 addr=192.0.2.7 weight=1
	EOR
}

cluster() {
	topo_lan 7
	cat >"$R/t.py" <<-'EOP'
	import socket, sys, threading, collections
	if sys.argv[1] == "serve":
	    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	    s.bind(("0.0.0.0", 80)); s.listen(256)
	    while True:
	        c, _ = s.accept()
	        try: c.sendall((sys.argv[2] + "\n").encode())
	        except OSError: pass
	        c.close()
	elif sys.argv[1] == "up":
	    socket.create_connection((sys.argv[2], 80), 2).close()
	else:
	    cnt = collections.Counter()
	    for i in range(int(sys.argv[3])):
	        try:
	            s = socket.create_connection((sys.argv[2], 80), 2)
	            cnt[s.makefile().readline().strip() or "empty"] += 1; s.close()
	        except OSError: cnt["fail"] += 1
	    print(" ".join("%s=%d" % kv for kv in sorted(cnt.items())))
	EOP
	local i
	for i in 5 6 7; do
		sed "s/^role=rs host=rs /role=rs host=rs$((i - 4)) /" "$R/rs.role" >"$R/rs$((i - 4)).role"
		hx $i $LC_ROLE -s "$R/st$i" apply -f "$R/rs.role"
		bg "srv$i" $i $PY "$R/t.py" serve "rs$((i - 4))"
	done
	for i in 5 6 7; do wait_until 5000 hx $i $PY "$R/t.py" up 192.0.2.$i; done
	beat 2 lb1
	beat 3 bs1
	beat 4 bs2
}

# beat H NAME: ha-beat on host H with the configuration lb-watch writes
# ($BEAT_OPTS: more lb-watch options; $EV<H>: the agent's event log).
beat() {
	local ev=EV$1
	# shellcheck disable=SC2086
	$LB_WATCH -d nft -e "${!ev:-}" ${BEAT_OPTS:-} -H "$R/hb$1" -i eth0 -k "$R/key" -s "$R/lw$1" -f "$R/$2.role" conf >"$R/$2.conf"
	mkdir -p "$R/hb$1"
	bg "beat$1" "$1" $HA_BEAT -s "$R/hb$1" -f "$R/$2.conf"
}
state() { cat "$R/hb$1/state" 2>/dev/null; }
is() { [ "$(state "$1")" = "$2" ]; }
has_vip() { hx "$1" ip -br addr show dev eth0 | grep -q '192\.0\.2\.100/'; }
# Exactly one host holds the VIP and it is host $1.
only_vip() {
	local i
	for i in 2 3 4; do
		if [ "$i" = "$1" ]; then has_vip "$i" || return 1
		else ! has_vip "$i" || return 1; fi
	done
}
serves() { hx 1 $PY "$R/t.py" count 192.0.2.100 "$1"; }
# Every server answers through the VIP and no connection fails.
all_served() { local o; o=$(serves 24); [[ $o == *rs1=*rs2=*rs3=* && $o != *fail* ]]; }
events() { cat "$R/lw$1/events" 2>/dev/null; }

@test "conf: the cascade order is the priority order; bad input exits 100" {
	run -0 $LB_WATCH -i eth0 -k "$R/key" -s "$R/lw" -f "$R/bs1.role" conf
	[[ $output == *"node lb1 192.0.2.2 priority 250"* ]]
	[[ $output == *"node bs1 192.0.2.3 priority 249"* ]]
	[[ $output == *"node bs2 192.0.2.4 priority 248"* ]]
	[[ $output == *"self bs1"* ]]
	[[ $output == *"vip 192.0.2.100/32"* ]]
	[[ $output == *"hook master $LB_WATCH -s "*" hook master"* ]]
	[[ $output == *"check every 200 fall 2 rise 3 "* ]]
	$LB_WATCH -i eth0 -k "$R/key" -s "$R/lw" -f "$R/bs1.role" conf >"$R/c.conf"
	run -0 $HA_BEAT -n -f "$R/c.conf"
	run -100 $LB_WATCH -i eth0 -k "$R/key" -f "$R/rs.role" conf
	run -100 $LB_WATCH -k "$R/key" -f "$R/bs1.role" conf
	run -100 $LB_WATCH -f "$R/bs1.role" hook sideways
	run -100 $LB_WATCH -f "$R/bs1.role"
	run -100 $LB_WATCH -f "$R/nonexistent.role" check
	run -0 $LB_WATCH -V
}

@test "check passes on a backup and fails on a master whose table is gone" {
	topo_lan 7
	HA_STATE=backup run -0 hx 2 $LB_WATCH -s "$R/lw2" -f "$R/lb1.role" check
	run -0 hx 2 $LB_WATCH -d nft -e "" -s "$R/lw2" -f "$R/lb1.role" hook master
	[[ $output == "time="*" event=takeover subject=lb1 cluster=web state=master "* ]]
	HA_STATE=master run -0 hx 2 $LB_WATCH -s "$R/lw2" -f "$R/lb1.role" check
	hx 2 nft delete table netdev nonstop
	HA_STATE=master run -1 hx 2 $LB_WATCH -q -s "$R/lw2" -f "$R/lb1.role" check
	run -0 hx 2 $LB_WATCH -e "" -s "$R/lw2" -f "$R/lb1.role" hook fault
	[[ $output == "time="*" event=giveback subject=lb1 cluster=web state=fault "* ]]
	[ "$(events 2 | wc -l)" -eq 2 ]
	run -0 hx 2 $LB_WATCH -e "" -s "$R/lw2" -f "$R/lb1.role" hook backup
	[[ $output == "time="*" event=standby "* ]]
	# The agent's event log gets the same lines (-e).
	run -0 hx 2 $LB_WATCH -e "$R/agent.events" -s "$R/lw2" -f "$R/lb1.role" hook master
	grep -q "event=takeover subject=lb1" "$R/agent.events"
}

@test "the balancer crashes: the primary backup serves; the balancer returns and takes back" {
	cluster
	wait_until 10000 is 2 master
	wait_until 5000 grep -q "event=takeover" "$R/lw2/events"
	wait_until 5000 all_served
	is 3 backup && is 4 backup
	only_vip 2

	# Crash: the balancer's cable is cut and its ha-beat dies.
	link_cut 2
	bg_stop beat2 KILL
	wait_until 10000 is 3 master
	wait_until 5000 grep -q "event=takeover subject=bs1 cluster=web" "$R/lw3/events"
	wait_until 5000 all_served
	is 4 backup

	# It comes back (a reboot): it takes the role back, bs1 gives it up.
	link_mend 2
	beat 2 lb1
	wait_until 10000 is 2 master
	wait_until 5000 grep -q "event=giveback subject=bs1 cluster=web" "$R/lw3/events"
	wait_until 5000 all_served
	wait_until 5000 only_vip 2
	is 3 backup
}

@test "the balancer alive but its table flushed: a backup takes over, the balancer releases the VIP" {
	cluster
	wait_until 10000 is 2 master
	wait_until 5000 all_served
	hx 2 nft delete table netdev nonstop
	wait_until 10000 is 3 master
	wait_until 5000 grep -q "event=giveback subject=lb1 cluster=web" "$R/lw2/events"
	! has_vip 2
	wait_until 5000 all_served
	# Its check passes again once it no longer balances: it takes back.
	wait_until 15000 is 2 master
	wait_until 5000 only_vip 2
	wait_until 5000 all_served
	hx 2 $LC_ROLE -s "$R/lw2/lc-role" check
}

@test "the primary backup crashes too: the secondary serves" {
	cluster
	wait_until 10000 is 2 master
	wait_until 5000 all_served
	link_cut 2
	bg_stop beat2 KILL
	wait_until 10000 is 3 master
	wait_until 5000 all_served
	is 4 backup
	# Now the primary backup goes as well: the secondary takes over alone.
	link_cut 3
	bg_stop beat3 KILL
	wait_until 10000 is 4 master
	wait_until 5000 grep -q "event=takeover subject=bs2 cluster=web" "$R/lw4/events"
	wait_until 5000 all_served
	has_vip 4
}

# agents NAMES...: snmpd + lc-agent on each (lb1 on h2, rsN on h(N+4)).
agents() {
	local n h
	for n in "$@"; do
		case $n in lb1) h=2 ;; bs1) h=3 ;; rs*) h=$((${n#rs} + 4)) ;; esac
		# The balancer's agent reads back the table lb-watch's lc-role set up.
		if [ "$n" = lb1 ]; then
			snmpd_start "$n" "$h" "$R/$n.role" "" -S "$R/lw2/lc-role/state" || return 1
		else
			snmpd_start "$n" "$h" "$R/$n.role" || return 1
		fi
	done
}
# watcher H NAME: lb-watch watch beside ha-beat on host H.
watcher() {
	bg "watch$1" "$1" $LB_WATCH -e "" -H "$R/hb$1" -k "$R/key" -c "$SNMP_CREDS" \
	    -s "$R/lw$1" -T 100 -w 60 -F 3 -R 2 -D "${HOLDDOWN:-3000}" -f "$R/$2.role" watch
}
# Both the balancer and the primary backup hold the VIP (sampled bs1 first).
two_vips() { has_vip 3 && has_vip 2; }

@test "watch: usage and configuration errors exit 100" {
	run -100 $LB_WATCH -f "$R/bs1.role" watch
	[[ $output == *"needs -k keyfile and -H hbstatedir"* ]]
	run -100 $LB_WATCH -H "$R/hb" -k "$R/key" -T 100 -w 100 -f "$R/bs1.role" watch
	run -100 $LB_WATCH -H "$R/hb" -k "$R/nokey" -f "$R/bs1.role" watch
	run -100 $LB_WATCH -T 5 -f "$R/bs1.role" watch
	run -100 $LB_WATCH -c "$R/nocreds" -f "$R/bs1.role" check
	run -100 $LB_WATCH -f "$R/rs.role" watch
	run -0 $LB_WATCH -n -H "$R/hb" -k "$R/key" -f "$R/bs1.role" watch
	[ "$output" = "configuration OK" ]
	[ ! -e "$R/hb" ]
}

@test "the balancer alive but not balancing, its own check off: the backup judges it, it releases the VIP, the backup takes over" {
	snmp_env
	BEAT_OPTS=-S
	cluster
	grep -q -- " -q -S -s " "$R/lb1.conf"
	agents lb1
	watcher 2 lb1
	watcher 3 bs1
	watcher 4 bs2
	wait_until 10000 is 2 master
	wait_until 5000 all_served
	is 3 backup && is 4 backup
	# Its table goes; lc-role's own check would see it, but it is off.
	bg vips 0 bash -c "for i in \$(seq 3000); do ip netns exec $(ns 3) ip -br addr show dev eth0 | grep -q '192\\.0\\.2\\.100/' && ip netns exec $(ns 2) ip -br addr show dev eth0 | grep -q '192\\.0\\.2\\.100/' && echo both; [ -e $R/stop ] && break; sleep 0.005; done"
	hx 2 nft delete table netdev nonstop
	wait_until 15000 is 3 master
	touch "$R/stop"
	wait_until 5000 not_running "$(bg_pid vips)"
	[ ! -s "$R/vips.out" ]
	cat "$R/lw3/events"
	# The VIP does not serve while lb1's agent answers. (The agent reads
	# the kernel at most every 250 ms: the verdict may come before it has
	# seen the table go, so its dataplane word is not asserted.)
	grep -Eq "event=not-balancing subject=lb1 cluster=web node=bs1 vip=192.0.2.100:80 dataplane=[a-z/]+ agent=up" "$R/lw3/events"
	grep -q "event=demoted subject=lb1 cluster=web node=lb1 by=bs1" "$R/lw2/events"
	wait_until 5000 grep -q "event=giveback subject=lb1 cluster=web state=fault reason=check-failed" "$R/lw2/events"
	wait_until 5000 grep -q "event=takeover subject=bs1 cluster=web" "$R/lw3/events"
	! grep -q "event=not-balancing" "$R/lw4/events"
	! has_vip 2
	is 4 backup
	wait_until 5000 all_served
	# The hold-down over, the balancer takes back with its table rebuilt.
	wait_until 20000 is 2 master
	wait_until 5000 only_vip 2
	wait_until 5000 all_served
	hx 2 $LC_ROLE -s "$R/lw2/lc-role" check
}

@test "after a takeover the new balancer runs rs-probe | lc-role follow: a failed real server leaves its rotation and returns; giveback stops it; both are in the agent's event table" {
	snmp_env
	BEAT_OPTS="-c $SNMP_CREDS -P 500"
	EV3=$R/bs1/state/events
	mkdir -p "$R/bs1/state"
	cluster
	grep -q "^hook master $LB_WATCH -s $R/lw3 -f $R/bs1.role hook master$" "$R/bs1.conf"
	grep -qx "dp=nft eventlog=$EV3 hbstate=$R/hb3 creds=$SNMP_CREDS probe_ms=500" "$R/lw3/hooks"
	agents rs1 rs2 rs3 bs1
	wait_until 10000 is 2 master
	wait_until 5000 all_served
	# No prober on a backup.
	[ ! -e "$R/lw3/follow.pid" ]
	link_cut 2
	bg_stop beat2 KILL
	wait_until 10000 is 3 master
	wait_until 5000 all_served
	wait_until 5000 test -s "$R/lw3/follow.pid"
	# bs1's agent serves the takeover in nsEventTable.
	wait_until 5000 agent_event bs1 takeover "event=takeover subject=bs1 cluster=web state=master"
	local fp; fp=$(cat "$R/lw3/follow.pid")
	kill -0 "$fp"
	# rs2's service dies: it leaves bs1's rotation (interval 500 ms, fall 2).
	bg_stop srv6
	wait_until 10000 grep -q "event=rs-down rs=rs2" "$R/lw3/probe/events"
	wait_until 5000 no_rs2
	# It comes back and returns to the rotation.
	bg srv6 6 $PY "$R/t.py" serve rs2
	wait_until 10000 all_served
	# The balancer returns: bs1 gives back and its prober stops.
	link_mend 2
	beat 2 lb1
	wait_until 10000 is 2 master
	wait_until 5000 grep -q "event=giveback subject=bs1" "$R/lw3/events"
	wait_until 5000 not_running "$fp"
	[ ! -e "$R/lw3/follow.pid" ]
	wait_until 5000 only_vip 2
	wait_until 5000 agent_event bs1 giveback "event=giveback subject=bs1 cluster=web state=backup"
}
# agent_event NAME TYPE TEXT: the agent's event table has a TYPE row with TEXT.
agent_event() {
	local t x
	t=$(v3a "$1" snmpwalk -Oqv NONSTOP-MIB::nsEventType) || return 1
	x=$(v3a "$1" snmpwalk -Oqv NONSTOP-MIB::nsEventText) || return 1
	grep -qx "$2" <<<"$t" && grep -q -- "$3" <<<"$x"
}
no_rs2() { local o; o=$(serves 24); [[ $o != *rs2* && $o != *fail* && $o == *rs1=*rs3=* ]]; }

@test "fuzz lbwatch_msg: the status datagram decoder survives 30000 inputs" {
	command -v clang >/dev/null || skip "clang not installed"
	clang -g -O1 -fsanitize=fuzzer,address -D_GNU_SOURCE -I"$NONSTOP_TOP/lib" \
	    -I"$NONSTOP_TOP/cmd/lb-watch" "$NONSTOP_TOP/test/fuzz/lbwatch_msg.c" \
	    "$NONSTOP_TOP/cmd/lb-watch/msg.c" "$NONSTOP_TOP/lib/auth.c" \
	    -o "$R/fuzz" -lcrypto 2>"$R/cc.err" || {
		grep -q "fuzzer" "$R/cc.err" && skip "clang's libFuzzer runtime is missing"
		cat "$R/cc.err"
		false
	}
	mkdir -p "$R/corpus"
	# seed: a well-formed datagram (MAC added by the target), state master
	{ printf '\001NSLW\001\002\000\000web'; head -c 29 /dev/zero; printf 'lb1'; head -c 29 /dev/zero
	  printf 'bs1'; head -c 29 /dev/zero; printf '\000\000\000\000\000\000\000\001\000\000\000\000\000\000\000\002'
	  head -c 32 /dev/zero; } >"$R/corpus/seed"
	[ "$(wc -c <"$R/corpus/seed")" -eq 153 ]
	run -0 "$R/fuzz" -runs=30000 -max_len=300 "$R/corpus"
	[[ $output == *"Done 30000 runs"* ]]
}

@test "armed backups (-a) hold the table idle: the crash moves only the VIP; giveback keeps them armed" {
	BEAT_OPTS=-a
	cluster
	grep -qx "dp=nft armed=yes eventlog=\"\" hbstate=$R/hb3" "$R/lw3/hooks"
	wait_until 10000 is 2 master
	wait_until 5000 all_served
	# bs1 and bs2: the table is there, the VIP is not, and they do not balance.
	wait_until 5000 hx 3 $LC_ROLE -s "$R/lw3/lc-role" check
	hx 4 $LC_ROLE -s "$R/lw4/lc-role" check
	only_vip 2
	[ "$(cat "$R/lw3/role")" = bs ]
	link_cut 2
	bg_stop beat2 KILL
	wait_until 10000 is 3 master
	wait_until 5000 all_served
	[ "$(cat "$R/lw3/role")" = lb ]
	link_mend 2
	beat 2 lb1
	wait_until 10000 is 2 master
	wait_until 5000 grep -q "event=giveback subject=bs1" "$R/lw3/events"
	wait_until 5000 only_vip 2
	wait_until 5000 all_served
	[ "$(cat "$R/lw3/role")" = bs ]
	hx 3 $LC_ROLE -s "$R/lw3/lc-role" check
}

@test "watch: only an authenticated judge demotes, and only a master; the demotion fails the check until the hold-down ends" {
	topo_lan 7
	cat >"$R/t.py" <<-'EOP'
	import socket
	s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	s.bind(("0.0.0.0", 80)); s.listen(16)
	while True: s.accept()[0].close()
	EOP
	bg srv5 5 $PY "$R/t.py"
	# No ha-beat: its state files, written by hand. Nobody serves the VIP.
	mkdir -p "$R/hb2" "$R/hb3"
	echo master >"$R/hb2/state"
	echo backup >"$R/hb3/state"
	make_key "$R/key2" >/dev/null
	bg watch2 2 $LB_WATCH -e "" -T 100 -w 50 -D 1500 -H "$R/hb2" -k "$R/key" -s "$R/lw2" -f "$R/lb1.role" watch
	# A judge with the wrong key is not heard, and hears nobody.
	bg rogue 3 $LB_WATCH -e "" -T 100 -w 50 -F 2 -H "$R/hb3" -k "$R/key2" -s "$R/lw3" -f "$R/bs1.role" watch
	sleep 1.5
	[ ! -e "$R/lw2/demoted" ]
	! grep -q not-balancing "$R/lw3/events" 2>/dev/null
	HA_STATE=master run -0 hx 2 $LB_WATCH -s "$R/lw2" -S -f "$R/lb1.role" check
	bg_stop rogue
	grep -q "warning: rejected a datagram from 192.0.2.3: bad MAC" "$R/watch2.err"
	# The right key: bs1 judges lb1 (its VIP does not serve, rs1 does) and demotes it.
	bg watch3 3 $LB_WATCH -e "" -T 100 -w 50 -F 2 -H "$R/hb3" -k "$R/key" -s "$R/lw3" -f "$R/bs1.role" watch
	wait_until 5000 grep -q "event=not-balancing subject=lb1 cluster=web node=bs1 vip=192.0.2.100:80 dataplane=? agent=none" "$R/lw3/events"
	wait_until 5000 test -e "$R/lw2/demoted"
	wait_until 5000 grep -q "event=demoted subject=lb1 cluster=web node=lb1 by=bs1 holddown_ms=1500" "$R/lw2/events"
	HA_STATE=backup run -1 hx 2 $LB_WATCH -s "$R/lw2" -f "$R/lb1.role" check
	# lb1 steps down: bs1 stops judging, the order lapses, the check passes again.
	echo fault >"$R/hb2/state"
	wait_until 5000 grep -q "event=balancing\|no longer judging" "$R/lw3/events" "$R/watch3.err"
	wait_until 5000 bash -c "HA_STATE=fault ip netns exec $(ns 2) $LB_WATCH -q -s $R/lw2 -f $R/lb1.role check"
	# bs1, never master, was never demoted.
	[ ! -e "$R/lw3/demoted" ]
	# lb1 takes back, still not balancing: demoted again, for twice as long.
	echo master >"$R/hb2/state"
	wait_until 5000 grep -q "event=demoted subject=lb1 cluster=web node=lb1 by=bs1 holddown_ms=3000" "$R/lw2/events"
	grep -q "^until=[0-9]* by=bs1 n=1$" "$R/lw2/demoted"
	bg_stop watch3
	bg_stop watch2
	! grep -E "fatal" "$R/watch2.err" "$R/watch3.err"
	! grep -E "warning" "$R/watch3.err"
}

@test "no giveback (-G): the balancer returns and the primary backup keeps the role" {
	BEAT_OPTS=-G
	cluster
	grep -qx "preempt no" "$R/lb1.conf"
	wait_until 10000 is 2 master
	wait_until 5000 all_served
	link_cut 2
	bg_stop beat2 KILL
	wait_until 10000 is 3 master
	wait_until 5000 all_served
	link_mend 2
	beat 2 lb1
	wait_until 10000 is 2 backup
	sleep 1
	is 3 master
	only_vip 3
	all_served
	! grep -q "event=giveback subject=bs1" "$R/lw3/events"
}
