/* Sessions by id in an open-addressing table, backed by the store. */
#include <sys/stat.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "table.h"
#include "tcpr_store.h"

enum { WOP_PUT = 1, WOP_DEL, WOP_DROP_OLD };

/* ------------------------------------------------------ the writer */

static void *
writer_main(void *arg)
{
	struct table *t = arg;
	struct writer *w = t->w;
	struct wop *q = NULL;
	size_t n, i, cap = 0;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->n == 0 && !w->quit) {
			w->busy = 0;
			pthread_cond_broadcast(&w->idle);
			pthread_cond_wait(&w->cv, &w->mu);
		}
		if (w->n == 0 && w->quit)
			break;
		w->busy = 1;
		/* take the whole queue; the receiver fills a fresh one */
		{
			struct wop *tq = w->q;
			size_t tc = w->cap;

			w->q = q;
			w->cap = cap;
			q = tq;
			cap = tc;
			n = w->n;
			w->n = 0;
		}
		pthread_mutex_unlock(&w->mu);
		for (i = 0; i < n; i++) {
			int r = 0;

			switch (q[i].kind) {
			case WOP_PUT:
				r = tcpr_store_put(t->dir, &q[i].s);
				break;
			case WOP_DEL:
				r = tcpr_store_del(t->dir, &q[i].s);
				break;
			case WOP_DROP_OLD:
				/* every file of journal.old's sessions is written */
				pthread_mutex_lock(&w->mu);
				r = w->failed ? 0 : tcpr_store_journal_drop_old(t->dir);
				w->done = 1;
				pthread_mutex_unlock(&w->mu);
				break;
			}
			if (r < 0) {
				pthread_mutex_lock(&w->mu);
				w->failed = errno ? errno : EIO;
				pthread_mutex_unlock(&w->mu);
			}
		}
		pthread_mutex_lock(&w->mu);
	}
	w->busy = 0;
	pthread_cond_broadcast(&w->idle);
	pthread_mutex_unlock(&w->mu);
	free(q);
	return NULL;
}

