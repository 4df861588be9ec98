#!/usr/bin/env bats
# The demo (make demo, contrib/demo/demo.sh) end to end, so that it cannot
# silently rot: both parts run, show their key outcomes, and leave no
# namespace, process or temporary folder behind, also when interrupted.
load ../lib/common

DEMO=${DEMO:-$NONSTOP_TOP/contrib/demo/demo.sh}

setup() {
	need_root
	local t
	for t in ha-beat lc-build lc-role lc-agent rs-probe lc-web tcpr-capture tcpr-sync tcpr-restore tcpr-chatd garp-send; do
		[ -x "$BIN/$t" ] || skip "$t not built"
	done
	for t in python3 busybox slapd slappasswd ldapwhoami snmpd snmpget nft lighttpd curl flock timeout iptables; do
		command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || skip "$t not installed (sh contrib/deps.sh)"
	done
	[ -f /usr/lib/lighttpd/mod_cgi.so ] || skip "lighttpd has no mod_cgi"
	demo_ns | sort >"$BATS_TEST_TMPDIR/ns.before"
	ls -d /tmp/nonstop-demo.* /tmp/nonstop-cluster.* 2>/dev/null | sort >"$BATS_TEST_TMPDIR/tmp.before"
}

# The demo's namespaces: nsdemo<pid>* (part 1), nsclu<pid>* (part 2).
demo_ns() { ip netns list | awk '{print $1}' | grep -E '^ns(demo|clu)[0-9]'; true; }

# Nothing of the demo's is left: no namespace, no temporary folder, no process.
nothing_left() {
	demo_ns | sort >"$BATS_TEST_TMPDIR/ns.after"
	ls -d /tmp/nonstop-demo.* /tmp/nonstop-cluster.* 2>/dev/null | sort >"$BATS_TEST_TMPDIR/tmp.after"
	run -0 comm -13 "$BATS_TEST_TMPDIR/ns.before" "$BATS_TEST_TMPDIR/ns.after"
	[ -z "$output" ] || { echo "namespaces left: $output"; false; }
	run -0 comm -13 "$BATS_TEST_TMPDIR/tmp.before" "$BATS_TEST_TMPDIR/tmp.after"
	[ -z "$output" ] || { echo "folders left: $output"; false; }
	run -1 pgrep -f "$1"
}

# The client's line for the phase that starts at the mark TEXT.
phase() { grep -A 1 -F "after \"$1\"" <<<"$out" | tail -n 1; }
count() {
	case $1 in
	requests) sed -n 's/^ *\([0-9]*\) requests:.*/\1/p' <<<"$2" ;;
	*) sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$2" ;;
	esac
}

