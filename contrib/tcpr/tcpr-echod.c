/*
 * tcpr-echod: an echo server on libtcpr, the example for tcpr(3). Run by
 * tcpr-restore(8) after a failover it resumes the restored sessions first
 * (same connections, same offsets), then serves new ones. A chunk of
 * input ending in "SHUT\n" is echoed and then the server half-closes the
 * session (shutdown for writing) and only reads from then on, so that
 * tests can hold sessions half-closed from our side across a failover.
 * usage: tcpr-echod [-v] address port
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tcpr.h"

#define MAXCONN 65536

static struct pollfd pfd[MAXCONN + 1];
static unsigned char shut[MAXCONN + 1];	/* we sent our FIN: read only */
static int npfd;

static void
add(int fd)
{
	if (npfd > MAXCONN) {
		tcpr_close(fd);
		return;
	}
	shut[npfd] = 0;
	pfd[npfd].fd = fd;
	pfd[npfd++].events = POLLIN;
}

/* Echo what there is; on end of file or error drop the session. */
static void
serve(int i)
{
	char buf[65536];
	ssize_t n = tcpr_recv(pfd[i].fd, buf, sizeof buf, MSG_DONTWAIT);
	size_t off = 0;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		tcpr_close(pfd[i].fd);
		shut[i] = shut[npfd - 1];
		pfd[i] = pfd[--npfd];
		return;
	}
	while (!shut[i] && off < (size_t)n) {
		ssize_t w = tcpr_send(pfd[i].fd, buf + off, (size_t)n - off,
		    MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EPIPE) {
				/* a restored session we had half-closed */
				shut[i] = 1;
				return;
			}
			tcpr_close(pfd[i].fd);
			shut[i] = shut[npfd - 1];
			pfd[i] = pfd[--npfd];
			return;
		}
		off += (size_t)w;
	}
	if (!shut[i] && n >= 5 && memcmp(buf + n - 5, "SHUT\n", 5) == 0 &&
	    tcpr_shutdown(pfd[i].fd, SHUT_WR) == 0)
		shut[i] = 1;
}

int
main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int lfd, c, verbose = 0, one = 1;

	while ((c = getopt(argc, argv, "v")) != -1) {
		if (c != 'v')
			goto usage;
		verbose++;
	}
	if (argc - optind != 2)
		goto usage;
	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, argv[optind],
	    &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)atoi(argv[optind + 1]));
		sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, argv[optind],
	    &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)atoi(argv[optind + 1]));
		sl = sizeof(struct sockaddr_in6);
	} else
		goto usage;
	if ((lfd = tcpr_socket(ss.ss_family, SOCK_STREAM, 0)) < 0)
		goto fail;
	/* the service address may come up after us (the VIP at takeover) */
	setsockopt(lfd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
	if (tcpr_bind(lfd, (struct sockaddr *)&ss, sl) < 0 ||
	    tcpr_listen(lfd, 1024) < 0)
		goto fail;
	add(lfd);
	while (tcpr_pending(lfd) > 0) {
		int s = tcpr_accept(lfd, NULL, NULL);
		uint64_t in, out;

		if (s < 0)
			goto fail;
		tcpr_offsets(s, &in, &out);
		if (verbose)
			fprintf(stderr, "tcpr-echod: resumed fd %d at in=%llu "
			    "out=%llu\n", s, (unsigned long long)in,
			    (unsigned long long)out);
		add(s);
	}
	fprintf(stderr, "tcpr-echod: ready, %d sessions resumed\n", npfd - 1);
	for (;;) {
		int i;

		if (poll(pfd, (nfds_t)npfd, -1) < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (pfd[0].revents & POLLIN) {
			int s = tcpr_accept(lfd, NULL, NULL);

			if (s >= 0)
				add(s);
		}
		for (i = npfd - 1; i >= 1; i--)
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				serve(i);
	}
fail:
	fprintf(stderr, "tcpr-echod: fatal: %s\n", strerror(errno));
	return 111;
usage:
	fprintf(stderr, "usage: tcpr-echod [-v] address port\n");
	return 100;
}
