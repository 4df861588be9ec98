/*
 * tcpr-many-accept: an application on libtcpr, run by tcpr-restore(8),
 * that takes every restored session of a port and checks it against the
 * store's records (LIST: tcpr-sync list output of IPv4 sessions).
 * usage: tcpr-many-accept list address port n
 *
 * tcpr_accept must return n sessions, each once, restored, with the
 * peer and the offsets of its record; libtcpr must have closed the
 * sessions file (TCPR_SESSIONS_FD) and removed the variables. Prints
 * "ok accepted=N" on standard output; a check that fails prints
 * "fail: ..." and exits 1.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tcpr.h"

struct want {
	uint64_t rcv, snd;
	unsigned char stored, taken;
};

static struct want want[65536];	/* by peer port: one client address */

static void
fail(const char *fmt, ...)
{
	va_list ap;

	printf("fail: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(1);
}

/* The records' peer ports and offsets; how many. */
static long
load(const char *path)
{
	char line[1024], *p, *q;
	unsigned long port;
	long n = 0;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		perror(path);
		exit(100);
	}
	while (fgets(line, sizeof line, f) != NULL) {
		struct want *w;

		if ((p = strstr(line, " peer=")) == NULL ||
		    sscanf(p, " peer=%*[0-9.]:%lu", &port) != 1)
			fail("not an IPv4 record: %s", line);
		if (port == 0 || port > 65535 || want[port].stored)
			fail("bad or repeated peer port: %s", line);
		w = &want[port];
		if ((p = strstr(line, " rcv=")) == NULL ||
		    (q = strstr(line, " snd_nxt=")) == NULL)
			fail("no offsets: %s", line);
		w->rcv = strtoull(p + 5, NULL, 10);
		w->snd = strtoull(q + 9, NULL, 10);
		w->stored = 1;
		n++;
	}
	fclose(f);
	return n;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET }, pa;
	socklen_t pl;
	long n, i, stored;
	int lfd, one = 1;

	if (argc != 5 || inet_pton(AF_INET, argv[2], &sa.sin_addr) != 1 ||
	    (sa.sin_port = htons((uint16_t)atoi(argv[3]))) == 0 ||
	    (n = atol(argv[4])) <= 0) {
		fprintf(stderr, "usage: tcpr-many-accept list address port n\n");
		return 100;
	}
	if ((stored = load(argv[1])) != n)
		fail("the store lists %ld sessions, not %ld", stored, n);
	/* libtcpr takes the restored sessions here, at its first call */
	if ((lfd = tcpr_socket(AF_INET, SOCK_STREAM, 0)) < 0)
		goto sys;
	if (getenv("TCPR_FDS") || getenv("TCPR_SESSIONS") ||
	    getenv("TCPR_SESSIONS_FD"))
		fail("TCPR_ variables left for our children");
	/*
	 * The sockets are 3..n+2; the sessions file, if any, was n+3 and
	 * must be closed by now: the new socket takes the lowest free number.
	 */
	if (lfd != 3 + n)
		fail("the listening socket is %d, not %ld: descriptor %ld "
		    "still open", lfd, 3 + n, 3 + n);
	/* the service address is not up here (the test keeps it off) */
	if (setsockopt(lfd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one) < 0 ||
	    tcpr_bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    tcpr_listen(lfd, 16) < 0)
		goto sys;
	if (tcpr_pending(lfd) != n)
		fail("tcpr_pending says %d, not %ld", tcpr_pending(lfd), n);
	for (i = 0; i < n; i++) {
		uint64_t in, out;
		struct want *w;
		int s;

		pl = sizeof pa;
		if ((s = tcpr_accept(lfd, (struct sockaddr *)&pa, &pl)) < 0)
			goto sys;
		if (s < 3 || s >= 3 + n)
			fail("tcpr_accept returned descriptor %d", s);
		if (tcpr_restored(s) != 1)
			fail("descriptor %d: not restored", s);
		if (pl != sizeof pa || pa.sin_family != AF_INET)
			fail("descriptor %d: not an IPv4 peer", s);
		w = &want[ntohs(pa.sin_port)];
		if (!w->stored || w->taken)
			fail("descriptor %d: peer port %u %s", s,
			    ntohs(pa.sin_port), w->taken ? "twice" : "not stored");
		w->taken = 1;
		if (tcpr_offsets(s, &in, &out) < 0)
			goto sys;
		if (in != w->rcv || out != w->snd)
			fail("descriptor %d: offsets %" PRIu64 ":%" PRIu64
			    ", the record says %" PRIu64 ":%" PRIu64, s, in, out,
			    w->rcv, w->snd);
	}
	if (tcpr_pending(lfd) != 0)
		fail("tcpr_pending says %d after all", tcpr_pending(lfd));
	printf("ok accepted=%ld\n", n);
	if (fflush(stdout) == EOF)
		goto sys;
	return 0;
sys:
	fprintf(stderr, "tcpr-many-accept: fatal: %s\n", strerror(errno));
	return 111;
}
