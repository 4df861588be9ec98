/*
 * lc-role's state file (lc-role(8) FILES): what lc-role has set up on
 * this host, so that undo and role changes remove that and nothing else.
 * lc-role writes it; lc-agent reads the balancer's table from it.
 */
#ifndef NONSTOP_ROLE_STATE_H
#define NONSTOP_ROLE_STATE_H

#include <net/if.h>

#include "addr.h"
#include "dp.h"
#include "role.h"

struct role_state_addr {
	struct addr a;
	char dev[IF_NAMESIZE];
};

struct role_state_sysctl {
	char key[96];		/* net.ipv4.conf.all.arp_ignore */
	char old[32];
	char val[32];
};

struct role_state {
	int role;			/* ROLE_*, -1 when nothing */
	char dp[8];			/* "nft", "ipvs" or "" */
	char ifname[IF_NAMESIZE];
	unsigned long generation;
	struct role_state_addr *addr;
	size_t naddr;
	struct role_state_sysctl *sys;
	size_t nsys;
	struct dp_table table;
};

void role_state_init(struct role_state *s);
void role_state_free(struct role_state *s);
/* 0 (an absent file is an empty state), or -1 with why. */
int role_state_load(const char *path, struct role_state *s, char *why, size_t whylen);
int role_state_save(const char *path, const struct role_state *s);
int role_state_add_addr(struct role_state *s, const struct addr *a, const char *dev);
int role_state_has_addr(const struct role_state *s, const struct addr *a, const char *dev);
int role_state_add_sys(struct role_state *s, const char *key, const char *old,
    const char *val);
struct role_state_sysctl *role_state_sys(const struct role_state *s, const char *key);

#endif
