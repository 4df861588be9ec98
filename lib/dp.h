/*
 * Load-balancer dataplanes behind one interface: apply a desired table of
 * virtual services (each with its real servers and weights), read back the
 * one in the kernel, remove what we set up. Two backends: IPVS over
 * generic netlink (dp_ipvs) and nftables netdev ingress DR (dp_nft).
 * Only objects this module created are ever changed or removed.
 */
#ifndef NONSTOP_DP_H
#define NONSTOP_DP_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"
#include "role.h"

struct dp_rs {
	char name[ROLE_NAMELEN];	/* may be empty on read back */
	struct addr addr;		/* family 0 when unknown (nft read) */
	uint16_t port;
	int weight;			/* 0: quiesced, no new connections */
	unsigned char mac[6];		/* nft: filled by dp_apply */
	int has_mac;
	unsigned long active, inactive;	/* connections, on read back (ipvs) */
};

struct dp_svc {
	char name[ROLE_NAMELEN];
	struct addr vip;
	uint16_t port;
	int proto;
	enum role_sched sched;
	struct dp_rs *rs;
	size_t nrs;
};

struct dp_table {
	struct dp_svc *svc;
	size_t nsvc;
};

struct dp;

struct dp_ops {
	const char *name;
	int (*open)(struct dp *);
	void (*close)(struct dp *);
	/* 0 if the table can be served, else -1 EINVAL with dp->why. */
	int (*check)(struct dp *, const struct dp_table *);
	/* Make the kernel's table equal want; prev is what we set last. */
	int (*apply)(struct dp *, struct dp_table *want,
	    const struct dp_table *prev);
	int (*read)(struct dp *, struct dp_table *cur, const struct dp_table *prev);
	/* Remove the services of prev (everything ours when prev is NULL). */
	int (*remove)(struct dp *, const struct dp_table *prev);
	/* Like apply, sending only what differs from cur; NULL: apply. */
	int (*update)(struct dp *, struct dp_table *want,
	    const struct dp_table *cur);
};

struct dp {
	const struct dp_ops *ops;
	void *priv;
	char ifname[IF_NAMESIZE];	/* the balancer's interface */
	unsigned ifindex;
	int lenient;			/* nft: leave out servers without a MAC */
	char why[256];			/* the last error, for the caller */
};

extern const struct dp_ops dp_nft_ops;
extern const struct dp_ops dp_ipvs_ops;

/*
 * Open the dataplane named name ("nft", "ipvs"), or when name is NULL the
 * best available (IPVS when the kernel has it). ifname is the interface
 * facing the real servers. NULL with errno (ENOENT: unknown name or not
 * available; others from the kernel) and why filled.
 */
struct dp *dp_open(const char *name, const char *ifname, char *why, size_t whylen);
void dp_close(struct dp *dp);
int dp_check(struct dp *dp, const struct dp_table *t);
/* Fills the MACs of want's real servers where the dataplane needs them. */
int dp_apply(struct dp *dp, struct dp_table *want, const struct dp_table *prev);
int dp_read(struct dp *dp, struct dp_table *cur, const struct dp_table *prev);
/*
 * Make the kernel's table equal want when it holds cur, the table this dp
 * applied last (a few real servers' weights changed, added or removed):
 * only those servers' kernel objects change, so one event costs about the
 * same at 10 and at 1,000 servers. When the kernel turns out not to hold
 * cur (someone flushed it), falls back to dp_apply(dp, want, cur).
 * Fills MACs as dp_apply does. 0, or -1 with errno and why.
 */
int dp_update(struct dp *dp, struct dp_table *want, const struct dp_table *cur);
int dp_remove(struct dp *dp, const struct dp_table *prev);

/* Table helpers. */
void dp_table_free(struct dp_table *t);
struct dp_svc *dp_table_add_svc(struct dp_table *t);
struct dp_rs *dp_svc_add_rs(struct dp_svc *s);
struct dp_svc *dp_table_find(const struct dp_table *t, const struct addr *vip,
    uint16_t port, int proto);
struct dp_rs *dp_svc_find(const struct dp_svc *s, const struct addr *a, uint16_t port);
/* Deep copy; 0 or -1 ENOMEM. */
int dp_table_copy(struct dp_table *dst, const struct dp_table *src);
/*
 * Make dst (a table from dp_table_copy or dp_table_set) a deep copy of
 * src, reusing dst's arrays where it can: no allocation when the shape
 * is the same (follow copies its table after every event). 0 or -1
 * ENOMEM, dst then empty.
 */
int dp_table_set(struct dp_table *dst, const struct dp_table *src);
/*
 * Print the changes from cur to want as lines "+ service ...", "- rs ...",
 * "~ rs ... weight=OLD->NEW"; returns how many.
 */
int dp_diff(FILE *f, const struct dp_table *cur, const struct dp_table *want);
/* Print t as "service ..." and "rs ..." key=value lines. */
void dp_print(FILE *f, const struct dp_table *t);

/*
 * Fill the MAC of every real server of t with a positive weight and no
 * MAC yet from the neighbour table of ifindex (one dump). Returns how many
 * are still missing, or -1.
 */
int dp_neigh(unsigned ifindex, struct dp_table *t);
/* Make the kernel resolve a (a UDP datagram to its discard port). */
void dp_neigh_kick(const struct addr *a);

#endif
