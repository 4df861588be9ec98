#!/usr/bin/env bats
# Non-stop TCP under ha-beat: a pair a (h2, better) and b (h3) hold the
# virtual IP; contrib/tcpr/tcpr-hook starts capture+sync on the master,
# the store on the backup, restore+application at takeover. The master
# dies mid-session; the clients on h1 carry on on the same connections.
load ../lib/common

HOOK=${TCPR_HOOK:-$NONSTOP_TOP/contrib/tcpr/tcpr-hook}
CLIENT=$NONSTOP_TOP/contrib/tcpr/tcpr-echo-client.py

setup() {
	need_root
	[ -x "$HA_BEAT" ] || skip "ha-beat not built in $BIN"
	[ -x "$BIN/tcpr-echod" ] || skip "tcpr-echod not built in $BIN"
	command -v python3 >/dev/null || skip "python3 not installed"
	command -v iptables >/dev/null || skip "iptables not installed"
	topo_lan 3
	D=$BATS_TEST_TMPDIR
	KEY=$(make_key "$D/ha.key")
	SKEY=$(make_key "$D/sync.key")
}

# nskill NS: kill every process in namespace NS until none is left. One
# pass is not enough: a hook or a shell pipeline that forks while we kill
# leaves a child nobody listed, running on in a namespace without a name.
nskill() {
	local r pids
	for ((r = 0; r < 100; r++)); do
		pids=$(ip netns pids "$1" 2>/dev/null)
		[ -n "$pids" ] || return 0
		# shellcheck disable=SC2086
		kill -9 $pids 2>/dev/null
		sleep 0.02
	done
	echo "nskill: processes left in $1: $(ip netns pids "$1" 2>/dev/null)" >&2
	return 1
}

teardown() {
	local ns
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${NS_P:-/}"); do
		nskill "$ns" || true
	done
	topo_teardown
}

# conf NODE PEER-ADDR: ha-beat.conf for node a (h2) or b (h3)
conf() {
	local self=$1 peer=$2 st
	cat <<C
group tcpr
interface eth0
interval 20
dead 25
key $KEY
node a 192.0.2.2 priority 100
node b 192.0.2.3 priority 90
self $self
vip 192.0.2.100/24
preempt no
C
	printf '%s\n' "bindir=$BIN" "rundir=$D/run-$self" "store=$D/store-$self" \
	    "key=$SKEY" "peer=$peer:7001" listen=7001 port=7007 >"$D/tcpr-$self.conf"
	for st in master backup fault stop; do
		echo "hook $st $HOOK -f $D/tcpr-$self.conf -- $BIN/tcpr-echod 192.0.2.100 7007"
	done
}

state_is() { [ "$(cat "$D/st-$1/state" 2>/dev/null)" = "$2" ]; }
stored() { [ "$($BIN/tcpr-sync -s "$D/store-$1" list 2>/dev/null | wc -l)" -eq "$2" ]; }
listening() { hx "$1" ss -Htln "sport = :7007" | grep -q .; }

@test "tcpr under ha-beat: 20 sessions survive the master's death" {
	local n=20 i
	conf a 192.0.2.3 >"$D/a.conf"
	conf b 192.0.2.2 >"$D/b.conf"
	mkdir -p "$D/st-a" "$D/st-b"
	bg hba 2 $HA_BEAT -s "$D/st-a" -f "$D/a.conf"
	wait_until 10000 state_is a master || { cat "$D/hba.err" "$D/a.conf"; false; }
	bg hbb 3 $HA_BEAT -s "$D/st-b" -f "$D/b.conf"
	wait_until 10000 state_is b backup
	wait_until 10000 listening 2 || { cat "$D/hba.err"; false; }
	wait_until 10000 grep -q "receiving on 7001" "$D/hbb.err"
	sleep 0.5	# the master's capture is up
	for ((i = 1; i <= n; i++)); do
		mkdir -p "$D/c$i"
		bg "cli$i" 1 python3 "$CLIENT" 192.0.2.100 7007 "$D/c$i" 20 5 20
	done
	for ((i = 1; i <= n; i++)); do
		wait_until 60000 test -e "$D/c$i/ready"
	done
	wait_until 10000 stored b "$n"
	sleep 0.5
	# the master dies: cable, then every process of it
	link_cut 2
	nskill "$(ns 2)"
	for ((i = 1; i <= n; i++)); do touch "$D/c$i/cut"; done
	wait_until 10000 state_is b master
	for ((i = 1; i <= n; i++)); do
		wait_until 60000 not_running "$(bg_pid "cli$i")"
		echo "client $i: $(bg_out "cli$i")"
		[[ $(bg_out "cli$i") == "ok sent="* ]]
		cmp "$D/c$i/sent" "$D/c$i/got"
	done
	grep "restored $n sessions" "$D/hbb.err"
	grep "tcpr-echod: ready, $n sessions resumed" "$D/hbb.err"
	# under the hook's lock the restore learnt where every peer was
	grep "learn: $n of $n peers answered" "$D/hbb.err"
	# the new master follows the restored sessions for the next failover
	grep -q "adopted .* sessions" "$D/hbb.err"
}

