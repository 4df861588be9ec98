/*
 * IPVS dataplane: virtual services and their real servers over generic
 * netlink (family "IPVS") with libmnl, direct routing, schedulers rr,
 * wrr, lc and wlc. apply diffs against the kernel's table, so real
 * servers that stay keep their connections; weight 0 quiesces (IPVS sends
 * no new connections, established ones drain). Services not ours are
 * never touched: only those in the desired or the previous table.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/ip_vs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dp.h"
#include "dp_ipvs.h"

/* About 100 changes: their acks must all fit the socket receive buffer. */
#define BATCH_SIZE (16 * 1024)

struct ipvs_priv {
	struct mnl_socket *nl;
	unsigned portid;
	uint16_t family;
	unsigned seq;
	/* Real-server changes go out many per sendto, acks read after. */
	char batch[BATCH_SIZE];
	size_t blen;
	unsigned bn;
};

static char *
put_hdr(struct ipvs_priv *p, char *buf, uint8_t cmd, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = p->family;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++p->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof *g);
	g->cmd = cmd;
	g->version = IPVS_GENL_VERSION;
	return buf;
}

/* Send nlh and run cb over the answers until the ack or the dump's end. */
static int
talk(struct ipvs_priv *p, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int ret;

	if (mnl_socket_sendto(p->nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	while ((ret = (int)mnl_socket_recvfrom(p->nl, buf, sizeof buf)) > 0) {
		ret = mnl_cb_run(buf, (size_t)ret, nlh->nlmsg_seq, p->portid, cb, data);
		if (ret <= MNL_CB_STOP)
			break;
	}
	return ret < 0 ? -1 : 0;
}

static int
family_attr_cb(const struct nlattr *attr, void *data)
{
	uint16_t *id = data;

	if (mnl_attr_get_type(attr) == CTRL_ATTR_FAMILY_ID &&
	    mnl_attr_validate(attr, MNL_TYPE_U16) == 0)
		*id = mnl_attr_get_u16(attr);
	return MNL_CB_OK;
}

static int
family_cb(const struct nlmsghdr *nlh, void *data)
{
	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), family_attr_cb, data);
	return MNL_CB_OK;
}

static int
ipvs_open(struct dp *dp)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct ipvs_priv *p;
	struct nlmsghdr *nlh;
	struct genlmsghdr *g;
	uint16_t id = 0;
	int e;

	if ((p = calloc(1, sizeof *p)) == NULL)
		return -1;
	p->seq = (unsigned)time(NULL);
	if ((p->nl = mnl_socket_open(NETLINK_GENERIC)) == NULL ||
	    mnl_socket_bind(p->nl, 0, MNL_SOCKET_AUTOPID) == -1) {
		e = errno;
		snprintf(dp->why, sizeof dp->why, "generic netlink: %s", strerror(e));
		goto fail;
	}
	p->portid = mnl_socket_get_portid(p->nl);
	/* Acks without the request copied back: a batch's fit the buffer. */
	{
		int one = 1;
		(void)mnl_socket_setsockopt(p->nl, NETLINK_CAP_ACK, &one, sizeof one);
	}
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++p->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof *g);
	g->cmd = CTRL_CMD_GETFAMILY;
	g->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, IPVS_GENL_NAME);
	if (talk(p, nlh, family_cb, &id) == -1 || id == 0) {
		e = ENOENT;
		snprintf(dp->why, sizeof dp->why, "this kernel has no IPVS");
		goto fail;
	}
	p->family = id;
	dp->priv = p;
	return 0;
fail:
	if (p->nl != NULL)
		mnl_socket_close(p->nl);
	free(p);
	errno = e;
	return -1;
}

static void
ipvs_close(struct dp *dp)
{
	struct ipvs_priv *p = dp->priv;

	if (p != NULL) {
		mnl_socket_close(p->nl);
		free(p);
	}
	dp->priv = NULL;
}

static int
ipvs_check(struct dp *dp, const struct dp_table *t)
{
	(void)dp;
	(void)t;
	return 0;
}

static void
put_addr(struct nlmsghdr *nlh, int type, const struct addr *a)
{
	unsigned char u[16];	/* union nf_inet_addr */

	memset(u, 0, sizeof u);
	memcpy(u, a->u.b, addr_len(a));
	mnl_attr_put(nlh, type, sizeof u, u);
}

