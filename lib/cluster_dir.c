/* The cluster directory: hosts, clusters, administrators in LDAP, and apply; see cluster.h. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ldap.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "atomic.h"
#include "cluster.h"
#include "cluster_int.h"
#include "dir.h"
#include "kv.h"

/* ---- the directory ---- */

static char *
mkdn(struct dir *d, const char *rdnattr, const char *val, const char *ou)
{
	char *esc = dir_dn_escape(val), *dn = NULL;

	if (esc && asprintf(&dn, "%s=%s,ou=%s,%s", rdnattr, esc, ou, dir_base(d)) < 0)
		dn = NULL;
	free(esc);
	return dn;
}

char *
cl_host_dn(struct dir *d, const char *name)
{
	return mkdn(d, "cn", name, "hosts");
}

char *
cl_cluster_dn(struct dir *d, const char *name)
{
	return mkdn(d, "cn", name, "clusters");
}

char *
cl_admin_dn(struct dir *d, const char *id)
{
	return mkdn(d, "uid", id, "admins");
}

static int
exists_cb(const struct dir_entry *en, void *arg)
{
	(void)en;
	*(int *)arg = 1;
	return 0;
}

/* 1 if dn exists, 0 if not, -1 on failure. */
static int
dn_exists(struct dir *d, const char *dn)
{
	static const char *const attrs[] = { "1.1", NULL };
	int found = 0;

	if (dir_search(d, dn, "base", "(objectClass=*)", attrs, exists_cb, &found) < 0)
		return dir_errcode(d) == LDAP_NO_SUCH_OBJECT ? 0 : -1;
	return found;
}

int
cl_dir_init(struct dir *d, int *made, struct cl_err *e)
{
	static const char *const ous[] = { "hosts", "clusters", "admins" };
	struct dir_mods *m;
	char *dn;
	size_t i;
	int x;

	*made = 0;
	if ((x = dn_exists(d, dir_base(d))) < 0)
		return clx_direrr(e, d);
	if (!x) {
		/* dc=nonstop,dc=example: a dcObject named by its first RDN. */
		const char *b = dir_base(d), *eq = strchr(b, '='), *comma = strchr(b, ',');
		char *val;
		if (!eq || strncasecmp(b, "dc=", 3) != 0)
			return clx_seterr(e, "input", "suffix %s is missing and not a dc= name", b);
		val = strndup(eq + 1, comma ? (size_t)(comma - eq - 1) : strlen(eq + 1));
		if (!val || !(m = dir_mods_new()))
			return free(val), clx_nomem(e);
		dir_mods_add(m, DIR_ADD, "objectClass", "dcObject");
		dir_mods_add(m, DIR_ADD, "objectClass", "organization");
		dir_mods_add(m, DIR_ADD, "dc", val);
		dir_mods_add(m, DIR_ADD, "o", val);
		free(val);
		x = dir_add(d, b, m);
		dir_mods_free(m);
		if (x < 0)
			return clx_direrr(e, d);
		(*made)++;
	}
	for (i = 0; i < 3; i++) {
		if (asprintf(&dn, "ou=%s,%s", ous[i], dir_base(d)) < 0)
			return clx_nomem(e);
		if ((x = dn_exists(d, dn)) < 0) {
			free(dn);
			return clx_direrr(e, d);
		}
		if (!x) {
			if (!(m = dir_mods_new())) {
				free(dn);
				return clx_nomem(e);
			}
			dir_mods_add(m, DIR_ADD, "objectClass", "organizationalUnit");
			dir_mods_add(m, DIR_ADD, "ou", ous[i]);
			x = dir_add(d, dn, m);
			dir_mods_free(m);
			if (x < 0) {
				free(dn);
				return clx_direrr(e, d);
			}
			(*made)++;
		}
		free(dn);
	}
	return 0;
}

static const char *const host_attrs[] = {
	"cn", "nonstopCpuType", "nonstopMemorySize", "nonstopNicType",
	"nonstopIpAddress", "nonstopWeight", "nonstopRoleStatus",
	"nonstopRolePotential", "nonstopAgentPort", "nonstopRoleCluster",
	"description", NULL
};

/* Entry to host; values are checked as input would be. */
int
clx_host_from_entry(const struct dir_entry *en, struct cl_host *h, struct cl_err *e)
{
	const struct dir_attr *a;
	const char *v;
	size_t i;

	clx_host_init(h);
	if (!(v = dir_get(en, "cn")) || !clx_name_ok(v))
		return clx_seterr(e, "input", "entry %s: bad or missing host name", en->dn);
	h->name = strdup(v);
	if ((v = dir_get(en, "nonstopCpuType")))
		h->cpu = strdup(v);
	if ((v = dir_get(en, "nonstopNicType")))
		h->nic = strdup(v);
	if ((v = dir_get(en, "description")))
		h->descr = strdup(v);
	if ((v = dir_get(en, "nonstopMemorySize")) && cl_host_set(h, "mem", v, e) < 0)
		return -1;
	if ((v = dir_get(en, "nonstopWeight")) && cl_host_set(h, "weight", v, e) < 0)
		return -1;
	if ((v = dir_get(en, "nonstopAgentPort")) && cl_host_set(h, "agent", v, e) < 0)
		return -1;
	if ((a = dir_attr(en, "nonstopIpAddress")) && a->n) {
		if (!(h->addr = calloc(a->n + 1, sizeof(char *))))
			return clx_nomem(e);
		for (i = 0; i < a->n; i++) {
			if (!clx_addr_value_ok(a->vals[i]))
				return clx_seterr(e, "input", "host %s: bad address %s", h->name, a->vals[i]);
			h->addr[h->naddr++] = strdup(a->vals[i]);
		}
	}
	if ((a = dir_attr(en, "nonstopRolePotential")))
		for (i = 0; i < a->n; i++) {
			int r = cl_role_parse(a->vals[i]);
			if (r <= CL_NONE)
				return clx_seterr(e, "input", "host %s: unknown role %s", h->name, a->vals[i]);
			h->potential |= 1u << r;
		}
	if ((v = dir_get(en, "nonstopRoleStatus"))) {
		int r = cl_role_parse(v);
		if (r < 0)
			return clx_seterr(e, "input", "host %s: unknown role status %s", h->name, v);
		h->status = r;
	}
	if ((v = dir_get(en, "nonstopRoleCluster")))
		h->status_cluster = strdup(v);
	return 0;
}