# crash H: cable cut, every process killed. reboot H: what a reboot
# leaves of a node: no sockets, no addresses but its own, no rules.
crash() {
	link_cut "$1"
	nskill "$(ns "$1")"
}
reboot() {
	hx "$1" ss -K state all '( sport = :7007 or dport = :7001 or sport = :7001 )' >/dev/null 2>&1 || true
	hx "$1" ip addr del 192.0.2.100/24 dev eth0 2>/dev/null || true
	hx "$1" iptables -F; hx "$1" iptables -X
	hx "$1" ip6tables -F; hx "$1" ip6tables -X
	rm -rf "$D/run-$2"
	link_mend "$1"
	# neighbours learnt again before ha-beat starts: a node that hears no
	# master within its dead time takes over (a split brain, for a moment)
	hx "$1" ping -c 1 -W 2 "192.0.2.$((5 - $1))" >/dev/null 2>&1 || true
}

@test "tcpr under ha-beat: 5 sessions across 10 failovers back and forth" {
	local n=5 rounds=10 i r m k hm hk
	conf a 192.0.2.3 >"$D/a.conf"
	conf b 192.0.2.2 >"$D/b.conf"
	mkdir -p "$D/st-a" "$D/st-b"
	bg hba 2 $HA_BEAT -s "$D/st-a" -f "$D/a.conf"
	wait_until 10000 state_is a master
	bg hbb 3 $HA_BEAT -s "$D/st-b" -f "$D/b.conf"
	wait_until 10000 state_is b backup
	wait_until 10000 listening 2
	wait_until 10000 grep -q "receiving on 7001" "$D/hbb.err"
	sleep 0.5
	for ((i = 1; i <= n; i++)); do
		mkdir -p "$D/c$i"
		bg "cli$i" 1 python3 "$CLIENT" 192.0.2.100 7007 "$D/c$i" 5 3 5 "$rounds"
	done
	for ((r = 1; r <= rounds; r++)); do
		local sfx=; ((r > 1)) && sfx=$r
		if ((r % 2)); then m=a hm=2 k=b hk=3; else m=b hm=3 k=a hk=2; fi
		for ((i = 1; i <= n; i++)); do
			wait_until 60000 test -e "$D/c$i/ready$sfx" || { echo "round $r client $i: $(bg_out "cli$i")"; tail -n 25 "$D/hba.err" "$D/hbb.err"; false; }
		done
		wait_until 10000 stored "$k" "$n"
		sleep 0.5
		crash "$hm"
		for ((i = 1; i <= n; i++)); do touch "$D/c$i/cut$sfx"; done
		wait_until 10000 state_is "$k" master
		# the dead node comes back as backup and takes the store
		reboot "$hm" "$m"
		: >"$D/hb$m.err"
		bg "hb$m" "$hm" $HA_BEAT -s "$D/st-$m" -f "$D/$m.conf"
		wait_until 10000 state_is "$m" backup
		wait_until 10000 grep -q "receiving on 7001" "$D/hb$m.err"
		echo "round $r: $m -> $k"
	done
	for ((i = 1; i <= n; i++)); do
		wait_until 60000 not_running "$(bg_pid "cli$i")"
		echo "client $i: $(bg_out "cli$i")"
		[[ $(bg_out "cli$i") == "ok sent="* ]]
		cmp "$D/c$i/sent" "$D/c$i/got"
	done
}

