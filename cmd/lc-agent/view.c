/*
 * lc-agent: the NONSTOP-MIB view. Every read builds (at most every 100 ms)
 * a sorted snapshot of all instances from live state and answers GET and
 * GETNEXT from it; SETs of the role objects go through the agent's
 * RESERVE/ACTION/UNDO/COMMIT phases so that a refused request changes
 * nothing and an accepted one replaces the role file in one rename.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <net-snmp/agent/net-snmp-agent-includes.h>

#include "atomic.h"
#include "err.h"
#include "kv.h"
#include "lcagent.h"

#define MAXSVC 256
#define MAXEVENTS 64
#define CONFIG_MAX 16384

static const oid base[] = { 1, 3, 6, 1, 4, 1, 8072, 9999, 9999, 6678 };
#define BASELEN (sizeof base / sizeof base[0])
static const oid trap_oid[] = { 1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0 };

struct var {
	oid name[BASELEN + 8];
	size_t len;
	u_char type;
	long i;
	struct counter64 c;
	unsigned char *s;
	size_t slen;
};

static struct var *vars;
static size_t nvars, cap;
static struct timespec built;
/* The snapshot's view of state, kept for SET checks and notifications. */
static struct role cur_role;
static int cur_valid;
static char *cur_text;
static struct {
	char name[ROLE_NAMELEN];
	int status;
} prev_rs[1024];
static size_t nprev_rs;
static int prev_kind = -1;

struct conf conf;
struct agent agent;

static void
var_reset(void)
{
	size_t k;

	for (k = 0; k < nvars; k++)
		free(vars[k].s);
	nvars = 0;
}

static struct var *
var_add(const oid *sub, size_t sublen, u_char type)
{
	struct var *v;

	if (nvars == cap) {
		size_t ncap = cap ? cap * 2 : 256;
		struct var *n = realloc(vars, ncap * sizeof *n);
		if (n == NULL)
			return NULL;
		vars = n, cap = ncap;
	}
	v = &vars[nvars++];
	memset(v, 0, sizeof *v);
	memcpy(v->name, base, sizeof base);
	memcpy(v->name + BASELEN, sub, sublen * sizeof *sub);
	v->len = BASELEN + sublen;
	v->type = type;
	return v;
}

static void
add_int(const oid *sub, size_t sublen, u_char type, long val)
{
	struct var *v = var_add(sub, sublen, type);
	if (v != NULL)
		v->i = val;
}

static void
add_c64(const oid *sub, size_t sublen, uint64_t val)
{
	struct var *v = var_add(sub, sublen, ASN_COUNTER64);
	if (v != NULL) {
		v->c.high = (u_long)(val >> 32);
		v->c.low = (u_long)(val & 0xffffffffu);
	}
}

static void
add_str(const oid *sub, size_t sublen, const void *s, size_t len)
{
	struct var *v = var_add(sub, sublen, ASN_OCTET_STR);
	if (v == NULL)
		return;
	if ((v->s = malloc(len + 1)) == NULL) {
		nvars--;
		return;
	}
	memcpy(v->s, s, len);
	v->slen = len;
}

#define S(...) ((const oid[]){ __VA_ARGS__ }), \
	(sizeof((const oid[]){ __VA_ARGS__ }) / sizeof(oid))

static int
var_cmp(const void *a, const void *b)
{
	const struct var *x = a, *y = b;
	return snmp_oid_compare(x->name, x->len, y->name, y->len);
}

static int
kind_mib(enum role_kind k)
{
	switch (k) {
	case ROLE_LB: return 2;
	case ROLE_BS: return 3;
	case ROLE_RS: return 4;
	default: return 1;
	}
}

/* The services this host serves as a real server, with their ports. */
static size_t
rs_services(const struct role *r, const char *host, uint16_t *ports)
{
	const struct role_host *me;
	size_t k, n = 0;

	if (r->kind != ROLE_RS || (me = role_rs(r, host)) == NULL)
		return 0;
	for (k = 0; k < r->nsvc && n < MAXSVC; k++)
		ports[n++] = me->port ? me->port : r->svc[k].port;
	return n;
}

static void
addr_bytes(const struct addr *a, long *type, const unsigned char **b, size_t *len)
{
	if (a->family == AF_INET6) {
		*type = 2, *b = a->u.b, *len = 16;
	} else if (a->family == AF_INET) {
		*type = 1, *b = a->u.b, *len = 4;
	} else {
		*type = 0, *b = a->u.b, *len = 0;
	}
}

static int
event_type(const char *e)
{
	static const char *const names[] = { "", "other", "rs-down", "rs-up",
	    "weight", "takeover", "giveback", "role" };
	int k;

	for (k = 2; k < 8; k++)
		if (strcmp(e, names[k]) == 0)
			return k;
	return 1;
}

