/*
 * tcpr-capture's live mode: the service's TCP packets through netfilter
 * queue (headers only, GSO, fail-open), sessions tracked from them and,
 * in the cheap mode, from the kernel's own counters (sock_diag TCP_INFO),
 * recovery records on standard output.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/inet_diag.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "capture.h"
#include "err.h"
#include "gate.h"
#include "tcpr_rec.h"
#include "tcpr_repair.h"
#include "tcpr_shm.h"

/* tcp_states.h */
enum {
	ST_ESTABLISHED = 1, ST_SYN_SENT, ST_SYN_RECV, ST_FIN_WAIT1,
	ST_FIN_WAIT2, ST_TIME_WAIT, ST_CLOSE, ST_CLOSE_WAIT, ST_LAST_ACK,
	ST_LISTEN, ST_CLOSING
};

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

struct sess {
	struct tcpr_sess s;
	int used, announced;	/* full record written */
	int peer_ws, our_ws;	/* -1: option absent */
	int peer_sack, our_sack, peer_ts, our_ts;
	uint32_t ts_base;	/* our tsval in the SYN-ACK (or latest) */
	uint64_t ts_at;		/* when, ms */
	uint32_t last_seq_out, last_ack_out, last_ack_in;
	/*
	 * Exact mode: the input offset our segments acknowledged, and the
	 * one the application consumed (-C). The record's rcv is the
	 * larger: a restore resumes where the application stopped even
	 * when the acknowledgement of a segment it consumed only part of
	 * is still held, and the peer's resend is trimmed to it.
	 */
	uint64_t acked, consumed;
	uint32_t peer_fin_seq;
	int peer_fin, missing;
	uint64_t cookie;	/* the socket's, once known: 0 not yet */
	uint64_t emitted_at;	/* ms of the last record */
	struct tcpr_sess sent;	/* last state written */
	uint64_t born;		/* ms, handshake done */
	size_t nheld;		/* outgoing segments held back (exact, -C) */
	uint64_t blocked;	/* release pass that found one still held */
	uint32_t gate;		/* its index in the gate + 1; 0: none */
	uint32_t ggen;		/* gate_gen() of that index */
	uint64_t gq_prev;	/* the gate's count of queued, last refresh */
};

static struct sess *tab;
static size_t tcap = 4096, tn;
static volatile sig_atomic_t stop;
static uint64_t nrec, npkt, nunknown;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------ session table */

static size_t
slot_of(const struct tcpr_sess *k)
{
	uint32_t h = tcpr_sess_hash(k);
	size_t i = h & (tcap - 1);

	while (tab[i].used && !(tab[i].s.family == k->family &&
	    tab[i].s.lport == k->lport && tab[i].s.pport == k->pport &&
	    !memcmp(tab[i].s.laddr, k->laddr, 16) &&
	    !memcmp(tab[i].s.paddr, k->paddr, 16)))
		i = (i + 1) & (tcap - 1);
	return i;
}

static struct sess *
find(const struct tcpr_sess *k, int create)
{
	size_t i;

	if ((tn + 1) * 2 > tcap) {
		struct sess *o = tab;
		size_t oc = tcap, j;

		tcap *= 2;
		if ((tab = calloc(tcap, sizeof *tab)) == NULL)
			err_die(EXIT_TEMP, "out of memory");
		for (j = 0; j < oc; j++)
			if (o[j].used)
				tab[slot_of(&o[j].s)] = o[j];
		free(o);
	}
	i = slot_of(k);
	if (tab[i].used)
		return &tab[i];
	if (!create)
		return NULL;
	memset(&tab[i], 0, sizeof tab[i]);
	tab[i].used = 1;
	tab[i].s.family = k->family;
	tab[i].s.lport = k->lport;
	tab[i].s.pport = k->pport;
	memcpy(tab[i].s.laddr, k->laddr, 16);
	memcpy(tab[i].s.paddr, k->paddr, 16);
	tab[i].s.sid = tcpr_sess_hash(k);
	tab[i].peer_ws = tab[i].our_ws = -1;
	tn++;
	return &tab[i];
}

static void gate_leave(struct sess *x);

static void
drop(struct sess *x)
{
	size_t i = (size_t)(x - tab), j = i;

	gate_leave(x);
	memset(x, 0, sizeof *x);
	tn--;
	for (;;) {
		struct sess e;

		j = (j + 1) & (tcap - 1);
		if (!tab[j].used)
			break;
		e = tab[j];
		tab[j].used = 0;
		tab[slot_of(&e.s)] = e;
	}
}

struct pkt {
	struct tcpr_sess k;	/* four-tuple, local = service side */
	int from_peer;
	uint32_t seq, ack;
	uint16_t win;
	uint8_t flags;
	size_t len;		/* payload */
	int mss, ws, sack, ts;	/* options (-1 / 0: absent) */
	uint32_t tsval;
};

/* -------------------------------------------------------------- gate */

/*
 * Exact mode with -C: the consumed table, and the in-kernel gate (gate.c,
 * bpf/gate.c) that lets pass without us every outgoing segment that needs
 * no holding. A followed session has an entry in the gate from its
 * handshake on (from the SYN-ACK's verdict: nothing of it passes unseen
 * before); its segments with data, FIN or RST that the program sends to
 * the queue it counts, and those we have given a verdict we count (owe,
 * then pay after the verdicts are sent): while the counts differ, none
 * passes in the kernel. Bare acknowledgements may overtake each other:
 * one that waited is dropped if a newer passed meanwhile (redundant()).
 */
static struct tcpr_shm_slot *shm;	/* the table's slots */
static uint32_t shm_n;
static int gate_on;
static uint64_t ngate_full, ngate_resync;

struct debt {
	uint32_t i, gen;
};
static struct debt *debts;
static size_t ndebt, debtcap;

static void
gate_join(struct sess *x)
{
	long i;

	if (!gate_on || x->gate)
		return;
	if ((i = gate_add(&x->s, x->s.rcv_isn + 1)) < 0) {
		if (ngate_full++ == 0)
			err_warn("gate full: further sessions pass unheld");
		return;
	}
	x->gate = (uint32_t)i + 1;
	x->ggen = gate_gen((uint32_t)i);
	x->gq_prev = 0;
}

static void
gate_leave(struct sess *x)
{
	if (x->gate)
		gate_del(x->gate - 1, &x->s);
	x->gate = 0;
}

static struct gate_ctl *
gctl(const struct sess *x)
{
	return x->gate ? gate_ctl(x->gate - 1) : NULL;
}

/* with data, FIN or RST: the program counts it (gate.h) */
static int
ordered(const struct pkt *p)
{
	return p->len > 0 || (p->flags & (TH_FIN | TH_RST));
}

/* segment p of x came through the queue and has its verdict (once sent) */
static void
owe(uint32_t gate, uint32_t gen, const struct pkt *p)
{
	if (gate == 0 || !ordered(p))
		return;
	if (ndebt == debtcap) {
		debtcap = debtcap ? debtcap * 2 : 256;
		if ((debts = realloc(debts, debtcap * sizeof *debts)) == NULL)
			err_die(EXIT_TEMP, "out of memory");
	}
	debts[ndebt].i = gate - 1;
	debts[ndebt].gen = gen;
	ndebt++;
}

/* after the verdicts went out: those segments are on their way */
static void
pay(void)
{
	size_t k;

	for (k = 0; k < ndebt; k++)
		if (gate_gen(debts[k].i) == debts[k].gen)
			__atomic_add_fetch(&gate_ctl(debts[k].i)->done, 1,
			    __ATOMIC_SEQ_CST);
	ndebt = 0;
}

