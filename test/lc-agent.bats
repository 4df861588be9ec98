#!/usr/bin/env bats
# lc-agent: a real snmpd with lc-agent as its AgentX subagent, on
# loopback with a per-test port, SNMPv3 authPriv with per-test passwords.

load lib/common
load lib/snmpd

setup() {
	snmp_env
	ROLE=$BATS_TEST_TMPDIR/role
	cat >"$ROLE" <<-EOF
	role=lb host=lb1 cluster=web generation=3 version=1
	service=web vip=192.0.2.100 port=80 proto=tcp sched=wrr fwd=dr
	lb=lb1 addr=192.0.2.2
	rs=rs1 addr=192.0.2.11 port=80 weight=1
	rs=rs2 addr=192.0.2.12 weight=2
	EOF
	# A converger stand-in: records its arguments, exits $STUB_RC's content.
	STUB=$BATS_TEST_TMPDIR/lc-role
	printf '#!/bin/sh\necho "$@" >>%s/lc-role.calls\nexit $(cat %s/stub.rc 2>/dev/null || echo 0)\n' \
		"$BATS_TEST_TMPDIR" "$BATS_TEST_TMPDIR" >"$STUB"
	chmod 755 "$STUB"
}

teardown() {
	# A test may leave an agent stopped: it must be able to hear SIGTERM.
	for n in lb1 rs1 h1 h2 h3; do
		[ -f "$BATS_TEST_TMPDIR/$n-agent.pid" ] && kill -CONT "$(bg_pid "$n-agent")" 2>/dev/null
	done
	for n in lb1 rs1 h1 h2 h3; do snmpd_stop "$n"; done
	topo_teardown
}

get() { v3 snmpget "$(agent_target lb1)" -Oqv "$@"; }

@test "-V, usage, -n" {
	run -0 $LC_AGENT -V
	[[ $output == "lc-agent "* ]]
	run -100 $LC_AGENT -Z
	[[ $output == usage:* ]]
	run -100 $LC_AGENT extra
	run -0 $LC_AGENT -n -f "$ROLE" -s "$BATS_TEST_TMPDIR"
	[ "$output" = "configuration OK" ]
	echo "role=lb host=lb1 version=1" >"$BATS_TEST_TMPDIR/bad"
	run -100 $LC_AGENT -n -f "$BATS_TEST_TMPDIR/bad" -s "$BATS_TEST_TMPDIR"
	[[ $output == *"lc-agent: fatal: "* ]]
	run -100 $LC_AGENT -n -f "$ROLE" -N other -s "$BATS_TEST_TMPDIR"
	run -100 $LC_AGENT -n -f "$ROLE" -s /nonexistent
	run -0 $LC_AGENT -n -f "$BATS_TEST_TMPDIR/none" -N h -s "$BATS_TEST_TMPDIR"
}

@test "snmpwalk and snmptable read the host objects and the real server table by name" {
	snmpd_start lb1 0 "$ROLE"
	run -0 v3 snmpwalk "$(agent_target lb1)" NONSTOP-MIB::nsHost
	[[ $output == *'nsHostRole.0 = INTEGER: loadBalancer(2)'* ]]
	[[ $output == *'nsHostCluster.0 = STRING: web'* ]]
	[[ $output == *'nsHostGeneration.0 = Gauge32: 3'* ]]
	run -0 v3 snmptable "$(agent_target lb1)" -OU -Cf , NONSTOP-MIB::nsRsTable
	[[ $output == *'rs1,ipv4,"C0 00 02 0B ",80,1,unknown,'* ]]
	[[ $output == *'rs2,ipv4,"C0 00 02 0C ",0,2,unknown,'* ]]
	[ "$(get NONSTOP-MIB::nsLbSource.0)" = roleFile ]
}

