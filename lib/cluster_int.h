/*
 * Internals shared by cluster.c (the model and the directory) and
 * cluster_bundle.c (LDIF, bulk loads, export/import). Not an interface.
 */
#ifndef NONSTOP_CLUSTER_INT_H
#define NONSTOP_CLUSTER_INT_H

#include <stddef.h>

#include "cluster.h"
#include "dir.h"
#include "kv.h"

/* A growing string. */
struct clx_buf {
	char *s;
	size_t len, cap;
	int bad;
};

void clx_bput(struct clx_buf *b, const char *s, size_t n);
void clx_bstr(struct clx_buf *b, const char *s);
/* One key=value token, kv quoting; first: no leading blank. */
void clx_bkv(struct clx_buf *b, int first, const char *key, const char *val);
void clx_bkvl(struct clx_buf *b, int first, const char *key, long v);
/* The string, or NULL (ENOMEM) when any append failed. */
char *clx_bdone(struct clx_buf *b);

/* Fill e and return -1. */
int clx_seterr(struct cl_err *e, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int clx_direrr(struct cl_err *e, struct dir *d);
int clx_nomem(struct cl_err *e);

void clx_host_init(struct cl_host *h);
/* Entries to the model and back; values are checked as input would be. */
int clx_host_from_entry(const struct dir_entry *en, struct cl_host *h,
    struct cl_err *e);
struct dir_mods *clx_host_mods(const struct cl_host *h, int add,
    const char *pwhash, int status);
int clx_cluster_from_entry(const struct dir_entry *en, struct cl_cluster *c,
    struct cl_err *e);
struct dir_mods *clx_cluster_mods(struct dir *d, const struct cl_cluster *c,
    int add);
/* Every member's host name, repeats kept; a malloc'd vector of borrowed names. */
const char **clx_member_names(const struct cl_cluster *c, size_t *n);

char *clx_xstrdup(const char *s);		/* NULL stays NULL */
/* Strict decimal in [lo, hi]: 0, or -1. */
int clx_num(const char *s, long lo, long hi, long *out);
/* Host and cluster names: [A-Za-z0-9_.-], 1-63, not starting with '.' or '-'. */
int clx_name_ok(const char *s);
/* An address without prefix length. */
int clx_addr_value_ok(const char *s);
/* Refuse keys of r not in the NULL-terminated ok list. */
int clx_keys_only(const struct kv_rec *r, const char *const *ok, struct cl_err *e);
/* Append the member named by r's key (order, weight, port from r). */
int clx_member_append(struct cl_member **m, size_t *n, const struct kv_rec *r,
    const char *key, struct cl_err *e);
/* "[name@]vip:port[/proto]" or "name= vip= port= proto=" into out. */
int clx_service_parse(const char *cname, const char *s, struct cl_service *out,
    struct cl_err *e);

#endif
