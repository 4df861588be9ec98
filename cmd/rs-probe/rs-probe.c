/*
 * rs-probe: on the load balancer, poll every real server's lc-agent over
 * SNMPv3 (async, fixed engine IDs) and check its services directly; print
 * one event line per state or weight change for lc-role follow.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "err.h"
#include "http.h"
#include "kv.h"
#include "mux.h"
#include "role.h"
#include "snmp_sess.h"
#include "usmfast.h"

#define MAXCHK 16
#define STATE_EVERY 10000	/* ms between writes of an unchanged state file */

enum { ST_UNKNOWN = 1, ST_UP, ST_DOWN };
enum { C_CONNECT, C_READ, C_DONE };

struct rs;

struct chk {
	struct rs *owner;
	int fd, phase, ok;
	uint16_t port;
	char buf[HTTP_LINE_MAX];
	size_t got;
	const char *reason;
	char rbuf[32];
};

struct rs {
	struct role_host h;
	char peer[80], engine[ROLE_NAMELEN];
	void *sess;
	int slot;		/* on the shared socket (mux), or -1: its own */
	int reqid, snmp_done, snmp_ok;
	char snmp_reason[40];
	unsigned long load, conns, nsvc, nsvc_up;
	struct chk chk[MAXCHK];
	size_t nchk, pending;
	/* decided state */
	int status, okrun, failrun, weight;
	char reason[40];
	uint64_t checks, failures;
	time_t since;
};

static struct {
	const char *rolefile, *creds, *statedir, *path, *engines;
	unsigned interval, timeout;
	int rise, fall, expect, weights, once, agent_only;
	unsigned wstep, count;
} opt = { "/etc/nonstop/role", "/etc/nonstop/snmp.creds", "/var/lib/nonstop",
    NULL, NULL, 2000, 1000, 2, 2, 200, 0, 0, 0, 0, 0 };

static struct role role;
static struct rs *rs;
static size_t nrs;
static struct snmp_creds creds;
static int epfd = -1;
static uint64_t sweeps, down_events, up_events;
static int changed;	/* a state or weight changed in this sweep */
static size_t open_snmp, open_chk;	/* outstanding in this sweep */
static char tag4, tag6;		/* epoll tags of the shared SNMP sockets */
static volatile sig_atomic_t stop;
static struct timespec role_mtime;

/* NONSTOP-MIB: nsHostRole, nsHostLoad, nsHostServices, nsHostServicesUp, nsHostConns */
static const oid q[][14] = {
	{ 1, 3, 6, 1, 4, 1, 8072, 9999, 9999, 6678, 1, 1, 2, 0 },
	{ 1, 3, 6, 1, 4, 1, 8072, 9999, 9999, 6678, 1, 1, 8, 0 },
	{ 1, 3, 6, 1, 4, 1, 8072, 9999, 9999, 6678, 1, 1, 9, 0 },
	{ 1, 3, 6, 1, 4, 1, 8072, 9999, 9999, 6678, 1, 1, 10, 0 },
	{ 1, 3, 6, 1, 4, 1, 8072, 9999, 9999, 6678, 1, 1, 11, 0 },
};
#define NQ (sizeof q / sizeof q[0])

static void
usage(void)
{
	fprintf(stderr, "usage: rs-probe [-1AnvVW] [-c count] [-E engines] [-e status] "
	    "[-f rolefile] [-F fall] [-k credentials] [-r rise] [-s statedir] "
	    "[-t interval] [-u path] [-w timeout]\n");
	exit(EXIT_BAD);
}

static long long
now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static unsigned
num_arg(const char *s, unsigned lo, unsigned hi, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || s[0] == '\0' || v < lo || v > hi)
		err_die(EXIT_BAD, "bad %s '%s' (%u-%u)", what, s, lo, hi);
	return (unsigned)v;
}

/* ---- SNMP answers ------------------------------------------------------ */

