/* Privilege drop, in the OpenBSD privdrop / iproute2 drop_cap shape. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "priv.h"

int
priv_drop(const char *user, const cap_value_t *keep, int nkeep)
{
	struct passwd *pw = NULL;
	cap_t caps;
	cap_value_t c;
	int rc = -1, e;

	if (user != NULL) {
		errno = 0;
		if ((pw = getpwnam(user)) == NULL) {
			if (errno == 0)
				errno = ENOENT;
			return -1;
		}
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == -1)
			return -1;
		if (setgroups(1, &pw->pw_gid) == -1 ||
		    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
		    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
			return -1;
	}
	/* Bounding set first: it needs CAP_SETPCAP, gone after cap_set_proc. */
	for (c = 0; c <= CAP_LAST_CAP; c++) {
		int k, wanted = 0;
		for (k = 0; k < nkeep; k++)
			if (keep[k] == c)
				wanted = 1;
		if (!wanted && prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
			(void)prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
	}
	if ((caps = cap_init()) == NULL)
		return -1;
	if (nkeep > 0 &&
	    (cap_set_flag(caps, CAP_PERMITTED, nkeep, keep, CAP_SET) == -1 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, nkeep, keep, CAP_SET) == -1))
		goto out;
	if (cap_set_proc(caps) == -1)
		goto out;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		goto out;
	rc = 0;
out:
	e = errno;
	cap_free(caps);
	errno = e;
	return rc;
}

int
priv_ambient(const cap_value_t *keep, int nkeep)
{
	cap_t caps;
	int k, rc = -1, e;

	if ((caps = cap_get_proc()) == NULL)
		return -1;
	if (nkeep > 0 &&
	    cap_set_flag(caps, CAP_INHERITABLE, nkeep, keep, CAP_SET) == -1)
		goto out;
	if (cap_set_proc(caps) == -1)
		goto out;
	for (k = 0; k < nkeep; k++)
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, keep[k], 0, 0) == -1)
			goto out;
	rc = 0;
out:
	e = errno;
	cap_free(caps);
	errno = e;
	return rc;
}
