# ha-beat test helpers: a group of nodes on topo_lan hosts 1..N.
# hb_conf N [directive...]: write $T/hb.conf for an N-node group a,b,c,...
# with priorities 100, 90, 80, ... on 192.0.2.1..N, VIPs .100 and ::100.
T=${BATS_TEST_TMPDIR:-/tmp}
HB_NAMES=(x a b c d e f g h)

hb_conf() {
	local n=$1 i; shift
	{
		echo "group web"
		echo "interface eth0"
		echo "interval ${HB_INTERVAL:-10}"
		echo "dead 3"
		echo "key $T/key"
		for ((i = 1; i <= n; i++)); do
			echo "node ${HB_NAMES[$i]} 192.0.2.$i priority $((110 - 10 * i))"
		done
		echo "vip 192.0.2.100/24 2001:db8::100/64"
		echo "lease ${HB_LEASE:-2}"
		printf '%s\n' "$@"
	} >"$T/hb.conf"
	[ -f "$T/key" ] || make_key "$T/key" >/dev/null
}

# hb_start I [args]: ha-beat as node I in host I, state in $T/sI.
hb_start() {
	local i=$1; shift
	mkdir -p "$T/s$i"
	bg "hb$i" "$i" $HA_BEAT -f "$T/hb.conf" -N "${HB_NAMES[$i]}" -s "$T/s$i" "$@"
}
hb_state() { cat "$T/s$1/state" 2>/dev/null; }
hb_is() { [ "$(hb_state "$1")" = "$2" ]; }
# has_vip I: host I holds the IPv4 VIP.
has_vip() { hx "$1" ip -4 -o addr show dev eth0 | grep -q ' 192\.0\.2\.100/'; }
has_vip6() { hx "$1" ip -6 -o addr show dev eth0 | grep -q ' 2001:db8::100/'; }
# holders N: how many of hosts 1..N hold the VIP.
holders() {
	local n=$1 i c=0
	for ((i = 1; i <= n; i++)); do has_vip "$i" && c=$((c + 1)); done
	echo "$c"
}
# The VIP is held by host I alone among 1..N.
sole_holder() {
	local n=$1 h=$2 i
	for ((i = 1; i <= n; i++)); do
		if [ "$i" = "$h" ]; then has_vip "$i" || return 1
		else ! has_vip "$i" || return 1; fi
	done
}
hb_stats() {
	kill -USR1 "$(bg_pid "hb$1")"
	wait_until 2000 grep -q '^event=stats' "$T/hb$1.out"
	grep '^event=stats' "$T/hb$1.out" | tail -n 1
}
