/*
 * lc-web actions: create, reconfigure, dissolve, drain, enable, weight,
 * scheduler. Each builds the changed cluster from the directory and the
 * form, checks it with lc-build's rules (lib/cluster), shows the plan,
 * and applies only on a second POST that confirms it (p=apply), refused
 * when the cluster changed in between. Every apply is audited.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kv.h"
#include "cluster_push.h"
#include "lc-web.h"

struct act {
	const char *act, *name;
	struct cl_cluster c;
	struct cl_hosts hosts;
	int add, dissolve, del;
	char what[600];		/* for people and the audit log */
	char *before;		/* spec text of the stored definition */
};

static void
act_free(struct act *a)
{
	cl_cluster_free(&a->c);
	cl_hosts_free(&a->hosts);
	free(a->before);
}

static const char *const form_keys[] = { "service", "sched", "lb", "bs", "rs", "descr" };

static struct cl_member *
rs_member(struct cl_cluster *c, const char *host)
{
	size_t i;

	for (i = 0; host && i < c->nrs; i++)
		if (strcmp(c->rs[i].host, host) == 0)
			return &c->rs[i];
	return NULL;
}

/*
 * Build a->c from the directory and the form. Returns 0, or an HTTP
 * status with the error page already written.
 */
static int
build(struct dir *d, struct act *a)
{
	struct cl_err e;
	struct cl_member *m;
	const char *v, *host = arg("host");
	char *end;
	size_t i;
	long w;
	int x;

	memset(a, 0, sizeof(*a));
	/* A session outlives nothing: an administrator removed from the
	 * directory changes nothing more, whatever their cookie says. */
	{
		struct cl_admin ad;
		if ((x = cl_dir_admin_get(d, rq.sess.admin, &ad, &e)) <= 0) {
			if (x < 0)
				fail_page(err_status(&e), "The directory failed", "%s", e.msg);
			else
				fail_page(403, "Not an administrator", "%s is no longer an "
				    "administrator in the directory; nothing was changed.",
				    rq.sess.admin);
			return x < 0 ? err_status(&e) : 403;
		}
		cl_admin_free(&ad);
	}
	a->act = arg("act");
	a->name = arg("c");
	if (!a->act || !a->name || !*a->name) {
		fail_page(400, "Incomplete form", "The form named no action or no cluster.");
		return 400;
	}
	if (strcmp(a->act, "create") == 0) {
		struct cl_cluster cur;
		if (strlen(a->name) > 63 || !kv_key_ok(a->name) || a->name[0] == '.' ||
		    a->name[0] == '-') {
			fail_page(400, "Bad cluster name", "A cluster name is 1 to 63 letters, "
			    "digits, '.', '_' or '-' (not first): %s is not one.", a->name);
			return 400;
		}
		if ((x = cl_dir_cluster_get(d, a->name, &cur, &e)) < 0) {
			fail_page(err_status(&e), "The directory failed", "%s", e.msg);
			return err_status(&e);
		}
		cl_cluster_free(&cur);
		if (x > 0) {
			fail_page(400, "The cluster exists", "There is already a cluster named %s; "
			    "reconfigure it instead.", a->name);
			return 400;
		}
		a->add = 1;
		if (!(a->c.name = strdup(a->name)) || !(a->c.sched = strdup("wrr")) ||
		    !(a->c.fwd = strdup("dr"))) {
			fail_page(500, "Out of memory", "lc-web ran out of memory.");
			return 500;
		}
	} else {
		if ((x = cl_dir_cluster_get(d, a->name, &a->c, &e)) <= 0) {
			if (x < 0)
				fail_page(err_status(&e), "The directory failed", "%s", e.msg);
			else
				fail_page(404, "No such cluster", "There is no cluster named %s.",
				    a->name);
			return x < 0 ? err_status(&e) : 404;
		}
		if (cl_dir_members(d, &a->c, &a->hosts, &e) == 0)
			a->before = cl_spec(&a->c, &a->hosts);
		cl_hosts_free(&a->hosts);
		memset(&a->hosts, 0, sizeof(a->hosts));
	}
	if (strcmp(a->act, "create") == 0 || strcmp(a->act, "change") == 0) {
		for (i = 0; i < sizeof form_keys / sizeof form_keys[0]; i++) {
			if (!(v = arg(form_keys[i])))
				continue;
			if (cl_cluster_set(&a->c, form_keys[i], v, &e) < 0) {
				fail_page(400, "The cluster is not valid", "%s", e.msg);
				return 400;
			}
		}
		{
			size_t len = (size_t)snprintf(a->what, sizeof a->what, "%s",
			    a->add ? "create" : "reconfigure");
			int k;
			/* What was asked for, key by key, for the audit log. */
			for (i = 0; i < sizeof form_keys / sizeof form_keys[0] &&
			    len < sizeof a->what - 1; i++) {
				if (!(v = arg(form_keys[i])))
					continue;
				k = kv_sput(a->what + len, sizeof a->what - len, 0, form_keys[i], v);
				if (k < 0 || (size_t)k >= sizeof a->what - len) {
					a->what[len] = '\0';
					break;
				}
				len += (size_t)k;
			}
		}
	} else if (strcmp(a->act, "dissolve") == 0) {
		a->dissolve = 1;
		snprintf(a->what, sizeof a->what, "dissolve: every host goes back to role none");
	} else if (strcmp(a->act, "delete") == 0) {
		a->del = 1;
		snprintf(a->what, sizeof a->what, "delete the definition");
		return 0;
	} else if (strcmp(a->act, "sched") == 0) {
		if (!(v = arg("sched")) || cl_cluster_set(&a->c, "sched", v, &e) < 0) {
			fail_page(400, "Bad scheduler", "Choose a scheduler: rr, wrr, lc or wlc.");
			return 400;
		}
		snprintf(a->what, sizeof a->what, "scheduler %.40s", v);
	} else if (strcmp(a->act, "drain") == 0 || strcmp(a->act, "enable") == 0 ||
	    strcmp(a->act, "weight") == 0) {
		if (!(m = rs_member(&a->c, host))) {
			fail_page(400, "No such real server", "%s is not a real server of cluster %s.",
			    host ? host : "(none given)", a->name);
			return 400;
		}
		if (strcmp(a->act, "drain") == 0) {
			m->weight = 0;
			snprintf(a->what, sizeof a->what, "drain %.64s (weight 0)", m->host);
		} else if (strcmp(a->act, "enable") == 0 && !arg("weight")) {
			m->weight = -1;
			snprintf(a->what, sizeof a->what, "enable %.64s (the host's weight)", m->host);
		} else {
			v = arg("weight");
			errno = 0;
			w = v && *v ? strtol(v, &end, 10) : -1;
			if (!v || !*v || errno || *end || w < 0 || w > 65535) {
				fail_page(400, "Bad weight", "A weight is a whole number from 0 to "
				    "65535 (0 drains the server); %s is not one.", v ? v : "nothing");
				return 400;
			}
			m->weight = w;
			snprintf(a->what, sizeof a->what, "weight of %.64s %ld", m->host, w);
		}
	} else {
		fail_page(400, "Unknown action", "There is no action %s.", a->act);
		return 400;
	}
	if (!a->dissolve && (cl_dir_members(d, &a->c, &a->hosts, &e) < 0 ||
	    cl_validate(&a->c, &a->hosts, &e) < 0 || cl_dir_cross_check(d, &a->c, &e) < 0)) {
		int st = err_status(&e);
		if (st == 400)
			fail_page(400, "The cluster is not valid", "%s%s%s", e.msg,
			    e.rule[0] && strcmp(e.rule, "input") ? " (rule " : "",
			    e.rule[0] && strcmp(e.rule, "input") ? e.rule : "");
		else
			fail_page(st, "The directory failed", "%s", e.msg);
		return st;
	}
	if (a->dissolve && cl_dir_members(d, &a->c, &a->hosts, &e) < 0) {
		fail_page(err_status(&e), "The directory failed", "%s", e.msg);
		return err_status(&e);
	}
	return 0;
}

