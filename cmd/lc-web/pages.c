/* lc-web pages: clusters, one cluster, hosts, history, forms, login. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "atomic.h"
#include "kv.h"
#include "lc-web.h"
#include "web_snmp.h"

static void
link_to(struct web_buf *b, const char *page, const char *c, const char *text)
{
	web_buf_puts(b, "<a href=\"");
	web_esc(b, rq.script);
	web_buf_puts(b, "?p=");
	web_buf_puts(b, page);
	if (c) {
		web_buf_puts(b, "&amp;c=");
		web_urlenc(b, c);
	}
	web_buf_puts(b, "\">");
	web_esc(b, text);
	web_buf_puts(b, "</a>");
}

static void
form_begin(struct web_buf *b, const char *page, const char *cls)
{
	web_buf_printf(b, "<form method=\"post\" class=\"%s\" action=\"", cls);
	web_esc(b, rq.script);
	web_buf_printf(b, "?p=%s\">", page);
	csrf_field(b);
}

static void
hidden(struct web_buf *b, const char *name, const char *val)
{
	web_buf_printf(b, "<input type=\"hidden\" name=\"%s\" value=\"", name);
	web_esc(b, val);
	web_buf_puts(b, "\">");
}

static void
when(struct web_buf *b, long long t)
{
	char s[64];
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || !gmtime_r(&tt, &tm)) {
		web_buf_puts(b, "–");
		return;
	}
	strftime(s, sizeof s, "%Y-%m-%d %H:%M:%S UTC", &tm);
	web_buf_puts(b, s);
}

/* A page that could not be read from the directory: never the user's fault. */
static void
load_fail(const char *head, const struct cl_err *e)
{
	int st = err_status(e);

	if (st == 400 || st == 404)
		fail_page(500, head, "The directory holds something lc-web cannot use: %s",
		    e->msg);
	else
		fail_page(st, head, "%s", e->msg);
}

/* ---- login and style ---------------------------------------------------- */

void
page_login(int status, const char *note)
{
	struct web_buf b = { 0 };
	char token[WEB_TOKEN_MAX];

	rq.have_sess = 0;
	web_login_token(&conf.key, rq.now, token);
	page_begin(&b, "Log in");
	if (note) {
		web_buf_printf(&b, "<p class=\"%s\">", status >= 400 ? "error" : "note");
		web_esc(&b, note);
		web_buf_puts(&b, "</p>\n");
	}
	web_buf_puts(&b, "<form method=\"post\" class=\"login\" action=\"");
	web_esc(&b, rq.script);
	web_buf_puts(&b, "?p=login\">");
	hidden(&b, "token", token);
	web_buf_puts(&b, "<label>Administrator <input name=\"user\" autocomplete=\"username\" "
	    "required maxlength=\"63\"></label>\n<label>Password <input type=\"password\" "
	    "name=\"password\" autocomplete=\"current-password\" required></label>\n"
	    "<button type=\"submit\">Log in</button></form>\n"
	    "<p class=\"hint\">Administrators are the entries under ou=admins in the "
	    "cluster directory (<code>lc-build admin add</code>). There is no default "
	    "account.</p>\n");
	page_end(&b);
	respond(status, &b, NULL);
	web_buf_free(&b);
}

void
page_css(void)
{
	fputs("Status: 200 OK\r\nContent-Type: text/css; charset=utf-8\r\n"
	    "Cache-Control: max-age=3600\r\nX-Content-Type-Options: nosniff\r\n\r\n", stdout);
	fputs(
	    "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;"
	    "color:#1d2330;background:#f4f6f9}\n"
	    "header{display:flex;align-items:center;gap:1.5em;background:#1f3a5f;color:#fff;"
	    "padding:.6em 1.2em}\n"
	    ".brand{font-weight:600;letter-spacing:.02em}\n"
	    "nav{display:flex;gap:1em;flex:1}nav a{color:#dfe8f5;text-decoration:none}"
	    "nav a:hover{color:#fff;text-decoration:underline}\n"
	    "form.logout{margin:0;display:flex;gap:.6em;align-items:center}"
	    "form.logout span{color:#dfe8f5}\n"
	    "main{max-width:72em;margin:1.2em auto;padding:0 1.2em}\n"
	    "h1{font-size:1.5em;margin:.4em 0 .6em}h2{font-size:1.15em;margin:1.4em 0 .5em}\n"
	    "table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px #0001}\n"
	    "th,td{padding:.4em .6em;border-bottom:1px solid #e3e7ee;text-align:left;"
	    "vertical-align:top}th{background:#eaeef4;font-weight:600}\n"
	    "td.num{text-align:right;font-variant-numeric:tabular-nums}"
	    "td:first-child{white-space:nowrap}\n"
	    ".up{color:#14702e;font-weight:600}.down{color:#b3261e;font-weight:600}"
	    ".unknown,.muted{color:#6b7280}\n"
	    ".error{background:#fde8e7;border-left:4px solid #b3261e;padding:.6em .9em}\n"
	    ".note{background:#e8f0fd;border-left:4px solid #1f5fbf;padding:.6em .9em}\n"
	    ".ok{background:#e6f4ea;border-left:4px solid #14702e;padding:.6em .9em}\n"
	    "form{margin:0}form.inline{display:inline-flex;gap:.3em;align-items:center}\n"
	    "form.login,form.edit{display:grid;gap:.7em;max-width:34em;background:#fff;"
	    "padding:1.2em;box-shadow:0 1px 2px #0001}\n"
	    "label{display:grid;gap:.2em;font-weight:600}label small{font-weight:400;color:#555}\n"
	    "input,select{font:inherit;font-weight:400;padding:.3em .4em;border:1px solid #b8c0cc;"
	    "border-radius:3px}\n"
	    ".cols{display:grid;grid-template-columns:minmax(0,34em) minmax(0,1fr);gap:1.5em;"
	    "align-items:start}.cols h2{margin-top:0}\n"
	    "@media (max-width:800px){.cols{grid-template-columns:1fr}}\n"
	    "input[type=number]{width:5.5em}\n"
	    "button{font:inherit;padding:.3em .8em;border:1px solid #1f3a5f;background:#1f5fbf;"
	    "color:#fff;border-radius:3px;cursor:pointer}\n"
	    "button.danger{background:#b3261e;border-color:#7f1d17}\n"
	    "button.quiet{background:#fff;color:#1f3a5f}\n"
	    ".actions{display:flex;gap:.8em;flex-wrap:wrap;margin:1em 0}\n"
	    "dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:600}"
	    "dd{margin:0}\n"
	    "pre{background:#fff;padding:.6em;overflow:auto;border:1px solid #e3e7ee}\n"
	    "ins{background:#e6f4ea;text-decoration:none}del{background:#fde8e7}\n"
	    "footer{color:#6b7280;text-align:center;font-size:.85em;margin:2em 0}\n"
	    "code{background:#eaeef4;padding:0 .2em}\n", stdout);
}

