/*
 * tcpr-sync's network side. send: records from standard input (tcpr-capture)
 * kept as current state per session, shipped coalesced in authenticated
 * datagrams, resent as full records until acknowledged. recv: datagrams
 * checked (MAC, anti-replay), applied to the store, made durable, then
 * acknowledged.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
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
		uint64_t seq, sent_at;
		int acked;
	} ring[RING];
	unsigned char buf[SYNC_MAXDGRAM];
	size_t plen;
	uint64_t last_send;
	/* statistics */
	uint64_t ndgram, nrec, nbytes, nresent, nacked;
	uint32_t *lag;			/* us, ring of samples */
	size_t nlag;
	uint64_t srtt;			/* us, smoothed ack lag */
};

static void
queue(struct sender *x, struct tcpr_sess *s, int full)
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
}

static void
send_dgram(struct sender *x)
{
	size_t len;
	uint64_t now = now_ms_us();

	x->seq++;
	len = dgram_seal(x->buf, SYNC_DATA, x->epoch, x->seq, x->plen, &x->key);
	if (send(x->sock, x->buf, len, 0) < 0 && errno != ECONNREFUSED)
		err_debug("send:");
	x->ring[x->seq % RING].seq = x->seq;
	x->ring[x->seq % RING].sent_at = now;
	x->ring[x->seq % RING].acked = 0;
	x->ndgram++;
	x->nbytes += len + 28;	/* with the IPv4 and UDP headers */
	x->plen = 0;
	x->last_send = now;
}

/* Ship every queued session: a full record when it needs one, else sync. */
static void
flush_queue(struct sender *x)
{
	size_t i;

	for (i = 0; i < x->dn; i++) {
		struct tcpr_sess *s = table_find(&x->t, x->dl[i]);
		struct tmeta *m;
		int r;

		if (s == NULL)
			continue;
		m = &x->t.m[s - x->t.s];
		m->queued = 0;
		if (x->plen + TCPR_REC_FULL_LEN > SYNC_MAXPAYLOAD)
			send_dgram(x);
		r = m->need_full ?
		    tcpr_rec_encode_full(s, x->buf + SYNC_HDR + x->plen,
		    SYNC_MAXPAYLOAD - x->plen) :
		    tcpr_rec_encode_sync(s, x->buf + SYNC_HDR + x->plen,
		    SYNC_MAXPAYLOAD - x->plen);
		if (r < 0)
			continue;
		x->plen += (size_t)r;
		x->nrec++;
		/* the datagram about to carry it */
		m->last_seq = x->seq + 1;
		m->sent_at = now_ms_us();
		m->acked = 0;
	}
	x->dn = 0;
	if (x->plen > 0)
		send_dgram(x);
}

static void
take_record(struct sender *x, int type, const struct tcpr_sess *r)
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
		queue(x, s, 0);
		return;
	}
	if ((s = table_slot(&x->t, r->sid, &isnew)) == NULL)
		err_die(EXIT_TEMP, "out of memory");
	*s = *r;
	queue(x, s, 1);
}

/* Read what stdin has; -1 at end of input. */
static int
read_input(struct sender *x, unsigned char *in, size_t *have)
{
	for (;;) {
		ssize_t n = read(0, in + *have, 65536 - *have);
		size_t off = 0;

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 :
			    (err_warn("read:"), -1);
		if (n == 0) {
			if (*have)
				err_die(EXIT_BAD, "input ends in a truncated record");
			return -1;
		}
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
			take_record(x, type, &s);
			off += (size_t)r;
		}
		memmove(in, in + off, *have - off);
		*have -= off;
		if (x->dn * TCPR_REC_SYNC_LEN >= 8 * SYNC_MAXPAYLOAD)
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
				x->ring[q % RING].acked = 1;
				x->nacked++;
				uint64_t l = now - x->ring[q % RING].sent_at;

				x->lag[x->nlag++ % NLAG] = (uint32_t)l;
				x->srtt = x->srtt ? (7 * x->srtt + l) / 8 : l;
			}
		}
	}
	if (old_epoch && x->peer.epoch != old_epoch) {
		size_t k;

		/* a new backup (restarted, replaced): give it everything */
		err_info("backup restarted: resending %zu sessions", x->t.n);
		for (k = 0; k < x->t.cap; k++)
			if (x->t.s[k].sid)
				queue(x, &x->t.s[k], 1);
	}
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

		if (s->sid == 0 || m->acked || m->queued || q == 0)
			continue;
		if (x->ring[q % RING].seq == q && x->ring[q % RING].acked) {
			m->acked = 1;
			m->need_full = 0;
			if (s->flags & TCPR_F_END) {
				table_remove(&x->t, s);
				k--;	/* the slot may hold a moved entry now */
			}
		} else if (now - m->sent_at >= rto_us) {
			x->nresent++;
			queue(x, s, 1);
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
	err_info("sessions=%zu datagrams=%llu records=%llu resent=%llu "
	    "bytes_per_record=%.1f lag_us_p50=%u lag_us_p99=%u lag_us_max=%u",
	    x->t.n, (unsigned long long)x->ndgram, (unsigned long long)x->nrec,
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
	my_epoch = auth_epoch_now();
	err_info("receiving on %s, %zu sessions stored", o->peer, t.n);
	while (!stop) {
		struct pollfd p = { sock, POLLIN, 0 };
		struct sockaddr_storage ackto;
		socklen_t ackl = 0;
		int got = 0, k;

		if (poll(&p, 1, 1000) < 0 && errno != EINTR)
			err_die(EXIT_TEMP, "poll:");
		for (k = 0; k < 256; k++) {
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
				struct tcpr_sess s;
				int type, r = tcpr_rec_decode(d.payload + off,
				    d.len - off, &type, &s, &why);

				off += (size_t)r;	/* checked by dgram_parse */
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
	    "%llu replayed", t.n, (unsigned long long)nrec,
	    (unsigned long long)nforged, (unsigned long long)nreplay);
	table_close(&t);
	auth_key_wipe(&key);
	return EXIT_OK;
}