static void
hidden(struct web_buf *b, const char *name, const char *val)
{
	web_buf_printf(b, "<input type=\"hidden\" name=\"%s\" value=\"", name);
	web_esc(b, val);
	web_buf_puts(b, "\">");
}

/* Lines of a not in b (del) and of b not in a (ins). */
static void
spec_diff(struct web_buf *out, const char *a, const char *b)
{
	const char *s[2] = { a ? a : "", b ? b : "" };
	const char *p, *nl;
	size_t len;
	int k, any = 0;

	web_buf_puts(out, "<pre>");
	for (k = 0; k < 2; k++)
		for (p = s[k]; *p; p = nl ? nl + 1 : p + len) {
			nl = strchr(p, '\n');
			len = nl ? (size_t)(nl - p) : strlen(p);
			if (len == 0)
				continue;
			/* present on the other side as a whole line? */
			const char *o = s[!k], *q;
			int found = 0;
			for (q = o; *q;) {
				const char *qn = strchr(q, '\n');
				size_t ql = qn ? (size_t)(qn - q) : strlen(q);
				if (ql == len && memcmp(q, p, len) == 0) {
					found = 1;
					break;
				}
				q = qn ? qn + 1 : q + ql;
			}
			if (found)
				continue;
			char *line = strndup(p, len);
			web_buf_puts(out, k == 0 ? "<del>- " : "<ins>+ ");
			web_esc(out, line ? line : "");
			web_buf_puts(out, k == 0 ? "</del>\n" : "</ins>\n");
			free(line);
			any = 1;
			if (!nl)
				break;
		}
	if (!any)
		web_buf_puts(out, "(the definition itself does not change)\n");
	web_buf_puts(out, "</pre>\n");
}

