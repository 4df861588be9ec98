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

/*
 * rt.c (apart: <sched.h> and role.h both define SCHED_RR).
 * rt_realtime: SCHED_RR at prio and mlockall, warnings on failure.
 * The saver writes state off the event path: a thread at normal priority
 * calls snap(arg) under the saver's lock (a mutex with priority
 * inheritance), then save(snapshot) without it, whenever saver_kick asked
 * for it since. Whoever changes what snap reads holds saver_lock.
 * saver_stop writes what is pending, then ends the thread.
 */
struct saver;
void rt_realtime(int prio);
struct saver *saver_start(void *(*snap)(void *), void (*save)(void *), void *arg);
void saver_kick(struct saver *sv);
void saver_lock(struct saver *sv);
void saver_unlock(struct saver *sv);
void saver_stop(struct saver *sv);

#endif
