/* lc-web: shared declarations of the CGI's parts. */
#ifndef LC_WEB_H
#define LC_WEB_H

#include <time.h>

#include "auth.h"
#include "cluster.h"
#include "dir.h"
#include "web_form.h"
#include "web_html.h"
#include "web_sess.h"

#define COOKIE_NAME "lcweb"

struct conf {
	const char *path;
	char *uri, *base, *binddn, *pwfile, *keyfile, *roles, *var, *state, *title;
	char *snmp;		/* SNMPv3 credentials file: live status from the agents */
	long ttl;
	struct auth_key key;
};

struct req {
	const char *method;	/* GET or POST (HEAD answered as GET) */
	const char *script;	/* SCRIPT_NAME: the base of every link */
	const char *remote;
	int https, post;
	struct web_form q;	/* query string */
	struct web_form f;	/* POST body */
	int have_sess;
	const char *sess_why;	/* why there is no session: "bad", "expired", NULL */
	struct web_sess sess;
	char csrf[WEB_TOKEN_MAX];
	time_t now;
};

extern struct conf conf;
extern struct req rq;

/* main.c */
void respond(int status, struct web_buf *b, const char *headers);
void page_begin(struct web_buf *b, const char *title);
void page_end(struct web_buf *b);
/* A whole error page: status, a headline, and what to do about it. */
void fail_page(int status, const char *head, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
struct dir *dir_service(void);
/* The HTTP status for a library refusal: 400 for a broken rule, else 503/500. */
int err_status(const struct cl_err *e);
void csrf_field(struct web_buf *b);
const char *arg(const char *name);	/* POST field, else query field */
void audit(const char *action, const char *cluster, const char *what,
    long gen, const char *result, const char *msg);

/* pages.c */
void page_clusters(void);
void page_cluster(const char *name);
void page_hosts(void);
void page_history(const char *cluster);
void page_form(const char *name);	/* NULL: a new cluster */
void page_login(int status, const char *note);
void page_css(void);

/* actions.c */
void action_plan(void);
void action_apply(void);

#endif
