/*
 * libFuzzer target for lc-web's input parsing: the first byte picks the
 * parser (form body / query string, Cookie header, signed session cookie,
 * login and CSRF tokens); whatever the input, nothing may crash, leak or
 * read out of bounds, and what is accepted must obey the documented limits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "web_form.h"
#include "web_html.h"
#include "web_sess.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct auth_key k = { .len = 32 };
	struct web_form f;
	struct web_sess s;
	struct web_buf b = { 0 };
	char why[128], out[WEB_SESS_MAX], *str;
	const char *w;
	size_t i;

	if (size < 1)
		return 0;
	if (!(str = malloc(size)))
		return 0;
	memcpy(str, data + 1, size - 1);
	str[size - 1] = '\0';
	switch (data[0] % 4) {
	case 0:
		memset(&f, 0, sizeof(f));
		if (web_form_parse(&f, (const char *)data + 1, size - 1, why, sizeof why) == 0) {
			if (f.n > WEB_FORM_MAXFIELD)
				abort();
			for (i = 0; i < f.n; i++) {
				if (strlen(f.f[i].name) > WEB_FORM_MAXNAME ||
				    strlen(f.f[i].val) > WEB_FORM_MAXVAL)
					abort();
				/* Escaped output never holds markup characters. */
				web_esc(&b, f.f[i].val);
				if (b.s && strpbrk(b.s, "<>\"'"))
					abort();
				web_urlenc(&b, f.f[i].val);
			}
		}
		web_form_free(&f);
		break;
	case 1:
		if (web_cookie_get(str, "lcweb", out, sizeof out) == 1 &&
		    strlen(out) >= sizeof out)
			abort();
		break;
	case 2:
		if (web_sess_check(&k, str, 1700000000, &s, &w) == 0 && !web_admin_ok(s.admin))
			abort();
		break;
	case 3:
		(void)web_login_token_ok(&k, str, 1700000000, 3600);
		memset(&s, 0, sizeof(s));
		(void)web_csrf_ok(&k, &s, str);
		break;
	}
	web_buf_free(&b);
	free(str);
	return 0;
}