/* The attributes of h as mods: DIR_ADD for a new entry, else DIR_REPLACE. */
struct dir_mods *
clx_host_mods(const struct cl_host *h, int add, const char *pwhash, int status)
{
	struct dir_mods *m = dir_mods_new();
	int op = add ? DIR_ADD : DIR_REPLACE, r;
	char tmp[32];
	size_t i;

	if (!m)
		return NULL;
#define STR(attr, v) do { if (v) dir_mods_add(m, op, attr, v); \
	else if (!add) dir_mods_clear(m, op, attr); } while (0)
#define NUM(attr, v, unset) do { if ((v) != (unset)) { \
	snprintf(tmp, sizeof(tmp), "%ld", (long)(v)); dir_mods_add(m, op, attr, tmp); } \
	else if (!add) dir_mods_clear(m, op, attr); } while (0)
	if (add) {
		dir_mods_add(m, op, "objectClass", "nonstopHost");
		dir_mods_add(m, op, "cn", h->name);
	}
	STR("nonstopCpuType", h->cpu);
	STR("nonstopNicType", h->nic);
	STR("description", h->descr);
	NUM("nonstopMemorySize", h->mem, -1);
	NUM("nonstopWeight", h->weight, -1);
	NUM("nonstopAgentPort", h->agent, 0);
	if (h->naddr)
		for (i = 0; i < h->naddr; i++)
			dir_mods_add(m, op, "nonstopIpAddress", h->addr[i]);
	else if (!add)
		dir_mods_clear(m, op, "nonstopIpAddress");
	if (h->potential) {
		for (r = CL_LB; r < CL_NROLES; r++)
			if (h->potential & (1u << r))
				dir_mods_add(m, op, "nonstopRolePotential", cl_role_name(r));
	} else if (!add)
		dir_mods_clear(m, op, "nonstopRolePotential");
	if (status) {
		dir_mods_add(m, op, "nonstopRoleStatus", cl_role_name(h->status));
		STR("nonstopRoleCluster", h->status_cluster);
	} else if (add)
		dir_mods_add(m, op, "nonstopRoleStatus", "none");
	if (pwhash)
		dir_mods_add(m, op, "userPassword", pwhash);
#undef STR
#undef NUM
	return m;
}

struct host_get {
	struct cl_host *h;
	struct cl_hosts *t;
	cl_host_fn *fn;
	void *arg;
	struct cl_err *e;
	int found, bad;
};

static int
host_cb(const struct dir_entry *en, void *arg)
{
	struct host_get *g = arg;
	struct cl_host h;

	if (clx_host_from_entry(en, &h, g->e) < 0) {
		cl_host_free(&h);
		g->bad = 1;
		return -1;
	}
	g->found++;
	if (g->h) {
		cl_host_free(g->h);
		*g->h = h;
		return 0;
	}
	if (g->t) {
		if (cl_hosts_put(g->t, &h) < 0) {
			cl_host_free(&h);
			g->bad = 1;
			clx_nomem(g->e);
			return -1;
		}
		return 0;
	}
	if (g->fn(&h, g->arg) < 0) {
		cl_host_free(&h);
		g->bad = 2;
		return -1;
	}
	cl_host_free(&h);
	return 0;
}

static char *
ou_dn(struct dir *d, const char *ou)
{
	char *dn;

	return asprintf(&dn, "ou=%s,%s", ou, dir_base(d)) < 0 ? NULL : dn;
}

int
cl_dir_host_get(struct dir *d, const char *name, struct cl_host *h, struct cl_err *e)
{
	struct host_get g = { .h = h, .e = e };
	char *dn = cl_host_dn(d, name);
	int rc;

	clx_host_init(h);
	if (!dn)
		return clx_nomem(e);
	rc = dir_search(d, dn, "base", "(objectClass=nonstopHost)", host_attrs, host_cb, &g);
	free(dn);
	if (rc < 0) {
		if (g.bad)
			return -1;
		if (dir_errcode(d) == LDAP_NO_SUCH_OBJECT)
			return 0;
		return clx_direrr(e, d);
	}
	return g.found ? 1 : 0;
}

int
cl_dir_hosts_get(struct dir *d, char *const *names, size_t n, struct cl_hosts *t,
    struct cl_err *e)
{
	/* OR filters in chunks: one round trip per 256 hosts. */
	struct host_get g = { .t = t, .e = e };
	char *base = ou_dn(d, "hosts");
	size_t i = 0, j;
	int rc = 0;

