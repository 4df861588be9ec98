#!/usr/bin/env bats
# libtcpr: restored sessions come first from tcpr_accept with their
# offsets; offsets and marks follow the stream.
load lib/common

LIBDIR=${TCPR_LIBDIR:-$BIN/..}

setup() {
	[ -e "$LIBDIR/libtcpr.so" ] || skip "libtcpr.so not built"
	command -v cc >/dev/null || skip "no C compiler"
	cat >"$BATS_TEST_TMPDIR/t.c" <<'C'
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tcpr.h"

#define CHECK(x) do { if (!(x)) { printf("FAIL line %d: %s\n", __LINE__, #x); return 1; } } while (0)

int
main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof a;
	int pl, cl, sv, lfd, s, one = 1;
	uint64_t in, out, off;
	char buf[64];

	/* a session to hand over as if tcpr-restore had restored it */
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	pl = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(pl, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	CHECK(bind(pl, (struct sockaddr *)&a, sizeof a) == 0);
	CHECK(listen(pl, 4) == 0);
	CHECK(getsockname(pl, (struct sockaddr *)&a, &l) == 0);
	cl = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(cl, (struct sockaddr *)&a, sizeof a) == 0);
	sv = accept(pl, NULL, NULL);
	CHECK(sv >= 0);
	close(pl);
	if (sv != 3) {
		CHECK(dup2(sv, 3) == 3);
		close(sv);
	}
	setenv("TCPR_FDS", "1", 1);
	setenv("TCPR_SESSIONS", getenv("T_FIN") ? "77:1000:2000:15" : "77:1000:2000:7", 1);

	lfd = tcpr_socket(AF_INET, SOCK_STREAM, 0);
	CHECK(lfd > 3);
	CHECK(tcpr_bind(lfd, (struct sockaddr *)&a, sizeof a) == 0);
	CHECK(tcpr_listen(lfd, 8) == 0);
	CHECK(getenv("TCPR_FDS") == NULL);
	CHECK(tcpr_pending(lfd) == 1);
	s = tcpr_accept(lfd, NULL, NULL);
	CHECK(s == 3);
	CHECK(tcpr_pending(lfd) == 0);
	CHECK(tcpr_restored(s) == 1);
	CHECK(tcpr_offsets(s, &in, &out) == 0 && in == 1000 && out == 2000);
	CHECK(write(cl, "hello", 5) == 5);
	CHECK(tcpr_recv(s, buf, sizeof buf, 0) == 5);
	CHECK(tcpr_offsets(s, &in, &out) == 0 && in == 1005);
	CHECK(tcpr_checkpoint(s, &off) == 0 && off == 1005);
	CHECK(tcpr_manual(s, 1) == 0);
	CHECK(write(cl, "abc", 3) == 3);
	CHECK(tcpr_recv(s, buf, sizeof buf, 0) == 3);
	CHECK(tcpr_checkpoint(s, &off) == 0 && off == 1005);
	CHECK(tcpr_consumed(s, 2) == 0);
	CHECK(tcpr_consumed(s, 2) == -1);
	CHECK(tcpr_checkpoint(s, &off) == 0 && off == 1007);
	CHECK(tcpr_send(s, "xyz", 3, 0) == 3);
	CHECK(read(cl, buf, sizeof buf) == 3);
	usleep(100000);
	CHECK(tcpr_offsets(s, &in, &out) == 0 && out == 2003);
	CHECK(tcpr_safe(s, &off) == 0 && off == 2003);
	CHECK(tcpr_restored(lfd) == -1 || tcpr_restored(lfd) == 0);
	/* a new connection after the restored ones, on the same port */
	close(cl);
	cl = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(cl, (struct sockaddr *)&a, sizeof a) == 0);
	s = tcpr_accept(lfd, NULL, NULL);
	CHECK(s > 3 && tcpr_restored(s) == 0);
	CHECK(tcpr_offsets(s, &in, &out) == 0 && in == 0 && out == 0);
	CHECK(tcpr_close(s) == 0);
	CHECK(tcpr_offsets(s, &in, &out) == -1);
	if (getenv("T_FIN")) {
		/* a restored session whose peer had sent its FIN: end of file */
		CHECK(tcpr_recv(3, buf, sizeof buf, 0) == 0);
	}
	printf("ok\n");
	return 0;
}
C
	cc -Wall -Werror -I"$NONSTOP_TOP/libtcpr" -o "$BATS_TEST_TMPDIR/t" \
	    "$BATS_TEST_TMPDIR/t.c" -L"$LIBDIR" -ltcpr -Wl,-rpath,"$LIBDIR"
}

@test "libtcpr: restored session first, offsets, marks, then new connections" {
	run -0 "$BATS_TEST_TMPDIR/t"
	[ "$output" = ok ]
}

@test "libtcpr: a restored session whose peer had closed reads end of file" {
	run -0 env T_FIN=1 "$BATS_TEST_TMPDIR/t"
	[ "$output" = ok ]
}

@test "libtcpr: pkg-config file and exported symbols" {
	[ -e "$LIBDIR/libtcpr.pc" ] || skip "libtcpr.pc not built"
	run -0 env PKG_CONFIG_PATH="$LIBDIR" pkg-config --libs libtcpr
	[[ $output == *"-ltcpr"* ]]
	run -0 nm -D --defined-only "$LIBDIR/libtcpr.so"
	n=$(echo "$output" | grep -c " T tcpr_")
	[ "$n" -eq 15 ]
	! echo "$output" | grep " T " | grep -qv " T tcpr_"
}
