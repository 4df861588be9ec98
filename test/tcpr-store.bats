#!/usr/bin/env bats
# The session store as tcpr-sync list and tcpr-restore load it: every
# file read whether or not it is in the page cache, in the folder's order
# (by one thread or two); bad files skipped and counted; the journal
# replayed over the files.
load lib/common

TCPR_SYNC=${TCPR_SYNC:-$BIN/tcpr-sync}
TCPR_RESTORE=${TCPR_RESTORE:-$BIN/tcpr-restore}

# recs N [local [peer]]: N full records (sid 1.., peer port 40000..) on
# stdout, built independently of the C encoder (tcpr-records(5)).
recs() {
	python3 - "$@" <<'PY'
import socket, struct, sys
n = int(sys.argv[1])
la = socket.inet_aton(sys.argv[2] if len(sys.argv) > 2 else '192.0.2.100').ljust(16, b'\0')
pa = socket.inet_aton(sys.argv[3] if len(sys.argv) > 3 else '192.0.2.1').ljust(16, b'\0')
for i in range(n):
    sys.stdout.buffer.write(struct.pack('>BBHIBBBBHHHH16s16sIIQQQIIII', 1, 1, 100,
        i + 1, 4, 7, 7, 7, 1448, 7, 40000 + i, 0, la, pa, 1000, 2000, 10, 5, 8,
        123, 456, 65536, 65536))
PY
}

# journal SID PORT RCV FLAGS ...: append entries for these sessions to the
# store's journal: record, time written (ms, big-endian), CRC-32 of both.
journal() {
	python3 - "$S/journal" "$@" <<'PY'
import socket, struct, sys, time, zlib
la = socket.inet_aton('192.0.2.100').ljust(16, b'\0')
pa = socket.inet_aton('192.0.2.1').ljust(16, b'\0')
a = sys.argv[2:]
with open(sys.argv[1], 'ab') as f:
    for i in range(0, len(a), 4):
        sid, port, rcv, flags = (int(x, 0) for x in a[i:i + 4])
        r = struct.pack('>BBHIBBBBHHHH16s16sIIQQQIIII', 1, 1, 100, sid, 4,
            flags, 7, 7, 1448, 7, port, 0, la, pa, 1000, 2000, rcv, 5, 8,
            123, 456, 65536, 65536)
        e = r + struct.pack('>Q', int(time.time() * 1000))
        f.write(e + struct.pack('>I', zlib.crc32(e)))
PY
}

setup() {
	command -v python3 >/dev/null || skip "python3 not installed"
	S=$BATS_TEST_TMPDIR/store
	mkdir -p "$S"
}

