/* tcpr-sync's view of the session store: sessions by id, dirty marks. */
#ifndef TCPR_SYNC_TABLE_H
#define TCPR_SYNC_TABLE_H

#include <stddef.h>

#include "tcpr_rec.h"

/* What the sender knows of each session's last transmission. */
struct tmeta {
	uint64_t last_seq;	/* datagram that carried the latest state */
	uint64_t sent_at;	/* ms, monotonic */
	unsigned char need_full, acked, queued;
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
	size_t cursor;		/* the compaction's next slot */
};

int table_open(struct table *t, const char *dir, size_t *nbad);
/* Apply one decoded record. 0, or -1 with *why (EINVAL: record refused,
 * ENOENT: sync for an unknown session). */
int table_apply(struct table *t, int type, const struct tcpr_sess *r,
    const char **why);
/* Journal every dirty session (compacting now and then). 0, or -1. */
int table_flush(struct table *t);
/* Every session in its file, the journal emptied. 0, or -1 with errno. */
int table_compact(struct table *t);
struct tcpr_sess *table_find(struct table *t, uint32_t sid);
/* The slot for sid, made if missing (NULL: out of memory). */
struct tcpr_sess *table_slot(struct table *t, uint32_t sid, int *isnew);
void table_remove(struct table *t, struct tcpr_sess *s);
void table_close(struct table *t);

#endif
