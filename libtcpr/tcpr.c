/* libtcpr: stream bookkeeping over BSD sockets and the restored sessions. */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tcpr.h"
#include "tcpr_shm.h"

#define API __attribute__((visibility("default")))

struct conn {
	unsigned char used, restored, manual, handed;
	unsigned char peer_done;	/* the peer's FIN came before the restore */
	int lport;	/* a restored session's local port, asked once */
	uint64_t in, out;	/* offsets delivered / accepted */
	uint64_t consumed;	/* input checkpoint */
	uint64_t out_base;	/* output offset when this socket began */
	struct tcpr_shm_slot *slot;	/* in the consumed table, or NULL */
};

static struct conn *tab;
static size_t ntab;
static int loaded;

/*
 * The consumed table of tcpr-capture -C (TCPR_CONSUMED names it): each
 * session's consumed offset is published there with one memory store, so
 * that the capture's exact mode acknowledges nothing the application has
 * not consumed. Mapped at the first session; without it, marks stay local.
 * With the capture's in-kernel gate the slots are in its eBPF map, whose
 * descriptor the capture hands over on its wake socket; another run of
 * the capture (the header's gen) and every session is entered again.
 */
static struct tcpr_shm_hdr *shm_hdr;
static struct tcpr_shm_slot *shm;
static uint32_t shm_n, shm_gen;
static void *shm_map_mem;	/* the map's slots, when mapped */
static int wake_fd = -1;
static time_t shm_tried;	/* the table may come later: once a second */

#define SLOTS_SIZE ((size_t)TCPR_SHM_SLOTS * sizeof(struct tcpr_shm_slot))

/* The abstract address of the capture's wake socket, its length. */
static socklen_t
wake_addr(struct sockaddr_un *a)
{
	size_t n = strnlen(shm_hdr->wake, TCPR_SHM_WAKELEN - 1);

	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	if (n == 0)
		return 0;
	/* abstract: a leading NUL; the name as the capture wrote it */
	memcpy(a->sun_path + 1, shm_hdr->wake, n);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

/* The map's descriptor from the capture, or -1. */
static int
map_fetch(void)
{
	struct sockaddr_un a, me = { .sun_family = AF_UNIX };
	socklen_t al = wake_addr(&a);
	char b[8], cb[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { b, sizeof b };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cb, .msg_controllen = sizeof cb };
	struct pollfd p;
	struct cmsghdr *c;
	int s, fd = -1;

	if (al == 0 || (s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	/* bound (an address of its own, autobind): the answer comes here */
	if (bind(s, (struct sockaddr *)&me, sizeof me.sun_family) < 0 ||
	    sendto(s, "m", 1, 0, (struct sockaddr *)&a, al) != 1)
		goto out;
	p.fd = s;
	p.events = POLLIN;
	if (poll(&p, 1, 1000) != 1 ||
	    recvmsg(s, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) < 1)
		goto out;
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(c), sizeof fd);
out:
	close(s);
	return fd;
}

/* The slots, where this run of the capture keeps them: 0, or -1. */
static int
slots_attach(void)
{
	struct tcpr_shm_hdr *h = shm_hdr;
	uint32_t gen = __atomic_load_n(&h->gen, __ATOMIC_SEQ_CST);
	void *m;
	int fd;

	shm_gen = gen;
	if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != TCPR_SHM_MAGIC ||
	    h->version != TCPR_SHM_VERSION || h->nslots != TCPR_SHM_SLOTS)
		return -1;	/* being made again */
	if (!(__atomic_load_n(&h->flags, __ATOMIC_SEQ_CST) & TCPR_SHM_F_MAP)) {
		shm = (struct tcpr_shm_slot *)(h + 1);
		shm_n = TCPR_SHM_SLOTS;
		return 0;
	}
	if ((fd = map_fetch()) < 0)
		return -1;
	m = mmap(NULL, SLOTS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -1;
	shm_map_mem = m;
	shm = m;
	shm_n = TCPR_SHM_SLOTS;
	return 0;
}

static void shm_renew(void);

static void
shm_map(void)
{
	const char *path = getenv("TCPR_CONSUMED");
	size_t size = TCPR_SHM_SIZE(TCPR_SHM_SLOTS);
	struct tcpr_shm_hdr *h;
	struct stat st;
	void *m;
	int fd;

	if (path == NULL || *path == '\0')
		return;
	if (shm_hdr) {
		/*
		 * The file is there, the slots were not (no capture, or not
		 * answering): again once a second, at once for another run.
		 */
		if (__atomic_load_n(&shm_hdr->gen, __ATOMIC_ACQUIRE) == shm_gen &&
		    shm_tried == time(NULL))
			return;
		shm_tried = time(NULL);
		shm_renew();
		return;
	}
	if (shm_tried == time(NULL))
		return;
	shm_tried = time(NULL);
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
		return;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size != size) {
		close(fd);
		return;
	}
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return;
	h = m;
	if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != TCPR_SHM_MAGIC ||
	    h->version != TCPR_SHM_VERSION || h->nslots != TCPR_SHM_SLOTS) {
		munmap(m, size);
		return;
	}
	/* kept: its gen tells when a capture (another run) is there */
	shm_hdr = h;
	shm_renew();
}

