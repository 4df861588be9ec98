#!/bin/sh
# Install the Debian packages nonstop needs to build, test and run its demo.
# The one list of them: README, .ci/run and the demo all call this script.
# Installs only what is missing; run as root. Exit 0 when all are present.
set -eu

PKGS="
build-essential pkg-config git
libmnl-dev libssl-dev libcap-dev
libnftables-dev libnetfilter-queue-dev
libldap-dev libarchive-dev libsnmp-dev
iproute2 nftables iptables procps psmisc
bats mandoc python3
keepalived
slapd ldap-utils
snmpd snmp smitools snmptrapd
lighttpd
clang libclang-rt-14-dev libbpf-dev
tcpdump
curl chromium
qemu-system-x86 busybox-static ipvsadm cpio
"

missing=
for p in $PKGS; do
	s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case $s in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: fatal: missing packages:$missing (run as root to install)" >&2
	exit 111
fi
export DEBIAN_FRONTEND=noninteractive
# Keep packaged daemons (slapd, snmpd, keepalived, lighttpd) from starting:
# the tests and the demo start their own instances.
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
fi
echo "deps.sh: installing:$missing" >&2
apt-get update -q >&2 || { [ -n "$made_policy" ] && rm -f "$policy"; exit 111; }
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >&2 || rc=$?
[ -n "$made_policy" ] && rm -f "$policy"
[ "${rc:-0}" -eq 0 ] || { echo "deps.sh: fatal: apt-get install failed" >&2; exit 111; }
exit 0
