/* Sessions by id in an open-addressing table, backed by the store. */
#include <sys/stat.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "table.h"
#include "tcpr_store.h"

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
		    s->pport != r->pport) && tcpr_store_del(t->dir, s) < 0) {
			/* A restarted capture reused the id for another session. */
			*why = strerror(errno);
			return -1;
		}
		*s = *r;
	}
	if (s->flags & TCPR_F_END) {
		const struct tcpr_sess *one = s;

		/* journalled first: a replay must not bring it back */
		if (t->dir && (tcpr_store_journal(t->dir, &one, 1) < 0 ||
		    tcpr_store_del(t->dir, s) < 0)) {
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

	if (t->dir == NULL)
		return 0;
	for (i = 0; i < t->cap; i++) {
		if (t->s[i].sid == 0 || !(t->m[i].queued || t->m[i].need_full))
			continue;
		if (tcpr_store_put(t->dir, &t->s[i]) < 0)
			return -1;
		t->m[i].queued = t->m[i].need_full = 0;
	}
	t->njournal = 0;
	t->compacting = 0;
	return tcpr_store_journal_reset(t->dir);
}

/*
 * Compaction a little at a time, so that no batch waits for a thousand
 * files: at 20000 journal entries the journal becomes journal.old and the
 * sessions it holds are marked (need_full); each flush writes 8 of their
 * files; when none is left journal.old goes.
 */
static int
compact_step(struct table *t)
{
	size_t k = 0;

	if (!t->compacting) {
		size_t i;

		if (t->njournal < 20000)
			return 0;
		if (tcpr_store_journal_rotate(t->dir) < 0)
			return -1;
		for (i = 0; i < t->cap; i++) {
			t->m[i].need_full = t->s[i].sid && t->m[i].queued;
			t->m[i].queued = 0;
		}
		t->njournal = 0;
		t->compacting = 1;
		t->cursor = 0;
	}
	for (; t->cursor < t->cap && k < 8; t->cursor++) {
		struct tmeta *m = &t->m[t->cursor];

		if (t->s[t->cursor].sid == 0 || !m->need_full)
			continue;
		if (tcpr_store_put(t->dir, &t->s[t->cursor]) < 0)
			return -1;
		m->need_full = 0;
		k++;
	}
	if (t->cursor >= t->cap) {
		t->compacting = 0;
		return tcpr_store_journal_drop_old(t->dir);
	}
	return 0;
}

/*
 * Dirty sessions go to the journal, one write for them all; their files
 * follow by compaction, so that a busy session costs one journal entry
 * per batch, not a file.
 */
int
table_flush(struct table *t)
{
	const struct tcpr_sess **v;
	size_t i, n = 0;

	if (t->ndirty == 0)
		return t->dir ? compact_step(t) : 0;
	if ((v = malloc(t->ndirty * sizeof *v)) == NULL)
		return -1;
	for (i = 0; i < t->cap && n < t->ndirty; i++)
		if (t->dirty[i])
			v[n++] = &t->s[i];
	if (t->dir && tcpr_store_journal(t->dir, v, n) < 0) {
		free(v);
		return -1;
	}
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
	free(t->s);
	free(t->dirty);
	free(t->m);
	memset(t, 0, sizeof *t);
}