@test "the real server table serves rs-probe's state" {
	d=$BATS_TEST_TMPDIR/lb1/state
	mkdir -p "$d"
	cat >"$d/rs-probe.state" <<-EOF
	probe=rs-probe version=1 time=1795000000 sweeps=42 down_events=1 up_events=3
	rs=rs1 addr=192.0.2.11 port=80 status=up weight=7 load=15 conns=4 checks=42 failures=0 since=1795000000
	rs=rs2 addr=192.0.2.12 port=80 status=down reason=connect-refused load=0 conns=0 checks=42 failures=9 since=1795000000
	EOF
	snmpd_start lb1 0 "$ROLE"
	run -0 v3 snmptable "$(agent_target lb1)" -OU -Cf , -Cb NONSTOP-MIB::nsRsTable
	[[ ${lines[*]} == *'rs1,ipv4,"C0 00 02 0B ",80,7,up,,4,0,15,2026-11-18,11:6:40.0,42,0'* ]]
	[[ ${lines[*]} == *'rs2,ipv4,"C0 00 02 0C ",0,2,down,connect-refused,0,0,0,'*',42,9'* ]]
	[ "$(get NONSTOP-MIB::nsLbSource.0)" = prober ]
	[ "$(get NONSTOP-MIB::nsStatProbeSweeps.0)" = 42 ]
}

@test "a real server's service table: listening state and connections from sock_diag" {
	port=$((20000 + RANDOM % 20000))
	cat >"$BATS_TEST_TMPDIR/rsrole" <<-EOF
	role=rs host=rs1 cluster=web generation=1 version=1
	service=web vip=192.0.2.100 port=80 proto=tcp sched=wrr fwd=dr
	service=alt vip=192.0.2.100 port=81 proto=tcp sched=rr fwd=dr
	lb=lb1 addr=192.0.2.2
	rs=rs1 addr=127.0.0.1 port=$port weight=1
	EOF
	snmpd_start rs1 0 "$BATS_TEST_TMPDIR/rsrole"
	t=$(agent_target rs1)
	run -0 v3 snmptable "$t" -OU -Cf , -Cb NONSTOP-MIB::nsSvcTable
	[[ ${lines[*]} == *"web,$port,down,0"* ]]
	mkdir -p "$BATS_TEST_TMPDIR/www"
	bg web 0 busybox httpd -f -p "127.0.0.1:$port" -h "$BATS_TEST_TMPDIR/www"
	wait_until 5000 bash -c "v3() { $(declare -f v3 | tail -n +2); }; \
		SNMP_USER=$SNMP_USER SNMP_AUTH=$SNMP_AUTH SNMP_PRIV=$SNMP_PRIV \
		v3 snmpget $t -Oqv NONSTOP-MIB::nsHostServicesUp.0 | grep -qx 2"
	exec 5<>"/dev/tcp/127.0.0.1/$port"
	sleep 0.2
	run -0 v3 snmptable "$t" -OU -Cf , -Cb NONSTOP-MIB::nsSvcTable
	exec 5>&-
	echo "${lines[*]}"
	[[ ${lines[*]} == *"web,$port,up,1"* ]]
	[[ ${lines[*]} == *"alt,$port,up,1"* ]]
	[ "$(v3 snmpget "$t" -Oqv NONSTOP-MIB::nsHostRole.0)" = realServer ]
	bg_stop web
}

@test "community public, noAuthNoPriv and authNoPriv are refused" {
	snmpd_start lb1 0 "$ROLE"
	t=$(agent_target lb1)
	run -1 snmpget -v2c -c public -t 0.5 -r 0 "$t" NONSTOP-MIB::nsHostName.0
	run -1 snmpget -v1 -c public -t 0.5 -r 0 "$t" NONSTOP-MIB::nsHostName.0
	run -2 snmpget -v3 -l noAuthNoPriv -u "$SNMP_USER" -t 1 -r 0 "$t" NONSTOP-MIB::nsHostName.0
	[[ $output == *authorizationError* ]]
	run -2 snmpget -v3 -l authNoPriv -u "$SNMP_USER" -a SHA-256 -A "$SNMP_AUTH" -t 1 -r 0 "$t" NONSTOP-MIB::nsHostName.0
	[[ $output == *authorizationError* ]]
	run -1 snmpget -v3 -l authPriv -u "$SNMP_USER" -a SHA-256 -A wrongpassword1 -x AES -X "$SNMP_PRIV" -t 1 -r 0 "$t" NONSTOP-MIB::nsHostName.0
}

