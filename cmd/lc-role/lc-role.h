/* lc-role internals shared by its files. */
#ifndef LC_ROLE_H
#define LC_ROLE_H

#include <net/if.h>

#include "addr.h"
#include "dp.h"
#include "role.h"
#include "role_state.h"

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
