#!/usr/bin/env bash
# lc-role benchmarks, each against a peer measured in the same run:
#  - apply a 1,000-real-server service on nftables (in a namespace here)
#    vs `nft -f` loading the very ruleset lc-role made;
#  - follow: rs-probe event line -> dataplane changed (lc-role's own us=
#    figure: from reading the line to the kernel's ack), median and p99 at
#    10, 100 and 1,000 servers, vs one `nft -f` process making a one-slot
#    change (the floor of any follower driving the nft command) and vs
#    `nft -f` reloading the whole ruleset (a follower that regenerates it);
#  - follow at 1,000 servers again with -R (real-time priority, memory
#    locked), and end to end (stdin -> stdout) without and with -R, in the
#    same run: the tails come from waiting for the CPU on a loaded host;
#  - the same on IPVS in the qemu guest (software emulation: slower than
#    real hardware), vs ipvsadm -R (apply) and ipvsadm -e (one event).
# Set LC_BENCH_NO_IPVS=1 to leave out the guest (minutes under TCG).
# Targets (issue 6): apply <= 200 ms; event -> change <= 5 ms.
# Usage: test/bench/lc-role.sh [nrs] [events]   (root; NONSTOP_BIN as for the tests)
# LC_ROLE is called unquoted on purpose (it may be "valgrind .../lc-role").
# shellcheck disable=SC2086
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$(dirname "$here")")
BIN=${NONSTOP_BIN:-$top/build/bin}
LC_ROLE=${LC_ROLE:-$BIN/lc-role}
N=${1:-1000}
EV=${2:-150}
ns=lcbench$$
tmp=$(mktemp -d)
trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$tmp"' EXIT

# stats FILE: "median X p99 Y (n=Z)" of the numbers in FILE, one per line.
stats() {
	local n
	sort -n "$1" >"$1.s"
	n=$(wc -l <"$1.s")
	[ "$n" -gt 0 ] || { echo "no samples"; return; }
	echo "median $(sed -n "$((n / 2 + 1))p" "$1.s") p99 $(sed -n "$(((n * 99 + 99) / 100))p" "$1.s") (n=$n)"
}

# role N GEN SCHED [W0]: one service, N real servers in 10.9.0.0/16.
role() {
	echo "role=lb host=lb1 cluster=bench generation=$2 version=1"
	echo "service=web vip=10.9.255.1 port=80 proto=tcp sched=$3 fwd=dr"
	echo "lb=lb1 addr=10.9.255.2"
	local i
	for ((i = 0; i < $1; i++)); do
		echo "rs=rs$i addr=10.9.$((i / 250)).$((i % 250 + 1)) weight=$(( ${4:-1} + i % 3 ))"
	done
}
# events N COUNT: a server goes down, comes back, another's weight changes.
events() {
	local k s
	for ((k = 0; k < $2; k++)); do
		s=$(( k / 3 ))
		s=$(( (s * 7 + 1) % $1 ))
		case $((k % 3)) in
		0) echo "event=rs-down rs=rs$s addr=10.9.$((s / 250)).$((s % 250 + 1)) reason=timeout" ;;
		1) echo "event=rs-up rs=rs$s addr=10.9.$((s / 250)).$((s % 250 + 1))" ;;
		2) echo "event=weight rs=rs$(( (s + 3) % $1 )) weight=$((k % 7 + 4))" ;;
		esac
	done
}
role "$N" 1 wrr >"$tmp/a.role"
role "$N" 2 wrr 2 >"$tmp/b.role"
for n in 10 100 "$N"; do
	role "$n" 1 wrr >"$tmp/f$n.role"
	events "$n" "$EV" >"$tmp/ev$n"
done

# --- nftables: the neighbours are static entries on a veth -------------
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add eth0 type veth peer name eth1
ip -n "$ns" link set eth0 up
ip -n "$ns" link set eth1 up
ip -n "$ns" addr add 10.9.255.2/16 dev eth0
for ((i = 0; i < N; i++)); do
	printf 'neigh add 10.9.%d.%d lladdr 02:00:00:%02x:%02x:01 dev eth0 nud permanent\n' \
	    $((i / 250)) $((i % 250 + 1)) $((i / 250)) $((i % 250))
done | ip -n "$ns" -batch -
inns() { ip netns exec "$ns" "$@"; }

# Times in us inside the namespace (no ip-netns-exec start-up counted).
cat >"$tmp/time.sh" <<'EOS'
# time.sh OUT CMD...: append CMD's wall time in us to OUT; fail with CMD.
out=$1; shift
t0=${EPOCHREALTIME/./}
"$@"
echo $(( ${EPOCHREALTIME/./} - t0 )) >>"$out"
EOS
tm() { local out=$1; shift; inns bash "$tmp/time.sh" "$out" "$@"; }

