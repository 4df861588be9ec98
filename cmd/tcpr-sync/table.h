/* tcpr-sync's view of the session store: sessions by id, dirty marks. */
#ifndef TCPR_SYNC_TABLE_H
#define TCPR_SYNC_TABLE_H

#include <pthread.h>
#include <stddef.h>

#include "tcpr_rec.h"

/*
 * The store's slow half (one file per session: create, write, rename,
 * unlink) runs in a writer thread, in order, off the receive path; only
 * the journal append, one write per batch, stays on it.
 */
struct wop {
	int kind;		/* WOP_PUT, WOP_DEL, WOP_DROP_OLD */
	struct tcpr_sess s;
};

struct writer {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv, idle;
	struct wop *q;
	size_t n, cap;
	int running, busy, quit, failed, done;	/* done: journal.old dropped */
};

/* Offsets, tsval and window of a session as packed entries carry them. */
struct pkstate {
	uint64_t v[4];		/* rcv, snd_una, snd_nxt, tsval */
	uint16_t wnd;
};

/*
 * What the sender knows of each session's transmissions (the receiver
 * uses queued and need_full for compaction, synced for packed entries).
 */
struct tmeta {
	uint64_t last_seq;	/* datagram that carried the latest state */
	uint64_t prev_seq;	/* and the one before */
	uint64_t sent_at;	/* us, monotonic */
	uint64_t qat;		/* us, queued (input read) */
	struct pkstate base;	/* a state the backup acknowledged */
	struct pkstate sent, prev;	/* carried by last_seq, prev_seq */
	unsigned char need_full, acked, queued, has_base;
	unsigned char synced;	/* receiver: a full record came this run */
};

struct table {
	const char *dir;	/* store folder, or NULL: memory only */
	struct tcpr_sess *s;	/* slots; sid 0 = free */
	unsigned char *dirty;
	struct tmeta *m;	/* parallel to s */
	size_t cap, n;
	size_t ndirty;
	size_t njournal;	/* entries in the journal */
	int compacting;		/* journal.old being written out */
	int jfd;		/* the journal, open for appending, or -1 */
	struct writer *w;	/* started at the first compaction */
};

int table_open(struct table *t, const char *dir, size_t *nbad);
/* Apply one decoded record. 0, or -1 with *why (EINVAL: record refused,
 * ENOENT: sync for an unknown session). */
int table_apply(struct table *t, int type, const struct tcpr_sess *r,
    const char **why);
/* Journal every dirty session (compacting now and then). 0, or -1. */
int table_flush(struct table *t);
/* Every session in its file, the journal emptied (waits for the writer
 * first). 0, or -1 with errno. */
int table_compact(struct table *t);
struct tcpr_sess *table_find(struct table *t, uint32_t sid);
/* The slot for sid, made if missing (NULL: out of memory). */
struct tcpr_sess *table_slot(struct table *t, uint32_t sid, int *isnew);
void table_remove(struct table *t, struct tcpr_sess *s);
void table_close(struct table *t);

#endif
