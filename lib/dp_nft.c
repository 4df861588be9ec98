/*
 * nftables dataplane: LVS-DR without IPVS. One table of our own,
 * `table netdev nonstop`, with an ingress chain on the balancer's
 * interface. Per virtual service two maps: s_<key> maps the M hash slots
 * to real-server MACs, f_<key> remembers the MAC each connection was sent
 * to, so a connection stays on its server while slots change (quiesce,
 * weight change) and drains when its server leaves. The hash (jhash over
 * client address and port, fixed seed, mod M) is the same on every
 * balancer, and so is the slot layout: a function of the table alone
 * (see layout()), so a backup that takes over sends a connection it has
 * never seen to the same server.
 * M is fixed when the service is applied (about 8 slots per server, a
 * multiple of the total weight when it can be); weights share it out.
 * The layout moves few slots when one server changes, so an event
 * (dp_update) is one small transaction of element changes, whatever the
 * number of servers. Every change is one nft transaction: the kernel
 * switches atomically.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "dp.h"
#include "dp_nft.h"
#include "nl.h"

#define TABLE_NAME "nonstop"
#define TABLE "netdev " TABLE_NAME
#define SEED "0x6e737470"
#define FLOW_TIMEOUT "15m"

/* The slots of one service as this dp last applied them. */
struct slots {
	char key[64];
	unsigned m;		/* the hash's modulus */
	unsigned char *mac;	/* 6 bytes per slot; all zero: no server */
};

struct nft_priv {
	struct nft_ctx *ctx;
	unsigned char mac[6];
	char *names;		/* our maps and chains after our last apply */
	struct slots *sl;	/* per service of the last apply, in its order */
	size_t nsl;
	int valid;		/* sl is what the kernel holds */
	struct mnl_socket *nl;	/* element changes (nft_update), kept open */
	unsigned seq;
	char *batch;		/* nft_update's message buffer, kept */
	size_t batchcap;
};

#define MIN_SLOTS 64
#define SLOTS_PER_RS 8
#define MAX_SLOTS (1u << 20)

static void
slots_free(struct nft_priv *p)
{
	size_t i;

	for (i = 0; i < p->nsl; i++)
		free(p->sl[i].mac);
	free(p->sl);
	p->sl = NULL;
	p->nsl = 0;
	p->valid = 0;
}

static int
nft_open(struct dp *dp)
{
	struct nft_priv *p;

	if ((p = calloc(1, sizeof *p)) == NULL)
		return -1;
	if ((p->ctx = nft_ctx_new(NFT_CTX_DEFAULT)) == NULL) {
		free(p);
		snprintf(dp->why, sizeof dp->why, "unable to start libnftables");
		errno = ENOMEM;
		return -1;
	}
	nft_ctx_buffer_output(p->ctx);
	nft_ctx_buffer_error(p->ctx);
	dp->priv = p;
	return 0;
}

static void
nft_close(struct dp *dp)
{
	struct nft_priv *p = dp->priv;

	if (p != NULL) {
		nft_ctx_free(p->ctx);
		if (p->nl != NULL)
			mnl_socket_close(p->nl);
		free(p->batch);
		free(p->names);
		slots_free(p);
		free(p);
	}
	dp->priv = NULL;
}

/* Run cmd as one transaction; on failure dp->why holds nft's first line. */
static int
run(struct dp *dp, const char *cmd)
{
	struct nft_priv *p = dp->priv;
	const char *e;
	size_t n;

	if (nft_run_cmd_from_buffer(p->ctx, cmd) == 0)
		return 0;
	e = nft_ctx_get_error_buffer(p->ctx);
	if (e == NULL || *e == '\0')
		e = "nft transaction failed";
	n = strcspn(e, "\n");
	snprintf(dp->why, sizeof dp->why, "nftables: %.*s", (int)n, e);
	errno = EIO;
	return -1;
}

