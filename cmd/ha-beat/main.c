/*
 * ha-beat: authenticated heartbeat and master election for a group of 2 to
 * 8 nodes. The master holds the group's virtual addresses on a lease.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arp.h"
#include "atomic.h"
#include "auth.h"
#include "conf.h"
#include "err.h"
#include "nl.h"
#include "priv.h"
#include "proto.h"

#define NS 1000000000LL
#define MS 1000000LL

/* What this node knows of each node of the group (its own slot unused). */
struct peer {
	int64_t last;		/* monotonic ns of the last good heartbeat; 0: never */
	int state;		/* HB_* as it last announced */
	uint64_t resigned_epoch;	/* epoch that resigned; its adverts are ignored */
	struct auth_replay rp;
	int live;
	int reported;		/* whom it takes as master: node index, or -1 */
};

enum rej {
	R_LENGTH, R_MAGIC, R_VERSION, R_MALFORMED, R_MAC, R_GROUP, R_NODE,
	R_SOURCE, R_REPLAY, R_SELF, R_NREASONS
};
static const char *rej_name[R_NREASONS] = {
	"bad-length", "not-heartbeat", "bad-version", "malformed", "bad-mac",
	"wrong-group", "unknown-node", "wrong-source", "replay", "self"
};

static struct conf cf;
static struct auth_key key;
static int me;
static struct peer peers[HB_MAXNODES];
static int state = -1;		/* -1 before the first decision */
static const char *statedir;
static char statepath[512];
static int64_t dead_ns, t_next_send, t_hold, t_lease, t_master;
static int garp_next;
static uint64_t epoch, seq;
static int udp[HB_MAXPATHS];
static int arpfd = -1, linkfd = -1, sigfd = -1, icmpfd = -1;
static unsigned ifindex;
static unsigned char mac[6];
static struct nl *nl;
static int link_ok = 1;
static int64_t w_last, w_next;
static uint16_t w_id, w_seq;
static uint64_t n_rx, n_tx, n_txerr, n_trans, n_stalls, n_rej[R_NREASONS];
static int64_t max_late;
static int64_t rej_logged_at[R_NREASONS];
static int stdout_broken;

static const char *state_name[] = { "backup", "master", "fault" };

/* Health checks in flight and their verdicts. */
struct checkrun {
	pid_t pid;		/* running, or 0 */
	int64_t started;	/* when the running one began */
	int64_t next;		/* when to start it next */
	unsigned oks, fails;	/* in a row */
	int failed;		/* the verdict: 1 after fall failures */
};
static struct checkrun runs[HB_MAXCHECKS];

