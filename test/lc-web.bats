#!/usr/bin/env bats
# lc-web behind a real lighttpd over a real slapd, driven with curl.
load lib/common
load lib/slapd
load lib/web

setup() {
	need_web
}

teardown() {
	web_stop
	slapd_stop_all
}

# Hosts and a cluster made with lc-build, the tool lc-web shares its code with.
seed() {
	$LCB host add lb1 addr=192.0.2.2 roles=lb,bs agent=161 >/dev/null
	$LCB host add bs1 addr=192.0.2.3 roles=lb,bs >/dev/null
	$LCB host add rs1 addr=192.0.2.11 roles=rs weight=2 >/dev/null
	$LCB host add rs2 addr=192.0.2.12 roles=rs >/dev/null
	$LCB host add rs3 addr=192.0.2.13 roles=rs >/dev/null
}

@test "lc-web: -V, usage, -n and outside a CGI" {
	run -0 $LC_WEB -V
	[[ $output == "lc-web "* ]]
	run -100 $LC_WEB -Z
	[[ $output == *"usage: lc-web"* ]]
	run -100 $LC_WEB extra
	run -100 env -u GATEWAY_INTERFACE $LC_WEB -f /nonexistent
	T=$BATS_TEST_TMPDIR
	run -100 $LC_WEB -n -f /nonexistent
	printf 'colour=blue\n' >"$T/bad.conf"
	run -100 $LC_WEB -n -f "$T/bad.conf"
	[[ $output == *"unknown key colour"* ]]
	head -c 32 /dev/urandom >"$T/k"
	chmod 644 "$T/k"
	mkdir -p "$T/r" "$T/v"
	printf 'key=%s\nroles=%s\nvar=%s\n' "$T/k" "$T/r" "$T/v" >"$T/c.conf"
	run -100 $LC_WEB -n -f "$T/c.conf"
	chmod 600 "$T/k"
	run -0 $LC_WEB -n -f "$T/c.conf"
	[[ $output == *"configuration OK"* ]]
	printf 'ttl=0\n' >>"$T/c.conf"
	run -100 $LC_WEB -n -f "$T/c.conf"
}

