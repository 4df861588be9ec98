/*
 * lc-web: the web administration of the load clusters, a CGI program.
 * Administrators log in with their directory password and then see and
 * change clusters through the same library code as lc-build.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "err.h"
#include "kv.h"
#include "lc-web.h"

#define CONF_DEFAULT "/etc/nonstop/lc-web.conf"

struct conf conf;
struct req rq;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: lc-web [-nvV] [-f config]\n");
	exit(EXIT_BAD);
}

/* ---- configuration ------------------------------------------------------ */

static int
conf_set(const char *k, const char *v, char *why, size_t whylen)
{
	static const struct {
		const char *name;
		char **p;
	} s[] = {
		{ "uri", &conf.uri }, { "base", &conf.base }, { "binddn", &conf.binddn },
		{ "pwfile", &conf.pwfile }, { "key", &conf.keyfile }, { "roles", &conf.roles },
		{ "var", &conf.var }, { "state", &conf.state }, { "title", &conf.title },
		{ "snmp", &conf.snmp },
	};
	size_t i;
	char *end;

	if (strcmp(k, "ttl") == 0) {
		errno = 0;
		conf.ttl = strtol(v, &end, 10);
		if (errno || *end || conf.ttl < 1 || conf.ttl > 604800) {
			snprintf(why, whylen, "ttl %s: want seconds, 1 to 604800", v);
			return -1;
		}
		return 0;
	}
	for (i = 0; i < sizeof s / sizeof s[0]; i++)
		if (strcmp(k, s[i].name) == 0) {
			if (!(*s[i].p = strdup(v))) {
				snprintf(why, whylen, "out of memory");
				return -1;
			}
			return 0;
		}
	snprintf(why, whylen, "unknown key %s", k);
	return -1;
}

