/* lc-role internals shared by its files. */
#ifndef LC_ROLE_H
#define LC_ROLE_H

#include <net/if.h>

#include "addr.h"
#include "dp.h"
#include "role.h"

struct st_addr {
	struct addr a;
	char dev[IF_NAMESIZE];
};

struct st_sysctl {
	char key[96];		/* net.ipv4.conf.all.arp_ignore */
	char old[32];
	char val[32];
};

/* What lc-role has set up on this host (the state file). */
struct state {
	int role;			/* ROLE_*, -1 when nothing */
	char dp[8];			/* "nft", "ipvs" or "" */
	char ifname[IF_NAMESIZE];
	unsigned long generation;
	struct st_addr *addr;
	size_t naddr;
	struct st_sysctl *sys;
	size_t nsys;
	struct dp_table table;
};

void state_init(struct state *s);
void state_free(struct state *s);
/* 0 (an absent file is an empty state), or -1 with why. */
int state_load(const char *path, struct state *s, char *why, size_t whylen);
int state_save(const char *path, const struct state *s);
int state_add_addr(struct state *s, const struct addr *a, const char *dev);
int state_has_addr(const struct state *s, const struct addr *a, const char *dev);
int state_add_sys(struct state *s, const char *key, const char *old, const char *val);
struct st_sysctl *state_sys(const struct state *s, const char *key);

/* sysctl by dotted key under /proc/sys; value without newline. */
int sysctl_get(const char *key, char *val, size_t size);
int sysctl_set(const char *key, const char *val);

#endif
