#!/bin/sh
# Guest side of test/lc-role-ipvs.bats (busybox sh, inside qemu): an LVS-DR
# cluster on one bridge: this host (root namespace) balances with IPVS,
# h1 is the client, h3-h5 the real servers rs1-rs3. Prints one
# "CHECK name ok" or "CHECK name fail: why" per check; exit 0.
set -u
V=192.0.2.100
fails=0
ok() { echo "CHECK $1 ok"; }
bad() { echo "CHECK $1 fail: $2"; fails=$((fails + 1)); }
# ipvsadm -Ln without the header and with blanks squeezed.
table() { ipvsadm -Ln | sed 1,3d | tr -s ' ' | sed 's/ *$//'; }
# NS N: connections from the client; prints "rs1=.. rs2=.. rs3=.."
count() {
	/usr/sbin/ip netns exec h1 sh -c '
	i=0; : >/tmp/c
	while [ $i -lt '"$1"' ]; do
		echo x | nc -w 3 '"$V"' 80 | head -n 1 >>/tmp/c
		i=$((i + 1))
	done
	for r in rs1 rs2 rs3; do printf "%s=%s " $r $(grep -c "^$r$" /tmp/c); done
	echo fail=$(grep -vc "^rs" /tmp/c)'
}
role() {
	cat <<EOR
role=lb host=lb1 cluster=web generation=$1 version=1
service=web vip=$V port=80 proto=tcp sched=$2 fwd=dr
lb=lb1 addr=192.0.2.2
rs=rs1 addr=192.0.2.3 weight=$3
rs=rs2 addr=192.0.2.4 weight=$4
rs=rs3 addr=192.0.2.5 weight=$5
EOR
}
active() { ipvsadm -Ln | awk -v a="192.0.2.$1:80" '$2 == a { print $5 }'; }
total() { [ "$(ipvsadm -Ln | awk '$1 == "->" { s += $5 } END { print s + 0 }')" = "$1" ]; }
# waitfor TENTHS CMD...: poll CMD every 0.1 s until it succeeds, at most TENTHS times.
waitfor() {
	n=$1; shift
	while [ "$n" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# --- topology ---
/usr/sbin/ip link add br0 type bridge forward_delay 0 stp_state 0
/usr/sbin/ip link set br0 up
/usr/sbin/ip addr add 192.0.2.2/24 dev br0
for i in 1 3 4 5; do
	/usr/sbin/ip netns add h$i
	/usr/sbin/ip link add v$i type veth peer name eth0 netns h$i
	/usr/sbin/ip link set v$i master br0 up
	/usr/sbin/ip -n h$i link set lo up
	/usr/sbin/ip -n h$i addr add 192.0.2.$i/24 dev eth0
	/usr/sbin/ip -n h$i link set eth0 up
done
role 1 rr 1 1 1 >/tmp/rr.role
sed 's/^role=lb host=lb1/role=rs host=rs/' /tmp/rr.role >/tmp/rs.role
for i in 3 4 5; do
	n=rs$((i - 2))
	printf '#!/bin/sh\necho %s\nread l\necho "%s $l"\n' $n $n >/tmp/srv$i
	chmod 755 /tmp/srv$i
	/usr/sbin/ip netns exec h$i lc-role -s /tmp/st$i apply -f /tmp/rs.role || bad rs-apply "rs $i"
	/usr/sbin/ip netns exec h$i nc -ll -p 80 -e /tmp/srv$i &
done
# The global addresses only: br0's state line and link-local address change
# by themselves as its ports come up.
br0_addrs() { /usr/sbin/ip -o addr show dev br0 scope global | awk '{ print $3, $4 }'; }
before_addr=$(br0_addrs)

# --- rr: apply, read back, traffic ---
lc-role -d ipvs -s /tmp/st -n apply -f /tmp/rr.role >/tmp/plan
if grep -q "^+ rs=rs3 service=web vip=$V addr=192.0.2.5 port=80 weight=1$" /tmp/plan &&
    [ -z "$(table)" ]; then ok dry-run; else bad dry-run "$(cat /tmp/plan)"; fi
lc-role -d ipvs -s /tmp/st apply -f /tmp/rr.role && ok apply-rr || bad apply-rr "exit $?"
exp="TCP $V:80 rr
 -> 192.0.2.3:80 Route 1 0 0
 -> 192.0.2.4:80 Route 1 0 0
 -> 192.0.2.5:80 Route 1 0 0"
got=$(table | sort)
[ "$got" = "$(echo "$exp" | sort)" ] && ok readback-rr || bad readback-rr "$(echo $got)"
/usr/sbin/ip addr show dev br0 | grep -q "inet $V/32" && ok vip || bad vip "no VIP on br0"
lc-role -d ipvs -s /tmp/st apply -f /tmp/rr.role && [ "$(table | sort)" = "$(echo "$exp" | sort)" ] &&
    ok idempotent || bad idempotent "$(table)"
lc-role -s /tmp/st show >/tmp/show
grep -q "^rs=rs2 service=web vip=$V addr=192.0.2.4 port=80 weight=1" /tmp/show &&
    ok show || bad show "$(cat /tmp/show)"
got=$(count 30)
[ "$got" = "rs1=10 rs2=10 rs3=10 fail=0" ] && ok traffic-rr || bad traffic-rr "$got"

# --- wrr 1:2:3: the service is changed in place ---
role 2 wrr 1 2 3 >/tmp/wrr.role
lc-role -s /tmp/st apply -f /tmp/wrr.role || bad apply-wrr "exit $?"
table | grep -q "^TCP $V:80 wrr$" && table | grep -q "^ -> 192.0.2.5:80 Route 3 " &&
    ok readback-wrr || bad readback-wrr "$(table)"
got=$(count 60)
[ "$got" = "rs1=10 rs2=20 rs3=30 fail=0" ] && ok traffic-wrr || bad traffic-wrr "$got"

# --- lc: two held connections; new ones go to the idle server ---
role 3 lc 1 1 1 >/tmp/lc.role
lc-role -s /tmp/st apply -f /tmp/lc.role || bad apply-lc "exit $?"
table | grep -q "^TCP $V:80 lc$" && ok readback-lc || bad readback-lc "$(table)"
/usr/sbin/ip netns exec h1 sh -c "sleep 60 | nc $V 80 >/tmp/h1" &
waitfor 50 total 1
/usr/sbin/ip netns exec h1 sh -c "sleep 60 | nc $V 80 >/tmp/h2" &
waitfor 50 total 2
got=$(count 5)
idle=
for i in 3 4 5; do [ "$(active $i)" = 0 ] && idle=rs$((i - 2)); done
[ -n "$idle" ] && [ "$got" = "$(for r in rs1 rs2 rs3; do
	[ $r = "$idle" ] && printf '%s=5 ' $r || printf '%s=0 ' $r; done)fail=0" ] &&
    ok traffic-lc || bad traffic-lc "idle=$idle got=$got table=$(table | tr '\n' ' ')"
# shellcheck disable=SC2046  # one pid per word
kill $(pidof sleep) 2>/dev/null
sleep 1

# --- wlc 1:2:3: six held connections spread 1:2:3 ---
role 4 wlc 1 2 3 >/tmp/wlc.role
lc-role -s /tmp/st apply -f /tmp/wlc.role || bad apply-wlc "exit $?"
table | grep -q "^TCP $V:80 wlc$" && ok readback-wlc || bad readback-wlc "$(table)"
k=0
while [ $k -lt 6 ]; do
	/usr/sbin/ip netns exec h1 sh -c "sleep 60 | nc $V 80 >/dev/null" &
	k=$((k + 1))
	waitfor 50 total $k
done
got="$(active 3) $(active 4) $(active 5)"
[ "$got" = "1 2 3" ] && ok traffic-wlc || bad traffic-wlc "active $got"
# shellcheck disable=SC2046  # one pid per word
kill $(pidof sleep) 2>/dev/null
sleep 1

# --- follow: quiesce, drain, remove, return; a held connection survives ---
lc-role -s /tmp/st apply -f /tmp/wrr.role || bad apply-wrr2 "exit $?"
mkfifo /tmp/ev /tmp/in
lc-role -s /tmp/st -t 1500 follow -f /tmp/wrr.role </tmp/ev >/tmp/follow.out 2>/tmp/follow.err &
exec 7>/tmp/ev
# Hold a connection to rs3 (wrr sends the 4th-6th of a cycle there).
k=0
while [ $k -lt 6 ]; do
	/usr/sbin/ip netns exec h1 sh -c "nc $V 80 </tmp/in >/tmp/held$k" &
	exec 8<>/tmp/in
	waitfor 30 grep -q rs /tmp/held$k
	grep -q rs3 /tmp/held$k 2>/dev/null && break
	exec 8>&-
	k=$((k + 1))
done
grep -q rs3 /tmp/held$k && ok hold-rs3 || bad hold-rs3 "no connection on rs3"
echo "event=rs-down rs=rs3 addr=192.0.2.5" >&7
waitfor 50 sh -c "ipvsadm -Ln | grep -q '192.0.2.5:80 *Route *0 *1 '"
table | grep -q "^ -> 192.0.2.5:80 Route 0 1 " && ok quiesce || bad quiesce "$(table | tr '\n' ' ')"
got=$(count 12)
# The wrr cycle may start anywhere after a weight change: 3-5 on rs1.
case $got in
"rs1=3 rs2=9 rs3=0 fail=0" | "rs1=4 rs2=8 rs3=0 fail=0" | "rs1=5 rs2=7 rs3=0 fail=0")
	ok traffic-quiesced ;;
*) bad traffic-quiesced "$got" ;;
esac
echo ping >&8
waitfor 300 grep -q "rs3 ping" /tmp/held$k && ok held-survives || bad held-survives "$(cat /tmp/held$k)"
exec 8>&-
waitfor 100 sh -c "! ipvsadm -Ln | grep -q 192.0.2.5:80"
table | grep -q "192.0.2.5:80" && bad removed "$(table | tr '\n' ' ')" || ok removed
echo "event=weight rs=rs1 weight=4" >&7
echo "event=rs-up rs=rs3 addr=192.0.2.5" >&7
waitfor 50 sh -c "ipvsadm -Ln | grep -q '192.0.2.5:80 *Route *3 '"
table | grep -q "^ -> 192.0.2.3:80 Route 4 " && table | grep -q "^ -> 192.0.2.5:80 Route 3 " &&
    ok follow-up-weight || bad follow-up-weight "$(table | tr '\n' ' ')"
