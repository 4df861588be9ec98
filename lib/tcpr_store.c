/* The backup's session store: one atomically written file per session. */
#include <sys/stat.h>
#include <sys/uio.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
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

/*
 * The load reads the folder's names first, then every file, with as few
 * system calls as it can: each file is opened relative to the folder's
 * descriptor and read with one preadv2(RWF_NOWAIT) of a byte more than a
 * record (a regular file's read is short only at its end), which succeeds
 * when the file is in the page cache. A file that is not is asked for
 * (POSIX_FADV_WILLNEED) and read later, with up to LOAD_BATCH others:
 * their disk reads run together, not one after another (a store not read
 * for a while is mostly out of the cache: 10,000 files read in turn took
 * 120 ms to 900 ms here, against 30 ms cached). From LOAD_SPLIT files on,
 * with a second processor, a thread reads the second half (the work is
 * the kernel's path walk, open and copy, which runs on both at once:
 * 30 -> 20 ms cached), each with a quarter of the batch (two of 256 in
 * flight took 100 ms out of the cache, two of 64 70 ms, like one of 256).
 * Every file has its slot in v, so the order is the folder's either way.
 */
#define LOAD_BATCH 256
#define LOAD_SPLIT 1024

struct load {
	int dfd;
	int oflags;		/* O_NOATIME dropped where refused */
	int nowait;		/* 0 once RWF_NOWAIT is refused */
	int ages;		/* ages wanted */
	struct tcpr_sess *v;	/* v[from..to) are this part's */
	uint64_t *age;
	char **name;
	const char **why;	/* a bad file's reason, or NULL: strerror(err) */
	int *err;
	size_t from, to;
	size_t np;		/* files waiting for their disk read */
	size_t batch;		/* at most this many */
	struct {
		int fd;
		size_t slot;
	} p[LOAD_BATCH];
};

/*
 * The file's len bytes in buf: exactly one valid full record, named after
 * its session, into v[slot]; a bad one gets sid 0 and its reason.
 */
static void
load_check(struct load *l, int fd, size_t slot, const unsigned char *buf,
    ssize_t len, int err)
{
	struct tcpr_sess *s = &l->v[slot];
	char key[TCPR_KEYLEN + 8];
	const char *why = NULL;
	int type, r;

	if (len < 0)
		goto bad;
	r = tcpr_rec_decode(buf, (size_t)len, &type, s, &why);
	if (r <= 0 || r != len || type != TCPR_REC_FULL) {
		if (r >= 0 || why == NULL)
			why = "not exactly one full record";
		goto bad;
	}
	tcpr_sess_key(s, key, TCPR_KEYLEN);
	strcat(key, ".rec");
	if (strcmp(key, l->name[slot]) != 0) {
		why = "file name does not match the session";
		goto bad;
	}
	if (l->ages) {
		struct stat st;
		struct timespec now;
		int64_t d = 0;

		if (fstat(fd, &st) == 0) {
			clock_gettime(CLOCK_REALTIME, &now);
			d = (int64_t)(now.tv_sec - st.st_mtim.tv_sec) * 1000 +
			    (now.tv_nsec - st.st_mtim.tv_nsec) / 1000000;
		}
		l->age[slot] = d > 0 ? (uint64_t)d : 0;
	}
	return;
bad:
	s->sid = 0;
	l->why[slot] = why;
	l->err[slot] = err;
}

/* Read the files waiting for the disk, whose reads were asked for. */
static void
load_drain(struct load *l)
{
	unsigned char buf[TCPR_REC_FULL_LEN + 1];
	size_t i;
	ssize_t len;

	for (i = 0; i < l->np; i++) {
		while ((len = read(l->p[i].fd, buf, sizeof buf)) < 0 &&
		    errno == EINTR)
			;
		load_check(l, l->p[i].fd, l->p[i].slot, buf, len, errno);
		close(l->p[i].fd);
	}
	l->np = 0;
}

/* The file of v[slot]: read now if cached, else queued. */
static void
load_file(struct load *l, size_t slot)
{
	unsigned char buf[TCPR_REC_FULL_LEN + 1];
	struct iovec io = { buf, sizeof buf };
	ssize_t len;
	int fd, tries = 0;

	while ((fd = openat(l->dfd, l->name[slot], l->oflags)) < 0) {
		if (errno == EPERM && (l->oflags & O_NOATIME))
			l->oflags &= ~O_NOATIME;	/* not the owner */
		else if ((errno == EMFILE || errno == ENFILE) && l->np > 0)
			load_drain(l);	/* its descriptors back */
		else if ((errno == EMFILE || errno == ENFILE) && tries++ < 100)
			usleep(1000);	/* the other part's, soon */
		else if (errno != EINTR) {
			load_check(l, -1, slot, NULL, -1, errno);
			return;
		}
	}
	len = -1;
	errno = EAGAIN;
	if (l->nowait) {
		while ((len = preadv2(fd, &io, 1, 0, RWF_NOWAIT)) < 0 &&
		    errno == EINTR)
			;
		if (len < 0 && (errno == EOPNOTSUPP || errno == ENOSYS ||
		    errno == EINVAL)) {
			l->nowait = 0;	/* an older kernel: all read later */
			errno = EAGAIN;
		}
	}
	if (len < 0 && errno == EAGAIN) {
		/* not in the page cache: read later, with the others */
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
		l->p[l->np].fd = fd;
		l->p[l->np].slot = slot;
		if (++l->np == l->batch)
			load_drain(l);
		return;
	}
	load_check(l, fd, slot, buf, len, errno);
	close(fd);
}

