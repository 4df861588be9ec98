/* IPVS dataplane over generic netlink (placeholder until written). */
#include <errno.h>
#include <stdio.h>

#include "dp.h"

static int
ipvs_open(struct dp *dp)
{
	snprintf(dp->why, sizeof dp->why, "this kernel has no IPVS");
	errno = ENOENT;
	return -1;
}

static void ipvs_close(struct dp *dp) { (void)dp; }
static int ipvs_check(struct dp *dp, const struct dp_table *t) { return 0; }
static int ipvs_apply(struct dp *dp, struct dp_table *w, const struct dp_table *p) { return -1; }
static int ipvs_read(struct dp *dp, struct dp_table *c, const struct dp_table *p) { return -1; }
static int ipvs_remove(struct dp *dp, const struct dp_table *p) { return -1; }

const struct dp_ops dp_ipvs_ops = {
	"ipvs", ipvs_open, ipvs_close, ipvs_check, ipvs_apply, ipvs_read, ipvs_remove,
};