exec 7>&-
sleep 0.5
grep -q "event=quiesced rs=rs3" /tmp/follow.out && [ ! -s /tmp/follow.err ] &&
    ok follow-events || bad follow-events "$(cat /tmp/follow.out /tmp/follow.err)"

# --- undo: nothing of ours left ---
lc-role -s /tmp/st undo || bad undo "exit $?"
[ -z "$(table)" ] && [ "$(br0_addrs)" = "$before_addr" ] &&
    ok undo || bad undo "$(table; br0_addrs | tr '\n' ' ')"
# Somebody else's service is left alone by apply and undo.
ipvsadm -A -t 192.0.2.2:8080 -s rr
lc-role -s /tmp/st apply -f /tmp/rr.role && lc-role -s /tmp/st undo &&
    [ "$(table)" = "TCP 192.0.2.2:8080 rr" ] && ok others-kept || bad others-kept "$(table)"
# A backup server has the services but not the VIP; -r lb adds the VIP.
sed 's/^role=lb host=lb1/role=bs host=bs1/' /tmp/rr.role >/tmp/bs.role
lc-role -s /tmp/sb apply -f /tmp/bs.role || bad bs-apply "exit $?"
table | grep -q "^TCP $V:80 rr$" && ! /usr/sbin/ip addr show dev br0 | grep -q "inet $V/" &&
    ok bs-ready || bad bs-ready "$(table; /usr/sbin/ip addr show dev br0)"