/* the session's table slot is e (or none: NULL) */
static void
gate_slot(struct sess *x, const struct tcpr_shm_slot *e, int pass)
{
	struct gate_ctl *c = gctl(x);
	uint32_t st = e ? GATE_CHECK : pass ? GATE_PASS : GATE_QUEUE;

	if (c == NULL)
		return;
	if (e && c->slot != (uint32_t)(e - shm))
		__atomic_store_n(&c->slot, (uint32_t)(e - shm), __ATOMIC_SEQ_CST);
	if (c->state != st)
		__atomic_store_n(&c->state, st, __ATOMIC_SEQ_CST);
}

/* ------------------------------------------------------------ output */

static void
emit(struct sess *x, int full)
{
	unsigned char rec[TCPR_REC_MAXLEN];
	int n;

	if (x->s.flags & TCPR_F_TS)
		x->s.tsval = x->ts_base + (uint32_t)(now_ms() - x->ts_at);
	if (x->s.tsval == 0 && (x->s.flags & TCPR_F_TS))
		x->s.tsval = 1;
	n = full ? tcpr_rec_encode_full(&x->s, rec, sizeof rec) :
	    tcpr_rec_encode_sync(&x->s, rec, sizeof rec);
	if (n < 0) {
		const char *why = "";

		tcpr_sess_check(&x->s, &why);
		err_warn("session %u: not recorded: %s", x->s.sid, why);
		return;
	}
	if (fwrite(rec, (size_t)n, 1, stdout) != 1)
		err_die(EXIT_TEMP, "unable to write records:");
	x->sent = x->s;
	x->announced = 1;
	x->emitted_at = now_ms();
	nrec++;
}

/* A sync record when the offsets or flags moved since the last one. */
static void
emit_if_moved(struct sess *x)
{
	if (x->s.rcv != x->sent.rcv || x->s.snd_una != x->sent.snd_una ||
	    x->s.snd_nxt != x->sent.snd_nxt || x->s.flags != x->sent.flags)
		emit(x, 0);
}

static void
end(struct sess *x)
{
	if (x->announced) {
		x->s.flags |= TCPR_F_END;
		emit(x, 1);
	}
	drop(x);
}

/* --------------------------------------------------------- packets */

static void
parse_opts(const unsigned char *o, size_t n, struct pkt *p)
{
	size_t i = 0;

	p->mss = -1;
	p->ws = -1;
	while (i < n) {
		unsigned k = o[i], l;

		if (k == 0)
			break;
		if (k == 1) {
			i++;
			continue;
		}
		if (i + 1 >= n || (l = o[i + 1]) < 2 || i + l > n)
			break;
		if (k == 2 && l == 4)
			p->mss = o[i + 2] << 8 | o[i + 3];
		else if (k == 3 && l == 3)
			p->ws = o[i + 2] > 14 ? 14 : o[i + 2];
		else if (k == 4 && l == 2)
			p->sack = 1;
		else if (k == 8 && l == 10) {
			p->ts = 1;
			p->tsval = (uint32_t)o[i + 2] << 24 |
			    (uint32_t)o[i + 3] << 16 | (uint32_t)o[i + 4] << 8 |
			    o[i + 5];
		}
		i += l;
	}
}

/* 0 if buf (caplen bytes, the packet was plen long) is TCP for port. */
static int
parse_pkt(const unsigned char *b, size_t caplen, size_t plen, uint16_t port,
    struct pkt *p)
{
	const unsigned char *t, *src, *dst;
	size_t ihl, thl, alen;
	uint16_t sport, dport;

	memset(p, 0, sizeof *p);
	if (caplen < 20)
		return -1;
	if ((b[0] >> 4) == 4) {
		ihl = (size_t)(b[0] & 15) * 4;
		if (ihl < 20 || b[9] != IPPROTO_TCP || caplen < ihl + 20)
			return -1;
		p->k.family = AF_INET;
		src = b + 12;
		dst = b + 16;
		alen = 4;
	} else if ((b[0] >> 4) == 6) {
		ihl = 40;
		if (caplen < 60 || b[6] != IPPROTO_TCP)
			return -1;	/* extension headers: not ours */
		p->k.family = AF_INET6;
		src = b + 8;
		dst = b + 24;
		alen = 16;
	} else
		return -1;
	t = b + ihl;
	sport = (uint16_t)(t[0] << 8 | t[1]);
	dport = (uint16_t)(t[2] << 8 | t[3]);
	thl = (size_t)(t[12] >> 4) * 4;
	if (thl < 20 || caplen < ihl + thl)
		return -1;
	p->seq = (uint32_t)t[4] << 24 | (uint32_t)t[5] << 16 |
	    (uint32_t)t[6] << 8 | t[7];
	p->ack = (uint32_t)t[8] << 24 | (uint32_t)t[9] << 16 |
	    (uint32_t)t[10] << 8 | t[11];
	p->flags = t[13];
	p->win = (uint16_t)(t[14] << 8 | t[15]);
	p->len = plen > ihl + thl ? plen - ihl - thl : 0;
	parse_opts(t + 20, thl - 20, p);
	if (dport == port) {
		p->from_peer = 1;
		memcpy(p->k.paddr, src, alen);
		memcpy(p->k.laddr, dst, alen);
		p->k.pport = sport;
		p->k.lport = dport;
	} else if (sport == port) {
		memcpy(p->k.laddr, src, alen);
		memcpy(p->k.paddr, dst, alen);
		p->k.lport = sport;
		p->k.pport = dport;
	} else
		return -1;
	return 0;
}

/* a 64-bit offset moved by a 32-bit sequence difference */
static uint64_t
advance(uint64_t off, uint32_t from, uint32_t to)
{
	int32_t d = (int32_t)(to - from);

	return d > 0 ? off + (uint32_t)d : off;
}

static void
handshake_done(struct sess *x)
{
	struct tcpr_sess *s = &x->s;

	s->flags = 0;
	if (x->peer_ws >= 0 && x->our_ws >= 0) {
		s->flags |= TCPR_F_WSCALE;
		s->snd_wscale = (uint8_t)x->peer_ws;
		s->rcv_wscale = (uint8_t)x->our_ws;
	}
	if (x->peer_sack && x->our_sack)
		s->flags |= TCPR_F_SACK;
	if (x->peer_ts && x->our_ts)
		s->flags |= TCPR_F_TS;
	if (s->mss < 64)
		s->mss = 536;
	x->ts_at = x->born = now_ms();
	x->last_seq_out = s->snd_isn + 1;
	x->last_ack_out = s->rcv_isn + 1;
	x->last_ack_in = s->snd_isn + 1;
	gate_join(x);
	emit(x, 1);
}