/* The last MAXEVENTS lines of the event log as nsEventTable rows. */
static void
build_events(void)
{
	char path[4096], *buf, *lines[MAXEVENTS], *p, *save = NULL;
	size_t n = 0, k, first = 0;
	off_t size, off;
	ssize_t got;
	int fd;
	struct stat st;

	snprintf(path, sizeof path, "%s/events", conf.statedir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	if (fstat(fd, &st) == -1 || (buf = malloc(65537)) == NULL) {
		close(fd);
		return;
	}
	size = st.st_size;
	off = size > 65536 ? size - 65536 : 0;
	got = pread(fd, buf, 65536, off);
	close(fd);
	if (got <= 0) {
		free(buf);
		return;
	}
	buf[got] = '\0';
	p = buf;
	if (off > 0 && (p = strchr(buf, '\n')) != NULL)
		p++;	/* skip the partial first line */
	for (p = strtok_r(p, "\n", &save); p != NULL; p = strtok_r(NULL, "\n", &save)) {
		lines[n % MAXEVENTS] = p;
		n++;
	}
	if (n > MAXEVENTS)
		first = n - MAXEVENTS;
	for (k = first; k < n; k++) {
		oid idx = (oid)(k - first + 1);
		struct kv_rec rec;
		const char *why, *ev, *subj, *t;
		unsigned char dt[8];
		char *text = lines[k % MAXEVENTS];

		if (kv_parse(&rec, text, &why) == -1)
			continue;
		ev = kv_get(&rec, "event");
		subj = kv_get(&rec, "rs");
		if (subj == NULL)
			subj = kv_get(&rec, "subject");
		if (subj == NULL)
			subj = "";
		t = kv_get(&rec, "time");
		date_and_time(t ? (time_t)strtoll(t, NULL, 10) : 0, dt);
		add_str(S(1, 5, 1, 1, 2, idx), dt, 8);
		add_int(S(1, 5, 1, 1, 3, idx), ASN_INTEGER, event_type(ev ? ev : ""));
		add_str(S(1, 5, 1, 1, 4, idx), subj, strlen(subj));
		add_str(S(1, 5, 1, 1, 5, idx), text, strlen(text) > 255 ? 255 : strlen(text));
		kv_free(&rec);
	}
	free(buf);
}

static void
send_rs_notification(int up, const struct role_host *h, oid idx, const char *reason)
{
	oid notif[BASELEN + 2], o[BASELEN + 6];
	netsnmp_variable_list *vl = NULL;
	const unsigned char *b;
	size_t blen;
	long at;

	memcpy(notif, base, sizeof base);
	notif[BASELEN] = 0;
	notif[BASELEN + 1] = up ? 2 : 1;
	snmp_varlist_add_variable(&vl, trap_oid, OID_LENGTH(trap_oid),
	    ASN_OBJECT_ID, (const u_char *)notif, sizeof notif);
	memcpy(o, base, sizeof base);
	o[BASELEN] = 1, o[BASELEN + 1] = 2, o[BASELEN + 2] = 2;
	o[BASELEN + 3] = 1, o[BASELEN + 5] = idx;
	o[BASELEN + 4] = 2;
	snmp_varlist_add_variable(&vl, o, BASELEN + 6, ASN_OCTET_STR,
	    (const u_char *)h->name, strlen(h->name));
	addr_bytes(&h->addr, &at, &b, &blen);
	o[BASELEN + 4] = 3;
	snmp_varlist_add_variable(&vl, o, BASELEN + 6, ASN_INTEGER,
	    (const u_char *)&at, sizeof at);
	o[BASELEN + 4] = 4;
	snmp_varlist_add_variable(&vl, o, BASELEN + 6, ASN_OCTET_STR, b, blen);
	if (!up) {
		o[BASELEN + 4] = 8;
		snmp_varlist_add_variable(&vl, o, BASELEN + 6, ASN_OCTET_STR,
		    (const u_char *)reason, strlen(reason));
	}
	send_v2trap(vl);
	snmp_free_varbind(vl);
}

static void
send_takeover(const struct role *r)
{
	oid notif[BASELEN + 2], o[BASELEN + 4];
	netsnmp_variable_list *vl = NULL;
	long kind = kind_mib(r->kind);

	memcpy(notif, base, sizeof base);
	notif[BASELEN] = 0, notif[BASELEN + 1] = 3;
	snmp_varlist_add_variable(&vl, trap_oid, OID_LENGTH(trap_oid),
	    ASN_OBJECT_ID, (const u_char *)notif, sizeof notif);
	memcpy(o, base, sizeof base);
	o[BASELEN] = 1, o[BASELEN + 1] = 1, o[BASELEN + 3] = 0;
	o[BASELEN + 2] = 1;
	snmp_varlist_add_variable(&vl, o, BASELEN + 4, ASN_OCTET_STR,
	    (const u_char *)r->host, strlen(r->host));
	o[BASELEN + 2] = 2;
	snmp_varlist_add_variable(&vl, o, BASELEN + 4, ASN_INTEGER,
	    (const u_char *)&kind, sizeof kind);
	o[BASELEN + 2] = 4;
	snmp_varlist_add_variable(&vl, o, BASELEN + 4, ASN_OCTET_STR,
	    (const u_char *)r->cluster, strlen(r->cluster));
	send_v2trap(vl);
	snmp_free_varbind(vl);
}

/* Rebuild the snapshot from the role file, rs-probe's state and the kernel. */
static void
build(void)
{
	char why[256], path[4096];
	struct probe probe;
	uint16_t ports[MAXSVC];
	int listening[MAXSVC];
	unsigned long est[MAXSVC], total = 0, up = 0;
	size_t nsvc, k, len;
	double la[1] = { 0 };
	const struct dpview *dpv;
	const char *host;
	int rstatus, lbsource = 1;

	clock_gettime(CLOCK_MONOTONIC, &built);
	var_reset();
	if (cur_valid)
		role_free(&cur_role);
	cur_valid = 0;
	free(cur_text);
	cur_text = atomic_read(conf.rolefile, CONFIG_MAX + 1, &len);
	if (cur_text != NULL && role_parse(cur_text, &cur_role, why, sizeof why) == 0) {
		cur_valid = 1;
	} else if (cur_text != NULL) {
		snprintf(agent.error, sizeof agent.error, "%.100s: %.150s", conf.rolefile, why);
	}
	if (!cur_valid)
		memset(&cur_role, 0, sizeof cur_role);
	host = cur_valid ? cur_role.host : conf.host;

	rstatus = agent.status;
	if (!cur_valid)
		rstatus = cur_text != NULL ? RSTAT_FAILED : RSTAT_UNCONF;
	else if (rstatus == RSTAT_UNCONF || (agent.unapplied && agent.child == 0))
		rstatus = RSTAT_CONF;	/* written, not (yet) applied */

	add_str(S(1, 1, 1, 0), host, strlen(host));
	add_int(S(1, 1, 2, 0), ASN_INTEGER, kind_mib(cur_role.kind));
	add_int(S(1, 1, 3, 0), ASN_INTEGER, rstatus);
	add_str(S(1, 1, 4, 0), cur_role.cluster, strlen(cur_role.cluster));
	add_int(S(1, 1, 5, 0), ASN_UNSIGNED, (long)(cur_role.generation & 0xffffffffu));
	if (cur_text != NULL && len <= CONFIG_MAX)
		add_str(S(1, 1, 6, 0), cur_text, len);
	else
		add_str(S(1, 1, 6, 0), "", 0);
	add_str(S(1, 1, 7, 0), agent.error, strlen(agent.error));
	if (getloadavg(la, 1) < 1)
		la[0] = 0;
	add_int(S(1, 1, 8, 0), ASN_GAUGE, (long)(la[0] * 100 + 0.5));

	nsvc = rs_services(&cur_role, host, ports);
	if (sockdiag_count(ports, nsvc, listening, est) == -1)
		err_warn("sock_diag:");
	for (k = 0; k < nsvc; k++) {
		oid i = (oid)(k + 1);
		const char *name = cur_role.svc[k].name;
		add_str(S(1, 3, 1, 1, 2, i), name, strlen(name));
		add_int(S(1, 3, 1, 1, 3, i), ASN_UNSIGNED, ports[k]);
		add_int(S(1, 3, 1, 1, 4, i), ASN_INTEGER, listening[k] ? 2 : 3);
		add_int(S(1, 3, 1, 1, 5, i), ASN_GAUGE, (long)est[k]);
		total += est[k];
		up += listening[k] != 0;
	}
	add_int(S(1, 1, 9, 0), ASN_GAUGE, (long)nsvc);
	add_int(S(1, 1, 10, 0), ASN_GAUGE, (long)up);
	add_int(S(1, 1, 11, 0), ASN_GAUGE, (long)total);

	snprintf(path, sizeof path, "%s/rs-probe.state", conf.statedir);
	memset(&probe, 0, sizeof probe);
	if (cur_role.kind == ROLE_LB && probe_load(&probe, path) == 0)
		lbsource = 2;
	add_int(S(1, 2, 1, 0), ASN_INTEGER, lbsource);
	/* The kernel's table, as lc-role set it up, read back. */
	dpv = cur_role.kind == ROLE_LB ? dpview_get() : NULL;
	add_int(S(1, 2, 3, 0), ASN_INTEGER, dpv ? dpv->kind : DPV_NONE);
	for (k = 0; cur_role.kind == ROLE_LB && k < cur_role.nrs; k++) {
		const struct role_host *h = &cur_role.rs[k];
		const struct probe_rs *p = probe_find(&probe, h->name);
		const unsigned char *b;
		const char *reason = p ? p->reason : "";
		unsigned char dt[8];
		unsigned long act = p ? p->conns : 0, inact = p ? p->inactive : 0;
		unsigned long kact, kinact;
		size_t blen, j;
		long at, weight = p && p->weight >= 0 ? p->weight : h->weight;
		oid i = (oid)(k + 1);
		int st = p ? p->status : 1, kw;
		int in = dpview_rs(dpv, &cur_role, h, &kw, &kact, &kinact);

		if (in == DPR_PRESENT) {
			weight = kw;
			/* IPVS counts connections; nft keeps no such counts. */
			if (dpv->kind == DPV_IPVS && !p)
				act = kact, inact = kinact;
		} else if (in == DPR_ABSENT) {
			st = 3;
			reason = "not-in-dataplane";
		}

		addr_bytes(&h->addr, &at, &b, &blen);
		add_str(S(1, 2, 2, 1, 2, i), h->name, strlen(h->name));
		add_int(S(1, 2, 2, 1, 3, i), ASN_INTEGER, at);
		add_str(S(1, 2, 2, 1, 4, i), b, blen);
		add_int(S(1, 2, 2, 1, 5, i), ASN_UNSIGNED, h->port);
		add_int(S(1, 2, 2, 1, 6, i), ASN_INTEGER, weight);
		add_int(S(1, 2, 2, 1, 7, i), ASN_INTEGER, st);
		add_str(S(1, 2, 2, 1, 8, i), reason, strlen(reason));
		add_int(S(1, 2, 2, 1, 9, i), ASN_GAUGE, (long)act);
		add_int(S(1, 2, 2, 1, 10, i), ASN_GAUGE, (long)inact);
		add_int(S(1, 2, 2, 1, 11, i), ASN_GAUGE, p ? (long)p->load : 0);
		date_and_time(p ? p->since : 0, dt);
		add_str(S(1, 2, 2, 1, 12, i), dt, 8);
		add_c64(S(1, 2, 2, 1, 13, i), p ? p->checks : 0);
		add_c64(S(1, 2, 2, 1, 14, i), p ? p->failures : 0);
		add_int(S(1, 2, 2, 1, 15, i), ASN_INTEGER, in);

		/* Notifications on the prober's transitions. */
		for (j = 0; j < nprev_rs; j++)
			if (strcmp(prev_rs[j].name, h->name) == 0)
				break;
		if (j < nprev_rs && prev_rs[j].status != st) {
			if (st == 3)
				send_rs_notification(0, h, i, reason);
			else if (st == 2 && prev_rs[j].status == 3)
				send_rs_notification(1, h, i, "");
		}
		if (j == nprev_rs && nprev_rs < sizeof prev_rs / sizeof prev_rs[0]) {
			snprintf(prev_rs[j].name, sizeof prev_rs[j].name, "%s", h->name);
			nprev_rs++;
		}
		if (j < nprev_rs)
			prev_rs[j].status = st;
	}
	add_c64(S(1, 4, 1, 0), agent.sets);
	add_c64(S(1, 4, 2, 0), agent.refused);
	add_c64(S(1, 4, 3, 0), agent.applies);
	add_c64(S(1, 4, 4, 0), agent.apply_fail);
	add_c64(S(1, 4, 5, 0), probe.sweeps);
	add_c64(S(1, 4, 6, 0), probe.down_events);
	add_c64(S(1, 4, 7, 0), probe.up_events);
	probe_free(&probe);
	build_events();

	if (cur_valid) {
		if (prev_kind == ROLE_BS && cur_role.kind == ROLE_LB) {
			event_log("takeover", cur_role.host, "cluster=%s", cur_role.cluster);
			send_takeover(&cur_role);
		}
		prev_kind = cur_role.kind;
	}
	qsort(vars, nvars, sizeof *vars, var_cmp);
}

static void
build_if_stale(void)
{
	struct timespec now;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - built.tv_sec) * 1000 + (now.tv_nsec - built.tv_nsec) / 1000000;
	if (nvars == 0 || ms >= 100 || ms < 0)
		build();
}

