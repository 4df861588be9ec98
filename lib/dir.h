/*
 * The cluster directory over LDAP (libldap): connect and bind (simple with
 * a password file, or SASL EXTERNAL over ldapi), search with a callback,
 * add, modify, delete, pipelined bulk adds. Shared by lc-build and lc-web.
 * Every call returns -1 on failure with the LDAP result code and a message
 * kept in the handle (dir_errcode, dir_errmsg); none prints or exits.
 */
#ifndef NONSTOP_DIR_H
#define NONSTOP_DIR_H

#include <stddef.h>

struct dir;

struct dir_opts {
	const char *uri;	/* NULL: LDAPURI or ldap.conf URI */
	const char *base;	/* NULL: LDAPBASE or ldap.conf BASE */
	const char *binddn;	/* NULL with pwfile NULL: SASL EXTERNAL */
	const char *pwfile;	/* file holding the bind password */
	int timeout_ms;		/* connect timeout, 0: 10 s; answers get 10 times that */
};

struct dir_attr {
	char *name;
	char **vals;		/* NUL-terminated copies */
	size_t *lens;
	size_t n;
};

struct dir_entry {
	char *dn;
	struct dir_attr *a;
	size_t n;
};

/* Modifications or the attributes of a new entry, built up value by value. */
struct dir_mods;

enum { DIR_ADD, DIR_DEL, DIR_REPLACE };

struct dir *dir_open(const struct dir_opts *o, char *msg, size_t msgsize,
    int *ldaprc);
void dir_close(struct dir *d);
const char *dir_base(const struct dir *d);
int dir_errcode(const struct dir *d);
const char *dir_errmsg(const struct dir *d);
/* 1 when the failure was temporary (server down, busy, timeout). */
int dir_temporary(int ldaprc);
/* The bound identity as the server sees it ("dn:..."), malloc'd, or NULL. */
char *dir_whoami(struct dir *d);

/* Values of one attribute in e (case-insensitive name), or NULL. */
const struct dir_attr *dir_attr(const struct dir_entry *e, const char *name);
const char *dir_get(const struct dir_entry *e, const char *name);

/*
 * Search; cb is called for each entry in arrival order and returns 0 to
 * go on or -1 to stop (the search then fails with the handle's message
 * left as cb set it through dir_seterr). Scope: "base", "one" or "sub".
 * A missing base is LDAP_NO_SUCH_OBJECT (32).
 */
typedef int dir_entry_fn(const struct dir_entry *e, void *arg);
int dir_search(struct dir *d, const char *base, const char *scope,
    const char *filter, const char *const *attrs, dir_entry_fn *cb, void *arg);
void dir_seterr(struct dir *d, int ldaprc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

struct dir_mods *dir_mods_new(void);
void dir_mods_free(struct dir_mods *m);
/* Add value (len bytes) of attr to operation op; -1 with ENOMEM. */
int dir_mods_addv(struct dir_mods *m, int op, const char *attr,
    const char *val, size_t len);
int dir_mods_add(struct dir_mods *m, int op, const char *attr, const char *val);
/* DIR_REPLACE or DIR_DEL of attr with no values (removes it). */
int dir_mods_clear(struct dir_mods *m, int op, const char *attr);
size_t dir_mods_count(const struct dir_mods *m);
/* Call fn for each value in order (e.g. to print the mods as LDIF). */
typedef void dir_mods_fn(const char *attr, const char *val, size_t len, void *arg);
void dir_mods_each(const struct dir_mods *m, dir_mods_fn *fn, void *arg);

int dir_add(struct dir *d, const char *dn, struct dir_mods *m);
int dir_modify(struct dir *d, const char *dn, struct dir_mods *m);
int dir_delete(struct dir *d, const char *dn);

/*
 * Pipelined adds: keep up to window requests in flight on one connection
 * (a round trip per entry otherwise bounds the rate). dir_bulk_add queues
 * and takes ownership of m; dir_bulk_end waits for the rest and returns
 * the count added, or -1. After the first failure no more adds are sent;
 * those already answered stay.
 */
struct dir_bulk;
struct dir_bulk *dir_bulk_begin(struct dir *d, int window);
/*
 * XXX No LDAP transactions (RFC 5805) here on purpose: slapd 2.5.13
 * answers an add inside a transaction before its thread is done with the
 * operation, and a transaction end then races that thread and crashes
 * slapd (seen in 1 of ~30 loads of 50 entries, on a loaded machine).
 */
int dir_bulk_add(struct dir_bulk *b, const char *dn, struct dir_mods *m);
long dir_bulk_end(struct dir_bulk *b);

/* Escape s for use as an RDN value / in a search filter (malloc'd). */
char *dir_dn_escape(const char *s);
char *dir_filter_escape(const char *s);

#endif
