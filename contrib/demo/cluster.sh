#!/usr/bin/env bash
# nonstop demo, part 2: a whole load cluster in network namespaces, built
# only from the project's tools. A throw-away slapd holds the directory;
# each host runs its own snmpd + lc-agent; lc-build applies the cluster and
# pushes every host's role file through its agent; lc-role makes rs1-rs3
# real servers; lb-watch turns lb1 and bs1 into an ha-beat group whose hooks
# run lc-role, so a crashed balancer, or one whose dataplane is gone (seen by
# its own check or by the backup's judge), hands the VIP and the balancing
# over; rs-probe | lc-role follow takes a failed web server out and back;
# lc-web shows the directory. A client fetches from the VIP every 20 ms.
# Prints a timeline. Run as root from the top of the tree after make.
# DEMO_WAIT=s keeps everything up s seconds at the end (to open lc-web).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${NONSTOP_BIN:-$top/build/bin}
LC_BUILD=$bin/lc-build LC_ROLE=$bin/lc-role LC_AGENT=$bin/lc-agent
RS_PROBE=$bin/rs-probe HA_BEAT=$bin/ha-beat LC_WEB=$bin/lc-web
[ "$(id -u)" -eq 0 ] || { echo "cluster: fatal: run as root (network namespaces)" >&2; exit 100; }