/* ---- live state from rs-probe ------------------------------------------- */

struct live {
	char name[64], status[16], reason[48];
	long weight, conns, load;
	long long since;
};

struct lives {
	struct live *v;
	size_t n;
	long long time;
	int found;		/* 1 state file, 2 SNMP */
	char path[4200];
	char snmp_err[200];
};

static void
lives_free(struct lives *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/*
 * <state>/<cluster>/rs-probe.state, as rs-probe writes it on the load
 * balancer (copied here, or read where lc-web runs on the balancer).
 */
static void
lives_load(const char *cluster, struct lives *l)
{
	char *text, *line, *save = NULL;
	struct kv_rec r;
	const char *why, *v;
	struct live *nv;
	size_t len;

	memset(l, 0, sizeof(*l));
	if (!conf.state)
		return;
	snprintf(l->path, sizeof l->path, "%s/%s/rs-probe.state", conf.state, cluster);
	if (!(text = atomic_read(l->path, 1 << 20, &len)))
		return;
	l->found = 1;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (kv_parse(&r, line, &why) < 0)
			continue;
		if (r.n && strcmp(r.v[0].key, "probe") == 0 && (v = kv_get(&r, "time")))
			l->time = atoll(v);
		else if (r.n && strcmp(r.v[0].key, "rs") == 0 &&
		    (nv = realloc(l->v, (l->n + 1) * sizeof(*nv)))) {
			struct live *x = &nv[l->n++];
			l->v = nv;
			memset(x, 0, sizeof(*x));
			snprintf(x->name, sizeof x->name, "%s", r.v[0].val);
			snprintf(x->status, sizeof x->status, "%s",
			    (v = kv_get(&r, "status")) ? v : "unknown");
			snprintf(x->reason, sizeof x->reason, "%s",
			    (v = kv_get(&r, "reason")) ? v : "");
			x->weight = (v = kv_get(&r, "weight")) ? atol(v) : -1;
			x->conns = (v = kv_get(&r, "conns")) ? atol(v) : -1;
			x->load = (v = kv_get(&r, "load")) ? atol(v) : -1;
			x->since = (v = kv_get(&r, "since")) ? atoll(v) : 0;
		}
		kv_free(&r);
	}
	free(text);
}

/*
 * The load balancer's lc-agent over SNMPv3 (nsRsTable): what rs-probe
 * decided, as the agent serves it now. 0, or -1 with l->snmp_err.
 */
static int
lives_snmp(const struct cl_cluster *c, struct cl_hosts *hosts, struct lives *l)
{
	static const char *const st[] = { "unknown", "unknown", "up", "down" };
	struct web_rs_live rs[256];
	const struct cl_host *lb = c->lb ? cl_hosts_get(hosts, c->lb) : NULL;
	char peer[128];
	int n, i;

	if (!lb || lb->agent <= 0 || lb->naddr == 0) {
		snprintf(l->snmp_err, sizeof l->snmp_err, "the load balancer has no agent "
		    "port or address in the directory");
		return -1;
	}
	snprintf(peer, sizeof peer, strchr(lb->addr[0], ':') ? "udp6:[%s]:%ld" : "udp:%s:%ld",
	    lb->addr[0], lb->agent);
	n = web_snmp_rs_table(conf.snmp, peer, lb->name, 1000, rs, 256, l->snmp_err,
	    sizeof l->snmp_err);
	if (n < 0)
		return -1;
	if (n > 0 && !(l->v = calloc((size_t)n, sizeof(*l->v)))) {
		snprintf(l->snmp_err, sizeof l->snmp_err, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct live *x = &l->v[i];
		snprintf(x->name, sizeof x->name, "%s", rs[i].name);
		snprintf(x->status, sizeof x->status, "%s", st[rs[i].status & 3]);
		snprintf(x->reason, sizeof x->reason, "%s", rs[i].reason);
		x->weight = rs[i].weight;
		x->conns = rs[i].conns;
		x->load = rs[i].load;
		x->since = rs[i].since;
	}
	l->n = (size_t)n;
	l->found = 2;
	l->time = rq.now;
	snprintf(l->path, sizeof l->path, "%s", peer);
	return 0;
}

static const struct live *
live_of(const struct lives *l, const char *host)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, host) == 0)
			return &l->v[i];
	return NULL;
}

