/* Cluster bundles: LDIF in and out, bulk host loads, export and import; see cluster.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <ldap.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cluster.h"
#include "cluster_int.h"
#include "dir.h"
#include "kv.h"

/* ---- LDIF (content records only) ---- */

struct ldif {
	struct dir_entry *e;
	size_t n, cap;
};

static void
ldif_free(struct ldif *l)
{
	size_t i, j, k;

	for (i = 0; i < l->n; i++) {
		for (j = 0; j < l->e[i].n; j++) {
			for (k = 0; k < l->e[i].a[j].n; k++)
				free(l->e[i].a[j].vals[k]);
			free(l->e[i].a[j].vals);
			free(l->e[i].a[j].lens);
			free(l->e[i].a[j].name);
		}
		free(l->e[i].a);
		free(l->e[i].dn);
	}
	free(l->e);
	memset(l, 0, sizeof(*l));
}

static int
ldif_val(struct dir_entry *en, const char *name, char *val, size_t len)
{
	struct dir_attr *a = NULL;
	size_t i;

	for (i = 0; i < en->n; i++)
		if (strcasecmp(en->a[i].name, name) == 0)
			a = &en->a[i];
	if (!a) {
		struct dir_attr *na = realloc(en->a, (en->n + 1) * sizeof(*na));
		if (!na)
			return -1;
		en->a = na;
		a = &en->a[en->n++];
		memset(a, 0, sizeof(*a));
		if (!(a->name = strdup(name)))
			return -1;
	}
	{
		char **nv = realloc(a->vals, (a->n + 2) * sizeof(*nv));
		size_t *nl;
		if (!nv)
			return -1;
		a->vals = nv;
		if (!(nl = realloc(a->lens, (a->n + 2) * sizeof(*nl))))
			return -1;
		a->lens = nl;
	}
	a->vals[a->n] = val;
	a->lens[a->n] = len;
	a->n++;
	a->vals[a->n] = NULL;
	return 0;
}

/* Parse LDIF text (attr: value, attr:: base64, folded lines, comments). */
static int
ldif_parse(const char *text, size_t len, struct ldif *l, struct cl_err *e)
{
	const char *p = text, *end = text + len;
	struct dir_entry *cur = NULL;
	size_t lineno = 0;

	memset(l, 0, sizeof(*l));
	while (p < end) {
		struct clx_buf line = { 0 };
		char *colon, *val;
		size_t vlen;

		/* One logical line: continuation lines start with one blank. */
		for (;;) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
			if (n && p[n - 1] == '\r')
				n--;
			clx_bput(&line, p, n);
			lineno++;
			p = nl ? nl + 1 : end;
			if (p < end && *p == ' ')
				p++;
			else
				break;
		}
		if (!clx_bdone(&line))
			return clx_nomem(e);
		if (line.len == 0) {
			cur = NULL;
			free(line.s);
			continue;
		}
		if (line.s[0] == '#' || (!cur && strncasecmp(line.s, "version:", 8) == 0)) {
			free(line.s);
			continue;
		}
		if (memchr(line.s, '\0', line.len) || !(colon = strchr(line.s, ':'))) {
			free(line.s);
			return clx_seterr(e, "input", "LDIF line %zu: no attribute: value", lineno);
		}
		*colon = '\0';
		if (colon[1] == ':') {
			const char *b64 = colon + 2;
			size_t blen, k;
			int dl;
			while (*b64 == ' ')
				b64++;
			blen = strlen(b64);
			if (blen % 4 || !(val = malloc(blen / 4 * 3 + 1))) {
				free(line.s);
				return clx_seterr(e, "input", "LDIF line %zu: bad base64", lineno);
			}
			dl = EVP_DecodeBlock((unsigned char *)val, (const unsigned char *)b64, (int)blen);
			if (dl < 0) {
				free(val);
				free(line.s);
				return clx_seterr(e, "input", "LDIF line %zu: bad base64", lineno);
			}
			for (k = blen; k > 0 && b64[k - 1] == '='; k--)
				dl--;
			vlen = (size_t)dl;
			val[vlen] = '\0';
		} else if (colon[1] == '<') {
			free(line.s);
			return clx_seterr(e, "input", "LDIF line %zu: URL values are not taken", lineno);
		} else {
			const char *v = colon + 1;
			while (*v == ' ')
				v++;
			vlen = strlen(v);
			if (!(val = strdup(v))) {
				free(line.s);
				return clx_nomem(e);
			}
		}
		if (!cur) {
			if (strcasecmp(line.s, "dn") != 0) {
				free(val);
				free(line.s);
				return clx_seterr(e, "input", "LDIF line %zu: a record must start with dn:", lineno);
			}
			if (l->n == l->cap) {
				size_t cap = l->cap ? l->cap * 2 : 64;
				struct dir_entry *ne = realloc(l->e, cap * sizeof(*ne));
				if (!ne) {
					free(val);
					free(line.s);
					return clx_nomem(e);
				}
				l->e = ne;
				l->cap = cap;
			}
			cur = &l->e[l->n++];
			memset(cur, 0, sizeof(*cur));
			cur->dn = val;
		} else if (strcasecmp(line.s, "changetype") == 0) {
			free(val);
			free(line.s);
			return clx_seterr(e, "input", "LDIF line %zu: change records are not taken", lineno);
		} else if (ldif_val(cur, line.s, val, vlen) < 0) {
			free(val);
			free(line.s);
			return clx_nomem(e);
		}
		free(line.s);
	}
	return 0;
}

