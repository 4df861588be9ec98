/*
 * tcpr-sync's network side. send: records from standard input (tcpr-capture)
 * kept as current state per session, shipped coalesced in authenticated
 * datagrams, resent as full records until acknowledged. recv: datagrams
 * checked (MAC, anti-replay), applied to the store, made durable, then
 * acknowledged.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "be.h"
#include "err.h"
#include "proto.h"
#include "sync.h"
#include "table.h"
#include "tcpr_rec.h"

#define RING 8192		/* datagrams remembered for acks and lag */
#define ALIVE_MS 1000
#define NLAG 65536

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t
now_ms_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/*
 * On a loaded machine an ordinary process waits tens of milliseconds for
 * a CPU now and then, and every update behind it waits too.
 */
void
sync_realtime(void)
{
	struct sched_param sp = { .sched_priority = 10 };

	if (sched_setscheduler(0, SCHED_RR | SCHED_RESET_ON_FORK, &sp) == -1)
		err_warn("unable to run with real-time priority:");
	else if (mlockall(MCL_CURRENT | MCL_FUTURE) == -1)
		err_debug("unable to lock memory:");
}

static void
load_key(const struct sync_opts *o, struct auth_key *key)
{
	const char *why = "";

	if (o->keyfile == NULL)
		err_die(EXIT_BAD, "a key file (-k) is required");
	if (auth_key_load(o->keyfile, key, &why) < 0)
		err_die(errno == ENOENT || errno == EPERM || errno == EINVAL ?
		    EXIT_BAD : EXIT_TEMP, "key %s: %s", o->keyfile, why);
}

