/* libtcpr: stream bookkeeping over BSD sockets and the restored sessions. */
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tcpr.h"

#define API __attribute__((visibility("default")))

struct conn {
	unsigned char used, restored, manual, handed;
	unsigned char peer_done;	/* the peer's FIN came before the restore */
	uint64_t in, out;	/* offsets delivered / accepted */
	uint64_t consumed;	/* input checkpoint */
	uint64_t out_base;	/* output offset when this socket began */
};

static struct conn *tab;
static size_t ntab;
static int loaded;

static struct conn *
get(int fd, int create)
{
	if (fd < 0) {
		errno = EBADF;
		return NULL;
	}
	if ((size_t)fd >= ntab) {
		size_t n = ntab ? ntab : 64;
		struct conn *t;

		if (!create) {
			errno = EBADF;
			return NULL;
		}
		while (n <= (size_t)fd)
			n *= 2;
		if ((t = realloc(tab, n * sizeof *t)) == NULL)
			return NULL;
		memset(t + ntab, 0, (n - ntab) * sizeof *t);
		tab = t;
		ntab = n;
	}
	if (!tab[fd].used) {
		if (!create) {
			errno = EBADF;
			return NULL;
		}
		memset(&tab[fd], 0, sizeof tab[fd]);
		tab[fd].used = 1;
	}
	return &tab[fd];
}

static int
parse_u64(const char **p, uint64_t *v, char end)
{
	char *e;
	unsigned long long x;

	errno = 0;
	x = strtoull(*p, &e, 10);
	if (errno || e == *p || (*e != end && !(end == ' ' && *e == '\0')))
		return -1;
	*v = x;
	*p = *e ? e + 1 : e;
	return 0;
}

/*
 * Take the sessions tcpr-restore handed over: descriptors 3.. with
 * TCPR_FDS and TCPR_SESSIONS ("sid:rcv:snd:flags" each). Once; the
 * variables are removed so that children do not take them again.
 */
static void
load_restored(void)
{
	const char *nfds = getenv("TCPR_FDS"), *p = getenv("TCPR_SESSIONS");
	uint64_t n, i, sid, rcv, snd, flags;

	loaded = 1;
	if (nfds == NULL || p == NULL)
		return;
	if (parse_u64(&nfds, &n, '\0') < 0 || n > 1000000)
		goto out;
	for (i = 0; i < n; i++) {
		struct conn *c;
		int type;
		socklen_t l = sizeof type;

		if (parse_u64(&p, &sid, ':') < 0 || parse_u64(&p, &rcv, ':') < 0 ||
		    parse_u64(&p, &snd, ':') < 0 || parse_u64(&p, &flags, ' ') < 0)
			break;
		if (getsockopt((int)(3 + i), SOL_SOCKET, SO_TYPE, &type, &l) < 0 ||
		    type != SOCK_STREAM)
			continue;
		if ((c = get((int)(3 + i), 1)) == NULL)
			break;
		c->restored = 1;
		c->in = c->consumed = rcv;
		c->out = c->out_base = snd;
		/*
		 * fin_in (tcpr-records(5)): the old master had the peer's FIN;
		 * the restored socket never sees it again, so end of file is
		 * ours to report.
		 */
		c->peer_done = (flags & 0x08) != 0;
	}
out:
	unsetenv("TCPR_FDS");
	unsetenv("TCPR_SESSIONS");
}

static int
local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof ss;

	if (getsockname(fd, (struct sockaddr *)&ss, &l) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

API int
tcpr_socket(int domain, int type, int protocol)
{
	if (!loaded)
		load_restored();
	return socket(domain, type, protocol);
}

API int
tcpr_bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	int one = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
		return -1;
	return bind(fd, addr, len);
}

API int
tcpr_listen(int fd, int backlog)
{
	if (!loaded)
		load_restored();
	return listen(fd, backlog);
}

