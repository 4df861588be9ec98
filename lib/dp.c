/* Dataplane dispatch, table helpers and neighbour lookup; see dp.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dp.h"

struct dp *
dp_open(const char *name, const char *ifname, char *why, size_t whylen)
{
	struct dp *dp;
	const struct dp_ops *try[2];
	int i, n = 0, e = ENOENT;

	if (name == NULL) {
		try[n++] = &dp_ipvs_ops;
		try[n++] = &dp_nft_ops;
	} else if (strcmp(name, "nft") == 0) {
		try[n++] = &dp_nft_ops;
	} else if (strcmp(name, "ipvs") == 0) {
		try[n++] = &dp_ipvs_ops;
	} else {
		snprintf(why, whylen, "unknown dataplane %s (nft or ipvs)", name);
		errno = ENOENT;
		return NULL;
	}
	if ((dp = calloc(1, sizeof *dp)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	if (ifname != NULL) {
		snprintf(dp->ifname, sizeof dp->ifname, "%s", ifname);
		if ((dp->ifindex = if_nametoindex(ifname)) == 0) {
			snprintf(why, whylen, "no interface %s", ifname);
			free(dp);
			errno = ENODEV;
			return NULL;
		}
	}
	for (i = 0; i < n; i++) {
		dp->ops = try[i];
		dp->why[0] = '\0';
		if (dp->ops->open(dp) == 0)
			return dp;
		e = errno;
	}
	snprintf(why, whylen, "%s", dp->why[0] ? dp->why : "no dataplane");
	free(dp);
	errno = e;
	return NULL;
}

void
dp_close(struct dp *dp)
{
	if (dp == NULL)
		return;
	dp->ops->close(dp);
	free(dp);
}

int
dp_check(struct dp *dp, const struct dp_table *t)
{
	return dp->ops->check(dp, t);
}

int
dp_apply(struct dp *dp, struct dp_table *want, const struct dp_table *prev)
{
	return dp->ops->apply(dp, want, prev);
}

int
dp_update(struct dp *dp, struct dp_table *want, const struct dp_table *cur)
{
	if (dp->ops->update == NULL)
		return dp->ops->apply(dp, want, cur);
	return dp->ops->update(dp, want, cur);
}

int
dp_read(struct dp *dp, struct dp_table *cur, const struct dp_table *prev)
{
	memset(cur, 0, sizeof *cur);
	return dp->ops->read(dp, cur, prev);
}

int
dp_remove(struct dp *dp, const struct dp_table *prev)
{
	return dp->ops->remove(dp, prev);
}

void
dp_table_free(struct dp_table *t)
{
	size_t i;

	for (i = 0; i < t->nsvc; i++)
		free(t->svc[i].rs);
	free(t->svc);
	t->svc = NULL;
	t->nsvc = 0;
}

/* Arrays grow by doubling at powers of two. */
static void *
grow(void *p, size_t n, size_t size)
{
	if (n != 0 && (n & (n - 1)) != 0)
		return p;
	return realloc(p, (n == 0 ? 1 : n * 2) * size);
}

struct dp_svc *
dp_table_add_svc(struct dp_table *t)
{
	struct dp_svc *s = grow(t->svc, t->nsvc, sizeof *s);

	if (s == NULL)
		return NULL;
	t->svc = s;
	s = &t->svc[t->nsvc++];
	memset(s, 0, sizeof *s);
	return s;
}

struct dp_rs *
dp_svc_add_rs(struct dp_svc *s)
{
	struct dp_rs *r = grow(s->rs, s->nrs, sizeof *r);

	if (r == NULL)
		return NULL;
	s->rs = r;
	r = &s->rs[s->nrs++];
	memset(r, 0, sizeof *r);
	return r;
}

struct dp_svc *
dp_table_find(const struct dp_table *t, const struct addr *vip, uint16_t port,
    int proto)
{
	size_t i;

	for (i = 0; t != NULL && i < t->nsvc; i++)
		if (addr_eq(&t->svc[i].vip, vip) && t->svc[i].port == port &&
		    t->svc[i].proto == proto)
			return &t->svc[i];
	return NULL;
}

