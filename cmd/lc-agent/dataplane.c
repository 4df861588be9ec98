/*
 * lc-agent: the load balancer's dataplane table as the kernel holds it,
 * read back through lib/dp with what lc-role set up (its state file:
 * which dataplane, which interface, names and MACs) as the key.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atomic.h"
#include "dp.h"
#include "err.h"
#include "kv.h"
#include "lcagent.h"

#define DP_CACHE_MS 250

static struct dpview view;
static struct timespec read_at;
static int have_read;
static struct dp *dp;
static char dp_name[8], dp_if[IF_NAMESIZE];

static int
mac_parse(const char *s, unsigned char *m)
{
	unsigned b[6];
	int i, n = 0;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n", &b[0], &b[1], &b[2], &b[3],
	    &b[4], &b[5], &n) != 6 || s[n] != '\0')
		return -1;
	for (i = 0; i < 6; i++)
		m[i] = (unsigned char)b[i];
	return 0;
}

/* One record of lc-role's state file (lc-role(8) FILES); 0 or -1. */
static int
state_line(const struct kv_rec *r, struct dp_table *t, char *name, size_t namelen,
    char *ifname, size_t iflen, int *lb)
{
	const char *k = r->v[0].key, *v;

	if (strcmp(k, "state") == 0) {
		v = kv_get(r, "role");
		*lb = v != NULL && (strcmp(v, "lb") == 0 || strcmp(v, "bs") == 0);
		snprintf(name, namelen, "%s", (v = kv_get(r, "dp")) ? v : "");
		snprintf(ifname, iflen, "%s", (v = kv_get(r, "if")) ? v : "");
		return 0;
	}
	if (strcmp(k, "service") == 0) {
		const char *vip = kv_get(r, "vip"), *port = kv_get(r, "port");
		const char *proto = kv_get(r, "proto"), *sched = kv_get(r, "sched");
		struct dp_svc *s;
		int i;
		if (!vip || !port || !proto || !sched || !(s = dp_table_add_svc(t)))
			return -1;
		snprintf(s->name, sizeof s->name, "%s", r->v[0].val);
		if (addr_parse(vip, &s->vip) == -1)
			return -1;
		s->port = (uint16_t)atoi(port);
		s->proto = strcmp(proto, "udp") == 0 ? IPPROTO_UDP : IPPROTO_TCP;
		for (i = 0; i < 4; i++)
			if (strcmp(sched, role_sched_name(i)) == 0)
				s->sched = i;
		return 0;
	}
	if (strcmp(k, "rs") == 0) {
		const char *a = kv_get(r, "addr"), *port = kv_get(r, "port");
		const char *w = kv_get(r, "weight"), *mac = kv_get(r, "mac");
		struct dp_rs *d;
		if (t->nsvc == 0 || !a || !port || !w ||
		    !(d = dp_svc_add_rs(&t->svc[t->nsvc - 1])))
			return -1;
		snprintf(d->name, sizeof d->name, "%s", r->v[0].val);
		if (addr_parse(a, &d->addr) == -1)
			return -1;
		d->port = (uint16_t)atoi(port);
		d->weight = atoi(w);
		if (mac != NULL) {
			if (mac_parse(mac, d->mac) == -1)
				return -1;
			d->has_mac = 1;
		}
		return 0;
	}
	return 0;	/* addr, sysctl: not ours to read */
}

/*
 * What lc-role set up: 1 a balancer's (or backup's) table with its
 * dataplane, 0 none, -1 an unreadable file.
 */
