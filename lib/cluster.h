/*
 * The load-cluster model of the cluster directory: hosts, clusters and
 * administrators as LDAP entries (schema/nonstop.schema), the validation
 * rules, role files rendered per host (nonstop-role(5)), plans against
 * what was last applied, and export/import bundles. lc-build and lc-web
 * both call this; nothing here prints or exits. A refusal fills a cl_err
 * with the rule broken and a sentence naming the culprit.
 * cluster.c: the model; cluster_dir.c: the directory and apply;
 * cluster_bundle.c: LDIF, bulk loads, export and import.
 */
#ifndef NONSTOP_CLUSTER_H
#define NONSTOP_CLUSTER_H

#include <stddef.h>

#include "dir.h"

enum { CL_NONE, CL_LB, CL_BS, CL_RS };
#define CL_NROLES 4

struct cl_err {
	char rule[32];		/* e.g. "one-lb"; "" for a system failure */
	char msg[480];
	int ldaprc;		/* LDAP result code when the directory failed */
};

struct cl_host {
	char *name;
	char *cpu, *nic, *descr;
	long mem;		/* MiB; -1 unset */
	long weight;		/* -1 unset */
	long agent;		/* SNMP agent port; 0 unset */
	unsigned potential;	/* bit (1 << CL_LB) etc. */
	int status;		/* role last applied */
	char *status_cluster;	/* cluster of that role */
	char **addr;
	size_t naddr;
};

struct cl_service {
	char *name, *vip, *proto;
	unsigned port;
};

struct cl_member {
	char *host;
	unsigned order;		/* backup servers: 1 = primary */
	long weight;		/* real servers: -1 = the host's weight */
	unsigned port;		/* real servers: 0 = the service port */
};

struct cl_cluster {
	char *name, *type, *sched, *fwd, *descr;
	struct cl_service *svc;
	size_t nsvc;
	char *lb;
	struct cl_member *bs, *rs;
	size_t nbs, nrs;
	long generation;	/* last applied; 0 never */
	char *applied;		/* spec text last applied, or NULL */
};

/* Hosts by name. */
struct cl_hosts {
	struct cl_host *h;
	size_t n, cap;
	int sorted;
};

struct cl_admin {
	char *id, *name, *descr;
};

const char *cl_role_name(int role);
int cl_role_parse(const char *s);	/* -1 if unknown */

void cl_host_free(struct cl_host *h);
void cl_cluster_free(struct cl_cluster *c);
void cl_hosts_free(struct cl_hosts *t);
/* Takes ownership of *h (it is zeroed). */
int cl_hosts_put(struct cl_hosts *t, struct cl_host *h);
const struct cl_host *cl_hosts_get(struct cl_hosts *t, const char *name);

/*
 * Set one field from a key=value operand (lc-build's and lc-web's input):
 * host: addr cpu mem nic weight roles agent descr; cluster: service sched
 * fwd type lb bs rs descr. A list value replaces the whole list.
 * Returns 0, or -1 with e->rule "input".
 */
int cl_host_set(struct cl_host *h, const char *key, const char *val,
    struct cl_err *e);
int cl_cluster_set(struct cl_cluster *c, const char *key, const char *val,
    struct cl_err *e);

/*
 * The rules a cluster must pass before anything is written: scheduler,
 * forwarding, service, one-lb, min-rs, bs-order, unique-host,
 * unknown-host, potential, address. hosts holds at least every member.
 * Returns 0, or -1 with e naming the first rule broken.
 */
int cl_validate(const struct cl_cluster *c, struct cl_hosts *hosts,
    struct cl_err *e);

/* Role of host in c (CL_NONE when not a member). */
int cl_role_of(const struct cl_cluster *c, const char *host);

/*
 * The role file of host for c at generation gen (nonstop-role(5)),
 * malloc'd. A host that is no member gets the role=none file.
 */
char *cl_render(const struct cl_cluster *c, struct cl_hosts *hosts,
    const char *host, long gen);

/*
 * Spec text: the cluster and the facts of its hosts that the role files
 * use, as key=value lines; stored as what was applied. cl_spec_parse
 * rebuilds c and hosts from it.
 */
char *cl_spec(const struct cl_cluster *c, struct cl_hosts *hosts);
int cl_spec_parse(const char *text, struct cl_cluster *c, struct cl_hosts *hosts,
    struct cl_err *e);

enum { CL_KEEP, CL_ADD, CL_CHANGE, CL_REMOVE };
const char *cl_action_name(int action);

struct cl_change {
	char *host;
	int was, role;		/* applied role, new role */
	int action;
	char *file;		/* the role file at the given generation */
};

/*
 * Host by host, what applying c (members resolved in hosts) changes
 * against the spec text last applied (NULL: nothing applied). dissolve:
 * every host of either goes to none. Files rendered at generation gen.
 */
int cl_plan(const struct cl_cluster *c, struct cl_hosts *hosts,
    const char *applied, int dissolve, long gen, struct cl_change **out,
    size_t *nout, struct cl_err *e);
void cl_changes_free(struct cl_change *ch, size_t n);

/*
 * Where rendered role files go after they are written: the SNMP push to
 * each host's agent (lc-agent) plugs in here. ch[0..n) is every host of
 * the plan, members and hosts leaving (role none) alike, with its file in
 * ch[i].file; cl_hosts_get(hosts, ch[i].host) gives its address (addr[0])
 * and agent port (agent, 0 when unknown). Called on every apply, changed
 * or not, so a failed push heals by applying again. Returns 0, or -1 with
 * e set: apply then fails (exit 111 for a temporary e->ldaprc).
 */
