/*
 * lc-agent: the load balancer's dataplane table as the kernel holds it,
 * read back through lib/dp with what lc-role set up (its state file:
 * which dataplane, which interface, names and MACs) as the key.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dp.h"
#include "err.h"
#include "lcagent.h"
#include "role_state.h"

#define DP_CACHE_MS 250

static struct dpview view;
static struct timespec read_at;
static int have_read;
static struct dp *dp;
static char dp_name[8], dp_if[IF_NAMESIZE];

/*
 * What lc-role set up (its state file, read with lib/role_state): 1 a
 * balancer's (or backup's) table with its dataplane, 0 none, -1 an
 * unreadable file.
 */
static int
state_table(struct dp_table *t, char *name, size_t namelen, char *ifname,
    size_t iflen)
{
	struct role_state st;
	char why[256];

	memset(t, 0, sizeof *t);
	name[0] = ifname[0] = '\0';
	if (role_state_load(conf.lcrolestate, &st, why, sizeof why) == -1)
		return -1;
	if ((st.role != ROLE_LB && st.role != ROLE_BS) || st.dp[0] == '\0') {
		role_state_free(&st);
		return 0;
	}
	snprintf(name, namelen, "%s", st.dp);
	snprintf(ifname, iflen, "%s", st.ifname);
	*t = st.table;
	memset(&st.table, 0, sizeof st.table);
	role_state_free(&st);
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
	if ((x = state_table(&prev, name, sizeof name, ifname, sizeof ifname)) <= 0) {
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
