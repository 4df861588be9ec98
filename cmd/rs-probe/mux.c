/*
 * rs-probe's SNMP sessions on one UDP socket per family. net-snmp gives
 * each session its own socket and sends each request with a syscall of
 * its own; on a 2-core load balancer each of those sends also wakes one
 * agent that preempts the prober, so the manager's CPU per poll was
 * mostly system time. Here each session is opened by net-snmp as usual
 * (address parsing, USM, keys), then its transport is pointed at the
 * shared socket with our own send, receive and close: sends are queued
 * and go out with sendmmsg, answers are read with recvmmsg and handed
 * to the session of the agent's address (a hash on address and port),
 * whose snmp_sess_read2 then parses them as before.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <net-snmp/library/large_fd_set.h>

#include "mux.h"

#define BATCH 64
#define DGRAM 2048		/* our requests are a few hundred bytes */
#define SOCKBUF (4 << 20)	/* a sweep's answers arrive before we read */

struct slot {
	struct sockaddr_storage sa;
	socklen_t salen;
	void *sess;
	netsnmp_transport *t;
};

static int fd4 = -1, fd6 = -1;
static struct slot *slots;
static size_t nslot, capslot;
static int *hash;		/* open addressing: slot + 1, 0 empty */
static size_t hcap;
static int cur = -1;
static netsnmp_large_fd_set fds4, fds6;

/* The batch: copies of what net-snmp sent, to which slot. */
static struct mmsghdr out[BATCH];
static struct iovec outv[BATCH];
static u_char outbuf[BATCH][DGRAM];
static int outfd[BATCH];
static unsigned nout;

/* The answer being handed to a session. */
static const u_char *inpkt;
static size_t inlen;
static const struct sockaddr_storage *infrom;

static int
sock_open(int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int sz = SOCKBUF;

	if (fd == -1)
		return -1;
	/* Past net.core.[rw]mem_max where allowed (CAP_NET_ADMIN). */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) == -1)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) == -1)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	return fd;
}

int
mux_init(void)
{
	if (fd4 == -1 && (fd4 = sock_open(AF_INET)) == -1)
		return -1;
	if (fd6 == -1)
		fd6 = sock_open(AF_INET6);	/* no IPv6: IPv4 only */
	netsnmp_large_fd_set_init(&fds4, fd4 + 1);
	netsnmp_large_fd_setfd(fd4, &fds4);
	if (fd6 != -1) {
		netsnmp_large_fd_set_init(&fds6, fd6 + 1);
		netsnmp_large_fd_setfd(fd6, &fds6);
	}
	return 0;
}

int mux_fd4(void) { return fd4; }
int mux_fd6(void) { return fd6; }

static uint64_t
sa_hash(const struct sockaddr_storage *sa)
{
	const u_char *p;
	size_t n, i;
	uint64_t h = 1469598103934665603ULL;

	if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		p = (const u_char *)&s6->sin6_addr, n = 16;
		h ^= s6->sin6_port;
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		p = (const u_char *)&s4->sin_addr, n = 4;
		h ^= s4->sin_port;
	}
	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h ^ (h >> 29);
}

static int
sa_eq(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
		const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;
		return x->sin6_port == y->sin6_port &&
		    memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	} else {
		const struct sockaddr_in *x = (const struct sockaddr_in *)a;
		const struct sockaddr_in *y = (const struct sockaddr_in *)b;
		return x->sin_port == y->sin_port &&
		    x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
}

static int
find(const struct sockaddr_storage *sa)
{
	size_t i, mask = hcap - 1;

	if (hcap == 0)
		return -1;
	for (i = sa_hash(sa) & mask; hash[i] != 0; i = (i + 1) & mask)
		if (sa_eq(&slots[hash[i] - 1].sa, sa))
			return hash[i] - 1;
	return -1;
}

static int
rehash(size_t cap)
{
	int *nh = calloc(cap, sizeof *nh);
	size_t k, i;

	if (nh == NULL)
		return -1;
	for (k = 0; k < nslot; k++) {
		for (i = sa_hash(&slots[k].sa) & (cap - 1); nh[i] != 0;
		    i = (i + 1) & (cap - 1))
			;
		nh[i] = (int)k + 1;
	}
	free(hash);
	hash = nh, hcap = cap;
	return 0;
}

static int
t_send(netsnmp_transport *t, const void *buf, int size, void **opaque,
    int *olength)
{
	struct slot *s;
	int k;

	(void)opaque, (void)olength;
	if (cur >= 0 && (size_t)cur < nslot && slots[cur].t == t) {
		s = &slots[cur];
	} else {
		for (k = 0; (size_t)k < nslot && slots[k].t != t; k++)
			;
		if ((size_t)k == nslot) {
			errno = EINVAL;
			return -1;
		}
		s = &slots[k];
	}
	if (size <= 0 || size > DGRAM) {
		ssize_t n = sendto(t->sock, buf, size > 0 ? (size_t)size : 0,
		    0, (struct sockaddr *)&s->sa, s->salen);
		return n < 0 ? -1 : (int)n;
	}
	if (nout == BATCH)
		(void)mux_flush();
	memcpy(outbuf[nout], buf, (size_t)size);
	outv[nout].iov_base = outbuf[nout];
	outv[nout].iov_len = (size_t)size;
	memset(&out[nout], 0, sizeof out[nout]);
	out[nout].msg_hdr.msg_iov = &outv[nout];
	out[nout].msg_hdr.msg_iovlen = 1;
	out[nout].msg_hdr.msg_name = &s->sa;
	out[nout].msg_hdr.msg_namelen = s->salen;
	outfd[nout++] = t->sock;
	return size;
}

