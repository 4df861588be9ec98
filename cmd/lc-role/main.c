/*
 * lc-role: converge this host to its load-cluster role (lb, bs, rs, none)
 * from a role file, show or undo it, and follow rs-probe's events.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "kv.h"
#include "lc-role.h"
#include "nl.h"
#include "priv.h"

#define STATEDIR "/var/lib/nonstop/lc-role"

static int opt_n, opt_q, opt_A, opt_R;
static const char *opt_dp, *opt_if, *opt_role, *opt_file;
static const char *statedir = STATEDIR;
static long drain_ms = 30000;
static char statepath[4096];

static void
usage(void)
{
	fprintf(stderr, "usage: %s [-AnqRvV] [-d nft|ipvs] [-i interface] "
	    "[-r role] [-s statedir] [-t drain_ms] apply|check|show|undo|follow "
	    "[-f rolefile]\n", err_prog);
	exit(EXIT_BAD);
}

static long long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long long
now_ms(void)
{
	return now_us() / 1000;
}

/* The interface the kernel routes dst through (the one facing the RSs). */
static int
route_if(const struct addr *dst, char *ifname)
{
	struct sockaddr_storage ss, me;
	socklen_t len = sizeof me;
	struct ifaddrs *ifa, *i;
	int fd, found = -1;

	memset(&ss, 0, sizeof ss);
	if (dst->family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;
		s->sin_family = AF_INET, s->sin_port = htons(9), s->sin_addr = dst->u.v4;
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
		s->sin6_family = AF_INET6, s->sin6_port = htons(9), s->sin6_addr = dst->u.v6;
	}
	if ((fd = socket(dst->family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, dst->family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&me, &len) == -1) {
		close(fd);
		return -1;
	}
	close(fd);
	if (getifaddrs(&ifa) == -1)
		return -1;
	for (i = ifa; i != NULL && found == -1; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != dst->family)
			continue;
		if (dst->family == AF_INET ?
		    ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr ==
		    ((struct sockaddr_in *)&me)->sin_addr.s_addr :
		    memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
		    &((struct sockaddr_in6 *)&me)->sin6_addr, 16) == 0) {
			snprintf(ifname, IF_NAMESIZE, "%s", i->ifa_name);
			found = 0;
		}
	}
	freeifaddrs(ifa);
	if (found == -1)
		errno = ENODEV;
	return found;
}

/* The desired state of role r, without the parts the kernel decides. */
static int
want_state(const struct role *r, int kind, const char *ifname, struct role_state *w)
{
	size_t i, j;

	role_state_init(w);
	w->role = kind;
	w->generation = r->generation;
	if (kind == ROLE_LB || kind == ROLE_BS)
		snprintf(w->ifname, sizeof w->ifname, "%s", ifname);
	/*
	 * A backup server has the balancer's table too, without the VIPs:
	 * no packet for a VIP reaches it until it takes them over, and then
	 * nothing is left to set up on the way.
	 */
	if (kind == ROLE_LB || kind == ROLE_BS) {
		for (i = 0; i < r->nsvc; i++) {
			struct dp_svc *s;
			/* -A: the VIPs are held by another (ha-beat). */
			if ((kind == ROLE_LB && !opt_A &&
			    role_state_add_addr(w, &r->svc[i].vip, ifname) == -1) ||
			    (s = dp_table_add_svc(&w->table)) == NULL)
				return -1;
			memcpy(s->name, r->svc[i].name, sizeof s->name);
			s->vip = r->svc[i].vip;
			s->port = r->svc[i].port;
			s->proto = r->svc[i].proto;
			s->sched = r->svc[i].sched;
			for (j = 0; j < r->nrs; j++) {
				struct dp_rs *d = dp_svc_add_rs(s);
				if (d == NULL)
					return -1;
				memcpy(d->name, r->rs[j].name, sizeof d->name);
				d->addr = r->rs[j].addr;
				d->port = r->rs[j].port ? r->rs[j].port : s->port;
				d->weight = r->rs[j].weight;
			}
		}
	} else if (kind == ROLE_RS) {
		int v4 = 0;
		for (i = 0; i < r->nsvc; i++) {
			if (role_state_add_addr(w, &r->svc[i].vip, "lo") == -1)
				return -1;
			v4 |= r->svc[i].vip.family == AF_INET;
		}
		/* DR: the VIP on lo must not answer or source ARP on the LAN. */
		if (v4 && (role_state_add_sys(w, "net.ipv4.conf.all.arp_ignore", "", "1") == -1 ||
		    role_state_add_sys(w, "net.ipv4.conf.all.arp_announce", "", "2") == -1))
			return -1;
	}
	return 0;
}

