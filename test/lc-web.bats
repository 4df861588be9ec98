#!/usr/bin/env bats
# lc-web behind a real lighttpd over a real slapd, driven with curl.
load lib/common
load lib/slapd
load lib/web
load lib/snmpd

setup() {
	need_web
}

teardown() {
	[ -f "$BATS_TEST_TMPDIR/lb1/target" ] && snmpd_stop lb1
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
	printf '# a comment\n\ncolour=blue\n' >"$T/bad.conf"
	run -100 $LC_WEB -n -f "$T/bad.conf"
	[[ $output == *"bad.conf:3: unknown key colour"* ]]
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
	grep -q 'admin=alice .*action=create cluster=web what="create service=192.0.2.100:80/tcp sched=wrr lb=lb1 bs=bs1 rs=rs1,rs2 descr=\\"front door\\"" generation=1 result=ok' "$WT/var/audit.log"
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
	# Nothing changed: the plan says so, and applying would only rewrite.
	wpost "?p=plan" "csrf=$tok" act=change c=web
	[ "$status" = 200 ]
	grep -q 'Nothing differs from generation 2' "$WT/body"
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
	# Enable: back to the host's own weight (rs1's is 2).
	wpost "?p=apply" "csrf=$tok" act=enable c=web host=rs1 gen=4
	[ "$status" = 303 ]
	grep -q '^rs=rs1 addr=192.0.2.11.* weight=2' "$WT/roles/lb1.role"
	# Reconfigure: a third real server.
	wpost "?p=plan" "csrf=$tok" act=change c=web rs=rs1:0,rs2:7,rs3
	[ "$status" = 200 ]
	grep -q '<ins>+ rs=rs3</ins>' "$WT/body"
	grep -q '<td>rs3</td><td>none</td><td>rs</td><td>add</td>' "$WT/body"
	wpost "?p=apply" "csrf=$tok" act=change c=web rs=rs1:0,rs2:7,rs3 gen=5
	[ "$status" = 303 ]
	grep -q '^rs=rs3 addr=192.0.2.13' "$WT/roles/lb1.role"
	grep -q '^role=rs host=rs3 cluster=web generation=6' "$WT/roles/rs3.role"
	# Hosts and history pages.
	wget_ "?p=hosts"
	[ "$status" = 200 ]
	grep -q '<td>rs3</td>' "$WT/body"
	# rs-probe's events and a failover manager's, merged newest first.
	printf 'time=1763800000 event=rs-down rs=rs2 addr=192.0.2.12 reason=connect\n' >"$WT/state/web/events"
	printf 'time=1763800050 event=takeover host=bs1 from=lb1\n' >"$WT/state/web/lb-watch.events"
	printf 'time=1763800100 event=rs-up rs=rs2 addr=192.0.2.12\n' >>"$WT/state/web/events"
	wget_ "?p=history"
	[ "$status" = 200 ]
	grep -q '<td>alice</td><td>drain</td>' "$WT/body"
	sed -n '/Events of web/,$p' "$WT/body" | tr -d '\n' | grep -q 'rs-up.*takeover.*rs-down'
	# Dissolve.
	wpost "?p=plan" "csrf=$tok" act=dissolve c=web
	[ "$status" = 200 ]
	grep -q '<td>lb1</td><td>lb</td><td>none</td>' "$WT/body"
	# Deleting an applied cluster's definition is refused: dissolve first.
	wpost "?p=apply" "csrf=$tok" act=delete c=web gen=6
	[ "$status" = 400 ]
	grep -q 'dissolve it first' "$WT/body"
	wpost "?p=apply" "csrf=$tok" act=dissolve c=web gen=6
	[ "$status" = 303 ]
	grep -q '^role=none host=lb1' "$WT/roles/lb1.role"
	grep -q '^role=none host=rs3' "$WT/roles/rs3.role"
	wpost "?p=plan" "csrf=$tok" act=delete c=web
	[ "$status" = 200 ]
	grep -q 'Delete the definition' "$WT/body"
	wpost "?p=apply" "csrf=$tok" act=delete c=web gen=7
	[ "$status" = 303 ]
	run -1 $LCB cluster show web
	grep -q 'action=delete cluster=web what="delete the definition" result=ok' "$WT/var/audit.log"
	# Log out: the old cookie is dead even if replayed.
	cp "$WT/jar" "$WT/jar.old"
	wpost "?p=logout" "csrf=$tok"
	[ "$status" = 200 ]
	cp "$WT/jar.old" "$WT/jar"
	wget_ "?p=clusters"
	[ "$status" = 403 ]
	grep -q 'log in again' "$WT/body"
}