	if (!base)
		return clx_nomem(e);
	while (i < n && rc == 0) {
		struct clx_buf f = { 0 };
		clx_bstr(&f, "(&(objectClass=nonstopHost)(|");
		for (j = 0; j < 256 && i < n; j++, i++) {
			char *esc = dir_filter_escape(names[i]);
			clx_bstr(&f, "(cn=");
			clx_bstr(&f, esc ? esc : "");
			clx_bstr(&f, ")");
			free(esc);
		}
		clx_bstr(&f, "))");
		if (!clx_bdone(&f)) {
			free(base);
			return clx_nomem(e);
		}
		rc = dir_search(d, base, "one", f.s, host_attrs, host_cb, &g);
		free(f.s);
	}
	free(base);
	if (rc < 0)
		return g.bad ? -1 : clx_direrr(e, d);
	return 0;
}

int
cl_dir_hosts_each(struct dir *d, cl_host_fn *fn, void *arg, struct cl_err *e)
{
	struct host_get g = { .fn = fn, .arg = arg, .e = e };
	char *base = ou_dn(d, "hosts");
	int rc;

	if (!base)
		return clx_nomem(e);
	rc = dir_search(d, base, "one", "(objectClass=nonstopHost)", host_attrs, host_cb, &g);
	free(base);
	if (rc < 0)
		return g.bad == 1 ? -1 : g.bad == 2 ? clx_seterr(e, "", "stopped") : clx_direrr(e, d);
	return 0;
}

int
cl_dir_host_put(struct dir *d, const struct cl_host *h, int add, const char *pwhash,
    struct cl_err *e)
{
	char *dn;
	struct dir_mods *m;
	int rc;

	if (!clx_name_ok(h->name))
		return clx_seterr(e, "input", "bad host name %s", h->name);
	if (!(dn = cl_host_dn(d, h->name)) || !(m = clx_host_mods(h, add, pwhash, 0))) {
		free(dn);
		return clx_nomem(e);
	}
	rc = add ? dir_add(d, dn, m) : dir_modify(d, dn, m);
	dir_mods_free(m);
	free(dn);
	return rc < 0 ? clx_direrr(e, d) : 0;
}

static int
first_cluster_cb(const struct dir_entry *en, void *arg)
{
	char **name = arg;
	const char *cn = dir_get(en, "cn");

	if (!*name && cn)
		*name = strdup(cn);
	return 0;
}

int
cl_dir_host_delete(struct dir *d, const char *name, struct cl_err *e)
{
	static const char *const attrs[] = { "cn", NULL };
	char *dn = cl_host_dn(d, name), *base = ou_dn(d, "clusters"), *f = NULL,
	    *esc = NULL, *in = NULL;
	int rc = -1;

	if (!dn || !base || !(esc = dir_filter_escape(dn)) ||
	    asprintf(&f, "(&(objectClass=nonstopCluster)(nonstopMemberHost=%s))", esc) < 0) {
		f = NULL;
		clx_nomem(e);
		goto out;
	}
	if (dir_search(d, base, "one", f, attrs, first_cluster_cb, &in) < 0 &&
	    dir_errcode(d) != LDAP_NO_SUCH_OBJECT) {
		clx_direrr(e, d);
		goto out;
	}
	if (in) {
		clx_seterr(e, "in-use", "host %s is a member of cluster %s", name, in);
		goto out;
	}
	if (dir_delete(d, dn) < 0) {
		clx_direrr(e, d);
		goto out;
	}
	rc = 0;
out:
	free(in); free(f); free(esc); free(base); free(dn);
	return rc;
}

static const char *const cluster_attrs[] = {
	"cn", "nonstopScheduler", "nonstopForwarding", "nonstopServiceType",
	"description", "nonstopService", "nonstopLoadBalancer",
	"nonstopBackupServer", "nonstopRealServer", "nonstopGeneration",
	"nonstopAppliedSpec", NULL
};

static int
kvmember(const char *cname, const char *val, const char *what,
    struct cl_member **m, size_t *n, struct cl_err *e)
{
	struct kv_rec r;
	const char *why = NULL;
	static const char *const k[] = { "host", "order", "weight", "port", NULL };
	int rc;

	if (kv_parse(&r, val, &why) < 0 || r.n == 0 || !kv_get(&r, "host")) {
		if (!why)
			kv_free(&r);
		return clx_seterr(e, "input", "cluster %s: bad %s value %s", cname, what, val);
	}
	rc = clx_keys_only(&r, k, e);
	if (!rc)
		rc = clx_member_append(m, n, &r, "host", e);
	kv_free(&r);
	return rc;
}

