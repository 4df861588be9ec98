# Start and stop real slapd instances for tests, from the shipped examples in
# schema/ (slapd.conf form or cn=config form), each on its own loopback port
# and ldapi socket under $BATS_TEST_TMPDIR. Load after lib/common.
#
#   slapd_start NAME conf|config [extra-db-file [extra-global-file]]
#     extra-db-file is appended to the database section (slapd.conf) or to
#     config.ldif; extra-global-file goes before the database (slapd.conf).
#     $SLAPD_PORT_WANT picks the port (see slapd_port).
#     sets SLAPD_URI_<NAME>, SLAPD_LDAPI_<NAME>, and, for the last started,
#     SLAPD_URI, SLAPD_LDAPI, SLAPD_DIR; SLAPD_BASE and SLAPD_ROOTDN are fixed.
#   slapd_stop NAME
#   slapd_dump [URI]   the whole tree as sorted LDIF (for before/after checks)

SLAPD_BASE="dc=nonstop,dc=example"
SLAPD_ROOTDN="cn=manager,$SLAPD_BASE"
SLAPD_ROOTPW=secret

need_slapd() {
	command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ] || skip "slapd not installed"
	command -v ldapsearch >/dev/null 2>&1 || skip "ldap-utils not installed"
}

# ldapi:// URIs carry the socket path percent-encoded.
ldapi_uri() {
	local p=$1 out= c i
	for ((i = 0; i < ${#p}; i++)); do
		c=${p:i:1}
		case $c in
		[A-Za-z0-9._~-]) out+=$c ;;
		*) out+=$(printf '%%%02X' "'$c") ;;
		esac
	done
	echo "ldapi://$out"
}

# A free loopback port below the ephemeral range (32768-), so that no
# outgoing connection on this busy machine can be holding it.
slapd_port() {
	local p i
	for ((i = 0; i < 50; i++)); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# Rewrite the example's paths, rootpw and schema location for this instance.
_slapd_sed() {
	local d=$1 hash=$2
	sed -e "s|/var/lib/nonstop/ldap|$d|g" \
	    -e "s|/usr/local/share/nonstop/schema|$NONSTOP_TOP/schema|g" \
	    -e "s|{SSHA}REPLACE-with-slappasswd-output|$hash|"
}

slapd_start() {
	local try
	# Another test may take the port between the check and slapd's bind:
	# try again on a new one unless the caller fixed it.
	for ((try = 0; try < 3; try++)); do
		_slapd_start "$@" && return 0
		[ -n "${SLAPD_PORT_WANT:-}" ] && return 1
		slapd_stop "$1"
		rm -rf "$BATS_TEST_TMPDIR/slapd-$1"
	done
	return 1
}

_slapd_start() {
	local name=$1 form=$2 extra=${3:-} global=${4:-}
	local d=$BATS_TEST_TMPDIR/slapd-$name port hash uri ldapi i
	mkdir -p "$d/data" || return 1
	port=${SLAPD_PORT_WANT:-$(slapd_port)} || return 1
	hash=$(/usr/sbin/slappasswd -s "$SLAPD_ROOTPW") || return 1
	ldapi=$(ldapi_uri "$d/ldapi")
	uri="ldap://127.0.0.1:$port/"
	case $form in
	conf)
		_slapd_sed "$d" "$hash" <"$NONSTOP_TOP/schema/slapd.conf.example" >"$d/slapd.conf"
		if [ -n "$global" ]; then
			awk -v f="$global" '/^database/ && !done { while ((getline l < f) > 0) print l; done = 1 } { print }' \
				"$d/slapd.conf" >"$d/slapd.conf.new" && mv "$d/slapd.conf.new" "$d/slapd.conf"
		fi
		[ -n "$extra" ] && cat "$extra" >>"$d/slapd.conf"
		/usr/sbin/slaptest -Q -u -f "$d/slapd.conf" || return 1
		/usr/sbin/slapd -f "$d/slapd.conf" -h "$uri $ldapi" -d 0 \
			>"$d/log" 2>&1 3>&- &
		;;
	config)
		mkdir -p "$d/slapd.d"
		_slapd_sed "$d" "$hash" <"$NONSTOP_TOP/schema/config.ldif.example" >"$d/config.ldif"
		[ -n "$extra" ] && { echo; cat "$extra"; } >>"$d/config.ldif"
		/usr/sbin/slapadd -q -n0 -F "$d/slapd.d" -l "$d/config.ldif" >"$d/slapadd.log" 2>&1 ||
			{ cat "$d/slapadd.log" >&2; return 1; }
		/usr/sbin/slapd -F "$d/slapd.d" -h "$uri $ldapi" -d 0 \
			>"$d/log" 2>&1 3>&- &
		;;
	*) echo "slapd_start: form conf or config" >&2; return 1 ;;
	esac
	echo $! >"$d/pid"
	for ((i = 0; i < 1000; i++)); do
		ldapwhoami -Q -Y EXTERNAL -H "$ldapi" >/dev/null 2>&1 && break
		kill -0 "$(cat "$d/pid")" 2>/dev/null || { cat "$d/log" >&2; return 1; }
		sleep 0.01
	done
	ldapwhoami -Q -Y EXTERNAL -H "$ldapi" >/dev/null 2>&1 || { cat "$d/log" >&2; return 1; }
	printf -v "SLAPD_URI_$name" %s "$uri"
	printf -v "SLAPD_LDAPI_$name" %s "$ldapi"
	printf -v "SLAPD_PORT_$name" %s "$port"
	SLAPD_URI=$uri SLAPD_LDAPI=$ldapi SLAPD_DIR=$d SLAPD_PORT=$port
	export SLAPD_URI SLAPD_LDAPI SLAPD_DIR SLAPD_PORT
}

slapd_stop() {
	local d=$BATS_TEST_TMPDIR/slapd-$1 pid i
	[ -f "$d/pid" ] || return 0
	pid=$(cat "$d/pid")
	kill "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 500; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.01
	done
	kill -9 "$pid" 2>/dev/null
	return 0
}

# Stop every instance this test started.
slapd_stop_all() {
	local f
	for f in "$BATS_TEST_TMPDIR"/slapd-*/pid; do
		[ -f "$f" ] || continue
		f=${f%/pid}
		slapd_stop "${f##*/slapd-}"
	done
}

# The whole tree as root sees it, operational attributes of change left
# out, entries in a stable order: equal dumps mean an unchanged directory.
slapd_dump() {
	local ldapi=${1:-$SLAPD_LDAPI}
	ldapsearch -LLL -o ldif-wrap=no -Q -Y EXTERNAL -H "$ldapi" -b "$SLAPD_BASE" '(objectClass=*)' '*' |
		awk 'BEGIN { RS = "" } { gsub(/\n/, "\001"); print }' | LC_ALL=C sort | tr '\001' '\n'
}
