/* The load-cluster model: input, rules, role files, spec text, plans; see cluster.h. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ldap.h>

#include "addr.h"
#include "atomic.h"
#include "cluster.h"
#include "cluster_int.h"
#include "dir.h"
#include "kv.h"

static const char *const role_names[CL_NROLES] = { "none", "lb", "bs", "rs" };

/* ---- small helpers ---- */

int
clx_seterr(struct cl_err *e, const char *rule, const char *fmt, ...)
{
	va_list ap;

	snprintf(e->rule, sizeof(e->rule), "%s", rule);
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	e->ldaprc = 0;
	return -1;
}

int
clx_direrr(struct cl_err *e, struct dir *d)
{
	e->rule[0] = '\0';
	snprintf(e->msg, sizeof(e->msg), "%s", dir_errmsg(d));
	e->ldaprc = dir_errcode(d);
	return -1;
}

int
clx_nomem(struct cl_err *e)
{
	e->rule[0] = '\0';
	snprintf(e->msg, sizeof(e->msg), "out of memory");
	e->ldaprc = LDAP_NO_MEMORY;
	return -1;
}

char *
clx_xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void
setstr(char **p, const char *s)
{
	free(*p);
	*p = s && *s ? strdup(s) : NULL;
}


void
clx_bput(struct clx_buf *b, const char *s, size_t n)
{
	if (b->bad)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(p = realloc(b->s, cap))) {
			b->bad = 1;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void
clx_bstr(struct clx_buf *b, const char *s)
{
	clx_bput(b, s, strlen(s));
}

/* One key=value token, kv quoting; first says no leading blank. */
void
clx_bkv(struct clx_buf *b, int first, const char *key, const char *val)
{
	char tmp[600], *big;
	int n = kv_sput(tmp, sizeof(tmp), first, key, val ? val : "");

	if (n < 0) {
		b->bad = 1;
		return;
	}
	if ((size_t)n < sizeof(tmp)) {
		clx_bput(b, tmp, (size_t)n);
		return;
	}
	if (!(big = malloc((size_t)n + 1))) {
		b->bad = 1;
		return;
	}
	kv_sput(big, (size_t)n + 1, first, key, val ? val : "");
	clx_bput(b, big, (size_t)n);
	free(big);
}

void
clx_bkvl(struct clx_buf *b, int first, const char *key, long v)
{
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "%ld", v);
	clx_bkv(b, first, key, tmp);
}

char *
clx_bdone(struct clx_buf *b)
{
	if (b->bad) {
		free(b->s);
		errno = ENOMEM;
		return NULL;
	}
	if (!b->s)
		return strdup("");
	return b->s;
}

/* Strict decimal in [lo, hi]. */
int
clx_num(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	if (!s || !*s || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Host and cluster names: letters, digits, '-', '_', '.'; 1-63 chars. */
int
clx_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || !kv_key_ok(s) || s[0] == '.' || s[0] == '-')
		return 0;
	return 1;
}

const char *
cl_role_name(int role)
{
	return role >= 0 && role < CL_NROLES ? role_names[role] : "?";
}

int
cl_role_parse(const char *s)
{
	int i;

	for (i = 0; i < CL_NROLES; i++)
		if (strcmp(s, role_names[i]) == 0)
			return i;
	return -1;
}

const char *
cl_action_name(int a)
{
	static const char *const n[] = { "keep", "add", "change", "remove" };

	return a >= 0 && a < 4 ? n[a] : "?";
}

/* ---- hosts ---- */

void
cl_host_free(struct cl_host *h)
{
	size_t i;

	if (!h)
		return;
	free(h->name); free(h->cpu); free(h->nic); free(h->descr);
	free(h->status_cluster);
	for (i = 0; i < h->naddr; i++)
		free(h->addr[i]);
	free(h->addr);
	memset(h, 0, sizeof(*h));
}

void
clx_host_init(struct cl_host *h)
{
	memset(h, 0, sizeof(*h));
	h->mem = -1;
	h->weight = -1;
}

void
cl_hosts_free(struct cl_hosts *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		cl_host_free(&t->h[i]);
	free(t->h);
	memset(t, 0, sizeof(*t));
}

int
cl_hosts_put(struct cl_hosts *t, struct cl_host *h)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct cl_host *p = realloc(t->h, cap * sizeof(*p));
		if (!p)
			return -1;
		t->h = p;
		t->cap = cap;
	}
	t->h[t->n++] = *h;
	memset(h, 0, sizeof(*h));
	t->sorted = 0;
	return 0;
}

static int
hostcmp(const void *a, const void *b)
{
	return strcmp(((const struct cl_host *)a)->name,
	    ((const struct cl_host *)b)->name);
}

const struct cl_host *
cl_hosts_get(struct cl_hosts *t, const char *name)
{
	struct cl_host key = { 0 };
	size_t i, j;

	if (t->n == 0)
		return NULL;
	if (!t->sorted) {
		qsort(t->h, t->n, sizeof(*t->h), hostcmp);
		/* One host per name: duplicates are dropped (which one is not said). */
		for (i = j = 0; i < t->n; i++) {
			if (j > 0 && strcmp(t->h[j - 1].name, t->h[i].name) == 0) {
				cl_host_free(&t->h[j - 1]);
				t->h[j - 1] = t->h[i];
			} else
				t->h[j++] = t->h[i];
		}
		t->n = j;
		t->sorted = 1;
	}
	key.name = (char *)(uintptr_t)name;
	return bsearch(&key, t->h, t->n, sizeof(*t->h), hostcmp);
}