static void
changes_table(struct web_buf *b, const struct cl_change *ch, size_t n, int files)
{
	size_t i;

	web_buf_puts(b, "<table><thead><tr><th>Host</th><th>Role now</th><th>Role after</th>"
	    "<th>Action</th>");
	if (files)
		web_buf_puts(b, "<th>Role file</th>");
	web_buf_puts(b, "</tr></thead><tbody>\n");
	for (i = 0; i < n; i++) {
		web_buf_puts(b, "<tr><td>");
		web_esc(b, ch[i].host);
		web_buf_puts(b, "</td><td>");
		web_esc(b, cl_role_name(ch[i].was));
		web_buf_puts(b, "</td><td>");
		web_esc(b, cl_role_name(ch[i].role));
		web_buf_puts(b, "</td><td>");
		web_esc(b, cl_action_name(ch[i].action));
		web_buf_puts(b, "</td>");
		if (files) {
			web_buf_puts(b, "<td><details><summary>show</summary><pre>");
			web_esc(b, ch[i].file);
			web_buf_puts(b, "</pre></details></td>");
		}
		web_buf_puts(b, "</tr>\n");
	}
	web_buf_puts(b, "</tbody></table>\n");
}

void
action_plan(void)
{
	struct web_buf b = { 0 };
	struct cl_change *ch = NULL;
	struct cl_err e;
	struct act a;
	struct dir *d = dir_service();
	char *after = NULL, gen[32];
	size_t n = 0, i, changed = 0;

	if (!d)
		return;
	if (build(d, &a) != 0) {
		act_free(&a);
		dir_close(d);
		return;
	}
	dir_close(d);
	if (a.del) {
		page_begin(&b, "Confirm the change");
		web_buf_puts(&b, "<p class=\"note\">Cluster <strong>");
		web_esc(&b, a.c.name);
		web_buf_puts(&b, "</strong>: its definition is removed from the directory. No "
		    "host changes; a cluster that is applied must be dissolved first.</p>\n");
		goto confirm;
	}
	if (cl_plan(&a.c, &a.hosts, a.c.applied, a.dissolve, a.c.generation + 1, &ch, &n,
	    &e) < 0) {
		fail_page(err_status(&e), "No plan", "%s", e.msg);
		act_free(&a);
		return;
	}
	for (i = 0; i < n; i++)
		if (ch[i].action != CL_KEEP)
			changed++;
	page_begin(&b, "Confirm the change");
	web_buf_puts(&b, "<p class=\"note\">Cluster <strong>");
	web_esc(&b, a.c.name);
	web_buf_puts(&b, "</strong>: ");
	web_esc(&b, a.what);
	if (changed == 0 && a.before && (after = cl_spec(&a.c, &a.hosts)) &&
	    strcmp(a.before, after) == 0 && a.c.applied && strcmp(a.c.applied, after) == 0)
		web_buf_printf(&b, ". Nothing differs from generation %ld: applying again "
		    "rewrites every host's role file%s.</p>\n", a.c.generation,
		    conf.snmp ? " and sends it to the host's agent" : "");
	else
		web_buf_printf(&b, ". Applying makes generation %ld and gives %zu host%s a "
		    "new role file; nothing has changed yet.</p>\n", a.c.generation + 1,
		    changed, changed == 1 ? "" : "s");
	free(after);
	after = NULL;
	if (a.c.sched && (strcmp(a.c.sched, "lc") == 0 || strcmp(a.c.sched, "wlc") == 0))
		web_buf_puts(&b, "<p class=\"note\">The scheduler is least-connection: only the "
		    "IPVS dataplane has it. A balancer on the nftables dataplane refuses this "
		    "role file (lc-role says so), and keeps its last one.</p>\n");
	if (!a.dissolve) {
		web_buf_puts(&b, "<h2>Definition</h2>\n");
		after = cl_spec(&a.c, &a.hosts);
		spec_diff(&b, a.before, after);
		free(after);
	}
	web_buf_puts(&b, "<h2>Hosts</h2>\n");
	changes_table(&b, ch, n, 1);
confirm:
	web_buf_puts(&b, "<div class=\"actions\"><form method=\"post\" class=\"inline\" action=\"");
	web_esc(&b, rq.script);
	web_buf_puts(&b, "?p=apply\">");
	csrf_field(&b);
	/* The confirmation carries the same input, and the generation seen now. */
	hidden(&b, "act", a.act);
	hidden(&b, "c", a.name);
	for (i = 0; i < sizeof form_keys / sizeof form_keys[0]; i++)
		if (arg(form_keys[i]))
			hidden(&b, form_keys[i], arg(form_keys[i]));
	if (arg("host"))
		hidden(&b, "host", arg("host"));
	if (arg("weight"))
		hidden(&b, "weight", arg("weight"));
	snprintf(gen, sizeof gen, "%ld", a.c.generation);
	hidden(&b, "gen", gen);
	web_buf_printf(&b, "<button type=\"submit\"%s>%s</button></form>",
	    a.dissolve || a.del ? " class=\"danger\"" : "", a.dissolve ?
	    "Dissolve the cluster" : a.del ? "Delete the definition" : "Apply");
	web_buf_puts(&b, "<a href=\"");
	web_esc(&b, rq.script);
	if (a.add)
		web_buf_puts(&b, "?p=clusters");
	else {
		web_buf_puts(&b, "?p=cluster&amp;c=");
		web_urlenc(&b, a.name);
	}
	web_buf_puts(&b, "\">Cancel</a></div>\n");
	page_end(&b);
	respond(200, &b, NULL);
	web_buf_free(&b);
	cl_changes_free(ch, n);
	act_free(&a);
}