lc-role -s /tmp/sb -r lb apply -f /tmp/bs.role &&
    /usr/sbin/ip addr show dev br0 | grep -q "inet $V/32" && [ "$(count 3)" = "rs1=1 rs2=1 rs3=1 fail=0" ] &&
    ok bs-takeover || bad bs-takeover "$(table)"
lc-role -s /tmp/sb undo
# A quiesced server without connections leaves at once, not after -t.
# (A new port: IPVS keeps removed servers' counters while their old
# connections expire.)
sed 's/port=80 /port=8081 /' /tmp/rr.role >/tmp/p2.role
lc-role -s /tmp/sd apply -f /tmp/p2.role
mkfifo /tmp/ev2
lc-role -s /tmp/sd -t 60000 follow -f /tmp/p2.role </tmp/ev2 >/tmp/f2.out 2>&1 &
exec 6>/tmp/ev2
echo "event=rs-down rs=rs2 addr=192.0.2.4" >&6
waitfor 50 grep -q "event=removed rs=rs2" /tmp/f2.out && ! table | grep -q 192.0.2.4:8081 &&
    ok drained-early || bad drained-early "$(cat /tmp/f2.out; table | tr '\n' ' ')"
exec 6>&-
sleep 0.3
lc-role -s /tmp/sd undo
# Several batches of real-server changes: 300 servers, then all weights.
{
	echo "role=lb host=lb1 cluster=big generation=1 version=1"
	echo "service=big vip=192.0.2.200 port=80 proto=tcp sched=wrr fwd=dr"
	echo "lb=lb1 addr=192.0.2.2"
	i=0
	while [ $i -lt 300 ]; do
		echo "rs=r$i addr=10.7.$((i / 250)).$((i % 250 + 1)) weight=1"
		i=$((i + 1))
	done
} >/tmp/big.role
sed 's/weight=1$/weight=2/' /tmp/big.role >/tmp/big2.role
lc-role -d ipvs -i br0 -s /tmp/sbig apply -f /tmp/big.role &&
    [ "$(ipvsadm -Ln -t 192.0.2.200:80 | awk '$3 == "Route" && $4 == 1' | wc -l)" = 300 ] &&
    lc-role -s /tmp/sbig -i br0 apply -f /tmp/big2.role &&
    [ "$(ipvsadm -Ln -t 192.0.2.200:80 | awk '$3 == "Route" && $4 == 2' | wc -l)" = 300 ] &&
    lc-role -s /tmp/sbig undo && ! ipvsadm -Ln | grep -q 192.0.2.200 &&
    ok batches || bad batches "$(ipvsadm -Ln -t 192.0.2.200:80 | wc -l)"
echo "CHECKS done fails=$fails"
exit 0