/* ---- clusters ----------------------------------------------------------- */

static void
services_text(struct web_buf *b, const struct cl_cluster *c)
{
	size_t i;

	for (i = 0; i < c->nsvc; i++) {
		int v6 = strchr(c->svc[i].vip, ':') != NULL;
		if (i)
			web_buf_puts(b, "<br>");
		web_escf(b, "%s%s%s:%u/%s", v6 ? "[" : "", c->svc[i].vip, v6 ? "]" : "",
		    c->svc[i].port, c->svc[i].proto);
	}
}

static int
cluster_row(const struct cl_cluster *c, void *arg)
{
	struct web_buf *b = arg;

	web_buf_puts(b, "<tr><td>");
	link_to(b, "cluster", c->name, c->name);
	web_buf_puts(b, "</td><td>");
	services_text(b, c);
	web_buf_puts(b, "</td><td>");
	web_esc(b, c->sched);
	web_buf_puts(b, "</td><td>");
	web_esc(b, c->lb ? c->lb : "–");
	web_buf_printf(b, "</td><td class=\"num\">%zu</td><td class=\"num\">%zu</td><td>",
	    c->nbs, c->nrs);
	if (c->generation > 0)
		web_buf_printf(b, "generation %ld", c->generation);
	else
		web_buf_puts(b, "<span class=\"muted\">not applied</span>");
	web_buf_puts(b, "</td><td>");
	web_esc(b, c->descr);
	web_buf_puts(b, "</td></tr>\n");
	return 0;
}

void
page_clusters(void)
{
	struct web_buf b = { 0 }, rows = { 0 };
	struct cl_err e;
	struct dir *d = dir_service();

	if (!d)
		return;
	if (cl_dir_clusters_each(d, cluster_row, &rows, &e) < 0) {
		dir_close(d);
		web_buf_free(&rows);
		load_fail("Clusters not available", &e);
		return;
	}
	dir_close(d);
	page_begin(&b, "Clusters");
	if (arg("msg") && strcmp(arg("msg"), "dissolved") == 0)
		web_buf_puts(&b, "<p class=\"ok\">The cluster was dissolved: its hosts have "
		    "role none. Its definition stays until deleted.</p>\n");
	if (arg("msg") && strcmp(arg("msg"), "deleted") == 0)
		web_buf_puts(&b, "<p class=\"ok\">The cluster's definition was deleted.</p>\n");
	if (rows.len) {
		web_buf_puts(&b, "<table><thead><tr><th>Cluster</th><th>Virtual services</th>"
		    "<th>Scheduler</th><th>Load balancer</th><th>Backups</th><th>Real servers</th>"
		    "<th>Applied</th><th>Description</th></tr></thead><tbody>\n");
		web_buf_put(&b, rows.s, rows.len);
		web_buf_puts(&b, "</tbody></table>\n");
	} else
		web_buf_puts(&b, "<p class=\"note\">There are no clusters yet.</p>\n");
	web_buf_puts(&b, "<div class=\"actions\">");
	link_to(&b, "new", NULL, "Create a cluster");
	web_buf_puts(&b, "</div>\n");
	page_end(&b);
	respond(200, &b, NULL);
	web_buf_free(&b);
	web_buf_free(&rows);
}

static void
addrs(struct web_buf *b, const struct cl_host *h)
{
	size_t i;

	if (!h) {
		web_buf_puts(b, "<span class=\"muted\">not in the directory</span>");
		return;
	}
	for (i = 0; i < h->naddr; i++) {
		if (i)
			web_buf_puts(b, "<br>");
		web_esc(b, h->addr[i]);
	}
}

static void
rs_actions(struct web_buf *b, const struct cl_cluster *c, const struct cl_member *m)
{
	char w[32];

	form_begin(b, "plan", "inline");
	hidden(b, "c", c->name);
	hidden(b, "host", m->host);
	if (m->weight == 0) {
		hidden(b, "act", "enable");
		web_buf_puts(b, "<button type=\"submit\" class=\"quiet\">Enable</button>");
	} else {
		hidden(b, "act", "drain");
		web_buf_puts(b, "<button type=\"submit\" class=\"quiet\">Drain</button>");
	}
	web_buf_puts(b, "</form> ");
	form_begin(b, "plan", "inline");
	hidden(b, "c", c->name);
	hidden(b, "host", m->host);
	hidden(b, "act", "weight");
	snprintf(w, sizeof w, "%ld", m->weight < 0 ? 1 : m->weight);
	web_buf_puts(b, "<input type=\"number\" name=\"weight\" min=\"0\" max=\"65535\" "
	    "aria-label=\"weight\" value=\"");
	web_esc(b, w);
	web_buf_puts(b, "\"><button type=\"submit\" class=\"quiet\">Set weight</button></form>");
}