/* First var whose name is > (or >= when inclusive) name; NULL if none. */
static const struct var *
find_next(const oid *name, size_t len, int inclusive)
{
	size_t lo = 0, hi = nvars;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = snmp_oid_compare(vars[mid].name, vars[mid].len, name, len);
		if (c < 0 || (c == 0 && !inclusive))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < nvars ? &vars[lo] : NULL;
}

static void
set_value(netsnmp_variable_list *vb, const struct var *v)
{
	switch (v->type) {
	case ASN_OCTET_STR:
		snmp_set_var_typed_value(vb, v->type, v->s, v->slen);
		break;
	case ASN_COUNTER64:
		snmp_set_var_typed_value(vb, v->type, &v->c, sizeof v->c);
		break;
	default:
		snmp_set_var_typed_integer(vb, v->type, v->i);
		break;
	}
}

/* ---- SET ---------------------------------------------------------------- */

enum { W_NONE, W_ROLE, W_CONFIG, W_WEIGHT };

static struct {
	char *newtext;		/* what the role file becomes */
	char *oldtext;		/* what it was (NULL: there was none) */
	int changed, written;
	char what[64];
} pend;

static int
which(const netsnmp_variable_list *vb, oid *idx)
{
	if (vb->name_length == BASELEN + 4 &&
	    snmp_oid_compare(vb->name, BASELEN, base, BASELEN) == 0 &&
	    vb->name[BASELEN] == 1 && vb->name[BASELEN + 1] == 1 &&
	    vb->name[BASELEN + 3] == 0) {
		if (vb->name[BASELEN + 2] == 2)
			return W_ROLE;
		if (vb->name[BASELEN + 2] == 6)
			return W_CONFIG;
	}
	if (vb->name_length == BASELEN + 6 &&
	    snmp_oid_compare(vb->name, BASELEN, base, BASELEN) == 0 &&
	    vb->name[BASELEN] == 1 && vb->name[BASELEN + 1] == 2 &&
	    vb->name[BASELEN + 2] == 2 && vb->name[BASELEN + 3] == 1 &&
	    vb->name[BASELEN + 4] == 6) {
		*idx = vb->name[BASELEN + 5];
		return W_WEIGHT;
	}
	return W_NONE;
}

