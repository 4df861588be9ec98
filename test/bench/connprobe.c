/*
 * connprobe: the benchmark's client and server. As a client it opens a TCP
 * connection to addr:port every interval and reports the longest gap
 * between successful connects; as a server (-l) it accepts and closes.
 *
 *   connprobe -l -p port                          accept-and-close server
 *   connprobe -a addr -p port -d ms [-i us] [-T ms]   probe for d ms
 *   connprobe -1 -a addr -p port [-T ms]           one connect: exit 0 if ok
 *
 * The probe keeps many connects in flight (non-blocking, each abandoned
 * after -T ms), so a lost SYN does not stop the 1 ms cadence. A successful
 * connect is a completed handshake; the socket is then reset (SO_LINGER 0)
 * so thousands of probes leave no TIME_WAIT behind. At the end it prints
 * one line:
 *   probe=done attempts=N ok=N refused=N timeout=N maxgap_ms=X gap_at_ms=T
 *     recovered=0|1 duration_ms=D
 * maxgap_ms is the longest time between two successful connects (or from
 * the last success to the end, when the service never came back:
 * recovered=0); gap_at_ms is when that gap began, from the probe's start.
 * Exit 0, 1 when no connect ever succeeded, 100 usage, 111 system error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXFLIGHT 1024

static double
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void
die(int code, const char *what)
{
	fprintf(stderr, "connprobe: fatal: %s: %s\n", what, strerror(errno));
	exit(code);
}

static void
usage(void)
{
	fprintf(stderr, "usage: connprobe [-1l] [-a addr] -p port [-d ms] "
	    "[-i us] [-T ms]\n");
	exit(100);
}

static socklen_t
sockaddr_of(const char *addr, unsigned port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)port);
		return sizeof *s4;
	}
	if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)port);
		return sizeof *s6;
	}
	fprintf(stderr, "connprobe: fatal: bad address: %s\n", addr);
	exit(100);
}

static void __attribute__((noreturn))
serve(unsigned port)
{
	struct sockaddr_in6 sa;
	int fd, one = 1, zero = 0;

	/* Dual-stack wildcard: a virtual address added later is served too. */
	if ((fd = socket(AF_INET6, SOCK_STREAM, 0)) == -1)
		die(111, "socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
	memset(&sa, 0, sizeof sa);
	sa.sin6_family = AF_INET6;
	sa.sin6_port = htons((unsigned short)port);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1)
		die(111, "bind");
	if (listen(fd, 4096) == -1)
		die(111, "listen");
	for (;;) {
		int c = accept(fd, NULL, NULL);
		if (c >= 0)
			close(c);
		else if (errno != EINTR && errno != ECONNABORTED &&
		    errno != EMFILE && errno != ENFILE)
			die(111, "accept");
	}
}

/* Start a non-blocking connect; fd, or -1 when it failed at once (*refused). */
static int
launch(const struct sockaddr_storage *ss, socklen_t len, int *done)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct linger lg = { 1, 0 };

	*done = 0;
	if (fd == -1)
		die(111, "socket");
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	if (connect(fd, (const struct sockaddr *)ss, len) == 0) {
		*done = 1;
		return fd;
	}
	if (errno == EINPROGRESS)
		return fd;
	close(fd);
	return -1;
}