static int
on_snmp(int op, netsnmp_session *s, int reqid, netsnmp_pdu *pdu, void *arg)
{
	struct rs *r = arg;
	netsnmp_variable_list *v;
	unsigned long val[NQ];
	size_t k;

	(void)s;
	if (reqid != r->reqid || r->snmp_done)
		return 1;
	if (op == NETSNMP_CALLBACK_OP_RESEND)
		return 1;	/* a time-window report: still outstanding */
	r->snmp_done = 1;
	open_snmp--;
	if (op == NETSNMP_CALLBACK_OP_TIMED_OUT) {
		snprintf(r->snmp_reason, sizeof r->snmp_reason, "agent-timeout");
		return 1;
	}
	if (op != NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE) {
		snprintf(r->snmp_reason, sizeof r->snmp_reason, "agent-unreachable");
		return 1;
	}
	if (pdu->errstat != SNMP_ERR_NOERROR) {
		snprintf(r->snmp_reason, sizeof r->snmp_reason, "agent-error-%ld",
		    pdu->errstat);
		return 1;
	}
	for (v = pdu->variables, k = 0; v != NULL && k < NQ; v = v->next_variable, k++) {
		if ((v->type != ASN_INTEGER && v->type != ASN_GAUGE) ||
		    v->val.integer == NULL) {
			snprintf(r->snmp_reason, sizeof r->snmp_reason, "agent-bad-answer");
			return 1;
		}
		val[k] = (unsigned long)*v->val.integer;
	}
	if (k != NQ) {
		snprintf(r->snmp_reason, sizeof r->snmp_reason, "agent-bad-answer");
		return 1;
	}
	if (val[0] != 4) {
		snprintf(r->snmp_reason, sizeof r->snmp_reason, "agent-not-rs");
		return 1;
	}
	r->load = val[1], r->nsvc = val[2], r->nsvc_up = val[3], r->conns = val[4];
	if (r->nsvc_up < r->nsvc) {
		snprintf(r->snmp_reason, sizeof r->snmp_reason, "agent-service-down");
		return 1;
	}
	r->snmp_ok = 1;
	return 1;
}

/* ---- direct service checks ---------------------------------------------- */

static void
chk_end(struct rs *r, struct chk *c, int ok, const char *reason)
{
	if (c->fd >= 0) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	c->phase = C_DONE;
	c->ok = ok;
	c->reason = reason;
	r->pending--;
	open_chk--;
}

static void
chk_start(struct rs *r, struct chk *c)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct epoll_event ev;

	memset(&ss, 0, sizeof ss);
	c->owner = r;
	c->got = 0;
	c->ok = 0;
	c->phase = C_CONNECT;
	r->pending++;
	open_chk++;
	if (r->h.addr.family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(c->port);
		s6->sin6_addr = r->h.addr.u.v6;
		sl = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(c->port);
		s4->sin_addr = r->h.addr.u.v4;
		sl = sizeof *s4;
	}
	c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		chk_end(r, c, 0, "local-error");
		return;
	}
	if (connect(c->fd, (struct sockaddr *)&ss, sl) == -1 && errno != EINPROGRESS) {
		chk_end(r, c, 0, errno == ECONNREFUSED ? "connect-refused" : "connect-error");
		return;
	}
	ev.events = EPOLLOUT;
	ev.data.ptr = c;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) == -1)
		chk_end(r, c, 0, "local-error");
}

