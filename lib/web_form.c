/* Form, query string and cookie parsing for lc-web (see web_form.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web_form.h"

static int
fail(char *why, size_t whylen, const char *msg)
{
	snprintf(why, whylen, "%s", msg);
	errno = EINVAL;
	return -1;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode [s, s+len) into a new string; -1 on a bad escape. */
static char *
decode(const char *s, size_t len, size_t *outlen)
{
	char *o = malloc(len + 1);
	size_t i, n = 0;
	int h, l;

	if (!o)
		return NULL;
	for (i = 0; i < len; i++) {
		if (s[i] == '+')
			o[n++] = ' ';
		else if (s[i] == '%') {
			if (i + 2 >= len) {
				free(o);
				errno = EINVAL;
				return NULL;
			}
			if ((h = hexval((unsigned char)s[i + 1])) < 0 ||
			    (l = hexval((unsigned char)s[i + 2])) < 0) {
				free(o);
				errno = EINVAL;
				return NULL;
			}
			o[n++] = (char)(h << 4 | l);
			i += 2;
		} else
			o[n++] = s[i];
	}
	o[n] = '\0';
	*outlen = n;
	return o;
}

/* Printable: no C0 control bytes, no DEL, and well-formed UTF-8. */
static int
text_ok(const unsigned char *s, size_t n)
{
	size_t i = 0, k, more;
	unsigned long cp;

	while (i < n) {
		unsigned char c = s[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			more = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			more = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			more = 3, cp = c & 0x07;
		else
			return 0;
		if (i + more >= n)
			return 0;
		for (k = 1; k <= more; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((more == 2 && cp < 0x800) || (more == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += more + 1;
	}
	return 1;
}

static int
name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > WEB_FORM_MAXNAME)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_'))
			return 0;
	return 1;
}

int
web_form_parse(struct web_form *f, const char *s, size_t len, char *why,
    size_t whylen)
{
	size_t i, start, nlen, vlen, j;
	const char *eq, *p;
	char *name, *val;

	if (len > WEB_FORM_MAXBODY)
		return fail(why, whylen, "the form is too large");
	for (start = 0; start < len; start = i + 1) {
		for (i = start; i < len && s[i] != '&'; i++)
			;
		if (i == start)
			continue;	/* "a=1&&b=2" and a trailing '&' are harmless */
		p = s + start;
		eq = memchr(p, '=', i - start);
		if (!eq)
			return fail(why, whylen, "a form field without '='");
		if (f->n == WEB_FORM_MAXFIELD)
			return fail(why, whylen, "too many form fields");
		if (!(name = decode(p, (size_t)(eq - p), &nlen))) {
			if (errno == EINVAL)
				return fail(why, whylen, "a bad %-escape in a field name");
			return -1;
		}
		if (!name_ok(name, nlen) || strlen(name) != nlen) {
			free(name);
			return fail(why, whylen, "a bad form field name");
		}
		if (!(val = decode(eq + 1, (size_t)(s + i - eq - 1), &vlen))) {
			free(name);
			if (errno == EINVAL)
				return fail(why, whylen, "a bad %-escape in a form value");
			return -1;
		}
		if (vlen > WEB_FORM_MAXVAL || !text_ok((unsigned char *)val, vlen)) {
			free(name);
			free(val);
			return fail(why, whylen, vlen > WEB_FORM_MAXVAL ?
			    "a form value is too long" :
			    "a form value holds control characters or bad UTF-8");
		}
		for (j = 0; j < f->n; j++)
			if (strcmp(f->f[j].name, name) == 0) {
				free(name);
				free(val);
				return fail(why, whylen, "a form field given twice");
			}
		f->f[f->n].name = name;
		f->f[f->n].val = val;
		f->n++;
	}
	return 0;
}

void
web_form_free(struct web_form *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->f[i].name);
		if (f->f[i].val)
			explicit_bzero(f->f[i].val, strlen(f->f[i].val));
		free(f->f[i].val);
	}
	f->n = 0;
}

const char *
web_form_get(const struct web_form *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->f[i].name, name) == 0)
			return f->f[i].val;
	return NULL;
}

/* RFC 6265 cookie-octet, and token characters for the name. */
static int
cookie_octet(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) ||
	    (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

int
web_cookie_get(const char *h, const char *name, char *out, size_t outsize)
{
	size_t len, i = 0, ns, ne, vs, ve, count = 0, nl = strlen(name);
	int found = 0;

	if (!h)
		return 0;
	len = strlen(h);
	if (len > WEB_COOKIE_MAX) {
		errno = EINVAL;
		return -1;
	}
	while (i < len) {
		while (i < len && (h[i] == ' ' || h[i] == '\t'))
			i++;
		if (i == len)
			break;
		if (++count > 64) {
			errno = EINVAL;
			return -1;
		}
		ns = i;
		while (i < len && h[i] != '=' && h[i] != ';')
			i++;
		if (i == len || h[i] != '=') {
			/* A nameless or valueless cookie of some other site part:
			 * browsers send them; they are no business of ours. */
			if (i < len)
				i++;
			continue;
		}
		ne = i++;
		while (ne > ns && (h[ne - 1] == ' ' || h[ne - 1] == '\t'))
			ne--;
		vs = i;
		while (i < len && h[i] != ';')
			i++;
		ve = i;
		while (ve > vs && (h[ve - 1] == ' ' || h[ve - 1] == '\t'))
			ve--;
		if (ve - vs >= 2 && h[vs] == '"' && h[ve - 1] == '"')
			vs++, ve--;
		if (i < len)
			i++;	/* the ';' */
		if (ne - ns != nl || memcmp(h + ns, name, nl) != 0)
			continue;
		/* The first cookie of that name wins (the most specific path). */
		if (found)
			continue;
		for (size_t k = vs; k < ve; k++)
			if (!cookie_octet((unsigned char)h[k])) {
				errno = EINVAL;
				return -1;
			}
		if (ve - vs >= outsize) {
			errno = EINVAL;
			return -1;
		}
		memcpy(out, h + vs, ve - vs);
		out[ve - vs] = '\0';
		found = 1;
	}
	return found;
}
