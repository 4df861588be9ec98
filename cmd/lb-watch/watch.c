/*
 * lb-watch watch: the watchers of a cluster tell each other their
 * ha-beat state in authenticated datagrams; the backup next in line
 * judges the master (its agent over SNMPv3, a connect through every
 * virtual IP, the real servers directly) and, when the master is alive
 * but no longer balances, tells it to step down: the master's health
 * check then fails and ha-beat hands over in order.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "atomic.h"
#include "auth.h"
#include "err.h"
#include "kv.h"
#include "lbwatch.h"
#include "msg.h"
#include "snmp_sess.h"

#define MAXPEERS 9
#define MAXPROBES 64

struct peer {
	const struct role_host *h;
	int rank;			/* 0 the balancer, then the backup order */
	struct auth_replay rp;
	int64_t last;			/* ms, monotonic; 0 never heard */
	int state;			/* enum lw_state */
	struct sockaddr_storage sa;
	socklen_t sl;
};

struct probe {
	int fd;
	int vip;			/* 1 through a VIP, 0 a real server */
	int done, ok;
	char what[ADDR_STRLEN + 8];
};

static struct peer peers[MAXPEERS];
static int npeers, me = -1;
static struct auth_key key;
static struct snmp_creds creds;
static volatile sig_atomic_t stop;
static uint64_t epoch, seq;
static int udp = -1;

/* The judge's view of the master it watches. */
static int target = -1;
static void *sess;
static int snmp_pending, snmp_ok, snmp_reqid, rolestatus;
static int lbdp;			/* nsLbDataplane, 0 not served */
static unsigned rs_present, rs_absent;	/* nsRsDataplane rows */
static unsigned fails, oks;
static int verdict_bad;

static const oid q_name[] = { 1, 3, 6, 1, 4, 1, 8072, 9999, 9999, 6678, 1, 1, 1, 0 };
static const oid q_status[] = { 1, 3, 6, 1, 4, 1, 8072, 9999, 9999, 6678, 1, 1, 3, 0 };
static const oid q_lbdp[] = { 1, 3, 6, 1, 4, 1, 8072, 9999, 9999, 6678, 1, 2, 3, 0 };
/* nsRsDataplane.N: nsRsTable (nsLb 2), entry 1, column 15, row N. */
static const oid q_rsdp[] = { 1, 3, 6, 1, 4, 1, 8072, 9999, 9999, 6678, 1, 2, 2, 1, 15, 0 };
#define MAXRSQ 16
static const char *const dp_names[] = { "?", "none", "nftables", "ipvs", "unreadable" };

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int
fresh(const struct peer *p, int64_t t)
{
	return p->last != 0 && t - p->last <= 3 * watch_ms;
}

static void
add_peer(const struct role_host *h, int rank, const char *self)
{
	struct peer *p = &peers[npeers];

	p->h = h;
	p->rank = rank;
	p->sl = addr_sockaddr(&h->addr, opt_port, &p->sa);
	if (strcmp(h->name, self) == 0)
		me = npeers;
	npeers++;
}

