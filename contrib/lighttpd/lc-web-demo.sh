#!/usr/bin/env bash
# lc-web demo: a throw-away directory (slapd on loopback) with a few hosts
# and a cluster, lc-web behind lighttpd, and a demo administrator with a
# generated password. Prints the address and the password, then serves
# until interrupted (or, with -t SECONDS, for that long) and removes it all.
# Run from the source tree after make: contrib/lighttpd/lc-web-demo.sh [-p port] [-t s]
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${NONSTOP_BIN:-$top/build/bin}
port=8080 secs=
while getopts p:t: o; do
	case $o in
	p) port=$OPTARG ;;
	t) secs=$OPTARG ;;
	*) echo "usage: lc-web-demo.sh [-p port] [-t seconds]" >&2; exit 100 ;;
	esac
done
for x in /usr/sbin/slapd /usr/sbin/lighttpd "$bin/lc-web" "$bin/lc-build"; do
	[ -x "$x" ] || { echo "lc-web-demo: fatal: $x missing (make; contrib/deps.sh)" >&2; exit 100; }
done
w=$(mktemp -d /tmp/lc-web-demo.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$w"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

base="dc=nonstop,dc=example"
mkdir -p "$w/ldap/data" "$w/www" "$w/var" "$w/roles" "$w/state"
rootpw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
sed -e "s|/var/lib/nonstop/ldap|$w/ldap|g" \
    -e "s|/usr/local/share/nonstop/schema|$top/schema|g" \
    -e "s|{SSHA}REPLACE-with-slappasswd-output|$(/usr/sbin/slappasswd -s "$rootpw")|" \
    "$top/schema/slapd.conf.example" >"$w/ldap/slapd.conf"
ldapi="ldapi://$(printf %s "$w/ldap/ldapi" | sed 's|/|%2F|g')"
lport=$((20000 + RANDOM % 10000))
/usr/sbin/slapd -f "$w/ldap/slapd.conf" -h "ldap://127.0.0.1:$lport/ $ldapi" -d 0 >"$w/ldap/log" 2>&1 &
pids+=($!)
for i in $(seq 200); do ldapwhoami -Q -Y EXTERNAL -H "$ldapi" >/dev/null 2>&1 && break; sleep 0.05; done

umask 077
head -c 12 /dev/urandom | base64 | tr -d '/+=' >"$w/admin.pw"
head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$w/svc.pw"
head -c 32 /dev/urandom >"$w/web.key"
root="$bin/lc-build -q -H $ldapi -b $base"
$root init >/dev/null &&
$root admin add admin name="Demo administrator" secret="$w/admin.pw" >/dev/null &&
$root admin add lc-web name="lc-web service" secret="$w/svc.pw" >/dev/null || exit 111
lcb="$bin/lc-build -q -H ldap://127.0.0.1:$lport/ -b $base -D uid=admin,ou=admins,$base -y $w/admin.pw"
$lcb host add lb1 addr=192.0.2.2 roles=lb,bs cpu=x86_64 mem=2048 nic=virtio agent=161 descr="load balancer"
$lcb host add bs1 addr=192.0.2.3 roles=lb,bs cpu=x86_64 mem=2048 nic=virtio agent=161 descr="primary backup"
for i in 1 2 3; do
	$lcb host add rs$i addr=192.0.2.1$i roles=rs weight=$i cpu=x86_64 mem=4096 nic=virtio agent=161
done
$lcb cluster add web service=192.0.2.100:80/tcp sched=wrr lb=lb1 bs=bs1 rs=rs1,rs2 descr="demo shop"
$lcb -o "$w/roles" cluster apply web >/dev/null
cat >"$w/lc-web.conf" <<CONF
uri=ldap://127.0.0.1:$lport/
base=$base
binddn=uid=lc-web,ou=admins,$base
pwfile=$w/svc.pw
key=$w/web.key
roles=$w/roles
var=$w/var
state=$w/state
title=demo
CONF
"$bin/lc-web" -n -f "$w/lc-web.conf" 2>/dev/null || { echo "lc-web-demo: fatal: lc-web -n failed" >&2; exit 100; }
cat >"$w/lighttpd.conf" <<CONF
var.lcweb_bin = "$bin/lc-web"
var.lcweb_conf = "$w/lc-web.conf"
server.bind = "127.0.0.1"
server.port = $port
server.document-root = "$w/www"
server.errorlog = "$w/lighttpd.err"
include "$top/contrib/lighttpd/lc-web.conf"
CONF
/usr/sbin/lighttpd -D -f "$w/lighttpd.conf" >"$w/lighttpd.out" 2>&1 &
pids+=($!)
for i in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/lc-web?p=css" && break; sleep 0.05; done
curl -s -o /dev/null "http://127.0.0.1:$port/lc-web?p=css" ||
	{ echo "lc-web-demo: fatal: lighttpd did not start on port $port" >&2; cat "$w/lighttpd.out" >&2; exit 111; }
echo "== lc-web: http://127.0.0.1:$port/lc-web"
echo "   administrator: admin   password: $(cat "$w/admin.pw")"
echo "   (a fresh directory with hosts lb1 bs1 rs1-rs3 and cluster web; gone when this stops)"
# Wait in the background so that a signal ends the demo at once.
if [ -n "$secs" ]; then
	sleep "$secs" &
	pids+=($!)
else
	echo "   Ctrl-C to stop"
fi
wait "${pids[-1]}"