/* The capture waits for this session's mark: one datagram wakes it. */
static void
wake(void)
{
	struct sockaddr_un a;
	socklen_t al;

	if (wake_fd < 0 && (wake_fd = socket(AF_UNIX, SOCK_DGRAM |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return;
	if ((al = wake_addr(&a)) == 0)
		return;
	(void)sendto(wake_fd, "w", 1, MSG_DONTWAIT, (struct sockaddr *)&a, al);
}

/* The tuple of fd, the service's side local; v4-mapped as IPv4. */
static int
tuple(int fd, uint8_t *fam, uint16_t *lp, uint16_t *pp, unsigned char *la,
    unsigned char *pa)
{
	struct sockaddr_storage l, p;
	socklen_t ll = sizeof l, pl = sizeof p;

	if (getsockname(fd, (struct sockaddr *)&l, &ll) < 0 ||
	    getpeername(fd, (struct sockaddr *)&p, &pl) < 0 ||
	    l.ss_family != p.ss_family)
		return -1;
	memset(la, 0, 16);
	memset(pa, 0, 16);
	if (l.ss_family == AF_INET) {
		*fam = AF_INET;
		memcpy(la, &((struct sockaddr_in *)&l)->sin_addr, 4);
		memcpy(pa, &((struct sockaddr_in *)&p)->sin_addr, 4);
		*lp = ntohs(((struct sockaddr_in *)&l)->sin_port);
		*pp = ntohs(((struct sockaddr_in *)&p)->sin_port);
		return 0;
	}
	if (l.ss_family != AF_INET6)
		return -1;
	{
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&l;
		struct sockaddr_in6 *b = (struct sockaddr_in6 *)&p;

		*lp = ntohs(a->sin6_port);
		*pp = ntohs(b->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
			*fam = AF_INET;
			memcpy(la, a->sin6_addr.s6_addr + 12, 4);
			memcpy(pa, b->sin6_addr.s6_addr + 12, 4);
		} else {
			*fam = AF_INET6;
			memcpy(la, a->sin6_addr.s6_addr, 16);
			memcpy(pa, b->sin6_addr.s6_addr, 16);
		}
	}
	return 0;
}

static void shm_enter(int fd, struct conn *c);
static int local_port(int fd);

/*
 * Another run of the capture: its slots, and every session entered there
 * again (the system calls of it once per run, not per mark).
 */
static void
shm_renew(void)
{
	void *old = shm_map_mem;
	size_t i;

	shm_map_mem = NULL;
	shm = NULL;
	(void)slots_attach();	/* else marks stay local until it is back */
	for (i = 0; i < ntab; i++)
		if (tab[i].used && (tab[i].slot || tab[i].handed ||
		    tab[i].restored)) {
			tab[i].slot = NULL;
			shm_enter((int)i, &tab[i]);
		}
	if (old)
		munmap(old, SLOTS_SIZE);
}

/* The capture's run we entered our sessions for: still the one? */
static void
shm_fresh(void)
{
	if (shm_hdr && __atomic_load_n(&shm_hdr->gen, __ATOMIC_ACQUIRE) !=
	    shm_gen)
		shm_renew();
}

/* Enter session fd in the table with its consumed offset. */
static void
shm_enter(int fd, struct conn *c)
{
	unsigned char la[16], pa[16];
	uint16_t lp, pp;
	uint8_t fam;
	int tries;

	shm_fresh();
	if (shm == NULL)
		shm_map();
	if (shm == NULL || tuple(fd, &fam, &lp, &pp, la, pa) < 0)
		return;
	for (tries = 0; tries < 16; tries++) {
		uint32_t i = tcpr_shm_hash(fam, lp, pp, la, pa), k;
		struct tcpr_shm_slot *cand = NULL;
		uint32_t cst = 0;

		for (k = 0; k < shm_n; k++, i++) {
			struct tcpr_shm_slot *e = &shm[i & (shm_n - 1)];
			uint32_t st = __atomic_load_n(&e->state, __ATOMIC_ACQUIRE);

			if (st == TCPR_SHM_LIVE &&
			    tcpr_shm_match(e, fam, lp, pp, la, pa)) {
				/* left by a process that died with the session */
				__atomic_store_n(&e->consumed, c->consumed,
				    __ATOMIC_RELEASE);
				c->slot = e;
				return;
			}
			if (cand == NULL && (st == TCPR_SHM_FREE ||
			    st == TCPR_SHM_DEAD)) {
				cand = e;
				cst = st;
			}
			if (st == TCPR_SHM_FREE)
				break;
		}
		if (cand == NULL)
			return;		/* full: marks stay local */
		if (!__atomic_compare_exchange_n(&cand->state, &cst,
		    TCPR_SHM_BUSY, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			continue;	/* another process took it */
		cand->family = fam;
		cand->lport = lp;
		cand->pport = pp;
		memcpy(cand->laddr, la, 16);
		memcpy(cand->paddr, pa, 16);
		__atomic_store_n(&cand->consumed, c->consumed, __ATOMIC_RELEASE);
		__atomic_store_n(&cand->state, TCPR_SHM_LIVE, __ATOMIC_RELEASE);
		c->slot = cand;
		return;
	}
}

static void
publish(struct conn *c)
{
	shm_fresh();
	if (c->slot == NULL)
		return;
	__atomic_store_n(&c->slot->consumed, c->consumed, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&c->slot->waiting, __ATOMIC_SEQ_CST) &&
	    __atomic_exchange_n(&c->slot->waiting, 0, __ATOMIC_SEQ_CST))
		wake();
}

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
 * TCPR_SESSIONS_FD: the descriptor of a file holding what TCPR_SESSIONS
 * would (a long list); read whole and closed. NULL if it cannot be read.
 */
static char *
read_sessions_fd(const char *sfd)
{
	uint64_t fdn;
	struct stat st;
	size_t o = 0;
	ssize_t r;
	char *t;
	int fd;

	if (parse_u64(&sfd, &fdn, '\0') < 0 || fdn < 3 || fdn > 2000000)
		return NULL;
	fd = (int)fdn;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > 256 * 1024 * 1024 || (t = malloc((size_t)st.st_size +
	    1)) == NULL) {
		close(fd);
		return NULL;
	}
	while (o < (size_t)st.st_size) {
		r = pread(fd, t + o, (size_t)st.st_size - o, (off_t)o);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		o += (size_t)r;
	}
	close(fd);
	t[o] = '\0';
	return t;
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
	const char *sfd = getenv("TCPR_SESSIONS_FD");
	uint64_t n, i, sid, rcv, snd, flags;
	char *text = NULL;

	loaded = 1;
	if (p == NULL && sfd != NULL)
		p = text = read_sessions_fd(sfd);
	if (nfds == NULL || p == NULL)
		goto out;
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
		c->lport = local_port((int)(3 + i));
		c->in = c->consumed = rcv;
		c->out = c->out_base = snd;
		/*
		 * fin_in (tcpr-records(5)): the old master had the peer's FIN;
		 * the restored socket never sees it again, so end of file is
		 * ours to report.
		 */
		c->peer_done = (flags & 0x08) != 0;
		shm_enter((int)(3 + i), c);
	}
out:
	free(text);
	unsetenv("TCPR_FDS");
	unsetenv("TCPR_SESSIONS");
	unsetenv("TCPR_SESSIONS_FD");
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
		    tab[i].lport == port)
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
		    tab[i].lport == port)
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
	shm_enter(s, c);
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
		if (!c->manual) {
			c->consumed = c->in;
			publish(c);
		}
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
	if (fd >= 0 && (size_t)fd < ntab) {
		if (tab[fd].slot)
			__atomic_store_n(&tab[fd].slot->state, TCPR_SHM_DEAD,
			    __ATOMIC_RELEASE);
		memset(&tab[fd], 0, sizeof tab[fd]);
	}
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
	publish(c);
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