/* The service's key attributes, and with full the settings too. */
static void
put_svc(struct nlmsghdr *nlh, const struct dp_svc *s, int full)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, IPVS_CMD_ATTR_SERVICE);
	struct ip_vs_flags fl = { 0, ~0u };

	mnl_attr_put_u16(nlh, IPVS_SVC_ATTR_AF, (uint16_t)s->vip.family);
	mnl_attr_put_u16(nlh, IPVS_SVC_ATTR_PROTOCOL, (uint16_t)s->proto);
	put_addr(nlh, IPVS_SVC_ATTR_ADDR, &s->vip);
	mnl_attr_put_u16(nlh, IPVS_SVC_ATTR_PORT, htons(s->port));
	if (full) {
		mnl_attr_put_strz(nlh, IPVS_SVC_ATTR_SCHED_NAME,
		    role_sched_name(s->sched));
		mnl_attr_put(nlh, IPVS_SVC_ATTR_FLAGS, sizeof fl, &fl);
		mnl_attr_put_u32(nlh, IPVS_SVC_ATTR_TIMEOUT, 0);
		mnl_attr_put_u32(nlh, IPVS_SVC_ATTR_NETMASK,
		    s->vip.family == AF_INET ? 0xffffffffu : 128);
	}
	mnl_attr_nest_end(nlh, n);
}

static void
put_dest(struct nlmsghdr *nlh, const struct dp_rs *r, int full)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, IPVS_CMD_ATTR_DEST);

	put_addr(nlh, IPVS_DEST_ATTR_ADDR, &r->addr);
	mnl_attr_put_u16(nlh, IPVS_DEST_ATTR_PORT, htons(r->port));
	mnl_attr_put_u16(nlh, IPVS_DEST_ATTR_ADDR_FAMILY, (uint16_t)r->addr.family);
	if (full) {
		mnl_attr_put_u32(nlh, IPVS_DEST_ATTR_FWD_METHOD, IP_VS_CONN_F_DROUTE);
		mnl_attr_put_u32(nlh, IPVS_DEST_ATTR_WEIGHT, (uint32_t)r->weight);
		mnl_attr_put_u32(nlh, IPVS_DEST_ATTR_U_THRESH, 0);
		mnl_attr_put_u32(nlh, IPVS_DEST_ATTR_L_THRESH, 0);
	}
	mnl_attr_nest_end(nlh, n);
}

static int
svc_cmd(struct dp *dp, uint8_t cmd, const struct dp_svc *s)
{
	struct ipvs_priv *p = dp->priv;
	char buf[MNL_SOCKET_BUFFER_SIZE], a[ADDR_STRLEN];
	struct nlmsghdr *nlh = (struct nlmsghdr *)put_hdr(p, buf, cmd, NLM_F_ACK);

	put_svc(nlh, s, cmd != IPVS_CMD_DEL_SERVICE);
	if (talk(p, nlh, NULL, NULL) == 0)
		return 0;
	snprintf(dp->why, sizeof dp->why, "IPVS: service %s %s port %u: %s",
	    s->name[0] ? s->name : "-", addr_fmt(&s->vip, a, sizeof a), s->port,
	    strerror(errno));
	return -1;
}

/* Send the batch and read one ack per message; the first error wins. */
static int
flush(struct dp *dp)
{
	struct ipvs_priv *p = dp->priv;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned acks = 0;
	int err = 0;
	ssize_t n;

	if (p->bn == 0)
		return 0;
	if (mnl_socket_sendto(p->nl, p->batch, p->blen) < 0) {
		err = errno;
		goto out;
	}
	errno = 0;
	while (acks < p->bn && (n = mnl_socket_recvfrom(p->nl, buf, sizeof buf)) > 0) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		int len = (int)n;
		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			const struct nlmsgerr *e;
			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			acks++;
			e = mnl_nlmsg_get_payload(nlh);
			if (e->error != 0 && err == 0)
				err = -e->error;
		}
	}
	if (acks < p->bn && err == 0)
		err = errno ? errno : EIO;
out:
	p->blen = 0;
	p->bn = 0;
	if (err == 0)
		return 0;
	snprintf(dp->why, sizeof dp->why, "IPVS: real server change: %s",
	    strerror(err));
	errno = err;
	return -1;
}