static int
t_recv(netsnmp_transport *t, void *buf, int size, void **opaque, int *olength)
{
	netsnmp_indexed_addr_pair *ap;

	(void)t;
	*opaque = NULL, *olength = 0;
	if (inpkt == NULL || size < 0 || inlen > (size_t)size) {
		errno = EAGAIN;
		return -1;
	}
	memcpy(buf, inpkt, inlen);
	/* What net-snmp's own UDP receive hands on: the sender's address. */
	if ((ap = calloc(1, sizeof *ap)) != NULL) {
		memcpy(&ap->remote_addr, infrom, infrom->ss_family == AF_INET6 ?
		    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
		*opaque = ap, *olength = (int)sizeof *ap;
	}
	inpkt = NULL;
	return (int)inlen;
}

static int
t_close(netsnmp_transport *t)
{
	t->sock = -1;	/* shared: closed by no session */
	return 0;
}

int
mux_adopt(void *sess, const struct sockaddr *sa, socklen_t salen)
{
	netsnmp_transport *t = snmp_sess_transport(sess);
	int fd = sa->sa_family == AF_INET6 ? fd6 : fd4;
	struct slot *s;

	if (t == NULL || fd < 0 || salen > sizeof s->sa ||
	    (t->flags & NETSNMP_TRANSPORT_FLAG_STREAM)) {
		errno = EINVAL;
		return -1;
	}
	if (nslot == capslot) {
		size_t nc = capslot ? capslot * 2 : 64;
		struct slot *ns = realloc(slots, nc * sizeof *ns);
		if (ns == NULL)
			return -1;
		slots = ns, capslot = nc;
	}
	if ((nslot + 1) * 2 > hcap && rehash(hcap ? hcap * 2 : 128) == -1)
		return -1;
	s = &slots[nslot];
	memset(s, 0, sizeof *s);
	memcpy(&s->sa, sa, salen);
	s->salen = salen;
	s->sess = sess;
	s->t = t;
	if (find(&s->sa) >= 0) {	/* two targets, one agent address */
		errno = EEXIST;
		return -1;
	}
	if (t->sock >= 0)
		close(t->sock);
	t->sock = fd;
	t->f_send = t_send;
	t->f_recv = t_recv;
	t->f_close = t_close;
	{
		size_t i, mask = hcap - 1;
		for (i = sa_hash(&s->sa) & mask; hash[i] != 0; i = (i + 1) & mask)
			;
		hash[i] = (int)++nslot;
	}
	return (int)nslot - 1;
}

void
mux_reset(void)
{
	nout = 0;
	nslot = 0;
	cur = -1;
	if (hash != NULL)
		memset(hash, 0, hcap * sizeof *hash);
}

void
mux_use(int slot)
{
	cur = slot;
}

static unsigned
flush_fd(int fd, struct mmsghdr *m, unsigned n)
{
	unsigned done = 0, dropped = 0;
	int tries = 0;

	while (done < n) {
		int k = sendmmsg(fd, m + done, n - done, 0);
		if (k > 0) {
			done += (unsigned)k;
			continue;
		}
		if (k == -1 && (errno == EAGAIN || errno == ENOBUFS) && tries++ < 20) {
			struct pollfd p = { fd, POLLOUT, 0 };
			(void)poll(&p, 1, 5);
			continue;
		}
		if (k == -1 && errno == EINTR)
			continue;
		/* This one cannot go (e.g. no route): skip it, it will time out. */
		done++, dropped++;
	}
	return dropped;
}

unsigned
mux_flush(void)
{
	struct mmsghdr m4[BATCH], m6[BATCH];
	unsigned i, n4 = 0, n6 = 0, dropped;

	for (i = 0; i < nout; i++) {
		if (outfd[i] == fd6 && fd6 >= 0)
			m6[n6++] = out[i];
		else
			m4[n4++] = out[i];
	}
	nout = 0;
	dropped = n4 ? flush_fd(fd4, m4, n4) : 0;
	dropped += n6 ? flush_fd(fd6, m6, n6) : 0;
	return dropped;
}

void
mux_read(int fd)
{
	static u_char inbuf[BATCH][DGRAM];
	static struct sockaddr_storage from[BATCH];
	static struct iovec iov[BATCH];
	static struct mmsghdr in[BATCH];
	netsnmp_large_fd_set *fds = fd == fd6 ? &fds6 : &fds4;
	int n, i, rounds = 0;

	do {
		for (i = 0; i < BATCH; i++) {
			iov[i].iov_base = inbuf[i];
			iov[i].iov_len = DGRAM;
			memset(&in[i], 0, sizeof in[i]);
			in[i].msg_hdr.msg_iov = &iov[i];
			in[i].msg_hdr.msg_iovlen = 1;
			in[i].msg_hdr.msg_name = &from[i];
			in[i].msg_hdr.msg_namelen = sizeof from[i];
		}
		n = recvmmsg(fd, in, BATCH, MSG_DONTWAIT, NULL);
		for (i = 0; i < n; i++) {
			int k = find(&from[i]);
			if (k < 0 || (in[i].msg_hdr.msg_flags & MSG_TRUNC))
				continue;
			cur = k;
			inpkt = inbuf[i], inlen = in[i].msg_len, infrom = &from[i];
			/* net-snmp clears the fd in the set once it has read it. */
			netsnmp_large_fd_setfd(fd, fds);
			(void)snmp_sess_read2(slots[k].sess, fds);
			inpkt = NULL;
		}
		if (nout)
			(void)mux_flush();
	} while (n == BATCH && ++rounds < 64);
}