static void
chk_event(struct rs *r, struct chk *c)
{
	int e = 0;
	socklen_t el = sizeof e;
	ssize_t n;

	if (c->phase == C_CONNECT) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el) == -1 || e != 0) {
			chk_end(r, c, 0, e == ECONNREFUSED ? "connect-refused" :
			    e == EHOSTUNREACH || e == ENETUNREACH ? "connect-unreachable" :
			    "connect-error");
			return;
		}
		if (opt.path == NULL) {
			chk_end(r, c, 1, NULL);
			return;
		}
		{
			char req[512], host[ADDR_STRLEN];
			struct epoll_event ev;
			int len = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s\r\n"
			    "User-Agent: rs-probe/" VERSION "\r\nConnection: close\r\n\r\n",
			    opt.path, addr_fmt(&r->h.addr, host, sizeof host));
			if (len < 0 || (size_t)len >= sizeof req ||
			    send(c->fd, req, (size_t)len, MSG_NOSIGNAL) != len) {
				chk_end(r, c, 0, "http-send-error");
				return;
			}
			ev.events = EPOLLIN;
			ev.data.ptr = c;
			epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
			c->phase = C_READ;
		}
		return;
	}
	n = recv(c->fd, c->buf + c->got, sizeof c->buf - c->got, 0);
	if (n <= 0) {
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		chk_end(r, c, 0, n == 0 ? "http-bad-response" : "http-recv-error");
		return;
	}
	c->got += (size_t)n;
	e = http_status(c->buf, c->got);
	if (e == 0 && c->got < sizeof c->buf)
		return;
	if (e <= 0) {
		chk_end(r, c, 0, "http-bad-response");
	} else if (e != opt.expect) {
		snprintf(c->rbuf, sizeof c->rbuf, "http-status-%d", e);
		chk_end(r, c, 0, c->rbuf);
	} else {
		chk_end(r, c, 1, NULL);
	}
}

/* ---- targets from the role file ---------------------------------------- */

static void
targets_free(void)
{
	size_t i, k;

	for (i = 0; i < nrs; i++) {
		snmp_target_close(rs[i].sess);
		for (k = 0; k < rs[i].nchk; k++)
			if (rs[i].chk[k].fd >= 0)
				close(rs[i].chk[k].fd);
	}
	free(rs);
	rs = NULL;
	nrs = 0;
}

/*
 * The engine file (-E): "rs=NAME engine=TEXT" lines, for agents whose
 * engine ID is not the server's name (one snmpd answering for several
 * servers' addresses has one engine ID). Read at start and on reload.
 */
static struct engmap {
	char rs[ROLE_NAMELEN], engine[ROLE_NAMELEN];
} *engmap;
static size_t nengmap;

static int
engines_load(char *why, size_t whylen)
{
	struct engmap *m = NULL, *nm;
	size_t n = 0, len, lineno = 0;
	char *text, *line, *save = NULL;
	const char *kwhy;
	struct kv_rec rec;
	int rc = -1;

	if (opt.engines == NULL)
		return 0;
	if ((text = atomic_read(opt.engines, 1 << 24, &len)) == NULL) {
		snprintf(why, whylen, "%s: %s", opt.engines, strerror(errno));
		return -1;
	}
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		const char *r, *e;
		lineno++;
		if (line[0] == '#')
			continue;
		if (kv_parse(&rec, line, &kwhy) == -1) {
			snprintf(why, whylen, "%s:%zu: %s", opt.engines, lineno, kwhy);
			goto out;
		}
		if (rec.n == 0) {
			kv_free(&rec);
			continue;
		}
		r = kv_get(&rec, "rs"), e = kv_get(&rec, "engine");
		if (rec.n != 2 || strcmp(rec.v[0].key, "rs") != 0 || e == NULL ||
		    r[0] == '\0' || strlen(r) >= ROLE_NAMELEN ||
		    e[0] == '\0' || strlen(e) > 27) {
			snprintf(why, whylen, "%s:%zu: want rs=NAME engine=TEXT "
			    "(1-27 characters)", opt.engines, lineno);
			kv_free(&rec);
			goto out;
		}
		if ((nm = realloc(m, (n + 1) * sizeof *m)) == NULL) {
			kv_free(&rec);
			snprintf(why, whylen, "out of memory");
			goto out;
		}
		m = nm;
		snprintf(m[n].rs, sizeof m[n].rs, "%s", r);
		snprintf(m[n].engine, sizeof m[n].engine, "%s", e);
		n++;
		kv_free(&rec);
	}
	free(engmap);
	engmap = m, nengmap = n, m = NULL;
	rc = 0;
out:
	free(m);
	free(text);
	if (rc == -1)
		errno = EINVAL;
	return rc;
}

