/* lc-build cluster ...: define, validate, plan, apply, dissolve, export, import. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auth.h"
#include "cluster_push.h"
#include "err.h"
#include "lc-build.h"

static void __attribute__((noreturn))
cluster_usage(void)
{
	err_die(EXIT_BAD, "usage: cluster add|change NAME key=value ... | "
	    "cluster delete|show|validate|plan|apply|dissolve NAME | cluster list | "
	    "cluster export NAME FILE | cluster import FILE");
}

static int
cluster_print(const struct cl_cluster *c, void *arg)
{
	char **v;
	size_t i, n = c->nsvc > c->nbs ? c->nsvc : c->nbs;

	(void)arg;
	if (c->nrs > n)
		n = c->nrs;
	if (!(v = calloc(n + 1, sizeof(*v))))
		err_die(EXIT_TEMP, "out of memory");
	out_begin();
	out_str("cluster", c->name);
	out_str("sched", c->sched);
	out_str("fwd", c->fwd ? c->fwd : "dr");
	out_str("type", c->type);
	for (i = 0; i < c->nsvc; i++)
		if (asprintf(&v[i], "%s@%s%s%s:%u/%s", c->svc[i].name,
		    strchr(c->svc[i].vip, ':') ? "[" : "", c->svc[i].vip,
		    strchr(c->svc[i].vip, ':') ? "]" : "", c->svc[i].port, c->svc[i].proto) < 0)
			v[i] = NULL;
	out_list("service", v, c->nsvc);
	for (i = 0; i < c->nsvc; i++)
		free(v[i]);
	out_str("lb", c->lb);
	for (i = 0; i < c->nbs; i++)
		if (asprintf(&v[i], "%s:%u", c->bs[i].host, c->bs[i].order) < 0)
			v[i] = NULL;
	out_list("bs", v, c->nbs);
	for (i = 0; i < c->nbs; i++)
		free(v[i]);
	for (i = 0; i < c->nrs; i++) {
		int r;
		if (c->rs[i].port)
			r = asprintf(&v[i], "%s:%ld:%u", c->rs[i].host, c->rs[i].weight,
			    c->rs[i].port);
		else if (c->rs[i].weight >= 0)
			r = asprintf(&v[i], "%s:%ld", c->rs[i].host, c->rs[i].weight);
		else
			r = asprintf(&v[i], "%s", c->rs[i].host);
		if (r < 0)
			v[i] = NULL;
	}
	out_list("rs", v, c->nrs);
	for (i = 0; i < c->nrs; i++)
		free(v[i]);
	out_num("generation", c->generation);
	out_str("descr", c->descr);
	out_end();
	free(v);
	return ferror(stdout) ? -1 : 0;
}

/* A missing cluster is a negative answer to show, bad input to the rest. */
static void
load(struct dir *d, const char *name, struct cl_cluster *c, int missing)
{
	struct cl_err e;
	int x = cl_dir_cluster_get(d, name, c, &e);

	if (x < 0)
		die_err(&e);
	if (x == 0)
		err_die(missing, "no cluster %s", name);
}

/* Every rule, the directory-wide one included. */
static void
check(struct dir *d, const struct cl_cluster *c, struct cl_hosts *hosts)
{
	struct cl_err e;

	if (cl_dir_members(d, c, hosts, &e) < 0 || cl_validate(c, hosts, &e) < 0 ||
	    cl_dir_cross_check(d, c, &e) < 0)
		die_err(&e);
}

static void
print_changes(const struct cl_change *ch, size_t n, const char *folder)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out_begin();
		out_str("host", ch[i].host);
		out_str("role", cl_role_name(ch[i].role));
		out_str("was", cl_role_name(ch[i].was));
		out_str("action", cl_action_name(ch[i].action));
		if (folder) {
			char *p;
			if (asprintf(&p, "%s/%s.role", folder, ch[i].host) >= 0) {
				out_str("file", p);
				free(p);
			}
		}
		out_end();
	}
}

static void
key_load(struct auth_key *k)
{
	const char *why = NULL;

	if (auth_key_load(opt.keyfile, k, &why) < 0)
		err_die(EXIT_BAD, "key %s: %s", opt.keyfile, why ? why : strerror(errno));
}