@test "bad SETs get the right error and change nothing" {
	snmpd_start lb1 0 "$ROLE" "" -a "$STUB"
	t=$(agent_target lb1)
	cp "$ROLE" "$BATS_TEST_TMPDIR/before"
	run -2 v3 snmpset "$t" NONSTOP-MIB::nsHostRoleConfig.0 s 'role=xx host=lb1'
	[[ $output == *wrongValue* ]]
	run -2 v3 snmpset "$t" NONSTOP-MIB::nsHostRoleConfig.0 s "$(printf 'role=none host=lb2 generation=9 version=1\n')"
	[[ $output == *inconsistentValue* ]]
	run -2 v3 snmpset "$t" NONSTOP-MIB::nsHostRoleConfig.0 s "$(printf 'role=none host=lb1 generation=2 version=1\n')"
	[[ $output == *inconsistentValue* ]]
	run -2 v3 snmpset "$t" NONSTOP-MIB::nsHostRoleConfig.0 s "$(printf 'role=none host=lb1 generation=3 version=1\n')"
	[[ $output == *inconsistentValue* ]]
	# Both in one request, disagreeing: neither is applied.
	run -2 v3 snmpset "$t" NONSTOP-MIB::nsHostRoleConfig.0 s "$(printf 'role=none host=lb1 generation=4 version=1\n')" \
		NONSTOP-MIB::nsHostRole.0 i 2
	[[ $output == *inconsistentValue* ]]
	run -2 v3 snmpset "$t" NONSTOP-MIB::nsHostRole.0 i 4
	[[ $output == *inconsistentValue* ]]
	run -2 v3 snmpset "$t" NONSTOP-MIB::nsHostRole.0 i 9
	[[ $output == *wrongValue* ]]
	run -2 v3 snmpset -Ir "$t" NONSTOP-MIB::nsHostRole.0 s lb
	[[ $output == *wrongType* ]]
	run -2 v3 snmpset "$t" NONSTOP-MIB::nsHostLoad.0 u 3
	[[ $output == *notWritable* ]]
	run -2 v3 snmpset "$t" NONSTOP-MIB::nsRsWeight.3 i 3
	[[ $output == *noCreation* ]]
	# A good weight beside a bad object: nothing is applied.
	run -2 v3 snmpset "$t" NONSTOP-MIB::nsRsWeight.1 i 9 NONSTOP-MIB::nsHostLoad.0 u 3
	cmp "$ROLE" "$BATS_TEST_TMPDIR/before"
	[ ! -e "$BATS_TEST_TMPDIR/lc-role.calls" ]
	[ "$(get NONSTOP-MIB::nsStatRoleSets.0)" = 0 ]
	[ "$(get NONSTOP-MIB::nsStatRoleSetsRefused.0)" -ge 10 ]
}