int
clx_cluster_from_entry(const struct dir_entry *en, struct cl_cluster *c, struct cl_err *e)
{
	const struct dir_attr *a;
	const char *v;
	size_t i;
	long g;

	memset(c, 0, sizeof(*c));
	if (!(v = dir_get(en, "cn")) || !clx_name_ok(v))
		return clx_seterr(e, "input", "entry %s: bad or missing cluster name", en->dn);
	c->name = strdup(v);
	c->sched = clx_xstrdup(dir_get(en, "nonstopScheduler"));
	c->fwd = clx_xstrdup(dir_get(en, "nonstopForwarding"));
	c->type = clx_xstrdup(dir_get(en, "nonstopServiceType"));
	c->descr = clx_xstrdup(dir_get(en, "description"));
	c->lb = clx_xstrdup(dir_get(en, "nonstopLoadBalancer"));
	c->applied = clx_xstrdup(dir_get(en, "nonstopAppliedSpec"));
	if ((v = dir_get(en, "nonstopGeneration"))) {
		if (clx_num(v, 0, LONG_MAX, &g) < 0)
			return clx_seterr(e, "input", "cluster %s: bad generation %s", c->name, v);
		c->generation = g;
	}
	if ((a = dir_attr(en, "nonstopService")) && a->n) {
		if (!(c->svc = calloc(a->n, sizeof(*c->svc))))
			return clx_nomem(e);
		for (i = 0; i < a->n; i++) {
			if (clx_service_parse(c->name, a->vals[i], &c->svc[i], e) < 0)
				return -1;
			c->nsvc++;
		}
	}
	if ((a = dir_attr(en, "nonstopBackupServer")))
		for (i = 0; i < a->n; i++)
			if (kvmember(c->name, a->vals[i], "backup server", &c->bs, &c->nbs, e) < 0)
				return -1;
	if ((a = dir_attr(en, "nonstopRealServer")))
		for (i = 0; i < a->n; i++)
			if (kvmember(c->name, a->vals[i], "real server", &c->rs, &c->nrs, e) < 0)
				return -1;
	return 0;
}

struct cluster_get {
	struct cl_cluster *c;
	cl_cluster_fn *fn;
	void *arg;
	struct cl_err *e;
	int found, bad;
};

static int
cluster_cb(const struct dir_entry *en, void *arg)
{
	struct cluster_get *g = arg;
	struct cl_cluster c;

	if (clx_cluster_from_entry(en, &c, g->e) < 0) {
		cl_cluster_free(&c);
		g->bad = 1;
		return -1;
	}
	g->found++;
	if (g->c) {
		cl_cluster_free(g->c);
		*g->c = c;
		return 0;
	}
	if (g->fn(&c, g->arg) < 0) {
		g->bad = 2;
		cl_cluster_free(&c);
		return -1;
	}
	cl_cluster_free(&c);
	return 0;
}

int
cl_dir_cluster_get(struct dir *d, const char *name, struct cl_cluster *c,
    struct cl_err *e)
{
	struct cluster_get g = { .c = c, .e = e };
	char *dn = cl_cluster_dn(d, name);
	int rc;

	memset(c, 0, sizeof(*c));
	if (!dn)
		return clx_nomem(e);
	rc = dir_search(d, dn, "base", "(objectClass=nonstopCluster)", cluster_attrs,
	    cluster_cb, &g);
	free(dn);
	if (rc < 0) {
		if (g.bad)
			return -1;
		if (dir_errcode(d) == LDAP_NO_SUCH_OBJECT)
			return 0;
		return clx_direrr(e, d);
	}
	return g.found ? 1 : 0;
}

int
cl_dir_clusters_each(struct dir *d, cl_cluster_fn *fn, void *arg, struct cl_err *e)
{
	struct cluster_get g = { .fn = fn, .arg = arg, .e = e };
	char *base = ou_dn(d, "clusters");
	int rc;

	if (!base)
		return clx_nomem(e);
	rc = dir_search(d, base, "one", "(objectClass=nonstopCluster)", cluster_attrs,
	    cluster_cb, &g);
	free(base);
	if (rc < 0)
		return g.bad == 1 ? -1 : g.bad == 2 ? clx_seterr(e, "", "stopped") : clx_direrr(e, d);
	return 0;
}

static int
host_copy(struct cl_host *dst, const struct cl_host *src)
{
	size_t i;

	clx_host_init(dst);
	dst->name = clx_xstrdup(src->name);
	dst->cpu = clx_xstrdup(src->cpu);
	dst->nic = clx_xstrdup(src->nic);
	dst->descr = clx_xstrdup(src->descr);
	dst->status_cluster = clx_xstrdup(src->status_cluster);
	dst->mem = src->mem;
	dst->weight = src->weight;
	dst->agent = src->agent;
	dst->potential = src->potential;
	dst->status = src->status;
	if (src->naddr && !(dst->addr = calloc(src->naddr, sizeof(char *))))
		return -1;
	for (i = 0; i < src->naddr; i++)
		if ((dst->addr[dst->naddr++] = strdup(src->addr[i])) == NULL)
			return -1;
	return dst->name ? 0 : -1;
}

struct host_check {
	struct dir *d;
	const struct cl_host *h;
	struct cl_err *e;
	int bad;
};

static int
host_check_cb(const struct cl_cluster *c, void *arg)
{
	struct host_check *k = arg;
	struct cl_hosts t = { 0 };
	struct cl_host copy;
	int rc;

	if (cl_role_of(c, k->h->name) == CL_NONE)
		return 0;
	if (cl_dir_members(k->d, c, &t, k->e) < 0) {
		cl_hosts_free(&t);
		k->bad = 1;
		return -1;
	}
	if (host_copy(&copy, k->h) < 0 || cl_hosts_put(&t, &copy) < 0) {
		cl_host_free(&copy);
		cl_hosts_free(&t);
		clx_nomem(k->e);
		k->bad = 1;
		return -1;
	}
	/* The new facts replace the stored ones: drop the stored entry. */
	{
		size_t i, j;
		for (i = j = 0; i < t.n; i++) {
			if (i != t.n - 1 && strcmp(t.h[i].name, k->h->name) == 0) {
				cl_host_free(&t.h[i]);
				continue;
			}
			t.h[j++] = t.h[i];
		}
		t.n = j;
		t.sorted = 0;
	}
	rc = cl_validate(c, &t, k->e);
	cl_hosts_free(&t);
	if (rc < 0) {
		k->bad = 1;
		return -1;
	}
	return 0;
}

