/* The backup's session store: one atomically written file per session. */
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "tcpr_repair.h"
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

int tcpr_store_sync = 0;

/*
 * Replace the file by rename: a writer killed at any instant leaves the
 * old record or the new one. No fsync unless tcpr_store_sync: the records
 * outlive a crash of the process, not of the machine, and after a power
 * cut of the backup there is no session left to restore anyway; fsync per
 * record would cap the store at a few hundred updates a second.
 */
int
tcpr_store_put(const char *dir, const struct tcpr_sess *s)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	unsigned char rec[TCPR_REC_FULL_LEN];
	int fd, e;

	if (tcpr_rec_encode_full(s, rec, sizeof rec) < 0)
		return -1;
	if (path_of(dir, s, path, sizeof path) < 0)
		return -1;
	if (tcpr_store_sync)
		return atomic_write(path, rec, sizeof rec, 0600);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return -1;
	if (write(fd, rec, sizeof rec) != (ssize_t)sizeof rec) {
		e = errno ? errno : EIO;
		close(fd);
		unlink(tmp);
		errno = e;
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		e = errno;
		unlink(tmp);
		errno = e;
		return -1;
	}
	return 0;
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

static uint32_t
crc32(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	int k;

	while (n-- > 0) {
		c ^= *p++;
		for (k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
	}
	return ~c;
}

static uint64_t
now_ms_real(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

int
tcpr_store_journal_open(const char *dir)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof path, "%s/journal", dir) >= (int)sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

int
tcpr_store_journal_fd(int fd, const struct tcpr_sess *const *v, size_t n)
{
	unsigned char stackbuf[64 * TCPR_JOURNAL_ENTRY], *buf = stackbuf, *p;
	uint64_t now = now_ms_real();
	size_t i, len;
	ssize_t w;
	int e;

	if (n == 0)
		return 0;
	if (n > 64 && (buf = malloc(n * TCPR_JOURNAL_ENTRY)) == NULL)
		return -1;
	for (i = 0, p = buf; i < n; i++) {
		uint32_t c;
		int k;

		if (tcpr_rec_encode_full(v[i], p, TCPR_REC_FULL_LEN) < 0)
			continue;
		for (k = 0; k < 8; k++)
			p[100 + k] = (unsigned char)(now >> (56 - 8 * k));
		c = crc32(p, 108);
		p[108] = (unsigned char)(c >> 24);
		p[109] = (unsigned char)(c >> 16);
		p[110] = (unsigned char)(c >> 8);
		p[111] = (unsigned char)c;
		p += TCPR_JOURNAL_ENTRY;
	}
	len = (size_t)(p - buf);
	w = write(fd, buf, len);
	e = errno;
	if (buf != stackbuf)
		free(buf);
	if (w != (ssize_t)len) {
		errno = w < 0 ? e : EIO;
		return -1;
	}
	return 0;
}

int
tcpr_store_journal(const char *dir, const struct tcpr_sess *const *v, size_t n)
{
	int fd, r, e;

	if (n == 0)
		return 0;
	if ((fd = tcpr_store_journal_open(dir)) < 0)
		return -1;
	r = tcpr_store_journal_fd(fd, v, n);
	e = errno;
	close(fd);
	errno = e;
	return r;
}

int
tcpr_store_journal_drop_old(const char *dir)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof path, "%s/journal.old", dir) >= (int)sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

int
tcpr_store_journal_reset(const char *dir)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof path, "%s/journal", dir) >= (int)sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (truncate(path, 0) < 0 && errno != ENOENT)
		return -1;
	return tcpr_store_journal_drop_old(dir);
}