typedef int cl_push_fn(const struct cl_cluster *c, struct cl_hosts *hosts,
    const struct cl_change *ch, size_t n, void *arg, struct cl_err *e);

/* Write each changed host's role file into folder atomically (<host>.role). */
int cl_write_files(const char *folder, const struct cl_change *ch, size_t n,
    int all, struct cl_err *e);

/* ---- the directory ---- */
char *cl_host_dn(struct dir *d, const char *name);
char *cl_cluster_dn(struct dir *d, const char *name);
char *cl_admin_dn(struct dir *d, const char *id);

/* Make the suffix entry (when missing) and ou=hosts, ou=clusters, ou=admins. */
int cl_dir_init(struct dir *d, int *made, struct cl_err *e);

/* 1 found, 0 not found, -1 failure. */
int cl_dir_host_get(struct dir *d, const char *name, struct cl_host *h,
    struct cl_err *e);
/* Load these hosts (missing ones are left out) into t. */
int cl_dir_hosts_get(struct dir *d, char *const *names, size_t n,
    struct cl_hosts *t, struct cl_err *e);
typedef int cl_host_fn(const struct cl_host *h, void *arg);
int cl_dir_hosts_each(struct dir *d, cl_host_fn *fn, void *arg, struct cl_err *e);
/* Store h (add when add, else replace every field). pwhash may be NULL. */
int cl_dir_host_put(struct dir *d, const struct cl_host *h, int add,
    const char *pwhash, struct cl_err *e);
/*
 * Before a host is changed: every cluster it is a member of must still
 * pass every rule with the host's new facts (a role it may no longer
 * take, an address of the wrong family). Returns 0, or -1 with e set.
 */
int cl_dir_host_check(struct dir *d, const struct cl_host *h, struct cl_err *e);
/* Refuses (rule in-use) when the host is a member of a cluster. */
int cl_dir_host_delete(struct dir *d, const char *name, struct cl_err *e);
/*
 * Parse LDIF text (content records) and check every nonstopHost and
 * nonstopCluster entry in it as the directory functions would; nothing is
 * written. Returns the number of entries, or -1 with e set.
 */
long cl_ldif_check(const char *ldif, size_t len, struct cl_err *e);
/* Bulk add of nonstopHost entries from LDIF text; returns the count. */
long cl_dir_hosts_load(struct dir *d, const char *ldif, size_t len, int window,
    struct cl_err *e);

int cl_dir_cluster_get(struct dir *d, const char *name, struct cl_cluster *c,
    struct cl_err *e);
typedef int cl_cluster_fn(const struct cl_cluster *c, void *arg);
int cl_dir_clusters_each(struct dir *d, cl_cluster_fn *fn, void *arg,
    struct cl_err *e);
/* Load c's members into t (rule unknown-host is checked by cl_validate). */
int cl_dir_members(struct dir *d, const struct cl_cluster *c,
    struct cl_hosts *t, struct cl_err *e);
/* Rule cross-cluster: no member has a role in another cluster. */
int cl_dir_cross_check(struct dir *d, const struct cl_cluster *c,
    struct cl_err *e);
/* Store the definition (not the applied state). */
int cl_dir_cluster_put(struct dir *d, const struct cl_cluster *c, int add,
    struct cl_err *e);
/* Refuses (rule applied) while an applied cluster has members: dissolve first. */
int cl_dir_cluster_delete(struct dir *d, const char *name, struct cl_err *e);

/*
 * Apply (or dissolve) c: validate, plan, write role files into folder,
 * hand them to push (may be NULL), then record the generation and the
 * applied spec in the cluster and the role status in each host.
 * dryrun stops before the first write. *gen gets the new generation.
 */
int cl_apply(struct dir *d, struct cl_cluster *c, int dissolve,
    const char *folder, cl_push_fn *push, void *pusharg, int dryrun,
    struct cl_change **out, size_t *nout, long *gen, struct cl_err *e);

/* Administrators. */
int cl_dir_admin_get(struct dir *d, const char *id, struct cl_admin *a,
    struct cl_err *e);
typedef int cl_admin_fn(const struct cl_admin *a, void *arg);
int cl_dir_admins_each(struct dir *d, cl_admin_fn *fn, void *arg, struct cl_err *e);
int cl_dir_admin_put(struct dir *d, const struct cl_admin *a, int add,
    const char *pwhash, struct cl_err *e);
int cl_dir_admin_delete(struct dir *d, const char *id, struct cl_err *e);
void cl_admin_free(struct cl_admin *a);

/* {SSHA} hash of a password (malloc'd), as slappasswd makes it. */
char *cl_ssha(const char *pw, size_t len);
/* Read a password file (one trailing newline dropped) and hash it. */
char *cl_ssha_file(const char *path, struct cl_err *e);

/*
 * Export c with its hosts as one tar.gz: cluster.ldif, roles/<host>.role,
 * MANIFEST (SHA-256 of each file; HMAC-SHA256 over it when key is given).
 * Import checks everything before it writes: a damaged, tampered or
 * incomplete archive, an existing cluster or a host that differs are
 * refused (-1, e->rule set) and the directory is left unchanged.
 */
int cl_export(struct dir *d, const char *name, const char *path,
    const unsigned char *key, size_t keylen, struct cl_err *e);
int cl_import(struct dir *d, const char *path, const unsigned char *key,
    size_t keylen, int dryrun, char **name, struct cl_err *e);

#endif