@test "lc-web: a wrong password, an unknown administrator and an empty one are refused" {
	web_boot
	web_login alice wrong-password
	[ "$status" = 403 ]
	grep -q 'Wrong administrator name or password' "$WT/body"
	! grep -qi '^set-cookie' "$WT/head"
	web_login mallory alice-secret
	[ "$status" = 403 ]
	web_login alice ""
	[ "$status" = 400 ]
	# The service identity logs nobody in by itself: an anonymous page
	# shows only the login form.
	wget_ "?p=clusters"
	[ "$status" = 200 ]
	grep -q 'name="password"' "$WT/body"
	! grep -q 'Clusters</h1>' "$WT/body"
	# A login form not issued by this server (token forged or missing).
	wpost "?p=login" token=1.abc user=alice password=alice-secret
	[ "$status" = 403 ]
	! grep -qi '^set-cookie' "$WT/head"
	grep -c 'action=login result=refused' "$WT/var/audit.log" | grep -qx 2
	# Five failures from one address lock it out for a while, even with
	# the right password; the lock is per address.
	web_login alice wrong
	web_login alice wrong
	web_login alice wrong
	[ "$status" = 403 ]
	web_login alice alice-secret
	[ "$status" = 429 ]
	grep -q 'Too many failed logins' "$WT/body"
	! grep -qi '^set-cookie: lcweb=v' "$WT/head"
	ls "$WT/var/throttle/127_0_0_1"
	# The window over, the right password works and clears the count.
	printf '5 %s\n' $(($(date +%s) - 400)) >"$WT/var/throttle/127_0_0_1"
	web_login alice alice-secret
	[ "$status" = 303 ]
	[ ! -e "$WT/var/throttle/127_0_0_1" ]
}

@test "lc-web: a POST without its token, or with another session's, changes nothing" {
	web_boot
	seed
	$LCB cluster add web service=192.0.2.100:80/tcp lb=lb1 rs=rs1,rs2 >/dev/null
	web_login alice alice-secret
	[ "$status" = 303 ]
	before=$(slapd_dump)
	wpost "?p=apply" act=drain c=web host=rs1 gen=0
	[ "$status" = 403 ]
	grep -q 'security token' "$WT/body"
	wpost "?p=apply" csrf=00 act=drain c=web host=rs1 gen=0
	[ "$status" = 403 ]
	# A token of another session of the same administrator.
	mv "$WT/jar" "$WT/jar.1"
	web_login alice alice-secret
	wget_ "?p=clusters"
	other=$(csrf)
	mv "$WT/jar.1" "$WT/jar"
	wpost "?p=apply" "csrf=$other" act=drain c=web host=rs1 gen=0
	[ "$status" = 403 ]
	[ "$(slapd_dump)" = "$before" ]
	[ -z "$(ls "$WT/roles")" ]
	grep -q 'result=refused msg="bad or missing CSRF token"' "$WT/var/audit.log"
	# An administrator removed from the directory changes nothing more.
	$LCB admin add bob name=Bob secret="$WT/alice.pw" >/dev/null
	mv "$WT/jar" "$WT/jar.1"
	web_login bob alice-secret
	[ "$status" = 303 ]
	wget_ "?p=clusters"
	btok=$(csrf)
	$LCB admin delete bob
	wpost "?p=plan" "csrf=$btok" act=drain c=web host=rs1
	[ "$status" = 403 ]
	grep -q 'no longer an administrator' "$WT/body"
	mv "$WT/jar.1" "$WT/jar"
	# A logout without the token does not log out either.
	wpost "?p=logout"
	[ "$status" = 403 ]
	wget_ "?p=clusters"
	grep -q 'Clusters</h1>' "$WT/body"
}