void
page_cluster(const char *name)
{
	struct web_buf b = { 0 };
	struct cl_cluster c;
	struct cl_hosts hosts = { 0 };
	struct cl_err e;
	struct lives l;
	struct dir *d = dir_service();
	const struct cl_host *h;
	char *spec = NULL;
	size_t i;
	int x;

	if (!d)
		return;
	memset(&c, 0, sizeof(c));
	if ((x = cl_dir_cluster_get(d, name, &c, &e)) <= 0) {
		dir_close(d);
		if (x < 0)
			load_fail("Cluster not available", &e);
		else
			fail_page(404, "No such cluster", "There is no cluster named %s.", name);
		return;
	}
	if (cl_dir_members(d, &c, &hosts, &e) < 0) {
		dir_close(d);
		cl_cluster_free(&c);
		load_fail("Cluster not available", &e);
		return;
	}
	dir_close(d);
	memset(&l, 0, sizeof(l));
	if (!conf.snmp || lives_snmp(&c, &hosts, &l) < 0) {
		char err[sizeof l.snmp_err];
		memcpy(err, l.snmp_err, sizeof err);
		free(l.v);
		lives_load(c.name, &l);
		memcpy(l.snmp_err, err, sizeof err);
	}
	page_begin(&b, c.name);
	if (arg("done")) {
		web_buf_puts(&b, "<p class=\"ok\">Applied: generation ");
		web_esc(&b, arg("done"));
		web_buf_puts(&b, ".</p>\n");
	}
	web_buf_puts(&b, "<dl><dt>Scheduler</dt><dd>");
	web_esc(&b, c.sched);
	web_buf_puts(&b, "</dd><dt>Forwarding</dt><dd>");
	web_esc(&b, c.fwd ? c.fwd : "dr");
	web_buf_puts(&b, "</dd><dt>Applied</dt><dd>");
	if (c.generation > 0)
		web_buf_printf(&b, "generation %ld", c.generation);
	else
		web_buf_puts(&b, "not applied yet");
	spec = cl_spec(&c, &hosts);
	if (c.applied && spec && strcmp(spec, c.applied) != 0)
		web_buf_puts(&b, " <strong>(the definition has changes not applied)</strong>");
	free(spec);
	web_buf_puts(&b, "</dd>");
	if (c.descr && *c.descr) {
		web_buf_puts(&b, "<dt>Description</dt><dd>");
		web_esc(&b, c.descr);
		web_buf_puts(&b, "</dd>");
	}
	web_buf_puts(&b, "</dl>\n<h2>Virtual services</h2>\n<table><thead><tr><th>Name</th>"
	    "<th>Virtual address</th><th>Port</th><th>Protocol</th></tr></thead><tbody>\n");
	for (i = 0; i < c.nsvc; i++) {
		web_buf_puts(&b, "<tr><td>");
		web_esc(&b, c.svc[i].name);
		web_buf_puts(&b, "</td><td>");
		web_esc(&b, c.svc[i].vip);
		web_buf_printf(&b, "</td><td class=\"num\">%u</td><td>", c.svc[i].port);
		web_esc(&b, c.svc[i].proto);
		web_buf_puts(&b, "</td></tr>\n");
	}
	web_buf_puts(&b, "</tbody></table>\n<h2>Hosts</h2>\n<table><thead><tr><th>Host</th>"
	    "<th>Role</th><th>Addresses</th></tr></thead><tbody>\n");
	if (c.lb) {
		web_buf_puts(&b, "<tr><td>");
		web_esc(&b, c.lb);
		web_buf_puts(&b, "</td><td>load balancer</td><td>");
		addrs(&b, cl_hosts_get(&hosts, c.lb));
		web_buf_puts(&b, "</td></tr>\n");
	}
	for (i = 0; i < c.nbs; i++) {
		web_buf_puts(&b, "<tr><td>");
		web_esc(&b, c.bs[i].host);
		web_buf_printf(&b, "</td><td>backup server, order %u%s</td><td>", c.bs[i].order,
		    c.bs[i].order == 1 ? " (primary)" : "");
		addrs(&b, cl_hosts_get(&hosts, c.bs[i].host));
		web_buf_puts(&b, "</td></tr>\n");
	}
	web_buf_puts(&b, "</tbody></table>\n<h2>Real servers</h2>\n");
	if (conf.snmp && l.found != 2) {
		web_buf_puts(&b, "<p class=\"error\">The load balancer's agent did not answer: ");
		web_esc(&b, l.snmp_err);
		web_buf_puts(&b, "</p>\n");
	}
	if (l.found == 2) {
		web_buf_puts(&b, "<p class=\"muted\">Live status as the load balancer's agent (");
		web_esc(&b, l.path);
		web_buf_puts(&b, ", NONSTOP-MIB nsRsTable) reports it now: ");
		when(&b, l.time);
		web_buf_puts(&b, ".</p>\n");
	} else if (l.found) {
		web_buf_puts(&b, "<p class=\"muted\">Live status as rs-probe on the load balancer "
		    "last reported it: ");
		when(&b, l.time);
		web_buf_printf(&b, " (%lld s ago).</p>\n", (long long)rq.now - l.time);
	} else if (conf.state)
		web_buf_puts(&b, "<p class=\"muted\">No live status: rs-probe's state file is not "
		    "there (yet).</p>\n");
	else
		web_buf_puts(&b, "<p class=\"muted\">No live status: lc-web has no state folder "
		    "configured.</p>\n");
	web_buf_puts(&b, "<table><thead><tr><th>Host</th><th>Addresses</th><th>Port</th>"
	    "<th>Weight (configured)</th><th>Status</th><th>Weight (live)</th>"
	    "<th>Connections</th><th>Load</th><th>Since</th><th>Change</th></tr></thead><tbody>\n");
	for (i = 0; i < c.nrs; i++) {
		const struct cl_member *m = &c.rs[i];
		const struct live *lv = live_of(&l, m->host);
		h = cl_hosts_get(&hosts, m->host);
		web_buf_puts(&b, "<tr><td>");
		web_esc(&b, m->host);
		web_buf_puts(&b, "</td><td>");
		addrs(&b, h);
		web_buf_puts(&b, "</td><td class=\"num\">");
		if (m->port)
			web_buf_printf(&b, "%u", m->port);
		else
			web_buf_puts(&b, "service");
		web_buf_puts(&b, "</td><td class=\"num\">");
		if (m->weight == 0)
			web_buf_puts(&b, "0 (drained)");
		else if (m->weight > 0)
			web_buf_printf(&b, "%ld", m->weight);
		else
			web_buf_printf(&b, "%ld (host)", h && h->weight >= 0 ? h->weight : 1);
		web_buf_puts(&b, "</td>");
		if (lv) {
			web_buf_puts(&b, "<td><span class=\"");
			web_esc(&b, strcmp(lv->status, "up") == 0 ? "up" :
			    strcmp(lv->status, "down") == 0 ? "down" : "unknown");
			web_buf_puts(&b, "\">");
			web_esc(&b, lv->status);
			web_buf_puts(&b, "</span>");
			if (lv->reason[0]) {
				web_buf_puts(&b, " <small>");
				web_esc(&b, lv->reason);
				web_buf_puts(&b, "</small>");
			}
			web_buf_printf(&b, "</td><td class=\"num\">%ld</td><td class=\"num\">%ld</td>"
			    "<td class=\"num\">%ld.%02ld</td><td>", lv->weight, lv->conns,
			    lv->load / 100, lv->load % 100);
			when(&b, lv->since);
			web_buf_puts(&b, "</td>");
		} else
			web_buf_puts(&b, "<td class=\"unknown\">no report</td><td></td><td></td>"
			    "<td></td><td></td>");
		web_buf_puts(&b, "<td>");
		rs_actions(&b, &c, m);
		web_buf_puts(&b, "</td></tr>\n");
	}
	web_buf_puts(&b, "</tbody></table>\n<h2>Scheduler</h2>\n");
	form_begin(&b, "plan", "inline");
	hidden(&b, "c", c.name);
	hidden(&b, "act", "sched");
	web_buf_puts(&b, "<select name=\"sched\" aria-label=\"scheduler\">");
	{
		static const char *const s[] = { "rr", "wrr", "lc", "wlc" };
		for (i = 0; i < 4; i++)
			web_buf_printf(&b, "<option%s>%s</option>",
			    c.sched && strcmp(c.sched, s[i]) == 0 ? " selected" : "", s[i]);
	}
	web_buf_puts(&b, "</select> <button type=\"submit\" class=\"quiet\">Change the "
	    "scheduler</button></form>\n<div class=\"actions\">");
	link_to(&b, "edit", c.name, "Reconfigure");
	web_buf_puts(&b, " ");
	link_to(&b, "history", c.name, "History");
	form_begin(&b, "plan", "inline");
	hidden(&b, "c", c.name);
	hidden(&b, "act", "change");
	web_buf_puts(&b, "<button type=\"submit\" class=\"quiet\">Push the role files again"
	    "</button></form>");
	form_begin(&b, "plan", "inline");
	hidden(&b, "c", c.name);
	hidden(&b, "act", "dissolve");
	web_buf_puts(&b, "<button type=\"submit\" class=\"danger\">Dissolve</button></form>");
	form_begin(&b, "plan", "inline");
	hidden(&b, "c", c.name);
	hidden(&b, "act", "delete");
	web_buf_puts(&b, "<button type=\"submit\" class=\"quiet\">Delete the definition</button>"
	    "</form>");
	web_buf_puts(&b, "</div>\n");
	page_end(&b);
	respond(200, &b, NULL);
	web_buf_free(&b);
	lives_free(&l);
	cl_hosts_free(&hosts);
	cl_cluster_free(&c);
}