@test "a good SET replaces the role file, runs lc-role apply, and is idempotent" {
	snmpd_start lb1 0 "$ROLE" "" -a "$STUB"
	t=$(agent_target lb1)
	new=$(printf 'role=lb host=lb1 cluster=web generation=4 version=1\nservice=web vip=192.0.2.100 port=80 proto=tcp sched=rr fwd=dr\nlb=lb1 addr=192.0.2.2\nrs=rs1 addr=192.0.2.11 weight=1\n')
	run -0 v3 snmpset "$t" NONSTOP-MIB::nsHostRoleConfig.0 s "$new" NONSTOP-MIB::nsHostRole.0 i 2
	[ "$(cat "$ROLE")" = "$new" ]
	wait_until 5000 grep -q "apply -f $ROLE" "$BATS_TEST_TMPDIR/lc-role.calls"
	wait_until 5000 bash -c "[ \"\$(SNMP_USER=$SNMP_USER; $(declare -f v3); v3 snmpget $t -Oqv NONSTOP-MIB::nsHostRoleStatus.0)\" = active ]" ||
		[ "$(get NONSTOP-MIB::nsHostRoleStatus.0)" = active ]
	# The same again: accepted, nothing rewritten, no second apply; the
	# file got its last newline, so the text with it is the same too.
	[ "$(tail -c 1 "$ROLE" | od -An -tx1 | tr -d ' ')" = 0a ]
	run -0 v3 snmpset "$t" NONSTOP-MIB::nsHostRoleConfig.0 s "$new"
	run -0 v3 snmpset "$t" NONSTOP-MIB::nsHostRoleConfig.0 s "$new"$'\n'
	sleep 0.5
	[ "$(wc -l <"$BATS_TEST_TMPDIR/lc-role.calls")" -eq 1 ]
	# A weight: the rs line is rewritten, the rest kept.
	run -0 v3 snmpset "$t" NONSTOP-MIB::nsRsWeight.1 i 7
	grep -qx 'rs=rs1 addr=192.0.2.11 weight=7' "$ROLE"
	wait_until 5000 test "$(wc -l <"$BATS_TEST_TMPDIR/lc-role.calls")" -eq 2
	# A failing converger shows as failed, with the reason.
	echo 3 >"$BATS_TEST_TMPDIR/stub.rc"
	run -0 v3 snmpset "$t" NONSTOP-MIB::nsHostRole.0 i 1
	grep -qx 'role=none host=lb1 generation=4 version=1' "$ROLE"
	sleep 1
	[ "$(get NONSTOP-MIB::nsHostRoleStatus.0)" = failed ]
	[[ $(get NONSTOP-MIB::nsHostRoleError.0) == *"exited 3"* ]]
	[ "$(get NONSTOP-MIB::nsHostRole.0)" = none ]
	# The changes are in the event table.
	run -0 v3 snmpwalk "$t" NONSTOP-MIB::nsEventType
	[[ $output == *roleChange* ]]
}

@test "without lc-role installed the file is written and the status says so" {
	snmpd_start lb1 0 "$ROLE" "" -a "$BATS_TEST_TMPDIR/no-such-lc-role"
	t=$(agent_target lb1)
	run -0 v3 snmpset "$t" NONSTOP-MIB::nsHostRole.0 i 1
	grep -q '^role=none host=lb1' "$ROLE"
	sleep 1
	[ "$(get NONSTOP-MIB::nsHostRoleStatus.0)" = configured ]
	[[ $(get NONSTOP-MIB::nsHostRoleError.0) == *"not found"* ]]
}

@test "after snmpd restarts, lc-agent is back within a few seconds" {
	snmpd_start lb1 0 "$ROLE"
	bg_stop lb1-snmpd
	snmpd_run lb1 0
	wait_until 5000 agent_up lb1
}

@test "stopped past agentXTimeout in the middle of SETs, lc-agent lives, changes nothing, reconnects and serves" {
	SNMPD_EXTRA='agentXTimeout 1
agentXRetries 1' snmpd_start lb1 0 "$ROLE" "" -a "$STUB"
	t=$(agent_target lb1)
	pid=$(bg_pid lb1-agent)
	cp "$ROLE" "$BATS_TEST_TMPDIR/before"
	for k in 1 2 3; do
		# The master retransmits the SET once, then times out and drops
		# the agent; the agent wakes to the stale phases and a closed socket.
		kill -STOP "$pid"
		v3 snmpset "$t" NONSTOP-MIB::nsHostRoleConfig.0 s \
			"$(printf 'role=none host=lb1 generation=%s version=1\n' $((10 + k)))" \
			NONSTOP-MIB::nsHostRole.0 i 1 >/dev/null 2>&1 &
		v3 snmpset "$t" NONSTOP-MIB::nsRsWeight.1 i $k >/dev/null 2>&1 &
		# Both managers have their answer (genErr) or gave up (4 s); the
		# master gave up 2 s after it sent the first phase.
		wait
		sleep $((k + 1))
		kill -CONT "$pid"
		kill -0 "$pid"
		wait_until 10000 agent_up lb1
	done
	# The master gave up on every one of them: nothing was written.
	cmp "$ROLE" "$BATS_TEST_TMPDIR/before"
	[ ! -e "$BATS_TEST_TMPDIR/lc-role.calls" ]
	# And the next SET is served and applied.
	run -0 v3 snmpset "$t" NONSTOP-MIB::nsHostRoleConfig.0 s \
		"$(printf 'role=none host=lb1 generation=20 version=1\n')"
	grep -qx 'role=none host=lb1 generation=20 version=1' "$ROLE"
	wait_until 5000 grep -q "apply -f $ROLE" "$BATS_TEST_TMPDIR/lc-role.calls"
	kill -0 "$pid"
}