static int
nft_check(struct dp *dp, const struct dp_table *t)
{
	size_t i;

	for (i = 0; i < t->nsvc; i++)
		if (t->svc[i].sched == SCHED_LC || t->svc[i].sched == SCHED_WLC) {
			snprintf(dp->why, sizeof dp->why, "service %s: scheduler %s "
			    "needs IPVS (nftables does rr and wrr only)",
			    t->svc[i].name, role_sched_name(t->svc[i].sched));
			errno = EINVAL;
			return -1;
		}
	if (t->nsvc > 0 && dp->ifindex == 0) {
		snprintf(dp->why, sizeof dp->why, "nftables needs the interface");
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* The per-service name suffix: vip in hex, port, t/u. */
static void
svc_key(const struct dp_svc *s, char *buf, size_t size)
{
	size_t i, n = addr_len(&s->vip);
	int o = 0;

	for (i = 0; i < n && o + 3 < (int)size; i++)
		o += snprintf(buf + o, size - o, "%02x", s->vip.u.b[i]);
	snprintf(buf + o, size - o, "_%u_%c", s->port,
	    s->proto == IPPROTO_UDP ? 'u' : 't');
}

static int
key_parse(const char *k, struct dp_svc *s)
{
	size_t hex = strcspn(k, "_"), i;
	unsigned port;
	char pc;

	if (hex != 8 && hex != 32)
		return -1;
	s->vip.family = hex == 8 ? AF_INET : AF_INET6;
	s->vip.plen = hex == 8 ? 32 : 128;
	for (i = 0; i < hex / 2; i++) {
		unsigned b;
		if (sscanf(k + 2 * i, "%2x", &b) != 1)
			return -1;
		s->vip.u.b[i] = (unsigned char)b;
	}
	if (sscanf(k + hex, "_%u_%c", &port, &pc) != 2 || port == 0 || port > 65535)
		return -1;
	s->port = (uint16_t)port;
	s->proto = pc == 'u' ? IPPROTO_UDP : IPPROTO_TCP;
	return 0;
}

/* Resolve the MAC of every serving real server (at most ~1.5 s in all). */
static int
resolve(struct dp *dp, struct dp_table *t)
{
	size_t i, j;
	int tries, missing = 0;
	char a[ADDR_STRLEN];
	struct timespec ts = { 0, 2 * 1000 * 1000 };

	/* Poll every 2 ms for 1.5 s; ask again every 0.25 s. */
	for (tries = 0; tries < 750; tries++) {
		if ((missing = dp_neigh(dp->ifindex, t)) <= 0)
			break;
		for (i = 0; i < t->nsvc; i++)
			for (j = 0; j < t->svc[i].nrs && tries % 125 == 0; j++)
				if (!t->svc[i].rs[j].has_mac && t->svc[i].rs[j].weight > 0)
					dp_neigh_kick(&t->svc[i].rs[j].addr);
		nanosleep(&ts, NULL);
	}
	if (missing == 0 || (missing > 0 && dp->lenient))
		return 0;
	if (missing == -1) {
		snprintf(dp->why, sizeof dp->why, "unable to read the neighbour "
		    "table: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < t->nsvc; i++)
		for (j = 0; j < t->svc[i].nrs; j++)
			if (!t->svc[i].rs[j].has_mac && t->svc[i].rs[j].weight > 0) {
				snprintf(dp->why, sizeof dp->why, "no MAC address for "
				    "real server %s (%s): not reachable on %s",
				    t->svc[i].rs[j].name,
				    addr_fmt(&t->svc[i].rs[j].addr, a, sizeof a),
				    dp->ifname);
				errno = EHOSTUNREACH;
				return -1;
			}
	return 0;
}

struct names_q {
	FILE *f;
	const char *kind;	/* "map" or "chain" */
	int table_attr, name_attr;
};

static int
names_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (type <= NFTA_SET_MAX && type <= NFTA_CHAIN_MAX &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		tb[type] = attr;
	return MNL_CB_OK;
}

static int
names_cb(const struct nlmsghdr *nlh, void *data)
{
	struct names_q *q = data;
	const struct nlattr *tb[NFTA_SET_MAX + NFTA_CHAIN_MAX + 2] = { 0 };

	mnl_attr_parse(nlh, sizeof(struct nfgenmsg), names_attr_cb, tb);
	if (tb[q->table_attr] != NULL && tb[q->name_attr] != NULL &&
	    strcmp(mnl_attr_get_str(tb[q->table_attr]), TABLE_NAME) == 0)
		fprintf(q->f, "%s %s\n", q->kind, mnl_attr_get_str(tb[q->name_attr]));
	return MNL_CB_OK;
}

/* One netlink dump of our table (of set when given) through cb. */
static int
nl_dump(struct mnl_socket *nl, uint16_t msg, const char *set, mnl_cb_t cb,
    void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *g;
	unsigned seq = (unsigned)time(NULL), port = mnl_socket_get_portid(nl);
	int ret;

	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | msg;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof *g);
	g->nfgen_family = NFPROTO_NETDEV;
	g->version = NFNETLINK_V0;
	g->res_id = 0;
	/* NFTA_SET_TABLE and NFTA_SET_ELEM_LIST_TABLE are both 1, ..._SET 2. */
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, TABLE_NAME);
	if (set != NULL)
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	while ((ret = (int)mnl_socket_recvfrom(nl, buf, sizeof buf)) > 0) {
		ret = mnl_cb_run(buf, (size_t)ret, seq, port, cb, data);
		if (ret <= MNL_CB_STOP)
			break;
	}
	return ret == -1 ? -1 : 0;
}

/*
 * Names of the maps and chains in our table now ("" when none), as
 * "map NAME" and "chain NAME" lines. Straight from netlink: libnftables
 * would fetch every element of every map to list them (~40 ms at 1,000
 * servers).
 */
static char *
existing(struct dp *dp)
{
	struct nft_priv *p = dp->priv;
	struct mnl_socket *nl;
	struct names_q q = { NULL, "map", NFTA_SET_TABLE, NFTA_SET_NAME };
	char *names = NULL;
	size_t len = 0;
	int rc;

	if (p->names != NULL)
		return strdup(p->names);
	if ((q.f = open_memstream(&names, &len)) == NULL)
		return NULL;
	if ((nl = mnl_socket_open(NETLINK_NETFILTER)) == NULL ||
	    mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == -1) {
		rc = -1;
	} else {
		/* A table that is not there is no error: nothing of ours. */
		rc = nl_dump(nl, NFT_MSG_GETSET, NULL, names_cb, &q);
		q.kind = "chain";
		q.table_attr = NFTA_CHAIN_TABLE;
		q.name_attr = NFTA_CHAIN_NAME;
		if (rc == 0 || errno == ENOENT)
			rc = nl_dump(nl, NFT_MSG_GETCHAIN, NULL, names_cb, &q);
		if (rc == -1 && errno == ENOENT)
			rc = 0;
	}
	if (nl != NULL)
		mnl_socket_close(nl);
	if (fclose(q.f) != 0 || rc == -1) {
		snprintf(dp->why, sizeof dp->why, "nftables: unable to list "
		    "table " TABLE ": %s", strerror(errno ? errno : EIO));
		free(names);
		return NULL;
	}
	return names;
}

static void
mac_fmt(const unsigned char *m, char *buf)
{
	sprintf(buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
	    m[4], m[5]);
}

static void
svc_rules(FILE *f, const struct dp *dp, const struct dp_svc *s, const char *k,
    unsigned slots, const char *lbmac)
{
	int v6 = s->vip.family == AF_INET6;
	const char *ip = v6 ? "ip6" : "ip";
	const char *l4 = s->proto == IPPROTO_UDP ? "udp" : "tcp";
	char vip[ADDR_STRLEN], flowkey[256], hashin[64];

	addr_fmt(&s->vip, vip, sizeof vip);
	snprintf(hashin, sizeof hashin, "%s saddr . %s sport", ip, l4);
	/*
	 * XXX nft 1.0.6 aborts on a dynamic map update keyed by
	 * ip6 saddr . port (netlink_linearize.c:799): IPv6 flows are keyed
	 * by two 32-bit hashes of it instead (collisions ~ n^2 / 2^65).
	 */
	if (v6)
		snprintf(flowkey, sizeof flowkey, "jhash %s mod 4294967295 seed "
		    "0x6e737471 . jhash %s mod 4294967295 seed 0x6e737472",
		    hashin, hashin);
	else
		snprintf(flowkey, sizeof flowkey, "%s", hashin);
	/* A packet of a known connection goes where the connection went. */
	fprintf(f, "add rule " TABLE " in_%u meta pkttype host %s daddr %s "
	    "%s dport %u%s ether daddr set %s map @f_%s update @f_%s { %s : ether daddr } "
	    "ether saddr set %s counter fwd to \"%s\"\n", dp->ifindex, ip, vip,
	    l4, s->port,
	    s->proto == IPPROTO_TCP ? " tcp flags & (syn | ack) != syn" : "",
	    flowkey, k, k, flowkey, lbmac, dp->ifname);
	if (slots == 0)
		return;
	/* A new one (or one we never saw: a takeover) goes by hash. */
	fprintf(f, "add rule " TABLE " in_%u meta pkttype host %s daddr %s "
	    "%s dport %u ether daddr set jhash %s mod %u seed " SEED " map @s_%s "
	    "update @f_%s { %s : ether daddr } "
	    "ether saddr set %s counter fwd to \"%s\"\n", dp->ifindex, ip, vip,
	    l4, s->port, hashin, slots, k, k, flowkey, lbmac, dp->ifname);
}

static unsigned
gcd(unsigned a, unsigned b)
{
	while (b != 0) {
		unsigned t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* A real server's share of the slots: rr counts every server once. */
static unsigned
eff_weight(const struct dp_svc *s, const struct dp_rs *r)
{
	if (r->weight <= 0)
		return 0;
	return s->sched == SCHED_RR ? 1u : (unsigned)r->weight;
}

/*
 * M for service s: at least SLOTS_PER_RS per server, so that a quiesced
 * server's share spreads over many; a multiple of the total weight
 * (divided by the weights' gcd), so that weights are exact, unless that
 * comes to more than twice the minimum (then within one slot per server).
 */
static unsigned
slots_for(const struct dp_svc *s)
{
	unsigned long long min, w = 0, m;
	unsigned g = 0, e;
	size_t i;

	for (i = 0; i < s->nrs; i++)
		if ((e = eff_weight(s, &s->rs[i])) != 0) {
			w += e;
			g = gcd(g, e);
		}
	min = (unsigned long long)SLOTS_PER_RS * s->nrs;
	if (min < MIN_SLOTS)
		min = MIN_SLOTS;
	if (min > MAX_SLOTS / 2)
		min = MAX_SLOTS / 2;
	if (w == 0)
		return (unsigned)min;
	w /= g;
	m = w * ((min + w - 1) / w);
	if (m > 2 * min)
		m = 2 * min;
	return (unsigned)m;
}

/* Where a server starts and how it steps through the slots. */
static uint64_t
rs_hash(const struct dp_rs *r)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i, n = addr_len(&r->addr);

	for (i = 0; i < n; i++)
		h = (h ^ r->addr.u.b[i]) * 0x100000001b3ull;
	h = (h ^ (r->port >> 8)) * 0x100000001b3ull;
	h = (h ^ (r->port & 0xff)) * 0x100000001b3ull;
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

struct pick {
	size_t rs;		/* index in the service */
	uint64_t h;		/* rs_hash: the order of turns */
	unsigned quota, pos, skip;
	unsigned long long rem;
};

/* By hash, not by place in the table: a server re-added at the end of
 * the table takes the same slots as before. */
static int
by_hash(const void *a, const void *b)
{
	const struct pick *x = a, *y = b;

	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return x->rs < y->rs ? -1 : x->rs > y->rs;
}

static int
by_rem(const void *a, const void *b)
{
	const struct pick *x = a, *y = b;

	if (x->rem != y->rem)
		return x->rem > y->rem ? -1 : 1;
	return by_hash(a, b);
}

/* The k-th largest (from 0) of v[0..n-1], n > k; v is reordered. */
static unsigned long long
kth_largest(unsigned long long *v, size_t n, size_t k)
{
	while (n > 1) {
		unsigned long long piv = v[n / 2], t;
		/* [0,gt) above piv, [gt,i) equal, [lt,n) below. */
		size_t gt = 0, i = 0, lt = n;
		while (i < lt) {
			if (v[i] > piv) {
				t = v[i], v[i] = v[gt], v[gt] = t;
				gt++, i++;
			} else if (v[i] < piv) {
				lt--;
				t = v[i], v[i] = v[lt], v[lt] = t;
			} else {
				i++;
			}
		}
		if (k < gt) {
			n = gt;
		} else if (k < lt) {
			return piv;
		} else {
			v += lt;
			n -= lt;
			k -= lt;
		}
	}
	return v[0];
}

/*
 * The rest of the slots (fewer than servers), one each to the servers
 * with the largest remainders, ties to the smaller hash: pk is in hash
 * order. The same as sorting by remainder, without the sort (an event
 * at 1,000 servers spent a third of its layout sorting).
 */
static int
give_rest(struct pick *pk, size_t n, size_t rest)
{
	unsigned long long *v, th;
	size_t i, above = 0;

	if (rest == 0)
		return 0;
	if ((v = malloc(n * sizeof *v)) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		v[i] = pk[i].rem;
	th = kth_largest(v, n, rest - 1);
	free(v);
	for (i = 0; i < n; i++)
		if (pk[i].rem > th) {
			pk[i].quota++;
			above++;
		}
	for (i = 0; i < n && above < rest; i++)
		if (pk[i].rem == th) {
			pk[i].quota++;
			above++;
		}
	return 0;
}

/*
 * The layout of s over m slots: own[slot] is the index of its server in
 * s, ~0u when none. Every serving server (positive weight, MAC known)
 * gets its share of the slots by weight (largest remainder), then the
 * servers take turns (in the order of their hashes), Maglev-style, each
 * taking the next free slot of its own permutation of the slots (start
 * and step from a hash of its address and port). A function of the set
 * of servers and weights alone, whatever their order in the table; when
 * one server changes, little more than its own slots move. 0, or -1.
 */
static int
layout_own(const struct dp_svc *s, unsigned m, unsigned *own)
{
	struct pick *pk;
	size_t *act, n = 0, nact, i, a;
	unsigned j;
	unsigned long long w = 0, given = 0;

	for (j = 0; j < m; j++)
		own[j] = ~0u;
	if (m == 0 || s->nrs == 0)
		return 0;
	pk = calloc(s->nrs, sizeof *pk);
	act = calloc(s->nrs, sizeof *act);
	if (pk == NULL || act == NULL) {
		free(pk), free(act);
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < s->nrs; i++)
		if (s->rs[i].has_mac && eff_weight(s, &s->rs[i]) > 0) {
			pk[n].rs = i;
			pk[n].rem = eff_weight(s, &s->rs[i]);
			w += pk[n++].rem;
		}
	for (i = 0; i < n; i++) {
		unsigned long long share = (unsigned long long)m * pk[i].rem;
		uint64_t h = pk[i].h = rs_hash(&s->rs[pk[i].rs]);
		pk[i].quota = (unsigned)(share / w);
		pk[i].rem = share % w;
		given += pk[i].quota;
		pk[i].pos = (unsigned)(h % m);
		pk[i].skip = m > 1 ? (unsigned)((h >> 32) % (m - 1)) + 1 : 1;
		while (gcd(pk[i].skip, m) != 1)
			pk[i].skip = pk[i].skip % (m - 1) + 1;
	}
	if (n > 0 && m - given < n) {
		qsort(pk, n, sizeof *pk, by_hash);
		if (give_rest(pk, n, (size_t)(m - given)) == -1) {
			free(pk), free(act);
			errno = ENOMEM;
			return -1;
		}
	} else if (n > 0) {
		/* Not reached (the floors lose less than one slot each). */
		qsort(pk, n, sizeof *pk, by_rem);
		for (i = 0; given < m; i++, given++)
			pk[i % n].quota++;
		qsort(pk, n, sizeof *pk, by_hash);
	}
	for (i = nact = 0; i < n; i++)
		if (pk[i].quota > 0)
			act[nact++] = i;
	/* Sum of quotas is m: a server with quota left always finds a slot. */
	while (nact > 0) {
		size_t keep = 0;
		for (a = 0; a < nact; a++) {
			struct pick *q = &pk[act[a]];
			while (own[q->pos] != ~0u)
				if ((q->pos += q->skip) >= m)
					q->pos -= m;
			own[q->pos] = (unsigned)q->rs;
			if (--q->quota > 0)
				act[keep++] = act[a];
		}
		nact = keep;
	}
	free(pk);
	free(act);
	return 0;
}

/* The same as MACs, 6 bytes per slot, all zero when no server. */
static int
layout(const struct dp_svc *s, unsigned m, unsigned char *mac)
{
	unsigned *own, j;

	memset(mac, 0, 6 * (size_t)m);
	if (m == 0)
		return 0;
	if ((own = malloc(m * sizeof *own)) == NULL || layout_own(s, m, own) == -1) {
		free(own);
		errno = ENOMEM;
		return -1;
	}
	for (j = 0; j < m; j++)
		if (own[j] != ~0u)
			memcpy(mac + 6 * (size_t)j, s->rs[own[j]].mac, 6);
	free(own);
	return 0;
}

static int
mac_none(const unsigned char *m)
{
	return (m[0] | m[1] | m[2] | m[3] | m[4] | m[5]) == 0;
}

/* "add element ... { 0 : mac, 1 : mac }" for the slots set in mac. */
static void
put_slots(FILE *f, const char *k, unsigned m, const unsigned char *mac)
{
	char ms[18];
	unsigned j;
	int first = 1;

	for (j = 0; j < m; j++) {
		if (mac_none(mac + 6 * (size_t)j))
			continue;
		mac_fmt(mac + 6 * (size_t)j, ms);
		if (first)
			fprintf(f, "add element " TABLE " s_%s { ", k);
		fprintf(f, "%s%u : %s", first ? "" : ", ", j, ms);
		first = 0;
	}
	if (!first)
		fprintf(f, " }\n");
}

static int
nft_apply(struct dp *dp, struct dp_table *want0, const struct dp_table *prev)
{
	struct nft_priv *p = dp->priv;
	struct dp_table want;
	struct slots *sl = NULL;
	char *have = NULL, *buf = NULL, *l;
	char k[64], lbmac[18], want_names[64 + 8];
	size_t len = 0, i;
	FILE *f;
	int rc = -1;

	if (nft_check(dp, want0) == -1)
		return -1;
	if (resolve(dp, want0) == -1 || dp_table_copy(&want, want0) == -1)
		return -1;
	if (nl_link_mac(dp->ifindex, p->mac) == -1) {
		snprintf(dp->why, sizeof dp->why, "no MAC address on %s", dp->ifname);
		goto out;
	}
	mac_fmt(p->mac, lbmac);
	if (want.nsvc > 0 && (sl = calloc(want.nsvc, sizeof *sl)) == NULL)
		goto out;
	if ((have = existing(dp)) == NULL || (f = open_memstream(&buf, &len)) == NULL)
		goto out;
	fprintf(f, "add table " TABLE "\n");
	/* Rules go first so maps and chains they use can be dropped. */
	for (l = have; *l != '\0'; l = strchr(l, '\n') + 1)
		if (strncmp(l, "chain ", 6) == 0)
			fprintf(f, "flush chain " TABLE " %.*s\n",
			    (int)strcspn(l + 6, "\n"), l + 6);
	/* Flow maps of services that stay are kept; slot maps are made anew. */
	for (l = have; *l != '\0'; l = strchr(l, '\n') + 1) {
		int keep = 0;
		size_t n = strcspn(l, "\n"), kl;
		for (i = 0; i < want.nsvc && !keep; i++) {
			svc_key(&want.svc[i], k, sizeof k);
			snprintf(want_names, sizeof want_names, "map f_%s", k);
			keep |= strlen(want_names) == n && strncmp(l, want_names, n) == 0;
		}
		snprintf(want_names, sizeof want_names, "chain in_%u", dp->ifindex);
		keep |= want.nsvc > 0 && strlen(want_names) == n &&
		    strncmp(l, want_names, n) == 0;
		if (keep)
			continue;
		kl = strcspn(l, " ");
		fprintf(f, "delete %.*s " TABLE " %.*s\n", (int)kl, l,
		    (int)(n - kl - 1), l + kl + 1);
	}
	if (want.nsvc > 0)
		fprintf(f, "add chain " TABLE " in_%u { type filter hook ingress "
		    "device \"%s\" priority 0; policy accept; }\n",
		    dp->ifindex, dp->ifname);
	for (i = 0; i < want.nsvc; i++) {
		const struct dp_svc *s = &want.svc[i];
		int v6 = s->vip.family == AF_INET6;

		svc_key(s, k, sizeof k);
		snprintf(sl[i].key, sizeof sl[i].key, "%s", k);
		sl[i].m = slots_for(s);
		if ((sl[i].mac = malloc(6 * (size_t)sl[i].m)) == NULL ||
		    layout(s, sl[i].m, sl[i].mac) == -1)
			goto fail;
		if (v6)
			fprintf(f, "add map " TABLE " f_%s { typeof numgen inc mod 2 "
			    ". numgen inc mod 2 : ether daddr; size 65536; flags "
			    "dynamic,timeout; timeout " FLOW_TIMEOUT "; }\n", k);
		else
			fprintf(f, "add map " TABLE " f_%s { type ipv4_addr . "
			    "inet_service : ether_addr; size 65536; flags "
			    "dynamic,timeout; timeout " FLOW_TIMEOUT "; }\n", k);
		/* A plain hash map: element changes need no interval merging. */
		fprintf(f, "add map " TABLE " s_%s { typeof numgen inc mod 2 : "
		    "ether daddr; comment \"slots %u\"; }\n", k, sl[i].m);
		put_slots(f, k, sl[i].m, sl[i].mac);
		svc_rules(f, dp, s, k, sl[i].m, lbmac);
	}
	if (fclose(f) != 0)
		goto out;
	free(p->names);
	p->names = NULL;
	slots_free(p);
	if (run(dp, buf) == -1)
		goto out;
	p->sl = sl;
	p->nsl = want.nsvc;
	p->valid = 1;
	sl = NULL;
	/* What the table holds now, so the next apply need not list it. */
	if ((f = open_memstream(&p->names, &len)) != NULL) {
		for (i = 0; i < want.nsvc; i++) {
			svc_key(&want.svc[i], k, sizeof k);
			fprintf(f, "map f_%s\nmap s_%s\n", k, k);
		}
		if (want.nsvc > 0)
			fprintf(f, "chain in_%u\n", dp->ifindex);
		if (fclose(f) != 0) {
			free(p->names);
			p->names = NULL;
		}
	}
	rc = 0;
	goto out;
fail:
	fclose(f);
out:
	for (i = 0; sl != NULL && i < want.nsvc; i++)
		free(sl[i].mac);
	free(sl);
	free(have);
	free(buf);
	dp_table_free(&want);
	(void)prev;
	return rc;
}

/*
 * The element changes of one event straight over netlink, one batch (one
 * transaction, as nft would send it): per service a delete of the slots
 * that change server and an add of their new MACs. What nft's parser and
 * cache would cost here is most of an event's time at 1,000 servers
 * (callgrind: ~3 M instructions per event, for a few dozen slots).
 * Keys are the slot numbers in host order (typeof numgen), data the MAC.
 * 0, or -1 with errno (the kernel's, e.g. ENOENT when the map is gone).
 */
static void
put_elems(struct nlmsghdr *nlh, const char *set, uint16_t msg, uint32_t seq,
    const unsigned char *o, const unsigned char *n, unsigned m, int add)
{
	struct nfgenmsg *g;
	struct nlattr *list, *el, *nest;
	unsigned j;

	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | msg;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE : 0);
	nlh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof *g);
	g->nfgen_family = NFPROTO_NETDEV;
	g->version = NFNETLINK_V0;
	g->res_id = 0;
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, TABLE_NAME);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
	list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	for (j = 0; j < m; j++) {
		const unsigned char *a = o + 6 * (size_t)j, *b = n + 6 * (size_t)j;
		uint32_t key = j;
		if (memcmp(a, b, 6) == 0 || mac_none(add ? b : a))
			continue;
		el = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
		nest = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
		mnl_attr_put(nlh, NFTA_DATA_VALUE, sizeof key, &key);
		mnl_attr_nest_end(nlh, nest);
		if (add) {
			nest = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_DATA);
			mnl_attr_put(nlh, NFTA_DATA_VALUE, 6, b);
			mnl_attr_nest_end(nlh, nest);
		}
		mnl_attr_nest_end(nlh, el);
	}
	mnl_attr_nest_end(nlh, list);
}

static struct nlmsghdr *
put_batch_mark(char *at, uint16_t type, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(at);
	struct nfgenmsg *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof *g);
	g->nfgen_family = AF_UNSPEC;
	g->version = NFNETLINK_V0;
	g->res_id = htons(NFNL_SUBSYS_NFTABLES);
	return nlh;
}

