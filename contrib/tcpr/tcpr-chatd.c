/*
 * tcpr-chatd: a chat room on libtcpr. Every line a member writes goes to
 * every other member, as written (members sign their lines themselves:
 * the room keeps no state of its own, so a restored room is the same
 * room). Run by tcpr-restore(8) after a failover it resumes the restored
 * members first, on the same connections, then admits new ones.
 * usage: tcpr-chatd [-v] address port
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

#define MAXCONN 1024
#define LINEMAX 4096

static struct pollfd pfd[MAXCONN + 1];
static struct member {
	char buf[LINEMAX];	/* a line not yet complete */
	size_t len;
} mem[MAXCONN + 1];
static int npfd, verbose;

static void
add(int fd)
{
	if (npfd > MAXCONN) {
		tcpr_close(fd);
		return;
	}
	pfd[npfd].fd = fd;
	pfd[npfd].events = POLLIN;
	mem[npfd].len = 0;
	npfd++;
}

static void
drop(int i)
{
	if (verbose)
		fprintf(stderr, "tcpr-chatd: fd %d left\n", pfd[i].fd);
	tcpr_close(pfd[i].fd);
	pfd[i] = pfd[npfd - 1];
	mem[i] = mem[npfd - 1];
	npfd--;
}

/* Everyone but member `from` gets the line (blocking: lines are short). */
static void
say(int from, const char *line, size_t len)
{
	int i;

	for (i = 1; i < npfd; i++) {
		size_t off = 0;

		if (i == from)
			continue;
		while (off < len) {
			ssize_t w = tcpr_send(pfd[i].fd, line + off, len - off, 0);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				break;	/* gone: its poll reports it */
			off += (size_t)w;
		}
	}
}

static void
hear(int i)
{
	struct member *m = &mem[i];
	ssize_t n = tcpr_recv(pfd[i].fd, m->buf + m->len, sizeof m->buf - m->len,
	    MSG_DONTWAIT);
	char *nl;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		drop(i);
		return;
	}
	m->len += (size_t)n;
	while ((nl = memchr(m->buf, '\n', m->len)) != NULL) {
		size_t l = (size_t)(nl - m->buf) + 1;

		say(i, m->buf, l);
		memmove(m->buf, m->buf + l, m->len - l);
		m->len -= l;
	}
	if (m->len == sizeof m->buf) {	/* no line that long: pass it on */
		say(i, m->buf, m->len);
		m->len = 0;
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int lfd, c, one = 1;

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
	/* the room's address may come up after us (the VIP at takeover) */
	setsockopt(lfd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
	if (tcpr_bind(lfd, (struct sockaddr *)&ss, sl) < 0 ||
	    tcpr_listen(lfd, 128) < 0)
		goto fail;
	add(lfd);
	while (tcpr_pending(lfd) > 0) {
		int s = tcpr_accept(lfd, NULL, NULL);

		if (s < 0)
			goto fail;
		add(s);
	}
	fprintf(stderr, "tcpr-chatd: ready, %d members resumed\n", npfd - 1);
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
				hear(i);
	}
fail:
	fprintf(stderr, "tcpr-chatd: fatal: %s\n", strerror(errno));
	return 111;
usage:
	fprintf(stderr, "usage: tcpr-chatd [-v] address port\n");
	return 100;
}