struct dp_rs *
dp_svc_find(const struct dp_svc *s, const struct addr *a, uint16_t port)
{
	size_t i;

	for (i = 0; s != NULL && i < s->nrs; i++)
		if (addr_eq(&s->rs[i].addr, a) && s->rs[i].port == port)
			return &s->rs[i];
	return NULL;
}

int
dp_table_copy(struct dp_table *dst, const struct dp_table *src)
{
	size_t i;

	memset(dst, 0, sizeof *dst);
	if (src->nsvc == 0)
		return 0;
	if ((dst->svc = calloc(src->nsvc, sizeof *dst->svc)) == NULL)
		return -1;
	for (i = 0; i < src->nsvc; i++) {
		dst->svc[i] = src->svc[i];
		dst->svc[i].rs = NULL;
		dst->nsvc = i + 1;
		if (src->svc[i].nrs == 0)
			continue;
		dst->svc[i].rs = malloc(src->svc[i].nrs * sizeof(struct dp_rs));
		if (dst->svc[i].rs == NULL) {
			dst->svc[i].nrs = 0;
			dp_table_free(dst);
			errno = ENOMEM;
			return -1;
		}
		memcpy(dst->svc[i].rs, src->svc[i].rs,
		    src->svc[i].nrs * sizeof(struct dp_rs));
	}
	return 0;
}

int
dp_table_set(struct dp_table *dst, const struct dp_table *src)
{
	size_t i;

	if (dst->nsvc != src->nsvc) {
		dp_table_free(dst);
		return dp_table_copy(dst, src);
	}
	for (i = 0; i < src->nsvc; i++) {
		struct dp_rs *rs = dst->svc[i].rs;
		/* dst's array holds at least its count: grow it only past that. */
		if (src->svc[i].nrs > dst->svc[i].nrs || rs == NULL) {
			size_t cap = 1;
			while (cap < src->svc[i].nrs)
				cap *= 2;
			if ((rs = realloc(rs, cap * sizeof *rs)) == NULL) {
				dp_table_free(dst);
				errno = ENOMEM;
				return -1;
			}
		}
		dst->svc[i] = src->svc[i];
		dst->svc[i].rs = rs;
		memcpy(rs, src->svc[i].rs, src->svc[i].nrs * sizeof *rs);
	}
	return 0;
}

static void
svc_line(FILE *f, const char *pfx, const struct dp_svc *s)
{
	char a[ADDR_STRLEN];

	fprintf(f, "%sservice=%s vip=%s port=%u proto=%s sched=%s nrs=%zu\n", pfx,
	    s->name[0] ? s->name : "-", addr_fmt(&s->vip, a, sizeof a), s->port,
	    role_proto_name(s->proto), role_sched_name(s->sched), s->nrs);
}

static void
rs_line(FILE *f, const char *pfx, const struct dp_svc *s, const struct dp_rs *r,
    const char *extra)
{
	char a[ADDR_STRLEN], v[ADDR_STRLEN];

	fprintf(f, "%srs=%s service=%s vip=%s addr=%s port=%u weight=%d", pfx,
	    r->name[0] ? r->name : "-", s->name[0] ? s->name : "-",
	    addr_fmt(&s->vip, v, sizeof v),
	    r->addr.family ? addr_fmt(&r->addr, a, sizeof a) : "-", r->port,
	    r->weight);
	if (r->has_mac)
		fprintf(f, " mac=%02x:%02x:%02x:%02x:%02x:%02x", r->mac[0],
		    r->mac[1], r->mac[2], r->mac[3], r->mac[4], r->mac[5]);
	fprintf(f, "%s\n", extra);
}