P=nsclu$$
work=$(mktemp -d /tmp/nonstop-cluster.XXXXXX)
chmod 700 "$work"
rootpids=()
. "$top/contrib/demo/lib.sh"
cleanup() {
	local pid k
	demo_sweep
	for pid in "${rootpids[@]}"; do kill "$pid" 2>/dev/null; done
	for pid in "${rootpids[@]}"; do
		for ((k = 0; k < 100; k++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.02; done
		kill -9 "$pid" 2>/dev/null
	done
	if [ -n "${DEMO_KEEP:-}" ]; then echo "cluster: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 111' INT TERM

say() { echo "   $*"; }
skip() { echo "   SKIPPED: $*"; }
mark() { echo "$EPOCHREALTIME $*" >>"$work/marks"; echo "-> $*"; }
# seen WHAT: the system's reaction, a mark of its own in the timeline.
seen() { echo "$EPOCHREALTIME seen: $*" >>"$work/marks"; echo "   seen: $*"; }
have() { command -v "$1" >/dev/null 2>&1 || [ -x "$1" ]; }
pw() { head -c "${1:-12}" /dev/urandom | base64 | tr -d '/+=\n'; }
# Network: a bridge in ${P}sw, one namespace per host on it.
declare -A addr=([c]=192.0.2.1 [lb1]=192.0.2.2 [bs1]=192.0.2.3
	[rs1]=192.0.2.11 [rs2]=192.0.2.12 [rs3]=192.0.2.13)
hosts=(c lb1 bs1 rs1 rs2 rs3)
nx() { local h=$1; shift; ip netns exec "$P$h" "$@"; }
# lcstate HOST: lc-role's state folder on HOST (on lb1 and bs1, lb-watch's).
lcstate() { case $1 in lb1 | bs1) echo "$work/$1/lbw/lc-role" ;; *) echo "$work/$1/lc-role" ;; esac; }
VIP=192.0.2.100
base="dc=nonstop,dc=example"

echo "== part 2: a load cluster (lc-build, lc-role, lc-agent, rs-probe, ha-beat, lc-web)"
echo "   hosts, each in its own network namespace on one bridge: client c 192.0.2.1,"
echo "   balancer lb1 .2, backup server bs1 .3, real servers rs1-rs3 .11-.13; VIP $VIP:80"
echo

# ---------------------------------------------------------------- directory
mkdir -p "$work/roles"
dir_ok=
echo "== 1. the directory: our own slapd, nonstop schema, lc-build"
if ! have /usr/sbin/slapd || ! have ldapwhoami; then
	skip "slapd or ldap-utils not installed (sh contrib/deps.sh)"
elif [ ! -x "$LC_BUILD" ]; then
	skip "$LC_BUILD not built"
else
	mkdir -p "$work/ldap/data"
	rootpw=$(pw 18)
	sed -e "s|/var/lib/nonstop/ldap|$work/ldap|g" \
	    -e "s|/usr/local/share/nonstop/schema|$top/schema|g" \
	    -e "s|{SSHA}REPLACE-with-slappasswd-output|$(/usr/sbin/slappasswd -s "$rootpw")|" \
	    "$top/schema/slapd.conf.example" >"$work/ldap/slapd.conf"
	ldapi="ldapi://$(printf %s "$work/ldap/ldapi" | sed 's|/|%2F|g')"
	for _ in 1 2 3; do
		lport=$((20000 + RANDOM % 10000))
		(exec 3<>"/dev/tcp/127.0.0.1/$lport") 2>/dev/null && continue
		/usr/sbin/slapd -f "$work/ldap/slapd.conf" -h "ldap://127.0.0.1:$lport/ $ldapi" -d 0 \
			>"$work/ldap/log" 2>&1 3>&- &
		spid=$!
		wait_for 10 ldapwhoami -Q -Y EXTERNAL -H "$ldapi" >/dev/null && { rootpids+=("$spid"); break; }
		kill "$spid" 2>/dev/null
		spid=
	done
	if [ -z "${spid:-}" ]; then
		skip "slapd did not start: $(tail -n 2 "$work/ldap/log" | tr '\n' ' ')"
	else
		(umask 077; pw 12 >"$work/admin.pw"; pw 24 >"$work/svc.pw")
		root="$LC_BUILD -H $ldapi -b $base"
		lcb="$LC_BUILD -H ldap://127.0.0.1:$lport/ -b $base -D uid=admin,ou=admins,$base -y $work/admin.pw"
		say "slapd on ldap://127.0.0.1:$lport/ (suffix $base), schema from schema/;"
		say "\$W below is this run's temporary folder, $work"
		say "administrator: admin, with a generated password (printed once, in step 7)"
		run() { echo "   \$ lc-build $*" | sed "s|$work|\$W|g"; }
		if run init && $root init >/dev/null &&
			run admin add admin name=Administrator secret=\$W/admin.pw &&
			$root admin add admin name=Administrator secret="$work/admin.pw" >/dev/null &&
			$root admin add lc-web name="lc-web service" secret="$work/svc.pw" >/dev/null &&
			echo "   (then as uid=admin, password file \$W/admin.pw, over ldap://127.0.0.1:$lport/:)" &&
			run host add lb1 addr=192.0.2.2 roles=lb,bs agent=161 &&
			$lcb host add lb1 addr=192.0.2.2 roles=lb,bs agent=161 descr="load balancer" &&
			run host add bs1 addr=192.0.2.3 roles=lb,bs agent=161 &&
			$lcb host add bs1 addr=192.0.2.3 roles=lb,bs agent=161 descr="backup server" &&
			run "host add rs1..rs3 addr=192.0.2.11..13 roles=rs weight=1..3 agent=161" &&
			$lcb host add rs1 addr=192.0.2.11 roles=rs weight=1 agent=161 &&
			$lcb host add rs2 addr=192.0.2.12 roles=rs weight=2 agent=161 &&
			$lcb host add rs3 addr=192.0.2.13 roles=rs weight=3 agent=161 &&
			run cluster add web service=$VIP:80/tcp sched=wrr lb=lb1 bs=bs1 rs=rs1,rs2,rs3 &&
			$lcb -q cluster add web service=$VIP:80/tcp sched=wrr lb=lb1 bs=bs1 rs=rs1,rs2,rs3 &&
			run cluster plan web && $lcb cluster plan web | sed 's/^/     /'
		then
			dir_ok=1
			say "(applied in step 2, once every host's agent runs: lc-build pushes the role files)"
		else
			skip "lc-build failed (see above); the cluster is not built from the directory"
		fi
	fi
fi
if [ -z "$dir_ok" ]; then
	# No directory: the same role files in the documented format, said so.
	say "writing the role files by hand instead (nonstop-role(5)), as lc-build would"
	for h in lb1 bs1 rs1 rs2 rs3; do
		case $h in lb1) r=lb ;; bs1) r=bs ;; *) r=rs ;; esac
		{
			echo "role=$r host=$h cluster=web generation=1 version=1"
			echo "service=web vip=$VIP port=80 proto=tcp sched=wrr fwd=dr"
			echo "lb=lb1 addr=192.0.2.2"
			echo "bs=bs1 addr=192.0.2.3 order=1"
			for i in 1 2 3; do echo "rs=rs$i addr=192.0.2.1$i weight=$i"; done
			for a in lb1 bs1 rs1 rs2 rs3; do echo "agent=$a addr=${addr[$a]} port=161"; done
		} >"$work/roles/$h.role"
	done
fi
echo

# ---------------------------------------------------------------- hosts
echo "== 2. hosts: namespaces, web servers, snmpd + lc-agent (SNMPv3 authPriv)"
lan=()
for h in "${hosts[@]}"; do lan+=("$h" "${addr[$h]}"); done
demo_lan "${lan[@]}"
for h in "${hosts[@]}"; do
	mkdir -p "$work/$h"
	[ -z "$dir_ok" ] && [ -f "$work/roles/$h.role" ] && cp "$work/roles/$h.role" "$work/$h/role"