/* ---- hosts -------------------------------------------------------------- */

static int
host_row(const struct cl_host *h, void *arg)
{
	struct web_buf *b = arg;
	int r, first = 1;

	web_buf_puts(b, "<tr><td>");
	web_esc(b, h->name);
	web_buf_puts(b, "</td><td>");
	addrs(b, h);
	web_buf_puts(b, "</td><td>");
	for (r = CL_LB; r < CL_NROLES; r++)
		if (h->potential & (1u << r)) {
			web_buf_puts(b, first ? "" : ", ");
			web_esc(b, cl_role_name(r));
			first = 0;
		}
	web_buf_puts(b, "</td><td>");
	web_esc(b, cl_role_name(h->status));
	if (h->status_cluster && *h->status_cluster) {
		web_buf_puts(b, " in ");
		link_to(b, "cluster", h->status_cluster, h->status_cluster);
	}
	web_buf_puts(b, "</td><td class=\"num\">");
	if (h->weight >= 0)
		web_buf_printf(b, "%ld", h->weight);
	web_buf_puts(b, "</td><td>");
	web_esc(b, h->cpu);
	web_buf_puts(b, "</td><td class=\"num\">");
	if (h->mem >= 0)
		web_buf_printf(b, "%ld MiB", h->mem);
	web_buf_puts(b, "</td><td>");
	web_esc(b, h->nic);
	web_buf_puts(b, "</td><td class=\"num\">");
	if (h->agent > 0)
		web_buf_printf(b, "%ld", h->agent);
	web_buf_puts(b, "</td><td>");
	web_esc(b, h->descr);
	web_buf_puts(b, "</td></tr>\n");
	return 0;
}