# The exact mode through the hook (consumed=yes): the peer sends 600
# bytes, which the application consumes, then 400 more, which it reads
# but has not consumed when the master dies. The capture held the
# acknowledgement of those back, so the peer still has them and resends
# them to the restored application: the 400 arrive once, none lost,
# none twice.
@test "tcpr under ha-beat, exact mode: input read but not consumed before the crash arrives once after it" {
	command -v cc >/dev/null || skip "no C compiler"
	[ -e "$BIN/../libtcpr.so" ] || skip "libtcpr.so not built"
	cat >"$D/xsrv.c" <<'C'
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "tcpr.h"

/*
 * xsrv PORT: a fresh session: read and consume 600 bytes, read 400 more
 * without consuming them; a restored one: read to offset 1000. The bytes
 * are summed by their offset.
 */
int
main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	unsigned char buf[4096];
	uint64_t in = 0, got = 0, sum = 0;
	int l, s, i, fresh;

	a.sin_port = htons((uint16_t)atoi(argv[1]));
	if ((l = tcpr_socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    tcpr_bind(l, (struct sockaddr *)&a, sizeof a) < 0 ||
	    tcpr_listen(l, 4) < 0)
		return 111;
	fprintf(stderr, "xsrv: ready, %d restored\n", tcpr_pending(l));
	if ((s = tcpr_accept(l, NULL, NULL)) < 0)
		return 111;
	fresh = !tcpr_restored(s);
	if (fresh)
		tcpr_manual(s, 1);
	tcpr_offsets(s, &in, NULL);
	while (in + got < 1000) {
		ssize_t n = tcpr_recv(s, buf, sizeof buf, 0), k;

		if (n <= 0)
			return 1;
		for (k = 0; k < n; k++)
			sum += buf[k] * (in + got + (uint64_t)k + 1);
		got += (uint64_t)n;
		if (fresh && got == 600) {
			tcpr_consumed(s, 600);
			fprintf(stderr, "xsrv: fresh consumed 600\n");
		}
	}
	fprintf(stderr, "xsrv: %s offset=%llu got=%llu sum=%llu\n",
	    fresh ? "fresh" : "resumed", (unsigned long long)in,
	    (unsigned long long)got, (unsigned long long)sum);
	for (i = 0; i < 6000; i++)
		usleep(10000);
	return 0;
}
C
	cc -Wall -Werror -I"$NONSTOP_TOP/libtcpr" -o "$D/xsrv" "$D/xsrv.c" \
	    -L"$BIN/.." -ltcpr -Wl,-rpath,"$BIN/.."
	cat >"$D/peer.py" <<'PY'
import os, socket, sys, time
d = sys.argv[1]
b = bytes(i % 251 for i in range(1000))
s = socket.create_connection(('192.0.2.100', 7007), timeout=10)
s.sendall(b[:600])
t0 = time.monotonic()
while time.monotonic() - t0 < 60 and not os.path.exists(d + '/more'):
    time.sleep(0.02)
s.sendall(b[600:])
while time.monotonic() - t0 < 90 and not os.path.exists(d + '/quit'):
    time.sleep(0.05)
PY
	local want400 i
	want400=$(python3 -c 'print(sum((i % 251) * (i + 1) for i in range(600, 1000)))')
	conf a 192.0.2.3 | sed "s|$BIN/tcpr-echod 192.0.2.100 7007|$D/xsrv 7007|" >"$D/a.conf"
	conf b 192.0.2.2 | sed "s|$BIN/tcpr-echod 192.0.2.100 7007|$D/xsrv 7007|" >"$D/b.conf"
	echo consumed=yes >>"$D/tcpr-a.conf"
	echo consumed=yes >>"$D/tcpr-b.conf"
	mkdir -p "$D/st-a" "$D/st-b"
	bg hba 2 $HA_BEAT -s "$D/st-a" -f "$D/a.conf"
	wait_until 10000 state_is a master || { cat "$D/hba.err"; false; }
	bg hbb 3 $HA_BEAT -s "$D/st-b" -f "$D/b.conf"
	wait_until 10000 state_is b backup
	wait_until 10000 listening 2 || { cat "$D/hba.err"; false; }
	wait_until 10000 grep -q "receiving on 7001" "$D/hbb.err"
	wait_until 10000 test -e "$D/run-a/consumed"
	sleep 0.5	# the master's capture is up
	bg peer 1 python3 "$D/peer.py" "$D"
	wait_until 20000 grep -q "xsrv: fresh consumed 600" "$D/hba.err" || { cat "$D/hba.err"; false; }
	wait_until 10000 eval '$BIN/tcpr-sync -s "$D/store-b" list | grep -q " rcv=600 "' ||
	    { $BIN/tcpr-sync -s "$D/store-b" list; cat "$D/hba.err"; false; }
	touch "$D/more"
	wait_until 10000 grep -q "xsrv: fresh offset=0 got=1000 " "$D/hba.err"
	# read, not consumed: the backup still stores 600
	sleep 1
	$BIN/tcpr-sync -s "$D/store-b" list | grep -q " rcv=600 "
	link_cut 2
	nskill "$(ns 2)"
	wait_until 10000 state_is b master
	wait_until 30000 grep -q "xsrv: resumed" "$D/hbb.err" || { cat "$D/hbb.err"; false; }
	grep "xsrv: resumed" "$D/hbb.err"
	grep -q "xsrv: ready, 1 restored" "$D/hbb.err"
	grep -q "xsrv: resumed offset=600 got=400 sum=$want400\$" "$D/hbb.err"
	touch "$D/quit"
}