/* Each host's line with the result of its push. */
static void
print_pushed(const struct cluster_push *p, const char *folder)
{
	static const char *const res[] = { "ok", "failed", "none" };
	size_t i;

	for (i = 0; i < p->nres; i++) {
		const struct cluster_push_result *r = &p->res[i];
		out_begin();
		out_str("host", r->host);
		out_str("role", cl_role_name(r->role));
		out_str("was", cl_role_name(r->was));
		out_str("action", cl_action_name(r->action));
		if (folder) {
			char *f;
			if (asprintf(&f, "%s/%s.role", folder, r->host) >= 0) {
				out_str("file", f);
				free(f);
			}
		}
		out_str("push", res[r->result]);
		if (r->result != CLP_NOAGENT)
			out_str("agent", r->peer);
		if (r->result == CLP_FAILED)
			out_str("reason", r->why);
		if (r->result == CLP_OK)
			out_num("ms", (long)r->ms);
		out_end();
	}
}

static int
cluster_apply(struct dir *d, const char *name, int dissolve)
{
	struct cl_cluster c;
	struct cl_change *ch = NULL;
	struct cluster_push push = { 0 };
	struct cl_err e;
	struct stat st;
	size_t n = 0, i, changed = 0;
	long gen = 0;
	int x, pushing = opt.creds && !opt.dryrun;

	if (!opt.folder && !opt.dryrun)
		err_die(EXIT_BAD, "%s needs -o folder for the role files",
		    dissolve ? "dissolve" : "apply");
	if (opt.folder && (stat(opt.folder, &st) < 0 || !S_ISDIR(st.st_mode)))
		err_die(EXIT_BAD, "-o %s: not a folder", opt.folder);
	if (opt.creds) {
		char why[256];
		/* A bad credentials file is refused before anything is written. */
		if (!cluster_push_creds(opt.creds, "lc-build", why, sizeof why))
			err_die(EXIT_BAD, "-a %s: %s", opt.creds, why);
		push.creds = opt.creds;
		push.timeout_ms = opt.push_ms;
		push.tries = 2;
	}
	load(d, name, &c, EXIT_BAD);
	x = cl_apply(d, &c, dissolve, opt.folder, pushing ? cluster_push : NULL, &push,
	    opt.dryrun, &ch, &n, &gen, &e);
	if (x < 0 && !(pushing && strcmp(e.rule, "push") == 0 && push.nres > 0))
		die_err(&e);
	if (pushing) {
		/* The generation is recorded and every file written, pushed or not. */
		print_pushed(&push, opt.folder);
		for (i = 0; i < push.nres; i++)
			if (push.res[i].action != CL_KEEP)
				changed++;
		if (x < 0)
			gen = c.generation;
	} else {
		print_changes(ch, n, opt.dryrun ? NULL : opt.folder);
		for (i = 0; i < n; i++)
			if (ch[i].action != CL_KEEP)
				changed++;
	}
	out_begin();
	out_str("cluster", c.name);
	out_num("generation", gen);
	out_num("changed", (long)changed);
	out_bool("applied", !opt.dryrun && x == 0);
	if (pushing)
		out_num("failed", (long)push.failed);
	out_end();
	if (x < 0)
		err_warn("%zu of %zu hosts did not take their role file; apply again "
		    "when their agents are back", push.failed, push.nres);
	cluster_push_free(&push);
	cl_changes_free(ch, n);
	cl_cluster_free(&c);
	return x < 0 ? EXIT_NO : 0;
}

