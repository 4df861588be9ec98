/* TCP_REPAIR dump and restore, in CRIU's (libsoccr's) order. */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tcpr_repair.h"
#include "tcpr_ring.h"

#define OPT_MAXSEG 2
#define OPT_WINDOW 3
#define OPT_SACK_PERM 4
#define OPT_TIMESTAMP 8
/* tcpi_state values (include/net/tcp_states.h) */
enum { ST_ESTABLISHED = 1, ST_FIN_WAIT2 = 5, ST_CLOSE_WAIT = 8 };
#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT 75
#endif

static int
fail(const char **why, const char *step)
{
	if (why)
		*why = step;
	return -1;
}

static int
seti(int fd, int level, int opt, int v)
{
	return setsockopt(fd, level, opt, &v, sizeof v);
}

static int
queue_seq(int fd, int q, uint32_t *seq, int set)
{
	socklen_t l = sizeof *seq;

	if (seti(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, q) < 0)
		return -1;
	if (set)
		return setsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, seq, sizeof *seq);
	return getsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, seq, &l);
}

static void
sa_get(const struct sockaddr_storage *ss, unsigned char *a, uint16_t *port)
{
	memset(a, 0, 16);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		memcpy(a, &in->sin_addr, 4);
		*port = ntohs(in->sin_port);
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		memcpy(a, &in6->sin6_addr, 16);
		*port = ntohs(in6->sin6_port);
	}
}

static socklen_t
sa_put(int family, const unsigned char *a, uint16_t port,
    struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, a, 4);
		in->sin_port = htons(port);
		return sizeof *in;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, a, 16);
		in6->sin6_port = htons(port);
		return sizeof *in6;
	}
}

uint32_t
tcpr_sess_hash(const struct tcpr_sess *s)
{
	/* FNV-1a over the four-tuple */
	uint32_t h = 2166136261u;
	unsigned char b[36];
	size_t i;

	memcpy(b, s->laddr, 16);
	memcpy(b + 16, s->paddr, 16);
	b[32] = s->lport >> 8;
	b[33] = (unsigned char)s->lport;
	b[34] = s->pport >> 8;
	b[35] = (unsigned char)s->pport;
	for (i = 0; i < sizeof b; i++)
		h = (h ^ b[i]) * 16777619u;
	return h ? h : 1;
}