int
clx_addr_value_ok(const char *s)
{
	struct addr a;

	return addr_parse(s, &a) == 0 && a.plen == (a.family == AF_INET ? 32 : 128) &&
	    !strchr(s, '/');
}

/* Rewrite *s in the one spelling addr_fmt gives (2001:db8::1, not 2001:0db8::1). */
static void
canon(char **s)
{
	struct addr a;
	char buf[ADDR_STRLEN], *c;

	if (addr_parse(*s, &a) < 0 || !addr_fmt(&a, buf, sizeof(buf)) ||
	    !(c = strdup(buf)))
		return;
	free(*s);
	*s = c;
}

/* Split a comma list into a malloc'd vector. */
static char **
split(const char *val, size_t *n)
{
	char *copy = strdup(val), *p, *save = NULL, **v = NULL, **nv;
	size_t k = 0;

	*n = 0;
	if (!copy)
		return NULL;
	for (p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		if (!(nv = realloc(v, (k + 2) * sizeof(*v))))
			break;
		v = nv;
		v[k++] = strdup(p);
		v[k] = NULL;
	}
	free(copy);
	if (!v)
		v = calloc(1, sizeof(*v));
	*n = k;
	return v;
}

static void
freev(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int
cl_host_set(struct cl_host *h, const char *key, const char *val, struct cl_err *e)
{
	long v;
	size_t i, n;
	char **list;

	if (strcmp(key, "addr") == 0) {
		list = split(val, &n);
		if (!list)
			return clx_nomem(e);
		for (i = 0; i < n; i++) {
			if (!clx_addr_value_ok(list[i])) {
				clx_seterr(e, "input", "host %s: bad address %s", h->name, list[i]);
				freev(list, n);
				return -1;
			}
			canon(&list[i]);
		}
		for (i = 0; i < h->naddr; i++)
			free(h->addr[i]);
		free(h->addr);
		h->addr = list;
		h->naddr = n;
	} else if (strcmp(key, "cpu") == 0)
		setstr(&h->cpu, val);
	else if (strcmp(key, "nic") == 0)
		setstr(&h->nic, val);
	else if (strcmp(key, "descr") == 0)
		setstr(&h->descr, val);
	else if (strcmp(key, "mem") == 0) {
		if (!*val)
			h->mem = -1;
		else if (clx_num(val, 0, LONG_MAX, &v) < 0)
			return clx_seterr(e, "input", "host %s: bad memory size %s (MiB)", h->name, val);
		else
			h->mem = v;
	} else if (strcmp(key, "weight") == 0) {
		if (!*val)
			h->weight = -1;
		else if (clx_num(val, 0, 65535, &v) < 0)
			return clx_seterr(e, "input", "host %s: bad weight %s (0-65535)", h->name, val);
		else
			h->weight = v;
	} else if (strcmp(key, "agent") == 0) {
		if (!*val)
			h->agent = 0;
		else if (clx_num(val, 1, 65535, &v) < 0)
			return clx_seterr(e, "input", "host %s: bad agent port %s", h->name, val);
		else
			h->agent = v;
	} else if (strcmp(key, "roles") == 0) {
		unsigned pot = 0;
		int r;
		list = split(val, &n);
		if (!list)
			return clx_nomem(e);
		for (i = 0; i < n; i++) {
			r = cl_role_parse(list[i]);
			if (r <= CL_NONE) {
				clx_seterr(e, "input", "host %s: unknown role %s (lb, bs, rs)", h->name, list[i]);
				freev(list, n);
				return -1;
			}
			pot |= 1u << r;
		}
		freev(list, n);
		h->potential = pot;
	} else
		return clx_seterr(e, "input", "host %s: unknown key %s", h->name, key);
	return 0;
}

/* ---- clusters ---- */

static void
members_free(struct cl_member *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(m[i].host);
	free(m);
}

static void
services_free(struct cl_service *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(s[i].name); free(s[i].vip); free(s[i].proto);
	}
	free(s);
}

void
cl_cluster_free(struct cl_cluster *c)
{
	if (!c)
		return;
	free(c->name); free(c->type); free(c->sched); free(c->fwd); free(c->descr);
	services_free(c->svc, c->nsvc);
	free(c->lb);
	members_free(c->bs, c->nbs);
	members_free(c->rs, c->nrs);
	free(c->applied);
	memset(c, 0, sizeof(*c));
}

/* "[name@]vip:port[/proto]", IPv6 as [vip]:port, or kv "name= vip= port= proto=". */
int
clx_service_parse(const char *cname, const char *s, struct cl_service *out,
    struct cl_err *e)
{
	char *copy, *p, *at, *colon, *slash, *vip;
	long port;