static int
dest_cmd(struct dp *dp, uint8_t cmd, const struct dp_svc *s, const struct dp_rs *r)
{
	struct ipvs_priv *p = dp->priv;
	struct nlmsghdr *nlh;

	if (p->blen + 512 > sizeof p->batch && flush(dp) == -1)
		return -1;
	nlh = (struct nlmsghdr *)put_hdr(p, p->batch + p->blen, cmd, NLM_F_ACK);
	put_svc(nlh, s, 0);
	put_dest(nlh, r, cmd != IPVS_CMD_DEL_DEST);
	p->blen += NLMSG_ALIGN(nlh->nlmsg_len);
	p->bn++;
	return 0;
}

/* --- read back ---------------------------------------------------------- */

struct nest_tb {
	const struct nlattr **tb;
	int max;
};

static int
tb_cb(const struct nlattr *attr, void *data)
{
	struct nest_tb *t = data;
	int type = mnl_attr_get_type(attr);

	if (type <= t->max)
		t->tb[type] = attr;
	return MNL_CB_OK;
}

static void
get_addr(const struct nlattr *at, int family, struct addr *a)
{
	memset(a, 0, sizeof *a);
	a->family = family;
	a->plen = family == AF_INET ? 32 : 128;
	if (at != NULL && mnl_attr_get_payload_len(at) >= addr_len(a))
		memcpy(a->u.b, mnl_attr_get_payload(at), addr_len(a));
}

static int
svc_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dp_table *t = data;
	const struct nlattr *top[IPVS_CMD_ATTR_MAX + 1] = { 0 };
	const struct nlattr *tb[IPVS_SVC_ATTR_MAX + 1] = { 0 };
	struct nest_tb nt = { top, IPVS_CMD_ATTR_MAX }, ns = { tb, IPVS_SVC_ATTR_MAX };
	struct dp_svc *s;
	const char *sched;
	int i;

	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), tb_cb, &nt);
	if (top[IPVS_CMD_ATTR_SERVICE] == NULL)
		return MNL_CB_OK;
	mnl_attr_parse_nested(top[IPVS_CMD_ATTR_SERVICE], tb_cb, &ns);
	/* fwmark services are not ours. */
	if (tb[IPVS_SVC_ATTR_AF] == NULL || tb[IPVS_SVC_ATTR_PORT] == NULL ||
	    tb[IPVS_SVC_ATTR_PROTOCOL] == NULL || tb[IPVS_SVC_ATTR_ADDR] == NULL ||
	    (tb[IPVS_SVC_ATTR_FWMARK] && mnl_attr_get_u32(tb[IPVS_SVC_ATTR_FWMARK])))
		return MNL_CB_OK;
	if ((s = dp_table_add_svc(t)) == NULL)
		return MNL_CB_ERROR;
	get_addr(tb[IPVS_SVC_ATTR_ADDR], mnl_attr_get_u16(tb[IPVS_SVC_ATTR_AF]), &s->vip);
	s->port = ntohs(mnl_attr_get_u16(tb[IPVS_SVC_ATTR_PORT]));
	s->proto = mnl_attr_get_u16(tb[IPVS_SVC_ATTR_PROTOCOL]);
	s->sched = SCHED_WRR;
	if (tb[IPVS_SVC_ATTR_SCHED_NAME] != NULL) {
		sched = mnl_attr_get_str(tb[IPVS_SVC_ATTR_SCHED_NAME]);
		for (i = 0; i < 4; i++)
			if (strcmp(sched, role_sched_name(i)) == 0)
				s->sched = i;
	}
	return MNL_CB_OK;
}

struct dest_q {
	struct dp_svc *s;
};

static int
dest_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dest_q *q = data;
	const struct nlattr *top[IPVS_CMD_ATTR_MAX + 1] = { 0 };
	const struct nlattr *tb[IPVS_DEST_ATTR_MAX + 1] = { 0 };
	struct nest_tb nt = { top, IPVS_CMD_ATTR_MAX }, nd = { tb, IPVS_DEST_ATTR_MAX };
	struct dp_rs *r;
	int fam;

	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), tb_cb, &nt);
	if (top[IPVS_CMD_ATTR_DEST] == NULL)
		return MNL_CB_OK;
	mnl_attr_parse_nested(top[IPVS_CMD_ATTR_DEST], tb_cb, &nd);
	if (tb[IPVS_DEST_ATTR_ADDR] == NULL || tb[IPVS_DEST_ATTR_PORT] == NULL)
		return MNL_CB_OK;
	if ((r = dp_svc_add_rs(q->s)) == NULL)
		return MNL_CB_ERROR;
	fam = tb[IPVS_DEST_ATTR_ADDR_FAMILY] ?
	    mnl_attr_get_u16(tb[IPVS_DEST_ATTR_ADDR_FAMILY]) : q->s->vip.family;
	get_addr(tb[IPVS_DEST_ATTR_ADDR], fam, &r->addr);
	r->port = ntohs(mnl_attr_get_u16(tb[IPVS_DEST_ATTR_PORT]));
	if (tb[IPVS_DEST_ATTR_WEIGHT])
		r->weight = (int)mnl_attr_get_u32(tb[IPVS_DEST_ATTR_WEIGHT]);
	if (tb[IPVS_DEST_ATTR_ACTIVE_CONNS])
		r->active = mnl_attr_get_u32(tb[IPVS_DEST_ATTR_ACTIVE_CONNS]);
	if (tb[IPVS_DEST_ATTR_INACT_CONNS])
		r->inactive = mnl_attr_get_u32(tb[IPVS_DEST_ATTR_INACT_CONNS]);
	return MNL_CB_OK;
}