# The push that lc-build apply makes (lib/snmp_push), through its driver.
push_build() {
	PUSH=$BATS_TEST_TMPDIR/snmp-push
	[ -f "$BIN/../libnonstop.a" ] || skip "no libnonstop.a next to $BIN"
	cc -D_GNU_SOURCE -DVERSION=\"test\" -I"$NONSTOP_TOP/lib" -o "$PUSH" \
		"$NONSTOP_TOP/test/bench/snmp-push.c" "$BIN/../libnonstop.a" \
		$(net-snmp-config --libs) -lcrypto
}

@test "apply to several hosts in parallel converges them all, idempotently; a dead host fails alone" {
	push_build
	args=()
	for n in 1 2 3; do
		printf 'role=none host=h%s generation=1 version=1\n' $n >"$BATS_TEST_TMPDIR/h$n.role"
		snmpd_start h$n 0 "$BATS_TEST_TMPDIR/h$n.role" "" -a "$STUB"
		{
			printf 'role=rs host=h%s cluster=web generation=2 version=1\n' $n
			printf 'service=web vip=192.0.2.100 port=80 proto=tcp sched=rr fwd=dr\n'
			printf 'lb=h1 addr=192.0.2.1\nrs=h2 addr=192.0.2.2\nrs=h3 addr=192.0.2.3\n'
		} >"$BATS_TEST_TMPDIR/new$n.role"
		args+=("h$n,$(agent_target h$n),$BATS_TEST_TMPDIR/new$n.role")
	done
	sed -i 's/role=rs host=h1/role=lb host=h1/' "$BATS_TEST_TMPDIR/new1.role"
	run -0 --separate-stderr $PUSH -k "$SNMP_CREDS" "${args[@]}"
	[ "${#lines[@]}" -eq 3 ]
	for n in 1 2 3; do
		[[ ${lines[$((n - 1))]} == "host=h$n result=ok "* ]]
		cmp "$BATS_TEST_TMPDIR/h$n.role" "$BATS_TEST_TMPDIR/new$n.role"
	done
	[ "$(v3a h1 snmpget -Oqv NONSTOP-MIB::nsHostRole.0)" = loadBalancer ]
	[ "$(v3a h3 snmpget -Oqv NONSTOP-MIB::nsHostRole.0)" = realServer ]
	wait_until 5000 test "$(wc -l <"$BATS_TEST_TMPDIR/lc-role.calls")" -eq 3
	sleep 0.5
	# Again: all ok, nothing re-applied.
	run -0 --separate-stderr $PUSH -k "$SNMP_CREDS" "${args[@]}"
	sleep 0.5
	[ "$(wc -l <"$BATS_TEST_TMPDIR/lc-role.calls")" -eq 3 ]
	# A dead host and a refused push fail; the others still succeed.
	snmpd_stop h3
	printf 'role=none host=h2 generation=1 version=1\n' >"$BATS_TEST_TMPDIR/old2.role"
	run -1 --separate-stderr $PUSH -k "$SNMP_CREDS" -w 500 \
		"${args[0]}" "h2,$(agent_target h2),$BATS_TEST_TMPDIR/old2.role" "${args[2]}"
	[[ ${lines[0]} == "host=h1 result=ok "* ]]
	[[ ${lines[1]} == "host=h2 result=failed reason=inconsistentValue "* ]]
	[[ ${lines[2]} == "host=h3 result=failed reason=timeout "* ]]
	cmp "$BATS_TEST_TMPDIR/h2.role" "$BATS_TEST_TMPDIR/new2.role"
}