static void *
load_part(void *arg)
{
	struct load *l = arg;
	size_t i;

	for (i = l->from; i < l->to; i++)
		load_file(l, i);
	load_drain(l);
	return NULL;
}

/* The names of the folder's record files ("." and temp files left out). */
static int
load_names(DIR *d, char ***namep, size_t *np)
{
	struct dirent *e;
	char *arena = NULL, *na, **name;
	size_t alen = 0, acap = 0, n = 0, ncap = 0, *off = NULL, *no, i;

	while ((errno = 0, e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);

		if (len < 5 || strcmp(e->d_name + len - 4, ".rec") != 0)
			continue;	/* ".", "..", temp files */
		if (alen + len + 1 > acap) {
			acap = acap ? acap * 2 : 64 * 1024;
			if ((na = realloc(arena, acap)) == NULL)
				goto fail;
			arena = na;
		}
		if (n == ncap) {
			ncap = ncap ? ncap * 2 : 1024;
			if ((no = realloc(off, ncap * sizeof *off)) == NULL)
				goto fail;
			off = no;
		}
		memcpy(arena + alen, e->d_name, len + 1);
		off[n++] = alen;
		alen += len + 1;
	}
	if (errno)
		goto fail;
	/* the pointers and then the names, in one block */
	if ((name = malloc(n * sizeof *name + alen + 1)) == NULL)
		goto fail;
	na = (char *)(name + n);
	if (alen)
		memcpy(na, arena, alen);
	for (i = 0; i < n; i++)
		name[i] = na + off[i];
	free(arena);
	free(off);
	*namep = name;
	*np = n;
	return 0;
fail:
	{
		int er = errno;
		free(arena);
		free(off);
		errno = er;
	}
	return -1;
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
	struct load *l = NULL;
	struct tcpr_sess *v = NULL;
	uint64_t *age = NULL;
	char **name = NULL;
	size_t n = 0, cap, i, k;
	cpu_set_t cpus;
	pthread_t t;
	sigset_t all, old;
	int er, split = 0;
	DIR *d;

	*nbad = 0;
	if ((d = opendir(dir)) == NULL)
		return -1;
	if (load_names(d, &name, &n) < 0)
		goto fail;
	cap = n ? n : 1;
	if ((v = malloc(cap * sizeof *v)) == NULL ||
	    (agep && (age = malloc(cap * sizeof *age)) == NULL) ||
	    (l = calloc(2, sizeof *l)) == NULL ||
	    (l[0].why = malloc(cap * sizeof *l[0].why)) == NULL ||
	    (l[0].err = malloc(cap * sizeof *l[0].err)) == NULL)
		goto fail;
	l[0].dfd = dirfd(d);
	/* O_NONBLOCK: a fifo named like a record must not stop the load */
	l[0].oflags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOATIME;
	l[0].nowait = 1;
	l[0].ages = agep != NULL;
	l[0].v = v;
	l[0].age = age;
	l[0].name = name;
	l[0].to = n;
	l[0].batch = LOAD_BATCH;
	if (n >= LOAD_SPLIT && sched_getaffinity(0, sizeof cpus, &cpus) == 0 &&
	    CPU_COUNT(&cpus) >= 2) {
		/* the second half to a thread that takes no signal */
		l[1] = l[0];
		l[1].from = l[0].to = n / 2;
		l[0].batch = l[1].batch = LOAD_BATCH / 4;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		split = pthread_create(&t, NULL, load_part, &l[1]) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (!split) {
			l[0].to = n;
			l[0].batch = LOAD_BATCH;
		}
	}
	load_part(&l[0]);
	if (split)
		pthread_join(t, NULL);
	for (i = 0, k = 0; i < n; i++) {
		if (v[i].sid == 0) {
			++*nbad;
			if (bad)
				bad(name[i], l[0].why[i] ? l[0].why[i] :
				    strerror(l[0].err[i]));
			continue;
		}
		if (age)
			age[k] = age[i];
		v[k++] = v[i];
	}
	n = k;
	if (replay(dir, "journal.old", &v, agep ? &age : NULL, &n, &cap) < 0 ||
	    replay(dir, "journal", &v, agep ? &age : NULL, &n, &cap) < 0)
		goto fail;
	*vp = v;
	if (agep)
		*agep = age;
	*np = n;
	v = NULL;
	age = NULL;
	er = 0;
	goto out;
fail:
	er = errno;
out:
	closedir(d);
	if (l) {
		free(l[0].why);
		free(l[0].err);
	}
	free(l);
	free(name);
	free(v);
	free(age);
	if (er == 0)
		return 0;
	errno = er;
	return -1;
}
