/* ha-beat.conf parser: one directive per line, checked as a whole at the end. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conf.h"
#include "kv.h"

const char *hook_state_name[HK_NSTATES] = { "master", "backup", "fault", "stop" };

static char whybuf[512];

static int fail(const char *path, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(const char *path, int line, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(whybuf, sizeof whybuf, "%s:%d: %s", path, line, msg);
	else
		snprintf(whybuf, sizeof whybuf, "%s: %s", path, msg);
	return -1;
}

static int
num(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end != '\0' || errno || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= HB_NAMELEN)
		return 0;
	return kv_key_ok(s);
}

static int
yesno(const char *s, int *out)
{
	if (strcmp(s, "yes") == 0)
		*out = 1;
	else if (strcmp(s, "no") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

int
conf_node(const struct conf *c, const char *name)
{
	int i;

	for (i = 0; i < c->nnodes; i++)
		if (strcmp(c->nodes[i].name, name) == 0)
			return i;
	return -1;
}

#define FAIL(...) return fail(path, ln, __VA_ARGS__)

static int
directive(struct conf *c, const char *path, int ln, char **w, int n)
{
	unsigned long v;
	int i;

	if (strcmp(w[0], "group") == 0) {
		if (n != 2 || !name_ok(w[1]))
			FAIL("group takes one name of 1-31 characters [A-Za-z0-9_.-]");
		strcpy(c->group, w[1]);
	} else if (strcmp(w[0], "interface") == 0) {
		if (n != 2 || strlen(w[1]) >= 16)
			FAIL("interface takes one interface name");
		strcpy(c->ifname, w[1]);
	} else if (strcmp(w[0], "port") == 0) {
		if (n != 2 || num(w[1], 1, 65535, &v) == -1)
			FAIL("port takes a number from 1 to 65535");
		c->port = v;
	} else if (strcmp(w[0], "interval") == 0) {
		if (n != 2 || num(w[1], 1, 60000, &v) == -1)
			FAIL("interval takes milliseconds from 1 to 60000");
		c->interval_ms = v;
	} else if (strcmp(w[0], "dead") == 0) {
		if (n != 2 || num(w[1], 2, 255, &v) == -1)
			FAIL("dead takes a count of heartbeats from 2 to 255");
		c->dead = v;
	} else if (strcmp(w[0], "key") == 0) {
		if (n != 2 || strlen(w[1]) >= sizeof c->keyfile)
			FAIL("key takes one file name");
		strcpy(c->keyfile, w[1]);
	} else if (strcmp(w[0], "node") == 0) {
		struct node *nd;
		/* node NAME ADDR [ADDR2] priority N */
		if (n < 5 || n > 6 || strcmp(w[n - 2], "priority") != 0)
			FAIL("node takes: NAME ADDRESS [ADDRESS2] priority N");
		if (c->nnodes == HB_MAXNODES)
			FAIL("more than 8 nodes");
		if (!name_ok(w[1]))
			FAIL("bad node name '%s'", w[1]);
		if (conf_node(c, w[1]) >= 0)
			FAIL("node '%s' named twice", w[1]);
		nd = &c->nodes[c->nnodes];
		memset(nd, 0, sizeof *nd);
		strcpy(nd->name, w[1]);
		for (i = 2; i < n - 2; i++) {
			if (addr_parse(w[i], &nd->path[nd->npath]) == -1 ||
			    strchr(w[i], '/') != NULL)
				FAIL("bad node address '%s'", w[i]);
			nd->npath++;
		}
		if (num(w[n - 1], 1, 255, &v) == -1)
			FAIL("priority takes a number from 1 to 255");
		nd->priority = v;
		c->nnodes++;
	} else if (strcmp(w[0], "self") == 0) {
		if (n != 2 || !name_ok(w[1]))
			FAIL("self takes one node name");
		strcpy(c->self, w[1]);
	} else if (strcmp(w[0], "vip") == 0) {
		for (i = 1; i < n; i++) {
			if (c->nvips == HB_MAXVIPS)
				FAIL("more than 16 virtual addresses");
			if (addr_parse(w[i], &c->vips[c->nvips]) == -1)
				FAIL("bad virtual address '%s'", w[i]);
			c->nvips++;
		}
		if (n < 2)
			FAIL("vip takes one or more ADDRESS[/PREFIX]");
	} else if (strcmp(w[0], "preempt") == 0) {
		if (n != 2 || yesno(w[1], &c->preempt) == -1)
			FAIL("preempt takes yes or no");
	} else if (strcmp(w[0], "lease") == 0) {
		if (n != 2 || num(w[1], 1, 3600, &v) == -1)
			FAIL("lease takes seconds from 1 to 3600");
		c->lease_s = v;
	} else if (strcmp(w[0], "quorum") == 0) {
		if (n != 2 || num(w[1], 1, HB_MAXNODES, &v) == -1)
			FAIL("quorum takes a count of nodes from 1 to 8");
		c->quorum = v;
	} else if (strcmp(w[0], "hold") == 0) {
		if (n != 2 || num(w[1], 0, 600000, &v) == -1)
			FAIL("hold takes milliseconds from 0 to 600000");
		c->hold_ms = v;
	} else if (strcmp(w[0], "announce") == 0) {
		if (n < 2 || n - 1 > HB_MAXANNOUNCE)
			FAIL("announce takes 1 to 8 delays in milliseconds");
		c->nannounce = 0;
		for (i = 1; i < n; i++) {
			if (num(w[i], 0, 600000, &v) == -1 ||
			    (i > 1 && v < c->announce_ms[i - 2]))
				FAIL("announce delays must be ascending milliseconds: '%s'", w[i]);
			c->announce_ms[c->nannounce++] = v;
		}
	} else if (strcmp(w[0], "garp-reply") == 0) {
		if (n != 2 || yesno(w[1], &c->garp_reply) == -1)
			FAIL("garp-reply takes yes or no");
	} else if (strcmp(w[0], "witness") == 0) {
		if (n < 2 || n > 3 || addr_parse(w[1], &c->witness) == -1 ||
		    strchr(w[1], '/') != NULL || c->witness.family != AF_INET)
			FAIL("witness takes an IPv4 ADDRESS [INTERVAL_MS]");
		if (n == 3) {
			if (num(w[2], 1, 60000, &v) == -1)
				FAIL("witness interval takes milliseconds from 1 to 60000");
			c->witness_ms = v;
		}
		c->has_witness = 1;
	} else if (strcmp(w[0], "realtime") == 0) {
		if (n != 2 || yesno(w[1], &c->realtime) == -1)
			FAIL("realtime takes yes or no");
	} else if (strcmp(w[0], "keep-privileges") == 0) {
		if (n != 2 || yesno(w[1], &c->keep_privileges) == -1)
			FAIL("keep-privileges takes yes or no");
	} else if (strcmp(w[0], "hook") == 0) {
		struct hook *h;
		int s;
		if (n < 3)
			FAIL("hook takes: STATE PROGRAM [ARG...]");
		if (n - 2 > HB_MAXARGS)
			FAIL("hook takes at most 16 arguments");
		for (s = 0; s < HK_NSTATES; s++)
			if (strcmp(w[1], hook_state_name[s]) == 0)
				break;
		if (s == HK_NSTATES)
			FAIL("hook state must be master, backup, fault or stop, not '%s'", w[1]);
		if (w[2][0] != '/')
			FAIL("hook program must be an absolute path: '%s'", w[2]);
		if (c->nhooks == HB_MAXHOOKS)
			FAIL("more than 8 hooks");
		h = &c->hooks[c->nhooks];
		memset(h, 0, sizeof *h);
		h->state = s;
		for (i = 2; i < n; i++)
			if ((h->argv[i - 2] = strdup(w[i])) == NULL)
				FAIL("out of memory");
		c->nhooks++;
	} else if (strcmp(w[0], "check") == 0) {
		/* check every MS [timeout MS] fall N rise N PROGRAM [ARG...] */
		struct check *k;
		unsigned long every, timeout = 0, fall, rise;
		int a = 3;
		if (n >= 5 && strcmp(w[1], "every") == 0 && strcmp(w[3], "timeout") == 0) {
			if (num(w[4], 10, 3600000, &timeout) == -1)
				FAIL("check timeout takes milliseconds from 10 to 3600000");
			a = 5;
		}
		if (n < a + 5 || strcmp(w[1], "every") != 0 ||
		    strcmp(w[a], "fall") != 0 || strcmp(w[a + 2], "rise") != 0)
			FAIL("check takes: every MS [timeout MS] fall N rise N PROGRAM [ARG...]");
		if (num(w[2], 10, 3600000, &every) == -1)
			FAIL("check every takes milliseconds from 10 to 3600000");
		if (num(w[a + 1], 1, 100, &fall) == -1 || num(w[a + 3], 1, 100, &rise) == -1)
			FAIL("check fall and rise take counts from 1 to 100");
		if (w[a + 4][0] != '/')
			FAIL("check program must be an absolute path: '%s'", w[a + 4]);
		if (n - (a + 4) > HB_MAXARGS)
			FAIL("check takes at most 16 arguments");
		if (c->nchecks == HB_MAXCHECKS)
			FAIL("more than 4 checks");
		k = &c->checks[c->nchecks];
		memset(k, 0, sizeof *k);
		k->every_ms = every;
		k->timeout_ms = timeout ? timeout : every;
		k->fall = fall;
		k->rise = rise;
		for (i = a + 4; i < n; i++)
			if ((k->argv[i - (a + 4)] = strdup(w[i])) == NULL)
				FAIL("out of memory");
		c->nchecks++;
	} else
		FAIL("unknown directive '%s'", w[0]);
	return 0;
}