int
cl_dir_host_check(struct dir *d, const struct cl_host *h, struct cl_err *e)
{
	struct host_check k = { .d = d, .h = h, .e = e };
	struct cluster_get g = { .fn = host_check_cb, .arg = &k, .e = e };
	char *base = ou_dn(d, "clusters"), *dn = cl_host_dn(d, h->name), *esc = NULL,
	    *f = NULL;
	int rc;

	if (!base || !dn || !(esc = dir_filter_escape(dn)) ||
	    asprintf(&f, "(&(objectClass=nonstopCluster)(nonstopMemberHost=%s))", esc) < 0) {
		free(base); free(dn); free(esc);
		return clx_nomem(e);
	}
	rc = dir_search(d, base, "one", f, cluster_attrs, cluster_cb, &g);
	free(base); free(dn); free(esc); free(f);
	if (rc < 0) {
		if (k.bad || g.bad == 1)
			return -1;
		if (dir_errcode(d) == LDAP_NO_SUCH_OBJECT)
			return 0;
		return clx_direrr(e, d);
	}
	return 0;
}

int
cl_dir_members(struct dir *d, const struct cl_cluster *c, struct cl_hosts *t,
    struct cl_err *e)
{
	size_t n;
	const char **names = clx_member_names(c, &n);
	int rc;

	if (!names)
		return clx_nomem(e);
	rc = cl_dir_hosts_get(d, (char *const *)(uintptr_t)names, n, t, e);
	free(names);
	return rc;
}

struct cross {
	const char *self;
	char *other;
	char *host;
	const struct cl_cluster *c;
};

static int
cross_cb(const struct dir_entry *en, void *arg)
{
	struct cross *x = arg;
	const char *cn = dir_get(en, "cn");
	const struct dir_attr *a = dir_attr(en, "nonstopMemberHost");
	size_t i;

	if (!cn || strcasecmp(cn, x->self) == 0 || x->other)
		return 0;
	/* Name the first of our hosts that the other cluster holds. */
	for (i = 0; a && i < a->n && !x->host; i++) {
		const char *v = a->vals[i];
		if (strncasecmp(v, "cn=", 3) == 0) {
			const char *comma = strchr(v, ',');
			char *h = strndup(v + 3, comma ? (size_t)(comma - v - 3) : strlen(v + 3));
			if (h && cl_role_of(x->c, h) != CL_NONE)
				x->host = h;
			else
				free(h);
		}
	}
	x->other = strdup(cn);
	return 0;
}

int
cl_dir_cross_check(struct dir *d, const struct cl_cluster *c, struct cl_err *e)
{
	static const char *const attrs[] = { "cn", "nonstopMemberHost", NULL };
	struct cross x = { .self = c->name, .c = c };
	char *base = ou_dn(d, "clusters");
	size_t n, i = 0, j;
	const char **names = clx_member_names(c, &n);
	int rc = 0;

	if (!base || !names) {
		free(base);
		free(names);
		return clx_nomem(e);
	}
	while (i < n && rc == 0 && !x.other) {
		struct clx_buf f = { 0 };
		clx_bstr(&f, "(&(objectClass=nonstopCluster)(|");
		for (j = 0; j < 256 && i < n; j++, i++) {
			char *dn = cl_host_dn(d, names[i]);
			char *esc = dn ? dir_filter_escape(dn) : NULL;
			clx_bstr(&f, "(nonstopMemberHost=");
			clx_bstr(&f, esc ? esc : "");
			clx_bstr(&f, ")");
			free(esc);
			free(dn);
		}
		clx_bstr(&f, "))");
		if (!clx_bdone(&f)) {
			rc = clx_nomem(e);
			break;
		}
		rc = dir_search(d, base, "one", f.s, attrs, cross_cb, &x);
		free(f.s);
		if (rc < 0)
			clx_direrr(e, d);
	}
	free(base);
	free(names);
	if (rc == 0 && x.other)
		rc = clx_seterr(e, "cross-cluster", "cluster %s: host %s already has a role in cluster %s",
		    c->name, x.host ? x.host : "?", x.other);
	free(x.other);
	free(x.host);
	return rc;
}

struct dir_mods *
clx_cluster_mods(struct dir *d, const struct cl_cluster *c, int add)
{
	struct dir_mods *m = dir_mods_new();
	int op = add ? DIR_ADD : DIR_REPLACE;
	size_t i, n;
	const char **names;
	struct clx_buf b;

	if (!m)
		return NULL;
	if (add) {
		dir_mods_add(m, op, "objectClass", "nonstopCluster");
		dir_mods_add(m, op, "cn", c->name);
	}
	dir_mods_add(m, op, "nonstopScheduler", c->sched ? c->sched : "wrr");
#define STR(attr, v) do { if (v) dir_mods_add(m, op, attr, v); \
	else if (!add) dir_mods_clear(m, op, attr); } while (0)
	STR("nonstopForwarding", c->fwd);
	STR("nonstopServiceType", c->type);
	STR("description", c->descr);
	STR("nonstopLoadBalancer", c->lb);