static int
elems_batch(struct nft_priv *p, unsigned char *const *nm, size_t nsvc)
{
	char *at, rbuf[MNL_SOCKET_BUFFER_SIZE];
	size_t i, need = 2 * MNL_NLMSG_HDRLEN + 64, nch = 0;
	unsigned j, first, acks = 0, want = 0;
	int err = 0;
	ssize_t got;

	for (i = 0; i < nsvc; i++)
		for (j = 0; j < p->sl[i].m; j++)
			nch += memcmp(p->sl[i].mac + 6 * (size_t)j,
			    nm[i] + 6 * (size_t)j, 6) != 0;
	if (nch == 0)
		return 0;
	/* Per change at most a delete and an add element of ~40 bytes. */
	need += nsvc * 2 * (MNL_NLMSG_HDRLEN + 256) + nch * 2 * 64;
	if (need > p->batchcap) {
		char *b = realloc(p->batch, need);
		if (b == NULL)
			return -1;
		p->batch = b;
		p->batchcap = need;
	}
	if (p->nl == NULL) {
		/* A reply that never comes must not hang follow: fall back. */
		struct timeval tv = { 2, 0 };
		if ((p->nl = mnl_socket_open(NETLINK_NETFILTER)) == NULL)
			return -1;
		if (mnl_socket_bind(p->nl, 0, MNL_SOCKET_AUTOPID) == -1 ||
		    setsockopt(mnl_socket_get_fd(p->nl), SOL_SOCKET, SO_RCVTIMEO,
		    &tv, sizeof tv) == -1) {
			mnl_socket_close(p->nl);
			p->nl = NULL;
			return -1;
		}
	}
	memset(p->batch, 0, need);
	first = ++p->seq;
	at = p->batch;
	at += put_batch_mark(at, NFNL_MSG_BATCH_BEGIN, p->seq)->nlmsg_len;
	for (i = 0; i < nsvc; i++) {
		char set[80];
		int dels = 0, adds = 0;
		for (j = 0; j < p->sl[i].m; j++) {
			const unsigned char *a = p->sl[i].mac + 6 * (size_t)j;
			const unsigned char *b = nm[i] + 6 * (size_t)j;
			if (memcmp(a, b, 6) == 0)
				continue;
			dels |= !mac_none(a);
			adds |= !mac_none(b);
		}
		snprintf(set, sizeof set, "s_%s", p->sl[i].key);
		/* Deletes first: a slot that changes server is deleted, added. */
		if (dels) {
			struct nlmsghdr *nlh = mnl_nlmsg_put_header(at);
			put_elems(nlh, set, NFT_MSG_DELSETELEM, ++p->seq,
			    p->sl[i].mac, nm[i], p->sl[i].m, 0);
			at += nlh->nlmsg_len;
			want++;
		}
		if (adds) {
			struct nlmsghdr *nlh = mnl_nlmsg_put_header(at);
			put_elems(nlh, set, NFT_MSG_NEWSETELEM, ++p->seq,
			    p->sl[i].mac, nm[i], p->sl[i].m, 1);
			at += nlh->nlmsg_len;
			want++;
		}
	}
	at += put_batch_mark(at, NFNL_MSG_BATCH_END, ++p->seq)->nlmsg_len;
	if (mnl_socket_sendto(p->nl, p->batch, (size_t)(at - p->batch)) < 0)
		return -1;
	/*
	 * An ack (or an error) per change message; a failed batch is undone
	 * whole and reports at least the failing one. Replies to an earlier
	 * batch (seq below first) are stale and skipped.
	 */
	while (acks < want && err == 0) {
		const struct nlmsghdr *h;
		int len;
		if ((got = mnl_socket_recvfrom(p->nl, rbuf, sizeof rbuf)) <= 0)
			return -1;
		len = (int)got;
		for (h = (const struct nlmsghdr *)rbuf; mnl_nlmsg_ok(h, len);
		    h = mnl_nlmsg_next(h, &len)) {
			const struct nlmsgerr *e;
			if (h->nlmsg_type != NLMSG_ERROR || h->nlmsg_seq < first ||
			    h->nlmsg_seq > p->seq)
				continue;
			e = mnl_nlmsg_get_payload(h);
			if (e->error != 0 && err == 0)
				err = -e->error;
			/* The batch itself refused: no acks will follow. */
			if (h->nlmsg_seq == first && err == 0)
				continue;
			acks++;
		}
	}
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

/*
 * One event: the same services and M, new layouts; only the slots whose
 * server changed are deleted and added again, in one transaction.
 */
static int
nft_update(struct dp *dp, struct dp_table *want, const struct dp_table *cur)
{
	struct nft_priv *p = dp->priv;
	unsigned char **nm;
	char *buf = NULL, k[64], ms[18];
	size_t len = 0, i, changes = 0;
	unsigned j;
	FILE *f;
	int rc = -1, first;

	if (!p->valid || p->nsl != want->nsvc)
		return nft_apply(dp, want, cur);
	for (i = 0; i < want->nsvc; i++) {
		svc_key(&want->svc[i], k, sizeof k);
		if (strcmp(k, p->sl[i].key) != 0)
			return nft_apply(dp, want, cur);
	}
	if (nft_check(dp, want) == -1 || resolve(dp, want) == -1)
		return -1;
	if ((nm = calloc(want->nsvc, sizeof *nm)) == NULL)
		return -1;
	for (i = 0; i < want->nsvc; i++)
		if ((nm[i] = malloc(6 * (size_t)p->sl[i].m)) == NULL ||
		    layout(&want->svc[i], p->sl[i].m, nm[i]) == -1)
			goto out;
	/* The fast way; nft's own (and then a whole apply) when it fails. */
	if (elems_batch(p, nm, want->nsvc) == 0)
		goto done;
	if ((f = open_memstream(&buf, &len)) == NULL)
		goto out;
	for (i = 0; i < want->nsvc; i++) {
		const unsigned char *o = p->sl[i].mac;
		/* Deletes first: a slot that changes server is deleted, added. */
		for (j = 0, first = 1; j < p->sl[i].m; j++) {
			if (memcmp(o + 6 * (size_t)j, nm[i] + 6 * (size_t)j, 6) == 0 ||
			    mac_none(o + 6 * (size_t)j))
				continue;
			if (first)
				fprintf(f, "delete element " TABLE " s_%s { ",
				    p->sl[i].key);
			fprintf(f, "%s%u", first ? "" : ", ", j);
			first = 0;
			changes++;
		}
		if (!first)
			fprintf(f, " }\n");
		for (j = 0, first = 1; j < p->sl[i].m; j++) {
			const unsigned char *n = nm[i] + 6 * (size_t)j;
			if (memcmp(o + 6 * (size_t)j, n, 6) == 0 || mac_none(n))
				continue;
			mac_fmt(n, ms);
			if (first)
				fprintf(f, "add element " TABLE " s_%s { ",
				    p->sl[i].key);
			fprintf(f, "%s%u : %s", first ? "" : ", ", j, ms);
			first = 0;
			changes++;
		}
		if (!first)
			fprintf(f, " }\n");
	}
	if (fclose(f) != 0)
		goto out;
	if (changes > 0 && run(dp, buf) == -1) {
		/* Not what we applied last (flushed, edited): start over,
		 * from what the kernel holds, not from what we remember. */
		p->valid = 0;
		free(p->names);
		p->names = NULL;
		rc = nft_apply(dp, want, cur);
		goto out;
	}
done:
	for (i = 0; i < want->nsvc; i++) {
		free(p->sl[i].mac);
		p->sl[i].mac = nm[i];
		nm[i] = NULL;
	}
	rc = 0;
out:
	for (i = 0; i < want->nsvc; i++)
		free(nm[i]);
	free(nm);
	free(buf);
	return rc;
}

static int
nft_remove(struct dp *dp, const struct dp_table *prev)
{
	struct nft_priv *p = dp->priv;

	(void)prev;
	free(p->names);
	p->names = NULL;
	slots_free(p);
	return run(dp, "add table " TABLE "\ndelete table " TABLE "\n");
}

/* Parse "elements = { 0 : mac, 1-2 : mac }" of one slots map into s. */
static int
parse_slots(const char *text, struct dp_svc *s)
{
	const char *p = strstr(text, "elements = {");
	unsigned a, b;
	unsigned m[6];
	int n;

	if (p == NULL)
		return 0;
	p += strlen("elements = {");
	for (;;) {
		struct dp_rs *r;
		size_t i;
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == ',')
			p++;
		if (*p == '}' || *p == '\0')
			break;
		n = 0;
		if (sscanf(p, "%u-%u : %x:%x:%x:%x:%x:%x%n", &a, &b, &m[0], &m[1],
		    &m[2], &m[3], &m[4], &m[5], &n) == 8) {
		} else if (sscanf(p, "%u : %x:%x:%x:%x:%x:%x%n", &a, &m[0], &m[1],
		    &m[2], &m[3], &m[4], &m[5], &n) == 7) {
			b = a;
		} else {
			return -1;
		}
		p += n;
		r = NULL;
		for (i = 0; i < s->nrs; i++)
			if (s->rs[i].mac[0] == m[0] && s->rs[i].mac[1] == m[1] &&
			    s->rs[i].mac[2] == m[2] && s->rs[i].mac[3] == m[3] &&
			    s->rs[i].mac[4] == m[4] && s->rs[i].mac[5] == m[5])
				r = &s->rs[i];
		if (r == NULL) {
			if ((r = dp_svc_add_rs(s)) == NULL)
				return -1;
			for (i = 0; i < 6; i++)
				r->mac[i] = (unsigned char)m[i];
			r->has_mac = 1;
		}
		r->weight += (int)(b - a + 1);
	}
	return 0;
}

