/* Role file reader and validator; the format is in role.h and nonstop-role(5). */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "kv.h"
#include "role.h"

#define ROLE_MAXFILE (16u << 20)

static const char *kind_names[] = { "none", "lb", "bs", "rs" };
static const char *sched_names[] = { "rr", "wrr", "lc", "wlc" };

const char *
role_kind_name(enum role_kind k)
{
	return (unsigned)k < 4 ? kind_names[k] : "?";
}

int
role_kind_parse(const char *s)
{
	int i;

	for (i = 0; i < 4; i++)
		if (strcmp(s, kind_names[i]) == 0)
			return i;
	return -1;
}

const char *
role_sched_name(enum role_sched s)
{
	return (unsigned)s < 4 ? sched_names[s] : "?";
}

const char *
role_proto_name(int proto)
{
	return proto == IPPROTO_UDP ? "udp" : "tcp";
}

struct role_host *
role_rs(const struct role *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nrs; i++)
		if (strcmp(r->rs[i].name, name) == 0)
			return &r->rs[i];
	return NULL;
}

void
role_free(struct role *r)
{
	free(r->svc);
	free(r->bs);
	free(r->rs);
	free(r->agent);
	memset(r, 0, sizeof *r);
}

/* Parsing context: the line number and the message buffer. */
struct pctx {
	unsigned line;
	char *why;
	size_t whylen;
};

static int
bad(struct pctx *c, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (c->line > 0)
		n = snprintf(c->why, c->whylen, "line %u: ", c->line);
	if (n < 0 || (size_t)n >= c->whylen)
		n = 0;
	va_start(ap, fmt);
	vsnprintf(c->why + n, c->whylen - n, fmt, ap);
	va_end(ap);
	errno = EINVAL;
	return -1;
}

/* Every key of rec must be in the NULL-terminated list allowed. */
static int
keys_ok(struct pctx *c, const struct kv_rec *rec, const char *const *allowed)
{
	size_t i;
	const char *const *a;

	for (i = 0; i < rec->n; i++) {
		for (a = allowed; *a != NULL; a++)
			if (strcmp(rec->v[i].key, *a) == 0)
				break;
		if (*a == NULL)
			return bad(c, "unknown key %s in %s record",
			    rec->v[i].key, rec->v[0].key);
	}
	return 0;
}

static const char *
need(struct pctx *c, const struct kv_rec *rec, const char *key)
{
	const char *v = kv_get(rec, key);

	if (v == NULL)
		bad(c, "%s record without %s", rec->v[0].key, key);
	return v;
}

static int
name_ok(struct pctx *c, const char *what, const char *s, char *out)
{
	size_t n = strlen(s), i;

	if (n == 0 || n >= ROLE_NAMELEN)
		return bad(c, "bad %s name '%s'", what, s);
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (!(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z') &&
		    !(ch >= '0' && ch <= '9') && ch != '-' && ch != '_' &&
		    ch != '.')
			return bad(c, "bad %s name '%s'", what, s);
	}
	memcpy(out, s, n + 1);
	return 0;
}

/* Decimal in [lo, hi], no sign, no blanks, no leading zeros beyond "0". */
static int
num_ok(struct pctx *c, const char *what, const char *s, unsigned long lo,
    unsigned long hi, unsigned long *out)
{
	unsigned long v = 0;
	const char *p;

	if (*s == '\0' || (s[0] == '0' && s[1] != '\0'))
		return bad(c, "bad %s '%s'", what, s);
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || v > (hi - (unsigned)(*p - '0')) / 10)
			return bad(c, "bad %s '%s'", what, s);
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (v < lo || v > hi)
		return bad(c, "bad %s '%s'", what, s);
	*out = v;
	return 0;
}

static int
host_addr(struct pctx *c, const char *s, struct addr *a)
{
	if (addr_parse(s, a) == -1 || a->plen != (a->family == AF_INET ? 32 : 128))
		return bad(c, "bad address '%s'", s);
	return 0;
}

static int
grow(void *pp, size_t n, size_t size)
{
	void **p = pp;
	void *np;

	/* Powers of two: grow when n reaches one. */
	if (n != 0 && (n & (n - 1)) != 0)
		return 0;
	if ((np = realloc(*p, (n == 0 ? 1 : n * 2) * size)) == NULL)
		return -1;
	*p = np;
	return 0;
}

static int
header(struct pctx *c, const struct kv_rec *rec, struct role *r)
{
	static const char *const k[] = { "role", "host", "cluster",
	    "generation", "version", NULL };
	const char *v;
	unsigned long n;
	int kind;

	if (keys_ok(c, rec, k) == -1)
		return -1;
	if ((kind = role_kind_parse(rec->v[0].val)) == -1)
		return bad(c, "bad role '%s' (lb, bs, rs or none)", rec->v[0].val);
	r->kind = kind;
	if ((v = need(c, rec, "version")) == NULL)
		return -1;
	if (strcmp(v, "1") != 0)
		return bad(c, "unsupported role file version '%s'", v);
	if ((v = need(c, rec, "host")) == NULL ||
	    name_ok(c, "host", v, r->host) == -1)
		return -1;
	if ((v = kv_get(rec, "cluster")) != NULL &&
	    name_ok(c, "cluster", v, r->cluster) == -1)
		return -1;
	if ((v = kv_get(rec, "generation")) != NULL) {
		if (num_ok(c, "generation", v, 0, ~0UL >> 1, &n) == -1)
			return -1;
		r->generation = n;
	}
	if (r->kind != ROLE_NONE && r->cluster[0] == '\0')
		return bad(c, "role %s without cluster", rec->v[0].val);
	return 0;
}