#undef STR
	if (!add) {
		dir_mods_clear(m, op, "nonstopService");
		dir_mods_clear(m, op, "nonstopBackupServer");
		dir_mods_clear(m, op, "nonstopRealServer");
		dir_mods_clear(m, op, "nonstopMemberHost");
	}
	for (i = 0; i < c->nsvc; i++) {
		memset(&b, 0, sizeof(b));
		clx_bkv(&b, 1, "name", c->svc[i].name);
		clx_bkv(&b, 0, "vip", c->svc[i].vip);
		clx_bkvl(&b, 0, "port", c->svc[i].port);
		clx_bkv(&b, 0, "proto", c->svc[i].proto);
		if (clx_bdone(&b)) {
			dir_mods_add(m, op, "nonstopService", b.s);
			free(b.s);
		}
	}
	for (i = 0; i < c->nbs; i++) {
		memset(&b, 0, sizeof(b));
		clx_bkv(&b, 1, "host", c->bs[i].host);
		clx_bkvl(&b, 0, "order", c->bs[i].order);
		if (clx_bdone(&b)) {
			dir_mods_add(m, op, "nonstopBackupServer", b.s);
			free(b.s);
		}
	}
	for (i = 0; i < c->nrs; i++) {
		memset(&b, 0, sizeof(b));
		clx_bkv(&b, 1, "host", c->rs[i].host);
		if (c->rs[i].weight >= 0)
			clx_bkvl(&b, 0, "weight", c->rs[i].weight);
		if (c->rs[i].port)
			clx_bkvl(&b, 0, "port", c->rs[i].port);
		if (clx_bdone(&b)) {
			dir_mods_add(m, op, 	
			    "nonstopRealServer", b.s);
			free(b.s);
		}
	}
	if ((names = clx_member_names(c, &n))) {
		/* Duplicates are refused by validation; skip them here too. */
		for (i = 0; i < n; i++) {
			size_t j;
			char *dn;
			for (j = 0; j < i; j++)
				if (strcmp(names[i], names[j]) == 0)
					break;
			if (j < i || !(dn = cl_host_dn(d, names[i])))
				continue;
			dir_mods_add(m, op, "nonstopMemberHost", dn);
			free(dn);
		}
		free(names);
	}
	return m;
}

int
cl_dir_cluster_put(struct dir *d, const struct cl_cluster *c, int add,
    struct cl_err *e)
{
	char *dn;
	struct dir_mods *m;
	int rc;

	if (!clx_name_ok(c->name))
		return clx_seterr(e, "input", "bad cluster name %s", c->name);
	if (!(dn = cl_cluster_dn(d, c->name)) || !(m = clx_cluster_mods(d, c, add))) {
		free(dn);
		return clx_nomem(e);
	}
	rc = add ? dir_add(d, dn, m) : dir_modify(d, dn, m);
	dir_mods_free(m);
	free(dn);
	return rc < 0 ? clx_direrr(e, d) : 0;
}

int
cl_dir_cluster_delete(struct dir *d, const char *name, struct cl_err *e)
{
	struct cl_cluster c;
	char *dn;
	int x, rc;

	if ((x = cl_dir_cluster_get(d, name, &c, e)) <= 0) {
		cl_cluster_free(&c);
		return x < 0 ? -1 : clx_seterr(e, "not-found", "no cluster %s", name);
	}
	if (c.applied && (strstr(c.applied, "\nlb=") || strstr(c.applied, "\nrs="))) {
		cl_cluster_free(&c);
		return clx_seterr(e, "applied", "cluster %s is applied: dissolve it first", name);
	}
	cl_cluster_free(&c);
	if (!(dn = cl_cluster_dn(d, name)))
		return clx_nomem(e);
	rc = dir_delete(d, dn);
	free(dn);
	return rc < 0 ? clx_direrr(e, d) : 0;
}

/* ---- apply ---- */

static int
record_host(struct dir *d, const char *host, int role, const char *cluster,
    struct cl_err *e)
{
	struct dir_mods *m = dir_mods_new();
	char *dn = cl_host_dn(d, host);
	int rc;

	if (!m || !dn) {
		dir_mods_free(m);
		free(dn);
		return clx_nomem(e);
	}
	dir_mods_add(m, DIR_REPLACE, "nonstopRoleStatus", cl_role_name(role));
	if (role == CL_NONE)
		dir_mods_clear(m, DIR_REPLACE, "nonstopRoleCluster");
	else
		dir_mods_add(m, DIR_REPLACE, "nonstopRoleCluster", cluster);
	rc = dir_modify(d, dn, m);
	dir_mods_free(m);
	free(dn);
	/* A host deleted since it was applied has nothing left to record. */
	if (rc < 0 && dir_errcode(d) == LDAP_NO_SUCH_OBJECT)
		return 0;
	return rc < 0 ? clx_direrr(e, d) : 0;
}

/*
 * Add to t the hosts that were applied but are members no more: their role
 * files (role none) go out too, and a push needs their addresses. Taken
 * from the directory, else from the applied spec (a host deleted since).
 */
static int
applied_hosts(struct dir *d, const struct cl_cluster *c, struct cl_hosts *t,
    struct cl_err *e)
{
	struct cl_cluster old;
	struct cl_hosts oh = { 0 };
	const char **names = NULL;
	char **missing = NULL;
	size_t n = 0, k = 0, i;
	int rc = -1;