@test "contrib/snmpd/snmpd.conf as shipped (placeholders filled): authPriv works, nothing else does" {
	snmp_env
	d=$BATS_TEST_TMPDIR/lb1
	port=$((20000 + RANDOM % 20000))
	mkdir -p "$d/persist" "$d/state"
	echo 0 >"$d/host"
	echo "udp:127.0.0.1:$port" >"$d/target"
	sed -e "s|udp:ADDR:161|udp:127.0.0.1:$port|" -e "s|engineID HOST|engineID lb1|" \
		-e "s|/var/agentx/master|$d/agentx.sock|" -e "s|AUTH-PASSPHRASE|$SNMP_AUTH|" \
		-e "s|PRIV-PASSPHRASE|$SNMP_PRIV|" -e "s|^createUser nonstop|createUser $SNMP_USER|" \
		-e "s|usm nonstop|usm $SNMP_USER|" \
		"$NONSTOP_TOP/contrib/snmpd/snmpd.conf" >"$d/snmpd.conf"
	snmpd_run lb1 0
	wait_until 10000 test -S "$d/agentx.sock"
	bg lb1-agent 0 $LC_AGENT -a '' -f "$ROLE" -s "$d/state" -x "$d/agentx.sock"
	wait_until 10000 agent_up lb1
	run -1 snmpget -v2c -c public -t 0.5 -r 0 "$(agent_target lb1)" NONSTOP-MIB::nsHostName.0
	run -2 snmpget -v3 -l authNoPriv -u "$SNMP_USER" -a SHA-256 -A "$SNMP_AUTH" -t 1 -r 0 \
		"$(agent_target lb1)" NONSTOP-MIB::nsHostName.0
	# The engine ID is the host name: a manager can skip discovery.
	run -0 v3 snmpget "$(agent_target lb1)" -e 0x80001f88046c6231 -Oqv NONSTOP-MIB::nsHostName.0
	[ "$output" = lb1 ]
}

@test "notifications: nsRsDown and nsRsUp on rs-probe's changes, nsTakeover when bs becomes lb" {
	command -v snmptrapd >/dev/null || skip "snmptrapd not installed"
	tport=$((20000 + RANDOM % 20000))
	cat >"$BATS_TEST_TMPDIR/trapd.conf" <<-EOF
	createUser -e 0x80001f88046c6231 $SNMP_USER SHA-256 "$SNMP_AUTH" AES "$SNMP_PRIV"
	authUser log $SNMP_USER priv
	EOF
	bg trapd 0 snmptrapd -f -C -c "$BATS_TEST_TMPDIR/trapd.conf" -Lf "$BATS_TEST_TMPDIR/traps" \
		-p "$BATS_TEST_TMPDIR/trapd.pid" "udp:127.0.0.1:$tport"
	d=$BATS_TEST_TMPDIR/lb1/state
	mkdir -p "$d"
	st() {
		printf 'probe=rs-probe version=1 time=1 sweeps=1 down_events=0 up_events=1\n' >"$d/s.tmp"
		printf 'rs=rs1 addr=192.0.2.11 port=80 status=%s reason=%s weight=1 load=0 conns=0 checks=1 failures=0 since=1\n' "$1" "$2" >>"$d/s.tmp"
		mv "$d/s.tmp" "$d/rs-probe.state"
	}
	st up ""
	sed -i 's/^role=lb /role=bs /; /^rs=/d' "$ROLE"
	SNMPD_EXTRA="trapsess -v3 -l authPriv -u $SNMP_USER -a SHA-256 -A $SNMP_AUTH -x AES -X $SNMP_PRIV udp:127.0.0.1:$tport" \
		snmpd_start lb1 0 "$ROLE"
	# The backup server takes over: its role file becomes the balancer's.
	sed -i 's/^role=bs /role=lb /' "$ROLE"
	echo 'rs=rs1 addr=192.0.2.11 port=80 weight=1' >>"$ROLE"
	wait_until 10000 grep -q nsTakeover "$BATS_TEST_TMPDIR/traps"
	sleep 0.5
	st down connect-refused
	wait_until 10000 grep -q nsRsDown "$BATS_TEST_TMPDIR/traps"
	grep -q 'connect-refused' "$BATS_TEST_TMPDIR/traps"
	st up ""
	wait_until 10000 grep -q nsRsUp "$BATS_TEST_TMPDIR/traps"
	grep -q 'event=takeover' "$d/events"
	bg_stop trapd
}