/* The role file text with real server number idx's weight set to w. */
static char *
with_weight(const char *text, size_t idx, long w)
{
	size_t cap2 = strlen(text) + 64, len = 0, nrs = 0;
	char *out = malloc(cap2), *copy = strdup(text), *line, *save = NULL;
	const char *why;

	if (out == NULL || copy == NULL)
		goto fail;
	out[0] = '\0';
	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		struct kv_rec rec;
		if (kv_parse(&rec, line, &why) == -1)
			goto fail;
		if (rec.n > 0 && strcmp(rec.v[0].key, "rs") == 0 && ++nrs == idx) {
			char num[32], *p = out + len;
			size_t k, room;
			int n;
			snprintf(num, sizeof num, "%ld", w);
			for (k = 0; k < rec.n; k++) {
				room = cap2 - len;
				n = kv_sput(p, room, k == 0, rec.v[k].key,
				    strcmp(rec.v[k].key, "weight") == 0 ? num : rec.v[k].val);
				if (n < 0 || (size_t)n >= room) {
					kv_free(&rec);
					goto fail;
				}
				len += (size_t)n, p += n;
			}
			if (kv_get(&rec, "weight") == NULL) {
				room = cap2 - len;
				n = kv_sput(p, room, 0, "weight", num);
				if (n < 0 || (size_t)n >= room) {
					kv_free(&rec);
					goto fail;
				}
				len += (size_t)n;
			}
			out[len++] = '\n';
			out[len] = '\0';
		} else {
			size_t l = strlen(line);
			if (len + l + 2 > cap2) {
				kv_free(&rec);
				goto fail;
			}
			memcpy(out + len, line, l);
			len += l;
			out[len++] = '\n';
			out[len] = '\0';
		}
		kv_free(&rec);
	}
	free(copy);
	return out;