int
main(int argc, char **argv)
{
	const char *addr = NULL;
	unsigned port = 0;
	double dur = 0, interval = 1.0, tmo = 50.0;
	int c, listen_mode = 0, once = 0;
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct pollfd pfd[MAXFLIGHT];
	double deadline[MAXFLIGHT], t0, t, next, end;
	double last_ok = -1, maxgap = 0, gap_at = -1;
	unsigned long attempts = 0, ok = 0, refused = 0, timeouts = 0;
	int n = 0, i, done;

	signal(SIGPIPE, SIG_IGN);
	while ((c = getopt(argc, argv, "1a:d:i:lp:T:")) != -1) {
		switch (c) {
		case '1': once = 1; break;
		case 'a': addr = optarg; break;
		case 'd': dur = atof(optarg); break;
		case 'i': interval = atof(optarg) / 1000.0; break;
		case 'l': listen_mode = 1; break;
		case 'p': port = (unsigned)atoi(optarg); break;
		case 'T': tmo = atof(optarg); break;
		default: usage();
		}
	}
	if (port == 0 || port > 65535)
		usage();
	if (listen_mode)
		serve(port);
	if (addr == NULL || (!once && dur <= 0) || interval <= 0 || tmo <= 0)
		usage();
	sslen = sockaddr_of(addr, port, &ss);

	if (once) {
		int fd = launch(&ss, sslen, &done), e = 0;
		socklen_t el = sizeof e;
		struct pollfd p;
		if (fd == -1)
			return 1;
		if (!done) {
			p.fd = fd;
			p.events = POLLOUT;
			if (poll(&p, 1, (int)tmo) != 1 ||
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == -1 ||
			    e != 0)
				done = 0;
			else
				done = 1;
		}
		close(fd);
		return done ? 0 : 1;
	}

	t0 = now_ms();
	next = t0;
	end = t0 + dur;
	for (;;) {
		struct timespec ts;
		double wait;

		t = now_ms();
		if (t >= end)
			break;
		/* Launch every probe that is due (catching up after a stall). */
		while (t >= next && n < MAXFLIGHT) {
			int fd = launch(&ss, sslen, &done);
			attempts++;
			next += interval;
			if (fd == -1) {
				refused++;
				continue;
			}
			if (done) {
				if (last_ok >= 0 && t - last_ok > maxgap) {
					maxgap = t - last_ok;
					gap_at = last_ok - t0;
				}
				last_ok = t;
				ok++;
				close(fd);
				continue;
			}
			pfd[n].fd = fd;
			pfd[n].events = POLLOUT;
			deadline[n] = t + tmo;
			n++;
		}
		wait = next - t;
		for (i = 0; i < n; i++)
			if (deadline[i] - t < wait)
				wait = deadline[i] - t;
		if (end - t < wait)
			wait = end - t;
		if (wait < 0)
			wait = 0;
		ts.tv_sec = (time_t)(wait / 1e3);
		ts.tv_nsec = (long)((wait - (double)ts.tv_sec * 1e3) * 1e6);
		if (ppoll(pfd, (nfds_t)n, &ts, NULL) == -1 && errno != EINTR)
			die(111, "ppoll");
		t = now_ms();
		for (i = 0; i < n; i++) {
			int gone = 0;
			if (pfd[i].revents) {
				int e = 0;
				socklen_t el = sizeof e;
				getsockopt(pfd[i].fd, SOL_SOCKET, SO_ERROR, &e, &el);
				if (e == 0) {
					if (last_ok >= 0 && t - last_ok > maxgap) {
						maxgap = t - last_ok;
						gap_at = last_ok - t0;
					}
					last_ok = t;
					ok++;
				} else
					refused++;
				gone = 1;
			} else if (t >= deadline[i]) {
				timeouts++;
				gone = 1;
			}
			if (gone) {
				close(pfd[i].fd);
				pfd[i] = pfd[n - 1];
				deadline[i] = deadline[n - 1];
				n--;
				i--;
			}
		}
	}
	t = now_ms();
	for (i = 0; i < n; i++)
		close(pfd[i].fd);
	/* A gap still open at the end is an outage that never ended. */
	{
		int recovered = 1;
		if (last_ok < 0 || t - last_ok > maxgap) {
			if (last_ok >= 0 && t - last_ok > 2 * interval + tmo) {
				maxgap = t - last_ok;
				gap_at = last_ok - t0;
				recovered = 0;
			}
		}
		printf("probe=done attempts=%lu ok=%lu refused=%lu timeout=%lu "
		    "maxgap_ms=%.3f gap_at_ms=%.1f recovered=%d duration_ms=%.0f\n",
		    attempts, ok, refused, timeouts, maxgap, gap_at,
		    last_ok < 0 ? 0 : recovered, t - t0);
	}
	if (fflush(stdout) == EOF)
		return 111;
	return ok > 0 ? 0 : 1;
}
