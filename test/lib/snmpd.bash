# Real net-snmp snmpd + lc-agent per test: loopback (host 0, a per-test
# port) or a topo_lan namespace (host i, 192.0.2.i:161). SNMPv3 authPriv
# only, with a user and passwords generated per test; every file lives
# under $BATS_TEST_TMPDIR. Load after lib/common.

LC_AGENT=${LC_AGENT:-$BIN/lc-agent}

rand_hex() { head -c "${1:-12}" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# snmp_env: manager-side settings (MIB path, no writes outside the test)
# and the test's credentials: SNMP_USER, SNMP_AUTH, SNMP_PRIV, and the
# credentials file $SNMP_CREDS for rs-probe and snmp-push.
snmp_env() {
	command -v snmpd >/dev/null || skip "snmpd not installed"
	command -v snmpget >/dev/null || skip "net-snmp tools not installed"
	export SNMP_PERSISTENT_DIR=$BATS_TEST_TMPDIR/mgr SNMPCONFPATH=$BATS_TEST_TMPDIR/mgr
	mkdir -p "$SNMP_PERSISTENT_DIR/cert_indexes"
	export MIBDIRS=$NONSTOP_TOP/mib:$NONSTOP_TOP/test/mibs:/usr/share/snmp/mibs
	export MIBS=NONSTOP-MIB
	if [ -z "${SNMP_AUTH:-}" ]; then
		export SNMP_USER=nonstop SNMP_AUTH=a$(rand_hex) SNMP_PRIV=p$(rand_hex)
		export SNMP_CREDS=$BATS_TEST_TMPDIR/snmp.creds
		(umask 077; printf 'user=%s auth=SHA-256 authpass=%s priv=AES privpass=%s\n' \
			"$SNMP_USER" "$SNMP_AUTH" "$SNMP_PRIV" >"$SNMP_CREDS")
	fi
}

# v3 TOOL TARGET ARGS...: a net-snmp tool with the test's authPriv user.
v3() {
	local tool=$1 target=$2; shift 2
	"$tool" -v3 -l authPriv -u "$SNMP_USER" -a SHA-256 -A "$SNMP_AUTH" \
		-x AES -X "$SNMP_PRIV" -t 2 -r 1 "$target" "$@"
}

# snmpd_start NAME HOST ROLEFILE [PORT] [lc-agent options...]
# Starts snmpd (engine ID = the text NAME) and lc-agent for NAME, waits
# until nsHostName answers. Sets ${NAME}_TARGET style variable via
# agent_target NAME. The agent's state dir is $BATS_TEST_TMPDIR/NAME/state.
snmpd_start() {
	local name=$1 h=$2 role=$3 port=${4:-}; shift 3; [ $# -gt 0 ] && shift
	local d=$BATS_TEST_TMPDIR/$name addr
	snmp_env
	if [ "$h" = 0 ]; then
		addr=127.0.0.1
		[ -n "$port" ] || port=$((20000 + RANDOM % 20000))
	else
		addr=192.0.2.$h
		[ -n "$port" ] || port=161
	fi
	mkdir -p "$d/persist" "$d/state"
	echo "udp:$addr:$port" >"$d/target"
	echo "$h" >"$d/host"
	cat >"$d/snmpd.conf" <<-CONF
	agentAddress udp:$addr:$port
	master agentx
	agentXSocket $d/agentx.sock
	agentXPerms 0600 0700
	agentXTimeout 5
	engineID $name
	dontLogTCPWrappersConnects yes
	createUser $SNMP_USER SHA-256 "$SNMP_AUTH" AES "$SNMP_PRIV"
	rwuser -s usm $SNMP_USER priv .1.3.6.1.4.1.8072.9999.9999
	rouser -s usm $SNMP_USER priv .1.3.6.1.2.1.1
	${SNMPD_EXTRA:-}
	CONF
	snmpd_run "$name" "$h"
	wait_until 10000 test -S "$d/agentx.sock" || { echo "snmpd $name did not start" >&2; cat "$d/snmpd.log" >&2; return 1; }
	bg "$name-agent" "$h" $LC_AGENT -a "${LC_ROLE_CMD:-}" -f "$role" \
		-s "$d/state" -x "$d/agentx.sock" -N "$name" "$@"
	wait_until 10000 agent_up "$name" || { echo "lc-agent $name did not answer" >&2; bg_err "$name-agent" >&2; return 1; }
}

snmpd_run() {
	local name=$1 h=$2 d=$BATS_TEST_TMPDIR/$1
	bg "$name-snmpd" "$h" env SNMP_PERSISTENT_DIR="$d/persist" MIBS= \
		MIBDIRS="$NONSTOP_TOP/test/mibs" snmpd -f -C -c "$d/snmpd.conf" \
		-Lf "$d/snmpd.log" -p "$d/snmpd.pid"
}

agent_target() { cat "$BATS_TEST_TMPDIR/$1/target"; }
agent_host() { local t; t=$(agent_target "$1"); t=${t#udp:}; echo "${t%:*}"; }
agent_port() { local t; t=$(agent_target "$1"); echo "${t##*:}"; }
agent_up() {
	v3a "$1" snmpget -t 0.5 -r 0 -Oqv NONSTOP-MIB::nsHostName.0 2>/dev/null |
		grep -qx "$1"
}
# v3a NAME TOOL ARGS...: v3 TOOL against agent NAME, run from its host's
# namespace (the root namespace cannot reach topo_lan addresses).
v3a() {
	local name=$1 tool=$2 h; shift 2
	h=$(cat "$BATS_TEST_TMPDIR/$name/host")
	if [ "$h" = 0 ]; then
		v3 "$tool" "$(agent_target "$name")" "$@"
	else
		ip netns exec "${NS_P}h$h" "$tool" -v3 -l authPriv -u "$SNMP_USER" -a SHA-256 \
			-A "$SNMP_AUTH" -x AES -X "$SNMP_PRIV" -t 2 -r 1 "$(agent_target "$name")" "$@"
	fi
}
# Run a tool in the agent's namespace (host 0: here).
in_host() { local h=$1; shift; if [ "$h" = 0 ]; then "$@"; else hx "$h" "$@"; fi; }

snmpd_stop() {
	bg_stop "$1-agent" 2>/dev/null
	bg_stop "$1-snmpd" 2>/dev/null
	true
}