fail:
	free(out);
	free(copy);
	return NULL;
}

static void
pend_free(void)
{
	free(pend.newtext);
	free(pend.oldtext);
	memset(&pend, 0, sizeof pend);
}

static void
refuse(netsnmp_agent_request_info *ri, netsnmp_request_info *r, int e)
{
	netsnmp_set_request_error(ri, r, e);
}

/* RESERVE1: each varbind alone: writable object, type, size, syntax. */
static int
set_reserve1(netsnmp_agent_request_info *ri, netsnmp_request_info *reqs)
{
	netsnmp_request_info *r;
	char why[256];
	int bad = 0;

	build();	/* decide against the current state, not a stale one */
	for (r = reqs; r != NULL; r = r->next) {
		netsnmp_variable_list *vb = r->requestvb;
		struct role tmp;
		char *text;
		oid idx = 0;
		int e = SNMP_ERR_NOERROR;

		switch (which(vb, &idx)) {
		case W_ROLE:
			if ((e = netsnmp_check_vb_type(vb, ASN_INTEGER)) != 0)
				break;
			if (*vb->val.integer < 1 || *vb->val.integer > 4)
				e = SNMP_ERR_WRONGVALUE;
			break;
		case W_CONFIG:
			if ((e = netsnmp_check_vb_type(vb, ASN_OCTET_STR)) != 0)
				break;
			if (vb->val_len > CONFIG_MAX) {
				e = SNMP_ERR_WRONGLENGTH;
				break;
			}
			if ((text = malloc(vb->val_len + 1)) == NULL) {
				e = SNMP_ERR_RESOURCEUNAVAILABLE;
				break;
			}
			memcpy(text, vb->val.string, vb->val_len);
			text[vb->val_len] = '\0';
			if (strlen(text) != vb->val_len ||
			    role_parse(text, &tmp, why, sizeof why) == -1) {
				err_warn("refused role config: %s",
				    strlen(text) != vb->val_len ? "NUL byte" : why);
				e = SNMP_ERR_WRONGVALUE;
			} else {
				role_free(&tmp);
			}
			free(text);
			break;
		case W_WEIGHT:
			if (!cur_valid || cur_role.kind != ROLE_LB || idx < 1 ||
			    idx > cur_role.nrs) {
				e = SNMP_ERR_NOCREATION;
				break;
			}
			if ((e = netsnmp_check_vb_type(vb, ASN_INTEGER)) != 0)
				break;
			if (*vb->val.integer < 0 || *vb->val.integer > ROLE_WEIGHT_MAX)
				e = SNMP_ERR_WRONGVALUE;
			break;
		default: {
			const struct var *v = find_next(vb->name, vb->name_length, 1);
			e = v != NULL && snmp_oid_compare(v->name, v->len, vb->name,
			    vb->name_length) == 0 ? SNMP_ERR_NOTWRITABLE :
			    SNMP_ERR_NOCREATION;
			break;
		}
		}
		if (e != SNMP_ERR_NOERROR) {
			refuse(ri, r, e);
			bad = 1;
		}
	}
	return bad;
}