done
if have busybox; then
	web_start() {
		(ip netns exec "$P$1" nice -n -10 busybox httpd -f -p 80 -h "$work/$1/www" >/dev/null 2>&1 3>&- &
		echo $! >"$work/$1/web.pid")
	}
	say "web servers: busybox httpd on rs1-rs3, each page says its host's name"
else
	web_start() {
		(ip netns exec "$P$1" nice -n -10 python3 -m http.server 80 --bind 0.0.0.0 --directory "$work/$1/www" \
			>/dev/null 2>&1 3>&- &
		echo $! >"$work/$1/web.pid")
	}
	say "web servers: python3 http.server on rs1-rs3, each page says its host's name"
fi
web_up() { nx c bash -c "exec 3<>/dev/tcp/${addr[$1]}/80"; }
for h in rs1 rs2 rs3; do
	mkdir -p "$work/$h/www"
	echo "$h" >"$work/$h/www/index.html"
	web_start "$h"
done
for h in rs1 rs2 rs3; do wait_for 10 web_up "$h" || say "warning: $h's web server is not up"; done

snmp_ok=
if ! have snmpd || ! have snmpget; then
	skip "snmpd or snmp tools not installed: no agents, no rs-probe"
elif [ ! -x "$LC_AGENT" ]; then
	skip "$LC_AGENT not built: no agents, no rs-probe"
else
	export SNMP_PERSISTENT_DIR=$work/mgr SNMPCONFPATH=$work/mgr
	export MIBDIRS=$top/mib:$top/test/mibs:/usr/share/snmp/mibs MIBS=NONSTOP-MIB
	mkdir -p "$work/mgr/cert_indexes"
	suser=nonstop sauth=a$(pw 12) spriv=p$(pw 12)
	(umask 077; printf 'user=%s auth=SHA-256 authpass=%s priv=AES privpass=%s\n' \
		"$suser" "$sauth" "$spriv" >"$work/snmp.creds")
	agent_start() {
		local h=$1 d=$work/$1
		mkdir -p "$d/persist" "$d/state"
		cat >"$d/snmpd.conf" <<-CONF
		agentAddress udp:${addr[$h]}:161
		master agentx
		agentXSocket $d/agentx.sock
		agentXPerms 0600 0700
		agentXTimeout 5
		engineID $h
		dontLogTCPWrappersConnects yes
		createUser $suser SHA-256 "$sauth" AES "$spriv"
		rwuser -s usm $suser priv .1.3.6.1.4.1.8072.9999.9999
		rouser -s usm $suser priv .1.3.6.1.2.1.1
		CONF
		nx "$h" env SNMP_PERSISTENT_DIR="$d/persist" MIBS= MIBDIRS="$top/test/mibs" \
			snmpd -f -C -c "$d/snmpd.conf" -Lf "$d/snmpd.log" -p "$d/snmpd.pid" \
			>/dev/null 2>&1 3>&- &
	}
	agent_sub() {
		local h=$1 d=$work/$1
		nx "$h" "$LC_AGENT" -a "" -f "$d/role" -s "$d/state" -S "$(lcstate "$h")/state" \
			-x "$d/agentx.sock" -N "$h" \
			>"$d/agent.log" 2>&1 3>&- &
	}
	v3() {
		nx c snmpget -v3 -l authPriv -u "$suser" -a SHA-256 -A "$sauth" -x AES -X "$spriv" \
			-t 0.5 -r 0 -Oqv "udp:${addr[$1]}:161" "$2"
	}
	agent_is() { [ "$(v3 "$1" NONSTOP-MIB::nsHostName.0)" = "$1" ]; }
	for h in lb1 bs1 rs1 rs2 rs3; do agent_start "$h"; done
	for h in lb1 bs1 rs1 rs2 rs3; do
		wait_for 10 test -S "$work/$h/agentx.sock" && agent_sub "$h"
	done
	n=0
	for h in lb1 bs1 rs1 rs2 rs3; do
		if wait_for 15 agent_is "$h"; then
			n=$((n + 1))
		else
			say "warning: $h's agent does not answer"
		fi
	done
	say "snmpd + lc-agent on lb1 bs1 rs1 rs2 rs3: $n of 5 answer SNMPv3 authPriv"
	say "(user $suser, generated auth and priv passwords, engine ID = host name)"
	[ "$n" -eq 5 ] && snmp_ok=1