static const char *
engine_of(const char *rsname)
{
	size_t i;

	for (i = 0; i < nengmap; i++)
		if (strcmp(engmap[i].rs, rsname) == 0)
			return engmap[i].engine;
	return rsname;
}

/* Put r's session on the shared socket; -1 if it keeps its own. */
static int
adopt(struct rs *r, const struct addr *a, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int slot;
	const char *own = getenv("RS_PROBE_OWN_SOCKETS");

	if (own != NULL && own[0] != '\0' && strcmp(own, "0") != 0)
		return -1;
	memset(&ss, 0, sizeof ss);
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		s6->sin6_addr = a->u.v6;
		sl = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		s4->sin_addr = a->u.v4;
		sl = sizeof *s4;
	}
	if ((slot = mux_adopt(r->sess, (struct sockaddr *)&ss, sl)) == -1)
		err_debug("%s: own socket (%s)", r->h.name, strerror(errno));
	return slot;
}

/* (Re)build the targets; state of servers that stay is carried over. */
static int
targets_load(int fatal)
{
	struct role nr;
	struct rs *old = rs, *n;
	size_t nold = nrs, i, k, j;
	char why[256];
	struct stat st;

	if (stat(opt.rolefile, &st) == 0)
		role_mtime = st.st_mtim;
	if (role_read(opt.rolefile, &nr, why, sizeof why) == -1) {
		if (fatal)
			err_die(errno == EINVAL ? EXIT_BAD : EXIT_TEMP, "%s", why);
		err_warn("%s (keeping the previous role)", why);
		return -1;
	}
	if (engines_load(why, sizeof why) == -1) {
		if (fatal)
			err_die(errno == EINVAL ? EXIT_BAD : EXIT_TEMP, "%s", why);
		err_warn("%s (keeping the previous engine IDs)", why);
	}
	if (nr.kind != ROLE_LB && nr.kind != ROLE_NONE && nr.kind != ROLE_BS) {
		if (fatal)
			err_die(EXIT_BAD, "%s: role %s: rs-probe runs on a load balancer",
			    opt.rolefile, role_kind_name(nr.kind));
	}
	n = calloc(nr.kind == ROLE_LB && nr.nrs ? nr.nrs : 1, sizeof *n);
	if (n == NULL)
		err_die(EXIT_TEMP, "out of memory");
	/* The old sessions (closed below) send nothing from here on. */
	mux_reset();
	for (i = 0; nr.kind == ROLE_LB && i < nr.nrs; i++) {
		struct rs *r = &n[i];
		const struct role_host *ag = NULL;
		char a[ADDR_STRLEN];
		uint16_t port = 161;

		r->h = nr.rs[i];
		r->status = ST_UNKNOWN;
		r->weight = r->h.weight;
		for (k = 0; k < nr.nagent; k++)
			if (strcmp(nr.agent[k].name, r->h.name) == 0)
				ag = &nr.agent[k];
		if (ag != NULL && ag->port)
			port = ag->port;
		addr_fmt(ag ? &ag->addr : &r->h.addr, a, sizeof a);
		if ((ag ? ag->addr.family : r->h.addr.family) == AF_INET6)
			snprintf(r->peer, sizeof r->peer, "udp6:[%s]:%u", a, port);
		else
			snprintf(r->peer, sizeof r->peer, "udp:%s:%u", a, port);
		snprintf(r->engine, sizeof r->engine, "%s", engine_of(r->h.name));
		/* One check per distinct service port. */
		for (k = 0; k < nr.nsvc && r->nchk < MAXCHK; k++) {
			uint16_t p = r->h.port ? r->h.port : nr.svc[k].port;
			for (j = 0; j < r->nchk; j++)
				if (r->chk[j].port == p)
					break;
			if (j == r->nchk) {
				r->chk[r->nchk].fd = -1;
				r->chk[r->nchk++].port = p;
			}
		}
		for (k = 0; k < nold; k++) {
			if (strcmp(old[k].h.name, r->h.name) != 0)
				continue;
			r->status = old[k].status, r->okrun = old[k].okrun;
			r->failrun = old[k].failrun, r->checks = old[k].checks;
			r->failures = old[k].failures, r->since = old[k].since;
			memcpy(r->reason, old[k].reason, sizeof r->reason);
			if (addr_eq(&old[k].h.addr, &r->h.addr) &&
			    old[k].h.weight == r->h.weight)
				r->weight = old[k].weight;
		}
		r->sess = snmp_target_open(&creds, r->peer, r->engine, opt.timeout,
		    on_snmp, r, why, sizeof why);
		r->slot = -1;
		if (r->sess == NULL)
			err_warn("%s: %s", r->h.name, why);
		else
			r->slot = adopt(r, ag ? &ag->addr : &r->h.addr, port);
	}
	rs = old, nrs = nold;
	targets_free();
	if (role.kind || role.nrs)
		role_free(&role);
	role = nr;
	rs = n;
	nrs = nr.kind == ROLE_LB ? nr.nrs : 0;
	return 0;
}