/* One "attr: value" line, base64 when the value is not safe as it is. */
static void
ldif_put(struct clx_buf *b, const char *name, const char *v, size_t len)
{
	size_t i;
	int safe = len == 0 || (v[0] != ' ' && v[0] != ':' && v[0] != '<' &&
	    v[len - 1] != ' ');

	for (i = 0; i < len && safe; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
			safe = 0;
	clx_bstr(b, name);
	if (safe) {
		clx_bstr(b, ": ");
		clx_bput(b, v, len);
	} else {
		char *o = malloc((len + 2) / 3 * 4 + 1);
		if (!o) {
			b->bad = 1;
			return;
		}
		EVP_EncodeBlock((unsigned char *)o, (const unsigned char *)v, (int)len);
		clx_bstr(b, ":: ");
		clx_bstr(b, o);
		free(o);
	}
	clx_bstr(b, "\n");
}

/* The RDN value of dn when it is "<attr>=X,ou=<ou>,<anything>". */
static char *
rdn_under(const char *dn, const char *attr, const char *ou)
{
	size_t al = strlen(attr);
	const char *comma;
	char want[64];

	if (strncasecmp(dn, attr, al) != 0 || dn[al] != '=')
		return NULL;
	comma = strchr(dn + al + 1, ',');
	if (!comma)
		return NULL;
	snprintf(want, sizeof(want), ",ou=%s,", ou);
	if (strncasecmp(comma, want, strlen(want)) != 0)
		return NULL;
	return strndup(dn + al + 1, (size_t)(comma - dn - al - 1));
}

static int
has_class(const struct dir_entry *en, const char *oc)
{
	const struct dir_attr *a = dir_attr(en, "objectClass");
	size_t i;

	for (i = 0; a && i < a->n; i++)
		if (strcasecmp(a->vals[i], oc) == 0)
			return 1;
	return 0;
}

long
cl_ldif_check(const char *text, size_t len, struct cl_err *e)
{
	struct ldif l;
	size_t i;
	long n;

	if (ldif_parse(text, len, &l, e) < 0) {
		ldif_free(&l);
		return -1;
	}
	for (i = 0; i < l.n; i++) {
		int rc = 0;
		if (has_class(&l.e[i], "nonstopHost")) {
			struct cl_host h;
			rc = clx_host_from_entry(&l.e[i], &h, e);
			cl_host_free(&h);
		} else if (has_class(&l.e[i], "nonstopCluster")) {
			struct cl_cluster c;
			rc = clx_cluster_from_entry(&l.e[i], &c, e);
			if (rc == 0 && c.applied) {
				struct cl_cluster old;
				struct cl_hosts oh = { 0 };
				rc = cl_spec_parse(c.applied, &old, &oh, e);
				cl_cluster_free(&old);
				cl_hosts_free(&oh);
			}
			cl_cluster_free(&c);
		}
		if (rc < 0) {
			ldif_free(&l);
			return -1;
		}
	}
	n = (long)l.n;
	ldif_free(&l);
	return n;
}

long
cl_dir_hosts_load(struct dir *d, const char *text, size_t len, int window,
    struct cl_err *e)
{
	struct ldif l;
	struct dir_bulk *b;
	size_t i;
	long n;

	if (ldif_parse(text, len, &l, e) < 0) {
		ldif_free(&l);
		return -1;
	}
	/* Check every entry before the first add. */
	for (i = 0; i < l.n; i++) {
		struct cl_host h;
		char *rdn = rdn_under(l.e[i].dn, "cn", "hosts");

		clx_host_init(&h);
		int bad = !rdn || !has_class(&l.e[i], "nonstopHost");
		if (!bad && clx_host_from_entry(&l.e[i], &h, e) < 0)
			bad = 2;
		if (bad == 0 && strcmp(rdn, h.name) != 0)
			bad = 1;
		{
			/* Only hashed passwords are stored. */
			const struct dir_attr *pw = dir_attr(&l.e[i], "userPassword");
			if (bad == 0 && pw && pw->n && pw->vals[0][0] != '{') {
				clx_seterr(e, "input", "entry %s: a clear-text userPassword is refused",
				    l.e[i].dn);
				bad = 2;
			}
		}
		cl_host_free(&h);
		free(rdn);
		if (bad) {
			if (bad == 1)
				clx_seterr(e, "input", "entry %s: not a nonstopHost cn=NAME,ou=hosts,...",
				    l.e[i].dn);
			ldif_free(&l);
			return -1;
		}
	}
	if (!(b = dir_bulk_begin(d, window))) {
		ldif_free(&l);
		return clx_nomem(e);
	}
	for (i = 0; i < l.n; i++) {
		struct cl_host h;
		struct dir_mods *m;
		char *dn;
		const struct dir_attr *pw = dir_attr(&l.e[i], "userPassword");
		clx_host_from_entry(&l.e[i], &h, e);
		m = clx_host_mods(&h, 1, NULL, 0);
		if (m && pw && pw->n)
			dir_mods_add(m, DIR_ADD, "userPassword", pw->vals[0]);
		dn = cl_host_dn(d, h.name);
		cl_host_free(&h);
		if (!m || !dn) {
			free(dn);
			dir_mods_free(m);
			dir_bulk_end(b);
			ldif_free(&l);
			return clx_nomem(e);
		}
		if (dir_bulk_add(b, dn, m) < 0) {
			free(dn);
			break;
		}
		free(dn);
	}
	n = dir_bulk_end(b);
	ldif_free(&l);
	if (n < 0)
		return clx_direrr(e, d);
	return n;
}

/* ---- export / import ---- */

#define BUNDLE_MAX (64u << 20)

static void
hex(const unsigned char *in, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", in[i]);
}

static void
sha256hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];

	EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL);
	hex(md, 32, out);
}