fi
# Apply: lc-build stores the cluster's generation and sends every host its
# role file through its agent (SNMPv3 SET of nsHostRoleConfig), all at once.
# It runs in the client's namespace, where the agents are reachable, and
# reaches slapd over its ldapi socket.
if [ -n "$dir_ok" ]; then
	lcbc="nx c $LC_BUILD -H $ldapi -b $base -D uid=admin,ou=admins,$base -y $work/admin.pw"
	if [ -n "$snmp_ok" ]; then
		say "apply, pushing each host's role file to its agent:"
		run -a \$W/snmp.creds -o \$W/roles cluster apply web
		$lcbc -a "$work/snmp.creds" -o "$work/roles" cluster apply web 2>&1 |
			sed -e "s|$work|\$W|g" -e 's/^/     /'
		n=0
		for h in lb1 bs1 rs1 rs2 rs3; do cmp -s "$work/roles/$h.role" "$work/$h/role" && n=$((n + 1)); done
		say "$n of 5 agents hold their host's role file now (lc-agent wrote it)"
	else
		run -o \$W/roles cluster apply web
		$lcbc -o "$work/roles" cluster apply web 2>&1 | sed -e "s|$work|\$W|g" -e 's/^/     /'
	fi
fi
for h in lb1 bs1 rs1 rs2 rs3; do
	if [ ! -f "$work/$h/role" ] && [ -f "$work/roles/$h.role" ]; then
		say "$h has no role file from its agent: copied from the apply folder"
		cp "$work/roles/$h.role" "$work/$h/role"
	fi
done
if [ -f "$work/lb1/role" ]; then
	say "role file of lb1 (nonstop-role(5)):"
	sed 's/^/     /' "$work/lb1/role"
fi
if [ -n "$snmp_ok" ]; then
	for h in rs1 rs2 rs3; do
		say "$h: nsHostRole=$(v3 "$h" NONSTOP-MIB::nsHostRole.0 2>/dev/null)" \
			"nsHostRoleStatus=$(v3 "$h" NONSTOP-MIB::nsHostRoleStatus.0 2>/dev/null)" \
			"nsHostServicesUp=$(v3 "$h" NONSTOP-MIB::nsHostServicesUp.0 2>/dev/null)"
	done
fi
echo
# ---------------------------------------------------------------- roles
echo "== 3. roles: lc-role on every host (nftables dataplane: no IPVS here)"
role_ok=
if [ ! -x "$LC_ROLE" ]; then
	skip "$LC_ROLE not built: no balancing, parts 3-5 cannot run"
elif ! nx c nft list tables >/dev/null 2>&1; then
	skip "nftables does not work in a namespace here: parts 3-5 cannot run"
else
	role_ok=1
	lcr() { local h=$1; shift; nx "$h" "$LC_ROLE" -d nft -s "$(lcstate "$h")" "$@"; }
	for h in rs1 rs2 rs3; do
		out=$(lcr "$h" apply -f "$work/$h/role" 2>&1) || { role_ok=; say "$h: lc-role apply failed: $out"; }
	done
	say "rs1..rs3\$ lc-role -d nft apply -f rsN.role; then rs1\$ lc-role show:"
	lcr rs1 show 2>&1 | sed 's/^/     /'

fi

