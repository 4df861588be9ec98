/*
 * lc-web output: a growing buffer for a whole response (so that a failure
 * half-way still becomes one clean error page), HTML escaping of every
 * value shown, and URL encoding of values put into links.
 */
#ifndef NONSTOP_WEB_HTML_H
#define NONSTOP_WEB_HTML_H

#include <stdarg.h>
#include <stddef.h>

struct web_buf {
	char *s;
	size_t len, cap;
	int oom;		/* an append failed: the content is incomplete */
};

void web_buf_free(struct web_buf *b);
void web_buf_put(struct web_buf *b, const char *s, size_t len);
void web_buf_puts(struct web_buf *b, const char *s);
/*
 * Append formatted text. %s arguments are NOT escaped: use only for
 * markup and numbers; values go through web_esc/web_escf.
 */
void web_buf_printf(struct web_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Append s HTML-escaped (& < > " ' become entities); NULL appends "". */
void web_esc(struct web_buf *b, const char *s);
/* Append s percent-encoded for a URL query value. */
void web_urlenc(struct web_buf *b, const char *s);
/*
 * Format like printf, then append the result HTML-escaped: for messages
 * that quote what a user typed.
 */
void web_escf(struct web_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
