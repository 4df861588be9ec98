/*
 * CGI input for lc-web: application/x-www-form-urlencoded bodies, query
 * strings and Cookie headers, parsed under strict limits. Everything
 * accepted is short, printable and unique by name; anything else is
 * refused whole with a reason a person can read (the caller answers 400).
 */
#ifndef NONSTOP_WEB_FORM_H
#define NONSTOP_WEB_FORM_H

#include <stddef.h>

#define WEB_FORM_MAXBODY  65536	/* bytes of a body or query string */
#define WEB_FORM_MAXFIELD 64	/* fields per form */
#define WEB_FORM_MAXNAME  32	/* bytes of a field name: [a-z0-9_] */
#define WEB_FORM_MAXVAL   4096	/* bytes of a decoded value */
#define WEB_COOKIE_MAX    4096	/* bytes of a Cookie header */

struct web_field {
	char *name;
	char *val;
};

struct web_form {
	struct web_field f[WEB_FORM_MAXFIELD];
	size_t n;
};

/*
 * Parse len bytes of s ("a=1&b=x%20y", '+' is a blank) into f, which the
 * caller zeroes first and frees with web_form_free. Values must decode to
 * printable text (UTF-8 allowed, no control bytes); names are [a-z0-9_].
 * A field given twice is refused. Returns 0, or -1 with errno EINVAL (or
 * ENOMEM) and why (size whylen) naming the problem.
 */
int web_form_parse(struct web_form *f, const char *s, size_t len, char *why,
    size_t whylen);
void web_form_free(struct web_form *f);
/* The value of name, or NULL. */
const char *web_form_get(const struct web_form *f, const char *name);

/*
 * The value of cookie name in a Cookie header ("a=1; b=2"), copied into
 * out (size outsize); pieces without '=' are skipped. Returns 1 found, 0
 * not there, -1 (errno EINVAL) when the header is over the limits, or
 * the value is not made of cookie-octets or does not fit.
 */
int web_cookie_get(const char *header, const char *name, char *out,
    size_t outsize);

#endif