for k in 1 2 3 4 5; do
	tm "$tmp/first" $LC_ROLE -q -d nft -s "$tmp/st" apply -f "$tmp/a.role"
	tm "$tmp/again" $LC_ROLE -q -s "$tmp/st" apply -f "$tmp/a.role"
	tm "$tmp/weights" $LC_ROLE -q -s "$tmp/st" apply -f "$tmp/b.role"
	inns nft list table netdev nonstop >"$tmp/ruleset.nft"
	inns $LC_ROLE -q -s "$tmp/st" undo
	# Peer: nft loading the same table (the maps' elements included).
	tm "$tmp/nft-f" nft -f "$tmp/ruleset.nft"
	inns nft delete table netdev nonstop
done
ms() { awk '{ printf "%.1f\n", $1 / 1000 }' "$1" >"$1.ms"; stats "$1.ms"; }
echo "nft apply $N rs, new service (whole lc-role process), ms: $(ms "$tmp/first")"
echo "nft apply $N rs, unchanged, ms: $(ms "$tmp/again")"
echo "nft apply $N rs, every weight changed, ms: $(ms "$tmp/weights")"
echo "peer: nft -f of the same ruleset, ms: $(ms "$tmp/nft-f")"

# -R where this lc-role has it (a "before" build may not).
RT=-R
$LC_ROLE -R -V >/dev/null 2>&1 || RT=

# follow_run N [OPTS]: the events at N servers through follow, its us= figures.
follow_run() {
	local n=$1 o=${2:-}
	inns $LC_ROLE -q -d nft -s "$tmp/st" apply -f "$tmp/f$n.role"
	# One event at a time, as rs-probe sends them; drain 0: a server that
	# goes down is removed at once and comes back through the neighbours.
	while read -r l; do echo "$l"; sleep 0.003; done <"$tmp/ev$n" |
	    inns $LC_ROLE $o -t 0 -s "$tmp/st" follow -f "$tmp/f$n.role" >"$tmp/follow$n"
	sed -n 's/.* us=\([0-9]*\)$/\1/p' "$tmp/follow$n" >"$tmp/us$n$o"
	echo "nft follow${o:+ $o} event->change, $n rs, us: $(stats "$tmp/us$n$o")"
	if grep -q "applied=no" "$tmp/follow$n"; then
		echo "nft follow $n rs: some changes refused:"
		grep "applied=no" "$tmp/follow$n" | head -n 3
	fi
	inns $LC_ROLE -q -s "$tmp/st" check || echo "nft follow $n rs: check found differences"
}

follow_nft() {
	local n=$1 k
	follow_run "$n"
	[ "$n" != "$N" ] || [ -z "$RT" ] || follow_run "$n" -R
	# Peers, on the table as lc-role left it.
	inns nft list table netdev nonstop >"$tmp/ruleset$n.nft"
	local key; key=$(sed -n 's/.*map s_\([0-9a-f_t]*\) {.*/\1/p' "$tmp/ruleset$n.nft" | head -n 1)
	for ((k = 0; k < 30; k++)); do
		printf 'delete element netdev nonstop s_%s { 0 }\nadd element netdev nonstop s_%s { 0 : 02:00:00:00:00:%02x }\n' \
		    "$key" "$key" $((k % 2 + 1)) >"$tmp/one.nft"
		tm "$tmp/peer1-$n" nft -f "$tmp/one.nft"
	done
	{ echo "delete table netdev nonstop"; cat "$tmp/ruleset$n.nft"; } >"$tmp/reload$n.nft"
	for ((k = 0; k < 10; k++)); do
		tm "$tmp/peerall-$n" nft -f "$tmp/reload$n.nft"
	done
	echo "peer: nft -f one-slot change, $n rs, us: $(stats "$tmp/peer1-$n")"
	echo "peer: nft -f reload of the whole table, $n rs, us: $(stats "$tmp/peerall-$n")"
	inns $LC_ROLE -q -s "$tmp/st" undo
}
follow_nft 10
follow_nft 100
follow_nft "$N"

# End to end, seen from outside: the event written to lc-role's stdin ->
# its line read back from stdout (pipes and wake-ups included).
if command -v python3 >/dev/null; then
	cat >"$tmp/e2e.py" <<'EOP'