# The balancer pair: lb-watch writes each host's ha-beat configuration from
# its role file; ha-beat holds the VIP; its hooks (lb-watch hook) make the
# master the balancer (lc-role -A -r lb) and the others backup servers; its
# check (lb-watch check: lc-role check) makes a master whose table is gone
# hand over; and lb-watch watch on both lets the backup judge the balancer
# from outside (its agent, the VIP, the real servers).
hb_ok=
head -c 32 /dev/urandom >"$work/ha.key"
chmod 600 "$work/ha.key"
LB_WATCH=$bin/lb-watch
lbw() {
	local h=$1; shift
	"$LB_WATCH" -f "$work/$h/role" -k "$work/ha.key" -s "$work/$h/lbw" -H "$work/$h/hb" \
		-e "$work/$h/state/events" "$@"
}
lbw_conf() { lbw "$1" -i eth0 -d nft -t 50 -G conf >"$work/$1/ha-beat.conf"; }
hb_start() {
	mkdir -p "$work/$1/hb"
	nx "$1" "$HA_BEAT" -q -f "$work/$1/ha-beat.conf" -N "$1" -s "$work/$1/hb" \
		>>"$work/events" 2>>"$work/$1/ha-beat.log" 3>&- &
}
watch_start() {
	nx "$1" "$LB_WATCH" -q -f "$work/$1/role" -k "$work/ha.key" -s "$work/$1/lbw" -H "$work/$1/hb" \
		-e "$work/$1/state/events" -c "$work/snmp.creds" watch \
		>/dev/null 2>>"$work/$1/watch.log" 3>&- &
}
hb_state() { [ "$(cat "$work/$1/hb/state" 2>/dev/null)" = "$2" ]; }
# hooked HOST ROLE [N]: lb-watch's hook on HOST took ROLE (lb: takeover, bs:
# giveback) after line N of its event log.
hooked() {
	local ev=giveback
	[ "$2" = lb ] && ev=takeover
	tail -n +"$((${3:-0} + 1))" "$work/$1/lbw/events" 2>/dev/null | grep -q "event=$ev .* rc=0\$"
}
nhooks() { { wc -l <"$work/$1/lbw/events"; } 2>/dev/null || echo 0; }
if [ -n "$role_ok" ]; then
	if [ ! -x "$HA_BEAT" ]; then
		skip "$HA_BEAT not built: lb1 takes its role directly, no failover group"
		lcr lb1 apply -f "$work/lb1/role" >/dev/null 2>&1 || role_ok=
		lcr bs1 apply -f "$work/bs1/role" >/dev/null 2>&1
	elif [ ! -x "$LB_WATCH" ] || ! lbw_conf lb1 2>"$work/lbw.err" || ! lbw_conf bs1 2>>"$work/lbw.err"; then
		skip "lb-watch conf failed: $(head -n 1 "$work/lbw.err")"
		lcr lb1 apply -f "$work/lb1/role" >/dev/null 2>&1 || role_ok=
	else
		say "lb1 and bs1: lb1\$ lb-watch -f lb1.role -k ha.key -i eth0 -d nft -t 50 -G conf"
		say "writes ha-beat's configuration from the role file: group web, heartbeat every"
		say "50 ms, VIP $VIP (ha-beat holds it), no giveback; hooks: master -> lc-role -A -r lb"
		say "apply, backup and fault -> lc-role -A -r bs apply; check every 500 ms: lc-role check"
		sed -e "s|$work|\$W|g" -e "s|$bin|\$BIN|g" -e 's/^/     /' "$work/lb1/ha-beat.conf"
		say "and lb-watch watch on both: the backup judges the balancer through its agent,"
		say "the VIP and the real servers, every 200 ms"
		mark "start ha-beat on lb1 and bs1"
		hb_start lb1
		hb_start bs1
		if [ -n "$snmp_ok" ]; then watch_start lb1; watch_start bs1; fi
		if wait_for 15 hb_state lb1 master && wait_for 15 hooked lb1 lb && wait_for 15 hb_state bs1 backup; then
			hb_ok=1
		else
			say "warning: lb1 did not become master with its lb role; see below"
			cat "$work/lb1/ha-beat.log" 2>/dev/null | tail -n 5 | sed 's/^/     /'
			role_ok=
		fi
	fi
	if [ -n "$role_ok" ]; then
		say "lb1\$ lc-role show"
		lcr lb1 show 2>&1 | sed 's/^/     /'
	fi
fi
echo

# ---------------------------------------------------------------- client
demo_client
served() { tail -n "$1" "$work/client" 2>/dev/null | grep -c ' rs[0-9]$'; }
if [ -n "$role_ok" ]; then
	echo "== 4. the client: a new connection to $VIP:80 every 20 ms (wrr 1:2:3)"
	mark "client starts: GET http://$VIP/ every 20 ms, each a new TCP connection"
	nx c nice -n -10 python3 "$work/client.py" "$work/client" "$work/client.stop" 0.1 >/dev/null 2>&1 3>&- &
	wait_for 10 test -s "$work/client"
	sleep 4
	echo
fi

