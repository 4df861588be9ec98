# lc-web behind a real lighttpd on a per-test loopback port, over a real
# slapd (test/lib/slapd.bash). Load after lib/common and lib/slapd.
#
#   web_boot [ttl]  slapd (slapd.conf form) with the tree, administrator
#                   alice (password in $T/alice.pw) and the service
#                   identity uid=lc-web; lc-web's key and configuration;
#                   lighttpd serving it. Sets WEB (the page's URL), LCB
#                   (lc-build as alice), WT (the folder of it all).
#                   With WEB_HOST=i (a topo_lan host), lighttpd and so
#                   lc-web run in that host's namespace and reach slapd over
#                   its ldapi socket; curl here runs there too (web_x).
#   web_stop        stop lighttpd (slapd: slapd_stop_all)
#   wget_ PATH      GET with the cookie jar $WT/jar: body in $WT/body,
#                   status in $status
#   wpost PATH k=v  POST a form (values url-encoded here) the same way
#   web_login USER PASSWORD
#   csrf            the CSRF token of the last page fetched

LC_WEB=${LC_WEB:-$BIN/lc-web}
LC_BUILD=${LC_BUILD:-$BIN/lc-build}

need_web() {
	need_slapd
	command -v lighttpd >/dev/null 2>&1 || [ -x /usr/sbin/lighttpd ] || skip "lighttpd not installed"
	[ -f /usr/lib/lighttpd/mod_cgi.so ] || skip "lighttpd has no mod_cgi"
	command -v curl >/dev/null 2>&1 || skip "curl not installed"
	[ -x "${LC_WEB%% *}" ] || skip "lc-web not built"
	[ -x "${LC_BUILD%% *}" ] || skip "lc-build not built"
}

web_boot() {
	local ttl=${1:-3600} i
	WT=$BATS_TEST_TMPDIR/web
	mkdir -p "$WT/www" "$WT/var" "$WT/roles" "$WT/state"
	slapd_start a conf || return 1
	printf 'alice-secret\n' >"$WT/alice.pw"
	head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WT/svc.pw"
	head -c 32 /dev/urandom >"$WT/web.key"
	chmod 600 "$WT"/*.pw "$WT/web.key"
	local root="$LC_BUILD -H $SLAPD_LDAPI -b $SLAPD_BASE"
	$root init >/dev/null || return 1
	$root admin add alice name="Alice Admin" secret="$WT/alice.pw" >/dev/null || return 1
	$root admin add lc-web name="lc-web service" secret="$WT/svc.pw" >/dev/null || return 1
	LCB="$LC_BUILD -H $SLAPD_URI -b $SLAPD_BASE -D uid=alice,ou=admins,$SLAPD_BASE -y $WT/alice.pw"
	local uri=$SLAPD_URI
	[ "${WEB_HOST:-0}" = 0 ] || uri=$SLAPD_LDAPI
	cat >"$WT/lc-web.conf" <<-CONF
	# lc-web test configuration
	uri=$uri
	base=$SLAPD_BASE
	binddn=uid=lc-web,ou=admins,$SLAPD_BASE
	pwfile=$WT/svc.pw
	key=$WT/web.key
	roles=$WT/roles
	var=$WT/var
	state=$WT/state
	ttl=$ttl
	title=test
	CONF
	$LC_WEB -n -f "$WT/lc-web.conf" 2>/dev/null || return 1
	for ((i = 0; i < 3; i++)); do
		WEB_PORT=$(slapd_port) || return 1
		cat >"$WT/lighttpd.conf" <<-CONF
		var.lcweb_bin = "${LC_WEB%% *}"
		var.lcweb_conf = "$WT/lc-web.conf"
		server.bind = "127.0.0.1"
		server.port = $WEB_PORT
		server.document-root = "$WT/www"
		server.errorlog = "$WT/lighttpd.err"
		server.pid-file = "$WT/lighttpd.pid"
		include "$NONSTOP_TOP/contrib/lighttpd/lc-web.conf"
		CONF
		if [ "${WEB_HOST:-0}" = 0 ]; then
			/usr/sbin/lighttpd -D -f "$WT/lighttpd.conf" >"$WT/lighttpd.out" 2>&1 3>&- &
		else
			ip netns exec "${NS_P}h$WEB_HOST" /usr/sbin/lighttpd -D -f "$WT/lighttpd.conf" \
				>"$WT/lighttpd.out" 2>&1 3>&- &
		fi
		echo $! >"$WT/lighttpd.bgpid"
		WEB=http://127.0.0.1:$WEB_PORT/lc-web
		if wait_until 10000 web_x curl -s -o /dev/null "$WEB?p=css"; then
			return 0
		fi
		web_stop
	done
	cat "$WT/lighttpd.out" "$WT/lighttpd.err" >&2
	return 1
}

# web_x CMD...: run CMD where lighttpd runs (here, or host $WEB_HOST).
web_x() {
	if [ "${WEB_HOST:-0}" = 0 ]; then
		"$@"
	else
		ip netns exec "${NS_P}h$WEB_HOST" "$@"
	fi
}

web_stop() {
	local pid
	[ -f "${WT:-/nonexistent}/lighttpd.bgpid" ] || return 0
	pid=$(cat "$WT/lighttpd.bgpid")
	kill "$pid" 2>/dev/null
	wait_until 3000 not_running "$pid" || kill -9 "$pid" 2>/dev/null
	rm -f "$WT/lighttpd.bgpid"
	return 0
}

wget_() {
	status=$(web_x curl -s -b "$WT/jar" -c "$WT/jar" -o "$WT/body" -D "$WT/head" \
		-w '%{http_code}' "$WEB$1")
}

wpost() {
	local path=$1 a
	shift
	local args=()
	for a in "$@"; do args+=(--data-urlencode "$a"); done
	[ $# -gt 0 ] || args=(--data-binary "")
	status=$(web_x curl -s -b "$WT/jar" -c "$WT/jar" -o "$WT/body" -D "$WT/head" \
		-w '%{http_code}' "${args[@]}" "$WEB$path")
}

# The value of the first hidden input NAME in the last page.
field_of() {
	sed -n "s/.*name=\"$1\" value=\"\\([^\"]*\\)\".*/\\1/p" "$WT/body" | head -n 1
}
csrf() { field_of csrf; }
# The session cookie's value in the jar.
cookie_of() { awk '$6 == "lcweb" { print $7 }' "$WT/jar"; }

web_login() {
	wget_ "?p=login"
	local tok
	tok=$(field_of token)
	wpost "?p=login" "token=$tok" "user=$1" "password=$2"
}