static void
say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void
say(const char *fmt, ...)
{
	va_list ap;

	if (opt_q)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

/* Print what apply would change: addresses, sysctls, the dataplane. */
static int
plan(const struct role_state *old, const struct role_state *w)
{
	char a[ADDR_STRLEN], cur[32];
	int n = 0;
	size_t i;

	if (old->role != w->role) {
		say("~ role=%s was=%s\n", role_kind_name(w->role),
		    old->role < 0 ? "-" : role_kind_name(old->role));
		n++;
	}
	for (i = 0; i < w->nsys; i++)
		if (sysctl_get(w->sys[i].key, cur, sizeof cur) == -1 ||
		    strcmp(cur, w->sys[i].val) != 0)
			say("~ sysctl=%s value=%s\n", w->sys[i].key, w->sys[i].val), n++;
	for (i = 0; i < w->naddr; i++)
		if (!role_state_has_addr(old, &w->addr[i].a, w->addr[i].dev))
			say("+ addr=%s dev=%s\n", addr_fmt(&w->addr[i].a, a, sizeof a),
			    w->addr[i].dev), n++;
	for (i = 0; i < old->naddr; i++)
		if (!role_state_has_addr(w, &old->addr[i].a, old->addr[i].dev))
			say("- addr=%s dev=%s\n", addr_fmt(&old->addr[i].a, a, sizeof a),
			    old->addr[i].dev), n++;
	for (i = 0; i < old->nsys; i++)
		if (role_state_sys(w, old->sys[i].key) == NULL)
			say("~ sysctl=%s value=%s\n", old->sys[i].key, old->sys[i].old), n++;
	if (!opt_q)
		n += dp_diff(stdout, &old->table, &w->table);
	return n;
}

/* Bring the kernel from old to w; old is updated as things change. */
static int
converge(struct nl *nl, struct dp *dp, struct role_state *old, struct role_state *w)
{
	struct role_state both;
	char cur[32], a[ADDR_STRLEN];
	size_t i;
	unsigned ifx;
	int had;

	/* Intent first: a crash from here on leaves undo able to clean up. */
	role_state_init(&both);
	both.role = old->role >= 0 ? old->role : w->role;
	memcpy(both.dp, old->dp[0] ? old->dp : w->dp, sizeof both.dp);
	memcpy(both.ifname, old->ifname[0] ? old->ifname : w->ifname,
	    sizeof both.ifname);
	both.generation = old->generation;
	for (i = 0; i < old->naddr; i++)
		role_state_add_addr(&both, &old->addr[i].a, old->addr[i].dev);
	for (i = 0; i < old->nsys; i++)
		role_state_add_sys(&both, old->sys[i].key, old->sys[i].old, old->sys[i].val);
	dp_table_copy(&both.table, old->table.nsvc ? &old->table : &w->table);

	/* New sysctls: remember the value we found only the first time. */
	for (i = 0; i < w->nsys; i++) {
		struct role_state_sysctl *o = role_state_sys(old, w->sys[i].key);
		if (sysctl_get(w->sys[i].key, cur, sizeof cur) == -1)
			err_die(EXIT_TEMP, "unable to read sysctl %s:", w->sys[i].key);
		snprintf(w->sys[i].old, sizeof w->sys[i].old, "%s",
		    o != NULL ? o->old : cur);
		role_state_add_sys(&both, w->sys[i].key, w->sys[i].old, w->sys[i].val);
	}
	/* New addresses: ours only when we add them (or added them before). */
	for (i = 0; i < w->naddr; i++) {
		ifx = nl_ifindex(w->addr[i].dev);
		if (ifx == 0)
			err_die(EXIT_TEMP, "no interface %s", w->addr[i].dev);
		had = nl_addr_has(nl, ifx, &w->addr[i].a);
		if (had == 1 && !role_state_has_addr(old, &w->addr[i].a, w->addr[i].dev)) {
			err_info("address %s on %s was there before: not ours",
			    addr_fmt(&w->addr[i].a, a, sizeof a), w->addr[i].dev);
			w->addr[i].dev[0] = '\0';	/* not recorded below */
			continue;
		}
		role_state_add_addr(&both, &w->addr[i].a, w->addr[i].dev);
	}
	if (role_state_save(statepath, &both) == -1)
		err_die(EXIT_TEMP, "unable to write %s:", statepath);
	role_state_free(&both);

	for (i = 0; i < w->nsys; i++) {
		if (sysctl_get(w->sys[i].key, cur, sizeof cur) == 0 &&
		    strcmp(cur, w->sys[i].val) == 0)
			continue;
		if (sysctl_set(w->sys[i].key, w->sys[i].val) == -1)
			err_die(EXIT_TEMP, "unable to set %s:", w->sys[i].key);
		err_debug("sysctl %s=%s", w->sys[i].key, w->sys[i].val);
	}
	for (i = 0; i < w->naddr; i++) {
		if (w->addr[i].dev[0] == '\0')
			continue;
		ifx = nl_ifindex(w->addr[i].dev);
		if (nl_addr_add(nl, ifx, &w->addr[i].a, NL_FOREVER, NL_FOREVER) == -1 &&
		    errno != EEXIST)
			err_die(EXIT_TEMP, "unable to add %s on %s:",
			    addr_fmt(&w->addr[i].a, a, sizeof a), w->addr[i].dev);
		err_debug("address %s on %s", addr_fmt(&w->addr[i].a, a, sizeof a),
		    w->addr[i].dev);
	}
	/* Drop the unrecorded (pre-existing) addresses from w's list. */
	{
		size_t k = 0;
		for (i = 0; i < w->naddr; i++)
			if (w->addr[i].dev[0] != '\0')
				w->addr[k++] = w->addr[i];
		w->naddr = k;
	}
	if (w->role == ROLE_LB || w->role == ROLE_BS) {
		/* A backup leaves out servers it cannot reach yet. */
		dp->lenient = w->role == ROLE_BS;
		if (dp_apply(dp, &w->table, &old->table) == -1)
			err_die(errno == EINVAL ? EXIT_BAD : EXIT_TEMP, "%s", dp->why);
		for (i = 0; dp->lenient && strcmp(dp->ops->name, "nft") == 0 &&
		    i < w->table.nsvc; i++) {
			size_t j;
			for (j = 0; j < w->table.svc[i].nrs; j++)
				if (!w->table.svc[i].rs[j].has_mac &&
				    w->table.svc[i].rs[j].weight > 0)
					err_warn("real server %s not reachable yet: "
					    "left out", w->table.svc[i].rs[j].name);
		}
	} else if (old->table.nsvc > 0 && dp != NULL) {
		if (dp_remove(dp, &old->table) == -1)
			err_die(EXIT_TEMP, "%s", dp->why);
	}
	/* Only now take away what the old role had and the new one has not. */
	for (i = 0; i < old->naddr; i++) {
		if (role_state_has_addr(w, &old->addr[i].a, old->addr[i].dev))
			continue;
		if ((ifx = nl_ifindex(old->addr[i].dev)) != 0 &&
		    nl_addr_del(nl, ifx, &old->addr[i].a) == -1)
			err_warn("unable to remove %s from %s:",
			    addr_fmt(&old->addr[i].a, a, sizeof a), old->addr[i].dev);
	}
	for (i = 0; i < old->nsys; i++) {
		if (role_state_sys(w, old->sys[i].key) != NULL)
			continue;
		/* Restore only if nobody changed it since. */
		if (sysctl_get(old->sys[i].key, cur, sizeof cur) == 0 &&
		    strcmp(cur, old->sys[i].val) == 0 &&
		    sysctl_set(old->sys[i].key, old->sys[i].old) == -1)
			err_warn("unable to restore %s:", old->sys[i].key);
	}
	if (role_state_save(statepath, w) == -1)
		err_die(EXIT_TEMP, "unable to write %s:", statepath);
	return 0;
}

static struct dp *
open_dp(const char *name, const char *ifname)
{
	char why[256];
	struct dp *dp = dp_open(name, ifname, why, sizeof why);

	if (dp == NULL)
		err_die(errno == ENOENT && name != NULL && strcmp(name, "nft") &&
		    strcmp(name, "ipvs") ? EXIT_BAD : EXIT_TEMP, "%s", why);
	return dp;
}

static void
drop_privs(void)
{
	cap_value_t keep[] = { CAP_NET_ADMIN };

	if (priv_drop(NULL, keep, 1) == -1)
		err_die(EXIT_TEMP, "unable to drop privileges:");
}

/* --- follow ------------------------------------------------------------ */

/* The state file of follow, a copy of its table (for the saver thread). */
static void *
snap_state(void *arg)
{
	const struct role_state *s = arg;
	struct role_state *c = malloc(sizeof *c);

	if (c == NULL)
		return NULL;
	/* Only the table changes in follow; the rest is shared. */
	*c = *s;
	if (dp_table_copy(&c->table, &s->table) == -1) {
		free(c);
		return NULL;
	}
	return c;
}

static void
save_state(void *snap)
{
	struct role_state *c = snap;

	if (c == NULL) {
		err_warn("unable to write %s: out of memory", statepath);
		return;
	}
	if (role_state_save(statepath, c) == -1)
		err_warn("unable to write %s:", statepath);
	dp_table_free(&c->table);
	free(c);
}

struct drain {
	char rs[ROLE_NAMELEN];
	long long until;
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int
rs_set(struct role_state *s, const struct role *r, const char *name, int weight,
    int remove, int readd)
{
	size_t i, j;
	int changed = 0;

	for (i = 0; i < s->table.nsvc; i++) {
		struct dp_svc *d = &s->table.svc[i];
		for (j = 0; j < d->nrs; j++)
			if (strcmp(d->rs[j].name, name) == 0)
				break;
		if (j < d->nrs) {
			if (remove) {
				d->rs[j] = d->rs[--d->nrs];
				changed = 1;
			} else if (d->rs[j].weight != weight) {
				d->rs[j].weight = weight;
				changed = 1;
			}
		} else if (readd) {
			const struct role_host *h = role_rs(r, name);
			struct dp_rs *n;
			if (h == NULL || (n = dp_svc_add_rs(d)) == NULL)
				continue;
			memcpy(n->name, h->name, sizeof n->name);
			n->addr = h->addr;
			n->port = h->port ? h->port : d->port;
			n->weight = weight;
			changed = 1;
		}
	}
	return changed;
}

/* No connection left on the real server named name (IPVS counts). */
static int
drained(const struct dp_table *cur, const char *name)
{
	size_t i, j;

	for (i = 0; i < cur->nsvc; i++)
		for (j = 0; j < cur->svc[i].nrs; j++)
			if (strcmp(cur->svc[i].rs[j].name, name) == 0 &&
			    (cur->svc[i].rs[j].active || cur->svc[i].rs[j].inactive))
				return 0;
	return 1;
}

/*
 * Bring the dataplane from applied (what we applied last) to s's table,
 * changing only what differs; applied follows on success.
 */
static int
push(struct dp *dp, struct role_state *s, struct dp_table *applied)
{
	if (dp_update(dp, &s->table, applied) == -1)
		return -1;
	if (dp_table_set(applied, &s->table) == -1)
		err_die(EXIT_TEMP, "out of memory");
	return 0;
}

static int
follow(struct nl *nl, struct dp *dp, struct role_state *s, const struct role *r)
{
	struct dp_table applied;
	struct saver *sv;
	struct drain *dr = NULL;
	size_t ndr = 0, i;
	int *weight;		/* configured weight per role rs */
	char line[4096];
	size_t have = 0;
	struct sigaction sa;
	long long next_count = 0;

	(void)nl;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((weight = calloc(r->nrs + 1, sizeof *weight)) == NULL ||
	    (dr = calloc(r->nrs + 1, sizeof *dr)) == NULL)
		err_die(EXIT_TEMP, "out of memory");
	for (i = 0; i < r->nrs; i++)
		weight[i] = r->rs[i].weight;
	if (dp_table_copy(&applied, &s->table) == -1)
		err_die(EXIT_TEMP, "out of memory");
	setvbuf(stdout, NULL, _IOLBF, 0);
	/*
	 * Freed memory stays in the heap: an event's arrays (slots, copies
	 * of the table) would otherwise be mapped, faulted in (and with -R
	 * locked) and unmapped again every time.
	 */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	if ((sv = saver_start(snap_state, save_state, s)) == NULL)
		err_die(EXIT_TEMP, "unable to start the state writer:");
	while (!stop) {
		struct pollfd pfd = { 0, POLLIN, 0 };
		long long t = now_ms(), next = -1;
		int changed = 0, rc;
		ssize_t got;
		char *nlp;

		/* IPVS counts connections: a drained server goes at once. */
		if (ndr > 0 && t >= next_count && strcmp(dp->ops->name, "ipvs") == 0) {
			struct dp_table cur;
			next_count = t + 500;
			if (dp_read(dp, &cur, &s->table) == 0) {
				for (i = 0; i < ndr; i++)
					if (drained(&cur, dr[i].rs))
						dr[i].until = t;
				dp_table_free(&cur);
			}
		}
		/* One drained server at a time, each with its own line. */
		saver_lock(sv);
		for (i = 0; i < ndr && !changed; i++) {
			char gone[ROLE_NAMELEN];
			if (dr[i].until > t)
				continue;
			memcpy(gone, dr[i].rs, sizeof gone);
			dr[i--] = dr[--ndr];
			if (!rs_set(s, r, gone, 0, 1, 0))
				continue;
			changed = 1;
			if (push(dp, s, &applied) == -1) {
				say("event=removed rs=%s applied=no\n", gone);
				err_warn("%s", dp->why);
			} else {
				say("event=removed rs=%s\n", gone);
				saver_unlock(sv);
				saver_kick(sv);
				saver_lock(sv);
			}
		}
		saver_unlock(sv);
		if (changed)
			continue;
		for (i = 0; i < ndr; i++)
			if (next == -1 || dr[i].until < next)
				next = dr[i].until;
		if (ndr > 0 && strcmp(dp->ops->name, "ipvs") == 0 &&
		    (next == -1 || next_count < next))
			next = next_count;
		rc = poll(&pfd, 1, next == -1 ? -1 : (int)(next - t + 1));
		if (rc == -1) {
			if (errno == EINTR)
				continue;
			err_die(EXIT_TEMP, "poll:");
		}
		if (rc == 0)
			continue;
		got = read(0, line + have, sizeof line - 1 - have);
		if (got == -1 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		have += (size_t)got;
		line[have] = '\0';
		saver_lock(sv);
		while ((nlp = strchr(line, '\n')) != NULL) {
			struct kv_rec rec;
			const char *why, *ev, *name, *wv;
			size_t idx;
			long long t0 = now_us();
			char *end;

			*nlp = '\0';
			changed = 0;
			if (kv_parse(&rec, line, &why) == -1) {
				err_warn("bad event line: %s", why ? why : "?");
				goto next;
			}
			ev = kv_get(&rec, "event");
			name = kv_get(&rec, "rs");
			if (ev == NULL || name == NULL || role_rs(r, name) == NULL) {
				if (ev != NULL)
					err_debug("event %s ignored", ev);
				kv_free(&rec);
				goto next;
			}
			idx = (size_t)(role_rs(r, name) - r->rs);
			if (strcmp(ev, "rs-down") == 0) {
				/* Quiesce: no new connections, the old ones drain. */
				changed = rs_set(s, r, name, 0, 0, 0);
				for (i = 0; i < ndr && strcmp(dr[i].rs, name); i++)
					;
				if (changed && i == ndr) {
					snprintf(dr[ndr].rs, sizeof dr[0].rs, "%s", name);
					dr[ndr++].until = now_ms() + drain_ms;
				}
				if (changed)
					say("event=quiesced rs=%s", name);
			} else if (strcmp(ev, "rs-up") == 0) {
				for (i = 0; i < ndr; i++)
					if (strcmp(dr[i].rs, name) == 0)
						dr[i--] = dr[--ndr];
				changed = rs_set(s, r, name, weight[idx], 0, 1);
				if (changed)
					say("event=added rs=%s weight=%d", name, weight[idx]);
			} else if (strcmp(ev, "weight") == 0 &&
			    (wv = kv_get(&rec, "weight")) != NULL) {
				long v = strtol(wv, &end, 10);
				if (*wv == '\0' || *end != '\0' || v < 0 ||
				    v > ROLE_WEIGHT_MAX) {
					err_warn("bad weight %s for %s", wv, name);
				} else {
					int down = 0;
					weight[idx] = (int)v;
					for (i = 0; i < ndr; i++)
						down |= strcmp(dr[i].rs, name) == 0;
					if (!down)
						changed = rs_set(s, r, name, (int)v, 0, 0);
					if (changed)
						say("event=weight rs=%s weight=%ld", name, v);
				}
			} else {
				err_debug("event %s ignored", ev);
			}
			kv_free(&rec);
			if (changed) {
				if (push(dp, s, &applied) == -1) {
					/* End the record: one event per line, always. */
					say(" applied=no\n");
					err_warn("%s", dp->why);
				} else {
					say(" us=%lld\n", now_us() - t0);
					saver_unlock(sv);
					saver_kick(sv);
					saver_lock(sv);
				}
			}
next:
			have -= (size_t)(nlp + 1 - line);
			memmove(line, nlp + 1, have + 1);
		}
		saver_unlock(sv);
		if (have == sizeof line - 1) {
			err_warn("event line too long: dropped");
			have = 0;
		}
	}
	saver_stop(sv);
	dp_table_free(&applied);
	free(weight);
	free(dr);
	return 0;
}

/*
 * Is what we recorded still in the kernel? Prints what differs; 0 when
 * all is there, 1 when not (a flushed table, a lost VIP).
 */
static int
check(const struct role_state *old)
{
	struct dp_table cur;
	struct dp *dp;
	struct nl *nl;
	FILE *out = stdout;
	char a[ADDR_STRLEN], val[32];
	size_t i;
	int n = 0;
	unsigned ifx;

	if ((nl = nl_open()) == NULL)
		err_die(EXIT_TEMP, "unable to open rtnetlink:");
	for (i = 0; i < old->naddr; i++) {
		ifx = nl_ifindex(old->addr[i].dev);
		if (ifx == 0 || nl_addr_has(nl, ifx, &old->addr[i].a) != 1)
			say("+ addr=%s dev=%s\n", addr_fmt(&old->addr[i].a, a, sizeof a),
			    old->addr[i].dev), n++;
	}
	nl_close(nl);
	for (i = 0; i < old->nsys; i++)
		if (sysctl_get(old->sys[i].key, val, sizeof val) == -1 ||
		    strcmp(val, old->sys[i].val) != 0)
			say("~ sysctl=%s value=%s\n", old->sys[i].key, val), n++;
	if (old->dp[0] && (old->role == ROLE_LB || old->role == ROLE_BS)) {
		dp = open_dp(old->dp, old->ifname[0] ? old->ifname : NULL);
		if (dp_read(dp, &cur, &old->table) == -1)
			err_die(EXIT_TEMP, "unable to read the %s table:", old->dp);
		if (opt_q && (out = fopen("/dev/null", "w")) == NULL)
			out = stdout;
		/* "+" is what the kernel lacks, as apply would put it back. */
		n += dp_diff(out, &cur, &old->table);
		if (out != stdout)
			fclose(out);
		dp_table_free(&cur);
		dp_close(dp);
	}
	return n > 0 ? EXIT_NO : EXIT_OK;
}

/* --- main -------------------------------------------------------------- */

int
main(int argc, char **argv)
{
	struct role r;
	struct role_state old, w;
	struct nl *nl = NULL;
	struct dp *dp = NULL;
	char why[512], ifname[IF_NAMESIZE] = "";
	const char *cmd;
	int c, kind, rc = 0;
	char *end;

	err_init(argv[0]);
	while ((c = getopt(argc, argv, "Ad:f:i:nqRr:s:t:vV")) != -1) {
		switch (c) {
		case 'A': opt_A = 1; break;
		case 'd': opt_dp = optarg; break;
		case 'f': opt_file = optarg; break;
		case 'i': opt_if = optarg; break;
		case 'n': opt_n = 1; break;
		case 'q': opt_q = 1; break;
		case 'R': opt_R = 1; break;
		case 'r': opt_role = optarg; break;
		case 's': statedir = optarg; break;
		case 't':
			drain_ms = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || drain_ms < 0)
				usage();
			break;
		case 'v': err_verbose++; break;
		case 'V': puts("lc-role " VERSION); return 0;
		default: usage();
		}
	}
	/* The operand may come before or after -f. */
	if (optind >= argc)
		usage();
	cmd = argv[optind++];
	while (optind < argc) {
		if (strcmp(argv[optind], "-f") == 0 && optind + 1 < argc) {
			opt_file = argv[optind + 1];
			optind += 2;
		} else {
			usage();
		}
	}
	if (strcmp(cmd, "apply") && strcmp(cmd, "show") && strcmp(cmd, "undo") &&
	    strcmp(cmd, "follow") && strcmp(cmd, "check"))
		usage();
	if (opt_dp != NULL && strcmp(opt_dp, "nft") && strcmp(opt_dp, "ipvs"))
		err_die(EXIT_BAD, "unknown dataplane %s (nft or ipvs)", opt_dp);
	if (opt_role != NULL && role_kind_parse(opt_role) == -1)
		err_die(EXIT_BAD, "unknown role %s (lb, bs, rs or none)", opt_role);
	if (snprintf(statepath, sizeof statepath, "%s/state", statedir) >=
	    (int)sizeof statepath)
		err_die(EXIT_BAD, "state folder name too long");

	memset(&r, 0, sizeof r);
	if ((!strcmp(cmd, "apply") || !strcmp(cmd, "follow")) && opt_file == NULL)
		usage();
	if (opt_file != NULL && role_read(opt_file, &r, why, sizeof why) == -1)
		err_die(errno == EINVAL || errno == ENOENT ? EXIT_BAD : EXIT_TEMP,
		    "%s: %s", opt_file, why);
	kind = opt_role ? role_kind_parse(opt_role) : (int)r.kind;
	if (opt_file == NULL)
		kind = ROLE_NONE;
	if (kind != ROLE_NONE && (r.nsvc == 0 || !r.has_lb))
		err_die(EXIT_BAD, "%s: role %s needs services and an lb record",
		    opt_file, role_kind_name(kind));
	if (!strcmp(cmd, "follow") && kind != ROLE_LB)
		err_die(EXIT_BAD, "follow needs the lb role (this host is %s)",
		    role_kind_name(kind));
	if (role_state_load(statepath, &old, why, sizeof why) == -1)
		err_die(errno == EINVAL ? EXIT_BAD : EXIT_TEMP, "%s", why);

	/* The balancer's interface: given, remembered, or the route to an RS. */
	if (kind == ROLE_LB || kind == ROLE_BS) {
		if (opt_if != NULL)
			snprintf(ifname, sizeof ifname, "%s", opt_if);
		else if (r.nrs > 0 && route_if(&r.rs[0].addr, ifname) == 0)
			;
		else if (old.ifname[0])
			memcpy(ifname, old.ifname, sizeof ifname);
		else
			err_die(EXIT_TEMP, "no route to the real servers: give -i");
	}
	if (want_state(&r, kind, ifname, &w) == -1)
		err_die(EXIT_TEMP, "out of memory");

	if (!strcmp(cmd, "show")) {
		struct dp_table cur;
		char a[ADDR_STRLEN];
		size_t i;
		printf("role=%s", role_kind_name(old.role < 0 ? ROLE_NONE : old.role));
		if (old.dp[0])
			printf(" dp=%s", old.dp);
		if (old.ifname[0])
			printf(" if=%s", old.ifname);
		printf(" generation=%lu\n", old.generation);
		for (i = 0; i < old.naddr; i++)
			printf("addr=%s dev=%s\n", addr_fmt(&old.addr[i].a, a, sizeof a),
			    old.addr[i].dev);
		for (i = 0; i < old.nsys; i++)
			printf("sysctl=%s value=%s old=%s\n", old.sys[i].key,
			    old.sys[i].val, old.sys[i].old);
		if (old.dp[0]) {
			dp = open_dp(old.dp, old.ifname[0] ? old.ifname : NULL);
			if (dp_read(dp, &cur, &old.table) == -1)
				err_die(EXIT_TEMP, "unable to read the %s table:", old.dp);
			dp_print(stdout, &cur);
			dp_table_free(&cur);
		}
		goto done;
	}

	if (!strcmp(cmd, "check")) {
		rc = check(&old);
		goto done;
	}
	if (!strcmp(cmd, "undo")) {
		role_state_free(&w);
		role_state_init(&w);
		w.role = ROLE_NONE;
	}
	/* A dataplane is needed to balance, to be ready to, or to clean up. */
	if (w.role == ROLE_LB || w.role == ROLE_BS || old.dp[0]) {
		const char *name = opt_dp ? opt_dp : old.dp[0] ? old.dp : NULL;
		if (w.role == ROLE_LB || w.role == ROLE_BS)
			dp = open_dp(name, ifname);
		else
			dp = open_dp(old.dp, old.ifname[0] &&
			    nl_ifindex(old.ifname) ? old.ifname : NULL);
		if (w.role == ROLE_LB || w.role == ROLE_BS)
			snprintf(w.dp, sizeof w.dp, "%s", dp->ops->name);
		if (old.dp[0] && strcmp(old.dp, dp->ops->name) != 0)
			err_die(EXIT_BAD, "this host balances with %s: undo it "
			    "before switching to %s", old.dp, dp->ops->name);
		if (dp_check(dp, &w.table) == -1)
			err_die(EXIT_BAD, "%s", dp->why);
	}
	if (opt_n) {
		if (plan(&old, &w) == 0 && !opt_q)
			puts("# no changes");
		goto done;
	}
	if ((nl = nl_open()) == NULL)
		err_die(EXIT_TEMP, "unable to open rtnetlink:");
	/* chmod: a caller's umask (keepalived's is 077 or so) must not
	 * leave a folder we cannot enter once CAP_DAC_OVERRIDE is gone. */
	if (mkdir(statedir, 0755) == 0)
		(void)chmod(statedir, 0755);
	else if (errno != EEXIST)
		err_die(EXIT_TEMP, "unable to create %s:", statedir);
	/* Needs CAP_SYS_NICE and CAP_IPC_LOCK: before they are dropped. */
	if (opt_R && !strcmp(cmd, "follow"))
		rt_realtime(5);
	drop_privs();

	if (!strcmp(cmd, "undo") && old.role < 0) {
		err_debug("nothing to undo");
		goto done;
	}
	converge(nl, dp, &old, &w);

	if (!strcmp(cmd, "undo")) {
		if (unlink(statepath) == -1 && errno != ENOENT)
			err_die(EXIT_TEMP, "unable to remove %s:", statepath);
		err_debug("undone");
	} else if (!strcmp(cmd, "follow")) {
		rc = follow(nl, dp, &w, &r);
	}
done:
	dp_close(dp);
	if (nl != NULL)
		nl_close(nl);
	role_state_free(&old);
	role_state_free(&w);
	role_free(&r);
	err_check_stdout();
	return rc;
}