int
tcpr_repair_dump(int fd, uint32_t sid, struct tcpr_sess *s, size_t *unread,
    const char **why)
{
	struct sockaddr_storage la, pa;
	socklen_t ll = sizeof la, pl = sizeof pa, l;
	struct tcp_info ti;
	struct tcp_repair_window w;
	uint32_t rcv_nxt, write_seq, snd_isn, rcv_isn, ts = 0;
	int outq, inq, e, reuse = 0;

	memset(s, 0, sizeof *s);
	l = sizeof ti;
	memset(&ti, 0, sizeof ti);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l) < 0)
		return fail(why, "TCP_INFO");
	switch (ti.tcpi_state) {
	case ST_ESTABLISHED:
		break;
	case ST_CLOSE_WAIT:
		s->flags |= TCPR_F_FIN_IN;
		break;
	case ST_FIN_WAIT2:
		s->flags |= TCPR_F_FIN_OUT;
		break;
	default:
		errno = ENOTCONN;
		return fail(why, "state not established, close-wait or fin-wait-2");
	}
	if (getsockname(fd, (struct sockaddr *)&la, &ll) < 0 ||
	    getpeername(fd, (struct sockaddr *)&pa, &pl) < 0)
		return fail(why, "getsockname/getpeername");
	/* repair mode resets SO_REUSEADDR on the way out: put it back after */
	l = sizeof reuse;
	if (getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, &l) < 0)
		return fail(why, "SO_REUSEADDR");
	if (seti(fd, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON) < 0)
		return fail(why, "TCP_REPAIR on");
	if (queue_seq(fd, TCP_RECV_QUEUE, &rcv_nxt, 0) < 0 ||
	    queue_seq(fd, TCP_SEND_QUEUE, &write_seq, 0) < 0) {
		*why = "TCP_QUEUE_SEQ";
		goto off;
	}
	l = sizeof w;
	if (getsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, &l) < 0) {
		*why = "TCP_REPAIR_WINDOW";
		goto off;
	}
	if (ioctl(fd, SIOCOUTQ, &outq) < 0 || ioctl(fd, SIOCINQ, &inq) < 0) {
		*why = "SIOCOUTQ/SIOCINQ";
		goto off;
	}
	l = sizeof ts;
	if ((ti.tcpi_options & TCPI_OPT_TIMESTAMPS) &&
	    getsockopt(fd, IPPROTO_TCP, TCP_TIMESTAMP, &ts, &l) < 0) {
		*why = "TCP_TIMESTAMP";
		goto off;
	}
	seti(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_NO_QUEUE);
	if (seti(fd, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP) < 0)
		return fail(why, "TCP_REPAIR off");
	seti(fd, SOL_SOCKET, SO_REUSEADDR, reuse);

	s->sid = sid;
	s->family = la.ss_family == AF_INET ? AF_INET : AF_INET6;
	sa_get(&la, s->laddr, &s->lport);
	sa_get(&pa, s->paddr, &s->pport);
	if (ti.tcpi_options & TCPI_OPT_SACK)
		s->flags |= TCPR_F_SACK;
	if (ti.tcpi_options & TCPI_OPT_TIMESTAMPS)
		s->flags |= TCPR_F_TS;
	if (ti.tcpi_options & TCPI_OPT_WSCALE) {
		s->flags |= TCPR_F_WSCALE;
		s->snd_wscale = ti.tcpi_snd_wscale;
		s->rcv_wscale = ti.tcpi_rcv_wscale;
	}
	/* The peer's MSS clamp: the sending MSS plus the timestamp option. */
	s->mss = (uint16_t)(ti.tcpi_snd_mss +
	    ((s->flags & TCPR_F_TS) ? 12 : 0));
	/*
	 * bytes_received and bytes_acked count the FIN too, and neither
	 * counts the SYN: the initial sequence numbers follow.
	 */
	rcv_isn = rcv_nxt - 1 - (uint32_t)ti.tcpi_bytes_received;
	snd_isn = (write_seq - (uint32_t)outq) - 1 - (uint32_t)ti.tcpi_bytes_acked;
	s->rcv_isn = rcv_isn;
	s->snd_isn = snd_isn;
	s->rcv = ti.tcpi_bytes_received - ((s->flags & TCPR_F_FIN_IN) ? 1 : 0);
	s->snd_una = ti.tcpi_bytes_acked - ((s->flags & TCPR_F_FIN_OUT) ? 1 : 0);
	s->snd_nxt = s->snd_una + (uint32_t)outq;
	if (s->flags & TCPR_F_TS)
		s->tsval = (ts & ~1u) ? ts & ~1u : 2;	/* bit 0: usec flag */
	s->snd_wnd = w.snd_wnd;
	s->rcv_wnd = w.rcv_wnd;
	*unread = (size_t)inq;
	return tcpr_sess_check(s, why);
off:
	e = errno;
	seti(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_NO_QUEUE);
	seti(fd, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP);
	seti(fd, SOL_SOCKET, SO_REUSEADDR, reuse);
	errno = e;
	return -1;
}

/*
 * The first half: everything that touches only the new socket (no
 * shared table), so that another thread can do it ahead of the second.
 */
int
tcpr_repair_prepare(const struct tcpr_sess *s, int flags, const char **why)
{
	uint32_t rcv_nxt = tcpr_sess_rcv_nxt(s), snd = tcpr_sess_snd_una(s);
	const char *step;
	int fd, e;

	if (!(flags & TCPR_RESTORE_UNA))
		snd += (uint32_t)(s->snd_nxt - s->snd_una);
	if ((fd = socket(s->family, SOCK_STREAM, IPPROTO_TCP)) < 0)
		return fail(why, "socket");
	/*
	 * Repair mode forces reuse of the local port for every session of
	 * the service (SK_FORCE_REUSE) until it is left; no SO_REUSEADDR
	 * before (leaving resets it anyway). Every call saved here is a
	 * microsecond per session.
	 */
	step = "TCP_REPAIR on";
	if (seti(fd, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON) < 0)
		goto err;
	/*
	 * The address may not be up yet (it must not be, or the peer's
	 * packets would meet a reset): bind it anyway and route from it.
	 */
	step = "IP_TRANSPARENT";
	if (!(flags & TCPR_RESTORE_LOCAL) && (s->family == AF_INET ?
	    seti(fd, IPPROTO_IP, IP_TRANSPARENT, 1) < 0 :
	    seti(fd, IPPROTO_IPV6, IPV6_TRANSPARENT, 1) < 0))
		goto err;
	step = "TCP_QUEUE_SEQ";
	if (queue_seq(fd, TCP_RECV_QUEUE, &rcv_nxt, 1) < 0 ||
	    queue_seq(fd, TCP_SEND_QUEUE, &snd, 1) < 0)
		goto err;
	/*
	 * The MSS clamp must be there before connect, which sizes segments
	 * from it (the repair option alone leaves them at 536 bytes).
	 */
	step = "TCP_MAXSEG";
	if (seti(fd, IPPROTO_TCP, TCP_MAXSEG, s->mss) < 0)
		goto err;
	return fd;
err:
	e = errno;
	close(fd);	/* in repair mode, unbound: nobody hears of it */
	errno = e;
	return fail(why, step);
}