int
tcpr_store_journal_rotate(const char *dir)
{
	char a[PATH_MAX], b[PATH_MAX + 4];

	if (snprintf(a, sizeof a, "%s/journal", dir) >= (int)sizeof a) {
		errno = ENAMETOOLONG;
		return -1;
	}
	snprintf(b, sizeof b, "%s.old", a);
	if (rename(a, b) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

static int
same_tuple(const struct tcpr_sess *a, const struct tcpr_sess *b)
{
	return a->family == b->family && a->lport == b->lport &&
	    a->pport == b->pport && !memcmp(a->laddr, b->laddr, 16) &&
	    !memcmp(a->paddr, b->paddr, 16);
}

/*
 * Replay the journal over v[0..*np): entries with a good CRC, in order.
 * Sessions are found by a hash of their tuple (idx, 2^k slots, -1 free).
 */
static int
replay(const char *dir, const char *name, struct tcpr_sess **vp,
    uint64_t **agep, size_t *np, size_t *capp)
{
	char path[PATH_MAX];
	unsigned char *j;
	size_t len, off, i, hcap = 1024, n = *np;
	long *h;
	uint64_t now = now_ms_real();
	struct tcpr_sess *v = *vp;
	uint64_t *age = agep ? *agep : NULL;
	unsigned char *dead;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((j = (unsigned char *)atomic_read(path, 1u << 30, &len)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while (hcap < 2 * (n + len / TCPR_JOURNAL_ENTRY + 1))
		hcap *= 2;
	if ((h = malloc(hcap * sizeof *h)) == NULL ||
	    (dead = calloc(n + len / TCPR_JOURNAL_ENTRY + 1, 1)) == NULL) {
		free(h);
		free(j);
		return -1;
	}
	for (i = 0; i < hcap; i++)
		h[i] = -1;
	for (i = 0; i < n; i++) {
		size_t k = tcpr_sess_hash(&v[i]) & (hcap - 1);

		while (h[k] >= 0)
			k = (k + 1) & (hcap - 1);
		h[k] = (long)i;
	}
	for (off = 0; off + TCPR_JOURNAL_ENTRY <= len; off += TCPR_JOURNAL_ENTRY) {
		const unsigned char *e = j + off;
		struct tcpr_sess s;
		uint64_t at = 0;
		uint32_t c = (uint32_t)e[108] << 24 | (uint32_t)e[109] << 16 |
		    (uint32_t)e[110] << 8 | e[111];
		const char *why;
		size_t k;
		int type, b;

		if (crc32(e, 108) != c)
			break;	/* a torn tail: what follows is not trusted */
		if (tcpr_rec_decode(e, TCPR_REC_FULL_LEN, &type, &s, &why) !=
		    TCPR_REC_FULL_LEN || type != TCPR_REC_FULL)
			continue;
		for (b = 0; b < 8; b++)
			at = at << 8 | e[100 + b];
		k = tcpr_sess_hash(&s) & (hcap - 1);
		while (h[k] >= 0 && !same_tuple(&v[h[k]], &s))
			k = (k + 1) & (hcap - 1);
		if (h[k] < 0) {
			if (n == *capp) {
				size_t nc = *capp ? *capp * 2 : 64;
				struct tcpr_sess *nv = realloc(v, nc * sizeof *v);

				if (nv == NULL)
					goto fail;
				v = nv;
				if (agep) {
					uint64_t *na = realloc(age, nc * sizeof *age);

					if (na == NULL)
						goto fail;
					age = na;
				}
				*capp = nc;
			}
			h[k] = (long)n++;
		}
		v[h[k]] = s;
		dead[h[k]] = (s.flags & TCPR_F_END) != 0;
		if (age)
			age[h[k]] = now > at ? now - at : 0;
	}
	/* drop the ended ones */
	for (i = 0, off = 0; i < n; i++)
		if (!dead[i]) {
			if (age)
				age[off] = age[i];
			v[off++] = v[i];
		}
	*np = off;
	*vp = v;
	if (agep)
		*agep = age;
	free(h);
	free(dead);
	free(j);
	return 0;
fail:
	*vp = v;
	if (agep)
		*agep = age;
	free(h);
	free(dead);
	free(j);
	errno = ENOMEM;
	return -1;
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
	if (replay(dir, "journal.old", &v, agep ? &age : NULL, &n, &cap) < 0 ||
	    replay(dir, "journal", &v, agep ? &age : NULL, &n, &cap) < 0)
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