static int
folder_ok(const char *what, const char *path, int writable, char *why, size_t whylen)
{
	struct stat st;

	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "%s %s is not a folder", what, path);
		return -1;
	}
	if (writable && access(path, W_OK) < 0) {
		snprintf(why, whylen, "%s %s is not writable: %s", what, path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Returns 0, or -1 with why; EXIT_TEMP-worthy failures set *temp. */
static int
conf_load(const char *path, char *why, size_t whylen, int *temp)
{
	char *text, *line, *next;
	struct kv_rec r;
	const char *kw;
	size_t len, i;
	int lineno = 0;
	char sub[256];

	*temp = 0;
	conf.path = path;
	conf.ttl = 3600;
	if (!(text = atomic_read(path, 65536, &len))) {
		snprintf(why, whylen, "unable to read %s: %s", path, strerror(errno));
		*temp = errno != ENOENT && errno != EACCES;
		return -1;
	}
	for (line = text; line; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		lineno++;
		if (kv_parse(&r, line, &kw) < 0) {
			snprintf(why, whylen, "%s:%d: %s", path, lineno, kw ? kw : strerror(errno));
			free(text);
			return -1;
		}
		for (i = 0; i < r.n; i++)
			if (conf_set(r.v[i].key, r.v[i].val, sub, sizeof sub) < 0) {
				snprintf(why, whylen, "%s:%d: %s", path, lineno, sub);
				kv_free(&r);
				free(text);
				return -1;
			}
		kv_free(&r);
	}
	free(text);
	if (!conf.keyfile || !conf.roles || !conf.var) {
		snprintf(why, whylen, "%s: key, roles and var must be set", path);
		return -1;
	}
	if ((conf.binddn == NULL) != (conf.pwfile == NULL)) {
		snprintf(why, whylen, "%s: binddn and pwfile go together", path);
		return -1;
	}
	if (!conf.title)
		conf.title = "nonstop";
	if (auth_key_load(conf.keyfile, &conf.key, &kw) < 0) {
		snprintf(why, whylen, "key %s: %s", conf.keyfile, kw ? kw : strerror(errno));
		return -1;
	}
	if (folder_ok("roles", conf.roles, 1, why, whylen) < 0 ||
	    folder_ok("var", conf.var, 1, why, whylen) < 0 ||
	    (conf.state && folder_ok("state", conf.state, 0, why, whylen) < 0))
		return -1;
	if (conf.snmp && access(conf.snmp, R_OK) < 0) {
		snprintf(why, whylen, "snmp %s: %s", conf.snmp, strerror(errno));
		return -1;
	}
	snprintf(sub, sizeof sub, "%s/sessions", conf.var);
	if (mkdir(sub, 0700) < 0 && errno != EEXIST) {
		snprintf(why, whylen, "unable to make %s: %s", sub, strerror(errno));
		*temp = 1;
		return -1;
	}
	return 0;
}

/* ---- output ------------------------------------------------------------- */

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 303: return "See Other";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 429: return "Too Many Requests";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

void
respond(int status, struct web_buf *b, const char *headers)
{
	if (b->oom) {
		fputs("Status: 500 Internal Server Error\r\nContent-Type: text/plain\r\n\r\n"
		    "lc-web ran out of memory.\n", stdout);
		return;
	}
	printf("Status: %d %s\r\n", status, reason(status));
	fputs("Content-Type: text/html; charset=utf-8\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "X-Frame-Options: DENY\r\n"
	    "Referrer-Policy: no-referrer\r\n"
	    "Content-Security-Policy: default-src 'none'; style-src 'self'; "
	    "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'\r\n",
	    stdout);
	if (headers)
		fputs(headers, stdout);
	fputs("\r\n", stdout);
	if (strcmp(rq.method ? rq.method : "GET", "HEAD") != 0 && b->s)
		fwrite(b->s, 1, b->len, stdout);
}

void
page_begin(struct web_buf *b, const char *title)
{
	web_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	    "<title>");
	web_esc(b, title);
	web_buf_puts(b, " · ");
	web_esc(b, conf.title ? conf.title : "nonstop");
	web_buf_puts(b, "</title><link rel=\"stylesheet\" href=\"");
	web_esc(b, rq.script);
	web_buf_puts(b, "?p=css\"></head>\n<body><header><span class=\"brand\">");
	web_esc(b, conf.title ? conf.title : "nonstop");
	web_buf_puts(b, " cluster administration</span>");
	if (rq.have_sess) {
		web_buf_puts(b, "<nav>");
		web_buf_puts(b, "<a href=\"");
		web_esc(b, rq.script);
		web_buf_puts(b, "?p=clusters\">Clusters</a><a href=\"");
		web_esc(b, rq.script);
		web_buf_puts(b, "?p=hosts\">Hosts</a><a href=\"");
		web_esc(b, rq.script);
		web_buf_puts(b, "?p=history\">History</a></nav><form class=\"logout\" method=\"post\" action=\"");
		web_esc(b, rq.script);
		web_buf_puts(b, "?p=logout\">");
		csrf_field(b);
		web_buf_puts(b, "<span>");
		web_esc(b, rq.sess.admin);
		web_buf_puts(b, "</span> <button type=\"submit\">Log out</button></form>");
	}
	web_buf_puts(b, "</header>\n<main>\n<h1>");
	web_esc(b, title);
	web_buf_puts(b, "</h1>\n");
}

void
page_end(struct web_buf *b)
{
	web_buf_puts(b, "</main>\n<footer>lc-web " VERSION "</footer></body></html>\n");
}

void
fail_page(int status, const char *head, const char *fmt, ...)
{
	struct web_buf b = { 0 };
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	page_begin(&b, head);
	web_buf_puts(&b, "<p class=\"error\">");
	web_esc(&b, msg ? msg : "out of memory");
	web_buf_puts(&b, "</p>\n<p><a href=\"");
	web_esc(&b, rq.script);
	web_buf_puts(&b, rq.have_sess ? "?p=clusters\">Back to the clusters</a></p>\n" :
	    "\">Log in</a></p>\n");
	page_end(&b);
	respond(status, &b, NULL);
	web_buf_free(&b);
	if (status >= 500)
		err_warn("%d %s: %s", status, head, msg ? msg : "out of memory");
	free(msg);
}

void
csrf_field(struct web_buf *b)
{
	web_buf_printf(b, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">", rq.csrf);
}

const char *
arg(const char *name)
{
	const char *v = rq.post ? web_form_get(&rq.f, name) : NULL;

	return v ? v : web_form_get(&rq.q, name);
}

int
err_status(const struct cl_err *e)
{
	if (e->rule[0] && strcmp(e->rule, "not-found") == 0)
		return 404;
	if (e->rule[0] && strcmp(e->rule, "push") == 0)
		return 503;	/* an agent did not answer: apply again later */
	if (e->rule[0] && strcmp(e->rule, "concurrent") == 0)
		return 409;
	if (e->rule[0])
		return 400;
	return e->ldaprc && dir_temporary(e->ldaprc) ? 503 : 500;
}

struct dir *
dir_service(void)
{
	struct dir_opts o = { conf.uri, conf.base, conf.binddn, conf.pwfile, 5000 };
	char msg[512];
	int rc;
	struct dir *d = dir_open(&o, msg, sizeof msg, &rc);

	if (!d)
		fail_page(dir_temporary(rc) ? 503 : 500, "The directory is not available",
		    "lc-web could not reach the cluster directory (%s). Try again in a "
		    "moment; if it persists, check slapd and lc-web's configuration.", msg);
	return d;
}

/* ---- the audit log ------------------------------------------------------ */

/*
 * One line per change or login in <var>/audit.log, appended in a single
 * write and synced: time= admin= addr= action= [cluster=] [what=]
 * [generation=] result= [msg=]. lc-web never rewrites or truncates it.
 */
void
audit(const char *action, const char *cluster, const char *what, long gen,
    const char *result, const char *msg)
{
	char line[2048], path[4096], num[32];
	size_t len = 0;
	int fd, n;

#define PUT(first, k, v) do { \
	n = kv_sput(line + len, sizeof line - len, first, k, v); \
	if (n < 0 || (size_t)n >= sizeof line - len) goto toolong; \
	len += (size_t)n; } while (0)
	snprintf(num, sizeof num, "%lld", (long long)rq.now);
	PUT(1, "time", num);
	PUT(0, "admin", rq.have_sess ? rq.sess.admin : (arg("user") ? arg("user") : "-"));
	PUT(0, "addr", rq.remote ? rq.remote : "-");
	PUT(0, "action", action);
	if (cluster)
		PUT(0, "cluster", cluster);
	if (what && *what)
		PUT(0, "what", what);
	if (gen > 0) {
		snprintf(num, sizeof num, "%ld", gen);
		PUT(0, "generation", num);
	}
	PUT(0, "result", result);
	if (msg)
		PUT(0, "msg", msg);
#undef PUT
	line[len++] = '\n';
	snprintf(path, sizeof path, "%s/audit.log", conf.var);
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) < 0 ||
	    write(fd, line, len) != (ssize_t)len || fsync(fd) < 0)
		err_warn("unable to write the audit log %s:", path);
	if (fd >= 0)
		close(fd);
	return;
