/* The SNMP push of an apply; see cluster_push.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "cluster_push.h"
#include "snmp_push.h"
#include "snmp_sess.h"

const struct snmp_creds *
cluster_push_creds(const char *file, const char *app, char *why, size_t whylen)
{
	static struct snmp_creds creds;
	static char *loaded;
	static int started;

	if (loaded && strcmp(loaded, file) == 0)
		return &creds;
	if (!started) {
		snmp_lib_init(app);
		started = 1;
	}
	free(loaded);
	loaded = NULL;
	if (snmp_creds_load(file, &creds, why, whylen) < 0)
		return NULL;
	if (!(loaded = strdup(file))) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	return &creds;
}

void
cluster_push_free(struct cluster_push *p)
{
	size_t i;

	for (i = 0; i < p->nres; i++)
		free(p->res[i].host);
	free(p->res);
	p->res = NULL;
	p->nres = p->failed = 0;
}

static int
nomem(struct cl_err *e)
{
	snprintf(e->rule, sizeof e->rule, "%s", "");
	snprintf(e->msg, sizeof e->msg, "out of memory");
	e->ldaprc = 0;
	errno = ENOMEM;
	return -1;
}

int
cluster_push(const struct cl_cluster *cl, struct cl_hosts *hosts,
    const struct cl_change *ch, size_t n, void *arg, struct cl_err *e)
{
	struct cluster_push *p = arg;
	const struct snmp_creds *c;
	struct snmp_push_host *ph;
	size_t *at, i, k = 0, len;
	char why[200];
	int failed;

	(void)cl;
	cluster_push_free(p);
	if (!(c = cluster_push_creds(p->creds, "nonstop", why, sizeof why))) {
		snprintf(e->rule, sizeof e->rule, "push");
		snprintf(e->msg, sizeof e->msg, "SNMP credentials: %s", why);
		e->ldaprc = 0;
		return -1;
	}
	if (n == 0)
		return 0;
	p->res = calloc(n, sizeof *p->res);
	ph = calloc(n, sizeof *ph);
	at = calloc(n, sizeof *at);
	if (!p->res || !ph || !at) {
		free(ph);
		free(at);
		free(p->res);
		p->res = NULL;
		return nomem(e);
	}
	for (i = 0; i < n; i++) {
		struct cluster_push_result *r = &p->res[i];
		const struct cl_host *h = cl_hosts_get(hosts, ch[i].host);

		if (!(r->host = strdup(ch[i].host))) {
			p->nres = i;
			free(ph);
			free(at);
			cluster_push_free(p);
			return nomem(e);
		}
		p->nres = i + 1;
		r->was = ch[i].was, r->role = ch[i].role, r->action = ch[i].action;
		if (!h || h->agent <= 0 || h->naddr == 0 || !ch[i].file) {
			r->result = CLP_NOAGENT;
			snprintf(r->why, sizeof r->why, "no agent in the directory");
			continue;
		}
		snprintf(r->peer, sizeof r->peer, strchr(h->addr[0], ':') ?
		    "udp6:[%s]:%ld" : "udp:%s:%ld", h->addr[0], h->agent);
		ph[k].name = r->host;
		ph[k].peer = r->peer;
		ph[k].text = ch[i].file;
		at[k++] = i;
	}
	failed = k ? snmp_push(c, ph, k, p->timeout_ms ? p->timeout_ms : 1000,
	    p->tries > 0 ? p->tries : 2) : 0;
	for (i = 0; i < k && failed >= 0; i++) {
		struct cluster_push_result *r = &p->res[at[i]];
		r->result = ph[i].status == 0 ? CLP_OK : CLP_FAILED;
		r->ms = ph[i].ms;
		snprintf(r->why, sizeof r->why, "%s", ph[i].why);
	}
	if (failed < 0) {
		int x = errno;
		for (i = 0; i < k; i++) {
			p->res[at[i]].result = CLP_FAILED;
			snprintf(p->res[at[i]].why, sizeof p->res[at[i]].why,
			    "push not started");
		}
		snprintf(e->rule, sizeof e->rule, "push");
		snprintf(e->msg, sizeof e->msg, "the SNMP push could not start: %s",
		    strerror(x));
		e->ldaprc = 0;
		p->failed = k;
	} else if (failed > 0) {
		snprintf(e->rule, sizeof e->rule, "push");
		len = (size_t)snprintf(e->msg, sizeof e->msg, "the agents of these hosts "
		    "did not take their role file:");
		for (i = 0; i < k && len < sizeof e->msg; i++)
			if (ph[i].status != 0)
				len += (size_t)snprintf(e->msg + len, sizeof e->msg - len,
				    " %s (%s)", ph[i].name, ph[i].why);
		e->ldaprc = 0;
		p->failed = (size_t)failed;
	}
	free(ph);
	free(at);
	return failed != 0 ? -1 : 0;
}