import os, select, subprocess, sys, time
p = subprocess.Popen(sys.argv[2:], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
out = os.fdopen(p.stdout.fileno(), "rb", buffering=0)
buf = b""
with open(sys.argv[1]) as evs, open(os.environ["E2E_OUT"], "w") as res:
    for ev in evs:
        time.sleep(0.003)
        t0 = time.perf_counter()
        p.stdin.write(ev.encode()); p.stdin.flush()
        # A line per change; an event that changes nothing has none.
        while b"\n" not in buf:
            if not select.select([out], [], [], 1.0)[0]:
                break
            buf += out.read(4096)
        if b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if b" us=" in line:
                res.write("%d\n" % ((time.perf_counter() - t0) * 1e6))
p.stdin.close(); p.wait()
EOP
	# With -R the measuring script itself may wait for the CPU to read
	# the line: a third run has it real-time too (chrt), to tell apart.
	for o in "" $RT ${RT:+-Rh}; do
		inns $LC_ROLE -q -d nft -s "$tmp/st" apply -f "$tmp/f$N.role"
		h=
		[ "$o" != -Rh ] || { command -v chrt >/dev/null && h="chrt -r 4"; } || continue
		# A long drain: each event makes exactly one line.
		E2E_OUT=$tmp/e2e$o inns $h python3 "$tmp/e2e.py" "$tmp/ev$N" \
		    $LC_ROLE ${o:+-R} -t 600000 -s "$tmp/st" follow -f "$tmp/f$N.role"
		echo "nft follow${o:+ -R} end to end (stdin -> stdout)${h:+, the script at real-time too}, $N rs, us: $(stats "$tmp/e2e$o")"
		inns $LC_ROLE -q -s "$tmp/st" undo
	done
fi
[ -z "${LC_BENCH_NO_IPVS:-}" ] || exit 0

# --- IPVS in the guest ---------------------------------------------------
cat >"$tmp/guest.sh" <<EOG
N=$N
EOG
cat >>"$tmp/guest.sh" <<'EOG'
/usr/sbin/ip link set lo up
/usr/sbin/ip link add eth0 type veth peer name eth1
/usr/sbin/ip link set eth0 up; /usr/sbin/ip link set eth1 up
/usr/sbin/ip addr add 10.9.255.2/16 dev eth0
# busybox date has no %N: /proc/uptime counts in 10 ms.
up() { read u _ </proc/uptime; echo "${u%.*}${u#*.}0"; }
for k in 1 2 3; do
	a=$(up); lc-role -q -d ipvs -i eth0 -s /tmp/st apply -f /t/a.role || echo "GUEST apply failed"; b=$(up)
	lc-role -q -d ipvs -i eth0 -s /tmp/st apply -f /t/b.role || echo "GUEST apply failed"; c=$(up)
	ipvsadm -S -n >/tmp/saved
	echo "GUEST apply new=$((b - a)) weights=$((c - b)) rs=$(ipvsadm -Ln | grep -c Route)"
	lc-role -q -s /tmp/st undo
	a=$(up); ipvsadm -R </tmp/saved; b=$(up)
	echo "GUEST peer ipvsadm-R=$((b - a)) rs=$(ipvsadm -Ln | grep -c Route)"
	ipvsadm -C
done
for n in 10 100 $N; do
	lc-role -q -d ipvs -i eth0 -s /tmp/st apply -f /t/f$n.role
	while read -r l; do echo "$l"; sleep 0.01; done </t/ev$n |
	    lc-role -t 0 -s /tmp/st follow -f /t/f$n.role >/tmp/follow
	sed -n "s/.* us=\([0-9]*\)$/GUEST us$n \1/p" /tmp/follow
	grep -q applied=no /tmp/follow && echo "GUEST refused $n"
	# Peer: one ipvsadm -e per event (mean over 100: no finer clock here).
	a=$(up)
	i=0
	while [ $i -lt 100 ]; do
		ipvsadm -e -t 10.9.255.1:80 -r 10.9.0.$((i % n + 1)):80 -g -w $((i % 5 + 1))
		i=$((i + 1))
	done
	b=$(up)
	echo "GUEST peer-e $n $(( (b - a) * 10 ))"
	lc-role -q -s /tmp/st undo
done
EOG
files="$tmp/a.role $tmp/b.role"
for n in 10 100 "$N"; do files="$files $tmp/f$n.role $tmp/ev$n"; done
# shellcheck disable=SC2086
if out=$(NONSTOP_BIN=$BIN NONSTOP_QEMU_TIMEOUT=600 "$top/test/qemu/run-guest" "$tmp/guest.sh" $files 2>&1); then
	echo "$out" | sed -n 's/^GUEST apply /ipvs (qemu TCG guest) apply ms: /p'
	echo "$out" | sed -n 's/^GUEST peer ipvsadm-R=/peer: ipvsadm -R of the same table (guest) ms: /p'
	for n in 10 100 "$N"; do
		echo "$out" | sed -n "s/^GUEST us$n //p" >"$tmp/gus$n"
		echo "ipvs (guest) follow event->change, $n rs, us: $(stats "$tmp/gus$n")"
		echo "peer: ipvsadm -e (guest), $n rs, mean us: $(echo "$out" | sed -n "s/^GUEST peer-e $n //p")"
	done
	echo "$out" | grep '^GUEST refused' || true
else
	echo "ipvs: not measured: $(echo "$out" | tail -n 1)"
fi