@test "the real server table follows the kernel's dataplane: a flushed nft table shows, a restored one too" {
	need_root
	LC_ROLE=${LC_ROLE:-$BIN/lc-role}
	[ -x "${LC_ROLE%% *}" ] || skip "lc-role not built"
	command -v nft >/dev/null || skip "nft not installed"
	topo_lan 3
	d=$BATS_TEST_TMPDIR/lb1
	cat >"$BATS_TEST_TMPDIR/lbrole" <<-EOF
	role=lb host=lb1 cluster=web generation=1 version=1
	service=web vip=192.0.2.100 port=80 proto=tcp sched=wrr fwd=dr
	lb=lb1 addr=192.0.2.1
	rs=rs1 addr=192.0.2.2 weight=3
	rs=rs2 addr=192.0.2.3 weight=1
	EOF
	# lc-role sets the balancer up; its state is where lc-agent looks by default.
	mkdir -p "$d/state"
	lcr() { hx 1 $LC_ROLE -d nft -s "$d/state/lc-role" "$@"; }
	run -0 lcr apply -f "$BATS_TEST_TMPDIR/lbrole"
	snmpd_start lb1 1 "$BATS_TEST_TMPDIR/lbrole"
	tab() { v3a lb1 snmptable -OU -Cf '|' -CH NONSTOP-MIB::nsRsTable | cut -d'|' -f1,5,6,7,14 | tr '|' ,; }
	[ "$(v3a lb1 snmpget -Oqv NONSTOP-MIB::nsLbDataplane.0)" = nftables ]
	run -0 tab
	[ "${lines[0]}" = "rs1,3,unknown,,present" ]
	[ "${lines[1]}" = "rs2,1,unknown,,present" ]
	# Someone deletes the table: both servers are out of it, and down.
	hx 1 nft delete table netdev nonstop
	gone() { tab | grep -qx 'rs1,3,down,not-in-dataplane,absent'; }
	wait_until 5000 gone
	run -0 tab
	[ "${lines[1]}" = "rs2,1,down,not-in-dataplane,absent" ]
	[ "$(v3a lb1 snmpget -Oqv NONSTOP-MIB::nsRsStatus.2)" = down ]
	# lc-role puts it back: they return as they were.
	run -0 lcr apply -f "$BATS_TEST_TMPDIR/lbrole"
	back() { tab | grep -qx 'rs1,3,unknown,,present'; }
	wait_until 5000 back
	# A weight the kernel holds is the weight served, whatever the file says.
	sed -i 's/^rs=rs2 addr=192.0.2.3 weight=1$/rs=rs2 addr=192.0.2.3 weight=4/' "$BATS_TEST_TMPDIR/lbrole"
	run -0 tab
	[ "${lines[1]}" = "rs2,1,unknown,,present" ]
	run -0 lcr apply -f "$BATS_TEST_TMPDIR/lbrole"
	w4() { tab | grep -qx 'rs2,4,unknown,,present'; }
	wait_until 5000 w4
}