/*
 * 503 after a push some agents did not take: what is stored, then one
 * row per host of the plan with its agent's answer.
 */
static void
push_failed_page(const struct cluster_push *p, const char *msg)
{
	static const char *const result[] = { "ok", "failed", "no agent" };
	struct web_buf b = { 0 };
	size_t i;

	page_begin(&b, "Not every host has its role file");
	web_buf_puts(&b, "<p class=\"error\">");
	web_escf(&b, "The new generation is recorded and the role files are "
	    "written, but %s. When the agents are back, apply again (Push the role "
	    "files again, on the cluster's page): that sends every file anew.", msg);
	web_buf_puts(&b, "</p>\n<table><thead><tr><th>Host</th><th>Role</th>"
	    "<th>Agent</th><th>Result</th><th>Why</th><th>ms</th></tr></thead>"
	    "<tbody>\n");
	for (i = 0; i < p->nres; i++) {
		const struct cluster_push_result *r = &p->res[i];
		const char *cells[] = { r->host, cl_role_name(r->role),
		    r->peer[0] ? r->peer : "-", result[r->result],
		    r->result == CLP_NOAGENT ? "-" : r->why };
		size_t k;

		web_buf_puts(&b, "<tr>");
		for (k = 0; k < sizeof cells / sizeof cells[0]; k++) {
			web_buf_puts(&b, "<td>");
			web_esc(&b, cells[k]);
			web_buf_puts(&b, "</td>");
		}
		web_buf_printf(&b, "<td class=\"num\">%u</td></tr>\n", r->ms);
	}
	web_buf_puts(&b, "</tbody></table>\n<p><a href=\"");
	web_esc(&b, rq.script);
	web_buf_puts(&b, "?p=clusters\">Back to the clusters</a></p>\n");
	page_end(&b);
	respond(503, &b, NULL);
	web_buf_free(&b);
	err_warn("503 not every host has its role file: %s", msg);
}