static void
usage(void)
{
	fprintf(stderr, "usage: ha-beat [-nqvV] [-N node] [-s statedir] -f ha-beat.conf\n");
	exit(EXIT_BAD);
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

static double
wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 1 if node a outranks node b: higher priority, then the smaller name. */
static int
outranks(int a, int b)
{
	if (cf.nodes[a].priority != cf.nodes[b].priority)
		return cf.nodes[a].priority > cf.nodes[b].priority;
	return strcmp(cf.nodes[a].name, cf.nodes[b].name) < 0;
}

static void
out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One event line on stdout. A reader that went away must not stop us. */
static void
out(const char *fmt, ...)
{
	va_list ap;

	if (stdout_broken)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (fflush(stdout) == EOF) {
		stdout_broken = 1;
		err_warn("unable to write events to stdout:");
	}
}

static const char *master_name(void);

static void
send_msg(int type)
{
	struct hb_msg m = { 0 };
	unsigned char buf[HB_LEN];
	int i, p, live = 1;

	for (i = 0; i < cf.nnodes; i++)
		if (i != me && peers[i].live)
			live++;
	m.type = type;
	m.state = state < 0 ? HB_BACKUP : state;
	m.priority = cf.nodes[me].priority;
	strcpy(m.group, cf.group);
	strcpy(m.node, cf.self);
	m.epoch = epoch;
	m.seq = ++seq;
	m.interval_ms = cf.interval_ms;
	m.live = live;
	m.size = cf.nnodes;
	strcpy(m.master, master_name());
	hb_encode(&m, &key, buf);
	for (i = 0; i < cf.nnodes; i++) {
		if (i == me)
			continue;
		for (p = 0; p < cf.nodes[me].npath; p++) {
			struct sockaddr_storage ss;
			socklen_t sl = addr_sockaddr(&cf.nodes[i].path[p],
			    cf.port, &ss);
			if (sendto(udp[p], buf, sizeof buf, 0,
			    (struct sockaddr *)&ss, sl) == -1)
				n_txerr++;
			else
				n_tx++;
		}
	}
}

static void
vips_add(void)
{
	char ab[ADDR_STRLEN];
	int i;

	for (i = 0; i < cf.nvips; i++)
		if (nl_addr_add(nl, ifindex, &cf.vips[i], cf.lease_s,
		    cf.lease_s) == -1)
			err_warn("unable to add %s to %s:",
			    addr_fmt(&cf.vips[i], ab, sizeof ab), cf.ifname);
}

static void
vips_del(void)
{
	char ab[ADDR_STRLEN];
	int i;

	for (i = 0; i < cf.nvips; i++)
		if (nl_addr_del(nl, ifindex, &cf.vips[i]) == -1)
			err_warn("unable to remove %s from %s:",
			    addr_fmt(&cf.vips[i], ab, sizeof ab), cf.ifname);
}

static void
announce(void)
{
	int i;

	for (i = 0; i < cf.nvips; i++)
		if (arp_announce(arpfd, ifindex, mac, &cf.vips[i],
		    cf.garp_reply) == -1)
			err_debug("announcement failed:");
}

/* The name of the node we take as master now, or "". */
static const char *
master_name(void)
{
	int i, best = -1;

	if (state == HB_MASTER)
		return cf.self;
	for (i = 0; i < cf.nnodes; i++)
		if (i != me && peers[i].live && peers[i].state == HB_MASTER &&
		    (best < 0 || outranks(i, best)))
			best = i;
	return best < 0 ? "" : cf.nodes[best].name;
}

/*
 * Hooks run one transition at a time, in order: those of a transition
 * start when the previous transition's hooks have all ended (or after
 * HOOK_PATIENCE). Transitions that come meanwhile collapse into the last
 * one, and none runs when that is the state whose hooks ran last. So a
 * quick master-backup-master never leaves a backup hook finishing last.
 */
#define HOOK_PATIENCE (30 * NS)
static pid_t hook_pids[HB_MAXHOOKS];
static int hook_n;
static int64_t hook_started;
static int hook_last = -1;	/* enum hook_state whose hooks ran last */
static struct {
	int pending;
	enum hook_state hs;
	char reason[32];
} hook_q;

static void
hooks_start(enum hook_state hs, const char *prev, const char *reason)
{
	char vips[HB_MAXVIPS * ADDR_STRLEN], ab[ADDR_STRLEN], prio[8];
	int i;

	vips[0] = '\0';
	for (i = 0; i < cf.nvips; i++) {
		if (i)
			strcat(vips, " ");
		strcat(vips, addr_fmt(&cf.vips[i], ab, sizeof ab));
	}
	snprintf(prio, sizeof prio, "%d", cf.nodes[me].priority);
	hook_last = hs;
	hook_started = now_ns();
	for (i = 0; i < cf.nhooks; i++) {
		pid_t pid;
		if (cf.hooks[i].state != hs)
			continue;
		if ((pid = fork()) == -1) {
			err_warn("unable to run hook %s:", cf.hooks[i].argv[0]);
			continue;
		}
		if (pid == 0) {
			sigset_t all;
			sigfillset(&all);
			sigprocmask(SIG_UNBLOCK, &all, NULL);
			/* Hooks write to our stderr; stdout carries events only. */
			dup2(2, 1);
			setenv("HA_STATE", hook_state_name[hs], 1);
			setenv("HA_PREV_STATE", prev, 1);
			setenv("HA_REASON", reason, 1);
			setenv("HA_GROUP", cf.group, 1);
			setenv("HA_NODE", cf.self, 1);
			setenv("HA_PRIORITY", prio, 1);
			setenv("HA_INTERFACE", cf.ifname, 1);
			setenv("HA_VIPS", vips, 1);
			setenv("HA_MASTER", master_name(), 1);
			execv(cf.hooks[i].argv[0], cf.hooks[i].argv);
			err_warn("unable to exec hook %s:", cf.hooks[i].argv[0]);
			_exit(127);
		}
		hook_pids[hook_n++] = pid;
	}
}

/* The hooks of a transition: now, or after those still running. */
static void
hooks_request(enum hook_state hs, const char *prev, const char *reason)
{
	if (hook_n == 0) {
		hooks_start(hs, prev, reason);
		return;
	}
	hook_q.pending = 1;
	hook_q.hs = hs;
	snprintf(hook_q.reason, sizeof hook_q.reason, "%s", reason);
}

/* The running hooks ended (or ran out of patience): start what waits. */
static void
hooks_next(void)
{
	const char *prev;

	if (!hook_q.pending)
		return;
	hook_q.pending = 0;
	if ((int)hook_q.hs == hook_last)
		return;
	prev = hook_last < 0 ? "init" : hook_state_name[hook_last];
	hooks_start(hook_q.hs, prev, hook_q.reason);
}

/* 1 if pid was a hook of the running transition. */
static int
hooks_reaped(pid_t pid)
{
	int i;

	for (i = 0; i < hook_n; i++)
		if (hook_pids[i] == pid) {
			hook_pids[i] = hook_pids[--hook_n];
			if (hook_n == 0)
				hooks_next();
			return 1;
		}
	return 0;
}

static void
hooks_patience(int64_t t)
{
	if (hook_n == 0 || t - hook_started < HOOK_PATIENCE)
		return;
	err_warn("%d %s hook(s) still running after %lld s: not waiting for them",
	    hook_n, hook_state_name[hook_last], (long long)(HOOK_PATIENCE / NS));
	hook_n = 0;
	hooks_next();
}

/* Wait (bounded) for the running hooks: we are about to exit. */
static void
hooks_wait(int ms)
{
	int64_t until = now_ns() + ms * MS;
	int st;

	while (hook_n > 0 && now_ns() < until) {
		pid_t pid = waitpid(-1, &st, WNOHANG);
		if (pid > 0)
			hooks_reaped(pid);
		else
			usleep(2000);
	}
	if (hook_n > 0)
		err_warn("%d %s hook(s) still running after %d ms", hook_n,
		    hook_state_name[hook_last], ms);
}

static void
write_state(const char *s)
{
	char buf[16];

	if (statedir == NULL)
		return;
	snprintf(buf, sizeof buf, "%s\n", s);
	if (atomic_write_str(statepath, buf, 0644) == -1)
		err_warn("unable to write %s:", statepath);
}

/* Enter state to; about names the node (or check) the reason concerns. */
static void
transition(int to, const char *reason, const char *about)
{
	const char *akey = strcmp(reason, "check-failed") == 0 ? "check" : "peer";
	const char *from = state < 0 ? "init" : state_name[state];
	int64_t t = now_ns();
	int prev = state;

	if (to == HB_MASTER) {
		vips_add();
		t_master = t;
		t_lease = t + (int64_t)cf.lease_s * NS / 3;
		garp_next = 0;
		if (cf.nannounce > 0 && cf.announce_ms[0] == 0) {
			announce();
			garp_next = 1;
		}
	} else if (prev == HB_MASTER)
		vips_del();
	state = to;
	n_trans++;
	send_msg(HB_ADVERT);	/* tell the group at once, not at the next tick */
	write_state(state_name[to]);
	out("event=transition group=%s node=%s from=%s to=%s reason=%s%s%s%s%s master=%s time=%.6f\n",
	    cf.group, cf.self, from, state_name[to], reason,
	    about ? " " : "", about ? akey : "", about ? "=" : "",
	    about ? about : "", master_name(), wall());
	err_info("%s -> %s (%s%s%s)", from, state_name[to], reason,
	    about ? " " : "", about ? about : "");
	hooks_request(to == HB_MASTER ? HK_MASTER : to == HB_BACKUP ? HK_BACKUP :
	    HK_FAULT, from, reason);
}

static pid_t
spawn(char *const argv[])
{
	pid_t pid = fork();

	if (pid == 0) {
		sigset_t all;
		sigfillset(&all);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		dup2(2, 1);
		setenv("HA_GROUP", cf.group, 1);
		setenv("HA_NODE", cf.self, 1);
		setenv("HA_STATE", state < 0 ? "init" : state_name[state], 1);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void
check_result(int k, int ok)
{
	struct checkrun *r = &runs[k];
	const struct check *c = &cf.checks[k];

	if (ok) {
		r->fails = 0;
		if (r->oks < c->rise)
			r->oks++;
		if (r->failed && r->oks >= c->rise) {
			r->failed = 0;
			err_info("check %s passes again", c->argv[0]);
		}
	} else {
		r->oks = 0;
		if (r->fails < c->fall)
			r->fails++;
		if (!r->failed && r->fails >= c->fall) {
			r->failed = 1;
			err_warn("check %s failed %u times in a row", c->argv[0], r->fails);
		}
	}
}

/* When check k needs attention: its next start, or giving up on its run. */
static int64_t
check_due(int k)
{
	const struct checkrun *r = &runs[k];

	if (r->pid > 0)
		return r->started + (int64_t)cf.checks[k].timeout_ms * MS;
	return r->next;
}

/*
 * Start the checks that are due. A run still going at its timeout has
 * failed and is killed; one still going within it delays the next start.
 */
static void
checks_run(int64_t t)
{
	int k;

	for (k = 0; k < cf.nchecks; k++) {
		struct checkrun *r = &runs[k];

		if (r->pid > 0) {
			if (t < check_due(k))
				continue;
			kill(r->pid, SIGKILL);	/* reaped by the SIGCHLD handler, ignored */
			r->pid = 0;
			check_result(k, 0);
		}
		if (t < r->next)
			continue;
		r->pid = spawn(cf.checks[k].argv);
		r->started = t;
		if (r->pid == -1) {
			r->pid = 0;
			check_result(k, 0);
		}
		r->next = t + (int64_t)cf.checks[k].every_ms * MS;
	}
}

/* A child ended: a check's verdict, or a hook's. */
static void
reaped(pid_t pid, int st)
{
	int k;

	for (k = 0; k < cf.nchecks; k++)
		if (runs[k].pid == pid) {
			runs[k].pid = 0;
			check_result(k, WIFEXITED(st) && WEXITSTATUS(st) == 0);
			return;
		}
	/* Not a hook of the running transition: a check we gave up on. */
	if (hooks_reaped(pid) && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
		err_warn("hook %ld failed (status %d)", (long)pid, st);
}

static const char *
check_failing(void)
{
	int k;

	for (k = 0; k < cf.nchecks; k++)
		if (runs[k].failed)
			return cf.checks[k].argv[0];
	return NULL;
}

static int
witness_ok(int64_t t)
{
	return w_last != 0 && t - w_last <= 3 * (int64_t)cf.witness_ms * MS;
}

/* Decide what this node should be now, and move there. */
static void
evaluate(int64_t t)
{
	int i, live = 1, best = me, claimant = -1, unheard = -1, want;
	const char *reason = NULL, *about = NULL;
	int all_heard = 1, newly = 0;

	for (i = 0; i < cf.nnodes; i++) {
		int was = peers[i].live;
		if (i == me)
			continue;
		peers[i].live = peers[i].last != 0 && t - peers[i].last <= dead_ns;
		if (peers[i].live && !was)
			newly = 1;
		if (peers[i].last == 0)
			all_heard = 0;
		if (!peers[i].live)
			continue;
		live++;
		if (peers[i].state == HB_FAULT)
			continue;
		if (outranks(i, best))
			best = i;
		if (peers[i].state == HB_MASTER &&
		    (claimant < 0 || outranks(i, claimant)))
			claimant = i;
	}
	/*
	 * A master that others report but we cannot hear (a half-healed
	 * link): taking over now would make two masters.
	 */
	for (i = 0; i < cf.nnodes; i++) {
		int r = peers[i].reported;
		if (i == me || !peers[i].live || peers[i].state == HB_FAULT ||
		    r < 0 || r == me || r == i || peers[r].live)
			continue;
		if (unheard < 0 || outranks(r, unheard))
			unheard = r;
	}
	if (t_hold && (all_heard || t >= t_hold))
		t_hold = 0;

	if (!link_ok) {
		want = HB_FAULT;
		reason = "link-down";
	} else if ((about = check_failing()) != NULL) {
		want = HB_FAULT;
		reason = "check-failed";
	} else if (t_hold) {
		want = HB_BACKUP;
		reason = "startup";
	} else if (live < cf.quorum) {
		want = HB_FAULT;
		reason = "no-quorum";
	} else if (cf.nnodes == 2 && cf.has_witness && live == 1 &&
	    !witness_ok(t)) {
		want = HB_FAULT;
		reason = "witness-lost";
	} else if (unheard >= 0 && (state != HB_MASTER || outranks(unheard, me))) {
		want = HB_BACKUP;
		reason = "master-unheard";
		about = cf.nodes[unheard].name;
	} else if (claimant >= 0 && (state != HB_MASTER || outranks(claimant, me))) {
		/*
		 * Even when we outrank it, the master must hear us and step
		 * down first: taking over on a timer would make two masters
		 * whenever it cannot hear us (a link coming back sends late).
		 */
		want = HB_BACKUP;
		reason = cf.preempt && best == me ? "preempting" : "master-elsewhere";
		about = cf.nodes[claimant].name;
	} else if (!cf.preempt && state == HB_MASTER) {
		want = HB_MASTER;
		reason = "holding";
	} else if (best != me) {
		want = HB_BACKUP;
		reason = "outranked";
		about = cf.nodes[best].name;
	} else {
		want = HB_MASTER;
		reason = "elected";
	}
	if (want != state)
		transition(want, reason, about);
	else if (state == HB_MASTER && newly)
		announce();	/* the network may have healed: neighbours may hold a stale MAC */
}

static void
reject(enum rej r, const char *from)
{
	int64_t t = now_ns();

	n_rej[r]++;
	/* Log at most once a second per reason: a flood must not flood the log. */
	if (rej_logged_at[r] == 0 || t - rej_logged_at[r] >= NS) {
		rej_logged_at[r] = t;
		err_warn("rejected heartbeat from %s: %s (%llu so far)", from,
		    rej_name[r], (unsigned long long)n_rej[r]);
	}
}

static void
receive(int p)
{
	unsigned char buf[512];
	struct sockaddr_storage ss;
	int i;

	for (i = 0; i < 64; i++) {
		socklen_t sl = sizeof ss;
		ssize_t n = recvfrom(udp[p], buf, sizeof buf, 0,
		    (struct sockaddr *)&ss, &sl);
		struct hb_msg m;
		struct addr src;
		char from[ADDR_STRLEN];
		enum hb_err e;
		int who;

		if (n == -1)
			return;
		addr_from_sockaddr(&ss, &src);
		addr_fmt(&src, from, sizeof from);
		e = hb_decode(buf, n, &key, &m);
		if (e != HB_OK) {
			reject(e == HB_ESHORT ? R_LENGTH : e == HB_EMAGIC ?
			    R_MAGIC : e == HB_EVERSION ? R_VERSION :
			    e == HB_EFIELD ? R_MALFORMED : R_MAC, from);
			continue;
		}
		if (strcmp(m.group, cf.group) != 0) {
			reject(R_GROUP, from);
			continue;
		}
		if ((who = conf_node(&cf, m.node)) < 0) {
			reject(R_NODE, from);
			continue;
		}
		if (who == me) {
			reject(R_SELF, from);
			continue;
		}
		if (!addr_eq(&src, &cf.nodes[who].path[p])) {
			reject(R_SOURCE, from);
			continue;
		}
		if (!auth_replay_check(&peers[who].rp, m.epoch, m.seq)) {
			reject(R_REPLAY, from);
			continue;
		}
		n_rx++;
		if (m.type == HB_RESIGN) {
			if (peers[who].resigned_epoch != m.epoch)
				err_info("%s resigned", m.node);
			peers[who].resigned_epoch = m.epoch;
			peers[who].last = 0;
			peers[who].state = HB_BACKUP;
			continue;
		}
		if (m.epoch == peers[who].resigned_epoch)
			continue;
		peers[who].last = now_ns();
		peers[who].state = m.state;
		peers[who].reported = m.master[0] ? conf_node(&cf, m.master) : -1;
		if (m.interval_ms != cf.interval_ms)
			err_debug("%s beats every %u ms, we every %u ms", m.node,
			    m.interval_ms, cf.interval_ms);
	}
}

static uint16_t
icmp_sum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t s = 0;

	for (; len > 1; p += 2, len -= 2)
		s += (uint32_t)(p[0] << 8 | p[1]);
	if (len)
		s += (uint32_t)p[0] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons((uint16_t)~s);
}

static void
witness_probe(void)
{
	struct icmphdr h = { 0 };
	struct sockaddr_in sa = { .sin_family = AF_INET };

	h.type = ICMP_ECHO;
	h.un.echo.id = htons(w_id);
	h.un.echo.sequence = htons(++w_seq);
	h.checksum = icmp_sum(&h, sizeof h);
	sa.sin_addr = cf.witness.u.v4;
	(void)sendto(icmpfd, &h, sizeof h, 0, (struct sockaddr *)&sa, sizeof sa);
}

static void
witness_read(void)
{
	unsigned char buf[256];
	struct sockaddr_in sa;
	int i;

	for (i = 0; i < 16; i++) {
		socklen_t sl = sizeof sa;
		ssize_t n = recvfrom(icmpfd, buf, sizeof buf, 0,
		    (struct sockaddr *)&sa, &sl);
		struct icmphdr h;
		size_t hl;
		if (n == -1)
			return;
		hl = (size_t)(buf[0] & 0x0f) * 4;
		if ((size_t)n < hl + sizeof h)
			continue;
		memcpy(&h, buf + hl, sizeof h);
		if (h.type == ICMP_ECHOREPLY && ntohs(h.un.echo.id) == w_id &&
		    sa.sin_addr.s_addr == cf.witness.u.v4.s_addr)
			w_last = now_ns();
	}
}

/*
 * Now is well after planned (when we meant to wake, or when we started
 * working): this process, or the whole machine, was not running. Peers'
 * silence during that time says nothing about them, so their timers get
 * the time back; otherwise a pause of every node at once (a stalled VM)
 * makes every node declare every other dead.
 */
static void
stall_grace(int64_t planned)
{
	int64_t late = now_ns() - planned;
	int i;

	if (late <= (int64_t)cf.interval_ms * MS / 2)
		return;
	n_stalls++;
	if (late > max_late)
		max_late = late;
	for (i = 0; i < cf.nnodes; i++)
		if (i != me && peers[i].last != 0)
			peers[i].last += late;
	if (late >= dead_ns / 2)
		err_warn("not scheduled for %.1f ms (heartbeat every %u ms): peers' timers extended",
		    late / 1e6, cf.interval_ms);
}

static void
stats(void)
{
	int r;

	out("event=stats group=%s node=%s state=%s rx=%llu tx=%llu tx_errors=%llu transitions=%llu stalls=%llu max_stall_us=%lld",
	    cf.group, cf.self, state < 0 ? "init" : state_name[state],
	    (unsigned long long)n_rx, (unsigned long long)n_tx,
	    (unsigned long long)n_txerr, (unsigned long long)n_trans,
	    (unsigned long long)n_stalls, (long long)(max_late / 1000));
	for (r = 0; r < R_NREASONS; r++)
		out(" rejected_%s=%llu", rej_name[r], (unsigned long long)n_rej[r]);
	out("\n");
}

static void
stop(int signo)
{
	const char *from = state < 0 ? "init" : state_name[state];
	int p;

	if (state == HB_MASTER) {
		/* Resign first so a backup starts taking over while we let go. */
		for (p = 0; p < 2; p++)
			send_msg(HB_RESIGN);
		vips_del();
	}
	write_state("stop");
	out("event=transition group=%s node=%s from=%s to=stop reason=signal signal=%s master= time=%.6f\n",
	    cf.group, cf.self, from, sigabbrev_np(signo) ? sigabbrev_np(signo) : "?",
	    wall());
	stats();
	hook_q.pending = 0;
	hooks_wait(5000);
	hook_n = 0;
	hooks_start(HK_STOP, from, "signal");
	hooks_wait(5000);
	auth_key_wipe(&key);
	nl_close(nl);
	exit(EXIT_OK);
}

static int
open_udp(int p)
{
	const struct addr *a = &cf.nodes[me].path[p];
	struct sockaddr_storage ss;
	socklen_t sl = addr_sockaddr(a, cf.port, &ss);
	int fd, one = 1, prio = 6, tos = IPTOS_PREC_INTERNETCONTROL;

	fd = socket(a->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_PRIORITY, &prio, sizeof prio);
	if (a->family == AF_INET) {
		(void)setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
		(void)setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
	} else {
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof tos);
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof one);
	}
	if (bind(fd, (struct sockaddr *)&ss, sl) == -1) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static void
setup(void)
{
	static const cap_value_t keep[] = { CAP_NET_ADMIN, CAP_NET_RAW };
	sigset_t sigs;
	int p;

	if ((ifindex = nl_ifindex(cf.ifname)) == 0)
		err_die(EXIT_BAD, "no interface %s", cf.ifname);
	if (nl_link_mac(ifindex, mac) == -1)
		err_die(EXIT_TEMP, "unable to read the address of %s:", cf.ifname);
	if ((nl = nl_open()) == NULL)
		err_die(EXIT_TEMP, "unable to open rtnetlink:");
	if ((linkfd = nl_link_watch_open()) == -1)
		err_die(EXIT_TEMP, "unable to watch links:");
	if ((arpfd = arp_open(ifindex)) == -1)
		err_die(EXIT_TEMP, "unable to open a packet socket on %s:", cf.ifname);
	for (p = 0; p < cf.nodes[me].npath; p++) {
		char ab[ADDR_STRLEN];
		if ((udp[p] = open_udp(p)) == -1)
			err_die(EXIT_TEMP, "unable to bind %s port %u:",
			    addr_fmt(&cf.nodes[me].path[p], ab, sizeof ab), cf.port);
	}
	if (cf.has_witness) {
		icmpfd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    IPPROTO_ICMP);
		if (icmpfd == -1)
			err_die(EXIT_TEMP, "unable to open an ICMP socket for the witness:");
		w_id = (uint16_t)getpid();
	}
	if (statedir != NULL) {
		if (mkdir(statedir, 0755) == -1 && errno != EEXIST)
			err_die(EXIT_TEMP, "unable to create %s:", statedir);
		if ((size_t)snprintf(statepath, sizeof statepath, "%s/state",
		    statedir) >= sizeof statepath)
			err_die(EXIT_BAD, "state folder name too long");
	}
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGCHLD);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	if ((sigfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		err_die(EXIT_TEMP, "unable to open a signalfd:");
	signal(SIGPIPE, SIG_IGN);

	if (cf.realtime) {
		/* A loaded machine must not starve the heartbeat into a false failover. */
		struct sched_param sp = { .sched_priority = 10 };
		if (sched_setscheduler(0, SCHED_RR | SCHED_RESET_ON_FORK, &sp) == -1)
			err_warn("unable to run with real-time priority:");
		else if (mlockall(MCL_CURRENT | MCL_FUTURE) == -1)
			err_debug("unable to lock memory:");
	}
	if (!cf.keep_privileges) {
		if (priv_drop(NULL, keep, 2) == -1)
			err_die(EXIT_TEMP, "unable to drop privileges:");
		if (priv_ambient(keep, 2) == -1)
			err_warn("unable to pass capabilities to hooks:");
	}
}

int
main(int argc, char **argv)
{
	const char *cfpath = NULL, *self = NULL, *why;
	int c, check = 0, i;
	int64_t t_woke;

	err_init(argv[0]);
	while ((c = getopt(argc, argv, "f:nN:qs:vV")) != -1) {
		switch (c) {
		case 'f': cfpath = optarg; break;
		case 'n': check = 1; break;
		case 'N': self = optarg; break;
		case 'q': err_verbose = -1; break;
		case 's': statedir = optarg; break;
		case 'v': err_verbose++; break;
		case 'V': puts("ha-beat " VERSION); return EXIT_OK;
		default: usage();
		}
	}
	if (optind != argc || cfpath == NULL)
		usage();
	if (conf_load(&cf, cfpath, self, &why) == -1)
		err_die(EXIT_BAD, "%s", why);
	if (auth_key_load(cf.keyfile, &key, &why) == -1) {
		if (why)
			err_die(EXIT_BAD, "%s: %s", cf.keyfile, why);
		err_die(errno == ENOENT || errno == EACCES ? EXIT_BAD : EXIT_TEMP,
		    "unable to read key %s:", cf.keyfile);
	}
	me = conf_node(&cf, cf.self);
	for (i = 0; i < HB_MAXNODES; i++)
		peers[i].reported = -1;
	if (check) {
		fprintf(stderr, "ha-beat: configuration OK\n");
		return EXIT_OK;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	setup();

	/* Leftovers from an earlier life (a crash inside the lease) go first. */
	vips_del();
	epoch = auth_epoch_now();
	dead_ns = (int64_t)cf.dead * cf.interval_ms * MS;
	link_ok = nl_link_up(nl, ifindex) == 1;
	t_next_send = now_ns();
	t_hold = t_next_send + (cf.hold_ms ? (int64_t)cf.hold_ms * MS : dead_ns);
	w_next = t_next_send;
	err_info("group %s node %s priority %d, %d nodes, every %u ms, dead after %u",
	    cf.group, cf.self, cf.nodes[me].priority, cf.nnodes,
	    cf.interval_ms, cf.dead);

	for (;;) {
		struct pollfd pf[HB_MAXPATHS + 3];
		int np = 0, k;
		int64_t t = now_ns(), next = t_next_send;
		struct timespec to;

		for (i = 0; i < cf.nnodes; i++)
			if (i != me && peers[i].live && peers[i].last + dead_ns + 1 < next)
				next = peers[i].last + dead_ns + 1;
		if (t_hold && t_hold < next)
			next = t_hold;
		if (state == HB_MASTER) {
			if (t_lease < next)
				next = t_lease;
			if (garp_next < cf.nannounce &&
			    t_master + cf.announce_ms[garp_next] * MS < next)
				next = t_master + cf.announce_ms[garp_next] * MS;
		}
		if (cf.has_witness && w_next < next)
			next = w_next;
		for (i = 0; i < cf.nchecks; i++)
			if (check_due(i) < next)
				next = check_due(i);
		if (hook_n > 0 && hook_started + HOOK_PATIENCE < next)
			next = hook_started + HOOK_PATIENCE;
		if (next < t)
			next = t;
		to.tv_sec = (next - t) / NS;
		to.tv_nsec = (next - t) % NS;

		for (k = 0; k < cf.nodes[me].npath; k++)
			pf[np++] = (struct pollfd){ .fd = udp[k], .events = POLLIN };
		pf[np++] = (struct pollfd){ .fd = sigfd, .events = POLLIN };
		pf[np++] = (struct pollfd){ .fd = linkfd, .events = POLLIN };
		if (icmpfd != -1)
			pf[np++] = (struct pollfd){ .fd = icmpfd, .events = POLLIN };
		if (ppoll(pf, np, &to, NULL) == -1 && errno != EINTR)
			err_die(EXIT_TEMP, "poll:");
		stall_grace(next);	/* paused while we slept */
		t_woke = now_ns();

		for (k = 0; k < cf.nodes[me].npath; k++)
			if (pf[k].revents & POLLIN)
				receive(k);
		if (pf[k].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sigfd, &si, sizeof si) == sizeof si) {
				int st;
				pid_t pid;
				switch (si.ssi_signo) {
				case SIGTERM:
				case SIGINT:
					stop(si.ssi_signo);
					break;
				case SIGUSR1:
					stats();
					break;
				case SIGHUP:
					err_warn("SIGHUP ignored: restart to reload (a clean stop hands over at once)");
					break;
				case SIGCHLD:
					while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
						reaped(pid, st);
					break;
				}
			}
		}
		if (pf[k + 1].revents & POLLIN) {
			int up;
			nl_link_watch_drain(linkfd);
			up = nl_link_up(nl, ifindex) == 1;
			if (up != link_ok)
				err_info("%s is %s", cf.ifname, up ? "up" : "down");
			link_ok = up;
		}
		if (icmpfd != -1 && (pf[k + 2].revents & POLLIN))
			witness_read();

		stall_grace(t_woke);	/* paused while we worked */
		t = now_ns();
		if (t >= t_next_send) {
			send_msg(HB_ADVERT);
			t_next_send += cf.interval_ms * MS;
			if (t_next_send <= t)	/* we fell behind: do not burst */
				t_next_send = t + cf.interval_ms * MS;
		}
		if (cf.has_witness && t >= w_next) {
			witness_probe();
			w_next = t + cf.witness_ms * MS;
		}
		checks_run(t);
		hooks_patience(t);
		evaluate(t);
		if (state == HB_MASTER) {
			if (t >= t_lease) {
				vips_add();	/* renews the lease, repairs a removal */
				t_lease = t + (int64_t)cf.lease_s * NS / 3;
			}
			while (garp_next < cf.nannounce &&
			    t >= t_master + cf.announce_ms[garp_next] * MS) {
				announce();
				garp_next++;
			}
		}
	}
}