static int
role_check_reload(void)
{
	struct stat st;

	if (stat(opt.rolefile, &st) == 0 &&
	    (st.st_mtim.tv_sec != role_mtime.tv_sec ||
	    st.st_mtim.tv_nsec != role_mtime.tv_nsec)) {
		err_info("%s changed: reloading", opt.rolefile);
		return targets_load(0) == 0;
	}
	return 0;
}

/* ---- events, history, state --------------------------------------------- */

/* The history file, open from a sweep's first event to its end (events_close). */
static int evfd = -1;

static void
emit(const char *line)
{
	char path[4096], hist[1100];
	int len;

	printf("%s\n", line);
	snprintf(path, sizeof path, "%s/events", opt.statedir);
	len = snprintf(hist, sizeof hist, "time=%lld %s\n", (long long)time(NULL), line);
	if (len <= 0 || (size_t)len >= sizeof hist)
		return;
	if (evfd == -1 &&
	    (evfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) == -1)
		return;
	if (write(evfd, hist, (size_t)len) != len)
		err_warn("unable to write %s:", path);
}

/* Reopened each sweep, so a rotated history file is let go of. */
static void
events_close(void)
{
	if (evfd != -1)
		close(evfd);
	evfd = -1;
}

static void
event(const struct rs *r, const char *type, const char *key, const char *val)
{
	char line[1024], a[ADDR_STRLEN];
	size_t len = 0;
	int k;

	k = kv_sput(line, sizeof line, 1, "event", type);
	len += (size_t)k;
	k = kv_sput(line + len, sizeof line - len, 0, "rs", r->h.name);
	len += (size_t)k;
	k = kv_sput(line + len, sizeof line - len, 0, "addr",
	    addr_fmt(&r->h.addr, a, sizeof a));
	len += (size_t)k;
	if (key != NULL && len < sizeof line)
		kv_sput(line + len, sizeof line - len, 0, key, val);
	emit(line);
}

static void
state_write(void)
{
	char path[4096], *buf, a[ADDR_STRLEN];
	size_t cap = 256 + nrs * 320, len = 0, i;
	int n;

	if ((buf = malloc(cap)) == NULL)
		return;
	n = snprintf(buf, cap, "probe=rs-probe version=1 time=%lld sweeps=%llu "
	    "down_events=%llu up_events=%llu interval=%u timeout=%u\n",
	    (long long)time(NULL), (unsigned long long)sweeps,
	    (unsigned long long)down_events, (unsigned long long)up_events,
	    opt.interval, opt.timeout);
	len = (size_t)n;
	for (i = 0; i < nrs && len < cap; i++) {
		const struct rs *r = &rs[i];
		static const char *const sn[] = { "", "unknown", "up", "down" };
		size_t room = cap - len;
		n = kv_sput(buf + len, room, 1, "rs", r->h.name);
		if (n < 0 || (size_t)n >= room)
			break;
		len += (size_t)n, room -= (size_t)n;
		n = snprintf(buf + len, room, " addr=%s port=%u status=%s",
		    addr_fmt(&r->h.addr, a, sizeof a), r->h.port, sn[r->status]);
		if (n < 0 || (size_t)n >= room)
			break;
		len += (size_t)n, room -= (size_t)n;
		if (r->reason[0] != '\0') {
			n = kv_sput(buf + len, room, 0, "reason", r->reason);
			if (n < 0 || (size_t)n >= room)
				break;
			len += (size_t)n, room -= (size_t)n;
		}
		n = snprintf(buf + len, room, " weight=%d load=%lu conns=%lu "
		    "checks=%llu failures=%llu since=%lld\n", r->weight, r->load,
		    r->conns, (unsigned long long)r->checks,
		    (unsigned long long)r->failures, (long long)r->since);
		if (n < 0 || (size_t)n >= room)
			break;
		len += (size_t)n;
	}
	snprintf(path, sizeof path, "%s/rs-probe.state", opt.statedir);
	if (atomic_write(path, buf, len, 0644) == -1)
		err_warn("unable to write %s:", path);
	free(buf);
}