void
page_hosts(void)
{
	struct web_buf b = { 0 }, rows = { 0 };
	struct cl_err e;
	struct dir *d = dir_service();

	if (!d)
		return;
	if (cl_dir_hosts_each(d, host_row, &rows, &e) < 0) {
		dir_close(d);
		web_buf_free(&rows);
		load_fail("Hosts not available", &e);
		return;
	}
	dir_close(d);
	page_begin(&b, "Hosts");
	if (rows.len)
		web_buf_puts(&b, "<table><thead><tr><th>Host</th><th>Addresses</th><th>May be</th>"
		    "<th>Role now</th><th>Weight</th><th>CPU</th><th>Memory</th><th>NIC</th>"
		    "<th>Agent port</th><th>Description</th></tr></thead><tbody>\n");
	else
		web_buf_puts(&b, "<p class=\"note\">There are no hosts in the directory yet "
		    "(<code>lc-build host add</code>).</p>\n");
	web_buf_put(&b, rows.s ? rows.s : "", rows.len);
	if (rows.len)
		web_buf_puts(&b, "</tbody></table>\n");
	page_end(&b);
	respond(200, &b, NULL);
	web_buf_free(&b);
	web_buf_free(&rows);
}

/* ---- history ------------------------------------------------------------ */

/* The last max bytes of a log, from the first whole line on (malloc'd). */
static char *
read_tail(const char *path, size_t max, size_t *len)
{
	struct stat st;
	char *buf, *p;
	off_t off = 0;
	ssize_t r;
	size_t got = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !(buf = malloc(max + 1))) {
		close(fd);
		return NULL;
	}
	if ((size_t)st.st_size > max)
		off = st.st_size - (off_t)max;
	while (got < max && (r = pread(fd, buf + got, max - got, off + (off_t)got)) > 0)
		got += (size_t)r;
	close(fd);
	buf[got] = '\0';
	if (off > 0 && (p = memchr(buf, '\n', got))) {
		got -= (size_t)(p + 1 - buf);
		memmove(buf, p + 1, got + 1);
	}
	*len = got;
	return buf;
}

struct logline {
	long long t;
	size_t pos;
	char *s;
};

static int
logline_cmp(const void *a, const void *b)
{
	const struct logline *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/*
 * Lines of key=value logs (text, several files run together), newest
 * first by their time= key (file order among equals), at most max, as
 * table rows.
 */
static size_t
log_rows(struct web_buf *b, char *text, const char *cluster, size_t max,
    int audit_log)
{
	struct logline *lines = NULL, *nl;
	char *line, *save = NULL;
	size_t n = 0, cap = 0, i, j, shown = 0;
	struct kv_rec r;
	const char *why, *v;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (n == cap) {
			if (!(nl = realloc(lines, (cap = cap ? cap * 2 : 256) * sizeof(*nl))))
				break;
			lines = nl;
		}
		lines[n].s = line;
		lines[n].pos = n;
		lines[n].t = strncmp(line, "time=", 5) == 0 ? atoll(line + 5) : 0;
		n++;
	}
	if (n)
		qsort(lines, n, sizeof(*lines), logline_cmp);
	for (i = n; i-- > 0 && shown < max;) {
		if (kv_parse(&r, lines[i].s, &why) < 0)
			continue;
		if (r.n == 0 || (audit_log && cluster &&
		    (!(v = kv_get(&r, "cluster")) || strcmp(v, cluster)))) {
			kv_free(&r);
			continue;
		}
		shown++;
		web_buf_puts(b, "<tr><td>");
		when(b, (v = kv_get(&r, "time")) ? atoll(v) : 0);
		web_buf_puts(b, "</td><td>");
		if (audit_log) {
			web_esc(b, kv_get(&r, "admin"));
			web_buf_puts(b, "</td><td>");
			web_esc(b, kv_get(&r, "action"));
			web_buf_puts(b, "</td><td>");
			web_esc(b, kv_get(&r, "cluster"));
			web_buf_puts(b, "</td><td>");
			web_esc(b, kv_get(&r, "what"));
			if ((v = kv_get(&r, "generation"))) {
				web_buf_puts(b, " <span class=\"muted\">(generation ");
				web_esc(b, v);
				web_buf_puts(b, ")</span>");
			}
			web_buf_puts(b, "</td><td>");
			web_esc(b, kv_get(&r, "result"));
			if ((v = kv_get(&r, "msg"))) {
				web_buf_puts(b, ": ");
				web_esc(b, v);
			}
			web_buf_puts(b, "</td><td>");
			web_esc(b, kv_get(&r, "addr"));
		} else {
			web_esc(b, kv_get(&r, "event"));
			web_buf_puts(b, "</td><td>");
			for (j = 0; j < r.n; j++) {
				if (strcmp(r.v[j].key, "time") == 0 || strcmp(r.v[j].key, "event") == 0)
					continue;
				web_esc(b, r.v[j].key);
				web_buf_puts(b, "=");
				web_esc(b, r.v[j].val);
				web_buf_puts(b, " ");
			}
		}
		web_buf_puts(b, "</td></tr>\n");
		kv_free(&r);
	}
	free(lines);
	return shown;
}