	if (!c->applied || !*c->applied)
		return 0;
	memset(&old, 0, sizeof(old));
	if (cl_spec_parse(c->applied, &old, &oh, e) < 0)
		goto out;
	if (!(names = clx_member_names(&old, &n)) ||
	    !(missing = calloc(n + 1, sizeof(*missing)))) {
		clx_nomem(e);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (!cl_hosts_get(t, names[i]))
			missing[k++] = (char *)(uintptr_t)names[i];
	if (k && cl_dir_hosts_get(d, missing, k, t, e) < 0)
		goto out;
	for (i = 0; i < k; i++) {
		const struct cl_host *h;
		struct cl_host copy;
		if (cl_hosts_get(t, missing[i]) || !(h = cl_hosts_get(&oh, missing[i])))
			continue;
		if (host_copy(&copy, h) < 0 || cl_hosts_put(t, &copy) < 0) {
			cl_host_free(&copy);
			clx_nomem(e);
			goto out;
		}
	}
	rc = 0;
out:
	free(names);
	free(missing);
	cl_cluster_free(&old);
	cl_hosts_free(&oh);
	return rc;
}

int
cl_apply(struct dir *d, struct cl_cluster *c, int dissolve, const char *folder,
    cl_push_fn *push, void *pusharg, int dryrun, struct cl_change **out,
    size_t *nout, long *genp, struct cl_err *e)
{
	struct cl_hosts hosts = { 0 };
	struct cl_change *ch = NULL;
	size_t n = 0, i, changed = 0;
	long gen = c->generation + 1;
	char *spec = NULL, *dn = NULL, tmp[32];
	struct dir_mods *m = NULL;
	int rc = -1;

	*out = NULL;
	*nout = 0;
	if (cl_dir_members(d, c, &hosts, e) < 0 || applied_hosts(d, c, &hosts, e) < 0)
		goto done;
	if (!dissolve && (cl_validate(c, &hosts, e) < 0 || cl_dir_cross_check(d, c, e) < 0))
		goto done;
	if (cl_plan(c, &hosts, c->applied, dissolve, gen, &ch, &n, e) < 0)
		goto done;
	for (i = 0; i < n; i++)
		if (ch[i].action != CL_KEEP)
			changed++;
	if (changed == 0 && c->generation > 0) {
		/* Nothing new: the same generation, files rewritten as they were. */
		cl_changes_free(ch, n);
		ch = NULL;
		gen = c->generation;
		if (cl_plan(c, &hosts, c->applied, dissolve, gen, &ch, &n, e) < 0)
			goto done;
	}
	if (dryrun) {
		rc = 0;
		goto done;
	}
	/*
	 * Claim the generation first, compare-and-swap: of two administrators
	 * applying at once one wins, the other is refused before it writes a
	 * file. After a later failure (a file, the push) the directory is ahead
	 * of the hosts; apply again: it rewrites and pushes every file.
	 */
	if (gen != c->generation) {
		if (dissolve) {
			struct clx_buf b = { 0 };
			clx_bkv(&b, 1, "cluster", c->name);
			clx_bstr(&b, "\n");
			spec = clx_bdone(&b);
		} else
			spec = cl_spec(c, &hosts);
		if (!spec || !(m = dir_mods_new()) || !(dn = cl_cluster_dn(d, c->name))) {
			clx_nomem(e);
			goto done;
		}
		if (c->generation > 0) {
			snprintf(tmp, sizeof(tmp), "%ld", c->generation);
			dir_mods_add(m, DIR_DEL, "nonstopGeneration", tmp);
		}
		snprintf(tmp, sizeof(tmp), "%ld", gen);
		dir_mods_add(m, DIR_ADD, "nonstopGeneration", tmp);
		dir_mods_add(m, DIR_REPLACE, "nonstopAppliedSpec", spec);
		if (dir_modify(d, dn, m) < 0) {
			int x = dir_errcode(d);
			if (x == LDAP_NO_SUCH_ATTRIBUTE || x == LDAP_TYPE_OR_VALUE_EXISTS ||
			    x == LDAP_CONSTRAINT_VIOLATION)
				clx_seterr(e, "concurrent",
				    "cluster %s was applied by another run meanwhile; plan again",
				    c->name);
			else
				clx_direrr(e, d);
			goto done;
		}
		free(c->applied);
		c->applied = spec;
		spec = NULL;
		c->generation = gen;
	}
	if (cl_write_files(folder, ch, n, 1, e) < 0)
		goto done;
	if (push && push(c, &hosts, ch, n, pusharg, e) < 0)
		goto done;
	/* Role status per host: what changed, and what an earlier run missed. */
	for (i = 0; i < n; i++) {
		const struct cl_host *h = cl_hosts_get(&hosts, ch[i].host);
		int stale = !h || h->status != ch[i].role ||
		    (ch[i].role != CL_NONE && (!h->status_cluster ||
		    strcmp(h->status_cluster, c->name) != 0));
		if ((ch[i].action != CL_KEEP || stale) &&
		    record_host(d, ch[i].host, ch[i].role, c->name, e) < 0)
			goto done;
	}
	rc = 0;
done:
	if (rc == 0) {
		*out = ch;
		*nout = n;
		ch = NULL;
		if (genp)
			*genp = gen;
	}
	if (ch)
		cl_changes_free(ch, n);
	dir_mods_free(m);
	free(spec);
	free(dn);
	cl_hosts_free(&hosts);
	return rc;
}

/* ---- administrators ---- */

void
cl_admin_free(struct cl_admin *a)
{
	free(a->id); free(a->name); free(a->descr);
	memset(a, 0, sizeof(*a));
}

struct admin_get {
	struct cl_admin *a;
	cl_admin_fn *fn;
	void *arg;
	int found, stop;
};

static int
admin_cb(const struct dir_entry *en, void *arg)
{
	struct admin_get *g = arg;
	struct cl_admin a = {
		.id = clx_xstrdup(dir_get(en, "uid")),
		.name = clx_xstrdup(dir_get(en, "cn")),
		.descr = clx_xstrdup(dir_get(en, "description")),
	};

	g->found++;
	if (g->a) {
		cl_admin_free(g->a);
		*g->a = a;
		return 0;
	}
	if (g->fn(&a, g->arg) < 0) {
		cl_admin_free(&a);
		g->stop = 1;
		return -1;
	}
	cl_admin_free(&a);
	return 0;
}

static const char *const admin_attrs[] = { "uid", "cn", "description", NULL };

int
cl_dir_admin_get(struct dir *d, const char *id, struct cl_admin *a, struct cl_err *e)
{
	struct admin_get g = { .a = a };
	char *dn = cl_admin_dn(d, id);
	int rc;

	memset(a, 0, sizeof(*a));
	if (!dn)
		return clx_nomem(e);
	rc = dir_search(d, dn, "base", "(objectClass=nonstopAdmin)", admin_attrs, admin_cb, &g);
	free(dn);
	if (rc < 0)
		return dir_errcode(d) == LDAP_NO_SUCH_OBJECT ? 0 : clx_direrr(e, d);
	return g.found ? 1 : 0;
}

int
cl_dir_admins_each(struct dir *d, cl_admin_fn *fn, void *arg, struct cl_err *e)
{
	struct admin_get g = { .fn = fn, .arg = arg };
	char *base = ou_dn(d, "admins");
	int rc;

	if (!base)
		return clx_nomem(e);
	rc = dir_search(d, base, "one", "(objectClass=nonstopAdmin)", admin_attrs, admin_cb, &g);
	free(base);
	if (rc < 0)
		return g.stop ? clx_seterr(e, "", "stopped") : clx_direrr(e, d);
	return 0;
}

int
cl_dir_admin_put(struct dir *d, const struct cl_admin *a, int add, const char *pwhash,
    struct cl_err *e)
{
	struct dir_mods *m;
	char *dn;
	int rc;