static int
service(struct pctx *c, const struct kv_rec *rec, struct role *r)
{
	static const char *const k[] = { "service", "vip", "port", "proto",
	    "sched", "fwd", NULL };
	struct role_svc s;
	const char *v;
	unsigned long n;
	size_t i;
	int sc;

	memset(&s, 0, sizeof s);
	if (keys_ok(c, rec, k) == -1 ||
	    name_ok(c, "service", rec->v[0].val, s.name) == -1)
		return -1;
	if ((v = need(c, rec, "vip")) == NULL || host_addr(c, v, &s.vip) == -1)
		return -1;
	if ((v = need(c, rec, "port")) == NULL ||
	    num_ok(c, "port", v, 1, 65535, &n) == -1)
		return -1;
	s.port = (uint16_t)n;
	v = kv_get(rec, "proto");
	if (v == NULL || strcmp(v, "tcp") == 0)
		s.proto = IPPROTO_TCP;
	else if (strcmp(v, "udp") == 0)
		s.proto = IPPROTO_UDP;
	else
		return bad(c, "bad proto '%s' (tcp or udp)", v);
	v = kv_get(rec, "sched");
	s.sched = SCHED_WRR;
	if (v != NULL) {
		for (sc = 0; sc < 4; sc++)
			if (strcmp(v, sched_names[sc]) == 0)
				break;
		if (sc == 4)
			return bad(c, "bad sched '%s' (rr, wrr, lc or wlc)", v);
		s.sched = sc;
	}
	if ((v = kv_get(rec, "fwd")) != NULL && strcmp(v, "dr") != 0)
		return bad(c, "bad fwd '%s' (only dr)", v);
	for (i = 0; i < r->nsvc; i++) {
		if (strcmp(r->svc[i].name, s.name) == 0)
			return bad(c, "service %s given twice", s.name);
		if (addr_eq(&r->svc[i].vip, &s.vip) && r->svc[i].port == s.port &&
		    r->svc[i].proto == s.proto)
			return bad(c, "services %s and %s share vip, port "
			    "and proto", r->svc[i].name, s.name);
	}
	if (grow(&r->svc, r->nsvc, sizeof s) == -1)
		return -1;
	r->svc[r->nsvc++] = s;
	return 0;
}

static int
host(struct pctx *c, const struct kv_rec *rec, struct role *r)
{
	static const char *const klb[] = { "lb", "addr", NULL };
	static const char *const kbs[] = { "bs", "addr", "order", NULL };
	static const char *const krs[] = { "rs", "addr", "port", "weight", NULL };
	static const char *const kag[] = { "agent", "addr", "port", NULL };
	const char *type = rec->v[0].key, *v;
	struct role_host h, **list = NULL;
	size_t *count = NULL, i;
	unsigned long n;

	memset(&h, 0, sizeof h);
	if (strcmp(type, "lb") == 0) {
		if (keys_ok(c, rec, klb) == -1)
			return -1;
		if (r->has_lb)
			return bad(c, "second lb record");
	} else if (strcmp(type, "bs") == 0) {
		if (keys_ok(c, rec, kbs) == -1)
			return -1;
		list = &r->bs, count = &r->nbs;
	} else if (strcmp(type, "rs") == 0) {
		if (keys_ok(c, rec, krs) == -1)
			return -1;
		list = &r->rs, count = &r->nrs;
	} else {
		if (keys_ok(c, rec, kag) == -1)
			return -1;
		list = &r->agent, count = &r->nagent;
	}
	if (name_ok(c, type, rec->v[0].val, h.name) == -1)
		return -1;
	if ((v = need(c, rec, "addr")) == NULL || host_addr(c, v, &h.addr) == -1)
		return -1;
	if ((v = kv_get(rec, "port")) != NULL) {
		if (num_ok(c, "port", v, 1, 65535, &n) == -1)
			return -1;
		h.port = (uint16_t)n;
	} else if (strcmp(type, "agent") == 0) {
		h.port = 161;
	}
	if (strcmp(type, "bs") == 0) {
		if ((v = need(c, rec, "order")) == NULL ||
		    num_ok(c, "order", v, 1, 1000, &n) == -1)
			return -1;
		h.order = (int)n;
	}
	h.weight = 1;
	if ((v = kv_get(rec, "weight")) != NULL) {
		if (num_ok(c, "weight", v, 0, ROLE_WEIGHT_MAX, &n) == -1)
			return -1;
		h.weight = (int)n;
	}
	if (list == NULL) {
		r->lb = h;
		r->has_lb = 1;
		return 0;
	}
	for (i = 0; i < *count; i++) {
		if (strcmp((*list)[i].name, h.name) == 0)
			return bad(c, "%s %s given twice", type, h.name);
		if (strcmp(type, "bs") == 0 && (*list)[i].order == h.order)
			return bad(c, "bs %s and %s share order %d",
			    (*list)[i].name, h.name, h.order);
		if (strcmp(type, "rs") == 0 && addr_eq(&(*list)[i].addr, &h.addr) &&
		    (*list)[i].port == h.port)
			return bad(c, "rs %s and %s share an address", (*list)[i].name,
			    h.name);
	}
	if (grow(list, *count, sizeof h) == -1)
		return -1;
	(*list)[(*count)++] = h;
	return 0;
}