/*
 * Every event log of a cluster's state folder run together: "events"
 * (rs-probe's) and any "*.events" (a failover manager's, e.g.
 * lb-watch.events), the last MiB of each.
 */
static char *
cluster_events(const char *cluster)
{
	struct web_buf all = { 0 };
	char dirp[4200], p[4500], *t;
	struct dirent *de;
	size_t len, nl;
	DIR *dp;
	int count = 0;

	snprintf(dirp, sizeof dirp, "%s/%s", conf.state, cluster);
	if (!(dp = opendir(dirp)))
		return NULL;
	while ((de = readdir(dp)) && count < 64) {
		nl = strlen(de->d_name);
		if (strcmp(de->d_name, "events") != 0 &&
		    (nl <= 7 || strcmp(de->d_name + nl - 7, ".events") != 0))
			continue;
		count++;
		snprintf(p, sizeof p, "%s/%s", dirp, de->d_name);
		if (!(t = read_tail(p, 1 << 20, &len)))
			continue;
		web_buf_put(&all, t, len);
		web_buf_puts(&all, "\n");
		free(t);
	}
	closedir(dp);
	if (all.oom) {
		web_buf_free(&all);
		return NULL;
	}
	return all.s;
}

static int
events_of(const struct cl_cluster *c, void *arg)
{
	struct web_buf *b = arg, rows = { 0 };
	char *text;
	size_t n = 0;

	if ((text = cluster_events(c->name)))
		n = log_rows(&rows, text, NULL, 200, 0);
	free(text);
	web_buf_puts(b, "<h2>Events of ");
	web_esc(b, c->name);
	web_buf_puts(b, "</h2>\n");
	if (n) {
		web_buf_puts(b, "<table><thead><tr><th>When</th><th>Event</th><th>Details</th>"
		    "</tr></thead><tbody>\n");
		web_buf_put(b, rows.s, rows.len);
		web_buf_puts(b, "</tbody></table>\n");
	} else
		web_buf_puts(b, "<p class=\"muted\">No failover or real-server events recorded.</p>\n");
	web_buf_free(&rows);
	return 0;
}

void
page_history(const char *cluster)
{
	struct web_buf b = { 0 }, rows = { 0 };
	char path[4200], *text;
	struct cl_err e;
	struct cl_cluster c;
	size_t n = 0, len;

	snprintf(path, sizeof path, "%s/audit.log", conf.var);
	if ((text = read_tail(path, 1 << 20, &len)))
		n = log_rows(&rows, text, cluster, 200, 1);
	free(text);
	page_begin(&b, cluster ? "History of the cluster" : "History");
	if (cluster) {
		web_buf_puts(&b, "<p>Cluster ");
		link_to(&b, "cluster", cluster, cluster);
		web_buf_puts(&b, ". ");
		link_to(&b, "history", NULL, "All clusters");
		web_buf_puts(&b, "</p>\n");
	}
	web_buf_puts(&b, "<h2>Changes made here</h2>\n");
	if (n) {
		web_buf_puts(&b, "<table><thead><tr><th>When</th><th>Who</th><th>Action</th>"
		    "<th>Cluster</th><th>What</th><th>Result</th><th>From</th></tr></thead><tbody>\n");
		web_buf_put(&b, rows.s, rows.len);
		web_buf_puts(&b, "</tbody></table>\n");
	} else
		web_buf_puts(&b, "<p class=\"muted\">Nothing recorded yet.</p>\n");
	web_buf_free(&rows);
	if (conf.state) {
		if (cluster) {
			memset(&c, 0, sizeof(c));
			c.name = (char *)(size_t)cluster;
			events_of(&c, &b);
		} else {
			struct dir *d = dir_service();
			if (!d) {
				web_buf_free(&b);
				return;
			}
			if (cl_dir_clusters_each(d, events_of, &b, &e) < 0) {
				dir_close(d);
				web_buf_free(&b);
				load_fail("History not available", &e);
				return;
			}
			dir_close(d);
		}
	}
	page_end(&b);
	respond(200, &b, NULL);
	web_buf_free(&b);
}

/* ---- create / reconfigure form ------------------------------------------ */

static void
field(struct web_buf *b, const char *name, const char *label, const char *val,
    const char *help, int required)
{
	web_buf_printf(b, "<label>%s <input name=\"%s\"%s value=\"", label, name,
	    required ? " required" : "");
	web_esc(b, val);
	web_buf_printf(b, "\"><small>%s</small></label>\n", help);
}

static char *
members_text(const struct cl_member *m, size_t n, int rs)
{
	struct web_buf b = { 0 };
	size_t i;

	web_buf_puts(&b, "");
	for (i = 0; i < n; i++) {
		web_buf_puts(&b, i ? "," : "");
		web_buf_puts(&b, m[i].host);
		if (!rs)
			web_buf_printf(&b, ":%u", m[i].order);
		else if (m[i].port)
			web_buf_printf(&b, ":%ld:%u", m[i].weight, m[i].port);
		else if (m[i].weight >= 0)
			web_buf_printf(&b, ":%ld", m[i].weight);
	}
	return b.s;
}