/* ---- one sweep --------------------------------------------------------- */

static int
target_weight(const struct rs *r)
{
	/* Load 0 doubles the base weight, 1.00 keeps it, 3.00 halves it. */
	long base = r->h.weight, t;

	if (base == 0)
		return 0;
	t = (base * 200 + (long)(100 + r->load) / 2) / (long)(100 + r->load);
	if (t < 1)
		t = 1;
	if (t > ROLE_WEIGHT_MAX)
		t = ROLE_WEIGHT_MAX;
	return (int)t;
}

static void
decide(struct rs *r)
{
	const char *why = NULL;
	size_t k;

	r->checks++;
	if (!r->snmp_ok)
		why = r->snmp_done ? r->snmp_reason : "agent-timeout";
	for (k = 0; why == NULL && !opt.agent_only && k < r->nchk; k++)
		if (!r->chk[k].ok)
			why = r->chk[k].phase == C_DONE ? r->chk[k].reason :
			    r->chk[k].phase == C_CONNECT ? "connect-timeout" : "http-timeout";
	if (why == NULL) {
		r->okrun++, r->failrun = 0;
		r->reason[0] = '\0';
		if (r->status != ST_UP && r->okrun >= opt.rise) {
			r->status = ST_UP;
			r->since = time(NULL);
			up_events++;
			changed = 1;
			event(r, "rs-up", NULL, NULL);
		}
	} else {
		r->failures++;
		r->failrun++, r->okrun = 0;
		snprintf(r->reason, sizeof r->reason, "%s", why);
		if (r->status != ST_DOWN && r->failrun >= opt.fall) {
			r->status = ST_DOWN;
			r->since = time(NULL);
			down_events++;
			changed = 1;
			event(r, "rs-down", "reason", why);
		}
	}
	if (opt.weights && r->status == ST_UP && r->snmp_ok) {
		int t = target_weight(r), d = t - r->weight;
		int dead = r->weight / 10 > 1 ? r->weight / 10 : 1;
		int step = opt.wstep ? (int)opt.wstep :
		    (r->h.weight / 4 > 1 ? r->h.weight / 4 : 1);
		/* A dead band against flapping, a bounded step against jumps. */
		if (d > dead || d < -dead) {
			char w[16];
			if (d > step)
				d = step;
			if (d < -step)
				d = -step;
			r->weight += d;
			snprintf(w, sizeof w, "%d", r->weight);
			changed = 1;
			event(r, "weight", "weight", w);
		}
	}
}