void
action_apply(void)
{
	struct web_buf b = { 0 };
	struct cl_change *ch = NULL;
	struct cluster_push push = { 0 };
	struct cl_err e;
	struct act a;
	struct dir *d = dir_service();
	const char *g = arg("gen");
	char hdr[512], *end;
	size_t n = 0;
	long gen = 0, seen;
	int st, x;

	if (!d)
		return;
	if ((st = build(d, &a)) != 0) {
		audit(arg("act") ? arg("act") : "?", arg("c"), a.what, 0, "refused",
		    "not valid");
		act_free(&a);
		dir_close(d);
		return;
	}
	errno = 0;
	seen = g ? strtol(g, &end, 10) : -1;
	if (!g || errno || *end || seen < 0) {
		fail_page(400, "Incomplete form", "The confirmation did not say which "
		    "generation it was planned against.");
		goto out;
	}
	if (seen != a.c.generation) {
		audit(a.act, a.name, a.what, 0, "refused", "changed since planned");
		fail_page(409, "The cluster changed", "Cluster %s was applied again (generation "
		    "%ld, you planned against %ld) since you looked at the plan. Nothing was "
		    "changed: look at the cluster and plan again.", a.name, a.c.generation, seen);
		goto out;
	}
	if (a.del) {
		if (cl_dir_cluster_delete(d, a.name, &e) < 0) {
			audit(a.act, a.name, a.what, 0, "refused", e.msg);
			fail_page(err_status(&e), "Not deleted", "%s", e.msg);
			goto out;
		}
		audit(a.act, a.name, a.what, 0, "ok", NULL);
		snprintf(hdr, sizeof hdr, "Location: %s?p=clusters&msg=deleted\r\n", rq.script);
		page_begin(&b, "Deleted");
		web_buf_puts(&b, "<p class=\"ok\">The cluster's definition was deleted.</p>\n");
		page_end(&b);
		respond(303, &b, hdr);
		web_buf_free(&b);
		goto out;
	}
	if (!a.dissolve && cl_dir_cluster_put(d, &a.c, a.add, &e) < 0) {
		audit(a.act, a.name, a.what, 0, "error", e.msg);
		fail_page(err_status(&e), "Not applied", "%s", e.msg);
		goto out;
	}
	/* With SNMP credentials the role files also go to each host's agent. */
	push.creds = conf.snmp;
	push.timeout_ms = 2000;
	push.tries = 2;
	x = cl_apply(d, &a.c, a.dissolve, conf.roles, conf.snmp ? cluster_push : NULL,
	    &push, 0, &ch, &n, &gen, &e);
	if (x < 0) {
		audit(a.act, a.name, a.what, 0, "error", e.msg);
		if (strcmp(e.rule, "push") == 0)
			push_failed_page(&push, e.msg);
		else if (strcmp(e.rule, "concurrent") == 0)
			fail_page(409, "The cluster changed", "%s. Nothing was changed by this "
			    "request.", e.msg);
		else
			fail_page(err_status(&e), "Not applied", "The definition was stored but "
			    "applying it failed: %s", e.msg);
		cluster_push_free(&push);
		goto out;
	}
	cluster_push_free(&push);
	audit(a.act, a.name, a.what, gen, "ok", NULL);
	if (a.dissolve)
		snprintf(hdr, sizeof hdr, "Location: %s?p=clusters&msg=dissolved\r\n", rq.script);
	else {
		struct web_buf u = { 0 };
		web_urlenc(&u, a.name);
		snprintf(hdr, sizeof hdr, "Location: %s?p=cluster&c=%s&done=%ld\r\n", rq.script,
		    u.s ? u.s : "", gen);
		web_buf_free(&u);
	}
	page_begin(&b, "Applied");
	web_buf_printf(&b, "<p class=\"ok\">Applied: generation %ld.</p>\n", gen);
	changes_table(&b, ch, n, 0);
	page_end(&b);
	respond(303, &b, hdr);
	web_buf_free(&b);
out:
	cl_changes_free(ch, n);
	act_free(&a);
	dir_close(d);
}