	memset(out, 0, sizeof(*out));
	if (strchr(s, '=')) {
		struct kv_rec r;
		const char *why = NULL, *n, *v, *po, *pr;
		size_t i;
		if (kv_parse(&r, s, &why) < 0)
			return clx_seterr(e, "service", "cluster %s: bad service %s: %s", cname, s,
			    why ? why : "out of memory");
		for (i = 0; i < r.n; i++)
			if (strcmp(r.v[i].key, "name") && strcmp(r.v[i].key, "vip") &&
			    strcmp(r.v[i].key, "port") && strcmp(r.v[i].key, "proto")) {
				clx_seterr(e, "service", "cluster %s: service: unknown key %s", cname, r.v[i].key);
				kv_free(&r);
				return -1;
			}
		n = kv_get(&r, "name"); v = kv_get(&r, "vip");
		po = kv_get(&r, "port"); pr = kv_get(&r, "proto");
		if (!n || !v || !po || clx_num(po, 1, 65535, &port) < 0 || !clx_addr_value_ok(v) ||
		    (pr && strcmp(pr, "tcp") && strcmp(pr, "udp")) || !clx_name_ok(n)) {
			clx_seterr(e, "service", "cluster %s: bad service %s", cname, s);
			kv_free(&r);
			return -1;
		}
		out->name = strdup(n); out->vip = strdup(v);
		if (out->vip)
			canon(&out->vip);
		out->proto = strdup(pr ? pr : "tcp"); out->port = (unsigned)port;
		kv_free(&r);
		return 0;
	}
	if (!(copy = strdup(s)))
		return clx_nomem(e);
	p = copy;
	if ((at = strchr(p, '@'))) {
		*at = '\0';
		out->name = strdup(p);
		p = at + 1;
	}
	slash = strrchr(p, '/');
	if (slash)
		*slash++ = '\0';
	if (*p == '[') {
		vip = p + 1;
		if (!(colon = strchr(vip, ']')) || colon[1] != ':')
			goto bad;
		*colon = '\0';
		colon++;
	} else {
		vip = p;
		if (!(colon = strrchr(p, ':')))
			goto bad;
	}
	*colon = '\0';
	if (!clx_addr_value_ok(vip) || clx_num(colon + 1, 1, 65535, &port) < 0)
		goto bad;
	if (slash && strcmp(slash, "tcp") && strcmp(slash, "udp"))
		goto bad;
	if (out->name && !clx_name_ok(out->name))
		goto bad;
	out->vip = strdup(vip);
	if (out->vip)
		canon(&out->vip);
	out->proto = strdup(slash ? slash : "tcp");
	out->port = (unsigned)port;
	free(copy);
	return 0;
bad:
	free(copy);
	free(out->name);
	out->name = NULL;
	return clx_seterr(e, "service", "cluster %s: bad service %s (want [name@]vip:port[/tcp|udp])",
	    cname, s);
}

/* "host[:n[:port]]": n is the order (bs) or weight (rs). */
static int
member_parse(const char *cname, int role, const char *s, unsigned pos,
    struct cl_member *m, struct cl_err *e)
{
	char *copy = strdup(s), *c1, *c2;
	long v;

	memset(m, 0, sizeof(*m));
	m->weight = -1;
	m->order = pos;
	if (!copy)
		return clx_nomem(e);
	if ((c1 = strchr(copy, ':')))
		*c1++ = '\0';
	if (c1 && (c2 = strchr(c1, ':')))
		*c2++ = '\0';
	else
		c2 = NULL;
	if (!clx_name_ok(copy))
		goto bad;
	if (role == CL_BS) {
		if (c2)
			goto bad;
		if (c1) {
			if (clx_num(c1, 0, 255, &v) < 0)
				goto bad;
			m->order = (unsigned)v;
		}
	} else {
		if (c1 && *c1) {
			if (clx_num(c1, 0, 65535, &v) < 0)
				goto bad;
			m->weight = v;
		}
		if (c2) {
			if (clx_num(c2, 1, 65535, &v) < 0)
				goto bad;
			m->port = (unsigned)v;
		}
	}
	m->host = copy;
	if (c1)
		c1[-1] = '\0';
	return 0;
bad:
	free(copy);
	return clx_seterr(e, "input", "cluster %s: bad %s member %s (want %s)", cname,
	    cl_role_name(role), s, role == CL_BS ? "host[:order]" : "host[:weight[:port]]");
}

static int
members_set(const char *cname, int role, const char *val, struct cl_member **out,
    size_t *nout, struct cl_err *e)
{
	size_t n, i;
	char **list = split(val, &n);
	struct cl_member *m;

	if (!list)
		return clx_nomem(e);
	if (!(m = calloc(n + 1, sizeof(*m)))) {
		freev(list, n);
		return clx_nomem(e);
	}
	for (i = 0; i < n; i++)
		if (member_parse(cname, role, list[i], (unsigned)i + 1, &m[i], e) < 0) {
			members_free(m, i);
			freev(list, n);
			return -1;
		}
	freev(list, n);
	members_free(*out, *nout);
	*out = m;
	*nout = n;
	return 0;
}