/* "host:port", "[v6]:port", or for recv "port" alone. */
static int
resolve(const char *spec, int passive, struct sockaddr_storage *ss,
    socklen_t *sl)
{
	char host[256];
	const char *port, *h = NULL;
	struct addrinfo hints, *res;
	int r;

	port = strrchr(spec, ':');
	if (port == NULL) {
		if (!passive)
			return -1;
		port = spec;
	} else {
		size_t n = (size_t)(port - spec);

		port++;
		if (n >= sizeof host)
			return -1;
		memcpy(host, spec, n);
		host[n] = '\0';
		if (host[0] == '[' && n >= 2 && host[n - 1] == ']') {
			host[n - 1] = '\0';
			h = host + 1;
		} else
			h = host;
		if (*h == '\0')
			h = NULL;
	}
	{
		char *end;
		long p = strtol(port, &end, 10);

		if (*end || end == port || p < 1 || p > 65535)
			return -1;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	if ((r = getaddrinfo(h, port, &hints, &res)) != 0)
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sl = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* ------------------------------------------------------------ sender */

struct sender {
	struct table t;
	struct auth_key key;
	int sock;
	uint64_t epoch, seq;
	struct auth_replay peer;	/* the backup's acks */
	uint32_t *dl;			/* queued sids */
	size_t dn, dcap;
	struct {
		uint64_t seq, born;	/* born: its oldest update's arrival */
		int acked;
	} ring[RING];
	unsigned char buf[SYNC_MAXDGRAM];
	size_t plen;
	size_t blk;			/* the open packed block's offset, or 0 */
	uint32_t blk_sid;		/* its last entry's session */
	uint64_t born;			/* of the datagram being filled, or 0 */
	uint64_t last_send;
	/* statistics */
	uint64_t ndgram, nrec, npacked, nbytes, nresent, nacked;
	uint32_t *lag;			/* us, ring of samples */
	size_t nlag;
	uint64_t srtt;			/* us, smoothed ack lag */
};

static void
queue(struct sender *x, struct tcpr_sess *s, int full, uint64_t now)
{
	struct tmeta *m = &x->t.m[s - x->t.s];

	if (full)
		m->need_full = 1;
	m->acked = 0;
	if (m->queued)
		return;
	if (x->dn == x->dcap) {
		x->dcap = x->dcap ? x->dcap * 2 : 1024;
		if ((x->dl = realloc(x->dl, x->dcap * sizeof *x->dl)) == NULL)
			err_die(EXIT_TEMP, "out of memory");
	}
	x->dl[x->dn++] = s->sid;
	m->queued = 1;
	m->qat = now;
}

static void
close_block(struct sender *x)
{
	if (x->blk == 0)
		return;
	be_put16(x->buf + x->blk + 2, (uint16_t)(SYNC_HDR + x->plen - x->blk));
	x->blk = 0;
}

static void
send_dgram(struct sender *x)
{
	size_t len;
	uint64_t now = now_ms_us();

	close_block(x);
	x->seq++;
	len = dgram_seal(x->buf, SYNC_DATA, x->epoch, x->seq, x->plen, &x->key);
	if (send(x->sock, x->buf, len, 0) < 0 && errno != ECONNREFUSED)
		err_debug("send:");
	x->ring[x->seq % RING].seq = x->seq;
	x->ring[x->seq % RING].born = x->born ? x->born : now;
	x->ring[x->seq % RING].acked = 0;
	x->ndgram++;
	x->nbytes += len + 28;	/* with the IPv4 and UDP headers */
	x->plen = 0;
	x->born = 0;
	x->last_send = now;
}

static void
state_of(const struct tcpr_sess *s, struct pkstate *p)
{
	uint32_t w = s->snd_wnd >> s->snd_wscale;

	p->v[0] = s->rcv;
	p->v[1] = s->snd_una;
	p->v[2] = s->snd_nxt;
	p->v[3] = s->tsval;
	p->wnd = w > 65535 ? 65535 : (uint16_t)w;
}

/* s is in the datagram being filled */
static void
carried(struct sender *x, struct tcpr_sess *s, uint64_t now)
{
	struct tmeta *m = &x->t.m[s - x->t.s];

	m->prev_seq = m->last_seq;
	m->prev = m->sent;
	m->last_seq = x->seq + 1;
	state_of(s, &m->sent);
	m->sent_at = now;
	m->acked = 0;
	if (x->born == 0 || m->qat < x->born)
		x->born = m->qat;
	x->nrec++;
}

static int
cmp_sid(const void *a, const void *b)
{
	uint32_t p = *(const uint32_t *)a, q = *(const uint32_t *)b;

	return p < q ? -1 : p > q;
}

/*
 * Ship every queued session: a full record when it needs one (new,
 * resent, or no state of it acknowledged yet), else an entry of a packed
 * block counted from the acknowledged state.
 */
static void
flush_queue(struct sender *x)
{
	uint64_t now = now_ms_us();
	size_t i;
	int pass;

	if (x->dn == 0)
		return;
	qsort(x->dl, x->dn, sizeof *x->dl, cmp_sid);
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < x->dn; i++) {
			struct tcpr_sess *s = table_find(&x->t, x->dl[i]);
			struct tmeta *m;
			int full;

			if (s == NULL)
				continue;
			m = &x->t.m[s - x->t.s];
			full = m->need_full || !m->has_base;
			if (full != (pass == 0))
				continue;
			m->queued = 0;
			if (full) {
				int r;

				close_block(x);
				if (x->plen + TCPR_REC_FULL_LEN > SYNC_MAXPAYLOAD)
					send_dgram(x);
				r = tcpr_rec_encode_full(s, x->buf + SYNC_HDR +
				    x->plen, SYNC_MAXPAYLOAD - x->plen);
				if (r < 0)
					continue;
				x->plen += (size_t)r;
			} else {
				struct packed e;
				struct pkstate cur;
				int k;

				if (x->plen + PK_ENTRY_MAX + (x->blk ? 0 :
				    TCPR_REC_HDR_LEN) > SYNC_MAXPAYLOAD)
					send_dgram(x);
				if (x->blk == 0) {
					unsigned char *h = x->buf + SYNC_HDR + x->plen;

					x->blk = SYNC_HDR + x->plen;
					h[0] = TCPR_REC_VERSION;
					h[1] = SYNC_PACKED;
					x->plen += TCPR_REC_HDR_LEN;
					x->blk_sid = 0;
				}
				state_of(s, &cur);
				memset(&e, 0, sizeof e);
				e.sid = s->sid;
				for (k = 0; k < 4; k++) {
					e.v[k] = cur.v[k];
					if (cur.v[k] != m->base.v[k])
						e.mask |= (uint8_t)(PK_RCV << k);
				}
				e.wnd = cur.wnd;
				if (cur.wnd != m->base.wnd)
					e.mask |= PK_WND;
				e.mask |= (s->flags & TCPR_F_FIN_IN ? PK_FIN_IN : 0) |
				    (s->flags & TCPR_F_FIN_OUT ? PK_FIN_OUT : 0) |
				    (s->flags & TCPR_F_END ? PK_END : 0);
				x->plen += pack_entry(x->buf + SYNC_HDR + x->plen,
				    x->blk_sid, &e, m->base.v);
				x->blk_sid = s->sid;
				x->npacked++;
			}
			carried(x, s, now);
		}
	x->dn = 0;
	if (x->plen > 0)
		send_dgram(x);
}

static void
take_record(struct sender *x, int type, const struct tcpr_sess *r,
    uint64_t now)
{
	struct tcpr_sess *s;
	const char *why;
	int isnew;

	if (type == TCPR_REC_SYNC) {
		if ((s = table_find(&x->t, r->sid)) == NULL) {
			err_warn("sync record for unknown session %u ignored", r->sid);
			return;
		}
		if (tcpr_sess_update(s, r, &why) < 0) {
			err_warn("session %u: %s; record ignored", r->sid, why);
			return;
		}
		queue(x, s, 0, now);
		return;
	}
	if ((s = table_slot(&x->t, r->sid, &isnew)) == NULL)
		err_die(EXIT_TEMP, "out of memory");
	*s = *r;
	/* another life of the session (or a resync): nothing acknowledged */
	x->t.m[s - x->t.s].has_base = 0;
	x->t.m[s - x->t.s].last_seq = x->t.m[s - x->t.s].prev_seq = 0;
	queue(x, s, 1, now);
}

/* Read what stdin has; -1 at end of input. */
static int
read_input(struct sender *x, unsigned char *in, size_t *have)
{
	for (;;) {
		ssize_t n = read(0, in + *have, 65536 - *have);
		size_t off = 0;
		uint64_t now;

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 :
			    (err_warn("read:"), -1);
		if (n == 0) {
			if (*have)
				err_die(EXIT_BAD, "input ends in a truncated record");
			return -1;
		}
		now = now_ms_us();
		*have += (size_t)n;
		while (off < *have) {
			struct tcpr_sess s;
			const char *why;
			int type, r = tcpr_rec_decode(in + off, *have - off, &type,
			    &s, &why);

			if (r < 0)
				err_die(EXIT_BAD, "bad record on input: %s", why);
			if (r == 0)
				break;
			take_record(x, type, &s, now);
			off += (size_t)r;
		}
		memmove(in, in + off, *have - off);
		*have -= off;
		if (x->dn * 12 >= 8 * SYNC_MAXPAYLOAD)
			flush_queue(x);
	}
}

static void
take_ack(struct sender *x)
{
	unsigned char b[SYNC_MAXDGRAM + 1];
	struct dgram d;
	const char *why;
	ssize_t n;
	uint64_t now = now_ms_us(), old_epoch = x->peer.epoch;
	int i;

	while ((n = recv(x->sock, b, sizeof b, MSG_DONTWAIT)) >= 0) {
		if (dgram_parse(b, (size_t)n, &x->key, &d, &why) < 0 ||
		    (d.type != SYNC_ACK && (why = "not an ack"))) {
			err_debug("dropped a datagram: %s", why);
			continue;
		}
		if (!auth_replay_check(&x->peer, d.epoch, d.seq)) {
			err_debug("dropped a replayed ack");
			continue;
		}
		if (d.ack_epoch != x->epoch)
			continue;
		for (i = 0; i < 64; i++) {
			uint64_t q = d.ack_top - (uint64_t)i;

			if (q == 0 || q > x->seq)
				continue;
			if (!(d.ack_bits & (1ULL << i)))
				continue;
			if (x->ring[q % RING].seq == q && !x->ring[q % RING].acked) {
				uint64_t l = now - x->ring[q % RING].born;

				x->ring[q % RING].acked = 1;
				x->nacked++;
				x->lag[x->nlag++ % NLAG] = (uint32_t)l;
				x->srtt = x->srtt ? (7 * x->srtt + l) / 8 : l;
			}
		}
	}
	if (old_epoch && x->peer.epoch != old_epoch) {
		size_t k;

		/*
		 * A new backup (restarted, replaced): give it everything, and
		 * count nothing from what the old one acknowledged.
		 */
		err_info("backup restarted: resending %zu sessions", x->t.n);
		for (k = 0; k < x->t.cap; k++)
			if (x->t.s[k].sid) {
				struct tmeta *m = &x->t.m[k];

				m->has_base = 0;
				m->last_seq = m->prev_seq = 0;
				queue(x, &x->t.s[k], 1, now);
			}
	}
}

static int
acked(struct sender *x, uint64_t q)
{
	return q && x->ring[q % RING].seq == q && x->ring[q % RING].acked;
}

/* Sessions acknowledged leave the resend watch; ended ones the table. */
static void
tick(struct sender *x, uint64_t rto_us)
{
	uint64_t now = now_ms_us();
	size_t k;

	/* a slow backup is not a lossy one: resending would only bury it */
	if (rto_us < 3 * x->srtt)
		rto_us = 3 * x->srtt;

	for (k = 0; k < x->t.cap; k++) {
		struct tcpr_sess *s = &x->t.s[k];
		struct tmeta *m = &x->t.m[k];
		uint64_t q = m->last_seq;

		if (s->sid == 0 || m->acked || q == 0)
			continue;
		/* the newest state the backup is known to hold */
		if (acked(x, q)) {
			m->base = m->sent;
			m->has_base = 1;
			m->prev_seq = 0;
		} else if (acked(x, m->prev_seq)) {
			m->base = m->prev;
			m->has_base = 1;
			m->prev_seq = 0;
		}
		if (m->queued)
			continue;
		if (acked(x, q)) {
			m->acked = 1;
			m->need_full = 0;
			if (s->flags & TCPR_F_END) {
				table_remove(&x->t, s);
				k--;	/* the slot may hold a moved entry now */
			}
		} else if (now - m->sent_at >= rto_us) {
			x->nresent++;
			queue(x, s, 1, now);
		}
	}
	if (x->dn == 0 && now - x->last_send >= ALIVE_MS * 1000)
		send_dgram(x);	/* alive: empty data */
}

static int
cmp32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void
report(struct sender *x)
{
	size_t n = x->nlag < NLAG ? x->nlag : NLAG;
	uint32_t *v = malloc((n ? n : 1) * sizeof *v);
	double per = x->nrec ? (double)x->nbytes / (double)x->nrec : 0;

	if (v == NULL)
		return;
	memcpy(v, x->lag, n * sizeof *v);
	qsort(v, n, sizeof *v, cmp32);
	err_info("sessions=%zu datagrams=%llu records=%llu packed=%llu "
	    "resent=%llu bytes_per_record=%.1f lag_us_p50=%u lag_us_p99=%u "
	    "lag_us_max=%u", x->t.n, (unsigned long long)x->ndgram,
	    (unsigned long long)x->nrec, (unsigned long long)x->npacked,
	    (unsigned long long)x->nresent, per, n ? v[n / 2] : 0,
	    n ? v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] : 0,
	    n ? v[n - 1] : 0);
	free(v);
}

