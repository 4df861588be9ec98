#!/usr/bin/env bats
# tcpr-sync: record dump, session store apply/list, bad input refused.
load lib/common

TCPR_SYNC=${TCPR_SYNC:-$BIN/tcpr-sync}

# rec full SID [key=value ...] | rec sync SID [key=value ...]: one record
# on stdout, built independently of the C encoder (tcpr-records(5)).
rec() {
	python3 - "$@" <<'PY'
import socket, struct, sys
kind, sid = sys.argv[1], int(sys.argv[2])
kv = dict(a.split('=', 1) for a in sys.argv[3:])
g = lambda k, d: int(kv.get(k, str(d)), 0)
ver = g('version', 1)
if kind == 'full':
    fam = g('family', 4)
    af = socket.AF_INET if fam == 4 else socket.AF_INET6
    la = socket.inet_pton(af, kv.get('local', '192.0.2.100' if fam == 4 else '2001:db8::100')).ljust(16, b'\0')
    pa = socket.inet_pton(af, kv.get('peer', '192.0.2.1' if fam == 4 else '2001:db8::1')).ljust(16, b'\0')
    b = struct.pack('>BBHIBBBBHHHH16s16sIIQQQIIII', ver, 1, g('len', 100), sid,
        fam, g('flags', 7), g('snd_wscale', 7), g('rcv_wscale', 7), g('mss', 1448),
        g('lport', 7), g('pport', 40000), g('reserved', 0), la, pa,
        g('snd_isn', 1000), g('rcv_isn', 2000), g('rcv', 10), g('snd_una', 5),
        g('snd_nxt', 8), g('tsval', 123), g('ts_recent', 456), g('snd_wnd', 65536),
        g('rcv_wnd', 65536))
else:
    b = struct.pack('>BBHIQQQIHBB', ver, 2, g('len', 40), sid, g('rcv', 20),
        g('snd_una', 8), g('snd_nxt', 9), g('tsval', 200), g('window', 512),
        g('flags', 0), g('reserved', 0))
sys.stdout.buffer.write(b)
PY
}

setup() {
	S=$BATS_TEST_TMPDIR/store
	mkdir -p "$S"
}

@test "tcpr-sync: -V prints the version, bad usage exits 100" {
	run -0 $TCPR_SYNC -V
	[[ $output == "tcpr-sync "* ]]
	run -100 $TCPR_SYNC
	run -100 $TCPR_SYNC frobnicate
	run -100 $TCPR_SYNC -t 0 dump
	run -0 $TCPR_SYNC -n dump
}

@test "tcpr-sync dump: full and sync records as text" {
	{ rec full 7; rec sync 7; } >"$BATS_TEST_TMPDIR/r"
	run -0 $TCPR_SYNC dump "$BATS_TEST_TMPDIR/r"
	[ "${lines[0]}" = "full sid=7 family=inet local=192.0.2.100:7 peer=192.0.2.1:40000 flags=sack,ts,wscale mss=1448 snd_wscale=7 rcv_wscale=7 snd_isn=1000 rcv_isn=2000 rcv=10 snd_una=5 snd_nxt=8 tsval=123 ts_recent=456 snd_wnd=65536 rcv_wnd=65536" ]
	[ "${lines[1]}" = "sync sid=7 flags=none rcv=20 snd_una=8 snd_nxt=9 tsval=200 window=512" ]
	rec full 9 family=6 flags=0x1b snd_wscale=0 rcv_wscale=0 | {
		run -0 $TCPR_SYNC dump
		[ "$output" = "full sid=9 family=inet6 local=[2001:db8::100]:7 peer=[2001:db8::1]:40000 flags=sack,ts,fin_in,fin_out mss=1448 snd_wscale=0 rcv_wscale=0 snd_isn=1000 rcv_isn=2000 rcv=10 snd_una=5 snd_nxt=8 tsval=123 ts_recent=456 snd_wnd=65536 rcv_wnd=65536" ]
	}
}

