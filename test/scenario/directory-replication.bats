#!/usr/bin/env bats
# Two slapd providers in multi-provider replication (syncprov, serverID,
# syncrepl refreshAndPersist each way), one of each schema form:
# lc-build writes to one and reads the result from the other.
load ../lib/common
load ../lib/slapd

LC_BUILD=${LC_BUILD:-$BIN/lc-build}

setup() {
	need_slapd
	[ -x "${LC_BUILD%% *}" ] || skip "lc-build not built"
	T=$BATS_TEST_TMPDIR
	printf 'alice-secret\n' >"$T/alice.pw"
	chmod 600 "$T/alice.pw"
	mkdir -p "$T/roles"
}

teardown() {
	slapd_stop_all
}

syncrepl() {
	# rid, provider port
	printf 'rid=%03d provider=ldap://127.0.0.1:%s/ bindmethod=simple binddn="%s" credentials=%s searchbase="%s" type=refreshAndPersist retry="1 +" timeout=3 network-timeout=3' \
		"$1" "$2" "$SLAPD_ROOTDN" "$SLAPD_ROOTPW" "$SLAPD_BASE"
}

# seen URI-ldapi CMD...: poll (at most 10 s) until CMD succeeds.
@test "directory replication: write to one provider, read from the other" {
	pa=$(slapd_port)
	pb=$(slapd_port)
	while [ "$pb" = "$pa" ]; do pb=$(slapd_port); done

	# Provider a: slapd.conf form.
	echo "serverID 1" >"$T/a.global"
	{
		echo "overlay syncprov"
		echo "syncrepl $(syncrepl 2 "$pb")"
		echo "multiprovider on"
	} >"$T/a.db"
	SLAPD_PORT_WANT=$pa slapd_start a conf "$T/a.db" "$T/a.global"

	# Provider b: cn=config form, replication switched on live over ldapi.
	SLAPD_PORT_WANT=$pb slapd_start b config
	ldapmodify -Q -Y EXTERNAL -H "$SLAPD_LDAPI_b" >/dev/null <<-EOF2
	dn: cn=config
	changetype: modify
	replace: olcServerID
	olcServerID: 2

	dn: olcOverlay=syncprov,olcDatabase={1}mdb,cn=config
	changetype: add
	objectClass: olcOverlayConfig
	objectClass: olcSyncProvConfig
	olcOverlay: syncprov

	dn: olcDatabase={1}mdb,cn=config
	changetype: modify
	add: olcSyncrepl
	olcSyncrepl: $(syncrepl 1 "$pa")
	-
	replace: olcMultiProvider
	olcMultiProvider: TRUE
	EOF2

	A="$LC_BUILD -H $SLAPD_LDAPI_a -b $SLAPD_BASE"
	$A init
	$A admin add alice name=Alice secret="$T/alice.pw"
	LA="$LC_BUILD -H $SLAPD_URI_a -b $SLAPD_BASE -D uid=alice,ou=admins,$SLAPD_BASE -y $T/alice.pw"
	LB="$LC_BUILD -H $SLAPD_URI_b -b $SLAPD_BASE -D uid=alice,ou=admins,$SLAPD_BASE -y $T/alice.pw"
	# The administrator reaches b by replication, then can bind there.
	wait_until 10000 $LB whoami

	$LA host add lb1 addr=192.0.2.2 roles=lb,bs
	$LA host add bs1 addr=192.0.2.3 roles=lb,bs
	$LA host add rs1 addr=192.0.2.11 roles=rs
	$LA host add rs2 addr=192.0.2.12 roles=rs
	$LA cluster add web service=192.0.2.100:80 sched=wlc lb=lb1 bs=bs1 rs=rs1,rs2
	$LA cluster show web >"$T/web.a"
	wait_until 10000 $LB cluster show web
	$LB cluster show web >"$T/web.b"
	cmp "$T/web.a" "$T/web.b"

	# And the other way: b applies, a sees the generation and role status.
	$LB -o "$T/roles" cluster apply web
	wait_until 10000 sh -c "$LA cluster show web | grep -q generation=1"
	wait_until 10000 sh -c "$LA host show rs2 | grep -q 'status=rs in=web'"
	run -0 $LA cluster plan web
	[ "$(grep -c 'action=keep' <<<"$output")" -eq 4 ]
	# A rule broken on b is still refused because of what a holds.
	$LA host add rs9 addr=192.0.2.19 roles=rs
	wait_until 10000 $LB host show rs9
	run -100 $LB cluster add api service=192.0.2.101:80 lb=bs1 rs=rs9
	[[ $output == *"rule cross-cluster"* ]]
	# With both providers in -H, a dead first one is skipped.
	slapd_stop a
	dead=$(slapd_port)
	run -0 $LC_BUILD -H "ldap://127.0.0.1:$dead/ $SLAPD_URI_b" -b "$SLAPD_BASE" \
		-D "uid=alice,ou=admins,$SLAPD_BASE" -y "$T/alice.pw" cluster show web
	[[ $output == "cluster=web "* ]]
}
