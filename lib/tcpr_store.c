/* The backup's session store: one atomically written file per session. */
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "tcpr_store.h"

static int
path_of(const char *dir, const struct tcpr_sess *s, char *buf, size_t size)
{
	char key[TCPR_KEYLEN];

	tcpr_sess_key(s, key, sizeof key);
	if (snprintf(buf, size, "%s/%s.rec", dir, key) >= (int)size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
tcpr_store_put(const char *dir, const struct tcpr_sess *s)
{
	char path[PATH_MAX];
	unsigned char rec[TCPR_REC_FULL_LEN];

	if (tcpr_rec_encode_full(s, rec, sizeof rec) < 0)
		return -1;
	if (path_of(dir, s, path, sizeof path) < 0)
		return -1;
	return atomic_write(path, rec, sizeof rec, 0600);
}

int
tcpr_store_del(const char *dir, const struct tcpr_sess *s)
{
	char path[PATH_MAX];

	if (path_of(dir, s, path, sizeof path) < 0)
		return -1;
	if (unlink(path) == -1 && errno != ENOENT)
		return -1;
	return 0;
}

static int
load_one(const char *dir, const char *name, struct tcpr_sess *s,
    uint64_t *age, const char **why)
{
	char path[PATH_MAX], key[TCPR_KEYLEN + 8];
	size_t len;
	unsigned char *buf;
	int type, r;

	if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
		*why = "name too long";
		return -1;
	}
	if ((buf = (unsigned char *)atomic_read(path, 4096, &len)) == NULL) {
		*why = strerror(errno);
		return -1;
	}
	if (age) {
		struct stat st;
		struct timespec now;
		int64_t d;

		clock_gettime(CLOCK_REALTIME, &now);
		d = stat(path, &st) == 0 ?
		    (int64_t)(now.tv_sec - st.st_mtim.tv_sec) * 1000 +
		    (now.tv_nsec - st.st_mtim.tv_nsec) / 1000000 : 0;
		*age = d > 0 ? (uint64_t)d : 0;
	}
	r = tcpr_rec_decode(buf, len, &type, s, why);
	free(buf);
	if (r <= 0 || (size_t)r != len || type != TCPR_REC_FULL) {
		if (r >= 0)
			*why = "not exactly one full record";
		return -1;
	}
	tcpr_sess_key(s, key, TCPR_KEYLEN);
	strcat(key, ".rec");
	if (strcmp(key, name) != 0) {
		*why = "file name does not match the session";
		return -1;
	}
	return 0;
}

int
tcpr_store_load(const char *dir, struct tcpr_sess **vp, size_t *np,
    size_t *nbad, void (*bad)(const char *, const char *))
{
	return tcpr_store_load_age(dir, vp, NULL, np, nbad, bad);
}

int
tcpr_store_load_age(const char *dir, struct tcpr_sess **vp, uint64_t **agep,
    size_t *np, size_t *nbad, void (*bad)(const char *, const char *))
{
	DIR *d;
	struct dirent *e;
	struct tcpr_sess *v = NULL, *nv;
	uint64_t *age = NULL, *na;
	size_t n = 0, cap = 0;
	const char *why;

	*nbad = 0;
	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((errno = 0, e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);

		if (l < 5 || strcmp(e->d_name + l - 4, ".rec") != 0)
			continue;	/* ".", "..", temp files */
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nv = realloc(v, cap * sizeof *v)) == NULL)
				goto fail;
			v = nv;
			if (agep) {
				if ((na = realloc(age, cap * sizeof *age)) == NULL)
					goto fail;
				age = na;
			}
		}
		if (load_one(dir, e->d_name, &v[n], agep ? &age[n] : NULL,
		    &why) < 0) {
			++*nbad;
			if (bad)
				bad(e->d_name, why);
			continue;
		}
		n++;
	}
	if (errno)
		goto fail;
	closedir(d);
	*vp = v;
	if (agep)
		*agep = age;
	*np = n;
	return 0;
fail:
	{
		int er = errno;
		closedir(d);
		free(v);
		free(age);
		errno = er;
	}
	return -1;
}