static int
all_acked(struct sender *x)
{
	size_t k;

	for (k = 0; k < x->t.cap; k++)
		if (x->t.s[k].sid && !x->t.m[k].acked)
			return 0;
	return 1;
}

int
sync_send(const struct sync_opts *o, int check)
{
	static struct sender x;
	static unsigned char in[65536];
	struct sockaddr_storage ss;
	socklen_t sl;
	size_t have = 0, nbad;
	int eof = 0;
	uint64_t rto = (uint64_t)o->interval * 1000, eof_at = 0, last_report;

	if (resolve(o->peer, 0, &ss, &sl) < 0)
		err_die(EXIT_BAD, "bad address %s (host:port)", o->peer);
	load_key(o, &x.key);
	if (check) {
		fprintf(stderr, "tcpr-sync: configuration OK\n");
		return EXIT_OK;
	}
	if ((x.sock = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(x.sock, (struct sockaddr *)&ss, sl) < 0)
		err_die(EXIT_TEMP, "unable to reach %s:", o->peer);
	if (table_open(&x.t, NULL, &nbad) < 0 ||
	    (x.lag = calloc(NLAG, sizeof *x.lag)) == NULL)
		err_die(EXIT_TEMP, "out of memory");
	x.epoch = auth_epoch_now();
	if (o->realtime)
		sync_realtime();
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGPIPE, SIG_IGN);
	last_report = now_ms_us();
	send_dgram(&x);		/* hello: the backup learns our epoch */
	while (!stop) {
		struct pollfd p[2] = { { x.sock, POLLIN, 0 }, { 0, POLLIN, 0 } };
		int tmo = o->interval / 4 > 0 ? o->interval / 4 : 1;

		if (poll(p, eof ? 1 : 2, tmo) < 0 && errno != EINTR)
			err_die(EXIT_TEMP, "poll:");
		if (!eof && (p[1].revents & (POLLIN | POLLHUP)) &&
		    read_input(&x, in, &have) < 0) {
			eof = 1;
			eof_at = now_ms_us();
		}
		flush_queue(&x);
		if (p[0].revents & POLLIN)
			take_ack(&x);
		tick(&x, rto);
		flush_queue(&x);
		if (eof && all_acked(&x))
			break;
		if (eof && now_ms_us() - eof_at > 5000000) {
			report(&x);
			err_die(EXIT_TEMP, "input ended; backup did not "
			    "acknowledge everything within 5 s");
		}
		if (err_verbose > 0 && now_ms_us() - last_report > 10000000) {
			report(&x);
			last_report = now_ms_us();
		}
	}
	report(&x);
	auth_key_wipe(&x.key);
	return EXIT_OK;
}