int
cl_cluster_set(struct cl_cluster *c, const char *key, const char *val,
    struct cl_err *e)
{
	if (strcmp(key, "service") == 0) {
		/* Several services: service= given once per service, ';' between. */
		size_t n = 0, i;
		char *copy = strdup(val), *p, *save = NULL;
		struct cl_service *s = NULL, *ns;
		if (!copy)
			return clx_nomem(e);
		for (p = strtok_r(copy, ";", &save); p; p = strtok_r(NULL, ";", &save)) {
			while (*p == ' ')
				p++;
			if (!(ns = realloc(s, (n + 1) * sizeof(*s)))) {
				services_free(s, n);
				free(copy);
				return clx_nomem(e);
			}
			s = ns;
			if (clx_service_parse(c->name, p, &s[n], e) < 0) {
				services_free(s, n);
				free(copy);
				return -1;
			}
			n++;
		}
		free(copy);
		for (i = 0; i < n; i++)
			if (!s[i].name) {
				char tmp[80];
				if (n == 1)
					snprintf(tmp, sizeof(tmp), "%s", c->name);
				else
					snprintf(tmp, sizeof(tmp), "%s-%zu", c->name, i + 1);
				s[i].name = strdup(tmp);
			}
		services_free(c->svc, c->nsvc);
		c->svc = s;
		c->nsvc = n;
	} else if (strcmp(key, "sched") == 0)
		setstr(&c->sched, val);
	else if (strcmp(key, "fwd") == 0)
		setstr(&c->fwd, val);
	else if (strcmp(key, "type") == 0)
		setstr(&c->type, val);
	else if (strcmp(key, "descr") == 0)
		setstr(&c->descr, val);
	else if (strcmp(key, "lb") == 0) {
		if (*val && !clx_name_ok(val))
			return clx_seterr(e, "one-lb", "cluster %s: lb takes one host name, not %s",
			    c->name, val);
		setstr(&c->lb, val);
	} else if (strcmp(key, "bs") == 0)
		return members_set(c->name, CL_BS, val, &c->bs, &c->nbs, e);
	else if (strcmp(key, "rs") == 0)
		return members_set(c->name, CL_RS, val, &c->rs, &c->nrs, e);
	else
		return clx_seterr(e, "input", "cluster %s: unknown key %s", c->name, key);
	return 0;
}

int
cl_role_of(const struct cl_cluster *c, const char *host)
{
	size_t i;

	if (c->lb && strcmp(c->lb, host) == 0)
		return CL_LB;
	for (i = 0; i < c->nbs; i++)
		if (strcmp(c->bs[i].host, host) == 0)
			return CL_BS;
	for (i = 0; i < c->nrs; i++)
		if (strcmp(c->rs[i].host, host) == 0)
			return CL_RS;
	return CL_NONE;
}

static int
strptrcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every member's host name (with repeats), malloc'd vector of borrowed names. */
const char **
clx_member_names(const struct cl_cluster *c, size_t *n)
{
	const char **v = calloc(1 + c->nbs + c->nrs + 1, sizeof(*v));
	size_t k = 0, i;

	if (!v)
		return NULL;
	if (c->lb)
		v[k++] = c->lb;
	for (i = 0; i < c->nbs; i++)
		v[k++] = c->bs[i].host;
	for (i = 0; i < c->nrs; i++)
		v[k++] = c->rs[i].host;
	*n = k;
	return v;
}

static int
family_of(const char *s)
{
	return strchr(s, ':') ? AF_INET6 : AF_INET;
}

static int
check_member(const struct cl_cluster *c, struct cl_hosts *hosts,
    const char *name, int role, struct cl_err *e)
{
	const struct cl_host *h = cl_hosts_get(hosts, name);

	if (!h)
		return clx_seterr(e, "unknown-host", "cluster %s: %s %s is not in the directory",
		    c->name, cl_role_name(role), name);
	if (!(h->potential & (1u << role)))
		return clx_seterr(e, "potential", "cluster %s: host %s may not take role %s",
		    c->name, name, cl_role_name(role));
	if (h->naddr == 0)
		return clx_seterr(e, "address", "cluster %s: host %s has no address", c->name, name);
	if (c->nsvc && family_of(h->addr[0]) != family_of(c->svc[0].vip))
		return clx_seterr(e, "address",
		    "cluster %s: host %s address %s is not of the virtual address family",
		    c->name, name, h->addr[0]);
	return 0;
}

struct rsaddr {
	const char *addr, *host;
	unsigned port;
};

static int
rsaddrcmp(const void *a, const void *b)
{
	const struct rsaddr *x = a, *y = b;
	int d = strcmp(x->addr, y->addr);

	return d ? d : (x->port > y->port) - (x->port < y->port);
}

/* Two real servers at one address and port would be one to the balancer. */
static int
rs_addr_unique(const struct cl_cluster *c, struct cl_hosts *hosts, struct cl_err *e)
{
	struct rsaddr *v = calloc(c->nrs + 1, sizeof(*v));
	size_t i;
	int rc = 0;

	if (!v)
		return clx_nomem(e);
	for (i = 0; i < c->nrs; i++) {
		const struct cl_host *h = cl_hosts_get(hosts, c->rs[i].host);
		v[i].addr = h && h->naddr ? h->addr[0] : "";
		v[i].host = c->rs[i].host;
		v[i].port = c->rs[i].port;
	}
	qsort(v, c->nrs, sizeof(*v), rsaddrcmp);
	for (i = 1; i < c->nrs && rc == 0; i++)
		if (rsaddrcmp(&v[i - 1], &v[i]) == 0)
			rc = clx_seterr(e, "address",
			    "cluster %s: real servers %s and %s share address %s and port",
			    c->name, v[i - 1].host, v[i].host, v[i].addr);
	free(v);
	return rc;
}