static int
next_restored(int lfd)
{
	int port = local_port(lfd);
	size_t i;

	for (i = 0; i < ntab; i++)
		if (tab[i].used && tab[i].restored && !tab[i].handed &&
		    local_port((int)i) == port)
			return (int)i;
	return -1;
}

API int
tcpr_pending(int fd)
{
	int port, n = 0;
	size_t i;

	if (!loaded)
		load_restored();
	if ((port = local_port(fd)) < 0)
		return -1;
	for (i = 0; i < ntab; i++)
		if (tab[i].used && tab[i].restored && !tab[i].handed &&
		    local_port((int)i) == port)
			n++;
	return n;
}

API int
tcpr_accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	struct conn *c;
	int s;

	if (!loaded)
		load_restored();
	if ((s = next_restored(fd)) >= 0) {
		tab[s].handed = 1;
		if (addr && len && getpeername(s, addr, len) < 0)
			return -1;
		return s;
	}
	if ((s = accept(fd, addr, len)) < 0)
		return -1;
	if ((c = get(s, 1)) == NULL) {
		close(s);
		return -1;
	}
	memset(c, 0, sizeof *c);
	c->used = c->handed = 1;
	return s;
}

API ssize_t
tcpr_recv(int fd, void *buf, size_t len, int flags)
{
	struct conn *c = get(fd, 1);
	ssize_t n;

	if (c == NULL)
		return -1;
	if (c->peer_done && len > 0) {
		/* whatever came after the restore first, then end of file */
		n = recv(fd, buf, len, flags | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			n = 0;
	} else
		n = recv(fd, buf, len, flags);
	if (n > 0 && !(flags & MSG_PEEK)) {
		c->in += (uint64_t)n;
		if (!c->manual)
			c->consumed = c->in;
	}
	return n;
}

API ssize_t
tcpr_send(int fd, const void *buf, size_t len, int flags)
{
	struct conn *c = get(fd, 1);
	ssize_t n;

	if (c == NULL)
		return -1;
	n = send(fd, buf, len, flags | MSG_NOSIGNAL);
	if (n > 0)
		c->out += (uint64_t)n;
	return n;
}

API int
tcpr_shutdown(int fd, int how)
{
	return shutdown(fd, how);
}

API int
tcpr_close(int fd)
{
	if (fd >= 0 && (size_t)fd < ntab)
		memset(&tab[fd], 0, sizeof tab[fd]);
	return close(fd);
}

API int
tcpr_restored(int fd)
{
	struct conn *c;

	if (!loaded)
		load_restored();
	if ((c = get(fd, 0)) == NULL)
		return -1;
	return c->restored;
}

API int
tcpr_offsets(int fd, uint64_t *in, uint64_t *out)
{
	struct conn *c = get(fd, 0);

	if (c == NULL)
		return -1;
	if (in)
		*in = c->in;
	if (out)
		*out = c->out;
	return 0;
}

API int
tcpr_manual(int fd, int on)
{
	struct conn *c = get(fd, 1);

	if (c == NULL)
		return -1;
	c->manual = on != 0;
	return 0;
}

API int
tcpr_consumed(int fd, size_t n)
{
	struct conn *c = get(fd, 0);

	if (c == NULL)
		return -1;
	if (n > c->in - c->consumed) {
		errno = EINVAL;
		return -1;
	}
	c->consumed += n;
	return 0;
}

API int
tcpr_checkpoint(int fd, uint64_t *off)
{
	struct conn *c = get(fd, 0);

	if (c == NULL)
		return -1;
	*off = c->consumed;
	return 0;
}

API int
tcpr_safe(int fd, uint64_t *off)
{
	struct conn *c = get(fd, 0);
	struct tcp_info ti;
	socklen_t l = sizeof ti;

	if (c == NULL)
		return -1;
	memset(&ti, 0, sizeof ti);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l) < 0)
		return -1;
	/* bytes_acked counts our FIN too; never beyond what we wrote */
	*off = c->out_base + ti.tcpi_bytes_acked;
	if (*off > c->out)
		*off = c->out;
	return 0;
}