/* RESERVE2: all varbinds together against the current file: the new text. */
static int
set_reserve2(netsnmp_agent_request_info *ri, netsnmp_request_info *reqs)
{
	netsnmp_request_info *r, *rrole = NULL, *rconf = NULL, *rw = NULL;
	const char *curtext = cur_text != NULL ? cur_text : "";
	struct role nr;
	char why[256], *text = NULL;
	const char *me = cur_valid ? cur_role.host : conf.host;
	oid idx = 0;
	int nw = 0;

	for (r = reqs; r != NULL; r = r->next) {
		oid i;
		switch (which(r->requestvb, &i)) {
		case W_ROLE: rrole = r; break;
		case W_CONFIG: rconf = r; break;
		case W_WEIGHT: rw = r, idx = i, nw++; break;
		}
	}
	pend_free();
	if (rconf != NULL) {
		netsnmp_variable_list *vb = rconf->requestvb;
		if (rw != NULL) {
			refuse(ri, rw, SNMP_ERR_INCONSISTENTVALUE);
			return 1;
		}
		/* A file ends with a newline; "$(cat file)" in a shell drops it. */
		if ((text = malloc(vb->val_len + 2)) != NULL) {
			memcpy(text, vb->val.string, vb->val_len);
			text[vb->val_len] = '\0';
			if (vb->val_len > 0 && text[vb->val_len - 1] != '\n')
				strcpy(text + vb->val_len, "\n");
		}
		if (text == NULL || role_parse(text, &nr, why, sizeof why) == -1) {
			free(text);
			refuse(ri, rconf, SNMP_ERR_RESOURCEUNAVAILABLE);
			return 1;
		}
		if (strcmp(nr.host, me) != 0) {
			err_warn("refused role config: host %s, this is %s", nr.host, me);
			goto inconsistent;
		}
		if (cur_valid && nr.generation < cur_role.generation) {
			err_warn("refused role config: generation %lu older than %lu",
			    nr.generation, cur_role.generation);
			goto inconsistent;
		}
		if (cur_valid && nr.generation == cur_role.generation &&
		    strcmp(text, curtext) != 0) {
			err_warn("refused role config: generation %lu with other content",
			    nr.generation);
			goto inconsistent;
		}
		if (rrole != NULL && *rrole->requestvb->val.integer != kind_mib(nr.kind)) {
			role_free(&nr);
			free(text);
			err_warn("refused: nsHostRole disagrees with nsHostRoleConfig");
			refuse(ri, rrole, SNMP_ERR_INCONSISTENTVALUE);
			return 1;
		}
		snprintf(pend.what, sizeof pend.what, "change=config generation=%lu",
		    nr.generation);
		role_free(&nr);
	} else if (rrole != NULL) {
		long want = *rrole->requestvb->val.integer;
		if (rw != NULL) {
			refuse(ri, rw, SNMP_ERR_INCONSISTENTVALUE);
			return 1;
		}
		if (want == kind_mib(cur_valid ? cur_role.kind : ROLE_NONE) && cur_text) {
			text = strdup(curtext);
		} else if (want == 1) {
			char line[256];
			int n = snprintf(line, sizeof line, "role=none");
			n += kv_sput(line + n, sizeof line - (size_t)n, 0, "host", me);
			snprintf(line + n, sizeof line - (size_t)n,
			    " generation=%lu version=1\n", cur_role.generation);
			text = strdup(line);
		} else {
			err_warn("refused: role %ld needs nsHostRoleConfig", want);
			refuse(ri, rrole, SNMP_ERR_INCONSISTENTVALUE);
			return 1;
		}
		snprintf(pend.what, sizeof pend.what, "change=role role=%ld", want);
	} else if (rw != NULL) {
		char *t = NULL;
		if (nw > 1) {
			/* Several weights at once: apply them in turn. */
			t = strdup(curtext);
			for (r = reqs; r != NULL && t != NULL; r = r->next) {
				oid i;
				if (which(r->requestvb, &i) == W_WEIGHT) {
					char *n2 = with_weight(t, i, *r->requestvb->val.integer);
					free(t);
					t = n2;
				}
			}
		} else {
			t = with_weight(curtext, idx, *rw->requestvb->val.integer);
		}
		if (t == NULL || role_parse(t, &nr, why, sizeof why) == -1) {
			free(t);
			refuse(ri, rw, SNMP_ERR_INCONSISTENTVALUE);
			return 1;
		}
		role_free(&nr);
		text = t;
		snprintf(pend.what, sizeof pend.what, "change=weight rs=%lu", (unsigned long)idx);
	} else {
		return 0;
	}
	if (text == NULL) {
		refuse(ri, reqs, SNMP_ERR_RESOURCEUNAVAILABLE);
		return 1;
	}
	pend.newtext = text;
	pend.oldtext = cur_text != NULL ? strdup(cur_text) : NULL;
	/* A write whose commit never came (the master timed out and dropped
	 * us) left the file unapplied: the same text again must apply it. */
	pend.changed = cur_text == NULL || strcmp(text, cur_text) != 0 ||
	    agent.unapplied;
	return 0;
inconsistent:
	role_free(&nr);
	free(text);
	refuse(ri, rconf, SNMP_ERR_INCONSISTENTVALUE);
	return 1;
}