/* One slots map read over netlink: its M, flags and elements' MACs. */
struct slots_q {
	const char *set;
	unsigned m;
	uint32_t flags;
	unsigned char *mac;	/* 6 bytes per element */
	size_t n, cap;
};

static int
set_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (type <= NFTA_SET_MAX)
		tb[type] = attr;
	return MNL_CB_OK;
}

/* The set's M from its comment "slots M" (libnftnl user data: TLVs). */
static int
set_cb(const struct nlmsghdr *nlh, void *data)
{
	struct slots_q *q = data;
	const struct nlattr *tb[NFTA_SET_MAX + 1] = { 0 };
	const unsigned char *u, *end;

	mnl_attr_parse(nlh, sizeof(struct nfgenmsg), set_attr_cb, tb);
	if (tb[NFTA_SET_NAME] == NULL ||
	    mnl_attr_validate(tb[NFTA_SET_NAME], MNL_TYPE_NUL_STRING) == -1 ||
	    strcmp(mnl_attr_get_str(tb[NFTA_SET_NAME]), q->set) != 0)
		return MNL_CB_OK;
	if (tb[NFTA_SET_FLAGS] != NULL &&
	    mnl_attr_validate(tb[NFTA_SET_FLAGS], MNL_TYPE_U32) == 0)
		q->flags = ntohl(mnl_attr_get_u32(tb[NFTA_SET_FLAGS]));
	if (tb[NFTA_SET_USERDATA] == NULL)
		return MNL_CB_OK;
	u = mnl_attr_get_payload(tb[NFTA_SET_USERDATA]);
	end = u + mnl_attr_get_payload_len(tb[NFTA_SET_USERDATA]);
	for (; u + 2 <= end && u + 2 + u[1] <= end; u += 2 + u[1]) {
		char v[32];
		if (u[1] < 7 || u[1] >= sizeof v || memcmp(u + 2, "slots ", 6) != 0)
			continue;
		memcpy(v, u + 2, u[1]);
		v[u[1]] = '\0';
		q->m = (unsigned)strtoul(v + 6, NULL, 10);
	}
	return MNL_CB_OK;
}