static void
sweep(void)
{
	struct epoll_event evs[64];
	long long deadline, t0 = now_ms();
	size_t i, k;

	open_snmp = open_chk = 0;
	for (i = 0; i < nrs; i++) {
		struct rs *r = &rs[i];
		netsnmp_pdu *pdu;

		r->snmp_done = r->snmp_ok = 0;
		r->snmp_reason[0] = '\0';
		r->pending = 0;
		r->reqid = 0;
		if (r->sess != NULL && (pdu = snmp_pdu_create(SNMP_MSG_GET)) != NULL) {
			for (k = 0; k < NQ; k++)
				snmp_add_null_var(pdu, q[k], 14);
			mux_use(r->slot);
			open_snmp++;
			if ((r->reqid = snmp_sess_async_send(r->sess, pdu, on_snmp, r)) == 0) {
				snmp_free_pdu(pdu);
				r->snmp_done = 1;
				open_snmp--;
				snprintf(r->snmp_reason, sizeof r->snmp_reason, "agent-send-error");
			}
		} else {
			r->snmp_done = 1;
			snprintf(r->snmp_reason, sizeof r->snmp_reason, "agent-no-session");
		}
		for (k = 0; k < r->nchk && !opt.agent_only; k++)
			chk_start(r, &r->chk[k]);
	}
	/* All requests out at once: the batch, then the timeout for all. */
	(void)mux_flush();
	deadline = t0 + opt.timeout;
	for (;;) {
		long long now = now_ms();
		int n, j;

		if (open_snmp + open_chk == 0 || now >= deadline || stop)
			break;
		n = epoll_wait(epfd, evs, 64, (int)(deadline - now));
		for (j = 0; j < n; j++) {
			uintptr_t tag = (uintptr_t)evs[j].data.ptr;
			if (evs[j].data.ptr == &tag4 || evs[j].data.ptr == &tag6) {
				mux_read(evs[j].data.ptr == &tag4 ? mux_fd4() : mux_fd6());
			} else if (tag & 1) {
				struct rs *r = (struct rs *)(tag & ~(uintptr_t)1);
				snmp_target_read(r->sess);
			} else {
				struct chk *c = evs[j].data.ptr;
				chk_event(c->owner, c);
			}
		}
	}
	for (i = 0; i < nrs; i++) {
		struct rs *r = &rs[i];
		if (!r->snmp_done && r->sess != NULL) {
			mux_use(r->slot);
			snmp_target_expire(r->sess);	/* fires agent-timeout */
		}
		/* The library may drop a request without calling back. */
		if (!r->snmp_ok && r->snmp_reason[0] == '\0')
			snprintf(r->snmp_reason, sizeof r->snmp_reason, "agent-timeout");
		r->snmp_done = 1;
		for (k = 0; k < r->nchk; k++)
			if (r->chk[k].phase != C_DONE) {
				int ph = r->chk[k].phase;
				chk_end(r, &r->chk[k], 0, ph == C_CONNECT ?
				    "connect-timeout" : "http-timeout");
			}
		decide(r);
	}
	sweeps++;
	err_debug("sweep %llu: %zu servers in %lld ms", (unsigned long long)sweeps,
	    nrs, now_ms() - t0);
}

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* SNMP sockets into the epoll set, tagged (low bit) apart from checks. */
static void
watch_sessions(void)
{
	size_t i;

	for (i = 0; i < nrs; i++) {
		struct epoll_event ev;
		int fd;
		if (rs[i].sess == NULL || rs[i].slot >= 0 ||
		    (fd = snmp_target_fd(rs[i].sess)) < 0)
			continue;
		ev.events = EPOLLIN;
		ev.data.ptr = (void *)((uintptr_t)&rs[i] | 1);
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == -1 && errno != EEXIST)
			err_warn("epoll:");
	}
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	char why[256];
	int c, check = 0, anydown;
	size_t i;

	err_init(argv[0]);
	opterr = 0;
	while ((c = getopt(argc, argv, "1Ac:E:e:f:F:k:nr:s:t:u:vVw:W")) != -1) {
		switch (c) {
		case '1': opt.once = 1; break;
		case 'A': opt.agent_only = 1; break;
		case 'c': opt.count = num_arg(optarg, 1, 1000000000, "count"); break;
		case 'E': opt.engines = optarg; break;
		case 'e': opt.expect = (int)num_arg(optarg, 100, 599, "status"); break;
		case 'f': opt.rolefile = optarg; break;
		case 'F': opt.fall = (int)num_arg(optarg, 1, 100, "fall count"); break;
		case 'k': opt.creds = optarg; break;
		case 'n': check = 1; break;
		case 'r': opt.rise = (int)num_arg(optarg, 1, 100, "rise count"); break;
		case 's': opt.statedir = optarg; break;
		case 't': opt.interval = num_arg(optarg, 10, 3600000, "interval"); break;
		case 'u':
			if (optarg[0] != '/' || strpbrk(optarg, " \r\n\t") != NULL)
				err_die(EXIT_BAD, "bad path '%s' (/..., no blanks)", optarg);
			opt.path = optarg;
			break;
		case 'v': err_verbose++; break;
		case 'V': printf("rs-probe %s\n", VERSION); return EXIT_OK;
		case 'w': opt.timeout = num_arg(optarg, 10, 600000, "timeout"); break;
		case 'W': opt.weights = 1; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (opt.once)
		opt.rise = opt.fall = 1, opt.count = 1;
	if (opt.timeout > opt.interval)
		err_die(EXIT_BAD, "timeout %u ms longer than the interval %u ms",
		    opt.timeout, opt.interval);
	snmp_lib_init("rs-probe");
	c = usmfast_init(0);
	err_debug("%d fast USM crypto paths on", c);
	if (snmp_creds_load(opt.creds, &creds, why, sizeof why) == -1)
		err_die(errno == ENOENT || errno == EACCES ? EXIT_TEMP : EXIT_BAD, "%s", why);
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		err_die(EXIT_TEMP, "epoll:");
	{
		/* A session or check socket per server if the shared socket cannot be used. */
		struct rlimit rl;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	if (mux_init() == -1)
		err_die(EXIT_TEMP, "unable to open a UDP socket:");
	{
		struct epoll_event ev;
		ev.events = EPOLLIN;
		ev.data.ptr = &tag4;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, mux_fd4(), &ev) == -1)
			err_die(EXIT_TEMP, "epoll:");
		ev.data.ptr = &tag6;
		if (mux_fd6() >= 0 && epoll_ctl(epfd, EPOLL_CTL_ADD, mux_fd6(), &ev) == -1)
			err_die(EXIT_TEMP, "epoll:");
	}
	(void)targets_load(1);
	if (check) {
		printf("configuration OK\n");
		return EXIT_OK;
	}
	if (!opt.once) {
		struct stat st;
		if (stat(opt.statedir, &st) == -1 || !S_ISDIR(st.st_mode))
			err_die(EXIT_BAD, "state directory %s is not a directory", opt.statedir);
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	watch_sessions();
	err_info("probing %zu real servers every %u ms (timeout %u ms)", nrs,
	    opt.interval, opt.timeout);

	for (;;) {
		static long long written = -STATE_EVERY;
		long long start = now_ms(), left;

		changed = 0;
		sweep();
		events_close();
		/*
		 * On every change, else every STATE_EVERY ms: an unchanged
		 * file costs a file creation and two fsyncs (measured ~1 ms of
		 * CPU here), as much as polling a few dozen servers.
		 */
		if (!opt.once && (changed || start - written >= STATE_EVERY ||
		    (opt.count && sweeps >= opt.count))) {
			state_write();
			written = start;
		}
		err_check_stdout();
		if (stop || (opt.count && sweeps >= opt.count))
			break;
		while (!stop && (left = start + opt.interval - now_ms()) > 0) {
			struct timespec ts = { left / 1000, (left % 1000) * 1000000 };
			nanosleep(&ts, NULL);
		}
		if (stop)
			break;
		if (role_check_reload())
			watch_sessions();
	}
	anydown = 0;
	for (i = 0; i < nrs; i++)
		anydown |= rs[i].status != ST_UP;
	targets_free();
	snmp_creds_wipe(&creds);
	{
		unsigned long long f, sl;
		usmfast_counts(&f, &sl);
		err_debug("USM crypto calls: %llu fast, %llu by net-snmp", f, sl);
	}
	usmfast_flush();
	err_check_stdout();
	return opt.count && anydown ? EXIT_NO : EXIT_OK;
}