static int
handler(netsnmp_mib_handler *h, netsnmp_handler_registration *reg,
    netsnmp_agent_request_info *ri, netsnmp_request_info *reqs)
{
	netsnmp_request_info *r;
	const struct var *v;

	switch (ri->mode) {
	case MODE_GET:
		build_if_stale();
		for (r = reqs; r != NULL; r = r->next) {
			netsnmp_variable_list *vb = r->requestvb;
			v = find_next(vb->name, vb->name_length, 1);
			if (v != NULL && snmp_oid_compare(v->name, v->len,
			    vb->name, vb->name_length) == 0)
				set_value(vb, v);
			else
				netsnmp_set_request_error(ri, r, SNMP_NOSUCHINSTANCE);
		}
		break;
	case MODE_GETNEXT:
		build_if_stale();
		for (r = reqs; r != NULL; r = r->next) {
			netsnmp_variable_list *vb = r->requestvb;
			v = find_next(vb->name, vb->name_length, r->inclusive);
			if (v == NULL)
				continue;	/* past our last: the agent moves on */
			snmp_set_var_objid(vb, v->name, v->len);
			set_value(vb, v);
		}
		break;
	case MODE_SET_RESERVE1:
		if (set_reserve1(ri, reqs))
			agent.refused++;
		break;
	case MODE_SET_RESERVE2:
		if (set_reserve2(ri, reqs))
			agent.refused++;
		break;
	case MODE_SET_ACTION:
		if (pend.newtext != NULL && pend.changed) {
			if (atomic_write_str(conf.rolefile, pend.newtext, 0644) == -1) {
				err_warn("unable to write %s:", conf.rolefile);
				netsnmp_set_request_error(ri, reqs, SNMP_ERR_COMMITFAILED);
				break;
			}
			pend.written = 1;
			agent.unapplied = 1;
		}
		break;
	case MODE_SET_UNDO:
		if (pend.written) {
			if (pend.oldtext != NULL)
				(void)atomic_write_str(conf.rolefile, pend.oldtext, 0644);
			else
				(void)unlink(conf.rolefile);
			agent.unapplied = 0;
		}
		pend_free();
		break;
	case MODE_SET_COMMIT:
		if (pend.newtext != NULL) {
			agent.sets++;
			if (pend.changed) {
				event_log("role", conf.host, "%s", pend.what);
				err_info("role file replaced (%s)", pend.what);
			}
			agent.unapplied = 0;
			if (pend.changed || agent.status != RSTAT_ACTIVE)
				apply_start();
			nvars = 0;	/* rebuild on next read */
		}
		pend_free();
		break;
	case MODE_SET_FREE:
		pend_free();
		break;
	}
	return SNMP_ERR_NOERROR;
}