/* Queue a file operation; without a writer, do it now. */
static int
wop(struct table *t, int kind, const struct tcpr_sess *s)
{
	struct writer *w = t->w;

	if (t->dir == NULL)
		return 0;
	if (w == NULL || !w->running) {
		if (kind == WOP_PUT)
			return tcpr_store_put(t->dir, s);
		if (kind == WOP_DEL)
			return tcpr_store_del(t->dir, s);
		return tcpr_store_journal_drop_old(t->dir);
	}
	pthread_mutex_lock(&w->mu);
	if (w->n == w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 256;
		struct wop *nq = realloc(w->q, nc * sizeof *nq);

		if (nq == NULL) {
			pthread_mutex_unlock(&w->mu);
			return -1;
		}
		w->q = nq;
		w->cap = nc;
	}
	w->q[w->n].kind = kind;
	if (s)
		w->q[w->n].s = *s;
	w->n++;
	w->busy = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

static int
writer_start(struct table *t)
{
	struct writer *w;

	if (t->w)
		return 0;
	if ((w = calloc(1, sizeof *w)) == NULL)
		return -1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	pthread_cond_init(&w->idle, NULL);
	t->w = w;
	{
		/* file writes are not urgent: an ordinary thread, even under -R */
		pthread_attr_t at;
		struct sched_param sp = { .sched_priority = 0 };

		pthread_attr_init(&at);
		pthread_attr_setinheritsched(&at, PTHREAD_EXPLICIT_SCHED);
		pthread_attr_setschedpolicy(&at, SCHED_OTHER);
		pthread_attr_setschedparam(&at, &sp);
		errno = pthread_create(&w->th, &at, writer_main, t);
		pthread_attr_destroy(&at);
	}
	if (errno != 0) {
		t->w = NULL;
		free(w);
		return -1;
	}
	w->running = 1;
	return 0;
}

/* Wait until the writer has done everything queued; its error, or 0. */
static int
writer_drain(struct table *t)
{
	struct writer *w = t->w;
	int e;

	if (w == NULL)
		return 0;
	pthread_mutex_lock(&w->mu);
	while (w->busy || w->n)
		pthread_cond_wait(&w->idle, &w->mu);
	e = w->failed;
	w->failed = 0;
	pthread_mutex_unlock(&w->mu);
	return e;
}

static void
writer_stop(struct table *t)
{
	struct writer *w = t->w;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->quit = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	free(w->q);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	pthread_cond_destroy(&w->idle);
	free(w);
	t->w = NULL;
}

static int
journal(struct table *t, const struct tcpr_sess *const *v, size_t n)
{
	if (t->jfd < 0 && (t->jfd = tcpr_store_journal_open(t->dir)) < 0)
		return -1;
	return tcpr_store_journal_fd(t->jfd, v, n);
}

static size_t
slot(const struct table *t, uint32_t sid)
{
	size_t i = (sid * 2654435761u) & (t->cap - 1);

	while (t->s[i].sid != 0 && t->s[i].sid != sid)
		i = (i + 1) & (t->cap - 1);
	return i;
}

static int
grow(struct table *t)
{
	struct table o = *t;
	size_t i;

	t->cap = o.cap ? o.cap * 2 : 1024;
	t->s = calloc(t->cap, sizeof *t->s);
	t->dirty = calloc(t->cap, 1);
	t->m = calloc(t->cap, sizeof *t->m);
	if (t->s == NULL || t->dirty == NULL || t->m == NULL) {
		free(t->s);
		free(t->dirty);
		free(t->m);
		*t = o;
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < o.cap; i++)
		if (o.s[i].sid != 0) {
			size_t j = slot(t, o.s[i].sid);
			t->s[j] = o.s[i];
			t->dirty[j] = o.dirty[i];
			t->m[j] = o.m[i];
		}
	free(o.s);
	free(o.dirty);
	free(o.m);
	return 0;
}

struct tcpr_sess *
table_find(struct table *t, uint32_t sid)
{
	size_t i;

	if (t->cap == 0 || sid == 0)
		return NULL;
	i = slot(t, sid);
	return t->s[i].sid ? &t->s[i] : NULL;
}

/* Remove slot i, re-placing the rest of its probe run. */
static void
remove_at(struct table *t, size_t i)
{
	size_t j = i;

	if (t->dirty[i])
		t->ndirty--;
	memset(&t->s[i], 0, sizeof t->s[i]);
	memset(&t->m[i], 0, sizeof t->m[i]);
	t->dirty[i] = 0;
	t->n--;
	for (;;) {
		struct tcpr_sess s;
		struct tmeta m;
		unsigned char d;
		size_t k;

		j = (j + 1) & (t->cap - 1);
		if (t->s[j].sid == 0)
			break;
		s = t->s[j];
		d = t->dirty[j];
		m = t->m[j];
		t->s[j].sid = 0;
		t->dirty[j] = 0;
		k = slot(t, s.sid);
		t->s[k] = s;
		t->dirty[k] = d;
		t->m[k] = m;
	}
}

int
table_open(struct table *t, const char *dir, size_t *nbad)
{
	struct tcpr_sess *v = NULL;
	size_t n = 0, i;

	memset(t, 0, sizeof *t);
	t->dir = dir;
	t->jfd = -1;
	*nbad = 0;
	if (grow(t) < 0)
		return -1;
	if (dir && tcpr_store_load(dir, &v, &n, nbad, NULL) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		size_t j;

		if ((t->n + 1) * 2 > t->cap && grow(t) < 0) {
			free(v);
			return -1;
		}
		j = slot(t, v[i].sid);
		if (t->s[j].sid == 0)
			t->n++;
		t->s[j] = v[i];
	}
	free(v);
	/*
	 * What a predecessor left in the journals: an interrupted compaction
	 * is finished now; a journal is kept and counted, its sessions
	 * marked for the next compaction.
	 */
	if (dir) {
		char path[4096];
		struct stat st;

		for (i = 0; i < t->cap; i++)
			t->m[i].queued = t->s[i].sid != 0;
		snprintf(path, sizeof path, "%s/journal.old", dir);
		if (stat(path, &st) == 0 && table_compact(t) < 0)
			return -1;
		snprintf(path, sizeof path, "%s/journal", dir);
		if (stat(path, &st) == 0)
			t->njournal = (size_t)st.st_size / TCPR_JOURNAL_ENTRY;
	}
	return 0;
}

static void
mark(struct table *t, struct tcpr_sess *s)
{
	size_t i = (size_t)(s - t->s);

	if (!t->dirty[i]) {
		t->dirty[i] = 1;
		t->ndirty++;
	}
}

int
table_apply(struct table *t, int type, const struct tcpr_sess *r,
    const char **why)
{
	struct tcpr_sess *s = table_find(t, r->sid);

	if (type == TCPR_REC_SYNC) {
		if (s == NULL) {
			*why = "sync record for an unknown session";
			errno = ENOENT;
			return -1;
		}
		if (tcpr_sess_update(s, r, why) < 0)
			return -1;
	} else {
		if (s == NULL) {
			if ((t->n + 1) * 2 > t->cap && grow(t) < 0) {
				*why = "out of memory";
				return -1;
			}
			s = &t->s[slot(t, r->sid)];
			t->n++;
		} else if (s->family == r->family && !memcmp(s->laddr, r->laddr,
		    16) && !memcmp(s->paddr, r->paddr, 16) && s->lport == r->lport
		    && s->pport == r->pport && s->snd_isn == r->snd_isn &&
		    s->rcv_isn == r->rcv_isn && (r->rcv < s->rcv ||
		    r->snd_una < s->snd_una || r->snd_nxt < s->snd_nxt)) {
			/*
			 * An older state overtaken on the way. (Other initial
			 * sequence numbers: the same connection counted from
			 * another base, by a capture that adopted it.)
			 */
			*why = "stale full record: stream offset went back";
			errno = EINVAL;
			return -1;
		} else if (t->dir && (s->family != r->family ||
		    memcmp(s->laddr, r->laddr, 16) || memcmp(s->paddr,
		    r->paddr, 16) || s->lport != r->lport ||
		    s->pport != r->pport) && wop(t, WOP_DEL, s) < 0) {
			/* A restarted capture reused the id for another session. */
			*why = strerror(errno);
			return -1;
		}
		*s = *r;
		t->m[s - t->s].synced = 1;
	}
	if (s->flags & TCPR_F_END) {
		const struct tcpr_sess *one = s;

		/* journalled first: a replay must not bring it back */
		if (t->dir && (journal(t, &one, 1) < 0 ||
		    wop(t, WOP_DEL, s) < 0)) {
			*why = strerror(errno);
			return -1;
		}
		remove_at(t, (size_t)(s - t->s));
		return 0;
	}
	mark(t, s);
	return 0;
}

/* Every session in its file, the journals emptied. */
int
table_compact(struct table *t)
{
	size_t i;
	int e;

	if (t->dir == NULL)
		return 0;
	if ((e = writer_drain(t)) != 0) {
		/* what the writer could not write is written now */
		for (i = 0; i < t->cap; i++)
			t->m[i].need_full = t->s[i].sid != 0;
	}
	for (i = 0; i < t->cap; i++) {
		if (t->s[i].sid == 0 || !(t->m[i].queued || t->m[i].need_full))
			continue;
		if (tcpr_store_put(t->dir, &t->s[i]) < 0)
			return -1;
		t->m[i].queued = t->m[i].need_full = 0;
	}
	t->njournal = 0;
	t->compacting = 0;
	if (t->jfd >= 0) {
		close(t->jfd);
		t->jfd = -1;
	}
	return tcpr_store_journal_reset(t->dir);
}

/*
 * Compaction off the receive path: at 20000 journal entries the journal
 * becomes journal.old, and the writer thread gets a copy of every session
 * written since the last compaction, then the order to drop journal.old.
 * Until it has, the journal only grows (journal.old must not be replaced).
 */
static int
compact_step(struct table *t)
{
	struct writer *w;
	size_t i;

	if (t->compacting) {
		int done, failed;

		w = t->w;
		pthread_mutex_lock(&w->mu);
		done = w->done;
		failed = w->failed;
		w->done = 0;
		pthread_mutex_unlock(&w->mu);
		if (!done)
			return 0;
		t->compacting = 0;
		if (failed)
			return table_compact(t);	/* redo it all, here */
		return 0;
	}
	if (t->njournal < 20000)
		return 0;
	if (writer_start(t) < 0)
		return table_compact(t);
	if (tcpr_store_journal_rotate(t->dir) < 0)
		return -1;
	if (t->jfd >= 0) {
		close(t->jfd);
		t->jfd = -1;
	}
	for (i = 0; i < t->cap; i++) {
		if (t->s[i].sid && (t->m[i].queued || t->m[i].need_full) &&
		    wop(t, WOP_PUT, &t->s[i]) < 0)
			return -1;
		t->m[i].queued = t->m[i].need_full = 0;
	}
	t->njournal = 0;
	t->compacting = 1;
	return wop(t, WOP_DROP_OLD, NULL);
}

/*
 * Dirty sessions go to the journal, one write for them all; their files
 * follow by compaction, so that a busy session costs one journal entry
 * per batch, not a file.
 */
int
table_flush(struct table *t)
{
	const struct tcpr_sess *stackv[256], **v = stackv;
	size_t i, n = 0;

	if (t->ndirty == 0)
		return t->dir ? compact_step(t) : 0;
	if (t->ndirty > 256 && (v = malloc(t->ndirty * sizeof *v)) == NULL)
		return -1;
	for (i = 0; i < t->cap && n < t->ndirty; i++)
		if (t->dirty[i])
			v[n++] = &t->s[i];
	if (t->dir && journal(t, v, n) < 0) {
		if (v != stackv)
			free(v);
		return -1;
	}
	if (v != stackv)
		free(v);
	for (i = 0; i < t->cap && t->ndirty > 0; i++)
		if (t->dirty[i]) {
			t->dirty[i] = 0;
			t->m[i].queued = 1;
			t->ndirty--;
		}
	t->njournal += n;
	return t->dir ? compact_step(t) : 0;
}

struct tcpr_sess *
table_slot(struct table *t, uint32_t sid, int *isnew)
{
	struct tcpr_sess *s = table_find(t, sid);

	*isnew = 0;
	if (s)
		return s;
	if ((t->n + 1) * 2 > t->cap && grow(t) < 0)
		return NULL;
	s = &t->s[slot(t, sid)];
	memset(s, 0, sizeof *s);
	s->sid = sid;
	t->n++;
	*isnew = 1;
	return s;
}

void
table_remove(struct table *t, struct tcpr_sess *s)
{
	remove_at(t, (size_t)(s - t->s));
}

void
table_close(struct table *t)
{
	writer_drain(t);
	writer_stop(t);
	if (t->jfd >= 0)
		close(t->jfd);
	free(t->s);
	free(t->dirty);
	free(t->m);
	memset(t, 0, sizeof *t);
}