toolong:
	err_warn("audit line too long for action %s", action);
}

/* ---- sessions ----------------------------------------------------------- */

static void
sess_path(char *p, size_t n, const char *id)
{
	snprintf(p, n, "%s/sessions/%s", conf.var, id);
}

/* Drop session files older than the session lifetime (bounded work). */
static void
sess_sweep(void)
{
	char dirp[4096], p[4400];
	struct dirent *de;
	struct stat st;
	DIR *dp;
	int count = 0;

	snprintf(dirp, sizeof dirp, "%s/sessions", conf.var);
	if (!(dp = opendir(dirp)))
		return;
	while ((de = readdir(dp)) && count++ < 10000) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof p, "%s/%s", dirp, de->d_name);
		if (stat(p, &st) == 0 && st.st_mtime + conf.ttl < rq.now)
			unlink(p);
	}
	closedir(dp);
}

static void
read_session(void)
{
	char cookie[WEB_SESS_MAX], p[4200];
	int x = web_cookie_get(getenv("HTTP_COOKIE"), COOKIE_NAME, cookie, sizeof cookie);

	rq.have_sess = 0;
	if (x == 0)
		return;
	if (x < 0) {
		rq.sess_why = "bad";
		return;
	}
	if (web_sess_check(&conf.key, cookie, rq.now, &rq.sess, &rq.sess_why) < 0)
		return;
	/* Logged out (or swept) sessions are gone even while the cookie lives. */
	sess_path(p, sizeof p, rq.sess.id);
	if (access(p, F_OK) < 0) {
		rq.sess_why = "expired";
		return;
	}
	rq.have_sess = 1;
	web_csrf(&conf.key, &rq.sess, rq.csrf);
}

/*
 * Failed logins per client address: <var>/throttle/<addr> holds
 * "count first" (failures since first, seconds). THROTTLE_MAX failures
 * within THROTTLE_WINDOW seconds lock the address out for the rest of
 * the window, the right password included.
 */
#define THROTTLE_MAX 5
#define THROTTLE_WINDOW 300

static void
throttle_path(char *p, size_t n)
{
	char a[64];
	const char *s = rq.remote ? rq.remote : "-";
	size_t i;

	for (i = 0; i < sizeof a - 1 && s[i]; i++)
		a[i] = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		    (s[i] >= 'A' && s[i] <= 'F') ? s[i] : '_';
	a[i] = '\0';
	snprintf(p, n, "%s/throttle/%s", conf.var, a);
}