static void
hmachex(const unsigned char *key, size_t keylen, const void *data, size_t len,
    char out[65])
{
	unsigned char md[32];
	unsigned mdlen = 32;

	HMAC(EVP_sha256(), key, (int)keylen, data, len, md, &mdlen);
	hex(md, 32, out);
}

static void
ldif_put_cb(const char *attr, const char *val, size_t len, void *arg)
{
	ldif_put(arg, attr, val, len);
}

static void
ldif_entry_host(struct clx_buf *b, struct dir *d, const struct cl_host *h)
{
	char *dn = cl_host_dn(d, h->name);
	struct dir_mods *m = clx_host_mods(h, 1, NULL, 1);

	if (!dn || !m) {
		b->bad = 1;
		free(dn);
		dir_mods_free(m);
		return;
	}
	ldif_put(b, "dn", dn, strlen(dn));
	dir_mods_each(m, ldif_put_cb, b);
	clx_bstr(b, "\n");
	free(dn);
	dir_mods_free(m);
}

static void
ldif_entry_cluster(struct clx_buf *b, struct dir *d, const struct cl_cluster *c)
{
	char *dn = cl_cluster_dn(d, c->name);
	struct dir_mods *m = clx_cluster_mods(d, c, 1);
	char tmp[32];

	if (!dn || !m) {
		b->bad = 1;
		free(dn);
		dir_mods_free(m);
		return;
	}
	ldif_put(b, "dn", dn, strlen(dn));
	dir_mods_each(m, ldif_put_cb, b);
	if (c->generation) {
		snprintf(tmp, sizeof(tmp), "%ld", c->generation);
		ldif_put(b, "nonstopGeneration", tmp, strlen(tmp));
	}
	if (c->applied)
		ldif_put(b, "nonstopAppliedSpec", c->applied, strlen(c->applied));
	clx_bstr(b, "\n");
	free(dn);
	dir_mods_free(m);
}