static void
track(const struct capture_opts *o, const struct pkt *p)
{
	struct sess *x;

	npkt++;
	if (p->flags & TH_RST) {
		if ((x = find(&p->k, 0)) != NULL)
			end(x);
		return;
	}
	if ((p->flags & (TH_SYN | TH_ACK)) == TH_SYN && p->from_peer) {
		if ((x = find(&p->k, 1)) == NULL)
			return;
		if (x->announced)	/* a new incarnation of the tuple */
			end(x), x = find(&p->k, 1);
		x->s.rcv_isn = p->seq;
		x->s.mss = (uint16_t)(p->mss > 0 ? p->mss : 536);
		x->peer_ws = p->ws;
		x->peer_sack = p->sack;
		x->peer_ts = p->ts;
		x->s.snd_wnd = p->win;	/* never scaled in a SYN */
		return;
	}
	if ((p->flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK) && !p->from_peer) {
		if ((x = find(&p->k, 1)) == NULL || x->announced)
			return;	/* a retransmitted SYN-ACK */
		if (x->s.mss == 0) {
			/* the peer's SYN was not seen: what the SYN-ACK says */
			x->s.rcv_isn = p->ack - 1;
			x->s.mss = 536;
		}
		x->s.snd_isn = p->seq;
		x->our_ws = p->ws;
		x->our_sack = p->sack;
		x->our_ts = p->ts;
		x->ts_base = p->tsval;
		x->s.rcv_wnd = p->win;
		handshake_done(x);
		if (x->s.flags & TCPR_F_TS)
			x->ts_base = p->tsval;
		return;
	}
	if ((x = find(&p->k, 0)) == NULL || !x->announced) {
		nunknown++;
		return;
	}
	if (!o->exact) {
		/*
		 * FINs in the cheap mode: the counters follow in the poll;
		 * the peer's is seen here before its kernel counts it.
		 */
		if (p->from_peer && (p->flags & TH_FIN) && !x->peer_fin) {
			x->peer_fin = 1;
			x->peer_fin_seq = p->seq + (uint32_t)p->len;
		}
		return;
	}
	/* exact mode: every segment moves the offsets */
	if (p->from_peer) {
		if (p->flags & TH_ACK) {
			x->s.snd_una = advance(x->s.snd_una, x->last_ack_in, p->ack);
			if (x->s.snd_una > x->s.snd_nxt)
				x->s.snd_una = x->s.snd_nxt;
			if ((int32_t)(p->ack - x->last_ack_in) > 0)
				x->last_ack_in = p->ack;
		}
		x->s.snd_wnd = (uint32_t)p->win << x->s.snd_wscale;
		if (p->flags & TH_FIN) {
			struct gate_ctl *c = gctl(x);

			x->peer_fin = 1;
			x->peer_fin_seq = p->seq + (uint32_t)p->len;
			if (c) {
				/* before its verdict: before we can ack it */
				c->fin = x->peer_fin_seq;
				__atomic_or_fetch(&c->flags, GATE_F_FIN,
				    __ATOMIC_SEQ_CST);
			}
		}
	} else {
		uint32_t end_seq = p->seq + (uint32_t)p->len;

		x->s.snd_nxt = advance(x->s.snd_nxt, x->last_seq_out, end_seq);
		if ((int32_t)(end_seq - x->last_seq_out) > 0)
			x->last_seq_out = end_seq;
		if (p->flags & TH_ACK) {
			uint32_t a = p->ack;

			if (x->peer_fin && (int32_t)(a - x->peer_fin_seq) > 0) {
				x->s.flags |= TCPR_F_FIN_IN;
				a = x->peer_fin_seq;
			}
			x->acked = advance(x->acked, x->last_ack_out, a);
			if ((int32_t)(a - x->last_ack_out) > 0)
				x->last_ack_out = a;
			x->s.rcv = x->acked > x->consumed ? x->acked :
			    x->consumed;
		}
		if (p->flags & TH_FIN)
			x->s.flags |= TCPR_F_FIN_OUT;
		x->s.rcv_wnd = (uint32_t)p->win << x->s.rcv_wscale;
		if (p->ts) {
			x->ts_base = p->tsval;
			x->ts_at = now_ms();
		}
	}
	if ((x->s.flags & (TCPR_F_FIN_IN | TCPR_F_FIN_OUT)) ==
	    (TCPR_F_FIN_IN | TCPR_F_FIN_OUT)) {
		end(x);		/* closed both ways: nothing left to restore */
		return;
	}
	/*
	 * A session the gate checks: most of its segments pass unseen and
	 * its offsets are recorded every poll (gate_derive()); those seen
	 * wait for it too, so that a bulk stream's acknowledgements, queued
	 * all, do not cost a record each.
	 */
	if (x->gate && gctl(x)->state == GATE_CHECK &&
	    x->s.flags == x->sent.flags)
		return;
	emit_if_moved(x);
}

/* ----------------------------------------------------- sock_diag poll */

/*
 * The application consumed input up to c: where a restore resumes, even
 * while the segment that acknowledges it waits (it may acknowledge more).
 * A segment let go is recorded by track(); one held now (now != 0).
 */
static void
note_consumed(struct sess *x, uint64_t c, int now)
{
	if (c <= x->consumed)
		return;
	x->consumed = c;
	if (c > x->s.rcv) {
		x->s.rcv = c;
		if (now)
			emit(x, 0);
	}
}

/*
 * Exact mode, a session in the gate: most of its segments pass in the
 * kernel unseen, so its offsets come from the kernel's counters as in the
 * cheap mode (rcv, una, total, fl: diag_cb's). Input: what the
 * application consumed where it has a table slot (the program holds
 * every acknowledgement to that; the peer's FIN counts once all before
 * it is consumed), else what was received (nothing is held).
 */
static void
gate_derive(struct sess *x, uint64_t rcv, uint64_t una, uint64_t total,
    uint8_t fl, uint32_t wnd)
{
	struct gate_ctl *c = gctl(x);
	const struct tcpr_shm_slot *e = NULL;

	if (c->state == GATE_CHECK) {
		e = &shm[c->slot];
		if (__atomic_load_n(&e->state, __ATOMIC_ACQUIRE) != TCPR_SHM_LIVE ||
		    !tcpr_shm_match(e, x->s.family, x->s.lport, x->s.pport,
		    x->s.laddr, x->s.paddr))
			e = NULL;
	}
	if (e) {
		uint64_t cons = __atomic_load_n(&e->consumed, __ATOMIC_ACQUIRE);

		note_consumed(x, cons < rcv ? cons : rcv, 0);
		if (x->consumed < rcv)
			fl &= (uint8_t)~TCPR_F_FIN_IN;
	} else if (rcv > x->acked) {
		x->acked = rcv;
		if (rcv > x->s.rcv)
			x->s.rcv = rcv;
		x->last_ack_out = x->s.rcv_isn + 1 + (uint32_t)x->acked;
	}
	fl |= x->s.flags & (TCPR_F_FIN_IN | TCPR_F_FIN_OUT);	/* seen */
	if (una > x->s.snd_una)
		x->s.snd_una = una;
	if (total > x->s.snd_nxt)
		x->s.snd_nxt = total;
	if (x->s.snd_una > x->s.snd_nxt)
		x->s.snd_una = x->s.snd_nxt;
	x->s.flags = fl;
	x->s.snd_wnd = wnd;
	/* segments seen later move the offsets from here on */
	x->last_seq_out = x->s.snd_isn + 1 + (uint32_t)x->s.snd_nxt;
	x->last_ack_in = x->s.snd_isn + 1 + (uint32_t)x->s.snd_una;
	emit_if_moved(x);
}

static const struct capture_opts *popts;
static uint64_t poll_gen;