/* Attribute tables of the element dump: sized for any of its levels. */
#define NEST_MAX 32

static int
nest_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (type < NEST_MAX)
		tb[type] = attr;
	return MNL_CB_OK;
}

static int
elems_cb(const struct nlmsghdr *nlh, void *data)
{
	struct slots_q *q = data;
	const struct nlattr *tb[NEST_MAX] = { 0 }, *e;

	mnl_attr_parse(nlh, sizeof(struct nfgenmsg), nest_cb, tb);
	if (tb[NFTA_SET_ELEM_LIST_ELEMENTS] == NULL)
		return MNL_CB_OK;
	mnl_attr_for_each_nested(e, tb[NFTA_SET_ELEM_LIST_ELEMENTS]) {
		const struct nlattr *el[NEST_MAX] = { 0 };
		const struct nlattr *dv[NEST_MAX] = { 0 };
		if (mnl_attr_parse_nested(e, nest_cb, el) < 0 ||
		    el[NFTA_SET_ELEM_DATA] == NULL ||
		    mnl_attr_parse_nested(el[NFTA_SET_ELEM_DATA], nest_cb, dv) < 0 ||
		    dv[NFTA_DATA_VALUE] == NULL ||
		    mnl_attr_get_payload_len(dv[NFTA_DATA_VALUE]) < 6)
			continue;
		if (q->n == q->cap) {
			size_t cap = q->cap ? 2 * q->cap : 1024;
			unsigned char *m = realloc(q->mac, 6 * cap);
			if (m == NULL)
				return MNL_CB_ERROR;
			q->mac = m;
			q->cap = cap;
		}
		memcpy(q->mac + 6 * q->n++, mnl_attr_get_payload(dv[NFTA_DATA_VALUE]), 6);
	}
	return MNL_CB_OK;
}

