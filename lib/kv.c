/* key=value records; see kv.h for the format. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"

int
kv_key_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' ||
		    *s == '-'))
			return 0;
	return 1;
}

/*
 * Read one token at *pp into out (in place: out <= *pp). Quotes may start
 * anywhere in a token, so key="a b" is one token. Returns 1 for a token,
 * 0 at the end of the line, -1 on an unterminated quote or bad escape.
 */
static int
next_token(char **pp, char **tok, const char **why)
{
	char *p = *pp, *o;
	int inq = 0;

	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	if (*p == '\0' || *p == '#') {
		*pp = p;
		return 0;
	}
	*tok = o = p;
	for (;;) {
		char c = *p;
		if (c == '\0') {
			if (inq) {
				*why = "unterminated quote";
				return -1;
			}
			break;
		}
		if (!inq && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
			p++;
			break;
		}
		if (c == '"') {
			inq = !inq;
			p++;
			continue;
		}
		if (inq && c == '\\') {
			switch (p[1]) {
			case '"': *o++ = '"'; break;
			case '\\': *o++ = '\\'; break;
			case 'n': *o++ = '\n'; break;
			case 't': *o++ = '\t'; break;
			default:
				*why = "bad escape in quoted value";
				return -1;
			}
			p += 2;
			continue;
		}
		if (c == '\n' || c == '\r') {
			*why = "control character in value";
			return -1;
		}
		*o++ = c;
		p++;
	}
	*o = '\0';
	/* o may have caught up with p only when p moved past the token end. */
	*pp = p;
	return 1;
}

int
kv_words(char *buf, char **words, int max, const char **why)
{
	char *p = buf, *tok;
	int n = 0, r;

	*why = NULL;
	while ((r = next_token(&p, &tok, why)) == 1) {
		if (n == max) {
			*why = "too many words";
			errno = E2BIG;
			return -1;
		}
		words[n++] = tok;
	}
	if (r == -1) {
		errno = EINVAL;
		return -1;
	}
	return n;
}

int
kv_parse(struct kv_rec *rec, const char *line, const char **why)
{
	char *p, *tok;
	size_t cap = 8;
	int r;

	rec->v = NULL;
	rec->n = 0;
	*why = NULL;
	if ((rec->buf = strdup(line)) == NULL)
		return -1;
	if ((rec->v = malloc(cap * sizeof *rec->v)) == NULL)
		goto nomem;
	p = rec->buf;
	while ((r = next_token(&p, &tok, why)) == 1) {
		char *eq = strchr(tok, '=');
		size_t i;
		if (eq == NULL) {
			*why = "token without '='";
			goto bad;
		}
		*eq = '\0';
		if (!kv_key_ok(tok)) {
			*why = "bad key";
			goto bad;
		}
		for (i = 0; i < rec->n; i++)
			if (strcmp(rec->v[i].key, tok) == 0) {
				*why = "repeated key";
				goto bad;
			}
		if (rec->n == cap) {
			struct kv *nv = realloc(rec->v, 2 * cap * sizeof *nv);
			if (nv == NULL)
				goto nomem;
			rec->v = nv;
			cap *= 2;
		}
		rec->v[rec->n].key = tok;
		rec->v[rec->n].val = eq + 1;
		rec->n++;
	}
	if (r == -1)
		goto bad;
	return 0;
bad:
	kv_free(rec);
	errno = EINVAL;
	return -1;
nomem:
	kv_free(rec);
	errno = ENOMEM;
	return -1;
}

void
kv_free(struct kv_rec *rec)
{
	free(rec->v);
	free(rec->buf);
	rec->v = NULL;
	rec->buf = NULL;
	rec->n = 0;
}

const char *
kv_get(const struct kv_rec *rec, const char *key)
{
	size_t i;

	for (i = 0; i < rec->n; i++)
		if (strcmp(rec->v[i].key, key) == 0)
			return rec->v[i].val;
	return NULL;
}

static int
needs_quote(const char *v)
{
	if (*v == '\0')
		return 1;
	for (; *v; v++)
		if (*v == ' ' || *v == '\t' || *v == '"' || *v == '\\' ||
		    *v == '#' || *v == '=' || *v == '\n' || *v == '\r')
			return 1;
	return 0;
}

int
kv_sput(char *buf, size_t size, int first, const char *key, const char *val)
{
	size_t n = 0;
	const char *v;

#define PUT(c) do { if (n + 1 < size) buf[n] = (c); n++; } while (0)
	if (!first)
		PUT(' ');
	for (v = key; *v; v++)
		PUT(*v);
	PUT('=');
	if (!needs_quote(val)) {
		for (v = val; *v; v++)
			PUT(*v);
	} else {
		PUT('"');
		for (v = val; *v; v++) {
			switch (*v) {
			case '"': PUT('\\'); PUT('"'); break;
			case '\\': PUT('\\'); PUT('\\'); break;
			case '\n': PUT('\\'); PUT('n'); break;
			case '\t': PUT('\\'); PUT('t'); break;
			case '\r': break;
			default: PUT(*v);
			}
		}
		PUT('"');
	}
#undef PUT
	if (size > 0)
		buf[n < size ? n : size - 1] = '\0';
	return (int)n;
}

int
kv_fput(FILE *f, int first, const char *key, const char *val)
{
	char small[256], *big = NULL;
	int n = kv_sput(small, sizeof small, first, key, val), rc;

	if (n < (int)sizeof small)
		return fputs(small, f) == EOF ? -1 : 0;
	if ((big = malloc(n + 1)) == NULL)
		return -1;
	kv_sput(big, n + 1, first, key, val);
	rc = fputs(big, f) == EOF ? -1 : 0;
	free(big);
	return rc;
}