static int
diag_cb(const struct nlmsghdr *nlh, void *data)
{
	struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	struct tcp_info *ti = NULL;
	struct nlattr *a;
	struct tcpr_sess k;
	struct sess *x;
	uint64_t total, rcv, una, cookie;
	size_t tilen = 0;
	uint8_t fl;

	(void)data;
	if (ntohs(m->id.idiag_sport) != popts->port)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof *m)
		if (mnl_attr_get_type(a) == INET_DIAG_INFO) {
			ti = mnl_attr_get_payload(a);
			tilen = mnl_attr_get_payload_len(a);
		}
	memset(&k, 0, sizeof k);
	k.family = m->idiag_family;
	memcpy(k.laddr, m->id.idiag_src, m->idiag_family == AF_INET ? 4 : 16);
	memcpy(k.paddr, m->id.idiag_dst, m->idiag_family == AF_INET ? 4 : 16);
	k.lport = ntohs(m->id.idiag_sport);
	k.pport = ntohs(m->id.idiag_dport);
	if ((x = find(&k, 0)) == NULL || !x->announced) {
		if (x == NULL && m->idiag_state == ST_ESTABLISHED)
			nunknown++;
		return MNL_CB_OK;
	}
	/*
	 * Announced at its SYN-ACK, a session has only a request socket
	 * (no counters, a cookie of its own) until the peer's ACK comes:
	 * it is there all the same, however late that ACK (lost, or a
	 * busy host's), and must not be swept as ended.
	 */
	if (m->idiag_state == ST_SYN_RECV) {
		if (x->cookie == 0)
			x->missing = 0;
		return MNL_CB_OK;
	}
	if (ti == NULL || tilen < offsetof(struct tcp_info, tcpi_bytes_received) +
	    sizeof ti->tcpi_bytes_received)
		return MNL_CB_OK;
	/*
	 * One tuple, two sockets: a dying one of an earlier life (an old
	 * master's orphan, a restore's leftover) beside the live one. The
	 * session follows the socket it first met, by its cookie.
	 */
	cookie = (uint64_t)m->id.idiag_cookie[0] |
	    (uint64_t)m->id.idiag_cookie[1] << 32;
	if (x->cookie == 0) {
		if (m->idiag_state == ST_TIME_WAIT || m->idiag_state == ST_CLOSE)
			return MNL_CB_OK;	/* the tuple's previous life */
		x->cookie = cookie;
	} else if (x->cookie != cookie)
		return MNL_CB_OK;
	x->missing = 0;
	if (m->idiag_state == ST_TIME_WAIT || m->idiag_state == ST_CLOSE) {
		end(x);
		return MNL_CB_OK;
	}
	fl = x->s.flags & ~(TCPR_F_FIN_IN | TCPR_F_FIN_OUT);
	if (m->idiag_state == ST_CLOSE_WAIT || m->idiag_state == ST_LAST_ACK ||
	    m->idiag_state == ST_CLOSING)
		fl |= TCPR_F_FIN_IN;
	if (m->idiag_state == ST_FIN_WAIT1 || m->idiag_state == ST_FIN_WAIT2 ||
	    m->idiag_state == ST_LAST_ACK || m->idiag_state == ST_CLOSING)
		fl |= TCPR_F_FIN_OUT;
	/*
	 * Counters include the FINs; wqueue is write_seq - snd_una. The
	 * kernel reads the state and wqueue first, without the socket's
	 * lock, then the counters under it: what came in between is in the
	 * counters alone. An acknowledgement then counts twice (in wqueue
	 * still, and in bytes_acked), and a FIN counts as a byte its state
	 * does not show: a record one segment or a byte too far, and, as
	 * the readings that follow are lower and refused as stale, for
	 * good (a restore leaves a hole the peer waits on for ever). So
	 * the output is never more than what the locked counters say was
	 * written: the data sent once (no FIN in it), and what is not sent
	 * yet (a FIN too while it waits); the input never goes past a FIN
	 * of the peer's that came through the queue.
	 */
	total = ti->tcpi_bytes_acked + m->idiag_wqueue;
	if ((fl & TCPR_F_FIN_OUT) && total > 0)
		total--;
	if (tilen >= offsetof(struct tcp_info, tcpi_bytes_retrans) +
	    sizeof ti->tcpi_bytes_retrans) {
		uint64_t w = ti->tcpi_bytes_sent - ti->tcpi_bytes_retrans +
		    ti->tcpi_notsent_bytes;

		if (w < total)
			total = w;
	}
	una = ti->tcpi_bytes_acked < total ? ti->tcpi_bytes_acked : total;
	rcv = ti->tcpi_bytes_received - ((fl & TCPR_F_FIN_IN) ? 1 : 0);
	if (x->peer_fin && !(fl & TCPR_F_FIN_IN)) {
		int32_t d = (int32_t)(x->peer_fin_seq -
		    (x->s.rcv_isn + 1 + (uint32_t)x->s.rcv));

		if (d >= 0 && rcv > x->s.rcv + (uint32_t)d)
			rcv = x->s.rcv + (uint32_t)d;
	}
	if (popts->exact && x->gate && gctl(x)->state != GATE_QUEUE) {
		gate_derive(x, rcv, una, total, fl, ti->tcpi_snd_wnd);
		return MNL_CB_OK;
	}
	if (popts->exact) {
		/*
		 * The exact mode takes offsets and flags from the segments
		 * it queues: every outgoing one, but of the peer's only SYN,
		 * FIN and RST. What the peer acknowledged comes from here; a
		 * value that lags only makes a restore offer the peer some
		 * bytes it has, which it drops.
		 */
		una = ti->tcpi_bytes_acked;
		if (una > x->s.snd_nxt)
			una = x->s.snd_nxt;
		if (una > x->s.snd_una) {
			x->s.snd_una = una;
			x->s.snd_wnd = ti->tcpi_snd_wnd;
			emit(x, 0);
		}
		return MNL_CB_OK;
	}
	if (rcv < x->s.rcv || una < x->s.snd_una || total < x->s.snd_nxt)
		return MNL_CB_OK;	/* a stale reading */
	x->s.rcv = rcv;
	x->s.snd_una = una;
	x->s.snd_nxt = total;
	x->s.flags = fl;
	x->s.snd_wnd = ti->tcpi_snd_wnd;
	emit_if_moved(x);
	return MNL_CB_OK;
}

/*
 * The kernel's counters of each of our sessions, asked for by its
 * four-tuple, many requests to a send: a dump walks the whole established
 * hash table, which is global (every namespace's sockets, 262144 buckets
 * and more), a millisecond and more each time however few sockets are
 * ours; every 10 ms that ate the CPU the queue's verdicts need. A session
 * without a socket any more is not answered (sweep() ends it). 0, or -1
 * when some tuple's socket was another than the session's (cookie): then
 * a dump looks for it.
 */
#define DIAG_EACH_MAX 1024	/* sessions up to which each is asked for */
#define DIAG_BATCH 64

static int
diag_each(struct mnl_socket *nl)
{
	static char req[DIAG_BATCH * NLMSG_SPACE(sizeof(struct inet_diag_req_v2))];
	static char buf[1 << 17];
	size_t i = 0, off = 0, nreq = 0;
	int fd = mnl_socket_get_fd(nl), missed = 0;

	for (;;) {
		struct sess *x = NULL;

		while (i < tcap && x == NULL) {
			if (tab[i].used && tab[i].announced)
				x = &tab[i];
			i++;
		}
		if (x != NULL) {
			struct nlmsghdr *nlh = mnl_nlmsg_put_header(req + off);
			struct inet_diag_req_v2 *r;

			nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
			nlh->nlmsg_flags = NLM_F_REQUEST;
			nlh->nlmsg_seq = (uint32_t)++poll_gen;
			r = mnl_nlmsg_put_extra_header(nlh, sizeof *r);
			r->sdiag_family = x->s.family;
			r->sdiag_protocol = IPPROTO_TCP;
			r->idiag_ext = 1 << (INET_DIAG_INFO - 1);
			r->id.idiag_sport = htons(x->s.lport);
			r->id.idiag_dport = htons(x->s.pport);
			memcpy(r->id.idiag_src, x->s.laddr, 16);
			memcpy(r->id.idiag_dst, x->s.paddr, 16);
			/* the socket it follows, or whichever has the tuple */
			r->id.idiag_cookie[0] = x->cookie ? (uint32_t)x->cookie :
			    INET_DIAG_NOCOOKIE;
			r->id.idiag_cookie[1] = x->cookie ?
			    (uint32_t)(x->cookie >> 32) : INET_DIAG_NOCOOKIE;
			off += NLMSG_ALIGN(nlh->nlmsg_len);
			nreq++;
		}
		if (x == NULL && nreq == 0)
			break;
		if (x != NULL && nreq < DIAG_BATCH)
			continue;
		/* the answers are all queued by the time the send returns */
		if (send(fd, req, off, 0) < 0)
			return -1;
		for (;;) {
			ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
			struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
			int len = (int)n;

			if (n <= 0)
				break;
			for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

				if (nlh->nlmsg_type == SOCK_DIAG_BY_FAMILY)
					diag_cb(nlh, NULL);
				else if (nlh->nlmsg_type == NLMSG_ERROR &&
				    e->error != -ENOENT)
					missed = 1;	/* ESTALE: another socket */
			}
		}
		off = nreq = 0;
		if (x == NULL)
			break;
	}
	return missed ? -1 : 0;
}