/* ---------------------------------------------------------- receiver */

/*
 * Apply a packed block's entries. A session that has had no full record
 * since this program started may be older here than the state the
 * entries count from (a store that lost its last writes): its entries
 * wait for the full record the sender resends to a restarted backup.
 */
static uint64_t
take_packed(struct table *t, const unsigned char *b, size_t blen,
    uint64_t *nstale)
{
	uint32_t sid = 0;
	size_t o;
	uint64_t n = 0;

	for (o = TCPR_REC_HDR_LEN; o < blen;) {
		struct packed e;
		struct tcpr_sess u, *s;
		const char *why;
		int r = pack_next(b + o, blen - o, sid, &e, &why);

		if (r < 0)
			break;
		o += (size_t)r;
		sid = e.sid;
		n++;
		if ((s = table_find(t, e.sid)) == NULL ||
		    !t->m[s - t->s].synced) {
			++*nstale;
			continue;
		}
		pack_apply(s, &e, &u);
		if (table_apply(t, TCPR_REC_SYNC, &u, &why) < 0)
			err_debug("session %u: %s", e.sid, why);
	}
	return n;
}

int
sync_recv(const struct sync_opts *o, int check)
{
	static unsigned char b[SYNC_MAXDGRAM + 1];
	struct auth_key key;
	struct auth_replay master = { 0, 0, 0 };
	struct table t;
	struct sockaddr_storage ss, from;
	socklen_t sl, fl;
	size_t nbad;
	uint64_t my_epoch, my_seq = 0, nforged = 0, nreplay = 0, nrec = 0;
	uint64_t nstale = 0;
	int sock, one = 1;

	if (o->dir == NULL)
		err_die(EXIT_BAD, "recv needs a store folder (-s)");
	if (resolve(o->peer, 1, &ss, &sl) < 0)
		err_die(EXIT_BAD, "bad address %s ([addr:]port)", o->peer);
	load_key(o, &key);
	if (table_open(&t, o->dir, &nbad) < 0)
		err_die(errno == ENOENT || errno == ENOTDIR ? EXIT_BAD : EXIT_TEMP,
		    "unable to read store %s:", o->dir);
	if (nbad)
		err_warn("store %s: %zu damaged files ignored", o->dir, nbad);
	if (check) {
		fprintf(stderr, "tcpr-sync: configuration OK\n");
		return EXIT_OK;
	}
	if ((sock = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		err_die(EXIT_TEMP, "socket:");
	setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(sock, (struct sockaddr *)&ss, sl) < 0)
		err_die(EXIT_TEMP, "unable to bind %s:", o->peer);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	if (o->realtime)
		sync_realtime();
	my_epoch = auth_epoch_now();
	err_info("receiving on %s, %zu sessions stored", o->peer, t.n);
	while (!stop) {
		struct pollfd p = { sock, POLLIN, 0 };
		struct sockaddr_storage ackto;
		socklen_t ackl = 0;
		int got = 0, k;

		if (poll(&p, 1, 1000) < 0 && errno != EINTR)
			err_die(EXIT_TEMP, "poll:");
		/* no more than an ack's bitmap covers */
		for (k = 0; k < 48; k++) {
			struct dgram d;
			const char *why;
			size_t off;
			ssize_t n;

			fl = sizeof from;
			n = recvfrom(sock, b, sizeof b, MSG_DONTWAIT,
			    (struct sockaddr *)&from, &fl);
			if (n < 0)
				break;
			if (dgram_parse(b, (size_t)n, &key, &d, &why) < 0 ||
			    (d.type != SYNC_DATA && (why = "not data"))) {
				if (nforged++ < 10 || nforged % 1000 == 0)
					err_warn("dropped a datagram (%llu so far): %s",
					    (unsigned long long)nforged, why);
				continue;
			}
			if (d.epoch < master.epoch ||
			    !auth_replay_check(&master, d.epoch, d.seq)) {
				if (nreplay++ < 10 || nreplay % 1000 == 0)
					err_warn("dropped a replayed or old datagram");
				continue;
			}
			for (off = 0; off < d.len;) {
				const unsigned char *q = d.payload + off;
				struct tcpr_sess s;
				int type, r;

				/* all checked by dgram_parse */
				if (q[1] == SYNC_PACKED) {
					nrec += take_packed(&t, q, be_get16(q + 2),
					    &nstale);
					off += be_get16(q + 2);
					continue;
				}
				r = tcpr_rec_decode(q, d.len - off, &type, &s, &why);
				off += (size_t)r;
				if (table_apply(&t, type, &s, &why) < 0)
					err_debug("session %u: %s", s.sid, why);
				nrec++;
			}
			memcpy(&ackto, &from, fl);
			ackl = fl;
			got++;
		}
		if (!got)
			continue;
		/* durable before acknowledged */
		if (table_flush(&t) < 0) {
			err_warn("unable to write store %s:", o->dir);
			continue;
		}
		{
			unsigned char a[SYNC_MAXDGRAM];
			size_t len;

			be_put64(a + SYNC_HDR, master.epoch);
			be_put64(a + SYNC_HDR + 8, master.top);
			be_put64(a + SYNC_HDR + 16, master.seen);
			len = dgram_seal(a, SYNC_ACK, my_epoch, ++my_seq,
			    SYNC_ACKLEN, &key);
			if (sendto(sock, a, len, 0, (struct sockaddr *)&ackto,
			    ackl) < 0)
				err_debug("ack:");
		}
	}
	/* no compaction here: a takeover is waiting; the journal replays */
	if (table_flush(&t) < 0)
		err_warn("unable to write store %s:", o->dir);
	err_info("stopped: %zu sessions stored, %llu records, %llu dropped, "
	    "%llu replayed, %llu waiting for a full record", t.n,
	    (unsigned long long)nrec, (unsigned long long)nforged,
	    (unsigned long long)nreplay, (unsigned long long)nstale);
	table_close(&t);
	auth_key_wipe(&key);
	return EXIT_OK;
}