/* The whole kernel table (every service, ours or not). */
static int
read_all(struct dp *dp, struct dp_table *cur)
{
	struct ipvs_priv *p = dp->priv;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	size_t i;

	memset(cur, 0, sizeof *cur);
	nlh = (struct nlmsghdr *)put_hdr(p, buf, IPVS_CMD_GET_SERVICE, NLM_F_DUMP);
	if (talk(p, nlh, svc_cb, cur) == -1)
		goto fail;
	for (i = 0; i < cur->nsvc; i++) {
		struct dest_q q = { &cur->svc[i] };
		nlh = (struct nlmsghdr *)put_hdr(p, buf, IPVS_CMD_GET_DEST, NLM_F_DUMP);
		put_svc(nlh, &cur->svc[i], 0);
		if (talk(p, nlh, dest_cb, &q) == -1)
			goto fail;
	}
	return 0;
fail:
	snprintf(dp->why, sizeof dp->why, "IPVS: unable to read the table: %s",
	    strerror(errno));
	dp_table_free(cur);
	return -1;
}

static int
ipvs_read(struct dp *dp, struct dp_table *cur, const struct dp_table *prev)
{
	struct dp_table all;
	size_t i, j;

	if (read_all(dp, &all) == -1)
		return -1;
	/* Show ours only, named as we named them. */
	for (i = 0; i < all.nsvc; i++) {
		struct dp_svc *ps = dp_table_find(prev, &all.svc[i].vip,
		    all.svc[i].port, all.svc[i].proto), *s;
		if (prev != NULL && ps == NULL)
			continue;
		if ((s = dp_table_add_svc(cur)) == NULL) {
			dp_table_free(&all);
			return -1;
		}
		*s = all.svc[i];
		all.svc[i].rs = NULL;
		all.svc[i].nrs = 0;
		if (ps == NULL)
			continue;
		memcpy(s->name, ps->name, sizeof s->name);
		for (j = 0; j < s->nrs; j++) {
			struct dp_rs *pr = dp_svc_find(ps, &s->rs[j].addr, s->rs[j].port);
			if (pr != NULL)
				memcpy(s->rs[j].name, pr->name, sizeof pr->name);
		}
	}
	dp_table_free(&all);
	return 0;
}

static int
ipvs_apply(struct dp *dp, struct dp_table *want, const struct dp_table *prev)
{
	struct dp_table cur;
	size_t i, j;
	int rc = -1;

	if (read_all(dp, &cur) == -1)
		return -1;
	for (i = 0; i < want->nsvc; i++) {
		const struct dp_svc *w = &want->svc[i];
		struct dp_svc *c = dp_table_find(&cur, &w->vip, w->port, w->proto);
		if (c == NULL) {
			if (svc_cmd(dp, IPVS_CMD_NEW_SERVICE, w) == -1)
				goto out;
		} else if (c->sched != w->sched &&
		    svc_cmd(dp, IPVS_CMD_SET_SERVICE, w) == -1) {
			goto out;
		}
		/* New servers first, then weights, then the ones that leave. */
		for (j = 0; j < w->nrs; j++) {
			struct dp_rs *o = dp_svc_find(c, &w->rs[j].addr, w->rs[j].port);
			if (o == NULL) {
				if (dest_cmd(dp, IPVS_CMD_NEW_DEST, w, &w->rs[j]) == -1)
					goto out;
			} else if (o->weight != w->rs[j].weight &&
			    dest_cmd(dp, IPVS_CMD_SET_DEST, w, &w->rs[j]) == -1) {
				goto out;
			}
		}
		for (j = 0; c != NULL && j < c->nrs; j++)
			if (dp_svc_find(w, &c->rs[j].addr, c->rs[j].port) == NULL &&
			    dest_cmd(dp, IPVS_CMD_DEL_DEST, w, &c->rs[j]) == -1)
				goto out;
		if (flush(dp) == -1)
			goto out;
	}
	/* Services we set up before and want no more. */
	for (i = 0; prev != NULL && i < prev->nsvc; i++) {
		const struct dp_svc *o = &prev->svc[i];
		if (dp_table_find(want, &o->vip, o->port, o->proto) == NULL &&
		    dp_table_find(&cur, &o->vip, o->port, o->proto) != NULL &&
		    svc_cmd(dp, IPVS_CMD_DEL_SERVICE, o) == -1)
			goto out;
	}
	rc = 0;
out:
	((struct ipvs_priv *)dp->priv)->blen = 0;
	((struct ipvs_priv *)dp->priv)->bn = 0;
	dp_table_free(&cur);
	if (rc == -1)
		errno = EIO;
	return rc;
}