static int
diag_poll(struct mnl_socket *nl, int family)
{
	char buf[MNL_SOCKET_BUFFER_SIZE > 32768 ? MNL_SOCKET_BUFFER_SIZE : 32768];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct inet_diag_req_v2 *r;
	unsigned portid = mnl_socket_get_portid(nl);
	uint32_t seq = (uint32_t)++poll_gen;
	int n;

	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	r = mnl_nlmsg_put_extra_header(nlh, sizeof *r);
	r->sdiag_family = (uint8_t)family;
	r->sdiag_protocol = IPPROTO_TCP;
	r->idiag_states = ~(1u << ST_LISTEN) & ~(1u << ST_SYN_RECV) &
	    ~(1u << ST_SYN_SENT);
	r->idiag_ext = 1 << (INET_DIAG_INFO - 1);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	while ((n = (int)mnl_socket_recvfrom(nl, buf, sizeof buf)) > 0) {
		n = mnl_cb_run(buf, (size_t)n, seq, portid, diag_cb, NULL);
		if (n <= MNL_CB_STOP)
			return n < 0 ? -1 : 0;
	}
	return n < 0 ? -1 : 0;
}

/*
 * An idle session's record still says where its timestamp clock is: a
 * restore sets the clock from it, and a clock behind what the peer saw
 * last gets every segment dropped (PAWS). Once a second at least.
 */
static void
refresh(int drained)
{
	uint64_t now = now_ms();
	size_t i;

	for (i = 0; i < tcap; i++) {
		struct sess *x = &tab[i];
		struct gate_ctl *c;

		if (!x->used || !x->announced)
			continue;
		if ((x->s.flags & TCPR_F_TS) && now - x->emitted_at >= 1000)
			emit(x, 0);
		if ((c = gctl(x)) == NULL)
			continue;
		if (c->state == GATE_PASS) {
			/* a slot entered late (libtcpr after a restart of ours) */
			const struct tcpr_shm_slot *e = tcpr_shm_find(shm, shm_n,
			    x->s.family, x->s.lport, x->s.pport, x->s.laddr,
			    x->s.paddr);

			if (e)
				gate_slot(x, e, 0);
		}
		/*
		 * A segment the program counted that never reached us (the
		 * queue failed open): with nothing of the session held, the
		 * queue read empty and no segment counted since the last
		 * look, none can still come; count it given.
		 */
		{
			uint64_t q = __atomic_load_n(&c->queued, __ATOMIC_SEQ_CST);

			if (drained && x->nheld == 0 && q == x->gq_prev &&
			    q != __atomic_load_n(&c->done, __ATOMIC_SEQ_CST)) {
				__atomic_store_n(&c->done, q, __ATOMIC_SEQ_CST);
				ngate_resync++;
			}
			x->gq_prev = q;
		}
	}
}

/* Sessions the kernel no longer lists have ended (closed, reset). */
static void
sweep(void)
{
	size_t i;

	for (i = 0; i < tcap; i++) {
		if (!tab[i].used || !tab[i].announced)
			continue;
		if (tab[i].missing++ >= 2) {
			end(&tab[i]);
			i--;	/* the slot may hold a moved entry now */
		}
	}
}

/* A session that began before us, from a snapshot of its socket. */
static void
adopt_one(const struct tcpr_sess *s, uint64_t cookie, void *arg)
{
	struct sess *x = find(s, 1);

	(void)arg;
	x->s = *s;
	x->cookie = cookie;
	x->s.sid = tcpr_sess_hash(s);
	x->ts_base = s->tsval;
	x->ts_at = now_ms();
	x->last_seq_out = tcpr_sess_snd_una(s) + (uint32_t)(s->snd_nxt -
	    s->snd_una);
	x->last_ack_out = tcpr_sess_rcv_nxt(s);
	x->acked = s->rcv;
	x->last_ack_in = tcpr_sess_snd_una(s);
	gate_join(x);
	emit(x, 1);
}

/* ------------------------------------------------------- nfqueue */

static struct mnl_socket *qsock;
static unsigned nfq_portid;
static uint32_t last_id;
static int have_id;

/*
 * Exact mode with the consumed table (-C): an outgoing segment that would
 * acknowledge input the application has not consumed waits in the queue
 * (no verdict) until it has, and so does every later segment of its
 * session; nothing is rewritten. A session with no entry in the table is
 * held for its first second (libtcpr registers it just after accept),
 * then let go: not a libtcpr application.
 */
#define GRACE_MS 1000
#define HOLD_MAX 16384		/* then the oldest go (fail-open) */

struct held {
	uint32_t id;
	uint32_t gate, ggen;	/* of its session, when it came */
	struct pkt p;
};

static int wake_fd = -1;
static struct held *hq;
static size_t hn, hcap;
static uint32_t *passed;	/* ids accepted while some are held */
static size_t pn, pcap;
static uint32_t *dropped;	/* ids to drop */
static size_t dn, dcap;
static uint64_t nredundant;
static uint64_t nheld_total, nforced, pass_gen;

static uid_t table_uid;		/* the table file's owner */

/*
 * The consumed table's file: its header names our wake socket; its slots
 * hold the table unless the gate is on (map != 0): then the map does.
 */
static void
consumed_open(const char *path, int map)
{
	struct tcpr_shm_hdr *h;
	struct stat st;
	size_t size = TCPR_SHM_SIZE(TCPR_SHM_SLOTS);
	void *m;
	int fd, fresh = 0;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
	    fstat(fd, &st) < 0)
		err_die(EXIT_TEMP, "unable to open %s:", path);
	table_uid = st.st_uid;
	if ((size_t)st.st_size != size) {
		/* new, or not ours: start empty */
		if (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)size) < 0)
			err_die(EXIT_TEMP, "unable to size %s:", path);
		fresh = 1;
	}
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		err_die(EXIT_TEMP, "unable to map %s:", path);
	h = m;
	if (fresh || h->magic != TCPR_SHM_MAGIC ||
	    h->version != TCPR_SHM_VERSION || h->nslots != TCPR_SHM_SLOTS) {
		/*
		 * A table of a running application survives a restart of the
		 * capture; anything else is cleared.
		 */
		memset(m, 0, size);
		h->version = TCPR_SHM_VERSION;
		h->nslots = TCPR_SHM_SLOTS;
		__atomic_store_n(&h->magic, TCPR_SHM_MAGIC, __ATOMIC_RELEASE);
	}
	shm = map ? gate_table() : (struct tcpr_shm_slot *)(h + 1);
	shm_n = TCPR_SHM_SLOTS;
	{
		/* where libtcpr wakes us: an abstract name of our own */
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		char name[TCPR_SHM_WAKELEN];
		size_t n;
		int one = 1;

		snprintf(name, sizeof name, "tcpr-capture-%ld-%u",
		    (long)getpid(), (unsigned)now_ms());
		n = strlen(name);
		memcpy(a.sun_path + 1, name, n);
		if ((wake_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0)) < 0 || bind(wake_fd, (struct sockaddr *)&a,
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)) < 0 ||
		    setsockopt(wake_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
			err_die(EXIT_TEMP, "unable to open a wake socket:");
		memset(h->wake, 0, sizeof h->wake);
		memcpy(h->wake, name, n);
	}
	/* last: a running application sees another capture, enters again */
	__atomic_store_n(&h->flags, map ? TCPR_SHM_F_MAP : 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&h->gen, ((uint32_t)(now_ms() * 2654435761u) ^
	    (uint32_t)getpid() << 8) | 1, __ATOMIC_SEQ_CST);
}