@test "tcpr-sync dump: malformed records are refused with exit 100" {
	local f=$BATS_TEST_TMPDIR/bad
	rec full 7 | head -c 60 >"$f"
	run -100 $TCPR_SYNC dump "$f"
	[[ $output == *"truncated record at byte 0"* ]]
	for args in "version=2" "version=0" "len=99" "family=5" "flags=0x40" \
	    "mss=10" "lport=0" "local=0.0.0.0" "peer=224.0.0.1" "reserved=1" \
	    "snd_una=9 snd_nxt=8" "flags=4 snd_wscale=15" "flags=1 tsval=5"; do
		{ rec full 1; rec full 7 $args; } >"$f"
		run -100 --separate-stderr $TCPR_SYNC dump "$f"
		echo "$args: $stderr"
		[ "${#lines[@]}" -eq 1 ]
		[[ $stderr == "tcpr-sync: fatal: $f: bad record at byte 100: "* ]]
	done
	rec sync 0 >"$f"
	run -100 $TCPR_SYNC dump "$f"
	rec sync 3 flags=1 >"$f"
	run -100 $TCPR_SYNC dump "$f"
	run -100 $TCPR_SYNC dump "$BATS_TEST_TMPDIR/nonexistent"
}

recs() { ls "$S" | grep -c '\.rec$'; }

@test "tcpr-sync apply: store follows full, sync and end records" {
	{ rec full 7; rec sync 7 rcv=30 snd_una=8 snd_nxt=8; rec full 8 pport=40001; } >"$BATS_TEST_TMPDIR/r"
	run -0 $TCPR_SYNC -s "$S" apply "$BATS_TEST_TMPDIR/r"
	[ "$(recs)" -eq 2 ]
	[ -f "$S/4-c0000264-0007-c0000201-9c40.rec" ]
	run -0 $TCPR_SYNC -s "$S" list
	[ "${#lines[@]}" -eq 2 ]
	[[ $output == *"sid=7 "*" rcv=30 snd_una=8 snd_nxt=8 tsval=200 "*"snd_wnd=65536 "* ]]
	# A restarted tcpr-sync finds sid 7 in the store; end forgets it.
	rec sync 7 rcv=30 snd_una=8 snd_nxt=8 flags=0x20 | run -0 $TCPR_SYNC -s "$S" apply
	[ "$(ls "$S" | grep '\.rec$')" = "4-c0000264-0007-c0000201-9c41.rec" ]
}