int
cl_validate(const struct cl_cluster *c, struct cl_hosts *hosts, struct cl_err *e)
{
	static const char *const scheds[] = { "rr", "wrr", "lc", "wlc" };
	size_t i, j, n;
	const char **names;
	unsigned char *seen;
	int ok = 0;

	for (i = 0; i < 4; i++)
		if (c->sched && strcmp(c->sched, scheds[i]) == 0)
			ok = 1;
	if (!ok)
		return clx_seterr(e, "scheduler", "cluster %s: unknown scheduler %s (rr, wrr, lc, wlc)",
		    c->name, c->sched ? c->sched : "(none)");
	if (c->fwd && strcmp(c->fwd, "dr") != 0)
		return clx_seterr(e, "forwarding", "cluster %s: unknown forwarding %s (dr)",
		    c->name, c->fwd);
	if (c->nsvc == 0)
		return clx_seterr(e, "service", "cluster %s: no virtual service", c->name);
	for (i = 0; i < c->nsvc; i++) {
		if (family_of(c->svc[i].vip) != family_of(c->svc[0].vip))
			return clx_seterr(e, "service", "cluster %s: services mix IPv4 and IPv6", c->name);
		for (j = 0; j < i; j++) {
			if (strcmp(c->svc[i].name, c->svc[j].name) == 0)
				return clx_seterr(e, "service", "cluster %s: service name %s twice",
				    c->name, c->svc[i].name);
			if (strcmp(c->svc[i].vip, c->svc[j].vip) == 0 &&
			    c->svc[i].port == c->svc[j].port &&
			    strcmp(c->svc[i].proto, c->svc[j].proto) == 0)
				return clx_seterr(e, "service", "cluster %s: service %s:%u/%s twice",
				    c->name, c->svc[i].vip, c->svc[i].port, c->svc[i].proto);
		}
	}
	if (!c->lb)
		return clx_seterr(e, "one-lb", "cluster %s: no load balancer (exactly one needed)",
		    c->name);
	if (c->nrs == 0)
		return clx_seterr(e, "min-rs", "cluster %s: no real server (at least one needed)",
		    c->name);
	if (!(seen = calloc(c->nbs + 2, 1)))
		return clx_nomem(e);
	for (i = 0; i < c->nbs; i++) {
		unsigned o = c->bs[i].order;
		if (o < 1 || o > c->nbs || seen[o]) {
			free(seen);
			return clx_seterr(e, "bs-order",
			    "cluster %s: backup server %s has order %u; orders must be 1..%zu, each once",
			    c->name, c->bs[i].host, o, c->nbs);
		}
		seen[o] = 1;
	}
	free(seen);
	if (!(names = clx_member_names(c, &n)))
		return clx_nomem(e);
	qsort(names, n, sizeof(*names), strptrcmp);
	for (i = 1; i < n; i++)
		if (strcmp(names[i], names[i - 1]) == 0) {
			clx_seterr(e, "unique-host", "cluster %s: host %s appears twice", c->name, names[i]);
			free(names);
			return -1;
		}
	free(names);
	if (check_member(c, hosts, c->lb, CL_LB, e) < 0)
		return -1;
	for (i = 0; i < c->nbs; i++)
		if (check_member(c, hosts, c->bs[i].host, CL_BS, e) < 0)
			return -1;
	for (i = 0; i < c->nrs; i++)
		if (check_member(c, hosts, c->rs[i].host, CL_RS, e) < 0)
			return -1;
	return rs_addr_unique(c, hosts, e);
}

/* ---- role files ---- */

static const char *
haddr(struct cl_hosts *hosts, const char *name)
{
	const struct cl_host *h = name ? cl_hosts_get(hosts, name) : NULL;

	return h && h->naddr ? h->addr[0] : "";
}

static long
rs_weight(struct cl_hosts *hosts, const struct cl_member *m)
{
	const struct cl_host *h;

	if (m->weight >= 0)
		return m->weight;
	h = cl_hosts_get(hosts, m->host);
	return h && h->weight >= 0 ? h->weight : 1;
}

static int
bsordercmp(const void *a, const void *b)
{
	const struct cl_member *x = *(const struct cl_member *const *)a;
	const struct cl_member *y = *(const struct cl_member *const *)b;

	return (x->order > y->order) - (x->order < y->order);
}

static void
render_rs(struct clx_buf *b, struct cl_hosts *hosts, const struct cl_member *m)
{
	clx_bkv(b, 1, "rs", m->host);
	clx_bkv(b, 0, "addr", haddr(hosts, m->host));
	if (m->port)
		clx_bkvl(b, 0, "port", m->port);
	clx_bkvl(b, 0, "weight", rs_weight(hosts, m));
	clx_bstr(b, "\n");
}

static void
render_agent(struct clx_buf *b, struct cl_hosts *hosts, const char *name)
{
	const struct cl_host *h = cl_hosts_get(hosts, name);

	if (!h || !h->agent)
		return;
	clx_bkv(b, 1, "agent", name);
	clx_bkv(b, 0, "addr", haddr(hosts, name));
	clx_bkvl(b, 0, "port", h->agent);
	clx_bstr(b, "\n");
}