static int
ar_add(struct archive *a, const char *name, const char *data, size_t len)
{
	struct archive_entry *en = archive_entry_new();
	int rc;

	if (!en)
		return -1;
	archive_entry_set_pathname(en, name);
	archive_entry_set_size(en, (la_int64_t)len);
	archive_entry_set_filetype(en, AE_IFREG);
	archive_entry_set_perm(en, 0644);
	archive_entry_set_mtime(en, 0, 0);
	rc = archive_write_header(a, en);
	archive_entry_free(en);
	if (rc != ARCHIVE_OK)
		return -1;
	if (len && archive_write_data(a, data, len) != (la_ssize_t)len)
		return -1;
	return 0;
}

int
cl_export(struct dir *d, const char *name, const char *path,
    const unsigned char *key, size_t keylen, struct cl_err *e)
{
	struct cl_cluster c;
	struct cl_hosts hosts = { 0 };
	struct clx_buf ldif = { 0 }, man = { 0 };
	char **files = NULL, **fnames = NULL, sum[65], tmp[PATH_MAX];
	size_t nf = 0, i, n;
	const char **names = NULL;
	struct archive *a = NULL;
	int x, rc = -1;

	if ((x = cl_dir_cluster_get(d, name, &c, e)) <= 0) {
		cl_cluster_free(&c);
		return x < 0 ? -1 : clx_seterr(e, "input", "no cluster %s", name);
	}
	if (cl_dir_members(d, &c, &hosts, e) < 0)
		goto out;
	if (!(names = clx_member_names(&c, &n)))
		goto nomem_;
	for (i = 0; i < hosts.n; i++)
		ldif_entry_host(&ldif, d, &hosts.h[i]);
	ldif_entry_cluster(&ldif, d, &c);
	if (!clx_bdone(&ldif))
		goto nomem_;
	if (!(files = calloc(n + 2, sizeof(*files))) || !(fnames = calloc(n + 2, sizeof(*fnames))))
		goto nomem_;
	fnames[nf] = strdup("cluster.ldif");
	files[nf++] = ldif.s;
	ldif.s = NULL;
	for (i = 0; i < n; i++) {
		if (asprintf(&fnames[nf], "roles/%s.role", names[i]) < 0)
			goto nomem_;
		if (!(files[nf++] = cl_render(&c, &hosts, names[i], c.generation)))
			goto nomem_;
	}
	clx_bkv(&man, 1, "format", "nonstop-export");
	clx_bkv(&man, 0, "version", "1");
	clx_bkv(&man, 0, "cluster", c.name);
	clx_bkv(&man, 0, "base", dir_base(d));
	clx_bkvl(&man, 0, "generation", c.generation);
	clx_bstr(&man, "\n");
	for (i = 0; i < nf; i++) {
		sha256hex(files[i], strlen(files[i]), sum);
		clx_bkv(&man, 1, "file", fnames[i]);
		clx_bkvl(&man, 0, "size", (long)strlen(files[i]));
		clx_bkv(&man, 0, "sha256", sum);
		clx_bstr(&man, "\n");
	}
	if (man.bad)
		goto nomem_;
	if (key) {
		hmachex(key, keylen, man.s, man.len, sum);
		clx_bkv(&man, 1, "hmac", sum);
		clx_bstr(&man, "\n");
	}
	if (!clx_bdone(&man))
		goto nomem_;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		clx_seterr(e, "input", "path too long");
		goto out;
	}
	unlink(tmp);
	if (!(a = archive_write_new()) || archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
	    archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open_filename(a, tmp) != ARCHIVE_OK)
		goto arerr;
	if (ar_add(a, "MANIFEST", man.s, man.len) < 0)
		goto arerr;
	for (i = 0; i < nf; i++)
		if (ar_add(a, fnames[i], files[i], strlen(files[i])) < 0)
			goto arerr;
	if (archive_write_close(a) != ARCHIVE_OK)
		goto arerr;
	/* Like atomic_write: synced before the rename, the folder after. */
	if ((x = open(tmp, O_RDONLY | O_CLOEXEC)) < 0 || fsync(x) < 0) {
		clx_seterr(e, "", "unable to sync %.200s: %s", tmp, strerror(errno));
		e->ldaprc = LDAP_OTHER;
		if (x >= 0)
			close(x);
		unlink(tmp);
		goto out;
	}
	close(x);
	if (rename(tmp, path) < 0) {
		clx_seterr(e, "", "unable to rename %.200s: %s", tmp, strerror(errno));
		e->ldaprc = LDAP_OTHER;
		unlink(tmp);
		goto out;
	}
	{
		char *dirc = strdup(path);
		char *slash = dirc ? strrchr(dirc, '/') : NULL;
		int dfd;
		if (slash)
			*(slash == dirc ? slash + 1 : slash) = '\0';
		dfd = open(slash ? dirc : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
		free(dirc);
	}
	rc = 0;
	goto out;
arerr:
	clx_seterr(e, "", "unable to write %.200s: %s", path,
	    a ? archive_error_string(a) ? archive_error_string(a) : "archive error" : "out of memory");
	e->ldaprc = LDAP_OTHER;
	unlink(tmp);
	goto out;
nomem_:
	clx_nomem(e);
out:
	if (a)
		archive_write_free(a);
	for (i = 0; files && i < nf; i++) {
		free(files[i]);
		free(fnames[i]);
	}
	free(files);
	free(fnames);
	free(names);
	free(ldif.s);
	free(man.s);
	cl_hosts_free(&hosts);
	cl_cluster_free(&c);
	return rc;
}