int
dp_diff(FILE *f, const struct dp_table *cur, const struct dp_table *want)
{
	size_t i, j;
	int n = 0;
	char extra[64];

	for (i = 0; i < want->nsvc; i++) {
		const struct dp_svc *w = &want->svc[i];
		const struct dp_svc *c = dp_table_find(cur, &w->vip, w->port, w->proto);
		if (c == NULL) {
			svc_line(f, "+ ", w), n++;
		} else if (c->sched != w->sched) {
			fprintf(f, "~ service=%s sched=%s->%s\n", w->name,
			    role_sched_name(c->sched), role_sched_name(w->sched));
			n++;
		}
		for (j = 0; j < w->nrs; j++) {
			const struct dp_rs *r = &w->rs[j];
			const struct dp_rs *o = dp_svc_find(c, &r->addr, r->port);
			if (o == NULL) {
				rs_line(f, "+ ", w, r, ""), n++;
			} else if (o->weight != r->weight) {
				snprintf(extra, sizeof extra, " was=%d", o->weight);
				rs_line(f, "~ ", w, r, extra), n++;
			}
		}
		for (j = 0; c != NULL && j < c->nrs; j++)
			if (dp_svc_find(w, &c->rs[j].addr, c->rs[j].port) == NULL)
				rs_line(f, "- ", c, &c->rs[j], ""), n++;
	}
	for (i = 0; cur != NULL && i < cur->nsvc; i++) {
		const struct dp_svc *c = &cur->svc[i];
		if (dp_table_find(want, &c->vip, c->port, c->proto) == NULL)
			svc_line(f, "- ", c), n++;
	}
	return n;
}

void
dp_print(FILE *f, const struct dp_table *t)
{
	size_t i, j;
	char extra[64];

	for (i = 0; i < t->nsvc; i++) {
		svc_line(f, "", &t->svc[i]);
		for (j = 0; j < t->svc[i].nrs; j++) {
			const struct dp_rs *r = &t->svc[i].rs[j];
			extra[0] = '\0';
			if (r->active || r->inactive)
				snprintf(extra, sizeof extra, " active=%lu inactive=%lu",
				    r->active, r->inactive);
			rs_line(f, "", &t->svc[i], r, extra);
		}
	}
}

/* --- neighbours ------------------------------------------------------- */

struct neigh_q {
	unsigned ifindex;
	struct dp_rs **miss;	/* the servers still without a MAC */
	size_t nmiss;
};

static int
neigh_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, NDA_MAX) > 0)
		tb[type] = attr;
	return MNL_CB_OK;
}

static int
neigh_cb(const struct nlmsghdr *nlh, void *data)
{
	struct neigh_q *q = data;
	const struct ndmsg *nd = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[NDA_MAX + 1] = { 0 };
	size_t i, alen;
	const void *dst;

	if (nd->ndm_ifindex != (int)q->ifindex)
		return MNL_CB_OK;
	if (!(nd->ndm_state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY |
	    NUD_PROBE | NUD_PERMANENT | NUD_NOARP)))
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof *nd, neigh_attr_cb, tb);
	if (tb[NDA_DST] == NULL || tb[NDA_LLADDR] == NULL ||
	    mnl_attr_get_payload_len(tb[NDA_LLADDR]) != 6)
		return MNL_CB_OK;
	dst = mnl_attr_get_payload(tb[NDA_DST]);
	alen = mnl_attr_get_payload_len(tb[NDA_DST]);
	for (i = 0; i < q->nmiss; i++) {
		struct dp_rs *r = q->miss[i];
		if (r->has_mac || r->addr.family != nd->ndm_family ||
		    addr_len(&r->addr) != alen ||
		    memcmp(dst, r->addr.u.b, alen) != 0)
			continue;
		memcpy(r->mac, mnl_attr_get_payload(tb[NDA_LLADDR]), 6);
		r->has_mac = 1;
	}
	return MNL_CB_OK;
}

static int
neigh_dump(struct mnl_socket *nl, struct neigh_q *q, int family)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct ndmsg *nd;
	unsigned seq = (unsigned)time(NULL), port = mnl_socket_get_portid(nl);
	int ret;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	nd = mnl_nlmsg_put_extra_header(nlh, sizeof *nd);
	nd->ndm_family = (unsigned char)family;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	while ((ret = (int)mnl_socket_recvfrom(nl, buf, sizeof buf)) > 0) {
		ret = mnl_cb_run(buf, (size_t)ret, seq, port, neigh_cb, q);
		if (ret <= MNL_CB_STOP)
			break;
	}
	return ret == -1 ? -1 : 0;
}

