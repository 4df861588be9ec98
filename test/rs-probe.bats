#!/usr/bin/env bats
# rs-probe against real snmpd + lc-agent real servers in namespaces:
# h1 is the load balancer, h2 (rs1) and h3 (rs2) real servers with a
# busybox httpd on port 80.

load lib/common
load lib/snmpd

RS_PROBE=${RS_PROBE:-$BIN/rs-probe}

setup() {
	snmp_env
	S=$BATS_TEST_TMPDIR/lbstate
	mkdir -p "$S"
	common='service=web vip=192.0.2.100 port=80 proto=tcp sched=wrr fwd=dr
lb=lb1 addr=192.0.2.1
rs=rs1 addr=192.0.2.2 weight=4
rs=rs2 addr=192.0.2.3 weight=4'
	printf 'role=lb host=lb1 cluster=web generation=1 version=1\n%s\n' "$common" >"$BATS_TEST_TMPDIR/lb.role"
	printf 'role=rs host=rs1 cluster=web generation=1 version=1\n%s\n' "$common" >"$BATS_TEST_TMPDIR/rs1.role"
	printf 'role=rs host=rs2 cluster=web generation=1 version=1\n%s\n' "$common" >"$BATS_TEST_TMPDIR/rs2.role"
	mkdir -p "$BATS_TEST_TMPDIR/www"
	echo hello >"$BATS_TEST_TMPDIR/www/index.html"
}

teardown() {
	bg_stop probe 2>/dev/null
	for n in lb1 rs1 rs2; do snmpd_stop "$n"; done
	topo_teardown
}

cluster() {
	need_root
	topo_lan 3
	snmpd_start rs1 2 "$BATS_TEST_TMPDIR/rs1.role"
	snmpd_start rs2 3 "$BATS_TEST_TMPDIR/rs2.role"
	web_start 2
	web_start 3
	# The agents see the web servers (their snapshot lives 100 ms).
	wait_until 5000 svc_up rs1
	wait_until 5000 svc_up rs2
}
svc_up() { [ "$(v3a "$1" snmpget -Oqv NONSTOP-MIB::nsHostServicesUp.0)" = 1 ]; }
web_start() { bg "web$1" "$1" busybox httpd -f -p "192.0.2.$1:80" -h "$BATS_TEST_TMPDIR/www"; wait_until 5000 hx "$1" bash -c "exec 3<>/dev/tcp/192.0.2.$1/80"; }
events() { grep -c "$1" "$BATS_TEST_TMPDIR/probe.out"; }
has() { grep -q -- "$1" "$BATS_TEST_TMPDIR/probe.out"; }

@test "-V, usage, -n, bad options and credentials" {
	run -0 $RS_PROBE -V
	[[ $output == "rs-probe "* ]]
	run -100 $RS_PROBE -Z
	[[ $output == usage:* ]]
	run -100 $RS_PROBE -t 100 -w 200
	run -100 $RS_PROBE -u 'no slash'
	run -0 $RS_PROBE -n -f "$BATS_TEST_TMPDIR/lb.role" -k "$SNMP_CREDS"
	[ "$output" = "configuration OK" ]
	run -100 $RS_PROBE -n -f "$BATS_TEST_TMPDIR/rs1.role" -k "$SNMP_CREDS"
	chmod 644 "$SNMP_CREDS"
	run -100 $RS_PROBE -n -f "$BATS_TEST_TMPDIR/lb.role" -k "$SNMP_CREDS"
	[[ $output == *"readable by others"* ]]
	chmod 600 "$SNMP_CREDS"
	# -E: the engine file.
	printf '# pools\nrs=rs1 engine=pool1\n' >"$BATS_TEST_TMPDIR/eng"
	run -0 $RS_PROBE -n -E "$BATS_TEST_TMPDIR/eng" -f "$BATS_TEST_TMPDIR/lb.role" -k "$SNMP_CREDS"
	for bad in 'rs=rs1 engine=' 'rs=rs1' 'engine=x rs=rs1' 'rs=rs1 engine=x extra=1' \
	    "rs=rs1 engine=$(printf '%028d' 0)"; do
		printf '%s\n' "$bad" >"$BATS_TEST_TMPDIR/eng"
		run -100 $RS_PROBE -n -E "$BATS_TEST_TMPDIR/eng" -f "$BATS_TEST_TMPDIR/lb.role" -k "$SNMP_CREDS"
		[[ $output == *"engine"* ]]
	done
	run -111 $RS_PROBE -n -E "$BATS_TEST_TMPDIR/missing" -f "$BATS_TEST_TMPDIR/lb.role" -k "$SNMP_CREDS"
	echo 'user=x auth=MD5 authpass=12345678 privpass=12345678' >"$BATS_TEST_TMPDIR/c2"
	chmod 600 "$BATS_TEST_TMPDIR/c2"
	run -100 $RS_PROBE -n -f "$BATS_TEST_TMPDIR/lb.role" -k "$BATS_TEST_TMPDIR/c2"
}