@test "lc-web: log in, create a cluster, see it, drain a real server" {
	web_boot
	seed
	wget_ ""
	[ "$status" = 200 ]
	grep -q 'name="password"' "$WT/body"
	web_login alice alice-secret
	[ "$status" = 303 ]
	grep -qi '^set-cookie: lcweb=v1\.alice\.' "$WT/head"
	grep -qi 'HttpOnly' "$WT/head"
	grep -qi 'SameSite=Strict' "$WT/head"
	! grep -qi 'Secure' "$WT/head"
	wget_ "?p=clusters"
	[ "$status" = 200 ]
	grep -q 'There are no clusters yet' "$WT/body"
	tok=$(csrf)
	[ ${#tok} -eq 64 ]
	# Create: the plan first, nothing stored yet.
	wpost "?p=plan" "csrf=$tok" act=create c=web "service=192.0.2.100:80/tcp" sched=wrr \
		lb=lb1 bs=bs1 rs=rs1,rs2 "descr=front door"
	[ "$status" = 200 ]
	grep -q 'Confirm the change' "$WT/body"
	grep -q '<td>rs1</td><td>none</td><td>rs</td><td>add</td>' "$WT/body"
	run -1 $LCB cluster show web
	# Confirm: stored and applied, role files written, audited.
	wpost "?p=apply" "csrf=$tok" act=create c=web "service=192.0.2.100:80/tcp" sched=wrr \
		lb=lb1 bs=bs1 rs=rs1,rs2 "descr=front door" gen=0
	[ "$status" = 303 ]
	grep -qi '^location: .*p=cluster&c=web&done=1' "$WT/head"
	run -0 $LCB cluster show web
	[[ $output == *"generation=1"* ]]
	grep -q '^rs=rs1 addr=192.0.2.11' "$WT/roles/lb1.role"
	grep -q '^role=rs host=rs2 cluster=web generation=1' "$WT/roles/rs2.role"
	grep -q 'admin=alice .*action=create cluster=web .*generation=1 result=ok' "$WT/var/audit.log"
	wget_ "?p=cluster&c=web"
	[ "$status" = 200 ]
	grep -q '192.0.2.100' "$WT/body"
	grep -q 'No live status' "$WT/body"
	# rs-probe's state on the load balancer, as lc-web reads it.
	mkdir -p "$WT/state/web"
	cat >"$WT/state/web/rs-probe.state" <<-S
	probe=rs-probe version=1 time=$(date +%s) sweeps=9 down_events=1 up_events=2 interval=2000 timeout=1000
	rs=rs1 addr=192.0.2.11 port=80 status=up weight=2 load=25 conns=17 checks=9 failures=0 since=1700000000
	rs=rs2 addr=192.0.2.12 port=80 status=down reason=connect weight=0 load=0 conns=0 checks=9 failures=3 since=1700000100
	S
	wget_ "?p=cluster&c=web"
	grep -q '<span class="up">up</span>' "$WT/body"
	grep -q '<span class="down">down</span> <small>connect</small>' "$WT/body"
	grep -q '<td class="num">17</td>' "$WT/body"
	# Drain rs1: plan, confirm, the balancer's role file changes.
	tok=$(csrf)
	wpost "?p=plan" "csrf=$tok" act=drain c=web host=rs1
	[ "$status" = 200 ]
	grep -q 'drain rs1' "$WT/body"
	grep -q '<ins>' "$WT/body"
	grep -q '^rs=rs1 addr=192.0.2.11 port=80 weight=2\|^rs=rs1 addr=192.0.2.11 weight=2' "$WT/roles/lb1.role"
	wpost "?p=apply" "csrf=$tok" act=drain c=web host=rs1 gen=1
	[ "$status" = 303 ]
	grep -q '^rs=rs1 addr=192.0.2.11.* weight=0' "$WT/roles/lb1.role"
	grep -q '^role=lb host=lb1 cluster=web generation=2' "$WT/roles/lb1.role"
	wget_ "?p=cluster&c=web"
	grep -q '0 (drained)' "$WT/body"
	grep -q '>Enable</button>' "$WT/body"
	grep -q 'action=drain cluster=web what="drain rs1 (weight 0)" generation=2 result=ok' "$WT/var/audit.log"
	# A stale confirmation (planned against generation 1) changes nothing.
	wpost "?p=apply" "csrf=$tok" act=weight c=web host=rs2 weight=5 gen=1
	[ "$status" = 409 ]
	grep -q 'generation=2' "$WT/roles/lb1.role"
	# Scheduler and weight.
	wpost "?p=apply" "csrf=$tok" act=sched c=web sched=rr gen=2
	[ "$status" = 303 ]
	grep -q 'sched=rr' "$WT/roles/lb1.role"
	wpost "?p=apply" "csrf=$tok" act=weight c=web host=rs2 weight=7 gen=3
	[ "$status" = 303 ]
	grep -q '^rs=rs2 .*weight=7' "$WT/roles/lb1.role"
	# Hosts and history pages.
	wget_ "?p=hosts"
	[ "$status" = 200 ]
	grep -q '<td>rs3</td>' "$WT/body"
	wget_ "?p=history"
	[ "$status" = 200 ]
	grep -q '<td>alice</td><td>drain</td>' "$WT/body"
	# Dissolve.
	wpost "?p=plan" "csrf=$tok" act=dissolve c=web
	[ "$status" = 200 ]
	grep -q '<td>lb1</td><td>lb</td><td>none</td>' "$WT/body"
	wpost "?p=apply" "csrf=$tok" act=dissolve c=web gen=4
	[ "$status" = 303 ]
	grep -q '^role=none host=lb1' "$WT/roles/lb1.role"
	# Log out: the old cookie is dead even if replayed.
	cp "$WT/jar" "$WT/jar.old"
	wpost "?p=logout" "csrf=$tok"
	[ "$status" = 200 ]
	cp "$WT/jar.old" "$WT/jar"
	wget_ "?p=clusters"
	[ "$status" = 403 ]
	grep -q 'log in again' "$WT/body"
}
