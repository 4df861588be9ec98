#!/usr/bin/env bats
# lc-build against a real slapd, started per test from schema/ in both
# forms (slapd.conf and cn=config).
load lib/common
load lib/slapd
load lib/snmpd

LC_BUILD=${LC_BUILD:-$BIN/lc-build}

setup() {
	need_slapd
	[ -x "${LC_BUILD%% *}" ] || skip "lc-build not built"
	T=$BATS_TEST_TMPDIR
	printf 'alice-secret\n' >"$T/alice.pw"
	printf 'host-secret\n' >"$T/host.pw"
	printf 'wrong\n' >"$T/wrong.pw"
	chmod 600 "$T"/*.pw
	mkdir -p "$T/roles"
}

teardown() {
	slapd_stop_all
	topo_teardown
}

# boot FORM: a directory with its tree and one administrator, alice.
boot() {
	slapd_start a "$1"
	ROOT="$LC_BUILD -H $SLAPD_LDAPI -b $SLAPD_BASE"
	$ROOT init >/dev/null
	$ROOT admin add alice name="Alice Admin" secret="$T/alice.pw" >/dev/null
	ADMIN_DN="uid=alice,ou=admins,$SLAPD_BASE"
	L="$LC_BUILD -H $SLAPD_URI -b $SLAPD_BASE -D $ADMIN_DN -y $T/alice.pw"
}

# hosts lb1 bs1 bs2 (lb,bs), rs1..rs3 (rs), odd (no roles), and cluster web.
seed() {
	$L host add lb1 addr=192.0.2.2 roles=lb,bs agent=161 cpu=x86_64 mem=2048 nic=virtio >/dev/null
	$L host add bs1 addr=192.0.2.3 roles=lb,bs agent=161 >/dev/null
	$L host add bs2 addr=192.0.2.4 roles=lb,bs >/dev/null
	$L host add rs1 addr=192.0.2.11 roles=rs weight=2 secret="$T/host.pw" >/dev/null
	$L host add rs2 addr=192.0.2.12 roles=rs >/dev/null
	$L host add rs3 addr=192.0.2.13 roles=rs >/dev/null
	$L host add odd addr=192.0.2.20 >/dev/null
	$L cluster add web service=192.0.2.100:80/tcp sched=wrr lb=lb1 bs=bs1,bs2 rs=rs1,rs2:3 >/dev/null
}

@test "lc-build: -V, usage and bad options exit as documented" {
	run -0 $LC_BUILD -V
	[[ $output == "lc-build "* ]]
	run -100 $LC_BUILD
	[[ $output == usage:* ]]
	run -100 $LC_BUILD -Z init
	run -100 $LC_BUILD nosuch
	run -100 $LC_BUILD -D cn=x init
	run -100 $LC_BUILD -t 0 init
}

hosts_round_trip() {
	boot "$1"
	seed
	run -0 $L host show lb1
	[ "$output" = 'host=lb1 addr=192.0.2.2 roles=lb,bs status=none agent=161 cpu=x86_64 mem=2048 nic=virtio' ]
	run -0 $L host change lb1 addr=192.0.2.2,2001:db8::2 mem=4096 descr="front door"
	run -0 $L -j host show lb1
	[ "$output" = '{"host":"lb1","addr":["192.0.2.2","2001:db8::2"],"roles":["lb","bs"],"status":"none","agent":161,"cpu":"x86_64","mem":4096,"nic":"virtio","descr":"front door"}' ]
	run -0 $L host list
	[ "${#lines[@]}" -eq 7 ]
	run -0 $L host delete odd
	run -1 $L host show odd
	run -0 $L host list
	[ "${#lines[@]}" -eq 6 ]
	# Bad values are refused before anything is stored.
	run -100 $L host add bad addr=300.1.1.1
	run -100 $L host add bad roles=king
	run -100 $L host add bad weight=70000
	run -100 $L host add bad colour=blue
	run -1 $L host show bad
}

@test "lc-build: hosts round trip (slapd.conf)" { hosts_round_trip conf; }
@test "lc-build: hosts round trip (cn=config)" { hosts_round_trip config; }

clusters_round_trip() {
	boot "$1"
	seed
	run -0 $L cluster show web
	[ "$output" = 'cluster=web sched=wrr fwd=dr service=web@192.0.2.100:80/tcp lb=lb1 bs=bs1:1,bs2:2 rs=rs1,rs2:3 generation=0' ]
	run -0 $L cluster change web sched=wlc rs=rs1,rs2,rs3:4:8080 "service=http@192.0.2.100:80;https@192.0.2.100:443" type=http
	run -0 $L -j cluster show web
	[ "$output" = '{"cluster":"web","sched":"wlc","fwd":"dr","type":"http","service":["http@192.0.2.100:80/tcp","https@192.0.2.100:443/tcp"],"lb":"lb1","bs":["bs1:1","bs2:2"],"rs":["rs1","rs2","rs3:4:8080"],"generation":0}' ]
	run -0 $L cluster list
	[ "${#lines[@]}" -eq 1 ]
	run -0 $L cluster validate web
	[ "$output" = 'cluster=web valid=yes' ]
	run -0 $L cluster delete web
	run -1 $L cluster show web
	run -1 $L cluster delete web
	run -100 $L cluster validate web
	run -100 $L -o "$T/roles" cluster apply web
	run -100 $L cluster export web "$T/x.tgz"
	[ ! -e "$T/x.tgz" ]
}

@test "lc-build: clusters round trip (slapd.conf)" { clusters_round_trip conf; }
@test "lc-build: clusters round trip (cn=config)" { clusters_round_trip config; }

@test "lc-build: administrators round trip; only hashed passwords stored" {
	boot conf
	run -0 $L admin add bob name="Bob B" secret="$T/host.pw"
	run -0 $L admin show bob
	[ "$output" = 'admin=bob name="Bob B"' ]
	run -0 $L admin list
	[ "${#lines[@]}" -eq 2 ]
	run -0 ldapsearch -LLL -o ldif-wrap=no -Q -Y EXTERNAL -H "$SLAPD_LDAPI" -b "uid=bob,ou=admins,$SLAPD_BASE" userPassword
	pw=$(printf '%s\n' "$output" | sed -n 's/^userPassword:: //p' | base64 -d)
	[[ $pw == "{SSHA}"* ]]
	! grep -q host-secret <<<"$output"
	# Bob can work with his password, and again after a change.
	run -0 $LC_BUILD -H "$SLAPD_URI" -b "$SLAPD_BASE" -D "uid=bob,ou=admins,$SLAPD_BASE" -y "$T/host.pw" whoami
	run -0 $L admin change bob secret="$T/wrong.pw"
	run -100 $LC_BUILD -H "$SLAPD_URI" -b "$SLAPD_BASE" -D "uid=bob,ou=admins,$SLAPD_BASE" -y "$T/host.pw" whoami
	run -0 $LC_BUILD -H "$SLAPD_URI" -b "$SLAPD_BASE" -D "uid=bob,ou=admins,$SLAPD_BASE" -y "$T/wrong.pw" host list
	run -0 $L admin delete bob
	run -1 $L admin show bob
	run -100 $L admin add carol name=Carol
}

# refuse RULE ARGS...: exit 100 naming the rule, the directory unchanged.
refuse() {
	local rule=$1; shift
	slapd_dump >"$T/before"
	run -100 "$@"
	[[ $output == *"rule $rule:"* ]] || { echo "want rule $rule, got: $output"; return 1; }
	slapd_dump >"$T/after"
	cmp "$T/before" "$T/after"
}

rules() {
	boot "$1"
	seed
	refuse scheduler $L cluster add c1 service=192.0.2.101:80 sched=fast lb=bs2 rs=rs3
	refuse one-lb $L cluster add c1 service=192.0.2.101:80 rs=rs3
	refuse one-lb $L cluster add c1 service=192.0.2.101:80 lb=bs2,lb1 rs=rs3
	refuse min-rs $L cluster add c1 service=192.0.2.101:80 lb=bs2
	refuse bs-order $L cluster change web bs=bs1:1,bs2:3
	refuse bs-order $L cluster change web bs=bs1:2,bs2:2
	refuse potential $L cluster change web rs=rs1,odd
	refuse potential $L cluster change web lb=rs3
	refuse unique-host $L cluster change web rs=rs1,rs1
	refuse unique-host $L cluster change web rs=rs1,bs1
	refuse unknown-host $L cluster change web rs=rs1,ghost
	refuse cross-cluster $L cluster add c1 service=192.0.2.101:80 lb=bs2 rs=rs1
	refuse service $L cluster add c1 service=192.0.2.101:99999 lb=bs2 rs=rs3
	refuse service $L cluster change web service=
	refuse forwarding $L cluster change web fwd=nat
	$L host add rsdup addr=192.0.2.11 roles=rs >/dev/null
	$L host add rs6 addr=2001:db8::16 roles=rs >/dev/null
	refuse address $L cluster change web rs=rs1,rsdup
	refuse address $L cluster change web rs=rs1,rs6
	refuse in-use $L host delete rs1
	refuse potential $L host change rs1 roles=lb
	refuse address $L host change bs2 addr=2001:db8::4
	# apply and validate refuse too once the directory holds a broken cluster.
	ldapmodify -Q -Y EXTERNAL -H "$SLAPD_LDAPI" >/dev/null <<-EOF2
	dn: cn=web,ou=clusters,$SLAPD_BASE
	changetype: modify
	replace: nonstopScheduler
	nonstopScheduler: sed
	EOF2
	refuse scheduler $L cluster validate web
	refuse scheduler $L -o "$T/roles" cluster apply web
	[ -z "$(ls "$T/roles")" ]
}

@test "lc-build: every validation rule refused with exit 100, nothing changed (slapd.conf)" { rules conf; }
@test "lc-build: every validation rule refused with exit 100, nothing changed (cn=config)" { rules config; }

@test "lc-build: a host cannot write, reads its cluster; anonymous sees nothing" {
	boot config
	seed
	H="$LC_BUILD -H $SLAPD_URI -b $SLAPD_BASE -D cn=rs1,ou=hosts,$SLAPD_BASE -y $T/host.pw"
	run -0 $H cluster show web
	[[ $output == "cluster=web "* ]]
	slapd_dump >"$T/before"
	run -100 $H host add x addr=192.0.2.99
	[[ $output == *"Insufficient access"* ]]
	run -100 $H cluster change web sched=rr
	run -100 $H admin add eve secret="$T/host.pw"
	slapd_dump >"$T/after"
	cmp "$T/before" "$T/after"
	# Not a member of the cluster: the host does not see it.
	$L cluster change web rs=rs2 >/dev/null
	run -1 $H cluster show web
	# Anonymous: no entries at all.
	out=$(ldapsearch -x -LLL -H "$SLAPD_URI" -b "$SLAPD_BASE" '(objectClass=*)' dn 2>/dev/null || true)
	[ -z "$out" ]
	run -100 $LC_BUILD -H "$SLAPD_URI" -b "$SLAPD_BASE" -D "cn=nobody,$SLAPD_BASE" -y "$T/host.pw" host list
}

@test "lc-build: a wrong password is refused" {
	boot conf
	run -100 $LC_BUILD -H "$SLAPD_URI" -b "$SLAPD_BASE" -D "$ADMIN_DN" -y "$T/wrong.pw" host list
	[[ $output == *"Invalid credentials"* ]]
	run -100 $LC_BUILD -H "$SLAPD_URI" -b "$SLAPD_BASE" -D "$ADMIN_DN" -y "$T/nosuch.pw" host list
	# A server that is not there is temporary.
	slapd_stop a
	run -111 $L host list
}

@test "lc-build: plan, apply, plan again, change, dissolve" {
	boot conf
	seed
	run -100 $L cluster apply web
	run -0 $L cluster plan web
	[ "${#lines[@]}" -eq 5 ]
	[[ ${lines[0]} == "host=bs1 role=bs was=none action=add" ]]
	run -0 $L -o "$T/roles" cluster apply web
	[[ ${lines[5]} == "cluster=web generation=1 changed=5 applied=yes" ]]
	[ "$(ls "$T/roles" | tr '\n' ' ')" = "bs1.role bs2.role lb1.role rs1.role rs2.role " ]
	[ "$(head -n 1 "$T/roles/lb1.role")" = "role=lb host=lb1 cluster=web generation=1 version=1" ]
	[ "$(grep -c '^rs=' "$T/roles/lb1.role")" -eq 2 ]
	[ "$(grep -c '^rs=' "$T/roles/rs2.role")" -eq 1 ]
	grep -qx 'rs=rs2 addr=192.0.2.12 weight=3' "$T/roles/bs2.role"
	grep -qx 'bs=bs2 addr=192.0.2.4 order=2' "$T/roles/lb1.role"
	grep -qx 'agent=bs1 addr=192.0.2.3 port=161' "$T/roles/lb1.role"
	run -0 $L host show rs1
	[[ $output == *"status=rs in=web"* ]]
	run -0 $L cluster plan web
	[ "$(grep -c 'action=keep' <<<"$output")" -eq 5 ]
	# Applying again changes nothing and keeps the generation.
	run -0 $L -o "$T/roles" cluster apply web
	[[ ${lines[5]} == "cluster=web generation=1 changed=0 applied=yes" ]]
	# An RS leaves, one joins: LB and BS files change, rs1 keeps its own.
	$L cluster change web rs=rs1,rs3 >/dev/null
	run -0 $L -j cluster plan web
	grep -qx '{"host":"rs2","role":"none","was":"rs","action":"remove"}' <<<"$output"
	grep -qx '{"host":"rs3","role":"rs","was":"none","action":"add"}' <<<"$output"
	grep -qx '{"host":"lb1","role":"lb","was":"lb","action":"change"}' <<<"$output"
	grep -qx '{"host":"rs1","role":"rs","was":"rs","action":"keep"}' <<<"$output"
	run -0 $L -n -o "$T/roles" cluster apply web
	[ "$(head -n 1 "$T/roles/rs2.role")" = "role=rs host=rs2 cluster=web generation=1 version=1" ]
	run -0 $L -o "$T/roles" cluster apply web
	[ "$(cat "$T/roles/rs2.role")" = "role=none host=rs2 cluster=web generation=2 version=1" ]
	run -100 $L cluster delete web
	[[ $output == *"rule applied"* ]]
	run -0 $L -o "$T/roles" cluster dissolve web
	[[ ${lines[-1]} == "cluster=web generation=3 changed=5 applied=yes" ]]
	for f in "$T"/roles/*.role; do
		[ "$(wc -l <"$f")" -eq 1 ]
		[[ $(cat "$f") == "role=none "* ]]
	done
	run -0 $L host show lb1
	[[ $output == *"status=none"* ]]
	! ls "$T"/roles/*.tmp 2>/dev/null
	run -0 $L cluster delete web
}

export_import() {
	boot "$1"
	seed
	$L -o "$T/roles" cluster apply web >/dev/null
	run -0 $L cluster export web "$T/web.tgz"
	$L cluster show web >"$T/show.src"
	for h in lb1 bs1 bs2 rs1 rs2; do $L host show $h; done >"$T/hosts.src"
	# Into an empty directory of the other form.
	slapd_start b "$2"
	R2="$LC_BUILD -H $SLAPD_LDAPI -b $SLAPD_BASE"
	$R2 init >/dev/null
	run -0 $R2 cluster import "$T/web.tgz"
	[ "$output" = "cluster=web imported=yes" ]
	$R2 cluster show web >"$T/show.dst"
	for h in lb1 bs1 bs2 rs1 rs2; do $R2 host show $h; done >"$T/hosts.dst"
	cmp "$T/show.src" "$T/show.dst"
	cmp "$T/hosts.src" "$T/hosts.dst"
	run -0 $R2 cluster plan web
	[ "$(grep -c 'action=keep' <<<"$output")" -eq 5 ]
	# A second import finds the cluster there.
	run -100 $R2 cluster import "$T/web.tgz"
	[[ $output == *"rule exists"* ]]
}

@test "lc-build: export then import into an empty directory (slapd.conf to cn=config)" { export_import conf config; }
@test "lc-build: export then import into an empty directory (cn=config to slapd.conf)" { export_import config conf; }

@test "lc-build: a damaged or tampered archive is rejected and nothing changes" {
	boot conf
	seed
	run -0 $L cluster export web "$T/web.tgz"
	$L cluster delete web >/dev/null
	for h in lb1 bs1 bs2 rs1 rs2; do $L host delete $h >/dev/null; done
	slapd_dump >"$T/before"
	# Damaged: bytes flipped in the middle of the compressed stream.
	cp "$T/web.tgz" "$T/bad.tgz"
	size=$(stat -c %s "$T/bad.tgz")
	printf '\xff\x00\xff\x00' | dd of="$T/bad.tgz" bs=1 seek=$((size / 2)) conv=notrunc status=none
	run -100 $L cluster import "$T/bad.tgz"
	# Truncated.
	head -c $((size - 20)) "$T/web.tgz" >"$T/short.tgz"
	run -100 $L cluster import "$T/short.tgz"
	# Tampered: a role file changed after export, checksums left alone.
	mkdir "$T/x" && tar -xzf "$T/web.tgz" -C "$T/x"
	sed -i 's/weight=3/weight=99/' "$T/x/roles/lb1.role"
	tar -czf "$T/tamper.tgz" -C "$T/x" MANIFEST cluster.ldif roles
	run -100 $L cluster import "$T/tamper.tgz"
	[[ $output == *"fails its checksum"* ]]
	# An extra file, a missing file.
	git -C "$T/x" init -q 2>/dev/null; rm -rf "$T/x/.git"
	echo hi >"$T/x/extra"
	tar -czf "$T/extra.tgz" -C "$T/x" MANIFEST cluster.ldif roles extra
	run -100 $L cluster import "$T/extra.tgz"
	tar -czf "$T/missing.tgz" -C "$T/x" MANIFEST roles
	run -100 $L cluster import "$T/missing.tgz"
	# Not an archive at all.
	echo "not an archive" >"$T/junk.tgz"
	run -100 $L cluster import "$T/junk.tgz"
	slapd_dump >"$T/after"
	cmp "$T/before" "$T/after"
}

@test "lc-build: a signed export (-k) rejects a re-checksummed forgery" {
	boot conf
	seed
	key=$(make_key "$T/key")
	run -0 $L -k "$key" cluster export web "$T/web.tgz"
	$L cluster delete web >/dev/null
	mkdir "$T/x" && tar -xzf "$T/web.tgz" -C "$T/x"
	# The forger fixes the checksum but cannot make the HMAC.
	sed -i 's/weight=3/weight=99/' "$T/x/roles/lb1.role"
	sum=$(sha256sum "$T/x/roles/lb1.role" | cut -d' ' -f1)
	size=$(stat -c %s "$T/x/roles/lb1.role")
	awk -v s="$sum" -v z="$size" '$1 == "file=roles/lb1.role" { $2 = "size=" z; $3 = "sha256=" s } { print }' \
		"$T/x/MANIFEST" >"$T/m" && mv "$T/m" "$T/x/MANIFEST"
	tar -czf "$T/forged.tgz" -C "$T/x" MANIFEST cluster.ldif roles
	slapd_dump >"$T/before"
	run -100 $L -k "$key" cluster import "$T/forged.tgz"
	[[ $output == *"signature does not match"* ]]
	slapd_dump >"$T/after"
	cmp "$T/before" "$T/after"
	run -0 $L -k "$key" cluster import "$T/web.tgz"
}

@test "lc-build: bulk host load from LDIF; clear passwords refused" {
	boot config
	for i in $(seq 1 50); do
		printf 'dn: cn=h%d,ou=hosts,%s\nobjectClass: nonstopHost\ncn: h%d\nnonstopIpAddress: 192.0.2.%d\nnonstopRolePotential: rs\n\n' \
			"$i" "$SLAPD_BASE" "$i" "$((i + 100))"
	done >"$T/hosts.ldif"
	run -0 $L -n host load "$T/hosts.ldif"
	[ "$output" = "checked=50" ]
	run -1 $L host show h1
	run -0 $L host load "$T/hosts.ldif"
	[ "$output" = "loaded=50" ]
	run -0 $L host list
	[ "${#lines[@]}" -eq 50 ]
	printf 'dn: cn=p1,ou=hosts,%s\nobjectClass: nonstopHost\ncn: p1\nuserPassword: clear\n' "$SLAPD_BASE" >"$T/p.ldif"
	run -100 $L host load "$T/p.ldif"
	printf 'dn: cn=q1,ou=clusters,%s\nobjectClass: nonstopHost\ncn: q1\n' "$SLAPD_BASE" >"$T/q.ldif"
	run -100 $L host load "$T/q.ldif"
	run -1 $L host show p1
}

@test "lc-build: the role files it writes are accepted by the readers' parser (lib/role.c)" {
	command -v cc >/dev/null || skip "no C compiler"
	[ -f "$NONSTOP_TOP/lib/role.c" ] || skip "lib/role.c not there"
	cat >"$T/rolecheck.c" <<-'EOF2'
	#include <stdio.h>
	#include "role.h"
	int main(int argc, char **argv) {
		struct role r; char why[256]; int i, bad = 0;
		for (i = 1; i < argc; i++) {
			if (role_read(argv[i], &r, why, sizeof why) < 0) {
				printf("%s: %s\n", argv[i], why); bad = 1; continue;
			}
			printf("%s role=%s nsvc=%zu nbs=%zu nrs=%zu nagent=%zu\n", argv[i],
			    role_kind_name(r.kind), r.nsvc, r.nbs, r.nrs, r.nagent);
			role_free(&r);
		}
		return bad;
	}
	EOF2
	cc -D_GNU_SOURCE -std=c11 -I"$NONSTOP_TOP/lib" -o "$T/rolecheck" "$T/rolecheck.c" \
		"$NONSTOP_TOP/lib/role.c" "$NONSTOP_TOP/lib/kv.c" "$NONSTOP_TOP/lib/addr.c" "$NONSTOP_TOP/lib/atomic.c" 2>"$T/cc.err" ||
		skip "lib/role.c does not build here: $(head -c 200 "$T/cc.err")"
	boot conf
	seed
	$L host add rs6 addr=192.0.2.16 roles=rs agent=1161 >/dev/null
	$L cluster change web "service=http@192.0.2.100:80;dns@192.0.2.100:53/udp" rs=rs1,rs2:3,rs6:0:8080 >/dev/null
	$L -o "$T/roles" cluster apply web >/dev/null
	run -0 "$T/rolecheck" "$T"/roles/*.role
	grep -q 'lb1.role role=lb nsvc=2 nbs=2 nrs=3 nagent=3' <<<"$output"
	grep -q 'rs6.role role=rs nsvc=2 nbs=2 nrs=1 nagent=3' <<<"$output"
	$L -o "$T/roles" cluster dissolve web >/dev/null
	run -0 "$T/rolecheck" "$T"/roles/*.role
	[ "$(grep -c 'role=none nsvc=0' <<<"$output")" -eq 6 ]
}

@test "lc-build: its parsers (LDIF, spec, operands) survive fuzzing" {
	command -v clang >/dev/null || skip "clang not installed"
	[ -n "$(find /usr/lib/llvm-*/lib/clang -name 'libclang_rt.fuzzer-x86_64.a' 2>/dev/null | head -n 1)" ] ||
		skip "clang's libFuzzer runtime (libclang-rt-14-dev) not installed"
	cd "$NONSTOP_TOP"
	clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Ilib -o "$T/fz" \
		test/fuzz/lc_build_parse.c lib/cluster.c lib/cluster_dir.c lib/cluster_bundle.c lib/dir.c lib/kv.c lib/addr.c lib/atomic.c \
		$(pkg-config --libs ldap libarchive libcrypto)
	mkdir -p "$T/corpus"
	cd "$T"
	run -0 "$T/fz" -runs=20000 -max_len=2048 "$T/corpus" "$NONSTOP_TOP/test/fuzz/corpus/lc_build_parse"
	[[ "$output" == *"Done 20000 runs"* ]]
}