/*
 * The wake socket: libtcpr's marks wake us ("w"), and a libtcpr that found
 * TCPR_SHM_F_MAP asks for the map ("m", from a bound socket): it gets its
 * descriptor if its user owns the table file (or is root), as it could
 * write the file's slots.
 */
static void
wake_read(void)
{
	for (;;) {
		char b[64], cb[CMSG_SPACE(sizeof(struct ucred))];
		struct sockaddr_un from;
		struct iovec iov = { b, sizeof b };
		struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof from,
		    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb,
		    .msg_controllen = sizeof cb };
		struct cmsghdr *c;
		const struct ucred *cr = NULL;
		ssize_t n = recvmsg(wake_fd, &m, MSG_DONTWAIT);

		if (n < 0)
			return;
		if (n != 1 || b[0] != 'm' || !gate_on ||
		    m.msg_namelen <= offsetof(struct sockaddr_un, sun_path))
			continue;
		for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
			if (c->cmsg_level == SOL_SOCKET &&
			    c->cmsg_type == SCM_CREDENTIALS)
				cr = (const struct ucred *)(void *)CMSG_DATA(c);
		if (cr == NULL || (cr->uid != 0 && cr->uid != table_uid)) {
			err_warn("process %ld: the consumed table's map is not for "
			    "its user %ld", cr ? (long)cr->pid : -1L,
			    cr ? (long)cr->uid : -1L);
			continue;
		}
		{
			char rb[CMSG_SPACE(sizeof(int))];
			struct iovec riov = { "m", 1 };
			struct msghdr r = { .msg_name = &from,
			    .msg_namelen = m.msg_namelen, .msg_iov = &riov,
			    .msg_iovlen = 1, .msg_control = rb,
			    .msg_controllen = sizeof rb };
			struct cmsghdr *rc = CMSG_FIRSTHDR(&r);
			int fd = gate_table_fd();

			memset(rb, 0, sizeof rb);
			rc->cmsg_level = SOL_SOCKET;
			rc->cmsg_type = SCM_RIGHTS;
			rc->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(rc), &fd, sizeof fd);
			if (sendmsg(wake_fd, &r, MSG_DONTWAIT) < 0)
				err_debug("unable to hand the map to process %ld:",
				    (long)cr->pid);
		}
	}
}

/* 1 if p acknowledges beyond consumed input offset c */
static int
beyond(const struct sess *x, const struct pkt *p, uint64_t c)
{
	uint32_t allowed = x->s.rcv_isn + 1 + (uint32_t)c;

	/* all input before the peer's FIN consumed: the FIN too */
	if (x->peer_fin && allowed == x->peer_fin_seq)
		allowed++;
	return (int32_t)(p->ack - allowed) > 0;
}

/*
 * 1 if segment p of session x would acknowledge unconsumed input; then
 * the session's waiting flag is set, so that the application's next mark
 * wakes us.
 */
static int
must_hold(struct sess *x, const struct pkt *p)
{
	struct tcpr_shm_slot *e;
	uint64_t c;
	uint32_t allowed;

	if (!(p->flags & TH_ACK) || (p->flags & (TH_SYN | TH_RST)))
		return 0;
	e = tcpr_shm_find(shm, shm_n, x->s.family, x->s.lport, x->s.pport,
	    x->s.laddr, x->s.paddr);
	if (e == NULL) {
		if (now_ms() - x->born >= GRACE_MS) {
			gate_slot(x, NULL, 1);
			return 0;
		}
		allowed = x->s.rcv_isn + 1;
		return (int32_t)(p->ack - allowed) > 0;
	}
	gate_slot(x, e, 0);
	c = __atomic_load_n(&e->consumed, __ATOMIC_ACQUIRE);
	if (!beyond(x, p, c)) {
		note_consumed(x, c, 0);
		return 0;
	}
	/* then ask to be woken, and look again (the mark may be just in) */
	__atomic_store_n(&e->waiting, 1, __ATOMIC_SEQ_CST);
	c = __atomic_load_n(&e->consumed, __ATOMIC_SEQ_CST);
	if (beyond(x, p, c)) {
		note_consumed(x, c, 1);
		return 1;
	}
	note_consumed(x, c, 0);
	return 0;
}

static void
pass_id(uint32_t id)
{
	if (hn == 0 && pn == 0) {
		last_id = id;
		have_id = 1;
		return;
	}
	if (pn == pcap) {
		pcap = pcap ? pcap * 2 : 256;
		if ((passed = realloc(passed, pcap * sizeof *passed)) == NULL)
			err_die(EXIT_TEMP, "out of memory");
	}
	passed[pn++] = id;
}

static void
hold(uint32_t id, const struct pkt *p, struct sess *x)
{
	if (hn == hcap) {
		hcap = hcap ? hcap * 2 : 256;
		if ((hq = realloc(hq, hcap * sizeof *hq)) == NULL)
			err_die(EXIT_TEMP, "out of memory");
	}
	hq[hn].id = id;
	hq[hn].gate = x->gate;
	hq[hn].ggen = x->ggen;
	hq[hn].p = *p;
	hn++;
	x->nheld++;
	nheld_total++;
}

static int
queue_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct capture_opts *o = popts;
	struct nlattr *attr[NFQA_MAX + 1] = { 0 };
	struct nfqnl_msg_packet_hdr *ph;
	struct pkt p;
	size_t caplen, plen;
	uint32_t id;

	if (nfq_nlmsg_parse(nlh, attr) < 0 || attr[NFQA_PACKET_HDR] == NULL)
		return MNL_CB_OK;
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	id = ntohl(ph->packet_id);
	if (attr[NFQA_PAYLOAD] == NULL) {
		pass_id(id);
		return MNL_CB_OK;
	}
	caplen = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
	plen = attr[NFQA_CAP_LEN] ?
	    ntohl(mnl_attr_get_u32(attr[NFQA_CAP_LEN])) : caplen;
	if (parse_pkt(mnl_attr_get_payload(attr[NFQA_PAYLOAD]), caplen, plen,
	    o->port, &p) == 0) {
		struct sess *x = p.from_peer ? NULL : find(&p.k, 0);

		if (shm && x != NULL && x->announced &&
		    (x->nheld > 0 || must_hold(x, &p))) {
			/* tracked when it leaves: the peer has not seen it */
			hold(id, &p, x);
			return MNL_CB_OK;
		}
		/* (the SYN-ACK that puts it in the gate was not counted) */
		if (x != NULL)
			owe(x->gate, x->ggen, &p);
		track(o, &p);
	}
	pass_id(id);
	return MNL_CB_OK;
}

static int
nfq_send(struct nlmsghdr *nlh)
{
	return mnl_socket_sendto(qsock, nlh, nlh->nlmsg_len) < 0 ? -1 : 0;
}