/* Seconds the client must still wait, 0 if it may try. */
static long
throttle_left(long *count, long long *first)
{
	char p[4200], *t;
	size_t len;

	*count = 0;
	*first = rq.now;
	throttle_path(p, sizeof p);
	if (!(t = atomic_read(p, 128, &len)))
		return 0;
	if (sscanf(t, "%ld %lld", count, first) != 2 || *first > rq.now ||
	    rq.now - *first >= THROTTLE_WINDOW) {
		*count = 0;
		*first = rq.now;
	}
	free(t);
	return *count >= THROTTLE_MAX ? (long)(*first + THROTTLE_WINDOW - rq.now) : 0;
}

static void
throttle_fail(void)
{
	char p[4200], d[4200], v[64];
	long count;
	long long first;

	(void)throttle_left(&count, &first);
	snprintf(d, sizeof d, "%s/throttle", conf.var);
	(void)mkdir(d, 0700);
	throttle_path(p, sizeof p);
	snprintf(v, sizeof v, "%ld %lld\n", count + 1, first);
	if (atomic_write_str(p, v, 0600) < 0)
		err_warn("unable to write %s:", p);
}

static void
throttle_clear(void)
{
	char p[4200];

	throttle_path(p, sizeof p);
	unlink(p);
}

static void
login(void)
{
	const char *user = arg("user"), *pw = arg("password");
	struct dir_opts o = { conf.uri, conf.base, NULL, NULL, 5000 };
	char *admindn, fdpath[64], cookie[WEB_SESS_MAX], hdr[512], p[4200], msg[512];
	struct cl_admin a;
	struct cl_err e;
	struct dir *svc, *d;
	struct web_sess s;
	int fd, rc, x;

	if (!web_login_token_ok(&conf.key, arg("token"), rq.now, conf.ttl)) {
		page_login(403, "The login form was too old or not from this server. "
		    "Please try again.");
		return;
	}
	if (!user || !*user || !pw || !*pw) {
		page_login(400, "Enter your administrator name and your password.");
		return;
	}
	{
		long count, left;
		long long first;
		if ((left = throttle_left(&count, &first)) > 0) {
			audit("login", NULL, NULL, 0, "refused", "too many failed logins");
			snprintf(msg, sizeof msg, "Too many failed logins from your address. "
			    "Try again in %ld minute%s.", (left + 59) / 60,
			    (left + 59) / 60 == 1 ? "" : "s");
			page_login(429, msg);
			return;
		}
	}
	if (!web_admin_ok(user) || strlen(pw) > 1024) {
		usleep(300000);
		throttle_fail();
		audit("login", NULL, NULL, 0, "refused", "bad name");
		page_login(403, "Wrong administrator name or password.");
		return;
	}
	if (!(svc = dir_service()))
		return;
	o.binddn = admindn = cl_admin_dn(svc, user);
	/* dir_open reads the password from a file: hand it one in memory. */
	if (!o.binddn || (fd = memfd_create("lc-web-pw", MFD_CLOEXEC)) < 0 ||
	    write(fd, pw, strlen(pw)) != (ssize_t)strlen(pw)) {
		fail_page(500, "Login failed", "lc-web could not check the password: %s",
		    strerror(errno));
		dir_close(svc);
		return;
	}
	snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", fd);
	o.pwfile = fdpath;
	d = dir_open(&o, msg, sizeof msg, &rc);
	close(fd);
	if (!d) {
		if (dir_temporary(rc)) {
			fail_page(503, "The directory is not available",
			    "lc-web could not reach the cluster directory (%s). Try again "
			    "in a moment.", msg);
		} else {
			usleep(300000);
			throttle_fail();
			audit("login", NULL, NULL, 0, "refused", "wrong password or no such administrator");
			page_login(403, "Wrong administrator name or password.");
		}
		dir_close(svc);
		free(admindn);
		return;
	}
	dir_close(d);
	free(admindn);
	/* The bind proved the password; the entry must also be an administrator. */
	x = cl_dir_admin_get(svc, user, &a, &e);
	dir_close(svc);
	if (x <= 0) {
		if (x < 0)
			fail_page(err_status(&e), "Login failed", "%s", e.msg);
		else {
			throttle_fail();
			audit("login", NULL, NULL, 0, "refused", "not an administrator");
			page_login(403, "Wrong administrator name or password.");
		}
		return;
	}
	cl_admin_free(&a);
	throttle_clear();
	sess_sweep();
	if (web_sess_new(&conf.key, user, rq.now, conf.ttl, &s, cookie) < 0) {
		fail_page(500, "Login failed", "lc-web could not make a session: %s",
		    strerror(errno));
		return;
	}
	sess_path(p, sizeof p, s.id);
	snprintf(msg, sizeof msg, "admin=%s expires=%lld\n", s.admin, s.expires);
	if (atomic_write_str(p, msg, 0600) < 0) {
		fail_page(500, "Login failed", "lc-web could not store the session in %s: %s",
		    p, strerror(errno));
		return;
	}
	rq.sess = s;
	rq.have_sess = 1;
	audit("login", NULL, NULL, 0, "ok", NULL);
	snprintf(hdr, sizeof hdr, "Set-Cookie: %s=%s; Path=%s; Max-Age=%ld; HttpOnly; "
	    "SameSite=Strict%s\r\nLocation: %s?p=clusters\r\n", COOKIE_NAME, cookie,
	    rq.script, conf.ttl, rq.https ? "; Secure" : "", rq.script);
	{
		struct web_buf b = { 0 };
		web_buf_puts(&b, "<!DOCTYPE html><title>Logged in</title><p><a href=\"");
		web_esc(&b, rq.script);
		web_buf_puts(&b, "?p=clusters\">Continue</a></p>\n");
		respond(303, &b, hdr);
		web_buf_free(&b);
	}
}