@test "lc-build: the EXAMPLES of lc-build(8) work as written" {
	slapd_start a conf
	# The page's commands, with this test's server and files in place of
	# /root and /srv.
	export LDAPURI=$SLAPD_LDAPI LDAPBASE=$SLAPD_BASE
	lc() { $LC_BUILD "$@"; }
	lc init
	lc admin add alice name="Alice Admin" secret="$T/alice.pw"
	A="$LC_BUILD -H $SLAPD_URI -D uid=alice,ou=admins,$LDAPBASE -y $T/alice.pw"
	$A host add lb1 addr=192.0.2.2 roles=lb,bs agent=161
	$A host add bs1 addr=192.0.2.3 roles=lb,bs agent=161
	$A host add rs1 addr=192.0.2.11 roles=rs weight=1 agent=161
	$A host add rs2 addr=192.0.2.12 roles=rs weight=2 agent=161
	$A cluster add web service=192.0.2.100:80/tcp sched=wrr lb=lb1 bs=bs1 rs=rs1,rs2
	$A cluster plan web
	mkdir -p "$T/srv/roles"
	$A -o "$T/srv/roles" cluster apply web
	$A cluster change web rs=rs1
	$A -j cluster plan web
	$A -o "$T/srv/roles" cluster apply web
	[ "$(head -n 1 "$T/srv/roles/rs2.role")" = "role=none host=rs2 cluster=web generation=2 version=1" ]
	key=$(make_key "$T/bundle.key")
	$A -k "$key" cluster export web "$T/web.tgz"
	slapd_start b config
	$LC_BUILD -H "$SLAPD_LDAPI_b" init
	$LC_BUILD -H "$SLAPD_LDAPI_b" -k "$key" cluster import "$T/web.tgz"
	run -0 $LC_BUILD -H "$SLAPD_LDAPI_b" cluster show web
	[[ $output == *"rs=rs1 generation=2"* ]]
}