@test "lc-web: an expired session is refused and asks to log in again" {
	web_boot 2
	web_login alice alice-secret
	[ "$status" = 303 ]
	wget_ "?p=clusters"
	[ "$status" = 200 ]
	tok=$(csrf)
	c=$(cookie_of)
	[ -n "$c" ]
	sleep 3
	# curl itself drops the cookie at Max-Age; a browser that keeps it
	# (or a thief) sends it anyway.
	status=$(curl -s -o "$WT/body" -w '%{http_code}' -H "Cookie: lcweb=$c" "$WEB?p=clusters")
	[ "$status" = 403 ]
	grep -q 'Your session has expired' "$WT/body"
	grep -q 'name="password"' "$WT/body"
	status=$(curl -s -o "$WT/body" -w '%{http_code}' -H "Cookie: lcweb=$c" \
		--data "csrf=$tok&act=dissolve&c=web" "$WEB?p=plan")
	[ "$status" = 403 ]
	grep -q 'Nothing was changed' "$WT/body"
	grep -q 'result=refused msg="no session"' "$WT/var/audit.log"
	# A cookie whose signature does not match is no session at all.
	web_login alice alice-secret
	c=$(cookie_of)
	status=$(curl -s -o "$WT/body" -w '%{http_code}' -H "Cookie: lcweb=$c" "$WEB?p=clusters")
	[ "$status" = 200 ]
	bad=${c%?}0
	[ "$bad" != "$c" ] || bad=${c%?}1
	status=$(curl -s -o "$WT/body" -w '%{http_code}' -H "Cookie: lcweb=$bad" "$WEB?p=clusters")
	[ "$status" = 403 ]
	grep -q 'Your session was not valid' "$WT/body"
	# Other cookies around ours, even odd ones, do not matter.
	status=$(curl -s -o "$WT/body" -w '%{http_code}' -H "Cookie: theme=dark; odd; lcweb=$c; x=\"q\"" "$WEB?p=clusters")
	[ "$status" = 200 ]
	# Nor is one with a later expiry pasted in.
	forged=$(echo "$c" | awk -F. '{ $3 = $3 + 86400; print }' OFS=.)
	status=$(curl -s -o "$WT/body" -w '%{http_code}' -H "Cookie: lcweb=$forged" "$WEB?p=clusters")
	[ "$status" = 403 ]
}

@test "lc-web: markup in directory values and in input is shown escaped" {
	web_boot
	seed
	$LCB host change rs3 descr='<img src=x onerror=alert(2)>' >/dev/null
	web_login alice alice-secret
	wget_ "?p=hosts"
	[ "$status" = 200 ]
	grep -q '&lt;img src=x onerror=alert(2)&gt;' "$WT/body"
	! grep -q '<img src=x' "$WT/body"
	# lib/cluster refuses to read a host whose name is not a host name:
	# the page then says which entry, escaped.
	ldapadd -Q -Y EXTERNAL -H "$SLAPD_LDAPI" >/dev/null <<-L
	dn: cn=x\\3Cb\\3Ebold\\3C/b\\3E,ou=hosts,$SLAPD_BASE
	objectClass: nonstopHost
	cn: x<b>bold</b>
	description: <script>alert(1)</script>
	L
	wget_ "?p=hosts"
	[ "$status" = 500 ]
	grep -q 'x\\3Cb\\3Ebold' "$WT/body"
	! grep -q '<script>alert' "$WT/body"
	! grep -q '<b>bold' "$WT/body"
	# Input echoed back in an error is escaped too, and is a 400.
	tok=$(csrf)
	wpost "?p=plan" "csrf=$tok" act=create 'c=<i>evil</i>' service=192.0.2.100:80 lb=lb1 rs=rs1
	[ "$status" = 400 ]
	grep -q '&lt;i&gt;evil&lt;/i&gt;' "$WT/body"
	! grep -q '<i>evil' "$WT/body"
	wpost "?p=plan" "csrf=$tok" act=create c=web service=192.0.2.100:80 'lb=<svg/onload=x>' rs=rs1
	[ "$status" = 400 ]
	! grep -q '<svg' "$WT/body"
	wget_ '?p=cluster&c=%3Cscript%3E'
	[ "$status" = 404 ]
	grep -q '&lt;script&gt;' "$WT/body"
	! grep -q '<script>' "$WT/body"
}