@test "one sweep (-1): all up exits 0; a dead agent and a dead service exit 1" {
	cluster
	run -0 --separate-stderr hx 1 $RS_PROBE -1 -f "$BATS_TEST_TMPDIR/lb.role" -k "$SNMP_CREDS" -w 1000 -t 2000
	[ "${lines[0]}" = "event=rs-up rs=rs1 addr=192.0.2.2" ]
	[ "${lines[1]}" = "event=rs-up rs=rs2 addr=192.0.2.3" ]
	# net-snmp's own crypto and a socket per agent (the fallbacks) agree.
	run -0 --separate-stderr hx 1 env RS_PROBE_GENERIC_CRYPTO=1 RS_PROBE_OWN_SOCKETS=1 \
		$RS_PROBE -1 -v -f "$BATS_TEST_TMPDIR/lb.role" -k "$SNMP_CREDS" -w 1000 -t 2000
	[ "${#lines[@]}" -eq 2 ]
	[[ $stderr == *"0 fast USM crypto paths on"* ]]
	run -0 --separate-stderr hx 1 $RS_PROBE -1 -v -f "$BATS_TEST_TMPDIR/lb.role" -k "$SNMP_CREDS" -w 1000 -t 2000
	[[ $stderr == *" fast USM crypto paths on"* ]]
	[[ $stderr != *"debug: 0 fast USM"* ]]
	# -E: rs2's agent under another engine ID is not rs2's agent.
	echo 'rs=rs2 engine=elsewhere' >"$BATS_TEST_TMPDIR/eng"
	run -1 --separate-stderr hx 1 $RS_PROBE -1 -A -E "$BATS_TEST_TMPDIR/eng" -f "$BATS_TEST_TMPDIR/lb.role" -k "$SNMP_CREDS" -w 1000 -t 2000
	[ "${lines[0]}" = "event=rs-up rs=rs1 addr=192.0.2.2" ]
	[[ ${lines[1]} == "event=rs-down rs=rs2 addr=192.0.2.3 reason=agent-"* ]]
	echo 'rs=rs2 engine=rs2' >"$BATS_TEST_TMPDIR/eng"
	run -0 --separate-stderr hx 1 $RS_PROBE -1 -A -E "$BATS_TEST_TMPDIR/eng" -f "$BATS_TEST_TMPDIR/lb.role" -k "$SNMP_CREDS" -w 1000 -t 2000
	snmpd_stop rs1
	bg_stop web3
	sleep 0.3
	run -1 --separate-stderr hx 1 $RS_PROBE -1 -f "$BATS_TEST_TMPDIR/lb.role" -k "$SNMP_CREDS" -w 1000 -t 2000
	[ "${lines[0]}" = "event=rs-down rs=rs1 addr=192.0.2.2 reason=agent-timeout" ]
	[[ ${lines[1]} == "event=rs-down rs=rs2 addr=192.0.2.3 reason="@(agent-service-down|connect-refused) ]]
}

rs_table_has() {
	v3a lb1 snmptable -OU -Cf , -Cb NONSTOP-MIB::nsRsTable | grep -qF "$1"
}

@test "a dead agent and a dead service are reported down, then up again when back" {
	cluster
	snmpd_start lb1 1 "$BATS_TEST_TMPDIR/lb.role" "" -s "$S"
	bg probe 1 $RS_PROBE -f "$BATS_TEST_TMPDIR/lb.role" -k "$SNMP_CREDS" -s "$S" \
		-t 1000 -w 500 -r 1 -F 1
	wait_until 10000 has 'event=rs-up rs=rs1'
	wait_until 10000 has 'event=rs-up rs=rs2'

	# rs1's agent dies (snmpd and lc-agent), its web server lives on.
	snmpd_stop rs1
	# Due within one interval + one timeout (1.5 s); allow for a loaded machine.
	wait_until 6000 has 'event=rs-down rs=rs1 addr=192.0.2.2 reason=agent-timeout' || { cat "$BATS_TEST_TMPDIR/probe.out" "$BATS_TEST_TMPDIR/probe.err"; ps aux | grep -E 'snmpd|lc-agent' | grep -v grep; false; }
	# rs2's web server dies, its agent lives on.
	bg_stop web3
	wait_until 6000 has 'event=rs-down rs=rs2 addr=192.0.2.3 reason='
	grep -E 'event=rs-down rs=rs2 .*reason=(agent-service-down|connect-refused)' "$BATS_TEST_TMPDIR/probe.out"

	# The load balancer's agent serves what rs-probe saw.
	wait_until 5000 bash -c "grep -q 'rs=rs1 .*status=down' '$S/rs-probe.state'"
	# The agent reads the state file on its next tick: poll it, bounded.
	wait_until 5000 rs_table_has 'rs1,ipv4,"C0 00 02 02 ",0,4,down,agent-timeout'
	run -0 v3a lb1 snmptable -OU -Cf , -Cb NONSTOP-MIB::nsRsTable
	[[ $output == *'rs1,ipv4,"C0 00 02 02 ",0,4,down,agent-timeout'* ]]
	[[ $output == *'rs2,ipv4,"C0 00 02 03 ",0,4,down,'* ]]
	run -0 v3a lb1 snmpwalk NONSTOP-MIB::nsEventType
	[[ $output == *rsDown* ]]

	snmpd_start rs1 2 "$BATS_TEST_TMPDIR/rs1.role"
	web_start 3
	wait_until 6000 bash -c "[ \$(grep -c 'event=rs-up rs=rs1' '$BATS_TEST_TMPDIR/probe.out') -eq 2 ]"
	wait_until 6000 bash -c "[ \$(grep -c 'event=rs-up rs=rs2' '$BATS_TEST_TMPDIR/probe.out') -eq 2 ]"
	[ "$(events 'event=rs-down')" -eq 2 ]
	bg_stop probe
	[ "$(bg_out probe | grep -c .)" -eq 6 ]
	grep -q '^time=[0-9]* event=rs-down rs=rs1' "$S/events"
}