@test "lc-build: both schema forms define the same types and classes" {
	slapd_start a conf
	slapd_start b config
	for n in a b; do
		u=SLAPD_LDAPI_$n
		ldapsearch -LLL -o ldif-wrap=no -Q -Y EXTERNAL -H "${!u}" -b cn=Subschema -s base \
			attributeTypes objectClasses | grep -i "nonstop" | sort >"$T/schema.$n"
	done
	[ "$(grep -c "NAME 'nonstop" "$T/schema.a")" -eq 22 ]
	cmp "$T/schema.a" "$T/schema.b"
}

@test "lc-build: an IPv6 cluster" {
	boot conf
	$L host add lb6 addr=2001:db8:0:0::2 roles=lb >/dev/null
	$L host add rs6 addr=2001:db8::11,192.0.2.11 roles=rs >/dev/null
	run -0 $L host show lb6
	[[ $output == "host=lb6 addr=2001:db8::2 "* ]]
	run -0 $L cluster add v6 "service=[2001:db8::100]:443" sched=rr lb=lb6 rs=rs6
	[ "$output" = 'cluster=v6 sched=rr fwd=dr service=v6@[2001:db8::100]:443/tcp lb=lb6 rs=rs6 generation=0' ]
	run -0 $L -o "$T/roles" cluster apply v6
	grep -qx 'service=v6 vip=2001:db8::100 port=443 proto=tcp sched=rr fwd=dr' "$T/roles/lb6.role"
	grep -qx 'rs=rs6 addr=2001:db8::11 weight=1' "$T/roles/lb6.role"
	refuse address $L cluster change v6 "service=192.0.2.100:443"
}

@test "lc-build: nonstop.ldif goes into a running cn=config server with ldapadd" {
	# A server made without the schema: the example minus its include and
	# the indexes and access rule on the schema's attributes.
	grep -v -e 'nonstop.ldif' -e 'olcDbIndex: nonstop' -e 'dnattr=nonstop' "$NONSTOP_TOP/schema/config.ldif.example" >"$T/bare.ldif"
	cp -r "$NONSTOP_TOP/schema" "$T/schema"
	cp "$T/bare.ldif" "$T/schema/config.ldif.example"
	NONSTOP_TOP=$T slapd_start a config
	run -100 $LC_BUILD -H "$SLAPD_LDAPI" -b "$SLAPD_BASE" host add h1 addr=192.0.2.1
	run -0 ldapadd -Q -Y EXTERNAL -H "$SLAPD_LDAPI" -f "$NONSTOP_TOP/schema/nonstop.ldif"
	ldapmodify -Q -Y EXTERNAL -H "$SLAPD_LDAPI" >/dev/null <<-EOF2
	dn: olcDatabase={1}mdb,cn=config
	changetype: modify
	add: olcDbIndex
	olcDbIndex: nonstopMemberHost eq
	EOF2
	$LC_BUILD -H "$SLAPD_LDAPI" -b "$SLAPD_BASE" init
	run -0 $LC_BUILD -H "$SLAPD_LDAPI" -b "$SLAPD_BASE" host add h1 addr=192.0.2.1 roles=rs
	run -0 $LC_BUILD -H "$SLAPD_LDAPI" -b "$SLAPD_BASE" host show h1
}

# push_cluster: three namespaced hosts, each with snmpd + lc-agent on
# 192.0.2.i:161 whose converger is the real lc-role (nftables, state under
# the agent's folder), and cluster web over them in the directory.
push_cluster() {
	need_root
	snmp_env
	LC_ROLE=${LC_ROLE:-$BIN/lc-role}
	[ -x "${LC_ROLE%% *}" ] && [ -x "${LC_AGENT%% *}" ] || skip "lc-role or lc-agent not built"
	command -v nft >/dev/null || skip "nft not installed"
	topo_lan 3
	# lc-agent runs "CONVERGER apply -f ROLEFILE": keep lc-role's state beside it.
	cat >"$T/converger" <<-EOF
	#!/bin/sh
	exec $LC_ROLE -d nft -s "\$(dirname "\$3")/lc-role" "\$@"
	EOF
	chmod 755 "$T/converger"
	H=(lb1 rs1 rs2)
	for i in 1 2 3; do
		snmpd_start "${H[i - 1]}" "$i" "$T/${H[i - 1]}/role" "" -a "$T/converger"
	done
	boot conf
	$L host add lb1 addr=192.0.2.1 roles=lb agent=161 >/dev/null
	$L host add rs1 addr=192.0.2.2 roles=rs agent=161 >/dev/null
	$L host add rs2 addr=192.0.2.3 roles=rs agent=161 >/dev/null
	$L cluster add web service=192.0.2.100:80/tcp sched=wrr lb=lb1 rs=rs1,rs2 >/dev/null
	# From lb1's namespace: the agents are there, slapd over its ldapi socket.
	# Generous per-try timeouts: a loaded machine may make an agent slow.
	A="hx 1 $LC_BUILD -H $SLAPD_LDAPI -b $SLAPD_BASE -a $SNMP_CREDS -o $T/roles -t 3000"
}

role_of() { v3a "$1" snmpget -Oqv NONSTOP-MIB::nsHostRole.0; }
active() { [ "$(v3a "$1" snmpget -Oqv NONSTOP-MIB::nsHostRoleStatus.0)" = active ]; }

@test "lc-build: apply -a pushes to every agent in parallel; they converge; again changes nothing" {
	push_cluster
	run -0 --separate-stderr $A cluster apply web
	[ "${#lines[@]}" -eq 4 ]
	[[ ${lines[0]} == "host=lb1 role=lb was=none action=add file=$T/roles/lb1.role push=ok agent=udp:192.0.2.1:161 ms="* ]]
	[[ ${lines[1]} == "host=rs1 role=rs was=none action=add file=$T/roles/rs1.role push=ok agent=udp:192.0.2.2:161 ms="* ]]
	[[ ${lines[2]} == "host=rs2 role=rs "*" push=ok "* ]]
	[ "${lines[3]}" = "cluster=web generation=1 changed=3 applied=yes failed=0" ]
	for h in lb1 rs1 rs2; do
		cmp "$T/roles/$h.role" "$T/$h/role"
		wait_until 10000 active "$h"
	done
	[ "$(role_of lb1)" = loadBalancer ]
	[ "$(role_of rs2)" = realServer ]
	# lc-role converged each host: its state, the VIP, the balancer's table.
	grep -q '^state=1 role=lb dp=nft' "$T/lb1/lc-role/state"
	grep -q '^state=1 role=rs' "$T/rs1/lc-role/state"
	hx 2 ip -o addr show dev lo | grep -q '192.0.2.100/32'
	hx 1 nft list tables | grep -q nonstop
	run -0 $L host show rs2
	[[ $output == *"status=rs in=web"* ]]
	applies=$(v3a rs1 snmpget -Oqv NONSTOP-MIB::nsStatApplies.0)
	# Again: every agent says ok, nothing changes, nothing is re-applied.
	run -0 --separate-stderr $A -j cluster apply web
	[ "${#lines[@]}" -eq 4 ]
	[[ ${lines[1]} == '{"host":"rs1","role":"rs","was":"rs","action":"keep","file":"'"$T"'/roles/rs1.role","push":"ok","agent":"udp:192.0.2.2:161","ms":'* ]]
	[ "${lines[3]}" = '{"cluster":"web","generation":1,"changed":0,"applied":true,"failed":0}' ]
	sleep 0.5
	[ "$(v3a rs1 snmpget -Oqv NONSTOP-MIB::nsStatApplies.0)" = "$applies" ]
	[ "$(head -n 1 "$T/rs1/role")" = "role=rs host=rs1 cluster=web generation=1 version=1" ]
	# Dissolve pushes role none to all of them.
	run -0 --separate-stderr $A cluster dissolve web
	[ "${lines[3]}" = "cluster=web generation=2 changed=3 applied=yes failed=0" ]
	for h in lb1 rs1 rs2; do
		wait_until 10000 active "$h"
		[ "$(role_of $h)" = none ]
	done
	! hx 2 ip -o addr show dev lo | grep -q '192.0.2.100/32'
}

@test "lc-build: apply -a with one agent dead: that host fails (exit 1), the others apply; again heals" {
	push_cluster
	run -0 --separate-stderr $A cluster apply web
	snmpd_stop rs2
	$L cluster change web rs=rs1:5,rs2 >/dev/null
	run -1 --separate-stderr $A -t 1500 cluster apply web
	[[ ${lines[0]} == "host=lb1 role=lb was=lb action=change "*" push=ok "* ]]
	[[ ${lines[1]} == "host=rs1 role=rs was=rs action=change "*" push=ok "* ]]
	[[ ${lines[2]} == "host=rs2 role=rs was=rs action=keep "*" push=failed agent=udp:192.0.2.3:161 reason=timeout" ]]
	[ "${lines[3]}" = "cluster=web generation=2 changed=2 applied=no failed=1" ]
	[[ $stderr == *"1 of 3 hosts did not take their role file"* ]]
	# lb1 took generation 2 (rs1's weight 5) and converged; rs2 still has 1.
	grep -qx 'rs=rs1 addr=192.0.2.2 weight=5' "$T/lb1/role"
	wait_until 10000 active lb1
	[ "$(head -n 1 "$T/rs2/role")" = "role=rs host=rs2 cluster=web generation=1 version=1" ]
	# Bad credentials are refused before anything is written.
	echo 'user=x' >"$T/bad.creds"; chmod 600 "$T/bad.creds"
	run -100 hx 1 $LC_BUILD -H $SLAPD_LDAPI -b $SLAPD_BASE -a "$T/bad.creds" -o "$T/roles" cluster apply web
	# rs2's agent is back: the same apply again brings it level, exit 0.
	snmpd_start rs2 3 "$T/rs2/role" "" -a "$T/converger"
	run -0 --separate-stderr $A cluster apply web
	[ "${lines[3]}" = "cluster=web generation=2 changed=0 applied=yes failed=0" ]
	cmp "$T/roles/rs2.role" "$T/rs2/role"
	wait_until 10000 active rs2
}

@test "lc-build: apply -a leaves out hosts with no agent in the directory (push=none), exit 0" {
	boot conf
	$L host add x1 addr=192.0.2.31 roles=lb >/dev/null
	$L host add x2 addr=192.0.2.32 roles=rs >/dev/null
	$L cluster add c2 service=192.0.2.101:80/tcp lb=x1 rs=x2 >/dev/null
	(umask 077; echo 'user=nonstop auth=SHA-256 authpass=aaaaaaaaaa priv=AES privpass=pppppppppp' >"$T/snmp.creds")
	run -0 --separate-stderr $L -a "$T/snmp.creds" -o "$T/roles" cluster apply c2
	[ "${lines[0]}" = "host=x1 role=lb was=none action=add file=$T/roles/x1.role push=none" ]
	[ "${lines[1]}" = "host=x2 role=rs was=none action=add file=$T/roles/x2.role push=none" ]
	[ "${lines[2]}" = "cluster=c2 generation=1 changed=2 applied=yes failed=0" ]
	# -n: nothing is written and nothing pushed.
	$L cluster change c2 rs=x2:4 >/dev/null
	run -0 $L -n -a "$T/snmp.creds" cluster apply c2
	[ "${lines[2]}" = "cluster=c2 generation=2 changed=2 applied=no" ]
	# A credentials file others can read is refused before anything is written.
	chmod 644 "$T/snmp.creds"
	run -100 $L -a "$T/snmp.creds" -o "$T/roles" cluster apply c2
	run -0 $L cluster show c2
	[[ $output == *"generation=1"* ]]
}
