/*
 * tcprperf: the capture benchmark's traffic, a libtcpr server and a plain
 * client.
 *
 *   tcprperf -l -p port                     server (libtcpr; any address)
 *   tcprperf -a addr -p port -b ms          bulk: send for ms, print
 *                                           bulk_gbps=X
 *   tcprperf -a addr -p port -r n           n 64-byte requests, each
 *                                           answered with 64 bytes; print
 *                                           rtt_us_p50=X rtt_us_p99=Y
 *
 * The client's first byte picks the server's work: 'B' read and count
 * until end of file, then answer the count (8 bytes); 'R' answer every 64
 * bytes with 64. The server serves one connection at a time.
 * Exit 0, 100 usage, 111 system error.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tcpr.h"

static uint64_t
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int
full(int fd, char *b, size_t n, int lib)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = lib ? tcpr_recv(fd, b + got, n - got, 0) :
		    recv(fd, b + got, n - got, 0);

		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static int
server(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	static char buf[1 << 17];
	int l, s, one = 1;

	a.sin_port = htons((uint16_t)port);
	if ((l = tcpr_socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    tcpr_bind(l, (struct sockaddr *)&a, sizeof a) < 0 ||
	    tcpr_listen(l, 16) < 0) {
		perror("tcprperf: listen");
		return 111;
	}
	fprintf(stderr, "ready\n");
	while ((s = tcpr_accept(l, NULL, NULL)) >= 0) {
		char c;

		setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (full(s, &c, 1, 1) < 0) {
			tcpr_close(s);
			continue;
		}
		if (c == 'B') {
			uint64_t n = 0;
			ssize_t r;
			unsigned char cnt[8];
			int i;

			while ((r = tcpr_recv(s, buf, sizeof buf, 0)) > 0)
				n += (uint64_t)r;
			for (i = 0; i < 8; i++)
				cnt[i] = (unsigned char)(n >> (56 - 8 * i));
			tcpr_send(s, cnt, 8, 0);
		} else {
			while (full(s, buf, 64, 1) == 0)
				if (tcpr_send(s, buf, 64, 0) != 64)
					break;
		}
		tcpr_close(s);
	}
	return 111;
}

static int
cmp64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
client(const char *addr, int port, long bulk_ms, long nreq)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	static char buf[1 << 17];
	int s, one = 1;

	a.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &a.sin_addr) != 1)
		return 100;
	if ((s = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
		perror("tcprperf: connect");
		return 111;
	}
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (bulk_ms > 0) {
		uint64_t t0 = now_ns(), end = t0 + (uint64_t)bulk_ms * 1000000u;
		uint64_t n = 0, got = 0;
		unsigned char cnt[8];
		int i;

		if (send(s, "B", 1, 0) != 1)
			return 111;
		while (now_ns() < end) {
			ssize_t w = send(s, buf, sizeof buf, 0);

			if (w <= 0)
				return 111;
			n += (uint64_t)w;
		}
		shutdown(s, SHUT_WR);
		if (full(s, (char *)cnt, 8, 0) < 0)
			return 111;
		for (i = 0; i < 8; i++)
			got = got << 8 | cnt[i];
		if (got != n) {
			fprintf(stderr, "tcprperf: sent %llu, server got %llu\n",
			    (unsigned long long)n, (unsigned long long)got);
			return 111;
		}
		printf("bulk_gbps=%.2f\n", (double)n * 8 /
		    (double)(now_ns() - t0));
	} else {
		uint64_t *v = calloc((size_t)nreq, sizeof *v);
		long i;

		if (v == NULL || send(s, "R", 1, 0) != 1)
			return 111;
		memset(buf, 'r', 64);
		for (i = 0; i < nreq; i++) {
			uint64_t t = now_ns();

			if (send(s, buf, 64, 0) != 64 || full(s, buf, 64, 0) < 0)
				return 111;
			v[i] = now_ns() - t;
		}
		qsort(v, (size_t)nreq, sizeof *v, cmp64);
		printf("rtt_us_p50=%.1f rtt_us_p99=%.1f\n",
		    (double)v[nreq / 2] / 1000,
		    (double)v[nreq * 99 / 100] / 1000);
		free(v);
	}
	close(s);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *addr = NULL;
	long port = 0, bulk = 0, nreq = 0;
	int c, listen_ = 0;

	while ((c = getopt(argc, argv, "a:b:lp:r:")) != -1) {
		switch (c) {
		case 'a':
			addr = optarg;
			break;
		case 'b':
			bulk = atol(optarg);
			break;
		case 'l':
			listen_ = 1;
			break;
		case 'p':
			port = atol(optarg);
			break;
		case 'r':
			nreq = atol(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (port < 1 || port > 65535)
		goto usage;
	if (listen_)
		return server((int)port);
	if (addr == NULL || (bulk <= 0) == (nreq <= 0))
		goto usage;
	return client(addr, (int)port, bulk, nreq);
usage:
	fprintf(stderr, "usage: tcprperf -l -p port | -a addr -p port "
	    "-b ms | -r n\n");
	return 100;
}