/* The repair options the handshake agreed: into opt[], their count. */
static int
repair_opts(const struct tcpr_sess *s, struct tcp_repair_opt *opt)
{
	int n = 0;

	opt[n].opt_code = OPT_MAXSEG;
	opt[n++].opt_val = s->mss;
	if (s->flags & TCPR_F_WSCALE) {
		opt[n].opt_code = OPT_WINDOW;
		opt[n++].opt_val = s->snd_wscale | (uint32_t)s->rcv_wscale << 16;
	}
	if (s->flags & TCPR_F_SACK) {
		opt[n].opt_code = OPT_SACK_PERM;
		opt[n++].opt_val = 0;
	}
	if (s->flags & TCPR_F_TS) {
		opt[n].opt_code = OPT_TIMESTAMP;
		opt[n++].opt_val = 0;
	}
	return n;
}

/*
 * The timestamp clock: never below what the peer has seen (PAWS would
 * drop us). Since Linux 6.7 the low bit selects microsecond timestamps
 * (tcp_usec_ts): keep it clear, the clock runs in ms.
 */
static uint32_t
repair_ts(const struct tcpr_sess *s, uint32_t ts_add)
{
	return (s->tsval + ts_add) & ~1u;
}

/* The window as it was; 0 when the record has none (leave the default). */
static int
repair_window(const struct tcpr_sess *s, struct tcp_repair_window *w)
{
	uint32_t rcv_nxt = tcpr_sess_rcv_nxt(s);

	if (!s->snd_wnd || !s->rcv_wnd)
		return 0;
	w->snd_wl1 = rcv_nxt;
	w->snd_wnd = s->snd_wnd;
	w->max_window = s->snd_wnd;
	w->rcv_wnd = s->rcv_wnd;
	w->rcv_wup = rcv_nxt;
	return 1;
}

/* The second half: bind and connect (the port's shared tables), the rest. */
int
tcpr_repair_finish(int fd, const struct tcpr_sess *s, uint32_t ts_add,
    int flags, const char **why)
{
	struct sockaddr_storage ss;
	struct tcp_repair_opt opt[4];
	struct tcp_repair_window w;
	socklen_t sl;
	const char *step;
	int n, e;

	step = "bind";
	sl = sa_put(s->family, s->laddr, s->lport, &ss);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
		goto err;
	step = "connect";
	sl = sa_put(s->family, s->paddr, s->pport, &ss);
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0)
		goto err;
	n = repair_opts(s, opt);
	step = "TCP_REPAIR_OPTIONS";
	if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_OPTIONS, opt,
	    (socklen_t)(n * sizeof opt[0])) < 0)
		goto err;
	if (s->flags & TCPR_F_TS) {
		uint32_t ts = repair_ts(s, ts_add);

		step = "TCP_TIMESTAMP";
		if (setsockopt(fd, IPPROTO_TCP, TCP_TIMESTAMP, &ts, sizeof ts) < 0)
			goto err;
	}
	step = "TCP_REPAIR_WINDOW";
	if (repair_window(s, &w) &&
	    setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, sizeof w) < 0)
		goto err;
	/* (the repair queue selector matters only in repair mode: left as is) */
	if (flags & TCPR_RESTORE_KEEP)
		return fd;
	step = "TCP_REPAIR off";
	if (seti(fd, IPPROTO_TCP, TCP_REPAIR, (flags & TCPR_RESTORE_PROBE) ?
	    TCP_REPAIR_OFF : TCP_REPAIR_OFF_NO_WP) < 0)
		goto err;
	/* Leaving repair mode dropped the port reuse: the application's
	 * listener on the service port must be able to bind beside us. */
	step = "SO_REUSEADDR";
	if (seti(fd, SOL_SOCKET, SO_REUSEADDR, 1) < 0)
		goto err;
	step = "shutdown";
	if ((s->flags & TCPR_F_FIN_OUT) && shutdown(fd, SHUT_WR) < 0)
		goto err;
	return fd;