char *
cl_render(const struct cl_cluster *c, struct cl_hosts *hosts, const char *host,
    long gen)
{
	struct clx_buf b = { 0 };
	const struct cl_member **bs;
	int role = cl_role_of(c, host);
	size_t i;

	clx_bkv(&b, 1, "role", cl_role_name(role));
	clx_bkv(&b, 0, "host", host);
	clx_bkv(&b, 0, "cluster", c->name);
	clx_bkvl(&b, 0, "generation", gen);
	clx_bkv(&b, 0, "version", "1");
	clx_bstr(&b, "\n");
	if (role == CL_NONE)
		return clx_bdone(&b);
	for (i = 0; i < c->nsvc; i++) {
		clx_bkv(&b, 1, "service", c->svc[i].name);
		clx_bkv(&b, 0, "vip", c->svc[i].vip);
		clx_bkvl(&b, 0, "port", c->svc[i].port);
		clx_bkv(&b, 0, "proto", c->svc[i].proto);
		clx_bkv(&b, 0, "sched", c->sched);
		clx_bkv(&b, 0, "fwd", c->fwd ? c->fwd : "dr");
		clx_bstr(&b, "\n");
	}
	if (c->lb) {
		clx_bkv(&b, 1, "lb", c->lb);
		clx_bkv(&b, 0, "addr", haddr(hosts, c->lb));
		clx_bstr(&b, "\n");
	}
	if (!(bs = calloc(c->nbs + 1, sizeof(*bs)))) {
		free(b.s);
		return NULL;
	}
	for (i = 0; i < c->nbs; i++)
		bs[i] = &c->bs[i];
	qsort(bs, c->nbs, sizeof(*bs), bsordercmp);
	for (i = 0; i < c->nbs; i++) {
		clx_bkv(&b, 1, "bs", bs[i]->host);
		clx_bkv(&b, 0, "addr", haddr(hosts, bs[i]->host));
		clx_bkvl(&b, 0, "order", bs[i]->order);
		clx_bstr(&b, "\n");
	}
	/* The LB and the BSs (which may become the LB) need every RS; an RS itself. */
	for (i = 0; i < c->nrs; i++)
		if (role != CL_RS || strcmp(c->rs[i].host, host) == 0)
			render_rs(&b, hosts, &c->rs[i]);
	if (c->lb)
		render_agent(&b, hosts, c->lb);
	for (i = 0; i < c->nbs; i++)
		render_agent(&b, hosts, bs[i]->host);
	free(bs);
	for (i = 0; i < c->nrs; i++)
		if (role != CL_RS || strcmp(c->rs[i].host, host) == 0)
			render_agent(&b, hosts, c->rs[i].host);
	return clx_bdone(&b);
}

/* ---- spec text ---- */

static void
spec_host(struct clx_buf *b, struct cl_hosts *hosts, const char *name)
{
	const struct cl_host *h = cl_hosts_get(hosts, name);

	clx_bkv(b, 1, "host", name);
	if (h && h->naddr)
		clx_bkv(b, 0, "addr", h->addr[0]);
	if (h && h->weight >= 0)
		clx_bkvl(b, 0, "weight", h->weight);
	if (h && h->agent)
		clx_bkvl(b, 0, "agent", h->agent);
	clx_bstr(b, "\n");
}

char *
cl_spec(const struct cl_cluster *c, struct cl_hosts *hosts)
{
	struct clx_buf b = { 0 };
	size_t i;

	clx_bkv(&b, 1, "cluster", c->name);
	if (c->sched)
		clx_bkv(&b, 0, "sched", c->sched);
	if (c->fwd)
		clx_bkv(&b, 0, "fwd", c->fwd);
	if (c->type)
		clx_bkv(&b, 0, "type", c->type);
	clx_bstr(&b, "\n");
	for (i = 0; i < c->nsvc; i++) {
		clx_bkv(&b, 1, "service", c->svc[i].name);
		clx_bkv(&b, 0, "vip", c->svc[i].vip);
		clx_bkvl(&b, 0, "port", c->svc[i].port);
		clx_bkv(&b, 0, "proto", c->svc[i].proto);
		clx_bstr(&b, "\n");
	}
	if (c->lb) {
		clx_bkv(&b, 1, "lb", c->lb);
		clx_bstr(&b, "\n");
	}
	for (i = 0; i < c->nbs; i++) {
		clx_bkv(&b, 1, "bs", c->bs[i].host);
		clx_bkvl(&b, 0, "order", c->bs[i].order);
		clx_bstr(&b, "\n");
	}
	for (i = 0; i < c->nrs; i++) {
		clx_bkv(&b, 1, "rs", c->rs[i].host);
		if (c->rs[i].weight >= 0)
			clx_bkvl(&b, 0, "weight", c->rs[i].weight);
		if (c->rs[i].port)
			clx_bkvl(&b, 0, "port", c->rs[i].port);
		clx_bstr(&b, "\n");
	}
	if (hosts) {
		if (c->lb)
			spec_host(&b, hosts, c->lb);
		for (i = 0; i < c->nbs; i++)
			spec_host(&b, hosts, c->bs[i].host);
		for (i = 0; i < c->nrs; i++)
			spec_host(&b, hosts, c->rs[i].host);
	}
	return clx_bdone(&b);
}