@test "tcpr-sync apply: bad input changes nothing stored" {
	rec full 7 >"$BATS_TEST_TMPDIR/r"
	run -0 $TCPR_SYNC -s "$S" apply "$BATS_TEST_TMPDIR/r"
	local before; before=$(cat "$S"/*.rec | md5sum)
	# offsets going back, an unknown session, a malformed record
	for bad in "rcv=5" "snd_una=1 snd_nxt=8"; do
		{ rec sync 7 rcv=40; rec sync 7 $bad; } | run -100 $TCPR_SYNC -s "$S" apply
		[ "$(cat "$S"/*.rec | md5sum)" = "$before" ]
	done
	{ rec sync 7 rcv=40; rec sync 99; } >"$BATS_TEST_TMPDIR/u"
	run -100 $TCPR_SYNC -s "$S" apply "$BATS_TEST_TMPDIR/u"
	[[ $output == *"unknown session"* ]]
	{ rec full 8 pport=1234; rec sync 7 version=3; } | run -100 $TCPR_SYNC -s "$S" apply
	[ "$(recs)" -eq 1 ]
	[ "$(cat "$S"/*.rec | md5sum)" = "$before" ]
	run -100 $TCPR_SYNC apply "$BATS_TEST_TMPDIR/r"
}

@test "tcpr-sync list: a damaged store file is skipped with a warning" {
	rec full 7 >"$BATS_TEST_TMPDIR/r"
	run -0 $TCPR_SYNC -s "$S" apply "$BATS_TEST_TMPDIR/r"
	head -c 50 "$BATS_TEST_TMPDIR/r" >"$S/4-c0000264-0007-c0000201-0001.rec"
	cp "$S/4-c0000264-0007-c0000201-9c40.rec" "$S/4-c0000264-0007-c0000201-0002.rec"
	run -1 --separate-stderr $TCPR_SYNC -s "$S" list
	[ "${#lines[@]}" -eq 1 ]
	[[ $stderr == *"skipping 4-c0000264-0007-c0000201-0001.rec"* ]]
	[[ $stderr == *"does not match"* ]]
	run -100 $TCPR_SYNC -s "$BATS_TEST_TMPDIR/none" list
}

# --- network: send and recv over loopback ---------------------------------

port_free() { ! ss -Huln "sport = :$1" | grep -q .; }
bound() { ss -Huln "sport = :$1" | grep -q .; }

# dgram KEY EPOCH SEQ [mangle]: a data datagram around stdin's records,
# sent to 127.0.0.1:$PORT; mangle: mac (flip a MAC bit), short (cut).
dgram() {
	local f; f=$(mktemp)
	cat >"$f"
	python3 - "$f" "$@" <<'PY'
import hashlib, hmac, socket, struct, sys, os
recs = open(sys.argv[1], 'rb').read()
os.unlink(sys.argv[1])
key = open(sys.argv[2], 'rb').read()
epoch, seq = int(sys.argv[3]), int(sys.argv[4])
mangle = sys.argv[5] if len(sys.argv) > 5 else ''
body = struct.pack('>BBHQQ', 1, 1, 0, epoch, seq) + recs
mac = hmac.new(key, body, hashlib.sha256).digest()
d = body + mac
if mangle == 'mac':
    d = d[:-1] + bytes([d[-1] ^ 1])
elif mangle == 'short':
    d = d[:len(d) - 40]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(d, ('127.0.0.1', int(os.environ['PORT'])))
PY
}

net_setup() {
	need_root
	topo_lan 1
	KEY=$(make_key)
	export PORT=7001
}

@test "tcpr-sync send/recv: records reach the store, end removes, lag reported" {
	net_setup
	bg recv 1 $TCPR_SYNC -k "$KEY" -s "$S" recv 127.0.0.1:7001
	wait_until 5000 grep -q receiving "$BATS_TEST_TMPDIR/recv.err"
	{ rec full 7; rec full 8 pport=40001; rec sync 7 rcv=30 snd_una=8 snd_nxt=8; } >"$BATS_TEST_TMPDIR/r"
	run -0 --separate-stderr hx 1 $TCPR_SYNC -t 20 -k "$KEY" send 127.0.0.1:7001 <"$BATS_TEST_TMPDIR/r"
	[[ $stderr == *"records="*" lag_us_p99="* ]]
	# the store is files and a journal: list reads both
	run -0 $TCPR_SYNC -s "$S" list
	[ "${#lines[@]}" -eq 2 ]
	[[ $output == *"sid=7 "*" rcv=30 snd_una=8 snd_nxt=8 "* ]]
	rec full 8 pport=40001 flags=0x27 | run -0 hx 1 $TCPR_SYNC -t 20 -k "$KEY" send 127.0.0.1:7001
	run -0 $TCPR_SYNC -s "$S" list
	[ "${#lines[@]}" -eq 1 ]
	[[ $output == *"sid=7 "* ]]
	bg_stop recv
	[[ $(bg_err recv) == *"stopped: 1 sessions stored"* ]]
	# a torn journal tail is ignored
	printf 'garbage' >>"$S/journal"
	run -0 $TCPR_SYNC -s "$S" list
	[ "${#lines[@]}" -eq 1 ]
}

@test "tcpr-sync recv: forged, replayed, truncated and stale datagrams change nothing" {
	net_setup
	bg recv 1 $TCPR_SYNC -k "$KEY" -s "$S" recv 127.0.0.1:7001
	wait_until 5000 grep -q receiving "$BATS_TEST_TMPDIR/recv.err"
	rec full 7 rcv=100 snd_una=50 snd_nxt=50 | hx 1 bash -c "$(declare -f dgram); dgram $KEY 1000 5"
	wait_until 5000 listed 1 || { cat "$BATS_TEST_TMPDIR/recv.err"; false; }
	local before
	before=$($TCPR_SYNC -s "$S" list)
	# forged MAC, truncated, wrong key, replay of seq 5, stale seq 4
	rec sync 7 rcv=900 snd_una=60 snd_nxt=60 | hx 1 bash -c "$(declare -f dgram); dgram $KEY 1000 6 mac"
	rec sync 7 rcv=900 snd_una=60 snd_nxt=60 | hx 1 bash -c "$(declare -f dgram); dgram $KEY 1000 7 short"
	make_key "$BATS_TEST_TMPDIR/other" >/dev/null
	rec sync 7 rcv=900 snd_una=60 snd_nxt=60 | hx 1 bash -c "$(declare -f dgram); dgram $BATS_TEST_TMPDIR/other 1000 8"
	rec full 7 rcv=100 snd_una=50 snd_nxt=50 | hx 1 bash -c "$(declare -f dgram); dgram $KEY 1000 5"
	rec full 7 rcv=10 snd_una=5 snd_nxt=8 | hx 1 bash -c "$(declare -f dgram); dgram $KEY 1000 4"
	rec sync 7 rcv=900 snd_una=60 snd_nxt=60 | hx 1 bash -c "$(declare -f dgram); dgram $KEY 999 9"
	# a good one after them all proves they were processed first
	rec full 9 pport=999 | hx 1 bash -c "$(declare -f dgram); dgram $KEY 1000 10"
	wait_until 5000 listed 2
	[ "$($TCPR_SYNC -s "$S" list | grep "sid=7 ")" = "$before" ]
	# a cut datagram fails its MAC too
	[ "$(grep -c "bad MAC" "$BATS_TEST_TMPDIR/recv.err")" -eq 3 ]
	[ "$(grep -c "replayed or old" "$BATS_TEST_TMPDIR/recv.err")" -eq 2 ]
	# out of order but fresh (seq 6 after 10): applied
	rec sync 7 rcv=200 snd_una=60 snd_nxt=60 | hx 1 bash -c "$(declare -f dgram); dgram $KEY 1000 6"
	wait_until 5000 grep -q . <(run_list_rcv200)
}

@test "tcpr-sync send/recv: updates after an acknowledged state travel packed" {
	net_setup
	bg recv 1 $TCPR_SYNC -k "$KEY" -s "$S" recv 127.0.0.1:7001
	wait_until 5000 grep -q receiving "$BATS_TEST_TMPDIR/recv.err"
	# paced, so that each update finds the one before it acknowledged
	run -0 --separate-stderr hx 1 $TCPR_SYNC -t 20 -k "$KEY" send 127.0.0.1:7001 < <(
		rec full 7; sleep 1; rec sync 7 rcv=30 snd_una=8 snd_nxt=9; sleep 1
		rec sync 7 rcv=300000 snd_una=9 snd_nxt=9 tsval=5000 window=1000)
	echo "$stderr"
	[[ $stderr == *" records=3 packed=2 "* ]]
	run -0 $TCPR_SYNC -s "$S" list
	[[ $output == *"sid=7 "*" rcv=300000 snd_una=9 snd_nxt=9 tsval=5000 "*" snd_wnd=128000 "* ]]
}

# packed HEX...: a packed block of the entries given as octal escapes
packed() {
	local body; body=$(printf "$1")
	local n=$(( ${#1} / 4 + 4 ))
	printf "\\001\\003\\000\\$(printf %03o "$n")$1"
}

@test "tcpr-sync recv: packed entries count from the stored state; bad ones change nothing" {
	net_setup
	bg recv 1 $TCPR_SYNC -k "$KEY" -s "$S" recv 127.0.0.1:7001
	wait_until 5000 grep -q receiving "$BATS_TEST_TMPDIR/recv.err"
	rec full 7 rcv=100 snd_una=50 snd_nxt=50 | hx 1 bash -c "$(declare -f dgram); dgram $KEY 1000 5"
	wait_until 5000 listed 1
	# sid 7: rcv 1000 in 2 bytes (900 past 100), snd_una 60, snd_nxt 70
	packed '\007\007\350\007\074\106' | hx 1 bash -c "$(declare -f dgram); dgram $KEY 1000 6"
	wait_until 5000 run_list_has "rcv=1000 snd_una=60 snd_nxt=70 "
	# rcv's low 7 bits 76: 1100 counted from 1000 across the wrap of 128
	packed '\007\001\114' | hx 1 bash -c "$(declare -f dgram); dgram $KEY 1000 7"
	wait_until 5000 run_list_has "rcv=1100 snd_una=60 snd_nxt=70 "
	# session id difference 0, a field of 10 bytes, a cut entry: refused
	packed '\000\001\114' | hx 1 bash -c "$(declare -f dgram); dgram $KEY 1000 8"
	packed '\007\001\377\377\377\377\377\377\377\377\377\001' | hx 1 bash -c "$(declare -f dgram); dgram $KEY 1000 9"
	packed '\007\007\350' | hx 1 bash -c "$(declare -f dgram); dgram $KEY 1000 10"
	wait_until 5000 [ "$(grep -c "packed entry" "$BATS_TEST_TMPDIR/recv.err")" -eq 3 ]
	run_list_has "rcv=1100 snd_una=60 snd_nxt=70 "
	# a restarted backup takes packed entries only after a full record
	bg_stop recv
	bg recv 1 $TCPR_SYNC -k "$KEY" -s "$S" recv 127.0.0.1:7001
	wait_until 5000 grep -q receiving "$BATS_TEST_TMPDIR/recv.err"
	packed '\007\001\001' | hx 1 bash -c "$(declare -f dgram); dgram $KEY 1001 1"
	rec full 9 pport=999 | hx 1 bash -c "$(declare -f dgram); dgram $KEY 1001 2"
	wait_until 5000 listed 2
	run_list_has "rcv=1100 snd_una=60 snd_nxt=70 "
	bg_stop recv
	[[ $(bg_err recv) == *"1 waiting for a full record"* ]]
}

run_list_has() { $TCPR_SYNC -s "$S" list 2>/dev/null | grep -q "sid=7 .* $1"; }

listed() { [ "$($TCPR_SYNC -s "$S" list 2>/dev/null | wc -l)" -eq "$1" ]; }
run_list_rcv200() { $TCPR_SYNC -s "$S" list 2>/dev/null | grep "sid=7 .* rcv=200 "; }

@test "tcpr-sync: send and recv refuse bad keys and addresses" {
	KEY=$(make_key)
	run -100 $TCPR_SYNC send 127.0.0.1:7001
	run -100 $TCPR_SYNC -k "$KEY" send 127.0.0.1
	run -100 $TCPR_SYNC -k "$KEY" send 127.0.0.1:0
	run -100 $TCPR_SYNC -k "$KEY" recv 7001
	run -0 $TCPR_SYNC -n -k "$KEY" -s "$S" recv 7001
	run -0 $TCPR_SYNC -n -k "$KEY" send 127.0.0.1:7001
	chmod 644 "$KEY"
	run -100 $TCPR_SYNC -n -k "$KEY" send 127.0.0.1:7001
	head -c 4 /dev/urandom >"$KEY"; chmod 600 "$KEY"
	run -100 $TCPR_SYNC -n -k "$KEY" send 127.0.0.1:7001
}