err:
	e = errno;
	/* Still in repair mode: the close is silent, the peer sees nothing. */
	close(fd);
	errno = e;
	return fail(why, step);
}

int
tcpr_repair_restore(const struct tcpr_sess *s, uint32_t ts_add, int flags,
    const char **why)
{
	int fd = tcpr_repair_prepare(s, flags, why);

	return fd < 0 ? -1 : tcpr_repair_finish(fd, s, ts_add, flags, why);
}

/*
 * The same restore through io_uring, a batch of sessions at a time, in
 * four rounds: the sockets; repair mode, sequence numbers, MSS and bind;
 * connect, options, timestamp and window; repair mode off and
 * SO_REUSEADDR. A round queues, for every session of the batch still
 * going, its steps of that phase one after the other, and submits them
 * all with one io_uring_enter. Unlinked requests of one submission are
 * issued in the order queued, and each of these runs to its end when
 * issued (none waits for the network: the connect is silent), so a
 * session's steps keep their order without a link, which would pass
 * each next request through task work (that cost more here than the
 * system call it saves). A step that fails leaves the session's next
 * steps of the round to fail or do no harm, and the session out of the
 * later rounds. The cuts between rounds: the socket's descriptor must
 * be known; connect only when repair mode is surely on (out of it,
 * connect would send the peer a SYN); repair off only when the options,
 * timestamp and window are surely set (a session that fails is closed
 * in repair mode: silently). Every setsockopt is a uring_cmd that reads
 * its value when it runs: the values live in slots until the batch ends.
 */
enum {
	S_SOCKET, S_REPAIR, S_TRANSPARENT, S_QRECV, S_SEQRECV, S_QSEND,
	S_SEQSEND, S_MAXSEG, S_BIND, S_CONNECT, S_OPTIONS, S_TS, S_WINDOW,
	S_OFF, S_REUSE, S_N
};
static const char *const step_name[S_N] = {
	"socket", "TCP_REPAIR on", "IP_TRANSPARENT", "TCP_QUEUE_SEQ",
	"TCP_QUEUE_SEQ", "TCP_QUEUE_SEQ", "TCP_QUEUE_SEQ", "TCP_MAXSEG",
	"bind", "connect", "TCP_REPAIR_OPTIONS", "TCP_TIMESTAMP",
	"TCP_REPAIR_WINDOW", "TCP_REPAIR off", "SO_REUSEADDR",
};
/* The rounds: first and last step of each. */
#define NPHASE 4
static const int ph_first[NPHASE] = { S_SOCKET, S_REPAIR, S_CONNECT, S_OFF };
static const int ph_last[NPHASE] = { S_SOCKET, S_BIND, S_WINDOW, S_REUSE };
/* SQEs a session needs in its longest round */
#define PH_MAX 8

struct slot {
	struct sockaddr_storage la, pa;
	socklen_t ll, pl;
	struct tcp_repair_opt opt[4];
	struct tcp_repair_window w;
	uint32_t rcv_nxt, snd, ts;
	int mss, nopt, has_w, fd;
	int step;	/* the step that failed (S_N: shutdown), -1 none */
	int err;	/* its errno */
	int done;	/* the last step whose answer said done, -1 none */
	int want;	/* the last step of the round queued for it */
};

static const int v_one = 1, v_on = TCP_REPAIR_ON, v_off = TCP_REPAIR_OFF,
    v_off_nowp = TCP_REPAIR_OFF_NO_WP, v_qrecv = TCP_RECV_QUEUE,
    v_qsend = TCP_SEND_QUEUE;

