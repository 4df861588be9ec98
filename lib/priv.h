/*
 * Privilege drop after setup: switch to a service user (when given) and
 * keep only the named capabilities, with no_new_privs set.
 */
#ifndef NONSTOP_PRIV_H
#define NONSTOP_PRIV_H

#include <sys/capability.h>

/*
 * user may be NULL (stay this uid, drop capabilities only). keep lists the
 * capabilities still needed (CAP_NET_ADMIN, CAP_NET_RAW, ...); all others
 * leave the permitted, effective, inheritable and bounding sets.
 * Returns 0, or -1 with errno (ENOENT: no such user).
 */
int priv_drop(const char *user, const cap_value_t *keep, int nkeep);

/*
 * Make the kept capabilities ambient, so that programs this process
 * executes (hooks) hold exactly them too. 0 or -1 with errno.
 */
int priv_ambient(const cap_value_t *keep, int nkeep);

#endif