static void
logout(void)
{
	char p[4200], hdr[512];
	struct web_buf b = { 0 };

	sess_path(p, sizeof p, rq.sess.id);
	unlink(p);
	audit("logout", NULL, NULL, 0, "ok", NULL);
	rq.have_sess = 0;
	snprintf(hdr, sizeof hdr, "Set-Cookie: %s=; Path=%s; Max-Age=0; HttpOnly; "
	    "SameSite=Strict%s\r\n", COOKIE_NAME, rq.script, rq.https ? "; Secure" : "");
	page_begin(&b, "Logged out");
	web_buf_puts(&b, "<p>You are logged out.</p><p><a href=\"");
	web_esc(&b, rq.script);
	web_buf_puts(&b, "\">Log in again</a></p>\n");
	page_end(&b);
	respond(200, &b, hdr);
	web_buf_free(&b);
}

/* ---- the request -------------------------------------------------------- */

static int
read_body(void)
{
	const char *ct = getenv("CONTENT_TYPE"), *cl = getenv("CONTENT_LENGTH");
	char why[128], *body, *end;
	size_t got = 0;
	long n;
	ssize_t r;

	if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0 ||
	    (ct[33] != '\0' && ct[33] != ';')) {
		fail_page(400, "Unsupported form", "lc-web accepts only forms sent as "
		    "application/x-www-form-urlencoded.");
		return -1;
	}
	errno = 0;
	n = cl && *cl ? strtol(cl, &end, 10) : -1;
	if (!cl || !*cl || errno || *end || n < 0) {
		fail_page(400, "Bad request", "The request has no valid Content-Length.");
		return -1;
	}
	if (n > WEB_FORM_MAXBODY) {
		fail_page(413, "Form too large", "The form is larger than lc-web accepts "
		    "(%d bytes).", WEB_FORM_MAXBODY);
		return -1;
	}
	if (!(body = malloc((size_t)n + 1))) {
		fail_page(500, "Out of memory", "lc-web ran out of memory.");
		return -1;
	}
	while (got < (size_t)n) {
		r = read(0, body + got, (size_t)n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got != (size_t)n) {
		free(body);
		fail_page(400, "Bad request", "The form arrived incomplete.");
		return -1;
	}
	if (web_form_parse(&rq.f, body, got, why, sizeof why) < 0) {
		explicit_bzero(body, got);
		free(body);
		fail_page(400, "Bad form", "The form could not be read: %s.", why);
		return -1;
	}
	explicit_bzero(body, got);
	free(body);
	return 0;
}