static void
slot_fill(struct slot *x, const struct tcpr_sess *s, uint32_t ts_add,
    int flags)
{
	x->fd = -1;
	x->step = -1;
	x->err = 0;
	x->done = -1;
	x->rcv_nxt = tcpr_sess_rcv_nxt(s);
	x->snd = tcpr_sess_snd_una(s);
	if (!(flags & TCPR_RESTORE_UNA))
		x->snd += (uint32_t)(s->snd_nxt - s->snd_una);
	x->mss = s->mss;
	x->ll = sa_put(s->family, s->laddr, s->lport, &x->la);
	x->pl = sa_put(s->family, s->paddr, s->pport, &x->pa);
	x->nopt = repair_opts(s, x->opt);
	x->ts = repair_ts(s, ts_add);
	x->has_w = repair_window(s, &x->w);
}

/*
 * Step st of a session: what it sets (level, name, value, length) when
 * it is a setsockopt; 0 when the session skips it, 1 a setsockopt, 2
 * another call.
 */
static int
step_opt(const struct slot *x, const struct tcpr_sess *s, int st,
    int flags, int *level, int *name, const void **val, unsigned *len)
{
	*level = IPPROTO_TCP;
	*len = sizeof(int);
	switch (st) {
	case S_SOCKET:
	case S_BIND:
	case S_CONNECT:
		return 2;
	case S_REPAIR:
		*name = TCP_REPAIR;
		*val = &v_on;
		return 1;
	case S_TRANSPARENT:
		if (flags & TCPR_RESTORE_LOCAL)
			return 0;
		*level = s->family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
		*name = s->family == AF_INET ? IP_TRANSPARENT : IPV6_TRANSPARENT;
		*val = &v_one;
		return 1;
	case S_QRECV:
	case S_QSEND:
		*name = TCP_REPAIR_QUEUE;
		*val = st == S_QRECV ? &v_qrecv : &v_qsend;
		return 1;
	case S_SEQRECV:
	case S_SEQSEND:
		*name = TCP_QUEUE_SEQ;
		*val = st == S_SEQRECV ? &x->rcv_nxt : &x->snd;
		return 1;
	case S_MAXSEG:
		*name = TCP_MAXSEG;
		*val = &x->mss;
		return 1;
	case S_OPTIONS:
		*name = TCP_REPAIR_OPTIONS;
		*val = x->opt;
		*len = (unsigned)(x->nopt * sizeof x->opt[0]);
		return 1;
	case S_TS:
		if (!(s->flags & TCPR_F_TS))
			return 0;
		*name = TCP_TIMESTAMP;
		*val = &x->ts;
		return 1;
	case S_WINDOW:
		if (!x->has_w)
			return 0;
		*name = TCP_REPAIR_WINDOW;
		*val = &x->w;
		*len = sizeof x->w;
		return 1;
	case S_OFF:
		if (flags & TCPR_RESTORE_KEEP)
			return 0;
		*name = TCP_REPAIR;
		*val = (flags & TCPR_RESTORE_PROBE) ? &v_off : &v_off_nowp;
		return 1;
	case S_REUSE:
		if (flags & TCPR_RESTORE_KEEP)
			return 0;
		*level = SOL_SOCKET;
		*name = SO_REUSEADDR;
		*val = &v_one;
		return 1;
	}
	return 0;
}

/* Queue step st of session k; 1, or 0 if it has none. */
static int
step_sqe(struct tcpr_ring *r, size_t k, const struct slot *x,
    const struct tcpr_sess *s, int st, int flags)
{
	struct io_uring_sqe *q;
	const void *val = NULL;
	unsigned len;
	int level, name, how = step_opt(x, s, st, flags, &level, &name, &val,
	    &len);

	if (how == 0)
		return 0;
	q = tcpr_ring_sqe(r);	/* the caller made room */
	if (how == 1)
		tcpr_ring_prep_setsockopt(q, x->fd, level, name, val, len);
	else if (st == S_SOCKET) {
		/* close-on-exec: one whose answer got lost dies at the exec */
		q->opcode = TCPR_OP_SOCKET;
		q->fd = s->family;
		q->off = SOCK_STREAM | SOCK_CLOEXEC;
		q->len = IPPROTO_TCP;
	} else {
		q->opcode = st == S_BIND ? TCPR_OP_BIND : IORING_OP_CONNECT;
		q->fd = x->fd;
		q->addr = (uint64_t)(uintptr_t)(st == S_BIND ? &x->la : &x->pa);
		q->addr2 = st == S_BIND ? x->ll : x->pl;
	}
	q->user_data = (uint64_t)k << 8 | (uint64_t)st;
	return 1;
}

