/* Response buffer and escaping for lc-web (see web_html.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web_html.h"

static int
grow(struct web_buf *b, size_t more)
{
	size_t cap;
	char *n;

	if (b->oom)
		return -1;
	if (b->len + more + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more + 1)
		cap *= 2;
	if (!(n = realloc(b->s, cap))) {
		b->oom = 1;
		return -1;
	}
	b->s = n;
	b->cap = cap;
	return 0;
}

void
web_buf_free(struct web_buf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

void
web_buf_put(struct web_buf *b, const char *s, size_t len)
{
	if (grow(b, len) < 0)
		return;
	memcpy(b->s + b->len, s, len);
	b->len += len;
	b->s[b->len] = '\0';
}

void
web_buf_puts(struct web_buf *b, const char *s)
{
	web_buf_put(b, s, strlen(s));
}

void
web_buf_printf(struct web_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = 1;
		return;
	}
	web_buf_put(b, s, (size_t)n);
	free(s);
}

void
web_esc(struct web_buf *b, const char *s)
{
	const char *p, *r;

	if (!s)
		return;
	for (p = s; *p; p++) {
		switch (*p) {
		case '&': r = "&amp;"; break;
		case '<': r = "&lt;"; break;
		case '>': r = "&gt;"; break;
		case '"': r = "&quot;"; break;
		case '\'': r = "&#39;"; break;
		default:
			continue;
		}
		web_buf_put(b, s, (size_t)(p - s));
		web_buf_puts(b, r);
		s = p + 1;
	}
	web_buf_put(b, s, (size_t)(p - s));
}

void
web_urlenc(struct web_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char e[3];

	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~')
			web_buf_put(b, (const char *)&c, 1);
		else {
			e[0] = '%';
			e[1] = hex[c >> 4];
			e[2] = hex[c & 15];
			web_buf_put(b, e, 3);
		}
	}
}

void
web_escf(struct web_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0) {
		va_end(ap);
		b->oom = 1;
		return;
	}
	va_end(ap);
	web_esc(b, s);
	free(s);
}