/* Accept everything up to the last packet seen: we only watch. */
static void
verdict_batch(uint16_t qnum)
{
	char buf[256];
	struct nlmsghdr *nlh;

	if (!have_id)
		return;
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT_BATCH, qnum);
	nfq_nlmsg_verdict_put(nlh, (int)last_id, NF_ACCEPT);
	if (nfq_send(nlh) < 0)
		err_warn("verdict:");
	have_id = 0;
}

/*
 * While segments are held a batch verdict would let them go too: every
 * other one gets its own verdict, many to a send.
 */
static void
verdict_each(uint16_t qnum)
{
	static char buf[65536];
	size_t i, off = 0;

	for (i = 0; i < pn; i++) {
		struct nlmsghdr *nlh = nfq_nlmsg_put(buf + off, NFQNL_MSG_VERDICT,
		    qnum);

		nfq_nlmsg_verdict_put(nlh, (int)passed[i], NF_ACCEPT);
		off += MNL_ALIGN(nlh->nlmsg_len);
		if (off + 256 > sizeof buf || i + 1 == pn) {
			if (mnl_socket_sendto(qsock, buf, off) < 0)
				err_warn("verdict:");
			off = 0;
		}
	}
	pn = 0;
}

static void
verdicts(uint16_t qnum)
{
	size_t i;

	/* first: a batch verdict would accept them too */
	for (i = 0; i < dn; i++) {
		char b[256];
		struct nlmsghdr *nlh = nfq_nlmsg_put(b, NFQNL_MSG_VERDICT, qnum);

		nfq_nlmsg_verdict_put(nlh, (int)dropped[i], NF_DROP);
		if (nfq_send(nlh) < 0)
			err_warn("verdict:");
	}
	dn = 0;

	if (hn == 0 && pn > 0) {
		/* nothing held any more: one batch verdict covers them all */
		if (!have_id)
			last_id = passed[0];
		for (i = 0; i < pn; i++)
			if ((int32_t)(passed[i] - last_id) > 0)
				last_id = passed[i];
		have_id = 1;
		pn = 0;
	}
	verdict_batch(qnum);
	verdict_each(qnum);
}

/*
 * A bare acknowledgement that waited while a newer one of its session
 * passed in the kernel (the gate lets those overtake each other): sent
 * now it would only be old news, or a duplicate acknowledgement to the
 * peer.
 */
static int
redundant(const struct sess *x, const struct held *h)
{
	const struct gate_ctl *c;

	if (h->gate == 0 || h->gate != x->gate || h->ggen != x->ggen ||
	    (c = gctl(x)) == NULL || h->p.len > 0 ||
	    (h->p.flags & (TH_SYN | TH_FIN | TH_RST)))
		return 0;
	return (int32_t)(__atomic_load_n(&c->passed_ack, __ATOMIC_SEQ_CST) -
	    h->p.ack) >= 0;
}

static void
drop_id(uint32_t id)
{
	if (dn == dcap) {
		dcap = dcap ? dcap * 2 : 64;
		if ((dropped = realloc(dropped, dcap * sizeof *dropped)) == NULL)
			err_die(EXIT_TEMP, "out of memory");
	}
	dropped[dn++] = id;
	nredundant++;
}

/*
 * Let go, in order per session, what the application has consumed since;
 * all of it when stopping (all != 0), the oldest when too many wait.
 */
static void
release(const struct capture_opts *o, int all)
{
	size_t i, k = 0;

	if (hn == 0)
		return;
	pass_gen++;
	for (i = 0; i < hn; i++) {
		struct held *h = &hq[i];
		struct sess *x = find(&h->p.k, 0);
		int force = all || hn - i + k > HOLD_MAX;

		if (x != NULL && !force && (x->blocked == pass_gen ||
		    must_hold(x, &h->p))) {
			x->blocked = pass_gen;
			hq[k++] = *h;
			continue;
		}
		if (force && x != NULL && must_hold(x, &h->p))
			nforced++;
		owe(h->gate, h->ggen, &h->p);
		if (x != NULL)
			x->nheld--;
		if (x != NULL && redundant(x, h)) {
			/* a newer acknowledgement passed in the kernel */
			drop_id(h->id);
			continue;
		}
		if (x != NULL)
			track(o, &h->p);
		if (pn == pcap) {
			pcap = pcap ? pcap * 2 : 256;
			if ((passed = realloc(passed, pcap * sizeof *passed)) == NULL)
				err_die(EXIT_TEMP, "out of memory");
		}
		passed[pn++] = h->id;
	}
	hn = k;
}

static void
queue_open(uint16_t qnum)
{
	char buf[512];
	struct nlmsghdr *nlh;
	int one = 1;

	if ((qsock = mnl_socket_open(NETLINK_NETFILTER)) == NULL ||
	    mnl_socket_bind(qsock, 0, MNL_SOCKET_AUTOPID) < 0)
		err_die(EXIT_TEMP, "netfilter queue:");
	nfq_portid = mnl_socket_get_portid(qsock);
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, qnum);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	if (nfq_send(nlh) < 0)
		err_die(EXIT_TEMP, "unable to bind queue %u:", qnum);
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, qnum);
	/* headers only: IPv6 40 + TCP with options 60 */
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 100);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS,
	    htonl(NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK,
	    htonl(NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN));
	mnl_attr_put_u32(nlh, NFQA_CFG_QUEUE_MAXLEN, htonl(65536));
	if (nfq_send(nlh) < 0)
		err_die(EXIT_TEMP, "unable to configure queue %u:", qnum);
	/* a full socket buffer must not stop the service: it fails open */
	setsockopt(mnl_socket_get_fd(qsock), SOL_NETLINK, NETLINK_NO_ENOBUFS,
	    &one, sizeof one);
}

/* ----------------------------------------------------------- rules */