@test "lc-web: bad input gets 400 with a reason and stores nothing" {
	web_boot
	seed
	$LCB cluster add web service=192.0.2.100:80/tcp lb=lb1 rs=rs1,rs2 >/dev/null
	web_login alice alice-secret
	wget_ "?p=clusters"
	tok=$(csrf)
	before=$(slapd_dump)
	# Rules of lc-build: unknown host, two roles, a bad scheduler and weight.
	wpost "?p=plan" "csrf=$tok" act=create c=api service=192.0.2.101:80 lb=lb1 rs=nohost
	[ "$status" = 400 ]
	grep -q 'not in the directory' "$WT/body"
	wpost "?p=plan" "csrf=$tok" act=change c=web rs=lb1
	[ "$status" = 400 ]
	wpost "?p=plan" "csrf=$tok" act=sched c=web sched=fastest
	[ "$status" = 400 ]
	wpost "?p=plan" "csrf=$tok" act=weight c=web host=rs1 weight=70000
	[ "$status" = 400 ]
	grep -q 'from 0 to 65535' "$WT/body"
	wpost "?p=plan" "csrf=$tok" act=drain c=web host=rs9
	[ "$status" = 400 ]
	wpost "?p=plan" "csrf=$tok" act=explode c=web
	[ "$status" = 400 ]
	wpost "?p=plan" "csrf=$tok" act=create c=web service=192.0.2.100:80 lb=lb1 rs=rs1
	[ "$status" = 400 ]
	grep -q 'already a cluster' "$WT/body"
	# Malformed forms and addresses.
	status=$(curl -s -b "$WT/jar" -o "$WT/body" -w '%{http_code}' --data-binary 'a=%zz' "$WEB?p=plan")
	[ "$status" = 400 ]
	grep -q 'bad %-escape' "$WT/body"
	status=$(curl -s -b "$WT/jar" -o "$WT/body" -w '%{http_code}' --data-binary "csrf=$tok&act=sched&act=rr" "$WEB?p=plan")
	[ "$status" = 400 ]
	grep -q 'given twice' "$WT/body"
	status=$(curl -s -b "$WT/jar" -o "$WT/body" -w '%{http_code}' --data-binary "csrf=$tok&c=a%01b" "$WEB?p=plan")
	[ "$status" = 400 ]
	status=$(curl -s -b "$WT/jar" -o "$WT/body" -w '%{http_code}' -H 'Content-Type: text/plain' --data-binary "x" "$WEB?p=plan")
	[ "$status" = 400 ]
	status=$(curl -s -b "$WT/jar" -o "$WT/body" -w '%{http_code}' "$WEB?p=clusters&p=hosts")
	[ "$status" = 400 ]
	status=$(curl -s -b "$WT/jar" -o "$WT/body" -w '%{http_code}' "$WEB?p=nosuch")
	[ "$status" = 404 ]
	head -c 70000 /dev/zero | tr '\0' a >"$WT/big"
	status=$(curl -s -b "$WT/jar" -o "$WT/body" -w '%{http_code}' --data-binary "@$WT/big" "$WEB?p=plan")
	[ "$status" = 413 ] || [ "$status" = 400 ]
	[ "$(slapd_dump)" = "$before" ]
	[ -z "$(ls "$WT/roles")" ]
	# Every answer is a page a person can read, with the security headers.
	wget_ "?p=clusters"
	grep -qi "^content-security-policy: default-src 'none'" "$WT/head"
	grep -qi '^x-frame-options: DENY' "$WT/head"
}