	if (!a->id || !clx_name_ok(a->id))
		return clx_seterr(e, "input", "bad administrator id %s", a->id ? a->id : "");
	if (add && !pwhash)
		return clx_seterr(e, "input", "administrator %s: a password is needed (secret=FILE)", a->id);
	if (!(m = dir_mods_new()) || !(dn = cl_admin_dn(d, a->id))) {
		dir_mods_free(m);
		return clx_nomem(e);
	}
	if (add) {
		dir_mods_add(m, DIR_ADD, "objectClass", "nonstopAdmin");
		dir_mods_add(m, DIR_ADD, "uid", a->id);
		dir_mods_add(m, DIR_ADD, "cn", a->name ? a->name : a->id);
		if (a->descr)
			dir_mods_add(m, DIR_ADD, "description", a->descr);
		dir_mods_add(m, DIR_ADD, "userPassword", pwhash);
	} else {
		if (a->name)
			dir_mods_add(m, DIR_REPLACE, "cn", a->name);
		if (a->descr)
			dir_mods_add(m, DIR_REPLACE, "description", a->descr);
		if (pwhash)
			dir_mods_add(m, DIR_REPLACE, "userPassword", pwhash);
	}
	rc = add ? dir_add(d, dn, m) : dir_modify(d, dn, m);
	dir_mods_free(m);
	free(dn);
	return rc < 0 ? clx_direrr(e, d) : 0;
}

int
cl_dir_admin_delete(struct dir *d, const char *id, struct cl_err *e)
{
	char *dn = cl_admin_dn(d, id);
	int rc;

	if (!dn)
		return clx_nomem(e);
	rc = dir_delete(d, dn);
	free(dn);
	return rc < 0 ? clx_direrr(e, d) : 0;
}

char *
cl_ssha(const char *pw, size_t len)
{
	unsigned char in[SHA_DIGEST_LENGTH + 8], salt[8];
	unsigned char out[((SHA_DIGEST_LENGTH + 8 + 2) / 3) * 4 + 1];
	char *s;
	EVP_MD_CTX *ctx;
	int ok;

	if (RAND_bytes(salt, sizeof(salt)) != 1 || !(ctx = EVP_MD_CTX_new()))
		return NULL;
	ok = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, pw, len) == 1 &&
	    EVP_DigestUpdate(ctx, salt, sizeof(salt)) == 1 &&
	    EVP_DigestFinal_ex(ctx, in, NULL) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return NULL;
	memcpy(in + SHA_DIGEST_LENGTH, salt, sizeof(salt));
	EVP_EncodeBlock(out, in, sizeof(in));
	if (asprintf(&s, "{SSHA}%s", out) < 0)
		return NULL;
	explicit_bzero(in, sizeof(in));
	return s;
}

char *
cl_ssha_file(const char *path, struct cl_err *e)
{
	size_t len = 0;
	char *pw = atomic_read(path, 4096, &len), *h;

	if (!pw) {
		clx_seterr(e, "input", "unable to read password file %s: %s", path, strerror(errno));
		return NULL;
	}
	if (len && pw[len - 1] == '\n')
		pw[--len] = '\0';
	if (len == 0) {
		free(pw);
		clx_seterr(e, "input", "password file %s is empty", path);
		return NULL;
	}
	h = cl_ssha(pw, len);
	explicit_bzero(pw, len);
	free(pw);
	if (!h)
		clx_nomem(e);
	return h;
}