# ---------------------------------------------------------------- probe
if [ -n "$role_ok" ]; then
	echo "== 5. rs-probe on lb1 | lc-role follow: a web server dies and comes back"
	if [ -z "$snmp_ok" ]; then
		skip "the agents are not all up: no rs-probe"
	elif [ ! -x "$RS_PROBE" ]; then
		skip "$RS_PROBE not built"
	else
		say "lb1\$ rs-probe -f lb1.role -k snmp.creds -t 500 -w 400 -F 2 -r 2 |"
		say "     lc-role -d nft -A -R -t 1000 follow -f lb1.role"
		# shellcheck disable=SC2016 # expanded by the inner bash
		nx lb1 bash -c '
			W=$1 RS_PROBE=$2 LC_ROLE=$3
			"$RS_PROBE" -f "$W/lb1/role" -k "$W/snmp.creds" -s "$W/lb1/state" -t 500 -w 400 -F 2 -r 2 2>"$W/probe.err" |
			while IFS= read -r l; do printf "%s %s\n" "$EPOCHREALTIME" "$l" >>"$W/probe.log"; printf "%s\n" "$l"; done |
			"$LC_ROLE" -d nft -A -s "$W/lb1/lbw/lc-role" -R -t 1000 follow -f "$W/lb1/role" 2>"$W/follow.err" | tee "$W/follow.raw" |
			while IFS= read -r l; do printf "%s %s\n" "$EPOCHREALTIME" "$l" >>"$W/follow.log"; done
		' probe "$work" "$RS_PROBE" "$LC_ROLE" >/dev/null 2>&1 3>&- &
		up3() { [ "$(grep -c 'event=rs-up' "$work/probe.log" 2>/dev/null)" -ge 3 ]; }
		if ! wait_for 15 up3; then
			skip "rs-probe did not report the three real servers up: $(tail -n 2 "$work/probe.err" 2>/dev/null)"
		else
			sleep 1
			mark "rs2's web server dies (kill -9)"
			kill -9 "$(cat "$work/rs2/web.pid")"
			wait_for 15 grep -q 'event=rs-down rs=rs2' "$work/probe.log" || say "warning: no rs-down for rs2"
			wait_for 10 grep -q 'event=quiesced rs=rs2' "$work/follow.log" &&
				seen "lc-role follow quiesced rs2: no new connections go to it"
			wait_for 10 grep -q 'event=removed rs=rs2' "$work/follow.log" || say "warning: follow did not remove rs2"
			sleep 2.5
			mark "rs2's web server restarts"
			web_start rs2
			if wait_for 15 grep -q 'event=added rs=rs2' "$work/follow.log"; then
				seen "lc-role follow added rs2 back"
			else
				say "warning: follow did not add rs2 back"
			fi
			sleep 2.5
			say "rs-probe printed (the first three lines came at its start):"
			sed 's/^[0-9.]* /     /' "$work/probe.log"
			say "lb1's lc-agent serves what rs-probe saw (NONSTOP-MIB::nsRsTable, SNMPv3 authPriv):"
			nx c snmptable -v3 -l authPriv -u "$suser" -a SHA-256 -A "$sauth" -x AES -X "$spriv" \
				-t 2 -r 1 -OU -Cf ' ' -Cb "udp:${addr[lb1]}:161" NONSTOP-MIB::nsRsTable 2>&1 |
				grep -v '^ *$' | head -n 6 | sed 's/^/     /'
		fi
	fi
	echo
fi

# ---------------------------------------------------------------- failover
if [ -n "$hb_ok" ]; then
	echo "== 6. the balancer fails: bs1 takes over the VIP and the balancing"
	nh=$(nhooks bs1)
	mark "CRASH lb1: kill -9 everything on it (ha-beat, lb-watch, rs-probe, follow, snmpd, lc-agent), cut its cable"
	for pid in $(ip netns pids "${P}lb1"); do kill -9 "$pid" 2>/dev/null; done
	ip -n "${P}sw" link set plb1 down
	wait_for 15 hb_state bs1 master || say "warning: bs1 did not become master"
	if wait_for 15 hooked bs1 lb "$nh"; then
		seen "bs1 is master and balances (its hook applied the lb role)"
	else
		say "warning: bs1's master hook did not apply the lb role"
	fi
	sleep 2.5
	nh=$(nhooks lb1)
	mark "lb1 comes back: cable mended, ha-beat and lb-watch restarted (no giveback: bs1 stays master)"
	ip -n "${P}sw" link set plb1 up
	hb_start lb1
	[ -n "$snmp_ok" ] && watch_start lb1
	wait_for 15 hb_state lb1 backup || say "warning: lb1 did not come back as backup"
	wait_for 15 hooked lb1 bs "$nh" || say "warning: lb1's backup hook did not run"
	sleep 1.5
	nh=$(nhooks lb1)
	mark "bs1's dataplane is gone: nft flush ruleset on bs1 (a careless firewall reload)"
	nx bs1 nft flush ruleset
	wait_for 15 hb_state lb1 master || say "warning: lb1 did not take over"
	if wait_for 15 hooked lb1 lb "$nh"; then
		seen "lb1 is master and balances again"
	else
		say "warning: lb1's master hook did not apply the lb role"
	fi
	sleep 2.5
	echo
elif [ -n "$role_ok" ]; then
	echo "== 6. the balancer fails: bs1 takes over the VIP and the balancing"
	skip "no ha-beat group (step 3), so no balancer failover"
	echo
fi
if [ -s "$work/client" ]; then
	mark "client stops"
	touch "$work/client.stop"
	sleep 0.3
fi

# ---------------------------------------------------------------- lc-web
echo "== 7. lc-web: the directory in a browser"
web_ok=
if [ -z "$dir_ok" ]; then
	skip "no directory (step 1), so nothing for lc-web to show"
elif ! have /usr/sbin/lighttpd || [ ! -f /usr/lib/lighttpd/mod_cgi.so ] || ! have curl; then
	skip "lighttpd (with mod_cgi) or curl not installed (sh contrib/deps.sh)"
elif [ ! -x "$LC_WEB" ]; then
	skip "$LC_WEB not built"
