/*
 * The session store on a backup: a folder holding one file per TCP
 * session, "<key>.rec" (tcpr_sess_key), each one full record replaced by
 * rename, so a kill at any instant leaves every file old or new.
 */
#ifndef NONSTOP_TCPR_STORE_H
#define NONSTOP_TCPR_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "tcpr_rec.h"

/* 1: fsync every record (atomic_write); 0 (default): rename only. */
extern int tcpr_store_sync;
/* Write s as its file (replace). 0, or -1 with errno. */
int tcpr_store_put(const char *dir, const struct tcpr_sess *s);
/* Remove s's file; no file is not an error. 0, or -1 with errno. */
int tcpr_store_del(const char *dir, const struct tcpr_sess *s);

/*
 * The journal, dir/journal: entries of a full record (100 bytes), the
 * time it was written (8, ms since the epoch) and a CRC-32 of both (4),
 * appended n at a time with one write. Loading replays it over the files
 * (the last entry of a session wins; one with the end flag removes it);
 * a torn or damaged tail is ignored. Writing every session's file and
 * then emptying the journal (compaction) is the caller's.
 */
#define TCPR_JOURNAL_ENTRY 112
int tcpr_store_journal(const char *dir, const struct tcpr_sess *const *s,
    size_t n);
/* The same through a descriptor kept open: tcpr_store_journal_open gives
 * one (O_APPEND; reopen after a rotation), -1 with errno. */
int tcpr_store_journal_open(const char *dir);
int tcpr_store_journal_fd(int fd, const struct tcpr_sess *const *s, size_t n);
/* Empty the journal and remove journal.old. */
int tcpr_store_journal_reset(const char *dir);
/*
 * Incremental compaction: rename journal to journal.old (replayed before
 * journal), write the files at leisure, then drop journal.old.
 */
int tcpr_store_journal_rotate(const char *dir);
int tcpr_store_journal_drop_old(const char *dir);

/*
 * Load every session of dir into a malloc'd array (*v, *n), in the
 * folder's order, then the journal's new ones. A file that does not hold
 * exactly one valid full record, or whose name does not match its
 * contents, is skipped and counted in *nbad (bad(name, why) is called for
 * it when not NULL, from the caller's thread). From 1024 files on, a
 * second thread reads half of them (it ends before the return). Returns
 * 0, or -1 with errno (ENOENT, ...).
 */
int tcpr_store_load(const char *dir, struct tcpr_sess **v, size_t *n,
    size_t *nbad, void (*bad)(const char *name, const char *why));
/*
 * The same, and (*age)[i]: milliseconds since session i's file was last
 * written (its record's timestamp value is that much behind the master's
 * clock at best).
 */
int tcpr_store_load_age(const char *dir, struct tcpr_sess **v,
    uint64_t **age, size_t *n, size_t *nbad,
    void (*bad)(const char *name, const char *why));

#endif