static int
host_brief(const struct cl_host *h, void *arg)
{
	struct web_buf *b = arg;
	int r, first = 1;

	web_buf_puts(b, "<tr><td>");
	web_esc(b, h->name);
	web_buf_puts(b, "</td><td>");
	addrs(b, h);
	web_buf_puts(b, "</td><td>");
	for (r = CL_LB; r < CL_NROLES; r++)
		if (h->potential & (1u << r)) {
			web_buf_puts(b, first ? "" : ", ");
			web_esc(b, cl_role_name(r));
			first = 0;
		}
	web_buf_puts(b, "</td><td>");
	web_esc(b, cl_role_name(h->status));
	if (h->status_cluster && *h->status_cluster) {
		web_buf_puts(b, " in ");
		web_esc(b, h->status_cluster);
	}
	web_buf_puts(b, "</td></tr>\n");
	return 0;
}

void
page_form(const char *name)
{
	struct web_buf b = { 0 }, svc = { 0 }, hosts = { 0 };
	struct cl_cluster c;
	struct cl_err e;
	char *bs = NULL, *rsv = NULL;
	size_t i;
	int x;

	memset(&c, 0, sizeof(c));
	if (name) {
		struct dir *d = dir_service();
		if (!d)
			return;
		x = cl_dir_cluster_get(d, name, &c, &e);
		dir_close(d);
		if (x <= 0) {
			if (x < 0)
				load_fail("Cluster not available", &e);
			else
				fail_page(404, "No such cluster", "There is no cluster named %s.", name);
			return;
		}
		for (i = 0; i < c.nsvc; i++) {
			int v6 = strchr(c.svc[i].vip, ':') != NULL;
			web_buf_printf(&svc, "%s%s@%s%s%s:%u/%s", i ? ";" : "", c.svc[i].name,
			    v6 ? "[" : "", c.svc[i].vip, v6 ? "]" : "", c.svc[i].port, c.svc[i].proto);
		}
		bs = members_text(c.bs, c.nbs, 0);
		rsv = members_text(c.rs, c.nrs, 1);
	}
	{
		struct dir *d = dir_service();
		if (!d) {
			web_buf_free(&svc);
			free(bs);
			free(rsv);
			cl_cluster_free(&c);
			return;
		}
		if (cl_dir_hosts_each(d, host_brief, &hosts, &e) < 0) {
			web_buf_free(&hosts);
			web_buf_puts(&hosts, "<p class=\"error\">");
			web_esc(&hosts, e.msg);
			web_buf_puts(&hosts, "</p>");
		}
		dir_close(d);
	}
	page_begin(&b, name ? "Reconfigure the cluster" : "Create a cluster");
	web_buf_puts(&b, "<p>Nothing changes yet: the next page shows the plan, host by "
	    "host, and asks you to confirm it.</p>\n<div class=\"cols\">");
	form_begin(&b, "plan", "edit");
	if (name) {
		hidden(&b, "act", "change");
		hidden(&b, "c", name);
		web_buf_puts(&b, "<p>Cluster <strong>");
		web_esc(&b, name);
		web_buf_puts(&b, "</strong></p>\n");
	} else {
		hidden(&b, "act", "create");
		field(&b, "c", "Name", "", "letters, digits, '.', '_' or '-'", 1);
	}
	field(&b, "service", "Virtual services", svc.s ? svc.s : "",
	    "[name@]vip:port[/tcp|udp], several separated by ';' — e.g. 192.0.2.100:80/tcp", 1);
	web_buf_puts(&b, "<label>Scheduler <select name=\"sched\">");
	{
		static const char *const s[] = { "rr", "wrr", "lc", "wlc" };
		const char *cur = c.sched ? c.sched : "wrr";
		for (i = 0; i < 4; i++)
			web_buf_printf(&b, "<option%s>%s</option>",
			    strcmp(cur, s[i]) == 0 ? " selected" : "", s[i]);
	}
	web_buf_puts(&b, "</select><small>lc and wlc need the IPVS dataplane</small></label>\n");
	field(&b, "lb", "Load balancer", c.lb ? c.lb : "", "one host that may be lb", 1);
	field(&b, "bs", "Backup servers", bs ? bs : "",
	    "host[:order],... in cascade order (1 = primary); may be empty", 0);
	field(&b, "rs", "Real servers", rsv ? rsv : "",
	    "host[:weight[:port]],... — weight 0 drains", 1);
	field(&b, "descr", "Description", c.descr ? c.descr : "", "free text", 0);
	web_buf_puts(&b, "<div class=\"actions\"><button type=\"submit\">Show the plan</button> ");
	link_to(&b, name ? "cluster" : "clusters", name, "Cancel");
	web_buf_puts(&b, "</div></form>\n<section><h2>Hosts in the directory</h2>\n"
	    "<table><thead><tr><th>Host</th><th>Addresses</th><th>May be</th><th>Role now</th>"
	    "</tr></thead><tbody>\n");
	web_buf_put(&b, hosts.s ? hosts.s : "", hosts.len);
	web_buf_puts(&b, "</tbody></table></section></div>\n");
	page_end(&b);
	respond(200, &b, NULL);
	web_buf_free(&b);
	web_buf_free(&hosts);
	web_buf_free(&svc);
	free(bs);
	free(rsv);
	cl_cluster_free(&c);
}