static int
ipvs_remove(struct dp *dp, const struct dp_table *prev)
{
	struct dp_table cur;
	size_t i;
	int rc = 0;

	if (prev == NULL || prev->nsvc == 0)
		return 0;
	if (read_all(dp, &cur) == -1)
		return -1;
	for (i = 0; i < prev->nsvc; i++) {
		const struct dp_svc *o = &prev->svc[i];
		if (dp_table_find(&cur, &o->vip, o->port, o->proto) != NULL &&
		    svc_cmd(dp, IPVS_CMD_DEL_SERVICE, o) == -1)
			rc = -1;
	}
	dp_table_free(&cur);
	return rc;
}

/*
 * r's counterpart in s: at index j when the tables are in the same order
 * (an event changes a server or two: no quadratic search over 1,000).
 */
static const struct dp_rs *
same_at(const struct dp_svc *s, size_t j, const struct dp_rs *r)
{
	if (j < s->nrs && s->rs[j].port == r->port &&
	    addr_eq(&s->rs[j].addr, &r->addr))
		return &s->rs[j];
	return dp_svc_find(s, &r->addr, r->port);
}

/*
 * One event: cur is what we applied last, so no read back; each changed
 * real server is one NEW_DEST, SET_DEST or DEL_DEST, all in one sendto.
 * Anything else (services, schedulers) or a refusal (the table was
 * flushed or edited) goes the long way, read back and diffed.
 */
static int
ipvs_update(struct dp *dp, struct dp_table *want, const struct dp_table *cur)
{
	struct ipvs_priv *p = dp->priv;
	size_t i, j;

	if (cur == NULL || cur->nsvc != want->nsvc)
		return ipvs_apply(dp, want, cur);
	for (i = 0; i < want->nsvc; i++) {
		const struct dp_svc *w = &want->svc[i];
		const struct dp_svc *c = dp_table_find(cur, &w->vip, w->port, w->proto);
		if (c == NULL || c->sched != w->sched)
			return ipvs_apply(dp, want, cur);
	}
	for (i = 0; i < want->nsvc; i++) {
		const struct dp_svc *w = &want->svc[i];
		const struct dp_svc *c = dp_table_find(cur, &w->vip, w->port, w->proto);
		for (j = 0; j < w->nrs; j++) {
			const struct dp_rs *o = same_at(c, j, &w->rs[j]);
			if (o == NULL) {
				if (dest_cmd(dp, IPVS_CMD_NEW_DEST, w, &w->rs[j]) == -1)
					goto slow;
			} else if (o->weight != w->rs[j].weight &&
			    dest_cmd(dp, IPVS_CMD_SET_DEST, w, &w->rs[j]) == -1) {
				goto slow;
			}
		}
		for (j = 0; j < c->nrs; j++)
			if (same_at(w, j, &c->rs[j]) == NULL &&
			    dest_cmd(dp, IPVS_CMD_DEL_DEST, w, &c->rs[j]) == -1)
				goto slow;
	}
	if (flush(dp) == 0)
		return 0;
slow:
	p->blen = 0;
	p->bn = 0;
	return ipvs_apply(dp, want, cur);
}

const struct dp_ops dp_ipvs_ops = {
	"ipvs", ipvs_open, ipvs_close, ipvs_check, ipvs_apply, ipvs_read, ipvs_remove,
	ipvs_update,
};