struct arfile {
	char *name;
	char *data;
	size_t len;
};

static void
arfiles_free(struct arfile *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(f[i].name);
		free(f[i].data);
	}
	free(f);
}

/* Every file of the archive, in memory; anything odd is damage. */
static int
ar_read(const char *path, struct arfile **out, size_t *nout, struct cl_err *e)
{
	struct archive *a = archive_read_new();
	struct archive_entry *en;
	struct arfile *f = NULL, *nf;
	size_t n = 0, total = 0;
	int r;

	*out = NULL;
	*nout = 0;
	if (!a)
		return clx_nomem(e);
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
		clx_seterr(e, "archive", "%.200s: %s", path, archive_error_string(a));
		archive_read_free(a);
		return -1;
	}
	while ((r = archive_read_next_header(a, &en)) == ARCHIVE_OK) {
		la_int64_t size = archive_entry_size(en);
		la_ssize_t got;
		if (archive_entry_filetype(en) == AE_IFDIR)
			continue;	/* tar -c of a folder lists it; harmless */
		if (archive_entry_filetype(en) != AE_IFREG || size < 0 ||
		    (size_t)size > BUNDLE_MAX - total || n > 100000) {
			clx_seterr(e, "archive", "%.200s: unexpected entry %.100s", path,
			    archive_entry_pathname(en));
			goto fail;
		}
		if (!(nf = realloc(f, (n + 1) * sizeof(*f))))
			goto nomem_;
		f = nf;
		f[n].name = strdup(archive_entry_pathname(en));
		f[n].data = malloc((size_t)size + 1);
		f[n].len = (size_t)size;
		n++;
		if (!f[n - 1].name || !f[n - 1].data)
			goto nomem_;
		got = size ? archive_read_data(a, f[n - 1].data, (size_t)size) : 0;
		if (got != size) {
			clx_seterr(e, "archive", "%.200s: damaged: %s", path,
			    got < 0 ? archive_error_string(a) : "short entry");
			goto fail;
		}
		f[n - 1].data[size] = '\0';
		total += (size_t)size;
	}
	if (r != ARCHIVE_EOF) {
		clx_seterr(e, "archive", "%.200s: damaged: %s", path, archive_error_string(a));
		goto fail;
	}
	archive_read_free(a);
	*out = f;
	*nout = n;
	return 0;