static int
by_mac(const void *a, const void *b)
{
	return memcmp(a, b, 6);
}

/*
 * The slots map of s (name s_<key>) into s's servers, weight = slot count,
 * and *m its M. 0, 1 when it is an interval map (older versions: read it
 * as text), -1.
 */
static int
read_slots(struct dp_svc *s, const char *key, unsigned *m)
{
	struct mnl_socket *nl;
	struct slots_q q;
	char set[80];
	size_t i, j;
	int rc = -1;

	memset(&q, 0, sizeof q);
	snprintf(set, sizeof set, "s_%s", key);
	q.set = set;
	if ((nl = mnl_socket_open(NETLINK_NETFILTER)) == NULL)
		return -1;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == -1 ||
	    nl_dump(nl, NFT_MSG_GETSET, NULL, set_cb, &q) == -1)
		goto out;
	if (q.flags & NFT_SET_INTERVAL) {
		rc = 1;
		goto out;
	}
	if (nl_dump(nl, NFT_MSG_GETSETELEM, set, elems_cb, &q) == -1)
		goto out;
	/* Count slots per MAC: sorted, each run is one server. */
	if (q.n > 0)
		qsort(q.mac, q.n, 6, by_mac);
	for (i = 0; i < q.n; i = j) {
		struct dp_rs *r;
		for (j = i + 1; j < q.n && memcmp(q.mac + 6 * i, q.mac + 6 * j, 6) == 0; j++)
			;
		if ((r = dp_svc_add_rs(s)) == NULL)
			goto out;
		memcpy(r->mac, q.mac + 6 * i, 6);
		r->has_mac = 1;
		r->weight = (int)(j - i);
	}
	*m = q.m;
	rc = 0;