int
clx_member_append(struct cl_member **m, size_t *n, const struct kv_rec *r,
    const char *key, struct cl_err *e)
{
	struct cl_member *nm = realloc(*m, (*n + 1) * sizeof(**m));
	const char *v;
	long x;

	if (!nm)
		return clx_nomem(e);
	*m = nm;
	memset(&nm[*n], 0, sizeof(nm[*n]));
	nm[*n].weight = -1;
	if (!clx_name_ok(kv_get(r, key)))
		return clx_seterr(e, "input", "bad host name %s", kv_get(r, key));
	if ((v = kv_get(r, "order"))) {
		if (clx_num(v, 0, 255, &x) < 0)
			return clx_seterr(e, "input", "bad order %s", v);
		nm[*n].order = (unsigned)x;
	}
	if ((v = kv_get(r, "weight"))) {
		if (clx_num(v, 0, 65535, &x) < 0)
			return clx_seterr(e, "input", "bad weight %s", v);
		nm[*n].weight = x;
	}
	if ((v = kv_get(r, "port"))) {
		if (clx_num(v, 1, 65535, &x) < 0)
			return clx_seterr(e, "input", "bad port %s", v);
		nm[*n].port = (unsigned)x;
	}
	if (!(nm[*n].host = strdup(kv_get(r, key))))
		return clx_nomem(e);
	(*n)++;
	return 0;
}

/* Unknown keys in a known record are refused, as role file readers do. */
int
clx_keys_only(const struct kv_rec *r, const char *const *ok, struct cl_err *e)
{
	size_t i, j;

	for (i = 0; i < r->n; i++) {
		for (j = 0; ok[j]; j++)
			if (strcmp(r->v[i].key, ok[j]) == 0)
				break;
		if (!ok[j])
			return clx_seterr(e, "input", "spec: unknown key %s in a %s record",
			    r->v[i].key, r->v[0].key);
	}
	return 0;
}

int
cl_spec_parse(const char *text, struct cl_cluster *c, struct cl_hosts *hosts,
    struct cl_err *e)
{
	static const char *const k_cluster[] = { "cluster", "sched", "fwd", "type", NULL };
	static const char *const k_service[] = { "service", "vip", "port", "proto", NULL };
	static const char *const k_lb[] = { "lb", NULL };
	static const char *const k_bs[] = { "bs", "order", NULL };
	static const char *const k_rs[] = { "rs", "weight", "port", NULL };
	static const char *const k_host[] = { "host", "addr", "weight", "agent", NULL };
	const char *p = text, *nl, *why;
	char *line;
	struct kv_rec r;
	int rc = 0;

	memset(c, 0, sizeof(*c));
	while (*p && rc == 0) {
		nl = strchr(p, '\n');
		line = nl ? strndup(p, (size_t)(nl - p)) : strdup(p);
		p = nl ? nl + 1 : p + strlen(p);
		if (!line)
			return clx_nomem(e);
		why = NULL;
		if (kv_parse(&r, line, &why) < 0) {
			free(line);
			return clx_seterr(e, "input", "spec: %s", why ? why : "out of memory");
		}
		free(line);
		if (r.n == 0) {
			kv_free(&r);
			continue;
		}
		if (strcmp(r.v[0].key, "cluster") == 0) {
			if (!(rc = clx_keys_only(&r, k_cluster, e))) {
				setstr(&c->name, kv_get(&r, "cluster"));
				setstr(&c->sched, kv_get(&r, "sched"));
				setstr(&c->fwd, kv_get(&r, "fwd"));
				setstr(&c->type, kv_get(&r, "type"));
			}
		} else if (strcmp(r.v[0].key, "service") == 0) {
			struct cl_service *ns = realloc(c->svc, (c->nsvc + 1) * sizeof(*ns));
			char tmp[600];
			if (!ns) {
				kv_free(&r);
				return clx_nomem(e);
			}
			c->svc = ns;
			snprintf(tmp, sizeof(tmp), "name=%s vip=%s port=%s proto=%s",
			    kv_get(&r, "service"), kv_get(&r, "vip") ? kv_get(&r, "vip") : "",
			    kv_get(&r, "port") ? kv_get(&r, "port") : "",
			    kv_get(&r, "proto") ? kv_get(&r, "proto") : "tcp");
			if (!(rc = clx_keys_only(&r, k_service, e)) &&
			    !(rc = clx_service_parse(c->name ? c->name : "?", tmp, &c->svc[c->nsvc], e)))
				c->nsvc++;
		} else if (strcmp(r.v[0].key, "lb") == 0) {
			if (!(rc = clx_keys_only(&r, k_lb, e)))
				setstr(&c->lb, kv_get(&r, "lb"));
		} else if (strcmp(r.v[0].key, "bs") == 0) {
			if (!(rc = clx_keys_only(&r, k_bs, e)))
				rc = clx_member_append(&c->bs, &c->nbs, &r, "bs", e);
		} else if (strcmp(r.v[0].key, "rs") == 0) {
			if (!(rc = clx_keys_only(&r, k_rs, e)))
				rc = clx_member_append(&c->rs, &c->nrs, &r, "rs", e);
		} else if (strcmp(r.v[0].key, "host") == 0) {
			struct cl_host h;
			const char *v;
			clx_host_init(&h);
			if (!(rc = clx_keys_only(&r, k_host, e))) {
				h.name = strdup(kv_get(&r, "host"));
				h.potential = (1u << CL_LB) | (1u << CL_BS) | (1u << CL_RS);
				if ((v = kv_get(&r, "addr")))
					rc = cl_host_set(&h, "addr", v, e);
				if (!rc && (v = kv_get(&r, "weight")))
					rc = cl_host_set(&h, "weight", v, e);
				if (!rc && (v = kv_get(&r, "agent")))
					rc = cl_host_set(&h, "agent", v, e);
				if (!rc && hosts && cl_hosts_put(hosts, &h) < 0)
					rc = clx_nomem(e);
			}
			cl_host_free(&h);
		} else
			rc = clx_seterr(e, "input", "spec: unknown record %s", r.v[0].key);
		kv_free(&r);
	}
	if (rc == 0 && !c->name)
		rc = clx_seterr(e, "input", "spec: no cluster record");
	return rc;
}

