/* Signed session cookies and CSRF tokens for lc-web (see web_sess.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "web_sess.h"

static void
hex(const unsigned char *b, size_t n, char *out)
{
	static const char x[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = x[b[i] >> 4];
		out[2 * i + 1] = x[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Exactly 2n lowercase hex characters into n bytes. */
static int
unhex(const char *s, size_t slen, unsigned char *b, size_t n)
{
	size_t i;
	int h, l;

	if (slen != 2 * n)
		return -1;
	for (i = 0; i < n; i++) {
		h = s[2 * i], l = s[2 * i + 1];
		h = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : -1;
		l = l >= '0' && l <= '9' ? l - '0' : l >= 'a' && l <= 'f' ? l - 'a' + 10 : -1;
		if (h < 0 || l < 0)
			return -1;
		b[i] = (unsigned char)(h << 4 | l);
	}
	return 0;
}

int
web_admin_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 63)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return 0;
	return 1;
}

int
web_sess_new(const struct auth_key *k, const char *admin, time_t now,
    long ttl, struct web_sess *s, char *out)
{
	unsigned char rnd[WEB_SESS_IDLEN / 2], mac[AUTH_MACLEN];
	char body[WEB_SESS_MAX];
	int n;

	if (!web_admin_ok(admin) || ttl <= 0) {
		errno = EINVAL;
		return -1;
	}
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		return -1;
	memset(s, 0, sizeof(*s));
	snprintf(s->admin, sizeof s->admin, "%s", admin);
	s->expires = (long long)now + ttl;
	hex(rnd, sizeof rnd, s->id);
	n = snprintf(body, sizeof body, "v1.%s.%lld.%s", s->admin, s->expires, s->id);
	if (n < 0 || (size_t)n + 1 + 2 * AUTH_MACLEN >= WEB_SESS_MAX) {
		errno = EINVAL;
		return -1;
	}
	auth_mac(k, body, (size_t)n, mac);
	memcpy(out, body, (size_t)n);
	out[n] = '.';
	hex(mac, AUTH_MACLEN, out + n + 1);
	return 0;
}

int
web_sess_check(const struct auth_key *k, const char *c, time_t now,
    struct web_sess *s, const char **why)
{
	unsigned char mac[AUTH_MACLEN];
	const char *p[5], *q;
	size_t len = strlen(c), i, np = 0, alen;
	char *end;
	long long exp;

	*why = "bad";
	if (len >= WEB_SESS_MAX || strncmp(c, "v1.", 3) != 0)
		return -1;
	/* v1 . admin . expires . id . mac: admin ids never hold a dot at the
	 * end, so split from the right for the last three fields. */
	q = c + len;
	for (i = len; i > 3 && np < 3; i--)
		if (c[i - 1] == '.') {
			p[np++] = c + i;
			q = c + i - 1;
		}
	if (np != 3)
		return -1;
	/* p[0] mac, p[1] id, p[2] expires; admin is c+3 .. p[2]-1 */
	alen = (size_t)(p[2] - 1 - (c + 3));
	if (alen == 0 || alen >= sizeof s->admin)
		return -1;
	memset(s, 0, sizeof(*s));
	memcpy(s->admin, c + 3, alen);
	if (!web_admin_ok(s->admin))
		return -1;
	if ((size_t)(p[0] - 1 - p[1]) != WEB_SESS_IDLEN)
		return -1;
	memcpy(s->id, p[1], WEB_SESS_IDLEN);
	for (i = 0; i < WEB_SESS_IDLEN; i++)
		if (!((s->id[i] >= '0' && s->id[i] <= '9') || (s->id[i] >= 'a' && s->id[i] <= 'f')))
			return -1;
	if (p[2][0] < '1' || p[2][0] > '9')
		return -1;
	errno = 0;
	exp = strtoll(p[2], &end, 10);
	if (errno || end != p[1] - 1)
		return -1;
	if (unhex(p[0], strlen(p[0]), mac, AUTH_MACLEN) < 0)
		return -1;
	if (!auth_verify(k, c, (size_t)(p[0] - 1 - c), mac))
		return -1;
	(void)q;
	s->expires = exp;
	if ((long long)now >= exp) {
		*why = "expired";
		return -1;
	}
	*why = NULL;
	return 0;
}

void
web_csrf(const struct auth_key *k, const struct web_sess *s, char *out)
{
	unsigned char mac[AUTH_MACLEN];
	char body[64];
	int n = snprintf(body, sizeof body, "csrf.%s", s->id);

	auth_mac(k, body, (size_t)n, mac);
	hex(mac, AUTH_MACLEN, out);
}

int
web_csrf_ok(const struct auth_key *k, const struct web_sess *s, const char *token)
{
	unsigned char mac[AUTH_MACLEN];
	char body[64];
	int n = snprintf(body, sizeof body, "csrf.%s", s->id);

	if (!token || unhex(token, strlen(token), mac, AUTH_MACLEN) < 0)
		return 0;
	return auth_verify(k, body, (size_t)n, mac);
}

void
web_login_token(const struct auth_key *k, time_t now, char *out)
{
	unsigned char mac[AUTH_MACLEN];
	char body[48];
	int n = snprintf(body, sizeof body, "login.%lld", (long long)now);
	int m = snprintf(out, WEB_TOKEN_MAX, "%lld.", (long long)now);

	auth_mac(k, body, (size_t)n, mac);
	hex(mac, AUTH_MACLEN, out + m);
}

int
web_login_token_ok(const struct auth_key *k, const char *token, time_t now,
    long ttl)
{
	unsigned char mac[AUTH_MACLEN];
	const char *dot;
	char body[48], *end;
	long long t;
	int n;

	if (!token || !(dot = strchr(token, '.')) || token[0] < '1' || token[0] > '9')
		return 0;
	errno = 0;
	t = strtoll(token, &end, 10);
	if (errno || end != dot || dot - token > 19)
		return 0;
	if (unhex(dot + 1, strlen(dot + 1), mac, AUTH_MACLEN) < 0)
		return 0;
	n = snprintf(body, sizeof body, "login.%lld", t);
	if (!auth_verify(k, body, (size_t)n, mac))
		return 0;
	return t <= (long long)now + 60 && (long long)now - t < ttl;
}