/* Line of a watch event: printed and logged like the hooks' lines. */
static void
wevent(const struct role *r, const char *what, const char *subject,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
wevent(const struct role *r, const char *what, const char *subject,
    const char *fmt, ...)
{
	char *line = NULL;
	size_t len = 0;
	int64_t t = wall_ms();
	va_list ap;
	FILE *f;

	if ((f = open_memstream(&line, &len)) == NULL)
		return;
	fprintf(f, "time=%lld.%03lld000", (long long)(t / 1000), (long long)(t % 1000));
	kv_fput(f, 0, "event", what);
	kv_fput(f, 0, "subject", subject);
	kv_fput(f, 0, "cluster", r->cluster);
	kv_fput(f, 0, "node", r->host);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	if (fclose(f) == 0)
		emit(line, len);
	free(line);
}

/* Names were checked to fit at start. */
static void
setname(char dst[LW_NAMELEN], const char *src)
{
	size_t n = strnlen(src, LW_NAMELEN - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void
send_status(const struct role *r, int mystate)
{
	struct lw_msg m;
	unsigned char buf[LW_LEN];
	int i;

	memset(&m, 0, sizeof m);
	m.state = mystate;
	setname(m.cluster, r->cluster);
	setname(m.node, r->host);
	if (verdict_bad && target >= 0)
		setname(m.demote, peers[target].h->name);
	m.epoch = epoch;
	m.seq = ++seq;
	lw_encode(&m, &key, buf);
	for (i = 0; i < npeers; i++)
		if (i != me)
			(void)sendto(udp, buf, sizeof buf, 0,
			    (struct sockaddr *)&peers[i].sa, peers[i].sl);
}

/*
 * The demotion file: "until=MS by=NODE n=N", MS on CLOCK_REALTIME, N
 * the demotions in a row (the hold-down is holddown_ms << N). 1 if it
 * exists (with *until, *n, why), 0 if not.
 */
static int
demotion_read(long long *until, int *n, char *why, size_t size)
{
	char path[4096], *s;
	const char *kwhy, *u, *by, *k;
	struct kv_rec rec;

	*until = 0, *n = 0;
	snprintf(path, sizeof path, "%s/demoted", statedir);
	if ((s = atomic_read(path, 256, NULL)) == NULL)
		return 0;
	s[strcspn(s, "\n")] = '\0';
	if (kv_parse(&rec, s, &kwhy) == 0) {
		u = kv_get(&rec, "until");
		by = kv_get(&rec, "by");
		k = kv_get(&rec, "n");
		*until = u ? strtoll(u, NULL, 10) : 0;
		*n = k ? (int)strtol(k, NULL, 10) : 0;
		if (*n < 0 || *n > 4)
			*n = 4;
		snprintf(why, size, "demoted by %s for %lld ms more", by ? by : "?",
		    *until - wall_ms());
		kv_free(&rec);
	}
	free(s);
	return 1;
}

int
demoted(char *why, size_t size)
{
	long long until;
	int n;

	return demotion_read(&until, &n, why, size) && until > wall_ms();
}

/*
 * Step down for the hold-down; demoted again within a hold-down of the
 * last one's end (taken back while still broken), for twice as long, up
 * to 16 times: a balancer that stays broken does not flap.
 */
static void
demote_me(const struct role *r, const char *by)
{
	char path[4096], line[256], why[128];
	long long until, now = wall_ms();
	int n, had = demotion_read(&until, &n, why, sizeof why);
	int was = had && until > now;
	long hold;

	if (!had || (!was && now - until >= (holddown_ms << n)))
		n = 0;
	else if (!was && n < 4)
		n++;
	hold = holddown_ms << n;
	snprintf(path, sizeof path, "%s/demoted", statedir);
	snprintf(line, sizeof line, "until=%lld by=%s n=%d\n", now + hold, by, n);
	if (atomic_write_str(path, line, 0644) == -1) {
		err_warn("unable to write %s:", path);
		return;
	}
	if (!was)
		wevent(r, "demoted", r->host, " by=%s holddown_ms=%ld", by, hold);
}

/* A rejected datagram: a warning at most every 10 s, the rest debug. */
static void
rejected(const struct sockaddr_storage *ss, const char *why)
{
	static int64_t warned;
	static unsigned long n;
	char a[ADDR_STRLEN];
	struct addr src;
	int64_t t = mono_ms();

	n++;
	addr_from_sockaddr(ss, &src);
	addr_fmt(&src, a, sizeof a);
	if (warned == 0 || t - warned >= 10000) {
		warned = t;
		err_warn("rejected a datagram from %s: %s (%lu so far)", a, why, n);
	} else {
		err_debug("rejected a datagram from %s: %s", a, why);
	}
}

static void
receive(const struct role *r)
{
	unsigned char buf[LW_LEN + 1];
	struct sockaddr_storage ss;
	char mystate[16], why[128];
	int i, k;

	for (k = 0; k < 64; k++) {
		socklen_t sl = sizeof ss;
		ssize_t n = recvfrom(udp, buf, sizeof buf, 0, (struct sockaddr *)&ss, &sl);
		struct lw_msg m;
		struct addr src;
		enum lw_err e;

		if (n == -1)
			return;
		if ((e = lw_decode(buf, (size_t)n, &key, &m)) != LW_OK) {
			rejected(&ss, e == LW_EMAC ? "bad MAC" : "malformed");
			continue;
		}
		if (strcmp(m.cluster, r->cluster) != 0) {
			rejected(&ss, "another cluster");
			continue;
		}
		for (i = 0; i < npeers; i++)
			if (i != me && strcmp(peers[i].h->name, m.node) == 0)
				break;
		addr_from_sockaddr(&ss, &src);
		if (i == npeers || !addr_eq(&src, &peers[i].h->addr)) {
			rejected(&ss, "unknown node or address");
			continue;
		}
		if (!auth_replay_check(&peers[i].rp, m.epoch, m.seq)) {
			rejected(&ss, "replay");
			continue;
		}
		peers[i].last = mono_ms();
		peers[i].state = m.state;
		if (strcmp(m.demote, r->host) == 0) {
			/*
			 * Only a master steps down (or stays down while demoted):
			 * an order for a host that is no longer master is void.
			 */
			hb_state_read(mystate, sizeof mystate);
			if (strcmp(mystate, "master") == 0 || demoted(why, sizeof why))
				demote_me(r, m.node);
		}
	}
}

/* The master this host judges, or -1: it is backup and next in line. */
static int
judge_whom(int mystate, int64_t t)
{
	int i, m = -1;

	if (mystate != LW_BACKUP)
		return -1;
	for (i = 0; i < npeers; i++) {
		if (i == me || !fresh(&peers[i], t))
			continue;
		if (peers[i].state == LW_MASTER && (m < 0 || peers[i].rank < peers[m].rank))
			m = i;
		/* A better backup lives: the takeover is its to ask for. */
		if (peers[i].state == LW_BACKUP && peers[i].rank < peers[me].rank)
			return -1;
	}
	return m;
}

static int
on_snmp(int op, netsnmp_session *s, int reqid, netsnmp_pdu *pdu, void *arg)
{
	netsnmp_variable_list *v;

	(void)s, (void)arg;
	if (reqid != snmp_reqid || !snmp_pending || op == NETSNMP_CALLBACK_OP_RESEND)
		return 1;
	snmp_pending = 0;
	if (op != NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE || pdu->errstat != SNMP_ERR_NOERROR)
		return 1;
	v = pdu->variables;
	if (v == NULL || v->type != ASN_OCTET_STR || (v = v->next_variable) == NULL ||
	    v->type != ASN_INTEGER || v->val.integer == NULL)
		return 1;
	rolestatus = (int)*v->val.integer;
	snmp_ok = 1;
	/* An agent that does not read its dataplane answers noSuchObject. */
	if ((v = v->next_variable) == NULL)
		return 1;
	if (v->type == ASN_INTEGER && v->val.integer != NULL &&
	    *v->val.integer >= 1 && *v->val.integer <= 4)
		lbdp = (int)*v->val.integer;
	for (v = v->next_variable; v != NULL; v = v->next_variable)
		if (v->type == ASN_INTEGER && v->val.integer != NULL) {
			if (*v->val.integer == 2)
				rs_present++;
			else if (*v->val.integer == 3)
				rs_absent++;
		}
	return 1;
}

static void
target_set(const struct role *r, int t)
{
	char peer[80], a[ADDR_STRLEN], why[256];
	const struct role_host *ag = NULL, *h;
	uint16_t port = 161;
	size_t k;

	if (t == target)
		return;
	if (sess != NULL)
		snmp_target_close(sess);
	sess = NULL;
	target = t;
	fails = oks = 0;
	if (verdict_bad)
		err_info("no longer judging");
	verdict_bad = 0;
	if (t < 0 || opt_creds == NULL)
		return;
	h = peers[t].h;
	for (k = 0; k < r->nagent; k++)
		if (strcmp(r->agent[k].name, h->name) == 0)
			ag = &r->agent[k];
	if (ag != NULL && ag->port)
		port = ag->port;
	addr_fmt(ag ? &ag->addr : &h->addr, a, sizeof a);
	if ((ag ? ag->addr.family : h->addr.family) == AF_INET6)
		snprintf(peer, sizeof peer, "udp6:[%s]:%u", a, port);
	else
		snprintf(peer, sizeof peer, "udp:%s:%u", a, port);
	sess = snmp_target_open(&creds, peer, h->name, (unsigned)timeout_ms,
	    on_snmp, NULL, why, sizeof why);
	if (sess == NULL)
		err_warn("%s: %s", h->name, why);
}

static void
probe_start(struct probe *p, const struct addr *a, uint16_t port, int vip)
{
	struct sockaddr_storage ss;
	socklen_t sl = addr_sockaddr(a, port, &ss);
	struct linger lg = { 1, 0 };
	char s[ADDR_STRLEN];

	memset(p, 0, sizeof *p);
	p->vip = vip;
	snprintf(p->what, sizeof p->what, "%s:%u", addr_fmt(a, s, sizeof s), port);
	p->fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd == -1) {
		p->done = 1;
		return;
	}
	/* Close with a reset: a probe every round must not pile up TIME_WAITs. */
	(void)setsockopt(p->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	if (connect(p->fd, (struct sockaddr *)&ss, sl) == 0) {
		p->done = p->ok = 1;
	} else if (errno != EINPROGRESS) {
		p->done = 1;
	}
}

static void
probe_end(struct probe *p)
{
	int e = 0;
	socklen_t el = sizeof e;

	if (!p->done) {
		p->done = 1;
		p->ok = getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e == 0;
	}
}

/* One judging round against target; 1 if the master does not balance. */
static int
round_bad(const struct role *r, char *why, size_t size)
{
	struct probe pr[MAXPROBES];
	struct pollfd pf[MAXPROBES + 2];
	int np = 0, i, vip_bad = 0, rs_ok = 0, dp_bad, open;
	int64_t deadline = mono_ms() + timeout_ms;
	size_t k, j;
	netsnmp_pdu *pdu;

	snmp_ok = snmp_pending = lbdp = 0;
	rs_present = rs_absent = 0;
	if (sess != NULL && (pdu = snmp_pdu_create(SNMP_MSG_GET)) != NULL) {
		oid o[OID_LENGTH(q_rsdp)];

		snmp_add_null_var(pdu, q_name, OID_LENGTH(q_name));
		snmp_add_null_var(pdu, q_status, OID_LENGTH(q_status));
		snmp_add_null_var(pdu, q_lbdp, OID_LENGTH(q_lbdp));
		memcpy(o, q_rsdp, sizeof o);
		for (k = 0; k < r->nrs && k < MAXRSQ; k++) {
			o[OID_LENGTH(q_rsdp) - 1] = (oid)(k + 1);
			snmp_add_null_var(pdu, o, OID_LENGTH(q_rsdp));
		}
		if ((snmp_reqid = snmp_sess_async_send(sess, pdu, on_snmp, NULL)) == 0)
			snmp_free_pdu(pdu);
		else
			snmp_pending = 1;
	}
	for (k = 0; k < r->nsvc && np < MAXPROBES; k++) {
		if (r->svc[k].proto != IPPROTO_TCP)
			continue;
		for (j = 0; j < k; j++)
			if (addr_eq(&r->svc[j].vip, &r->svc[k].vip) &&
			    r->svc[j].port == r->svc[k].port)
				break;
		if (j == k)
			probe_start(&pr[np++], &r->svc[k].vip, r->svc[k].port, 1);
	}
	for (k = 0; k < r->nrs && np < MAXPROBES && r->nsvc > 0; k++)
		probe_start(&pr[np++], &r->rs[k].addr,
		    r->rs[k].port ? r->rs[k].port : r->svc[0].port, 0);
	for (;;) {
		int64_t now = mono_ms();
		int n = 0, sfd = -1;

		open = 0;
		for (i = 0; i < np; i++)
			if (!pr[i].done) {
				pf[n].fd = pr[i].fd;
				pf[n++].events = POLLOUT;
				open++;
			}
		if (snmp_pending && (sfd = snmp_target_fd(sess)) >= 0) {
			pf[n].fd = sfd;
			pf[n++].events = POLLIN;
			open++;
		}
		pf[n].fd = udp;
		pf[n++].events = POLLIN;
		if (open == 0 || now >= deadline || stop)
			break;
		if (poll(pf, (nfds_t)n, (int)(deadline - now)) <= 0)
			continue;
		for (i = 0; i < np; i++) {
			int f;
			if (pr[i].done)
				continue;
			for (f = 0; f < n; f++)
				if (pf[f].fd == pr[i].fd && pf[f].revents)
					probe_end(&pr[i]);
		}
		if (sfd >= 0)
			for (i = 0; i < n; i++)
				if (pf[i].fd == sfd && pf[i].revents)
					snmp_target_read(sess);
		if (pf[n - 1].revents)
			receive(r);
	}
	if (snmp_pending) {
		snmp_target_expire(sess);
		snmp_pending = 0;
	}
	for (i = 0; i < np; i++) {
		if (pr[i].vip && !pr[i].ok && !vip_bad) {
			vip_bad = 1;
			snprintf(why, size, "vip=%s", pr[i].what);
		}
		if (!pr[i].vip && pr[i].ok)
			rs_ok = 1;
		if (pr[i].fd >= 0)
			close(pr[i].fd);
	}
	if (!vip_bad)
		snprintf(why, size, "vip=ok");
	/*
	 * Its agent reads back the master's table: unreadable, or holding
	 * none of the real servers, it does not balance.
	 */
	dp_bad = snmp_ok && (lbdp == 4 || ((lbdp == 2 || lbdp == 3) &&
	    rs_absent > 0 && rs_present == 0));
	k = strlen(why);
	snprintf(why + k, size - k, " dataplane=%s", dp_names[lbdp]);
	if (dp_bad && lbdp != 4)
		snprintf(why + strlen(why), size - strlen(why), "/empty");
	/*
	 * Not balancing: the master is alive (its agent answers, and its
	 * watcher speaks), its VIPs do not serve or its agent finds its
	 * table gone, yet a real server answers here: a takeover would
	 * serve the clients again.
	 */
	return (vip_bad || dp_bad) && rs_ok && (opt_creds == NULL || snmp_ok);
}

static void
judge(const struct role *r)
{
	char why[128];
	const char *agent = opt_creds == NULL ? "none" : "down";
	int bad = round_bad(r, why, sizeof why);

	if (opt_creds != NULL && snmp_ok)
		agent = "up";
	if (bad) {
		oks = 0;
		if (fails < opt_fall)
			fails++;
	} else {
		fails = 0;
		if (oks < opt_rise)
			oks++;
	}
	err_debug("judge %s: %s agent=%s round=%s", peers[target].h->name, why,
	    agent, bad ? "bad" : "good");
	if (!verdict_bad && fails >= opt_fall) {
		verdict_bad = 1;
		wevent(r, "not-balancing", peers[target].h->name,
		    " %s agent=%s rolestatus=%d", why, agent, rolestatus);
	} else if (verdict_bad && oks >= opt_rise) {
		verdict_bad = 0;
		wevent(r, "balancing", peers[target].h->name, " %s agent=%s", why, agent);
	}
}

int
watch(const struct role *r)
{
	char why[256], mystate[16];
	const char *kwhy;
	struct sockaddr_storage ss;
	struct sigaction sa;
	socklen_t sl;
	int64_t next;
	size_t i;
	int one = 1;

	if (opt_key == NULL || hb_state == NULL)
		err_die(EXIT_BAD, "watch needs -k keyfile and -H hbstatedir");
	if (timeout_ms >= watch_ms)
		err_die(EXIT_BAD, "timeout %ld ms not shorter than the interval %ld ms",
		    timeout_ms, watch_ms);
	if (strlen(r->cluster) >= LW_NAMELEN)
		err_die(EXIT_BAD, "cluster name %s too long (%d characters)",
		    r->cluster, LW_NAMELEN - 1);
	add_peer(&r->lb, 0, r->host);
	for (i = 0; i < r->nbs && npeers < MAXPEERS; i++)
		add_peer(&r->bs[i], r->bs[i].order, r->host);
	for (i = 0; i < (size_t)npeers; i++)
		if (strlen(peers[i].h->name) >= LW_NAMELEN)
			err_die(EXIT_BAD, "host name %s too long (%d characters)",
			    peers[i].h->name, LW_NAMELEN - 1);
	if (me < 0)
		err_die(EXIT_BAD, "%s is neither the balancer nor a backup server "
		    "of the role file", r->host);
	if (auth_key_load(opt_key, &key, &kwhy) == -1)
		err_die(errno == EPERM || errno == EINVAL || errno == ENOENT ?
		    EXIT_BAD : EXIT_TEMP, "%s: %s", opt_key, kwhy);
	if (opt_creds != NULL) {
		snmp_lib_init("lb-watch");
		if (snmp_creds_load(opt_creds, &creds, why, sizeof why) == -1)
			err_die(errno == EINVAL || errno == EPERM || errno == ENOENT ?
			    EXIT_BAD : EXIT_TEMP, "%s", why);
	}
	if (opt_n) {
		fprintf(stderr, "configuration OK\n");
		return EXIT_OK;
	}
	make_statedir();

	udp = socket(peers[me].h->addr.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (udp == -1)
		err_die(EXIT_TEMP, "socket:");
	(void)setsockopt(udp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	sl = addr_sockaddr(&peers[me].h->addr, opt_port, &ss);
	if (bind(udp, (struct sockaddr *)&ss, sl) == -1)
		err_die(EXIT_TEMP, "unable to bind %s port %u:",
		    addr_fmt(&peers[me].h->addr, why, sizeof why), opt_port);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	epoch = auth_epoch_now();
	err_info("watching cluster %s as %s, every %ld ms, port %u", r->cluster,
	    r->host, watch_ms, opt_port);

	next = mono_ms();
	while (!stop) {
		int64_t t = mono_ms();
		int st, whom;

		if (t < next) {
			struct pollfd pf = { .fd = udp, .events = POLLIN };
			if (poll(&pf, 1, (int)(next - t)) > 0)
				receive(r);
			continue;
		}
		next = t + watch_ms;
		hb_state_read(mystate, sizeof mystate);
		st = lw_state_parse(mystate);
		whom = judge_whom(st, t);
		target_set(r, whom);
		send_status(r, st);
		if (target >= 0)
			judge(r);
		err_check_stdout();
	}
	/* Leaving: no demand outlives us. */
	verdict_bad = 0;
	hb_state_read(mystate, sizeof mystate);
	send_status(r, lw_state_parse(mystate));
	if (sess != NULL)
		snmp_target_close(sess);
	auth_key_wipe(&key);
	if (opt_creds != NULL)
		snmp_creds_wipe(&creds);
	close(udp);
	return EXIT_OK;
}