/* ---- plans ---- */

void
cl_changes_free(struct cl_change *ch, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(ch[i].host);
		free(ch[i].file);
	}
	free(ch);
}

/* The role file minus its header line: what a change is judged on. */
static const char *
body(const char *f)
{
	const char *nl = strchr(f, '\n');

	return nl ? nl + 1 : "";
}

int
cl_plan(const struct cl_cluster *c, struct cl_hosts *hosts, const char *applied,
    int dissolve, long gen, struct cl_change **out, size_t *nout, struct cl_err *e)
{
	struct cl_cluster old;
	struct cl_hosts oldh = { 0 };
	const char **nn = NULL, **on = NULL, **all = NULL;
	size_t n1 = 0, n2 = 0, n, i, k = 0;
	struct cl_change *ch = NULL;
	int rc = -1;

	memset(&old, 0, sizeof(old));
	*out = NULL;
	*nout = 0;
	if (applied && *applied && cl_spec_parse(applied, &old, &oldh, e) < 0)
		return -1;
	if (!old.name) {
		old.name = clx_xstrdup(c->name);
	}
	if (!(nn = clx_member_names(c, &n1)) || !(on = clx_member_names(&old, &n2)))
		goto oom;
	n = n1 + n2;
	if (!(all = calloc(n + 1, sizeof(*all))) || !(ch = calloc(n + 1, sizeof(*ch))))
		goto oom;
	memcpy(all, nn, n1 * sizeof(*all));
	memcpy(all + n1, on, n2 * sizeof(*all));
	qsort(all, n, sizeof(*all), strptrcmp);
	for (i = 0; i < n; i++) {
		struct cl_change *x;
		char *oldf = NULL;
		const char *h = all[i];
		if (i > 0 && strcmp(all[i - 1], h) == 0)
			continue;
		x = &ch[k++];
		x->host = strdup(h);
		x->was = cl_role_of(&old, h);
		x->role = dissolve ? CL_NONE : cl_role_of(c, h);
		if (dissolve) {
			/* Every host goes to none: the header alone. */
			struct cl_cluster none;
			memset(&none, 0, sizeof(none));
			none.name = c->name;
			x->file = cl_render(&none, hosts, h, gen);
		} else
			x->file = cl_render(c, hosts, h, gen);
		if (x->was != CL_NONE)
			oldf = cl_render(&old, &oldh, h, gen);
		if (!x->host || !x->file || (x->was != CL_NONE && !oldf)) {
			free(oldf);
			goto oom;
		}
		if (x->was == CL_NONE && x->role != CL_NONE)
			x->action = CL_ADD;
		else if (x->was != CL_NONE && x->role == CL_NONE)
			x->action = CL_REMOVE;
		else if (x->was == CL_NONE)
			x->action = CL_KEEP;
		else
			x->action = strcmp(body(oldf), body(x->file)) == 0 &&
			    x->was == x->role ? CL_KEEP : CL_CHANGE;
		free(oldf);
	}
	*out = ch;
	*nout = k;
	ch = NULL;
	rc = 0;
	goto done;
oom:
	clx_nomem(e);
done:
	if (ch)
		cl_changes_free(ch, k);
	free(nn);
	free(on);
	free(all);
	cl_cluster_free(&old);
	cl_hosts_free(&oldh);
	return rc;
}

int
cl_write_files(const char *folder, const struct cl_change *ch, size_t n, int all,
    struct cl_err *e)
{
	size_t i;
	char path[PATH_MAX];

	for (i = 0; i < n; i++) {
		if (!all && ch[i].action == CL_KEEP)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s.role", folder, ch[i].host) >=
		    sizeof(path))
			return clx_seterr(e, "input", "path too long: %s/%s.role", folder, ch[i].host);
		if (atomic_write_str(path, ch[i].file, 0644) < 0) {
			e->rule[0] = '\0';
			snprintf(e->msg, sizeof(e->msg), "unable to write %.300s: %s", path,
			    strerror(errno));
			e->ldaprc = LDAP_OTHER;
			return -1;
		}
	}
	return 0;
}