/*
 * The neighbour entry of r alone (RTM_GETNEIGH for one address, Linux 5.0
 * and later): 0 (found or not), -1 when the kernel cannot (then dump).
 */
static int
neigh_get(struct mnl_socket *nl, struct neigh_q *q, struct dp_rs *r)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct ndmsg *nd;
	unsigned seq = (unsigned)time(NULL), port = mnl_socket_get_portid(nl);
	int ret;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	nd = mnl_nlmsg_put_extra_header(nlh, sizeof *nd);
	nd->ndm_family = (unsigned char)r->addr.family;
	nd->ndm_ifindex = (int)q->ifindex;
	mnl_attr_put(nlh, NDA_DST, addr_len(&r->addr), r->addr.u.b);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	if ((ret = (int)mnl_socket_recvfrom(nl, buf, sizeof buf)) <= 0)
		return -1;
	ret = mnl_cb_run(buf, (size_t)ret, seq, port, neigh_cb, q);
	if (ret == -1 && errno == ENOENT)
		return 0;
	return ret == -1 ? -1 : 0;
}

int
dp_neigh(unsigned ifindex, struct dp_table *t)
{
	struct mnl_socket *nl;
	struct neigh_q q = { ifindex, NULL, 0 };
	size_t i, j, n = 0;
	int e, rc, missing = 0, v4 = 0, v6 = 0;

	for (i = 0; i < t->nsvc; i++)
		for (j = 0; j < t->svc[i].nrs; j++)
			if (!t->svc[i].rs[j].has_mac && t->svc[i].rs[j].weight > 0) {
				v4 |= t->svc[i].rs[j].addr.family == AF_INET;
				v6 |= t->svc[i].rs[j].addr.family == AF_INET6;
				n++;
			}
	if (!v4 && !v6)
		return 0;
	/* Each neighbour is matched against the missing ones only. */
	if ((q.miss = calloc(n, sizeof *q.miss)) == NULL)
		return -1;
	for (i = 0; i < t->nsvc; i++)
		for (j = 0; j < t->svc[i].nrs; j++)
			if (!t->svc[i].rs[j].has_mac && t->svc[i].rs[j].weight > 0)
				q.miss[q.nmiss++] = &t->svc[i].rs[j];
	if ((nl = mnl_socket_open(NETLINK_ROUTE)) == NULL) {
		free(q.miss);
		return -1;
	}
	rc = mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID);
	/* A server or two (one coming back): ask for them, not for all. */
	for (i = 0; rc == 0 && q.nmiss <= 8 && i < q.nmiss; i++)
		if (neigh_get(nl, &q, q.miss[i]) == -1)
			break;
	if (rc == 0 && (q.nmiss > 8 || i < q.nmiss) &&
	    ((v4 && neigh_dump(nl, &q, AF_INET) == -1) ||
	    (v6 && neigh_dump(nl, &q, AF_INET6) == -1)))
		rc = -1;
	e = errno;
	mnl_socket_close(nl);
	free(q.miss);
	if (rc == -1) {
		errno = e;
		return -1;
	}
	for (i = 0; i < t->nsvc; i++)
		for (j = 0; j < t->svc[i].nrs; j++)
			missing += !t->svc[i].rs[j].has_mac && t->svc[i].rs[j].weight > 0;
	return missing;
}

void
dp_neigh_kick(const struct addr *a)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	memset(&ss, 0, sizeof ss);
	if (a->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(9);
		s4->sin_addr = a->u.v4;
		len = sizeof *s4;
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(9);
		s6->sin6_addr = a->u.v6;
		len = sizeof *s6;
	}
	if ((fd = socket(a->family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1)
		return;
	(void)sendto(fd, "", 0, MSG_DONTWAIT, (struct sockaddr *)&ss, len);
	close(fd);
}
