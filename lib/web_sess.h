/*
 * lc-web sessions: a cookie value that names the administrator, when the
 * session expires and a random session id, signed with HMAC-SHA256 under
 * the server's key (lib/auth.h); CSRF tokens bound to the session id; a
 * token for the login form bound to its time of issue.
 *
 *   cookie  v1.<admin>.<expires>.<id>.<mac>     id: 32 hex, mac: 64 hex
 *   csrf    64 hex: HMAC(key, "csrf." id)
 *   login   <issued>.<64 hex: HMAC(key, "login." issued)>
 */
#ifndef NONSTOP_WEB_SESS_H
#define NONSTOP_WEB_SESS_H

#include <stddef.h>
#include <time.h>

#include "auth.h"

#define WEB_SESS_IDLEN 32	/* hex characters */
#define WEB_SESS_MAX   200	/* bytes of a cookie value, NUL included */
#define WEB_TOKEN_MAX  96

struct web_sess {
	char admin[64];
	long long expires;
	char id[WEB_SESS_IDLEN + 1];
};

/* 1 if s is an acceptable administrator id: [A-Za-z0-9_.-], 1 to 63. */
int web_admin_ok(const char *s);

/*
 * A new session for admin, valid until now + ttl seconds: a fresh random
 * id, and the cookie value in out (WEB_SESS_MAX). -1 with errno on failure.
 */
int web_sess_new(const struct auth_key *k, const char *admin, time_t now,
    long ttl, struct web_sess *s, char *out);
/*
 * Check a cookie value: well formed, signed under k, not expired at now.
 * Returns 0 and fills s, or -1 with *why "bad" or "expired".
 */
int web_sess_check(const struct auth_key *k, const char *cookie, time_t now,
    struct web_sess *s, const char **why);

/* The CSRF token of session s (WEB_TOKEN_MAX). */
void web_csrf(const struct auth_key *k, const struct web_sess *s, char *out);
/* 1 if token is s's CSRF token (constant time). */
int web_csrf_ok(const struct auth_key *k, const struct web_sess *s,
    const char *token);

/* A login-form token issued at now; 1 if token was issued within ttl. */
void web_login_token(const struct auth_key *k, time_t now, char *out);
int web_login_token_ok(const struct auth_key *k, const char *token, time_t now,
    long ttl);

#endif