static int
by_order(const void *a, const void *b)
{
	const struct role_host *x = a, *y = b;

	return (x->order > y->order) - (x->order < y->order);
}

/* Whole-file rules, after every line was read. */
static int
check(struct pctx *c, struct role *r)
{
	size_t i, j;

	c->line = 0;
	if (r->kind == ROLE_NONE) {
		if (r->nsvc || r->has_lb || r->nbs || r->nrs || r->nagent)
			return bad(c, "role none with records after the header");
		return 0;
	}
	if (r->nsvc == 0)
		return bad(c, "no service record");
	if (!r->has_lb)
		return bad(c, "no lb record");
	for (i = 0; i < r->nsvc; i++)
		for (j = 0; j < r->nrs; j++)
			if (r->svc[i].vip.family != r->rs[j].addr.family)
				return bad(c, "service %s and rs %s are of "
				    "different address families",
				    r->svc[i].name, r->rs[j].name);
	if (r->nbs > 1)
		qsort(r->bs, r->nbs, sizeof *r->bs, by_order);
	return 0;
}

int
role_parse(const char *text, struct role *r, char *why, size_t whylen)
{
	struct pctx c = { 0, why, whylen };
	const char *p = text, *nl, *kwhy;
	struct kv_rec rec;
	char *line;
	int rc = 0, seen_header = 0;
	size_t n;

	memset(r, 0, sizeof *r);
	if (whylen > 0)
		why[0] = '\0';
	while (*p != '\0' && rc == 0) {
		c.line++;
		nl = strchr(p, '\n');
		n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		if ((line = strndup(p, n)) == NULL)
			goto nomem;
		p += n + (nl != NULL);
		if (strlen(line) != n) {
			free(line);
			rc = bad(&c, "NUL byte");
			break;
		}
		if (kv_parse(&rec, line, &kwhy) == -1) {
			free(line);
			if (errno == ENOMEM)
				goto nomem;
			rc = bad(&c, "%s", kwhy != NULL ? kwhy : "bad record");
			break;
		}
		free(line);
		if (rec.n == 0) {
			kv_free(&rec);
			continue;
		}
		if (!seen_header) {
			if (strcmp(rec.v[0].key, "role") != 0)
				rc = bad(&c, "first record is not the role header");
			else
				rc = header(&c, &rec, r);
			seen_header = 1;
		} else if (strcmp(rec.v[0].key, "role") == 0) {
			rc = bad(&c, "second role header");
		} else if (strcmp(rec.v[0].key, "service") == 0) {
			rc = service(&c, &rec, r);
		} else if (strcmp(rec.v[0].key, "lb") == 0 ||
		    strcmp(rec.v[0].key, "bs") == 0 ||
		    strcmp(rec.v[0].key, "rs") == 0 ||
		    strcmp(rec.v[0].key, "agent") == 0) {
			rc = host(&c, &rec, r);
		} else {
			rc = bad(&c, "unknown record type %s", rec.v[0].key);
		}
		kv_free(&rec);
		if (rc == -1 && errno == ENOMEM)
			goto nomem;
	}
	if (rc == 0 && !seen_header) {
		c.line = 0;
		rc = bad(&c, "no role header");
	}
	if (rc == 0)
		rc = check(&c, r);
	if (rc == -1) {
		int e = errno;
		role_free(r);
		errno = e;
	}
	return rc;
nomem:
	role_free(r);
	snprintf(why, whylen, "out of memory");
	errno = ENOMEM;
	return -1;
}

int
role_read(const char *path, struct role *r, char *why, size_t whylen)
{
	char *text;
	size_t len;
	int rc, e;

	memset(r, 0, sizeof *r);
	if (strcmp(path, "-") == 0)
		text = atomic_read("/dev/stdin", ROLE_MAXFILE, &len);
	else
		text = atomic_read(path, ROLE_MAXFILE, &len);
	if (text == NULL) {
		e = errno;
		snprintf(why, whylen, "unable to read %s: %s", path, strerror(e));
		errno = e;
		return -1;
	}
	if (strlen(text) != len) {
		free(text);
		snprintf(why, whylen, "%s: NUL byte", path);
		errno = EINVAL;
		return -1;
	}
	rc = role_parse(text, r, why, whylen);
	e = errno;
	free(text);
	errno = e;
	return rc;
}
