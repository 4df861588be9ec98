/* The cluster directory over LDAP; see dir.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#define LDAP_DEPRECATED 0
#include <ldap.h>

#include "atomic.h"
#include "dir.h"

struct dir {
	LDAP *ld;
	char *base;
	int rc;
	char msg[512];
};

struct dir_mods {
	LDAPMod **mods;		/* NULL-terminated */
	size_t n, cap;
};

const char *
dir_base(const struct dir *d)
{
	return d->base;
}

int
dir_errcode(const struct dir *d)
{
	return d->rc;
}

const char *
dir_errmsg(const struct dir *d)
{
	return d->msg;
}

void
dir_seterr(struct dir *d, int rc, const char *fmt, ...)
{
	va_list ap;

	d->rc = rc;
	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
}

int
dir_temporary(int rc)
{
	switch (rc) {
	case LDAP_SERVER_DOWN: case LDAP_CONNECT_ERROR: case LDAP_TIMEOUT:
	case LDAP_BUSY: case LDAP_UNAVAILABLE: case LDAP_TIMELIMIT_EXCEEDED:
	case LDAP_NO_MEMORY: case LDAP_LOCAL_ERROR: case LDAP_OTHER:
		return 1;
	}
	return 0;
}

/* Record the failure of operation what, with the server's diagnostic. */
static int
fail(struct dir *d, int rc, const char *what, const char *obj)
{
	char *diag = NULL;

	if (d->ld)
		ldap_get_option(d->ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	dir_seterr(d, rc, "%s%s%s: %s%s%s", what, obj ? " " : "", obj ? obj : "",
	    ldap_err2string(rc), diag && *diag ? ": " : "", diag && *diag ? diag : "");
	ldap_memfree(diag);
	return -1;
}

static int
sasl_interact(LDAP *ld, unsigned flags, void *defaults, void *in)
{
	/* EXTERNAL asks nothing: the identity is the socket's peer. */
	(void)ld; (void)flags; (void)defaults; (void)in;
	return LDAP_SUCCESS;
}

struct dir *
dir_open(const struct dir_opts *o, char *msg, size_t msgsize, int *ldaprc)
{
	struct dir *d;
	int v3 = LDAP_VERSION3, rc;
	struct timeval tv;
	char *base = NULL;

	*ldaprc = LDAP_SUCCESS;
	if (!(d = calloc(1, sizeof(*d)))) {
		snprintf(msg, msgsize, "out of memory");
		*ldaprc = LDAP_NO_MEMORY;
		return NULL;
	}
	/* NULL uri: libldap takes LDAPURI / ldap.conf URI itself. */
	rc = ldap_initialize(&d->ld, o->uri);
	if (rc != LDAP_SUCCESS) {
		snprintf(msg, msgsize, "bad LDAP URI %s: %s", o->uri ? o->uri : "(default)",
		    ldap_err2string(rc));
		*ldaprc = LDAP_PARAM_ERROR;
		free(d);
		return NULL;
	}
	ldap_set_option(d->ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
	ldap_set_option(d->ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	tv.tv_sec = (o->timeout_ms ? o->timeout_ms : 10000) / 1000;
	tv.tv_usec = (o->timeout_ms ? o->timeout_ms : 10000) % 1000 * 1000;
	ldap_set_option(d->ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
	/* An answer may take longer than a connect: listing 10,000 hosts on a busy server. */
	tv.tv_sec *= 10;
	tv.tv_usec *= 10;
	tv.tv_sec += tv.tv_usec / 1000000;
	tv.tv_usec %= 1000000;
	ldap_set_option(d->ld, LDAP_OPT_TIMEOUT, &tv);

	if (o->base)
		d->base = strdup(o->base);
	else if (getenv("LDAPBASE") && *getenv("LDAPBASE"))
		d->base = strdup(getenv("LDAPBASE"));
	else if (ldap_get_option(d->ld, LDAP_OPT_DEFBASE, &base) == LDAP_OPT_SUCCESS &&
	    base && *base)
		d->base = strdup(base);
	ldap_memfree(base);
	if (!d->base) {
		snprintf(msg, msgsize, "no search base: give -b, LDAPBASE or BASE in ldap.conf");
		*ldaprc = LDAP_PARAM_ERROR;
		dir_close(d);
		return NULL;
	}

	if (o->binddn || o->pwfile) {
		struct berval cred = { 0, NULL };
		char *pw = NULL;
		size_t len = 0;

		if (!o->binddn || !o->pwfile) {
			snprintf(msg, msgsize, "a simple bind needs both -D and -y");
			*ldaprc = LDAP_PARAM_ERROR;
			dir_close(d);
			return NULL;
		}
		if (!(pw = atomic_read(o->pwfile, 4096, &len))) {
			snprintf(msg, msgsize, "unable to read password file %s: %s",
			    o->pwfile, strerror(errno));
			*ldaprc = LDAP_PARAM_ERROR;
			dir_close(d);
			return NULL;
		}
		/* Like ldapsearch -y: the whole file; one trailing newline is dropped. */
		if (len && pw[len - 1] == '\n')
			pw[--len] = '\0';
		cred.bv_val = pw;
		cred.bv_len = len;
		rc = ldap_sasl_bind_s(d->ld, o->binddn, LDAP_SASL_SIMPLE, &cred,
		    NULL, NULL, NULL);
		explicit_bzero(pw, len);
		free(pw);
	} else {
		rc = ldap_sasl_interactive_bind_s(d->ld, NULL, "EXTERNAL", NULL,
		    NULL, LDAP_SASL_QUIET, sasl_interact, NULL);
	}
	if (rc != LDAP_SUCCESS) {
		fail(d, rc, "bind", o->binddn ? o->binddn : "(SASL EXTERNAL)");
		snprintf(msg, msgsize, "%s", d->msg);
		*ldaprc = rc;
		dir_close(d);
		return NULL;
	}
	return d;
}

void
dir_close(struct dir *d)
{
	if (!d)
		return;
	if (d->ld)
		ldap_unbind_ext_s(d->ld, NULL, NULL);
	free(d->base);
	free(d);
}

char *
dir_whoami(struct dir *d)
{
	struct berval *id = NULL;
	char *s;
	int rc;

	rc = ldap_whoami_s(d->ld, &id, NULL, NULL);
	if (rc != LDAP_SUCCESS) {
		fail(d, rc, "whoami", NULL);
		return NULL;
	}
	s = id && id->bv_len ? strndup(id->bv_val, id->bv_len) : strdup("anonymous");
	ber_bvfree(id);
	return s;
}

const struct dir_attr *
dir_attr(const struct dir_entry *e, const char *name)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		if (strcasecmp(e->a[i].name, name) == 0)
			return &e->a[i];
	return NULL;
}

const char *
dir_get(const struct dir_entry *e, const char *name)
{
	const struct dir_attr *a = dir_attr(e, name);

	return a && a->n ? a->vals[0] : NULL;
}

static void
entry_free(struct dir_entry *e)
{
	size_t i, j;

	for (i = 0; i < e->n; i++) {
		for (j = 0; j < e->a[i].n; j++)
			free(e->a[i].vals[j]);
		free(e->a[i].vals);
		free(e->a[i].lens);
		free(e->a[i].name);
	}
	free(e->a);
	if (e->dn)
		ldap_memfree(e->dn);
}

/* Copy one LDAP message entry into e (NUL-terminated values). */
static int
entry_get(LDAP *ld, LDAPMessage *m, struct dir_entry *e)
{
	BerElement *ber = NULL;
	char *name;
	size_t cap = 0;

	memset(e, 0, sizeof(*e));
	e->dn = ldap_get_dn(ld, m);
	for (name = ldap_first_attribute(ld, m, &ber); name;
	    name = ldap_next_attribute(ld, m, ber)) {
		struct berval **bv = ldap_get_values_len(ld, m, name);
		struct dir_attr *a;
		size_t k, n = bv ? (size_t)ldap_count_values_len(bv) : 0;

		if (e->n == cap) {
			cap = cap ? cap * 2 : 16;
			a = realloc(e->a, cap * sizeof(*a));
			if (!a)
				goto nomem;
			e->a = a;
		}
		a = &e->a[e->n++];
		memset(a, 0, sizeof(*a));
		a->name = strdup(name);
		a->vals = calloc(n + 1, sizeof(char *));
		a->lens = calloc(n + 1, sizeof(size_t));
		if (!a->name || !a->vals || !a->lens)
			goto nomem;
		for (k = 0; k < n; k++) {
			if (!(a->vals[k] = malloc(bv[k]->bv_len + 1)))
				goto nomem;
			memcpy(a->vals[k], bv[k]->bv_val, bv[k]->bv_len);
			a->vals[k][bv[k]->bv_len] = '\0';
			a->lens[k] = bv[k]->bv_len;
			a->n++;
		}
		ldap_value_free_len(bv);
		ldap_memfree(name);
		continue;
nomem:
		ldap_value_free_len(bv);
		ldap_memfree(name);
		ber_free(ber, 0);
		return -1;
	}
	ber_free(ber, 0);
	return 0;
}

int
dir_search(struct dir *d, const char *base, const char *scope,
    const char *filter, const char *const *attrs, dir_entry_fn *cb, void *arg)
{
	LDAPMessage *res = NULL, *m;
	int sc, rc, stop = 0;

	sc = strcmp(scope, "base") == 0 ? LDAP_SCOPE_BASE :
	    strcmp(scope, "one") == 0 ? LDAP_SCOPE_ONELEVEL : LDAP_SCOPE_SUBTREE;
	rc = ldap_search_ext_s(d->ld, base, sc, filter, (char **)(uintptr_t)attrs,
	    0, NULL, NULL, NULL, LDAP_NO_LIMIT, &res);
	if (rc != LDAP_SUCCESS) {
		ldap_msgfree(res);
		return fail(d, rc, "search", base);
	}
	for (m = ldap_first_entry(d->ld, res); m && !stop;
	    m = ldap_next_entry(d->ld, m)) {
		struct dir_entry e;

		if (entry_get(d->ld, m, &e) < 0) {
			entry_free(&e);
			ldap_msgfree(res);
			dir_seterr(d, LDAP_NO_MEMORY, "out of memory");
			return -1;
		}
		if (cb(&e, arg) < 0)
			stop = 1;
		entry_free(&e);
	}
	ldap_msgfree(res);
	return stop ? -1 : 0;
}

struct dir_mods *
dir_mods_new(void)
{
	struct dir_mods *m = calloc(1, sizeof(*m));

	if (m && !(m->mods = calloc(1, sizeof(LDAPMod *)))) {
		free(m);
		return NULL;
	}
	return m;
}

static void
mod_free(LDAPMod *mod)
{
	size_t i;

	if (!mod)
		return;
	for (i = 0; mod->mod_bvalues && mod->mod_bvalues[i]; i++) {
		free(mod->mod_bvalues[i]->bv_val);
		free(mod->mod_bvalues[i]);
	}
	free(mod->mod_bvalues);
	free(mod->mod_type);
	free(mod);
}

void
dir_mods_free(struct dir_mods *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->n; i++)
		mod_free(m->mods[i]);
	free(m->mods);
	free(m);
}

size_t
dir_mods_count(const struct dir_mods *m)
{
	return m->n;
}

void
dir_mods_each(const struct dir_mods *m, dir_mods_fn *fn, void *arg)
{
	size_t i, j;

	for (i = 0; i < m->n; i++)
		for (j = 0; m->mods[i]->mod_bvalues[j]; j++)
			fn(m->mods[i]->mod_type, m->mods[i]->mod_bvalues[j]->bv_val,
			    m->mods[i]->mod_bvalues[j]->bv_len, arg);
}

static LDAPMod *
mod_get(struct dir_mods *m, int op, const char *attr)
{
	int lop = (op == DIR_ADD ? LDAP_MOD_ADD : op == DIR_DEL ? LDAP_MOD_DELETE :
	    LDAP_MOD_REPLACE) | LDAP_MOD_BVALUES;
	LDAPMod *mod, **mm;
	size_t i;

	for (i = 0; i < m->n; i++)
		if (m->mods[i]->mod_op == lop &&
		    strcasecmp(m->mods[i]->mod_type, attr) == 0)
			return m->mods[i];
	if (m->n + 1 >= m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		if (!(mm = realloc(m->mods, cap * sizeof(*mm))))
			return NULL;
		m->mods = mm;
		m->cap = cap;
	}
	if (!(mod = calloc(1, sizeof(*mod))))
		return NULL;
	mod->mod_op = lop;
	if (!(mod->mod_type = strdup(attr)) ||
	    !(mod->mod_bvalues = calloc(1, sizeof(struct berval *)))) {
		mod_free(mod);
		return NULL;
	}
	m->mods[m->n++] = mod;
	m->mods[m->n] = NULL;
	return mod;
}

int
dir_mods_clear(struct dir_mods *m, int op, const char *attr)
{
	return mod_get(m, op, attr) ? 0 : -1;
}

int
dir_mods_addv(struct dir_mods *m, int op, const char *attr, const char *val,
    size_t len)
{
	LDAPMod *mod = mod_get(m, op, attr);
	struct berval **bv, *b;
	size_t n;

	if (!mod)
		return -1;
	for (n = 0; mod->mod_bvalues[n]; n++)
		;
	if (!(bv = realloc(mod->mod_bvalues, (n + 2) * sizeof(*bv))))
		return -1;
	mod->mod_bvalues = bv;
	bv[n] = NULL;
	if (!(b = malloc(sizeof(*b))) || !(b->bv_val = malloc(len + 1))) {
		free(b);
		return -1;
	}
	memcpy(b->bv_val, val, len);
	b->bv_val[len] = '\0';
	b->bv_len = len;
	bv[n] = b;
	bv[n + 1] = NULL;
	return 0;
}

int
dir_mods_add(struct dir_mods *m, int op, const char *attr, const char *val)
{
	return dir_mods_addv(m, op, attr, val, strlen(val));
}

int
dir_add(struct dir *d, const char *dn, struct dir_mods *m)
{
	int rc = ldap_add_ext_s(d->ld, dn, m->mods, NULL, NULL);

	return rc == LDAP_SUCCESS ? 0 : fail(d, rc, "add", dn);
}

int
dir_modify(struct dir *d, const char *dn, struct dir_mods *m)
{
	int rc;

	if (m->n == 0)
		return 0;
	rc = ldap_modify_ext_s(d->ld, dn, m->mods, NULL, NULL);
	return rc == LDAP_SUCCESS ? 0 : fail(d, rc, "modify", dn);
}

int
dir_delete(struct dir *d, const char *dn)
{
	int rc = ldap_delete_ext_s(d->ld, dn, NULL, NULL);

	return rc == LDAP_SUCCESS ? 0 : fail(d, rc, "delete", dn);
}

struct dir_bulk {
	struct dir *d;
	int window, inflight;
	long done;
	int failed;
};

struct dir_bulk *
dir_bulk_begin(struct dir *d, int window)
{
	struct dir_bulk *b = calloc(1, sizeof(*b));

	if (b) {
		b->d = d;
		b->window = window > 0 ? window : 1;
	}
	return b;
}


/* Wait for one answer; keep the first failure. */
static int
bulk_reap(struct dir_bulk *b)
{
	LDAPMessage *res = NULL;
	int rc, err = LDAP_SUCCESS;
	char *matched = NULL, *text = NULL;

	rc = ldap_result(b->d->ld, LDAP_RES_ANY, LDAP_MSG_ALL, NULL, &res);
	if (rc <= 0) {
		ldap_get_option(b->d->ld, LDAP_OPT_RESULT_CODE, &err);
		if (!b->failed)
			fail(b->d, err ? err : LDAP_SERVER_DOWN, "add", "(bulk)");
		b->failed = 1;
		b->inflight = 0;
		ldap_msgfree(res);
		return -1;
	}
	b->inflight--;
	rc = ldap_parse_result(b->d->ld, res, &err, &matched, &text, NULL, NULL, 1);
	if ((rc != LDAP_SUCCESS || err != LDAP_SUCCESS) && !b->failed) {
		dir_seterr(b->d, rc != LDAP_SUCCESS ? rc : err, "add: %s%s%s",
		    ldap_err2string(rc != LDAP_SUCCESS ? rc : err),
		    text && *text ? ": " : "", text ? text : "");
		b->failed = 1;
	} else if (rc == LDAP_SUCCESS && err == LDAP_SUCCESS)
		b->done++;
	ldap_memfree(matched);
	ldap_memfree(text);
	return 0;
}

int
dir_bulk_add(struct dir_bulk *b, const char *dn, struct dir_mods *m)
{
	int rc, id;

	if (b->failed) {
		dir_mods_free(m);
		return -1;
	}
	while (b->inflight >= b->window)
		if (bulk_reap(b) < 0)
			break;
	rc = ldap_add_ext(b->d->ld, dn, m->mods, NULL, NULL, &id);
	dir_mods_free(m);
	if (rc != LDAP_SUCCESS) {
		fail(b->d, rc, "add", dn);
		b->failed = 1;
		return -1;
	}
	b->inflight++;
	return b->failed ? -1 : 0;
}

long
dir_bulk_end(struct dir_bulk *b)
{
	long n;

	while (b->inflight > 0)
		if (bulk_reap(b) < 0)
			break;
	n = b->failed ? -1 : b->done;
	free(b);
	return n;
}

char *
dir_dn_escape(const char *s)
{
	size_t n = strlen(s), i;
	char *o = malloc(3 * n + 1), *p = o;

	if (!o)
		return NULL;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (strchr(",+\"\\<>;=#", c) || c < 0x20 ||
		    (c == ' ' && (i == 0 || i == n - 1))) {
			p += sprintf(p, "\\%02x", c);
		} else
			*p++ = (char)c;
	}
	*p = '\0';
	return o;
}

char *
dir_filter_escape(const char *s)
{
	size_t n = strlen(s), i;
	char *o = malloc(3 * n + 1), *p = o;

	if (!o)
		return NULL;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '*' || c == '(' || c == ')' || c == '\\' || c == 0)
			p += sprintf(p, "\\%02x", c);
		else
			*p++ = (char)c;
	}
	*p = '\0';
	return o;
}