@test "make demo: failover group, then the load cluster with rs-probe, balancer failover and lc-web" {
	run -0 timeout -k 10 300 env NONSTOP_BIN="$BIN" "$DEMO"
	out=$output
	echo "$out"
	run -1 grep 'SKIPPED:\|warning:\|fatal:' <<<"$out"

	# Part 1: the three-node group fails over and back.
	grep -q '\[ha\] node b: backup -> master' <<<"$out"
	grep -q '\[client\] served by node b' <<<"$out"

	# Part 2, the directory: lc-build applied the cluster and pushed every
	# host's role file through its agent; a generated password.
	grep -q 'snmpd + lc-agent on lb1 bs1 rs1 rs2 rs3: 5 of 5 answer' <<<"$out"
	grep -q 'host=rs2 role=rs was=none action=add .*push=ok agent=udp:192.0.2.12:161' <<<"$out"
	grep -q 'cluster=web generation=1 changed=5 applied=yes failed=0' <<<"$out"
	grep -q '5 of 5 agents hold their host.s role file now' <<<"$out"
	grep -q 'rs1: nsHostRole=realServer nsHostRoleStatus=' <<<"$out"
	pw=$(sed -n 's/.*administrator: admin   password: \([^ ]*\) .*/\1/p' <<<"$out")
	[ "${#pw}" -ge 12 ]
	[ "$(grep -c -F "$pw" <<<"$out")" -eq 1 ]

	# wrr: every real server serves, none fails, rs3 (weight 3) more than rs1 (1).
	l=$(phase "client starts: GET http://192.0.2.100/ every 20 ms, each a new TCP connection")
	echo "wrr: $l"
	# (A request without an answer in 100 ms fails: a few may on a loaded machine.)
	[ "$(count failed "$l")" -le "$(($(count requests "$l") / 10))" ]
	[ "$(count rs1 "$l")" -gt 0 ] && [ "$(count rs2 "$l")" -gt 0 ]
	[ "$(count rs3 "$l")" -gt "$(count rs1 "$l")" ]

	# rs-probe | lc-role follow: rs2 leaves the rotation and comes back.
	grep -q '\[probe\] event=rs-down rs=rs2 addr=192.0.2.12 reason=' <<<"$out"
	grep -q '\[follow\] event=quiesced rs=rs2' <<<"$out"
	grep -q '\[follow\] event=added rs=rs2 weight=2' <<<"$out"
	[ "$(grep -c '^     event=rs-up rs=rs2' <<<"$out")" -eq 2 ]
	l=$(phase "seen: lc-role follow quiesced rs2: no new connections go to it")
	[ "$(count rs2 "$l")" -eq 0 ] && [ "$(count rs3 "$l")" -gt 0 ]
	l=$(phase "seen: lc-role follow added rs2 back")
	[ "$(count rs2 "$l")" -gt 0 ]

	# The balancer crashes: bs1 takes over the VIP and the balancing.
	grep -q '\[ha\] bs1: backup -> master' <<<"$out"
	grep -q '\[lb-watch\] bs1: takeover state=master .*rc=0' <<<"$out"
	l=$(phase "seen: bs1 is master and balances (its hook applied the lb role)")
	[ "$(count rs1 "$l")" -gt 0 ] && [ "$(count rs3 "$l")" -gt 0 ]
	# bs1's dataplane goes: its check hands over to lb1.
	grep -q '\[ha\] bs1: master -> fault (check-failed)' <<<"$out"
	grep -q '\[seen\] lb1 is master and balances again' <<<"$out"
	l=$(phase "seen: lb1 is master and balances again")
	[ "$(count rs1 "$l")" -gt 0 ] && [ "$(count rs3 "$l")" -gt 0 ]

	# lc-web: login and one page.
	grep -q 'curl: login as admin -> HTTP 303; GET ?p=cluster&c=web -> HTTP 200' <<<"$out"
	grep -q '| rs2 192.0.2.12 ' <<<"$out"

	# Part 3: the chat goes on across the master's death, same connections.
	grep -q 'CRASH: cut h2.s cable' <<<"$out"
	grep -q '\[h3\] *restored 2 sessions in' <<<"$out"
	grep -q '\[bob *\] < alice: did the server just die? (written into the outage)' <<<"$out"
	grep -q '^== chat: ok: 5 lines, each delivered once and in order; alice and bob kept their connections' <<<"$out"

	grep -q '^== demo finished in [0-9]* s, exit 0$' <<<"$out"
	nothing_left "nonstop-cluster\.|nonstop-demo\."
}

@test "an interrupted demo cleans up: namespaces, processes, folders" {
	NONSTOP_BIN=$BIN "$DEMO" >"$BATS_TEST_TMPDIR/out" 2>&1 3>&- &
	pid=$!
	# Interrupt it in part 2, with everything running.
	wait_until 200000 grep -q '^== 5\. ' "$BATS_TEST_TMPDIR/out" || { kill "$pid"; false; }
	run -0 pgrep -f 'nonstop-cluster\.'
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 111 ]
	cat "$BATS_TEST_TMPDIR/out"
	nothing_left "nonstop-cluster\.|nonstop-demo\."
}
