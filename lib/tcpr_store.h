/*
 * The session store on a backup: a folder holding one file per TCP
 * session, "<key>.rec" (tcpr_sess_key), each one full record written
 * atomically, so a kill at any instant leaves every file old or new.
 */
#ifndef NONSTOP_TCPR_STORE_H
#define NONSTOP_TCPR_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "tcpr_rec.h"

/* Write s as its file (replace). 0, or -1 with errno. */
int tcpr_store_put(const char *dir, const struct tcpr_sess *s);
/* Remove s's file; no file is not an error. 0, or -1 with errno. */
int tcpr_store_del(const char *dir, const struct tcpr_sess *s);

/*
 * Load every session of dir into a malloc'd array (*v, *n). A file that
 * does not hold exactly one valid full record, or whose name does not
 * match its contents, is skipped and counted in *nbad (bad(name, why) is
 * called for it when not NULL). Returns 0, or -1 with errno (ENOENT, ...).
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