int
cmd_cluster(int argc, char **argv)
{
	struct cl_err e;
	struct cl_cluster c;
	struct cl_hosts hosts = { 0 };
	struct dir *d;
	const char *sub;
	char *v;
	int i, add, x, rc = 0;

	if (argc < 2)
		cluster_usage();
	sub = argv[1];
	memset(&c, 0, sizeof(c));
	if (strcmp(sub, "list") == 0) {
		if (argc != 2)
			cluster_usage();
		d = connect_dir();
		if (cl_dir_clusters_each(d, cluster_print, NULL, &e) < 0)
			die_err(&e);
		dir_close(d);
		return 0;
	}
	if (strcmp(sub, "import") == 0) {
		struct auth_key k;
		char *name = NULL;
		if (argc != 3)
			cluster_usage();
		if (opt.keyfile)
			key_load(&k);
		d = connect_dir();
		x = cl_import(d, argv[2], opt.keyfile ? k.k : NULL, opt.keyfile ? k.len : 0,
		    opt.dryrun, &name, &e);
		if (opt.keyfile)
			auth_key_wipe(&k);
		if (x < 0)
			die_err(&e);
		out_begin();
		out_str("cluster", name);
		out_bool("imported", !opt.dryrun);
		out_end();
		free(name);
		dir_close(d);
		return 0;
	}
	if (argc < 3)
		cluster_usage();
	if ((add = strcmp(sub, "add") == 0) || strcmp(sub, "change") == 0) {
		d = connect_dir();
		if (add) {
			if (!(c.name = strdup(argv[2])) || !(c.sched = strdup("wrr")) ||
			    !(c.fwd = strdup("dr")))
				err_die(EXIT_TEMP, "out of memory");
		}
		if (add) {
			struct cl_cluster cur;
			if ((x = cl_dir_cluster_get(d, argv[2], &cur, &e)) < 0)
				die_err(&e);
			cl_cluster_free(&cur);
			if (x > 0)
				err_die(EXIT_BAD, "rule exists: cluster %s is already in the directory",
				    argv[2]);
		} else
			load(d, argv[2], &c, EXIT_BAD);
		for (i = 3; i < argc; i++) {
			if (!(v = split_kv(argv[i])))
				err_die(EXIT_BAD, "operand %s: want key=value", argv[i]);
			if (cl_cluster_set(&c, argv[i], v, &e) < 0)
				die_err(&e);
		}
		check(d, &c, &hosts);
		if (!opt.dryrun && cl_dir_cluster_put(d, &c, add, &e) < 0)
			die_err(&e);
		if (!opt.quiet)
			cluster_print(&c, NULL);
	} else if (strcmp(sub, "export") == 0) {
		struct auth_key k;
		if (argc != 4)
			cluster_usage();
		if (opt.keyfile)
			key_load(&k);
		d = connect_dir();
		x = cl_export(d, argv[2], argv[3], opt.keyfile ? k.k : NULL,
		    opt.keyfile ? k.len : 0, &e);
		if (opt.keyfile)
			auth_key_wipe(&k);
		if (x < 0)
			die_err(&e);
		out_begin();
		out_str("cluster", argv[2]);
		out_str("file", argv[3]);
		out_end();
	} else {
		if (argc != 3)
			cluster_usage();
		d = connect_dir();
		if (strcmp(sub, "show") == 0) {
			load(d, argv[2], &c, EXIT_NO);
			cluster_print(&c, NULL);
		} else if (strcmp(sub, "delete") == 0) {
			if (!opt.dryrun && cl_dir_cluster_delete(d, argv[2], &e) < 0)
				die_err(&e);
		} else if (strcmp(sub, "validate") == 0) {
			load(d, argv[2], &c, EXIT_BAD);
			check(d, &c, &hosts);
			out_begin();
			out_str("cluster", c.name);
			out_bool("valid", 1);
			out_end();
		} else if (strcmp(sub, "plan") == 0) {
			struct cl_change *ch;
			size_t n;
			load(d, argv[2], &c, EXIT_BAD);
			check(d, &c, &hosts);
			if (cl_plan(&c, &hosts, c.applied, 0, c.generation + 1, &ch, &n, &e) < 0)
				die_err(&e);
			print_changes(ch, n, NULL);
			cl_changes_free(ch, n);
		} else if (strcmp(sub, "apply") == 0)
			rc = cluster_apply(d, argv[2], 0);
		else if (strcmp(sub, "dissolve") == 0)
			rc = cluster_apply(d, argv[2], 1);
		else
			cluster_usage();
	}
	cl_hosts_free(&hosts);
	cl_cluster_free(&c);
	dir_close(d);
	return rc;
}