int
view_register(void)
{
	netsnmp_handler_registration *reg;
	oid root[BASELEN + 1];

	memcpy(root, base, sizeof base);
	root[BASELEN] = 1;	/* nsObjects */
	reg = netsnmp_create_handler_registration("nonstop", handler, root,
	    BASELEN + 1, HANDLER_CAN_RWRITE);
	if (reg == NULL)
		return -1;
	return netsnmp_register_handler(reg) == MIB_REGISTERED_OK ? 0 : -1;
}

/* ---- the converger ------------------------------------------------------ */

void
apply_start(void)
{
	pid_t pid;

	if (agent.child > 0) {
		agent.pending = 1;
		return;
	}
	if (conf.lcrole == NULL || conf.lcrole[0] == '\0') {
		agent.status = RSTAT_CONF;
		return;
	}
	agent.applies++;
	if ((pid = fork()) == -1) {
		err_warn("fork:");
		agent.status = RSTAT_FAILED;
		agent.apply_fail++;
		snprintf(agent.error, sizeof agent.error, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		char apply[] = "apply", dashf[] = "-f";
		char *argv[] = { strdup(conf.lcrole), apply, dashf,
		    strdup(conf.rolefile), NULL };
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		closefrom(3);
		execvp(argv[0], argv);
		_exit(errno == ENOENT ? 127 : 126);
	}
	agent.child = (int)pid;
	agent.status = RSTAT_APPLYING;
	agent.error[0] = '\0';
}

/* 1 if the role file or rs-probe's state changed since the last look. */
static int
inputs_changed(void)
{
	static struct timespec role_m, probe_m;
	static ino_t role_i, probe_i;
	char path[4096];
	struct stat st;
	int changed = 0;

	memset(&st, 0, sizeof st);
	(void)stat(conf.rolefile, &st);
	if (st.st_ino != role_i || st.st_mtim.tv_sec != role_m.tv_sec ||
	    st.st_mtim.tv_nsec != role_m.tv_nsec)
		changed = 1;
	role_i = st.st_ino, role_m = st.st_mtim;
	snprintf(path, sizeof path, "%s/rs-probe.state", conf.statedir);
	memset(&st, 0, sizeof st);
	(void)stat(path, &st);
	if (st.st_ino != probe_i || st.st_mtim.tv_sec != probe_m.tv_sec ||
	    st.st_mtim.tv_nsec != probe_m.tv_nsec)
		changed = 1;
	probe_i = st.st_ino, probe_m = st.st_mtim;
	return changed;
}

void
view_tick(void)
{
	int st, reaped = 0;
	pid_t pid;

	if (agent.child > 0 && (pid = waitpid(agent.child, &st, WNOHANG)) == agent.child) {
		agent.child = 0;
		reaped = 1;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			agent.status = RSTAT_ACTIVE;
			agent.error[0] = '\0';
		} else if (WIFEXITED(st) && WEXITSTATUS(st) == 127) {
			/* No converger installed: the file is written, that is all. */
			agent.status = RSTAT_CONF;
			snprintf(agent.error, sizeof agent.error,
			    "%s not found: role file written, not applied", conf.lcrole);
		} else {
			agent.status = RSTAT_FAILED;
			agent.apply_fail++;
			if (WIFEXITED(st))
				snprintf(agent.error, sizeof agent.error,
				    "%s apply exited %d", conf.lcrole, WEXITSTATUS(st));
			else
				snprintf(agent.error, sizeof agent.error,
				    "%s apply killed by signal %d", conf.lcrole, WTERMSIG(st));
			err_warn("%s", agent.error);
		}
		if (agent.pending) {
			agent.pending = 0;
			apply_start();
		}
	}
	/* Idle hosts only stat two files: notifications need a rebuild only
	 * when what they are made from changed. */
	if (inputs_changed() || reaped)
		build_if_stale();
}
