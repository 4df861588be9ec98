#!/usr/bin/env bash
# lc-role benchmarks: apply a 1,000-real-server service on nftables (here,
# in a namespace) and on IPVS (in the qemu guest, under software emulation),
# and the rs-probe event -> dataplane change latency of lc-role follow.
# Targets (issue 6): apply <= 200 ms; event -> change <= 5 ms.
# Usage: test/bench/lc-role.sh [nrs]   (root; NONSTOP_BIN as for the tests)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$(dirname "$here")")
BIN=${NONSTOP_BIN:-$top/build/bin}
LC_ROLE=${LC_ROLE:-$BIN/lc-role}
N=${1:-1000}
ns=lcbench$$
tmp=$(mktemp -d)
trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$tmp"' EXIT

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# The role: one service, N real servers in 10.9.0.0/16.
role() {
	echo "role=lb host=lb1 cluster=bench generation=$1 version=1"
	echo "service=web vip=10.9.255.1 port=80 proto=tcp sched=$2 fwd=dr"
	echo "lb=lb1 addr=10.9.255.2"
	local i
	for ((i = 0; i < N; i++)); do
		echo "rs=rs$i addr=10.9.$((i / 250)).$((i % 250 + 1)) weight=$(( ${3:-1} + i % 3 ))"
	done
}
role 1 wrr >"$tmp/a.role"
role 2 wrr 2 >"$tmp/b.role"

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

best() { sort -n | head -n 1; }
for k in 1 2 3 4 5; do
	t=$(date +%s%N)
	ip netns exec "$ns" $LC_ROLE -q -d nft -s "$tmp/st" apply -f "$tmp/a.role"
	ms "$t" >>"$tmp/first"
	t=$(date +%s%N)
	ip netns exec "$ns" $LC_ROLE -q -s "$tmp/st" apply -f "$tmp/a.role"
	ms "$t" >>"$tmp/again"
	t=$(date +%s%N)
	ip netns exec "$ns" $LC_ROLE -q -s "$tmp/st" apply -f "$tmp/b.role"
	ms "$t" >>"$tmp/weights"
	ip netns exec "$ns" $LC_ROLE -q -s "$tmp/st" undo
done
echo "nft apply $N rs (new service, whole process): best $(best <"$tmp/first") ms of 5"
echo "nft apply $N rs (unchanged): best $(best <"$tmp/again") ms of 5"
echo "nft apply $N rs (every weight changed): best $(best <"$tmp/weights") ms of 5"

# --- follow: event -> dataplane latency (lc-role's own us= figures) ------
follow_bench() {
	local n=$1 saved=$N
	N=$n; role 1 wrr >"$tmp/f.role"; N=$saved
	ip netns exec "$ns" $LC_ROLE -q -d nft -s "$tmp/st" apply -f "$tmp/f.role"
	for ((k = 0; k < 200; k++)); do
		echo "event=weight rs=rs$((k % n)) weight=$((k % 5 + 1))"
	done | ip netns exec "$ns" $LC_ROLE -s "$tmp/st" follow -f "$tmp/f.role" >"$tmp/follow"
	sed -n 's/.* us=\([0-9]*\)$/\1/p' "$tmp/follow" | sort -n >"$tmp/us"
	echo "nft follow event->change with $n rs: median $(sed -n "$(( $(wc -l <"$tmp/us") / 2 + 1 ))p" "$tmp/us") us, max $(tail -n 1 "$tmp/us") us over $(wc -l <"$tmp/us") events"
	ip netns exec "$ns" $LC_ROLE -q -s "$tmp/st" undo
}
follow_bench 10
follow_bench 100
follow_bench "$N"

# --- IPVS in the guest ---------------------------------------------------
cat >"$tmp/guest.sh" <<'EOG'
/usr/sbin/ip link add eth0 type veth peer name eth1
/usr/sbin/ip link set eth0 up; /usr/sbin/ip link set eth1 up
/usr/sbin/ip addr add 10.9.255.2/16 dev eth0
# busybox date has no %N: /proc/uptime counts in 10 ms.
up() { read u _ </proc/uptime; echo "${u%.*}${u#*.}0"; }
for k in 1 2 3; do
	a=$(up); lc-role -q -d ipvs -i eth0 -s /tmp/st apply -f /t/a.role || echo "GUEST apply failed"; b=$(up)
	lc-role -q -d ipvs -i eth0 -s /tmp/st apply -f /t/b.role || echo "GUEST apply failed"; c=$(up)
	echo "GUEST new=$((b - a)) weights=$((c - b)) rs=$(ipvsadm -Ln | grep -c Route)"
	lc-role -q -s /tmp/st undo
done
EOG
if out=$(NONSTOP_BIN=$BIN "$top/test/qemu/run-guest" "$tmp/guest.sh" "$tmp/a.role" "$tmp/b.role" 2>&1); then
	echo "$out" | grep '^GUEST' | sed 's/^GUEST /ipvs (qemu TCG guest) apply ms: /'
else
	echo "ipvs: not measured: $(echo "$out" | tail -n 1)"
fi