int
conf_load(struct conf *c, const char *path, const char *self, const char **why)
{
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	int ln = 0, i, j, me;
	unsigned need_ms;

	memset(c, 0, sizeof *c);
	strcpy(c->group, "default");
	c->port = 7400;
	c->interval_ms = 100;
	c->dead = 3;
	c->preempt = 1;
	c->lease_s = 2;
	c->witness_ms = 50;
	c->realtime = 1;
	c->announce_ms[0] = 0;
	c->announce_ms[1] = 20;
	c->announce_ms[2] = 200;
	c->announce_ms[3] = 2000;
	c->nannounce = 4;
	*why = whybuf;
	if ((f = fopen(path, "re")) == NULL) {
		snprintf(whybuf, sizeof whybuf, "unable to open %s: %s", path,
		    strerror(errno));
		return -1;
	}
	while (getline(&line, &cap, f) != -1) {
		char *w[HB_MAXARGS + 4];
		const char *kwhy;
		int n;
		size_t len = strlen(line);
		ln++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > 4096) {
			fail(path, ln, "line too long");
			goto bad;
		}
		if ((n = kv_words(line, w, HB_MAXARGS + 4, &kwhy)) == -1) {
			fail(path, ln, "%s", kwhy);
			goto bad;
		}
		if (n == 0)
			continue;
		if (directive(c, path, ln, w, n) == -1)
			goto bad;
	}
	if (ferror(f)) {
		fail(path, 0, "read error");
		goto bad;
	}
	free(line);
	fclose(f);
	line = NULL;

	if (self != NULL) {
		if (!name_ok(self))
			return fail(path, 0, "bad node name '%s' given with -N", self);
		strcpy(c->self, self);
	}
	if (c->ifname[0] == '\0')
		return fail(path, 0, "no interface");
	if (c->keyfile[0] == '\0')
		return fail(path, 0, "no key: heartbeats must be authenticated (key FILE)");
	if (c->nnodes < 2)
		return fail(path, 0, "a group needs 2 to 8 nodes");
	if (c->self[0] == '\0')
		return fail(path, 0, "no self: name this node with 'self NAME' or -N");
	if ((me = conf_node(c, c->self)) < 0)
		return fail(path, 0, "self '%s' is not a node of the group", c->self);
	if (c->nvips == 0)
		return fail(path, 0, "no virtual address (vip ADDRESS)");
	for (i = 0; i < c->nnodes; i++) {
		if (c->nodes[i].npath != c->nodes[me].npath)
			return fail(path, 0, "node '%s' has another number of heartbeat paths than self", c->nodes[i].name);
		for (j = 0; j < c->nodes[i].npath; j++) {
			int k, m;
			if (c->nodes[i].path[j].family != c->nodes[me].path[j].family)
				return fail(path, 0, "node '%s' mixes address families on one path", c->nodes[i].name);
			for (k = 0; k < i; k++)
				for (m = 0; m < c->nodes[k].npath; m++)
					if (addr_eq(&c->nodes[k].path[m], &c->nodes[i].path[j]))
						return fail(path, 0, "node '%s' shares an address with another node", c->nodes[i].name);
		}
	}
	for (i = 0; i < c->nvips; i++)
		for (j = 0; j < i; j++)
			if (addr_eq(&c->vips[i], &c->vips[j]))
				return fail(path, 0, "virtual address listed twice");
	/* A lease shorter than a dead master's detection would let it lapse under a live one. */
	need_ms = c->interval_ms * c->dead;
	if ((unsigned long)c->lease_s * 1000 < 2UL * need_ms)
		return fail(path, 0, "lease must be at least twice interval x dead");
	if (c->quorum > c->nnodes)
		return fail(path, 0, "quorum %d is more than the group's %d nodes", c->quorum, c->nnodes);
	if (c->quorum == 0)	/* a majority; a two-node group has a witness instead */
		c->quorum = c->nnodes == 2 ? 1 : c->nnodes / 2 + 1;
	if (c->has_witness && c->nnodes != 2)
		return fail(path, 0, "witness is for two-node groups; larger groups decide by majority");
	return 0;
bad:
	free(line);
	fclose(f);
	return -1;
}

void
conf_free(struct conf *c)
{
	int i, j;

	for (i = 0; i < c->nhooks; i++)
		for (j = 0; c->hooks[i].argv[j]; j++)
			free(c->hooks[i].argv[j]);
	c->nhooks = 0;
	for (i = 0; i < c->nchecks; i++)
		for (j = 0; c->checks[i].argv[j]; j++)
			free(c->checks[i].argv[j]);
	c->nchecks = 0;
}