nomem_:
	clx_nomem(e);
fail:
	archive_read_free(a);
	arfiles_free(f, n);
	return -1;
}

/* Replace the old suffix at the end of dn with the new one. */
static char *
rebase(const char *dn, const char *from, const char *to)
{
	size_t dl = strlen(dn), fl = strlen(from);
	char *o;

	if (fl > dl || strcasecmp(dn + dl - fl, from) != 0)
		return NULL;
	if (asprintf(&o, "%.*s%s", (int)(dl - fl), dn, to) < 0)
		return NULL;
	return o;
}

static int
host_same(const struct cl_host *a, const struct cl_host *b)
{
	size_t i;

#define SEQ(x, y) ((!(x) && !(y)) || ((x) && (y) && strcmp((x), (y)) == 0))
	if (!SEQ(a->cpu, b->cpu) || !SEQ(a->nic, b->nic) || a->mem != b->mem ||
	    a->weight != b->weight || a->agent != b->agent ||
	    a->potential != b->potential || a->naddr != b->naddr)
		return 0;
	for (i = 0; i < a->naddr; i++)
		if (strcmp(a->addr[i], b->addr[i]) != 0)
			return 0;
#undef SEQ
	return 1;
}

int
cl_import(struct dir *d, const char *path, const unsigned char *key, size_t keylen,
    int dryrun, char **namep, struct cl_err *e)
{
	struct arfile *f = NULL;
	size_t nf = 0, i, j, nlisted = 0;
	struct arfile *man = NULL, *ldiff = NULL;
	struct ldif l = { 0 };
	struct cl_cluster c;
	struct cl_hosts hosts = { 0 };
	char *from = NULL, sum[65], *p, *line, *save = NULL, *mcopy = NULL;
	const char *hmacv = NULL;
	size_t hmacoff = 0;
	int rc = -1, x, *added = NULL;

	memset(&c, 0, sizeof(c));
	if (namep)
		*namep = NULL;
	if (ar_read(path, &f, &nf, e) < 0)
		return -1;
	for (i = 0; i < nf; i++) {
		for (j = 0; j < i; j++)
			if (strcmp(f[i].name, f[j].name) == 0) {
				clx_seterr(e, "archive", "%.200s: %.100s twice", path, f[i].name);
				goto out;
			}
		if (strcmp(f[i].name, "MANIFEST") == 0)
			man = &f[i];
		else if (strcmp(f[i].name, "cluster.ldif") == 0)
			ldiff = &f[i];
		else if (strncmp(f[i].name, "roles/", 6) != 0 || strstr(f[i].name, "..")) {
			clx_seterr(e, "archive", "%.200s: unexpected file %.100s", path, f[i].name);
			goto out;
		}
	}
	if (!man || !ldiff) {
		clx_seterr(e, "archive", "%.200s: no %s", path, man ? "cluster.ldif" : "MANIFEST");
		goto out;
	}
	/* The manifest: header, one line per file, then the HMAC when signed. */
	if (!(mcopy = strdup(man->data)))
		goto nomem_;
	for (p = mcopy, line = strtok_r(p, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		struct kv_rec r;
		const char *why = NULL;
		if (kv_parse(&r, line, &why) < 0) {
			clx_seterr(e, "archive", "%.200s: bad MANIFEST line: %s", path, why ? why : "");
			goto out;
		}
		if (r.n == 0) {
			kv_free(&r);
			continue;
		}
		if (strcmp(r.v[0].key, "format") == 0) {
			if (strcmp(r.v[0].val, "nonstop-export") != 0 || !kv_get(&r, "version") ||
			    strcmp(kv_get(&r, "version"), "1") != 0 || !kv_get(&r, "base") ||
			    from) {
				kv_free(&r);
				clx_seterr(e, "archive", "%.200s: not a nonstop export version 1", path);
				goto out;
			}
			from = strdup(kv_get(&r, "base"));
		} else if (strcmp(r.v[0].key, "file") == 0) {
			const char *sz = kv_get(&r, "size"), *sh = kv_get(&r, "sha256");
			struct arfile *t = NULL;
			for (j = 0; j < nf; j++)
				if (strcmp(f[j].name, r.v[0].val) == 0)
					t = &f[j];
			if (!t || !sz || !sh || hmacv) {
				kv_free(&r);
				clx_seterr(e, "archive", "%.200s: MANIFEST lists %.100s, which is missing",
				    path, r.v[0].val);
				goto out;
			}
			sha256hex(t->data, t->len, sum);
			if (strtoul(sz, NULL, 10) != t->len || strcmp(sum, sh) != 0) {
				kv_free(&r);
				clx_seterr(e, "archive", "%.200s: %.100s fails its checksum", path, t->name);
				goto out;
			}
			nlisted++;
		} else if (strcmp(r.v[0].key, "hmac") == 0 && !hmacv) {
			hmacv = man->data + (line - mcopy);
			hmacoff = (size_t)(line - mcopy);
		} else {
			kv_free(&r);
			clx_seterr(e, "archive", "%.200s: bad MANIFEST record %s", path, r.v[0].key);
			goto out;
		}
		kv_free(&r);
	}
	if (!from || nlisted != nf - 1) {
		clx_seterr(e, "archive", "%.200s: MANIFEST does not list every file", path);
		goto out;
	}
	if (key) {
		hmachex(key, keylen, man->data, hmacoff, sum);
		if (!hmacv || strlen(hmacv) < 5 + 64) {
			clx_seterr(e, "archive", "%.200s: not signed, and a key was given", path);
			goto out;
		}
		if (CRYPTO_memcmp(hmacv + 5, sum, 64) != 0) {
			clx_seterr(e, "archive", "%.200s: MANIFEST signature does not match the key", path);
			goto out;
		}
	}
	/* The entries: hosts and one cluster, under the exporter's suffix. */
	if (ldif_parse(ldiff->data, ldiff->len, &l, e) < 0)
		goto out;
	for (i = 0; i < l.n; i++) {
		char *dn = rebase(l.e[i].dn, from, dir_base(d)), *rdn;
		if (!dn) {
			clx_seterr(e, "archive", "entry %.200s is not under %.100s", l.e[i].dn, from);
			goto out;
		}
		if (has_class(&l.e[i], "nonstopHost") && (rdn = rdn_under(dn, "cn", "hosts"))) {
			struct cl_host h;
			free(rdn);
			if (clx_host_from_entry(&l.e[i], &h, e) < 0 || cl_hosts_put(&hosts, &h) < 0) {
				cl_host_free(&h);
				free(dn);
				goto out;
			}
		} else if (has_class(&l.e[i], "nonstopCluster") &&
		    (rdn = rdn_under(dn, "cn", "clusters")) && !c.name) {
			free(rdn);
			if (clx_cluster_from_entry(&l.e[i], &c, e) < 0) {
				free(dn);
				goto out;
			}
		} else {
			clx_seterr(e, "archive", "entry %.200s is not a host or the one cluster", l.e[i].dn);
			free(dn);
			goto out;
		}
		free(dn);
	}
	if (!c.name) {
		clx_seterr(e, "archive", "%.200s: no cluster entry", path);
		goto out;
	}
	if (namep)
		*namep = strdup(c.name);
	/* Nothing is written until every check has passed. */
	if (cl_validate(&c, &hosts, e) < 0)
		goto out;
	{
		struct cl_cluster cur;
		x = cl_dir_cluster_get(d, c.name, &cur, e);
		cl_cluster_free(&cur);
		if (x < 0)
			goto out;
		if (x > 0) {
			clx_seterr(e, "exists", "cluster %s is already in the directory", c.name);
			goto out;
		}
	}
	if (!(added = calloc(hosts.n + 1, sizeof(*added))))
		goto nomem_;
	for (i = 0; i < hosts.n; i++) {
		struct cl_host cur;
		x = cl_dir_host_get(d, hosts.h[i].name, &cur, e);
		if (x > 0 && !host_same(&cur, &hosts.h[i])) {
			cl_host_free(&cur);
			clx_seterr(e, "import-conflict",
			    "host %s is in the directory with other facts", hosts.h[i].name);
			goto out;
		}
		cl_host_free(&cur);
		if (x < 0)
			goto out;
		added[i] = x == 0;
	}
	if (cl_dir_cross_check(d, &c, e) < 0)
		goto out;
	if (dryrun) {
		rc = 0;
		goto out;
	}
	for (i = 0; i < hosts.n; i++) {
		struct dir_mods *m;
		char *dn;
		if (!added[i])
			continue;
		if (!(m = clx_host_mods(&hosts.h[i], 1, NULL, 1)) ||
		    !(dn = cl_host_dn(d, hosts.h[i].name))) {
			dir_mods_free(m);
			goto nomem_;
		}
		x = dir_add(d, dn, m);
		dir_mods_free(m);
		free(dn);
		if (x < 0) {
			clx_direrr(e, d);
			goto out;
		}
	}
	{
		struct dir_mods *m = clx_cluster_mods(d, &c, 1);
		char *dn = cl_cluster_dn(d, c.name), tmp[32];
		if (!m || !dn) {
			dir_mods_free(m);
			free(dn);
			goto nomem_;
		}
		if (c.generation) {
			snprintf(tmp, sizeof(tmp), "%ld", c.generation);
			dir_mods_add(m, DIR_ADD, "nonstopGeneration", tmp);
		}
		if (c.applied)
			dir_mods_add(m, DIR_ADD, "nonstopAppliedSpec", c.applied);
		x = dir_add(d, dn, m);
		dir_mods_free(m);
		free(dn);
		if (x < 0) {
			clx_direrr(e, d);
			goto out;
		}
	}
	rc = 0;
	goto out;
nomem_:
	clx_nomem(e);
out:
	free(added);
	free(mcopy);
	free(from);
	ldif_free(&l);
	cl_cluster_free(&c);
	cl_hosts_free(&hosts);
	arfiles_free(f, nf);
	return rc;
}