static int
run(const char *prog, const char *const *argv, int quiet)
{
	pid_t pid;
	int st;

	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		if (quiet) {
			FILE *f = freopen("/dev/null", "w", stderr);
			(void)f;
		}
		if (freopen("/dev/null", "w", stdout) == NULL)
			_exit(127);
		{
			char *av[16];
			size_t i;

			for (i = 0; i < 15 && argv[i]; i++)
				av[i] = (char *)(uintptr_t)argv[i];
			av[i] = NULL;
			execvp(prog, av);
		}
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * Install (add) or remove our rules; with the gate pinned at pin, its
 * match lets pass in front of the queue what needs no look: -1 when that
 * rule cannot be had (no xt_bpf), with nothing left installed.
 */
static int
rules(const struct capture_opts *o, int add, const char *pin)
{
	static const char *const tools[] = { "iptables", "ip6tables" };
	char chain[32], port[8], qnum[8];
	size_t i;

	snprintf(chain, sizeof chain, "TCPR-%u", o->port);
	snprintf(port, sizeof port, "%u", o->port);
	snprintf(qnum, sizeof qnum, "%u", o->queue);
	for (i = 0; i < 2; i++) {
		const char *t = tools[i];
		const char *din[] = { t, "-w", "-D", "INPUT", "-p", "tcp",
		    "--dport", port, "-j", chain, NULL };
		const char *dout[] = { t, "-w", "-D", "OUTPUT", "-p", "tcp",
		    "--sport", port, "-j", chain, NULL };
		const char *fl[] = { t, "-w", "-F", chain, NULL };
		const char *x[] = { t, "-w", "-X", chain, NULL };
		const char *n[] = { t, "-w", "-N", chain, NULL };
		const char *cheap[] = { t, "-w", "-A", chain, "-p", "tcp",
		    "--tcp-flags", "SYN,FIN,RST", "NONE", "-j", "RETURN", NULL };
		/* exact: every outgoing segment, of the peer's the control ones */
		const char *exact[] = { t, "-w", "-A", chain, "-p", "tcp",
		    "--dport", port, "--tcp-flags", "SYN,FIN,RST", "NONE", "-j",
		    "RETURN", NULL };
		const char *gate[] = { t, "-w", "-A", chain, "-p", "tcp",
		    "--sport", port, "-m", "bpf", "--object-pinned", pin, "-j",
		    "RETURN", NULL };
		const char *q[] = { t, "-w", "-A", chain, "-j", "NFQUEUE",
		    "--queue-num", qnum, "--queue-bypass", NULL };
		const char *iin[] = { t, "-w", "-I", "INPUT", "-p", "tcp",
		    "--dport", port, "-j", chain, NULL };
		const char *iout[] = { t, "-w", "-I", "OUTPUT", "-p", "tcp",
		    "--sport", port, "-j", chain, NULL };

		/* whatever an earlier run left behind goes first */
		while (run(t, din, 1) == 0)
			;
		while (run(t, dout, 1) == 0)
			;
		run(t, fl, 1);
		run(t, x, 1);
		if (!add)
			continue;
		if (run(t, n, 0) != 0 ||
		    run(t, o->exact ? exact : cheap, 0) != 0) {
			rules(o, 0, NULL);
			err_die(EXIT_TEMP, "unable to install %s rules", t);
		}
		if (pin && run(t, gate, err_verbose <= 0) != 0) {
			rules(o, 0, NULL);
			return -1;
		}
		if (run(t, q, 0) != 0 || run(t, iin, 0) != 0 ||
		    run(t, iout, 0) != 0) {
			rules(o, 0, NULL);
			err_die(EXIT_TEMP, "unable to install %s rules", t);
		}
	}
	return 0;
}

/* what the gate let pass and what it queued (tests, benchmarks) */
static void
gate_report(void)
{
	unsigned long long kern, queued;

	if (!gate_on)
		return;
	gate_stats(&kern, &queued);
	err_info("gate: kernel=%llu queued=%llu redundant=%llu resync=%llu "
	    "full=%llu", kern, queued, (unsigned long long)nredundant,
	    (unsigned long long)ngate_resync, (unsigned long long)ngate_full);
}

static void
consumed_open_if(const struct capture_opts *o, int map)
{
	if (o->consumed)
		consumed_open(o->consumed, map);
}

/*
 * Exact mode with -C: the gate if it can be had (not -G), else every
 * outgoing segment through the queue, as said once.
 */
static void
gate_start(const struct capture_opts *o)
{
	const char *why = NULL, *pin;

	gate_on = 0;
	if (!o->exact || !o->consumed || o->nogate) {
		consumed_open_if(o, 0);
		rules(o, 1, NULL);
		return;
	}
	if (gate_load(&why) == 0) {
		if ((pin = gate_pin(&why)) != NULL) {
			int r = rules(o, 1, pin);

			gate_unpin();	/* the rules hold the program now */
			if (r == 0) {
				gate_on = 1;
				consumed_open_if(o, 1);
				err_info("in-kernel gate on: only segments to hold "
				    "or to record are queued");
				return;
			}
			why = "no xt_bpf match (iptables -m bpf)";
		}
	}
	err_warn("in-kernel gate unavailable (%s): every outgoing segment is "
	    "queued", why);
	consumed_open_if(o, 0);
	rules(o, 1, NULL);
}

int
capture_run(const struct capture_opts *o)
{
	static char buf[1 << 18];
	struct mnl_socket *diag = NULL;
	uint64_t next_poll = 0, last_info, last_refresh;
	int fd;

	if (o->port == 0)
		err_die(EXIT_BAD, "a service port (-p) is required");
	if (o->check) {
		fprintf(stderr, "tcpr-capture: configuration OK\n");
		return EXIT_OK;
	}
	if ((tab = calloc(tcap, sizeof *tab)) == NULL)
		err_die(EXIT_TEMP, "out of memory");
	popts = o;
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGPIPE, SIG_IGN);
	queue_open(o->queue);
	if ((diag = mnl_socket_open(NETLINK_SOCK_DIAG)) == NULL ||
	    mnl_socket_bind(diag, 0, MNL_SOCKET_AUTOPID) < 0)
		err_die(EXIT_TEMP, "sock_diag:");
	gate_start(o);
	if (o->realtime) {
		/*
		 * In the exact mode every outgoing segment waits for us: a
		 * capture that waits for a CPU stalls the service.
		 */
		struct sched_param sp = { .sched_priority = 10 };

		if (sched_setscheduler(0, SCHED_RR | SCHED_RESET_ON_FORK,
		    &sp) == -1)
			err_warn("unable to run with real-time priority:");
		else if (mlockall(MCL_CURRENT | MCL_FUTURE) == -1)
			err_debug("unable to lock memory:");
	}
	if (o->adopt) {
		/* after the rules: no segment falls between snapshot and queue */
		int n = 0;

		if (snap_pid((pid_t)o->adopt, o, &n, adopt_one, NULL) < 0)
			err_warn("process %ld: some sessions not adopted",
			    o->adopt);
		err_info("adopted %d sessions of process %ld", n, o->adopt);
	}
	err_info("capturing port %u on queue %u, %s mode", o->port, o->queue,
	    o->exact ? "exact" : "cheap");
	fd = mnl_socket_get_fd(qsock);
	last_info = last_refresh = now_ms();
	while (!stop) {
		struct pollfd p = { fd, POLLIN, 0 }, w = { wake_fd, POLLIN, 0 };
		struct pollfd pv[2] = { p, w };
		uint64_t now;
		int k, drained = 1;

		/* held segments: the application wakes us; look every ms too */
		if (poll(pv, wake_fd >= 0 ? 2 : 1, hn ? 1 : o->interval) < 0 &&
		    errno != EINTR)
			break;
		p = pv[0];
		if (wake_fd >= 0 && (pv[1].revents & POLLIN))
			wake_read();
		for (k = 0; k < 64 && (p.revents & POLLIN); k++) {
			ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);

			if (n < 0)
				break;
			mnl_cb_run(buf, (size_t)n, 0, nfq_portid, queue_cb, NULL);
		}
		if (k == 64)
			drained = 0;
		release(o, 0);
		verdicts(o->queue);
		pay();
		now = now_ms();
		if (diag && now >= next_poll) {
			if (tn <= DIAG_EACH_MAX && diag_each(diag) == 0)
				sweep();
			else if (diag_poll(diag, AF_INET) < 0 ||
			    diag_poll(diag, AF_INET6) < 0)
				err_warn("sock_diag:");
			else
				sweep();
			next_poll = now + (uint64_t)o->interval;
		}
		if (now - last_refresh >= 250) {
			refresh(drained);
			last_refresh = now;
		}
		if (fflush(stdout) == EOF)
			break;
		if (err_verbose > 0 && now - last_info > 10000) {
			err_info("sessions=%zu packets=%llu records=%llu unknown=%llu "
			    "held=%llu waiting=%zu", tn, (unsigned long long)npkt,
			    (unsigned long long)nrec, (unsigned long long)nunknown,
			    (unsigned long long)nheld_total, hn);
			gate_report();
			last_info = now;
		}
	}
	release(o, 1);
	verdicts(o->queue);
	pay();
	rules(o, 0, NULL);
	err_info("stopped: sessions=%zu packets=%llu records=%llu", tn,
	    (unsigned long long)npkt, (unsigned long long)nrec);
	if (shm)
		err_info("held=%llu forced=%llu", (unsigned long long)nheld_total,
		    (unsigned long long)nforced);
	gate_report();
	if (fflush(stdout) == EOF || ferror(stdout))
		err_die(EXIT_TEMP, "unable to write records:");
	return EXIT_OK;
}