# cgi METHOD QUERY [BODY]: lc-web run directly as the web server would.
cgi() {
	local body=${3:-}
	printf %s "$body" | env -i GATEWAY_INTERFACE=CGI/1.1 LC_WEB_CONF="$WT/lc-web.conf" \
		REQUEST_METHOD="$1" QUERY_STRING="$2" SCRIPT_NAME=/lc-web REMOTE_ADDR=192.0.2.50 \
		CONTENT_TYPE=application/x-www-form-urlencoded CONTENT_LENGTH=${#body} \
		HTTPS="${HTTPS_ON:-}" HTTP_COOKIE="${COOKIE:-}" $LC_WEB
}

@test "lc-web: as a bare CGI: Secure cookie over TLS, HEAD, other methods, exit 0" {
	web_boot
	run -0 cgi GET p=login
	tok=$(echo "$output" | sed -n 's/.*name="token" value="\([^"]*\)".*/\1/p')
	[ -n "$tok" ]
	HTTPS_ON=on run -0 cgi POST p=login "token=$tok&user=alice&password=alice-secret"
	[[ ${lines[0]} == "Status: 303 See Other"* ]]
	echo "$output" | grep -q '^Set-Cookie: lcweb=v1\.alice\..*; Path=/lc-web; Max-Age=3600; HttpOnly; SameSite=Strict; Secure'
	grep -q 'admin=alice addr=192.0.2.50 action=login result=ok' "$WT/var/audit.log"
	COOKIE=$(echo "$output" | sed -n 's/^Set-Cookie: \(lcweb=[^;]*\);.*/\1/p')
	COOKIE=$COOKIE run -0 cgi HEAD p=hosts
	[[ ${lines[0]} == "Status: 200 OK"* ]]
	! echo "$output" | grep -q '<html'
	COOKIE=$COOKIE run -0 cgi PUT p=hosts
	[[ ${lines[0]} == "Status: 405 "* ]]
	# The configuration unreadable: still an answer, the reason in the log.
	mv "$WT/lc-web.conf" "$WT/lc-web.conf.x"
	run -0 cgi GET p=login
	[[ $output == *"Status: 500 "* ]]
	[[ $output == *"not configured"* ]]
	[[ $output == *"unable to read"* ]]
}

@test "lc-web: live status from the load balancer's agent over SNMPv3" {
	[ -x "${LC_AGENT%% *}" ] || skip "lc-agent not built"
	snmp_env
	web_boot
	port=$(slapd_port)
	$LCB host add lb1 addr=127.0.0.1 roles=lb agent=$port >/dev/null
	$LCB host add rs1 addr=192.0.2.11 roles=rs >/dev/null
	$LCB host add rs2 addr=192.0.2.12 roles=rs >/dev/null
	$LCB cluster add web service=192.0.2.100:80/tcp lb=lb1 rs=rs1,rs2 >/dev/null
	$LCB -o "$WT/roles" cluster apply web >/dev/null
	# rs-probe's verdicts on the balancer, served by its lc-agent.
	mkdir -p "$BATS_TEST_TMPDIR/lb1/state"
	cat >"$BATS_TEST_TMPDIR/lb1/state/rs-probe.state" <<-S
	probe=rs-probe version=1 time=$(date +%s) sweeps=5 down_events=1 up_events=1 interval=2000 timeout=1000
	rs=rs1 addr=192.0.2.11 port=0 status=up weight=3 load=150 conns=42 checks=5 failures=0 since=1763800000
	rs=rs2 addr=192.0.2.12 port=0 status=down reason=http-503 weight=0 load=0 conns=0 checks=5 failures=5 since=1763800100
	S
	snmpd_start lb1 0 "$WT/roles/lb1.role" "$port"
	echo "snmp=$SNMP_CREDS" >>"$WT/lc-web.conf"
	web_login alice alice-secret
	wget_ "?p=cluster&c=web"
	[ "$status" = 200 ]
	grep -q "agent (udp:127.0.0.1:$port, NONSTOP-MIB nsRsTable)" "$WT/body"
	grep -q '<span class="up">up</span></td><td class="num">3</td><td class="num">42</td><td class="num">1.50</td>' "$WT/body"
	grep -q '<span class="down">down</span> <small>http-503</small>' "$WT/body"
	# An apply pushes the balancer's role file to its agent.
	tok=$(csrf)
	wpost "?p=apply" "csrf=$tok" act=weight c=web host=rs1 weight=4 gen=1
	[ "$status" = 303 ]
	wait_until 5000 eval "v3 snmpget $(agent_target lb1) -Oqv NONSTOP-MIB::nsHostGeneration.0 | grep -qx 2"
	# The agent gone: an apply fails (503) and records nothing; the page
	# says the agent did not answer, and the state file (none here) is the fallback.
	bg_stop lb1-snmpd
	wpost "?p=apply" "csrf=$tok" act=weight c=web host=rs1 weight=5 gen=2
	[ "$status" = 503 ]
	grep -q 'lb1 (timeout)' "$WT/body"
	grep -q 'apply again' "$WT/body"
	# one row per host: the balancer's agent timed out, the real servers have none
	grep -q "<tr><td>lb1</td><td>lb</td><td>udp:127.0.0.1:$port</td><td>failed</td><td>timeout</td>" "$WT/body"
	grep -q '<tr><td>rs2</td><td>rs</td><td>-</td><td>no agent</td><td>-</td>' "$WT/body"
	grep -q 'action=weight cluster=web .*result=error' "$WT/var/audit.log"
	# lib/cluster claims the generation before it pushes: the directory is
	# ahead of the agent until an apply (of the same definition) heals it.
	run -0 $LCB cluster show web
	[[ $output == *"generation=3"* ]]
	wget_ "?p=cluster&c=web"
	[ "$status" = 200 ]
	grep -q "agent did not answer" "$WT/body"
}

@test "lc-web: the shipped lighttpd configuration and the demo script work" {
	run -0 /usr/sbin/lighttpd -tt -f "$NONSTOP_TOP/contrib/lighttpd/lighttpd.conf"
	port=$(slapd_port)
	NONSTOP_BIN=$BIN "$NONSTOP_TOP/contrib/lighttpd/lc-web-demo.sh" -p "$port" -t 20 \
		>"$BATS_TEST_TMPDIR/demo.out" 2>&1 3>&- &
	demo=$!
	wait_until 20000 grep -q 'password:' "$BATS_TEST_TMPDIR/demo.out" || {
		cat "$BATS_TEST_TMPDIR/demo.out"; kill $demo; false; }
	pw=$(sed -n 's/.*password: \([^ ]*\).*/\1/p' "$BATS_TEST_TMPDIR/demo.out")
	[ ${#pw} -ge 12 ]
	grep -q "http://127.0.0.1:$port/lc-web" "$BATS_TEST_TMPDIR/demo.out"
	WT=$BATS_TEST_TMPDIR WEB=http://127.0.0.1:$port/lc-web
	web_login admin "$pw"
	[ "$status" = 303 ]
	wget_ "?p=cluster&c=web"
	[ "$status" = 200 ]
	grep -q 'demo shop' "$WT/body"
	kill $demo
	wait_until 5000 not_running $demo
	! curl -s -o /dev/null "$WEB?p=css"
}

@test "lc-web: fuzz web_form: form, cookie, session and token parsers survive 30000 inputs" {
	command -v clang >/dev/null || skip "clang not installed"
	local t=$BATS_TEST_TMPDIR c=$BATS_TEST_TMPDIR/corpus
	clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I"$NONSTOP_TOP/lib" \
	    "$NONSTOP_TOP/test/fuzz/web_form.c" "$NONSTOP_TOP/lib/web_form.c" \
	    "$NONSTOP_TOP/lib/web_html.c" "$NONSTOP_TOP/lib/web_sess.c" \
	    "$NONSTOP_TOP/lib/auth.c" -lcrypto -o "$t/web_form" 2>"$t/cc.err" || {
		grep -q fuzzer "$t/cc.err" && skip "clang's libFuzzer runtime is missing"
		cat "$t/cc.err"
		false
	}
	mkdir -p "$c"
	printf '\000act=drain&c=web&host=rs1&csrf=%s' "$(printf '%064d' 0)" >"$c/form"
	printf '\000a=%%3Cb%%3E+x&b=%%E2%%82%%AC' >"$c/escapes"
	printf '\001theme=dark; lcweb=v1.alice.1700003600.x; q="v"' >"$c/cookie"
	printf '\002v1.alice.1700003600.%s.%s' "$(printf '%032d' 0)" "$(printf '%064d' 0)" >"$c/sess"
	printf '\0031700000000.%s' "$(printf '%064d' 0)" >"$c/token"
	run -0 "$t/web_form" -runs=30000 -max_len=600 "$c"
}