@test "rise and fall hysteresis: one failed sweep is not enough with -F 2" {
	cluster
	bg probe 1 $RS_PROBE -f "$BATS_TEST_TMPDIR/lb.role" -k "$SNMP_CREDS" -s "$S" \
		-t 700 -w 300 -r 2 -F 3
	wait_until 10000 has 'event=rs-up rs=rs2'
	grep -q 'rs=rs2 .*checks=[2-9]' "$S/rs-probe.state"
	bg_stop web3
	wait_until 10000 has 'event=rs-down rs=rs2'
	# Three failed checks were needed.
	grep -q 'rs=rs2 .*status=down .*failures=3 ' "$S/rs-probe.state" ||
		grep -q 'rs=rs2 .*status=down .*failures=[3-9]' "$S/rs-probe.state"
}

@test "HTTP check: the expected status or rs-down with the status seen" {
	cluster
	run -0 hx 1 $RS_PROBE -1 -f "$BATS_TEST_TMPDIR/lb.role" -k "$SNMP_CREDS" -u /index.html
	run -1 hx 1 $RS_PROBE -1 -f "$BATS_TEST_TMPDIR/lb.role" -k "$SNMP_CREDS" -u /missing
	[[ $output == *"event=rs-down rs=rs1 addr=192.0.2.2 reason=http-status-404"* ]]
	run -0 hx 1 $RS_PROBE -1 -f "$BATS_TEST_TMPDIR/lb.role" -k "$SNMP_CREDS" -u /missing -e 404
}

@test "weights from load: -W moves weights in bounded steps within bounds" {
	cluster
	# Base weight 4: the target is 8 at load 0, 4 at load 1.00, 2 at 3.00;
	# whatever the machine's load, each step is at most 1 (a quarter).
	bg probe 1 $RS_PROBE -f "$BATS_TEST_TMPDIR/lb.role" -k "$SNMP_CREDS" -s "$S" \
		-t 200 -w 150 -r 1 -F 1 -W
	wait_until 10000 has 'event=rs-up rs=rs2'
	sleep 3
	bg_stop probe
	prev=4
	for w in $(sed -n 's/^event=weight rs=rs1 addr=192.0.2.2 weight=//p' "$BATS_TEST_TMPDIR/probe.out"); do
		d=$((w - prev))
		[ "$d" -ge -1 ] && [ "$d" -le 1 ] && [ "$d" -ne 0 ]
		[ "$w" -ge 1 ] && [ "$w" -le 8 ]
		prev=$w
	done
	grep -q "rs=rs1 .*weight=$prev " "$S/rs-probe.state"
}

@test "fuzz: the HTTP status line parser (libFuzzer, bounded runs)" {
	command -v clang >/dev/null || skip "clang not installed"
	f=$BATS_TEST_TMPDIR/fuzz
	clang -fsanitize=fuzzer,address -g -O1 -I"$NONSTOP_TOP/cmd/rs-probe" \
		-o "$f" "$NONSTOP_TOP/test/fuzz/rsprobe_http.c" 2>"$BATS_TEST_TMPDIR/cc.err" ||
		{ grep -q "libclang_rt.fuzzer\|cannot find" "$BATS_TEST_TMPDIR/cc.err" && skip "no libFuzzer runtime"; cat "$BATS_TEST_TMPDIR/cc.err"; false; }
	run -0 "$f" -runs=20000 -max_len=300
}