else
	mkdir -p "$work/web/www" "$work/web/var" "$work/web/state/web"
	# rs-probe's state and events, copied from the balancer (lc-web(8) FILES).
	cp "$work/lb1/state/rs-probe.state" "$work/lb1/state/events" "$work/web/state/web/" 2>/dev/null
	head -c 32 /dev/urandom >"$work/web/web.key"
	chmod 600 "$work/web/web.key"
	cat >"$work/web/lc-web.conf" <<-CONF
	uri=ldap://127.0.0.1:$lport/
	base=$base
	binddn=uid=lc-web,ou=admins,$base
	pwfile=$work/svc.pw
	key=$work/web/web.key
	roles=$work/roles
	var=$work/web/var
	state=$work/web/state
	title=demo
	CONF
	if ! out=$("$LC_WEB" -n -f "$work/web/lc-web.conf" 2>&1); then
		skip "lc-web -n -f lc-web.conf failed: $out"
	else
		for _ in 1 2 3; do
			wport=$((20000 + RANDOM % 10000))
			(exec 3<>"/dev/tcp/127.0.0.1/$wport") 2>/dev/null && continue
			cat >"$work/web/lighttpd.conf" <<-CONF
			var.lcweb_bin = "$LC_WEB"
			var.lcweb_conf = "$work/web/lc-web.conf"
			server.bind = "127.0.0.1"
			server.port = $wport
			server.document-root = "$work/web/www"
			server.errorlog = "$work/web/lighttpd.err"
			include "$top/contrib/lighttpd/lc-web.conf"
			CONF
			/usr/sbin/lighttpd -D -f "$work/web/lighttpd.conf" >"$work/web/lighttpd.out" 2>&1 3>&- &
			lpid=$!
			WEB=http://127.0.0.1:$wport/lc-web
			if wait_for 5 curl -s -o /dev/null "$WEB?p=css"; then
				rootpids+=("$lpid")
				web_ok=1
				break
			fi
			kill "$lpid" 2>/dev/null
		done
		[ -n "$web_ok" ] || skip "lighttpd did not start: $(tail -n 2 "$work/web/lighttpd.out" "$work/web/lighttpd.err" 2>/dev/null | tr '\n' ' ')"
	fi
fi
if [ -n "$web_ok" ]; then
	say "lc-web (behind lighttpd): $WEB"
	say "administrator: admin   password: $(cat "$work/admin.pw")   (generated for this run)"
	jar=$work/web/jar
	curl -s -c "$jar" -o "$work/web/login.html" "$WEB?p=login"
	tok=$(sed -n 's/.*name="token" value="\([^"]*\)".*/\1/p' "$work/web/login.html" | head -n 1)
	st=$(curl -s -b "$jar" -c "$jar" -o /dev/null -w '%{http_code}' --data-urlencode "token=$tok" \
		--data-urlencode user=admin --data-urlencode "password=$(cat "$work/admin.pw")" "$WEB?p=login")
	st2=$(curl -s -b "$jar" -c "$jar" -o "$work/web/cluster.html" -w '%{http_code}' "$WEB?p=cluster&c=web")
	say "curl: login as admin -> HTTP $st; GET ?p=cluster&c=web -> HTTP $st2; the page as text:"
	sed -e 's/<[^>]*>/ /g' -e 's/&nbsp;/ /g' -e 's/[[:space:]]\+/ /g' -e 's/^ //' "$work/web/cluster.html" |
		grep -v '^ *$' | head -n 20 | cut -c 1-110 | sed 's/^/     | /'
elif [ -n "$dir_ok" ]; then
	say "administrator: admin   password: $(cat "$work/admin.pw")   (generated for this run)"
fi
echo

# ---------------------------------------------------------------- timeline
if [ -s "$work/marks" ]; then
	echo "== timeline ([op] operator, [seen] the cluster's reaction, [ha] ha-beat, [lb-watch]"
	echo "   its hooks and watch, [probe] rs-probe, [follow] lc-role follow on lb1,"
	echo "   [client] runs of 3+ requests without an answer)"
	t0=$(head -n 1 "$work/marks" | cut -d' ' -f1)
	{
		sed -e 's/^\([0-9.]*\) seen: \(.*\)/\1 [seen]   \2/' -e 's/^\([0-9.]*\) \([^[].*\)/\1 [op]     \2/' "$work/marks"
		sed -n 's/^event=transition .*node=\([a-z0-9]*\) from=\([a-z]*\) to=\([a-z]*\) reason=\([a-z-]*\).* time=\([0-9.]*\)$/\5 [ha]     \1: \2 -> \3 (\4)/p' "$work/events" 2>/dev/null
		for h in lb1 bs1; do
			sed -n -e 's/ cluster=web//' -e 's/ reason= / /' -e 's/ master= / /' \
				-e 's/^time=\([0-9.]*\) event=\([a-z-]*\) subject=\([a-z0-9]*\)\(.*\)$/\1 [lb-watch] \3: \2\4/p' \
				"$work/$h/lbw/events" 2>/dev/null
		done
		sed 's/^\([0-9.]*\) /\1 [probe]  /' "$work/probe.log" 2>/dev/null
		sed 's/^\([0-9.]*\) /\1 [follow] /' "$work/follow.log" 2>/dev/null
		awk '{ if ($2 == "-") { if (!n++) s = $1 } else { if (n >= 3) printf "%s [client] no answer from the VIP for %.0f ms, then served by %s\n", s, ($1 - s) * 1000, $2; n = 0 } }' "$work/client" 2>/dev/null
	} | sort -n | awk -v t0="$t0" '{ t = $1; $1 = ""; printf "%8.3f s %s\n", t - t0, $0 }'
	echo