out:
	mnl_socket_close(nl);
	free(q.mac);
	return rc;
}

/*
 * s holds slot counts per MAC. Turn them into weights: prev's weight where
 * prev's layout over m slots gives that server the same count; else the
 * count scaled to prev's total weight, or without prev (or m) the counts
 * divided by their gcd.
 */
static void
slot_weights(struct dp_svc *s, const struct dp_svc *ps, unsigned m)
{
	unsigned *own = NULL, *cnt = NULL, g = 0, j;
	unsigned long long w = 0;
	size_t i;

	for (i = 0; i < s->nrs; i++)
		g = gcd(g, (unsigned)s->rs[i].weight);
	if (ps != NULL)
		for (i = 0; i < ps->nrs; i++)
			if (ps->rs[i].has_mac)
				w += eff_weight(ps, &ps->rs[i]);
	if (m == 0 || g == 0)
		return;
	if (ps == NULL || w == 0 || (own = malloc(m * sizeof *own)) == NULL ||
	    (cnt = calloc(ps->nrs, sizeof *cnt)) == NULL ||
	    layout_own(ps, m, own) == -1) {
		for (i = 0; i < s->nrs; i++)
			s->rs[i].weight /= (int)g;
		free(own);
		free(cnt);
		return;
	}
	for (j = 0; j < m; j++)
		if (own[j] != ~0u)
			cnt[own[j]]++;
	for (i = 0; i < s->nrs; i++) {
		struct dp_rs *r = &s->rs[i];
		size_t k;
		for (k = 0; k < ps->nrs; k++)
			if (ps->rs[k].has_mac && memcmp(ps->rs[k].mac, r->mac, 6) == 0)
				break;
		if (k < ps->nrs && cnt[k] == (unsigned)r->weight)
			r->weight = ps->rs[k].weight;
		else
			r->weight = (int)(((unsigned long long)r->weight * w +
			    m / 2) / m) ?: 1;
	}
	free(own);
	free(cnt);
}