# damaged_store_evict: every other file of the store out of the page
# cache, as after a quiet spell (the bad ones are no regular files or
# are left cached).
damaged_store_evict() {
	local f i=0 reg=()
	for f in "$S"/*.rec; do
		[ -f "$f" ] && [ $((i++ % 2)) -eq 0 ] && reg+=("$f")
	done
	sync "${reg[@]}"
	for f in "${reg[@]}"; do dd if="$f" iflag=nocache count=0 status=none; done
}

# damaged_store: 1200 sessions (over 1024: two threads read them, with
# two processors), every other file out of the page cache, six bad files,
# a journal over them; its list must be list_ok's.
damaged_store() {
	recs 1200 >"$BATS_TEST_TMPDIR/r"
	run -0 $TCPR_SYNC -s "$S" apply "$BATS_TEST_TMPDIR/r"
	[ "$(ls "$S" | grep -c '\.rec$')" -eq 1200 ]
	damaged_store_evict
	k=4-c0000264-0007-c0000201
	# six bad files: short, one byte too long, misnamed, empty, a folder,
	# a fifo (which must not stop the load); a temp file is not looked at
	head -c 50 "$S/$k-9c40.rec" >"$S/$k-0001.rec"
	{ cat "$S/$k-9c40.rec"; printf x; } >"$S/$k-0002.rec"
	cp "$S/$k-9c41.rec" "$S/$k-0003.rec"
	: >"$S/$k-0004.rec"
	mkdir "$S/$k-0005.rec"
	mkfifo "$S/$k-0006.rec"
	printf junk >"$S/$k-0007.rec.tmp"
	# the journal: sid 5 moved on, sid 6 ended, sid 1000 only there, then
	# a torn tail
	journal 5 40004 99 7  6 40005 10 0x27  1000 50000 10 7
	printf garbage >>"$S/journal"
}

list_ok() {
	[ "${#lines[@]}" -eq 1200 ]
	[ "$(grep -c "skipping $k-000[1-6].rec" <<<"$stderr")" -eq 6 ]
	[[ $stderr == *"$k-0002.rec: not exactly one full record"* ]]
	[[ $stderr == *"$k-0003.rec: file name does not match the session"* ]]
	[[ $stderr == *"$k-0005.rec: Is a directory"* ]]
	[[ $stderr != *".rec.tmp"* ]]
	grep -q "^full sid=5 .* rcv=99 " <<<"$output"
	! grep -q "^full sid=6 " <<<"$output"
	grep -q "^full sid=1000 .*:50000 " <<<"$output"
}

@test "store load: files in and out of the page cache, bad files, journal" {
	damaged_store
	run -1 --separate-stderr timeout 30 $TCPR_SYNC -s "$S" list
	cold=$output
	list_ok
	# the same sessions in the same order once every file is cached
	run -1 --separate-stderr $TCPR_SYNC -s "$S" list
	[ "$output" = "$cold" ]
	run -1 --separate-stderr timeout 30 $TCPR_RESTORE -n -s "$S"
	[[ $stderr == *"tcpr-restore: store OK: 1200 sessions, 6 bad" ]]
}

@test "store load: without preadv2 or threads, the same sessions in the same order" {
	command -v cc >/dev/null || skip "no C compiler for the seccomp wrapper"
	# refuse SYSCALL PROG ...: PROG where SYSCALL (preadv2: an older
	# kernel; clone3 and clone: no thread) fails with ENOSYS
	cat >"$BATS_TEST_TMPDIR/refuse.c" <<'C'
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#ifndef __NR_clone3
#define __NR_clone3 435
#endif
int
main(int argc, char **argv)
{
	int pre = argc > 1 && strcmp(argv[1], "preadv2") == 0;
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, pre ? __NR_preadv2 : __NR_clone3, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, pre ? __NR_preadv2 : __NR_clone, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog p = { sizeof f / sizeof f[0], f };

	if (argc < 3 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p) < 0)
		return perror("refuse"), 100;
	execvp(argv[2], argv + 2);
	return perror("refuse"), 111;
}
C
	cc -o "$BATS_TEST_TMPDIR/refuse" "$BATS_TEST_TMPDIR/refuse.c"
	damaged_store
	run -1 --separate-stderr timeout 30 $TCPR_SYNC -s "$S" list
	want=$output
	for sc in preadv2 clone; do
		damaged_store_evict
		run -1 --separate-stderr timeout 30 "$BATS_TEST_TMPDIR/refuse" $sc $TCPR_SYNC -s "$S" list
		list_ok
		[ "$output" = "$want" ]
	done
}

@test "store load: 1,100 files with a descriptor limit of 64" {
	recs 1100 >"$BATS_TEST_TMPDIR/r"
	run -0 $TCPR_SYNC -s "$S" apply "$BATS_TEST_TMPDIR/r"
	sync "$S"/*.rec
	for f in "$S"/*.rec; do dd if="$f" iflag=nocache count=0 status=none; done
	# files out of the cache wait open for their reads: when descriptors
	# run out the waiting ones are read first, none counts as bad
	run -0 bash -c "ulimit -n 64 && exec $TCPR_SYNC -s '$S' list"
	[ "${#lines[@]}" -eq 1100 ]
}

@test "tcpr-restore: the info line says how long the store took to load" {
	need_root
	topo_lan 1
	recs 3 192.0.2.1 192.0.2.2 >"$BATS_TEST_TMPDIR/r"
	run -0 $TCPR_SYNC -s "$S" apply "$BATS_TEST_TMPDIR/r"
	run -0 --separate-stderr hx 1 $TCPR_RESTORE -s "$S"
	[ "${#lines[@]}" -eq 3 ]
	[[ $stderr =~ "tcpr-restore: info: restored 3 sessions in "[0-9]+" us ("[0-9.]+" us each), store loaded in "[0-9]+" us, 0 failed, by " ]]
}

teardown() {
	topo_teardown
}