fi
if [ -s "$work/client" ]; then
	echo "== what the client saw, phase by phase (a phase starts at an [op] or [seen] line)"
	awk 'NR == FNR { m[++nm] = $1; sub(/^[0-9.]* /, ""); what[nm] = $0; next }
	{
		while (i < nm && $1 >= m[i + 1]) { flush(); i++ }
		n++; c[$2]++
		if ($2 == "-") {
			r = $3 == "ConnectionRefusedError" ? "refused" : $3 ~ /^(timeout|TimeoutError)$/ ? "timeout" : \
			    $3 == "ConnectionResetError" ? "reset" : $3
			why[r]++
			if (!run) rs = $1
			run++
		} else {
			if (run) { d = ($1 - rs) * 1000; if (d > worst) worst = d }
			run = 0
		}
	}
	function flush(  k, s, j) {
		if (n) {
			s = ""
			for (j = 1; j <= 3; j++) s = s " rs" j "=" c["rs" j] + 0
			printf "   after \"%s\" (%.2f s):\n", what[i], (i < nm ? m[i + 1] : last) - m[i]
			printf "     %d requests:%s, failed=%d", n, s, c["-"] + 0
			s = ""
			for (k in why) s = s (s == "" ? "" : ", ") why[k] " " k
			if (s != "") printf " (%s)", s
			printf ", longest without an answer %.0f ms\n", worst
			if (what[i] ~ /^client starts/ && c["rs1"] > 0)
				printf "     wrr configured 1:2:3, served 1 : %.1f : %.1f\n", c["rs2"] / c["rs1"], c["rs3"] / c["rs1"]
		}
		n = 0; worst = 0; run = 0; delete c; delete why
	}
	{ last = $1 }
	END { flush() }' "$work/marks" <(sort -n "$work/client")
	echo "   (wrr weights 1:2:3 on nftables are statistical: a hash of the client's port)"
	echo
	echo "== client-visible outages, per operator step (until the next step)"
	awk 'NR == FNR { if ($2 == "seen:") next; m[++nm] = $1; sub(/^[0-9.]* /, ""); what[nm] = $0; next }
	{
		while (i < nm && $1 >= m[i + 1]) { flush(); i++ }
		n++
		if ($2 == "-") {
			f++; lastf = $1
			why[$3 == "ConnectionRefusedError" ? "refused" : $3 ~ /^(timeout|TimeoutError)$/ ? "timeout" : \
			    $3 == "ConnectionResetError" ? "reset" : $3]++
			if (!run) rs = $1
			run++
		} else {
			if (run) { d = ($1 - rs) * 1000; if (d > worst) worst = d }
			run = 0
		}
	}
	function flush(  k, s) {
		if (i > 1 && n) {
			printf "   %s:\n", what[i]
			s = ""
			for (k in why) s = s (s == "" ? "" : ", ") why[k] " " k
			if (f) printf "     %d of %d requests failed (%s), the last %.2f s after the step;\n       longest without an answer %.0f ms\n", f, n, s, lastf - m[i], worst
			else printf "     none of %d requests failed\n", n
		}
		n = 0; f = 0; worst = 0; run = 0; delete why
	}
	END { flush() }' "$work/marks" <(sort -n "$work/client")
	echo "   (rs-probe takes a dead server out after 2 failed sweeps 500 ms apart; ha-beat"
	echo "    declares a crashed master dead after 3 x 50 ms; its check (lb-watch check:"
	echo "    lc-role check) fails a master without its table after 2 runs 500 ms apart,"
	echo "    or the backup's judge demotes it; then lb-watch's hook runs lc-role)"
fi
if [ -n "${DEMO_WAIT:-}" ] && [ -n "$web_ok" ]; then
	w=${DEMO_WAIT%%[!0-9]*}
	[ "${w:-0}" -gt 3600 ] && w=3600
	echo "== DEMO_WAIT: lc-web stays at $WEB for ${w:-0} s"
	sleep "${w:-0}"
fi
echo "== part 2 done: namespaces, processes and files removed"