static void
handle(void)
{
	const char *qs = getenv("QUERY_STRING"), *p, *m;
	char why[128];

	m = getenv("REQUEST_METHOD");
	rq.method = m ? m : "GET";
	rq.script = getenv("SCRIPT_NAME") ? getenv("SCRIPT_NAME") : "";
	rq.remote = getenv("REMOTE_ADDR");
	rq.https = getenv("HTTPS") && strcasecmp(getenv("HTTPS"), "on") == 0;
	rq.now = time(NULL);
	/* SCRIPT_NAME goes into headers and links: it must be plain and short. */
	if (strlen(rq.script) > 200)
		rq.script = "";
	for (p = rq.script; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == ';' || *p == '"' || *p == '\'' ||
		    *p == '<' || *p == '>' || (unsigned char)*p >= 0x7f) {
			rq.script = "";
			break;
		}
	if (qs && web_form_parse(&rq.q, qs, strlen(qs), why, sizeof why) < 0) {
		fail_page(400, "Bad address", "The address could not be read: %s.", why);
		return;
	}
	p = web_form_get(&rq.q, "p");
	if (p && strcmp(p, "css") == 0) {
		page_css();
		return;
	}
	read_session();
	if (strcmp(rq.method, "POST") == 0) {
		rq.post = 1;
		if (read_body() < 0)
			return;
	} else if (strcmp(rq.method, "GET") != 0 && strcmp(rq.method, "HEAD") != 0) {
		fail_page(405, "Method not allowed", "lc-web answers GET and POST only.");
		return;
	}
	if (!p)
		p = rq.have_sess ? "clusters" : "login";
	if (strcmp(p, "login") == 0) {
		if (rq.post)
			login();
		else
			page_login(200, NULL);
		return;
	}
	if (!rq.have_sess) {
		const char *note = rq.sess_why && strcmp(rq.sess_why, "expired") == 0 ?
		    "Your session has expired. Please log in again." :
		    rq.sess_why ? "Your session was not valid. Please log in again." :
		    "Please log in.";
		if (rq.post) {
			fail_page(403, "Not logged in", "%s Nothing was changed.", note);
			audit(p, NULL, NULL, 0, "refused", "no session");
		} else
			page_login(rq.sess_why ? 403 : 200, note);
		return;
	}
	if (rq.post && !web_csrf_ok(&conf.key, &rq.sess, web_form_get(&rq.f, "csrf"))) {
		audit(p, web_form_get(&rq.f, "c"), NULL, 0, "refused", "bad or missing CSRF token");
		fail_page(403, "Form refused", "This form did not carry the security token "
		    "of your session, so nothing was changed. Go back, reload the page "
		    "and try again.");
		return;
	}
	if (rq.post) {
		if (strcmp(p, "logout") == 0)
			logout();
		else if (strcmp(p, "plan") == 0)
			action_plan();
		else if (strcmp(p, "apply") == 0)
			action_apply();
		else
			fail_page(404, "No such action", "There is no action %s.", p);
		return;
	}
	if (strcmp(p, "clusters") == 0)
		page_clusters();
	else if (strcmp(p, "cluster") == 0 && arg("c"))
		page_cluster(arg("c"));
	else if (strcmp(p, "hosts") == 0)
		page_hosts();
	else if (strcmp(p, "history") == 0)
		page_history(arg("c"));
	else if (strcmp(p, "new") == 0)
		page_form(NULL);
	else if (strcmp(p, "edit") == 0 && arg("c"))
		page_form(arg("c"));
	else
		fail_page(404, "No such page", "There is no page %s here.", p);
}

int
main(int argc, char **argv)
{
	const char *path = getenv("LC_WEB_CONF");
	char why[512];
	int c, check = 0, temp;

	err_init(argv[0]);
	while ((c = getopt(argc, argv, "f:nvV")) != -1) {
		switch (c) {
		case 'f': path = optarg; break;
		case 'n': check = 1; break;
		case 'v': err_verbose++; break;
		case 'V': puts("lc-web " VERSION); return 0;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (!path || !*path)
		path = CONF_DEFAULT;
	if (!check && !getenv("GATEWAY_INTERFACE"))
		err_die(EXIT_BAD, "not started as a CGI program (no GATEWAY_INTERFACE); "
		    "use -n to check the configuration");
	if (conf_load(path, why, sizeof why, &temp) < 0) {
		if (check)
			err_die(temp ? EXIT_TEMP : EXIT_BAD, "%s", why);
		/* A CGI always answers: the reason goes to the server's error log. */
		err_warn("%s", why);
		rq.script = "";
		fail_page(500, "lc-web is not configured", "lc-web's configuration could "
		    "not be loaded. The web server's error log says why.");
		err_check_stdout();
		return 0;
	}
	if (check) {
		fprintf(stderr, "lc-web: configuration OK\n");
		return 0;
	}
	handle();
	web_form_free(&rq.q);
	web_form_free(&rq.f);
	auth_key_wipe(&conf.key);
	err_check_stdout();
	return 0;
}