/* Is the socket bound to x's local address already? */
static int
bound(const struct slot *x)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof ss;

	memset(&ss, 0, sizeof ss);
	return getsockname(x->fd, (struct sockaddr *)&ss, &l) == 0 &&
	    l == x->ll && memcmp(&ss, &x->la, l) == 0;
}

/*
 * Step st by a system call: 1, 0 if the session has no such step, or -1
 * with errno. With redo, the ring may have done it already (its answer
 * is missing or said it failed): every setsockopt here sets the same
 * value again, and a bind or a connect that finds it done counts as
 * done.
 */
static int
step_call(struct slot *x, const struct tcpr_sess *s, int st, int flags,
    int redo)
{
	const void *val = NULL;
	unsigned len;
	int level, name, how = step_opt(x, s, st, flags, &level, &name, &val,
	    &len);

	if (how == 0)
		return 0;
	if (how == 1)
		return setsockopt(x->fd, level, name, val, len) < 0 ? -1 : 1;
	if (st == S_SOCKET) {
		x->fd = socket(s->family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
		return x->fd < 0 ? -1 : 1;
	}
	if (st == S_BIND) {
		if (bind(x->fd, (struct sockaddr *)&x->la, x->ll) == 0)
			return 1;
		return redo && errno == EINVAL && bound(x) ? 1 : -1;
	}
	if (connect(x->fd, (struct sockaddr *)&x->pa, x->pl) == 0)
		return 1;
	return redo && errno == EISCONN ? 1 : -1;
}

struct tcpr_repair_ring {
	struct tcpr_ring r;
	struct slot *x;
	size_t cap;
	size_t calls;		/* steps done by system calls */
	unsigned nsub;		/* submissions so far */
	unsigned lose;		/* tests: lose this submission's answers */
	int broken;		/* the ring failed: system calls only */
};

/* Submit what is queued, wait for its answers, take them in. */
static void
flush(struct tcpr_repair_ring *h, unsigned nq)
{
	struct io_uring_cqe *c;
	struct slot *x;
	int st;

	if (nq == 0 || h->broken)
		return;
	if (tcpr_ring_submit_wait(&h->r, nq) < 0) {
		h->broken = 1;
		return;
	}
	if (++h->nsub == h->lose) {
		/* as if the answers never came: the kernel did it all */
		h->broken = 1;
		return;
	}
	while ((c = tcpr_ring_cqe(&h->r))) {
		x = &h->x[c->user_data >> 8];
		st = (int)(c->user_data & 0xff);
		if (c->res < 0) {
			if (x->step == -1) {
				x->step = st;
				x->err = -c->res;
			}
		} else if (x->step == -1) {
			x->done = st;
			if (st == S_SOCKET)
				x->fd = c->res;
		}
		tcpr_ring_cqe_seen(&h->r);
	}
}

/*
 * One round of m sessions: phase ph through the ring; then by system
 * calls whatever the ring did not surely do: a step whose answer said
 * it failed (tried again: it fails for good if it fails again) and the
 * steps whose answers are missing (the ring broke).
 */
static void
phase(struct tcpr_repair_ring *h, const struct tcpr_sess *v, size_t m,
    int ph, int flags)
{
	int first = ph_first[ph], last = ph_last[ph], st, from, r, refused;
	unsigned nq = 0, q;
	size_t k;
	struct slot *x;

	for (k = 0; k < m; k++)
		h->x[k].want = last;
	for (k = 0; k < m && !h->broken; k++) {
		x = &h->x[k];
		if (x->step != -1 || (ph > 0 && x->fd < 0))
			continue;
		if (tcpr_ring_room(&h->r) < (unsigned)(last - first + 1)) {
			flush(h, nq);
			nq = 0;
			if (h->broken)
				break;
		}
		for (st = first, q = 0; st <= last; st++)
			if (step_sqe(&h->r, k, x, &v[k], st, flags)) {
				x->want = st;
				q++;
			}
		if (q == 0)
			x->done = last;		/* nothing to do */
		nq += q;
	}
	flush(h, nq);
	for (k = 0; k < m; k++) {
		x = &h->x[k];
		refused = 0;
		if (x->step >= first && x->step <= last) {
			from = x->step;		/* failed in the ring */
			refused = 1;
			x->step = -1;
		} else if (x->step == -1 && x->done < x->want &&
		    (ph == 0 || x->fd >= 0))
			from = x->done < first ? first : x->done + 1;
		else
			continue;
		for (st = from; st <= last; st++) {
			if ((r = step_call(x, &v[k], st, flags, 1)) < 0) {
				x->step = st;
				x->err = errno;
				break;
			}
			/*
			 * The ring cannot do what the call did (a kernel
			 * without the request, not probed, answers EINVAL or
			 * EOPNOTSUPP; a security module may refuse the ring
			 * alone): calls from now on.
			 */
			if (st == from && refused)
				h->broken = 1;
			h->calls += (size_t)r;
			x->done = st;
		}
	}
}

/*
 * Can this kernel do it all? The opcodes (setsockopt: see phase). Not
 * asked, a kernel without them answers EINVAL or EOPNOTSUPP, and phase
 * gives the ring up.
 */
static int
ring_usable(struct tcpr_ring *r)
{
	static const uint8_t ops[] = { TCPR_OP_SOCKET, TCPR_OP_URING_CMD,
	    TCPR_OP_BIND, IORING_OP_CONNECT };

	return tcpr_ring_has(r, ops, sizeof ops);
}

struct tcpr_repair_ring *
tcpr_repair_ring_new(size_t cap, int probe)
{
	struct tcpr_repair_ring *h;
	size_t ent = 8;
	int e;

	if (cap == 0 || cap > 4096) {
		errno = EINVAL;
		return NULL;
	}
	if ((h = calloc(1, sizeof *h)) == NULL)
		return NULL;
	/*
	 * Half a round of a whole batch at a time: a smaller ring is
	 * quicker to set up (12 us less than one for a whole round), and
	 * one more io_uring_enter a batch costs about a microsecond.
	 */
	while (ent < cap * PH_MAX / 2)
		ent <<= 1;
	if (tcpr_ring_open(&h->r, (unsigned)ent) < 0)
		goto err;
	if (probe && !ring_usable(&h->r)) {
		errno = EOPNOTSUPP;
		goto err;
	}
	if ((h->x = calloc(cap, sizeof *h->x)) == NULL)
		goto err;
	h->cap = cap;
	return h;
err:
	e = errno;
	tcpr_ring_close(&h->r);
	free(h);
	errno = e;
	return NULL;
}

void
tcpr_repair_ring_drop(struct tcpr_repair_ring *h)
{
	if (h == NULL)
		return;
	free(h->x);
	tcpr_ring_drop(&h->r);
	free(h);
}

size_t
tcpr_repair_ring_calls(const struct tcpr_repair_ring *h)
{
	return h->calls;
}

void
tcpr_repair_ring_lose(struct tcpr_repair_ring *h, unsigned n)
{
	h->lose = n;
}

int
tcpr_repair_ring_restore(struct tcpr_repair_ring *h,
    const struct tcpr_sess *v, size_t m, uint32_t ts_add,
    const uint64_t *age, int flags, int *fd, const char **why, int *err)
{
	struct slot *x;
	size_t k;
	int ph;

	if (m > h->cap) {
		errno = EINVAL;
		return -1;
	}
	for (k = 0; k < m; k++)
		slot_fill(&h->x[k], &v[k], ts_add + (uint32_t)(age ? age[k] : 0),
		    flags);
	for (ph = 0; ph < NPHASE; ph++)
		phase(h, v, m, ph, flags);
	for (k = 0; k < m; k++) {
		x = &h->x[k];
		/* no io_uring: its shutdown would go to a worker */
		if (x->step == -1 && (v[k].flags & TCPR_F_FIN_OUT) &&
		    !(flags & TCPR_RESTORE_KEEP) && shutdown(x->fd, SHUT_WR) < 0) {
			x->step = S_N;
			x->err = errno;
		}
		if (x->step == -1) {
			fd[k] = x->fd;
			continue;
		}
		fd[k] = -1;
		why[k] = x->step == S_N ? "shutdown" : step_name[x->step];
		err[k] = x->err;
		if (x->fd < 0)
			continue;
		/*
		 * Out of repair mode already (failed after it): back in, so
		 * that the close is silent, as for the others.
		 */
		if (x->step > S_OFF && !(flags & TCPR_RESTORE_KEEP))
			seti(x->fd, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON);
		close(x->fd);
	}
	return 0;
}