static int
state_load(struct dp_table *t, char *name, size_t namelen, char *ifname,
    size_t iflen)
{
	char *text, *line, *save = NULL;
	struct kv_rec rec;
	const char *why;
	size_t len;
	int lb = 0, rc = 0;

	memset(t, 0, sizeof *t);
	name[0] = ifname[0] = '\0';
	if ((text = atomic_read(conf.lcrolestate, 1 << 24, &len)) == NULL)
		return errno == ENOENT ? 0 : -1;
	for (line = strtok_r(text, "\n", &save); line != NULL && rc == 0;
	    line = strtok_r(NULL, "\n", &save)) {
		if (kv_parse(&rec, line, &why) == -1) {
			rc = -1;
			break;
		}
		if (rec.n > 0)
			rc = state_line(&rec, t, name, namelen, ifname, iflen, &lb);
		kv_free(&rec);
	}
	free(text);
	if (rc == -1) {
		dp_table_free(t);
		return -1;
	}
	if (!lb || name[0] == '\0') {
		dp_table_free(t);
		return 0;
	}
	return 1;
}

static void
read_table(void)
{
	struct dp_table prev;
	char name[sizeof dp_name], ifname[sizeof dp_if], why[256];
	int x;

	dp_table_free(&view.t);
	view.kind = DPV_NONE;
	view.why[0] = '\0';
	if ((x = state_load(&prev, name, sizeof name, ifname, sizeof ifname)) <= 0) {
		if (x < 0) {
			view.kind = DPV_UNREADABLE;
			snprintf(view.why, sizeof view.why, "%.200s: unreadable",
			    conf.lcrolestate);
		}
		return;
	}
	if (dp != NULL && (strcmp(name, dp_name) != 0 || strcmp(ifname, dp_if) != 0)) {
		dp_close(dp);
		dp = NULL;
	}
	if (dp == NULL) {
		if ((dp = dp_open(name, ifname[0] ? ifname : NULL, why, sizeof why)) == NULL) {
			view.kind = DPV_UNREADABLE;
			snprintf(view.why, sizeof view.why, "%s", why);
			dp_table_free(&prev);
			return;
		}
		snprintf(dp_name, sizeof dp_name, "%s", name);
		snprintf(dp_if, sizeof dp_if, "%s", ifname);
	}
	if (dp_read(dp, &view.t, &prev) == -1) {
		view.kind = DPV_UNREADABLE;
		snprintf(view.why, sizeof view.why, "%s table: %.200s", name,
		    dp->why[0] ? dp->why : strerror(errno));
		dp_table_free(&view.t);
		/* Start afresh next time: the handle may be what is wrong. */
		dp_close(dp);
		dp = NULL;
	} else {
		view.kind = strcmp(name, "ipvs") == 0 ? DPV_IPVS : DPV_NFT;
	}
	dp_table_free(&prev);
}

const struct dpview *
dpview_get(void)
{
	struct timespec now;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - read_at.tv_sec) * 1000 +
	    (now.tv_nsec - read_at.tv_nsec) / 1000000;
	if (!have_read || ms >= DP_CACHE_MS || ms < 0) {
		read_table();
		read_at = now;
		have_read = 1;
	}
	return &view;
}

int
dpview_rs(const struct dpview *v, const struct role *r, const struct role_host *h,
    int *weight, unsigned long *active, unsigned long *inactive)
{
	size_t k;
	int in = 0, out = 0;

	*weight = -1;
	*active = *inactive = 0;
	if (v == NULL || (v->kind != DPV_NFT && v->kind != DPV_IPVS))
		return DPR_UNKNOWN;
	for (k = 0; k < r->nsvc; k++) {
		const struct role_svc *rs = &r->svc[k];
		struct dp_svc *s = dp_table_find(&v->t, &rs->vip, rs->port, rs->proto);
		struct dp_rs *d = s ? dp_svc_find(s, &h->addr, h->port ? h->port : rs->port) :
		    NULL;
		if (d == NULL) {
			out++;
			continue;
		}
		in++;
		if (*weight < 0)
			*weight = d->weight;
		*active += d->active;
		*inactive += d->inactive;
	}
	return in > 0 && out == 0 ? DPR_PRESENT : DPR_ABSENT;
}
