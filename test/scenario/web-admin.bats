#!/usr/bin/env bats
# An administrator in headless Chromium on the admin host (a namespace,
# with lighttpd and lc-web; slapd reached over its ldapi socket): logs in,
# creates a cluster, sees it with the live status the balancer's lc-agent
# serves over SNMPv3, drains a real server. Each apply pushes the
# balancer's role file to its lc-agent, which runs lc-role (nftables DR);
# a client sees the balancer change. Screenshots are kept in $WEB_SHOTS
# (default test/artifacts/web/).
load ../lib/common
load ../lib/slapd
load ../lib/web
load ../lib/snmpd

LC_ROLE=${LC_ROLE:-$BIN/lc-role}
PY=${PY:-/usr/bin/python3}
CHROMIUM=${CHROMIUM:-$(command -v chromium || echo /usr/bin/chromium)}

setup() {
	need_root
	need_web
	[ -x "$CHROMIUM" ] || skip "chromium not installed (Debian package chromium)"
	nft list tables >/dev/null 2>&1 || skip "nftables unavailable"
	[ -x "${LC_ROLE%% *}" ] || skip "lc-role not built"
	SHOTS=${WEB_SHOTS:-$NONSTOP_TOP/test/artifacts/web}
	mkdir -p "$SHOTS"
	R=$BATS_TEST_TMPDIR
}

teardown() {
	[ -f "$BATS_TEST_TMPDIR/lb1/target" ] && snmpd_stop lb1
	web_stop
	slapd_stop_all
	topo_teardown
}

# The browser runs on the admin host h5, next to lighttpd.
drive() {
	hx 5 $PY "$NONSTOP_TOP/test/web/drive.py" "$SHOTS" "$@"
}

# Where new connections to the VIP land, from the client h1: "rs1=N rs2=M".
spread() {
	hx 1 $PY - "$1" <<-'EOP'
	import socket, sys, collections
	c = collections.Counter()
	for i in range(int(sys.argv[1])):
	    try:
	        s = socket.create_connection(("192.0.2.100", 80), 3)
	        c[s.makefile().readline().strip() or "empty"] += 1
	        s.close()
	    except OSError:
	        c["fail"] += 1
	print(" ".join("%s=%d" % kv for kv in sorted(c.items())))
	EOP
}

@test "web-admin: log in, create a cluster, see it live, drain a real server" {
	[ -x "${LC_AGENT%% *}" ] || skip "lc-agent not built"
	snmp_env
	# h1 a client, h2 the balancer lb1 (snmpd + lc-agent), h3 and h4 the
	# real servers rs1 and rs2, h5 the admin host.
	topo_lan 5
	WEB_HOST=5 web_boot
	echo "snmp=$SNMP_CREDS" >>"$WT/lc-web.conf"
	$LCB host add lb1 addr=192.0.2.2 roles=lb,bs agent=161 >/dev/null
	$LCB host add rs1 addr=192.0.2.3 roles=rs >/dev/null
	$LCB host add rs2 addr=192.0.2.4 roles=rs >/dev/null
	for i in 3 4; do
		bg "srv$i" $i $PY -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 80)); s.listen(64)
while True:
    c, _ = s.accept(); c.sendall((sys.argv[1] + "\n").encode()); c.close()
' "rs$((i - 2))"
	done
	# The balancer's agent: a role file pushed to it is applied with
	# lc-role (its state here); what rs-probe decided is in its state dir.
	printf '#!/bin/sh\nexec %s -q -s %s "$@"\n' "$LC_ROLE" "$R/st2" >"$R/lc-role-lb1"
	chmod +x "$R/lc-role-lb1"
	mkdir -p "$BATS_TEST_TMPDIR/lb1/state" "$WT/state/web"
	cat >"$BATS_TEST_TMPDIR/lb1/state/rs-probe.state" <<-S
	probe=rs-probe version=1 time=$(date +%s) sweeps=40 down_events=0 up_events=2 interval=2000 timeout=1000
	rs=rs1 addr=192.0.2.3 port=80 status=up weight=1 load=12 conns=10 checks=40 failures=0 since=$(($(date +%s) - 80))
	rs=rs2 addr=192.0.2.4 port=80 status=up weight=1 load=31 conns=10 checks=40 failures=0 since=$(($(date +%s) - 80))
	S
	LC_ROLE_CMD=$R/lc-role-lb1 snmpd_start lb1 2 "$R/lb1.role"

	run drive "goto=$WEB" shot=01-login \
		"fill=input[name=user]=alice" "fill=input[name=password]=alice-secret" \
		"click=form.login button" expect=Clusters "expect=There are no clusters yet" \
		"click=main .actions a" "expect=Create a cluster" \
		"fill=input[name=c]=web" "fill=input[name=service]=192.0.2.100:80/tcp" \
		"fill=input[name=lb]=lb1" "fill=input[name=rs]=rs1,rs2" \
		"fill=input[name=descr]=shop front <b>not bold</b>" shot=02-create \
		"click=form.edit button" "expect=Confirm the change" shot=03-plan \
		"click=.actions form button" "expect=Applied: generation 1" \
		"expect=not bold</b>" "expect=agent (udp:192.0.2.2:161" "expect=up" shot=04-cluster
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q '^role=lb host=lb1 cluster=web generation=1' "$WT/roles/lb1.role"
	# lc-web pushed the balancer's role file to its agent, which applied it.
	cmp "$WT/roles/lb1.role" "$R/lb1.role"
	# The real servers have no agent here: their files go on by hand.
	hx 3 $LC_ROLE -q -s "$R/st3" apply -f "$WT/roles/rs1.role"
	hx 4 $LC_ROLE -q -s "$R/st4" apply -f "$WT/roles/rs2.role"
	wait_until 15000 hx 1 $PY -c 'import socket; socket.create_connection(("192.0.2.100", 80), 2)'
	run -0 spread 20
	echo "before: $output"
	[[ $output == *rs1=* && $output == *rs2=* && $output != *fail* ]]

	printf 'time=%s event=rs-up rs=rs1 addr=192.0.2.3\ntime=%s event=rs-up rs=rs2 addr=192.0.2.4\n' \
		"$(date +%s)" "$(date +%s)" >"$WT/state/web/events"
	run drive "goto=$WEB" "fill=input[name=user]=alice" "fill=input[name=password]=alice-secret" \
		"click=form.login button" shot=05-clusters \
		"goto=$WEB?p=cluster&c=web" "expect=agent (udp:192.0.2.2:161" "expect=up" shot=06-live \
		"click=tbody tr:first-child form.inline button" "expect=drain rs1" shot=07-drain-plan \
		"click=.actions form button" "expect=Applied: generation 2" "expect=0 (drained)" \
		shot=08-drained "goto=$WEB?p=hosts" expect=rs2 shot=09-hosts \
		"goto=$WEB?p=history" "expect=drain rs1" expect=rs-up shot=10-history
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q '^rs=rs1 addr=192.0.2.3 weight=0' "$R/lb1.role"

	# The balancer took generation 2 from its agent: new connections avoid rs1.
	wait_until 3000 eval '[ "$(spread 6)" = rs2=6 ]'
	run -0 spread 12
	echo "after: $output"
	[ "$output" = "rs2=12" ]
	for f in 01-login 04-cluster 06-live 07-drain-plan 08-drained 10-history; do
		[ -s "$SHOTS/$f.png" ]
	done
}