static int
nft_read(struct dp *dp, struct dp_table *cur, const struct dp_table *prev)
{
	struct nft_priv *p = dp->priv;
	char *have, *l, cmd[128], k[64];
	size_t i, j;

	if ((have = existing(dp)) == NULL)
		return -1;
	for (l = have; *l != '\0'; l = strchr(l, '\n') + 1) {
		struct dp_svc *s, *ps;
		size_t n = strcspn(l, "\n");
		unsigned m = 0;
		int rc;
		if (strncmp(l, "map s_", 6) != 0 || n - 6 >= sizeof k)
			continue;
		memcpy(k, l + 6, n - 6);
		k[n - 6] = '\0';
		if ((s = dp_table_add_svc(cur)) == NULL)
			goto fail;
		if (key_parse(k, s) == -1) {
			cur->nsvc--;
			continue;
		}
		s->sched = SCHED_WRR;
		/* Netlink: ~10,000 slots in a few ms, not ~50 as nft text. */
		if ((rc = read_slots(s, k, &m)) == -1)
			goto fail;
		/* Interval maps of older versions: one slot per unit of weight. */
		if (rc == 1) {
			snprintf(cmd, sizeof cmd, "list map " TABLE " s_%s", k);
			if (nft_run_cmd_from_buffer(p->ctx, cmd) != 0 ||
			    parse_slots(nft_ctx_get_output_buffer(p->ctx), s) == -1)
				goto fail;
		}
		ps = dp_table_find(prev, &s->vip, s->port, s->proto);
		slot_weights(s, ps, m);
		/* Names, addresses and rr come from what we set up. */
		if (ps == NULL)
			continue;
		memcpy(s->name, ps->name, sizeof s->name);
		s->sched = ps->sched;
		for (i = 0; i < s->nrs; i++)
			for (j = 0; j < ps->nrs; j++)
				if (ps->rs[j].has_mac &&
				    memcmp(ps->rs[j].mac, s->rs[i].mac, 6) == 0) {
					memcpy(s->rs[i].name, ps->rs[j].name,
					    sizeof s->rs[i].name);
					s->rs[i].addr = ps->rs[j].addr;
					s->rs[i].port = ps->rs[j].port;
					if (s->sched == SCHED_RR)
						s->rs[i].weight = ps->rs[j].weight;
				}
		/* Quiesced servers have no slots: they are there at weight 0. */
		for (j = 0; j < ps->nrs; j++) {
			struct dp_rs *q;
			if (ps->rs[j].weight != 0 ||
			    dp_svc_find(s, &ps->rs[j].addr, ps->rs[j].port) != NULL)
				continue;
			if ((q = dp_svc_add_rs(s)) == NULL)
				goto fail;
			*q = ps->rs[j];
		}
	}
	free(have);
	return 0;
fail:
	free(have);
	dp_table_free(cur);
	errno = EIO;
	return -1;
}

const struct dp_ops dp_nft_ops = {
	"nft", nft_open, nft_close, nft_check, nft_apply, nft_read, nft_remove,
	nft_update,
};
