/*
 * tcpr-restore: re-create every stored TCP session with TCP_REPAIR so the
 * peers carry on, then exec the application with the sessions as fds.
 */
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "tcpr_kick.h"
#include "tcpr_rec.h"
#include "tcpr_repair.h"
#include "tcpr_store.h"

#define FD_BASE 3

/* Which way: never io_uring, only io_uring, io_uring where it works. */
enum { RING_NEVER, RING_ONLY, RING_AUTO };
static const char *restored_by = "system calls";

static void
usage(void)
{
	fprintf(stderr, "usage: tcpr-restore [-KnqRuUvVW] [-a ms] [-j n] [-L ms] [-p port] "
	    "[-t ms] -s dir [prog [arg ...]]\n");
	exit(EXIT_BAD);
}

static long
num(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi)
		err_die(EXIT_BAD, "bad %s %s (%ld-%ld)", what, s, lo, hi);
	return v;
}

/*
 * The restore as a pipeline: preparing threads make the sockets and do
 * what touches only them (tcpr_repair_prepare), ahead of the main thread,
 * which binds, connects and finishes them in order. Only the main thread
 * touches the service port's shared tables, so the threads do not
 * contend; on two cores the socket allocation, the costliest call, runs
 * beside the rest. A session nobody has prepared yet when the main
 * thread gets to it, the main thread prepares itself: a preparer that
 * the scheduler left behind never holds it up.
 */
#define PENDING (-2)
#define BUSY (-3)

struct pipeline {
	const struct tcpr_sess *v;
	int *pre;		/* prepared socket, -1 failed, PENDING, BUSY */
	int *err;		/* errno of a failed preparation */
	const char **why;
	size_t n, np;
	size_t at;		/* the main thread's session */
	int flags;
};

struct preparer {
	struct pipeline *p;
	size_t k;
};

static int
claim(struct pipeline *p, size_t i)
{
	int pending = PENDING;

	return __atomic_compare_exchange_n(&p->pre[i], &pending, BUSY, 0,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

static void *
prepare(void *arg)
{
	struct preparer *w = arg;
	struct pipeline *p = w->p;
	size_t i = w->k, at;

	for (; i < p->n; i += p->np) {
		int fd;

		/* fallen behind: skip to just ahead of the main thread */
		at = __atomic_load_n(&p->at, __ATOMIC_RELAXED);
		if (i <= at)
			i += (at - i) / p->np * p->np;
		if (i >= p->n || !claim(p, i))
			continue;
		fd = tcpr_repair_prepare(&p->v[i], p->flags, &p->why[i]);
		if (fd < 0)
			p->err[i] = errno;
		__atomic_store_n(&p->pre[i], fd, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* Session i's socket, prepared here or by a preparer. */
static int
prepared(struct pipeline *p, size_t i, const char **why)
{
	unsigned spin = 0;
	int fd;

	__atomic_store_n(&p->at, i, __ATOMIC_RELAXED);
	if (claim(p, i))
		return tcpr_repair_prepare(&p->v[i], p->flags, why);
	/* its preparer is at it: a few microseconds */
	while ((fd = __atomic_load_n(&p->pre[i], __ATOMIC_ACQUIRE)) == BUSY)
		if (++spin > 100)
			sched_yield();
	if (fd < 0) {
		*why = p->why[i];
		errno = p->err[i];
	}
	return fd;
}

/*
 * The pipeline with a process instead of threads: a threaded process
 * pays for every descriptor-based call (the file table is shared and
 * each call takes a reference), which here eats what the second core
 * gives. The child prepares every session in order and passes the
 * sockets over a socket pair in batches (SCM_RIGHTS); the main process
 * finishes them as they come.
 */
#define BATCH 64

struct prep_msg {
	uint32_t n;
	struct {
		int32_t err;		/* 0: a descriptor comes with it */
		char why[28];
	} e[BATCH];
};

static void
prepare_child(const struct tcpr_sess *v, size_t n, int flags, int out,
    size_t bs)
{
	union {
		char b[CMSG_SPACE(BATCH * sizeof(int))];
		struct cmsghdr align;
	} cb;
	struct prep_msg m;
	const char *why[BATCH];
	int f[BATCH], errs[BATCH], fds[BATCH];
	size_t i, k, nf, nm;

	for (i = 0; i < n; i += nm) {
		struct iovec iov = { &m, sizeof m };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

		nm = n - i < bs ? n - i : bs;
		memset(why, 0, sizeof why);
		for (k = 0; k < nm; k++) {
			f[k] = tcpr_repair_prepare(&v[i + k], flags, &why[k]);
			errs[k] = errno;
		}
		memset(&m, 0, sizeof m);
		m.n = (uint32_t)nm;
		for (k = 0, nf = 0; k < nm; k++) {
			m.e[k].err = f[k] < 0 ? (errs[k] ? errs[k] : EIO) : 0;
			snprintf(m.e[k].why, sizeof m.e[k].why, "%s",
			    f[k] < 0 && why[k] ? why[k] : "");
			if (f[k] >= 0)
				fds[nf++] = f[k];
		}
		if (nf) {
			struct cmsghdr *cm;

			mh.msg_control = cb.b;
			mh.msg_controllen = CMSG_SPACE(nf * sizeof(int));
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(nf * sizeof(int));
			memcpy(CMSG_DATA(cm), fds, nf * sizeof(int));
		}
		if (sendmsg(out, &mh, 0) < 0)
			_exit(EXIT_TEMP);
		for (k = 0; k < nf; k++)
			close(fds[k]);
	}
	_exit(EXIT_OK);
}

/* Restore through a preparing child; -1 if none could be started. */
static long
restore_forked(const struct tcpr_sess *v, const uint64_t *age, int *fd,
    size_t n, long ts_add, int flags)
{
	union {
		char b[CMSG_SPACE(BATCH * sizeof(int))];
		struct cmsghdr align;
	} cb;
	struct prep_msg m;
	size_t i = 0, nbad = 0, k, nf, used, bs;
	int sv[2], got[BATCH], in[BATCH];
	pid_t pid;

	/* batches small enough that the two overlap for a few dozen too */
	bs = n / 8 < 8 ? 8 : n / 8 > BATCH ? BATCH : n / 8;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	if ((pid = fork()) < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		prepare_child(v, n, flags, sv[1], bs);
	}
	close(sv[1]);
	while (i < n) {
		struct iovec iov = { &m, sizeof m };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
		    .msg_control = cb.b, .msg_controllen = sizeof cb.b };
		struct cmsghdr *cm;
		ssize_t r = recvmsg(sv[0], &mh, MSG_CMSG_CLOEXEC);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < (ssize_t)sizeof m || m.n > BATCH || m.n > n - i) {
			/* the child died: the rest are not restored */
			for (; i < n; i++, nbad++)
				fd[i] = -1;
			err_warn("the preparing process ended early");
			break;
		}
		nf = 0;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
				nf = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				if (nf > BATCH)
					nf = BATCH;
				memcpy(got, CMSG_DATA(cm), nf * sizeof(int));
			}
		for (k = 0, used = 0; k < m.n; k++) {
			m.e[k].why[sizeof m.e[k].why - 1] = '\0';
			in[k] = m.e[k].err == 0 && used < nf ? got[used++] : -1;
		}
		for (; used < nf; used++)
			close(got[used]);
		for (k = 0; k < m.n; k++, i++) {
			uint32_t ts = (uint32_t)ts_add + (uint32_t)(age ? age[i] : 0);
			const char *w = NULL;
			char key[TCPR_KEYLEN];

			if (m.e[k].err) {
				errno = m.e[k].err;
				w = m.e[k].why;
				fd[i] = -1;
			} else
				fd[i] = in[k] < 0 ? -1 :
				    tcpr_repair_finish(in[k], &v[i], ts, flags, &w);
			if (fd[i] < 0) {
				tcpr_sess_key(&v[i], key, sizeof key);
				err_warn("session %s: %s:", key, w ? w : "?");
				nbad++;
			}
		}
	}
	close(sv[0]);
	waitpid(pid, NULL, 0);
	return (long)nbad;
}

/*
 * A shared file table grows only after an RCU grace period (a
 * millisecond and more): grow ours for every socket before the threads
 * share it.
 */
static void
grow_fds(size_t n)
{
	int hi = (int)(n + FD_BASE + 8), t;

	if ((t = fcntl(2, F_DUPFD_CLOEXEC, hi)) < 0 &&
	    (t = fcntl(0, F_DUPFD_CLOEXEC, hi)) < 0)
		return;	/* the threads will pay for it */
	close(t);
}

/*
 * Restore the n sessions of v into fd[] (-1: failed, warned); ts_add
 * plus each record's age advances its timestamp clock. Returns the
 * number that failed.
 */
static size_t
restore_calls(const struct tcpr_sess *v, const uint64_t *age, int *fd,
    size_t n, long ts_add, int flags, long jobs)
{
	struct pipeline p = { v, NULL, NULL, NULL, n, 0, 0, flags };
	struct preparer w[8];
	pthread_t th[8];
	size_t i, nbad = 0, k, started = 0;

	if (jobs == 2 && n >= 16) {
		long r = restore_forked(v, age, fd, n, ts_add, flags);

		if (r >= 0)
			return (size_t)r;
		err_warn("unable to start a preparing process:");
	}
	if (jobs > 2 && n >= 16) {
		p.np = (size_t)jobs - 1;
		if ((p.pre = malloc(n * sizeof *p.pre)) == NULL ||
		    (p.err = calloc(n, sizeof *p.err)) == NULL ||
		    (p.why = calloc(n, sizeof *p.why)) == NULL)
			err_die(EXIT_TEMP, "out of memory");
		for (i = 0; i < n; i++)
			p.pre[i] = PENDING;
		grow_fds(n);
		for (k = 0; k < p.np; k++) {
			w[k] = (struct preparer){ &p, k };
			if (pthread_create(&th[k], NULL, prepare, &w[k]) != 0)
				break;
			started++;
		}
		/* fewer threads than asked: the main thread prepares the rest */
	}
	for (i = 0; i < n; i++) {
		/*
		 * The master's clock ran on since the record was written:
		 * an idle session's record can be minutes old.
		 */
		uint32_t ts = (uint32_t)ts_add + (uint32_t)(age ? age[i] : 0);
		const char *why = NULL;
		char key[TCPR_KEYLEN];
		int f;

		if (p.np)
			f = prepared(&p, i, &why);
		else
			f = tcpr_repair_prepare(&v[i], flags, &why);
		fd[i] = f < 0 ? -1 : tcpr_repair_finish(f, &v[i], ts, flags, &why);
		if (fd[i] < 0) {
			tcpr_sess_key(&v[i], key, sizeof key);
			err_warn("session %s: %s:", key, why ? why : "?");
			nbad++;
		}
	}
	for (k = 0; k < started; k++)
		pthread_join(th[k], NULL);
	free(p.pre);
	free(p.err);
	free(p.why);
	return nbad;
}


/*
 * restore_calls through io_uring when the kernel can (6.11): a team of
 * workers, each with a ring of its own, takes batches of sessions from
 * a common counter until none are left. The main thread is a worker;
 * with jobs > 1 the others are threads, kept off the main thread's
 * processor (on two cores the scheduler puts a new thread beside its
 * parent, and lets the two take turns there for milliseconds). Batches
 * grow smaller towards the end, so that nobody is left with much while
 * the others wait. A thread that starts late (its processor was busy)
 * takes fewer batches or none: the main thread waits only for batches
 * taken, never for a thread to start or to end, so the team is never
 * much slower than the main thread alone.
 */
struct team {
	const struct tcpr_sess *v;
	const uint64_t *age;
	int *fd, *err;
	const char **why;
	size_t n, nw;		/* sessions, workers */
	size_t next;		/* the first session no worker took yet */
	size_t calls;		/* steps done by system calls */
	size_t helped;		/* batches the threads did */
	long ts_add;
	int flags;
	unsigned lose;
	size_t finished;	/* sessions of the batches done */
	int verdict;		/* the main thread's ring: 1 works, -1 not */
};

/*
 * Static: a thread that starts after the work is done looks at it, finds
 * nothing left, and ends, while the main thread has moved on.
 */
static struct team team;

/* The next batch: its first session in *b, its size; 0 when done. */
static size_t
team_claim(struct team *t, size_t *b)
{
	size_t at = __atomic_load_n(&t->next, __ATOMIC_SEQ_CST), m;

	do {
		if (at >= t->n)
			return 0;
		m = t->nw == 1 ? TCPR_REPAIR_BATCH : (t->n - at) / (2 * t->nw);
		m = m < 8 ? 8 : m > TCPR_REPAIR_BATCH ? TCPR_REPAIR_BATCH : m;
		if (m > t->n - at)
			m = t->n - at;
	} while (!__atomic_compare_exchange_n(&t->next, &at, at + m, 0,
	    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
	*b = at;
	return m;
}

/* Batches until none are left. */
static void
team_work(struct team *t, struct tcpr_repair_ring *h, int helper)
{
	size_t b, m, c;

	tcpr_repair_ring_lose(h, t->lose);
	while ((m = team_claim(t, &b)) > 0) {
		c = tcpr_repair_ring_calls(h);
		tcpr_repair_ring_restore(h, t->v + b, m, (uint32_t)t->ts_add,
		    t->age ? t->age + b : NULL, t->flags, t->fd + b, t->why + b,
		    t->err + b);
		__atomic_add_fetch(&t->calls, tcpr_repair_ring_calls(h) - c,
		    __ATOMIC_RELAXED);
		if (helper)
			__atomic_add_fetch(&t->helped, 1, __ATOMIC_RELAXED);
		/* the batch's sockets and words with it */
		__atomic_add_fetch(&t->finished, m, __ATOMIC_RELEASE);
	}
}

static void *
team_thread(void *arg)
{
	struct team *t = arg;
	struct tcpr_repair_ring *h = tcpr_repair_ring_new(TCPR_REPAIR_BATCH, 0);
	int verdict;

	/* its ring made meanwhile: it works only if the main thread's does */
	while ((verdict = __atomic_load_n(&t->verdict, __ATOMIC_ACQUIRE)) == 0)
		sched_yield();
	if (h && verdict > 0)
		team_work(t, h, 1);
	tcpr_repair_ring_drop(h);
	return NULL;
}

/*
 * The ring team, the threads on cpus (not on this processor): the number
 * that failed (warned), or -1 with errno when this kernel cannot
 * (nothing done).
 */
static long
restore_ring(const struct tcpr_sess *v, const uint64_t *age, int *fd,
    size_t n, long ts_add, int flags, long jobs, const cpu_set_t *cpus,
    int only, unsigned lose)
{
	static char by[64];
	struct team *t = &team;
	struct tcpr_repair_ring *h;
	pthread_t th;
	pthread_attr_t at;
	cpu_set_t cs = *cpus;
	size_t i, nbad = 0;
	long k, started = 0;
	int me = sched_getcpu(), e;

	*t = (struct team){ .v = v, .age = age, .fd = fd, .n = n, .nw = 1,
	    .ts_add = ts_add, .flags = flags, .lose = lose };
	if ((t->why = calloc(n, sizeof *t->why)) == NULL ||
	    (t->err = calloc(n, sizeof *t->err)) == NULL)
		err_die(EXIT_TEMP, "out of memory");
	/* the threads first: they start and make their rings meanwhile */
	if (jobs > 1 && me >= 0 && CPU_ISSET(me, &cs) && CPU_COUNT(&cs) > 1) {
		CPU_CLR(me, &cs);
		t->nw = (size_t)jobs;
		grow_fds(n);
		pthread_attr_init(&at);
		pthread_attr_setaffinity_np(&at, sizeof cs, &cs);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		for (k = 1; k < jobs; k++)
			if (pthread_create(&th, &at, team_thread, t) == 0)
				started++;
		pthread_attr_destroy(&at);
	}
	/* -u: what the kernel can is known before anything is done */
	if ((h = tcpr_repair_ring_new(TCPR_REPAIR_BATCH, only)) == NULL) {
		e = errno;
		__atomic_store_n(&t->verdict, -1, __ATOMIC_RELEASE);
		free(t->why);
		free(t->err);
		errno = e;
		return -1;
	}
	__atomic_store_n(&t->verdict, 1, __ATOMIC_RELEASE);
	team_work(t, h, 0);
	/* the batches the threads took */
	while (__atomic_load_n(&t->finished, __ATOMIC_ACQUIRE) < n)
		sched_yield();
	tcpr_repair_ring_drop(h);
	for (i = 0; i < n; i++)
		if (fd[i] < 0) {
			char key[TCPR_KEYLEN];

			tcpr_sess_key(&v[i], key, sizeof key);
			errno = t->err[i];
			err_warn("session %s: %s:", key, t->why[i] ? t->why[i] : "?");
			nbad++;
		}
	/* a late thread touches neither: nothing left to take */
	free(t->why);
	free(t->err);
	snprintf(by, sizeof by, "io_uring%s%s", t->helped == 0 ? "" :
	    started == 1 ? ", two threads" : ", more threads",
	    t->calls == 0 ? "" : t->helped ? ", and system calls" :
	    " and system calls");
	restored_by = by;
	return (long)nbad;
}

/*
 * Below this many sessions plain system calls in one thread are quicker
 * than a ring (its set-up, about 30 us) and a second thread (its start
 * on the other processor, about 60 us): measured at 32/64/96 sessions
 * 185/343/584 us against 287/368/526 us.
 */
#define RING_MIN 80

static size_t
restore_all(const struct tcpr_sess *v, const uint64_t *age, int *fd,
    size_t n, long ts_add, int flags, long jobs, int ring,
    const cpu_set_t *cpus, unsigned lose)
{
	long r, cores = CPU_COUNT(cpus);

	/*
	 * Neither -u nor -j: io_uring with a second thread from RING_MIN
	 * sessions on two cores or more (-u alone: one thread below); by
	 * system calls two processes from about a thousand (a fork and
	 * passing the sockets over cost more).
	 */
	if (n > 0 && (ring == RING_ONLY ||
	    (ring == RING_AUTO && (jobs || n >= RING_MIN)))) {
		if ((r = restore_ring(v, age, fd, n, ts_add, flags, jobs ? jobs :
		    n >= RING_MIN && cores >= 2 ? 2 : 1, cpus, ring == RING_ONLY,
		    lose)) >= 0)
			return (size_t)r;
		if (ring == RING_ONLY)
			err_die(EXIT_TEMP, "unable to restore through io_uring:");
		err_debug("io_uring not usable, system calls instead:");
	}
	return restore_calls(v, age, fd, n, ts_add, flags, jobs ? jobs :
	    n >= 1024 && cores >= 2 ? 2 : 1);
}

static void
bad_file(const char *name, const char *why)
{
	err_warn("store: skipping %s: %s", name, why);
}

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Enough descriptors for every session, or die 111. */
static void
raise_nofile(size_t n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur >= n + FD_BASE + 16)
		return;
	rl.rlim_cur = n + FD_BASE + 16;
	if (rl.rlim_max < rl.rlim_cur)
		rl.rlim_max = rl.rlim_cur;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		err_die(EXIT_TEMP, "unable to allow %zu descriptors:", n + FD_BASE);
}

/*
 * Put the n sockets at FD_BASE.. in order, without FD_CLOEXEC, for the
 * program; everything else of ours is close-on-exec. Within the
 * descriptors the sockets have (raise_nofile's limit): a socket in the
 * way of the one due is moved to a free place above, and the sockets
 * leave one free place each as they go.
 */
static void
place_fds(int *fd, size_t n)
{
	size_t i, j;
	int *who, t, old;

	if ((who = malloc((n + 1) * sizeof *who)) == NULL)
		err_die(EXIT_TEMP, "out of memory");
	/* who[t - FD_BASE]: the session whose socket is at t, or -1 */
	for (i = 0; i < n; i++)
		who[i] = -1;
	for (i = 0; i < n; i++)
		if (fd[i] >= FD_BASE && (size_t)fd[i] < FD_BASE + n)
			who[fd[i] - FD_BASE] = (int)i;
	for (i = 0; i < n; i++) {
		t = (int)(FD_BASE + i);
		if (fd[i] == t) {
			if (fcntl(t, F_SETFD, 0) < 0)
				err_die(EXIT_TEMP, "unable to move descriptor:");
			continue;
		}
		if (who[i] >= 0) {
			/* out of the way: there is a free place above t */
			j = (size_t)who[i];
			if ((old = fcntl(t, F_DUPFD_CLOEXEC, t + 1)) < 0)
				err_die(EXIT_TEMP, "unable to move descriptor:");
			close(t);
			fd[j] = old;
			if ((size_t)old < FD_BASE + n)
				who[old - FD_BASE] = (int)j;
		}
		if (dup2(fd[i], t) < 0)
			err_die(EXIT_TEMP, "unable to move descriptor:");
		close(fd[i]);
		if (fd[i] >= FD_BASE && (size_t)fd[i] < FD_BASE + n)
			who[fd[i] - FD_BASE] = -1;
		fd[i] = t;
		who[i] = (int)i;
	}
	free(who);
}

/*
 * The restored sockets, from the restore until the exec: if we die
 * before the program has them, they go back into repair mode, so that
 * the kernel closes them silently (a FIN would end every session) and
 * another try can restore them from the store.
 */
static int *live_fd;
static size_t live_n;

static void
unrestore(void)
{
	int on = TCP_REPAIR_ON;
	size_t i;

	for (i = 0; i < live_n; i++)
		setsockopt(live_fd[i], IPPROTO_TCP, TCP_REPAIR, &on, sizeof on);
}

/*
 * TCPR_SESSIONS: "sid:rcv:snd:flags" per descriptor from 3 on, blank-
 * separated: the input offset the socket delivers next, the output offset
 * it sends next, the record's flags.
 */
static char *
sessions_env(const struct tcpr_sess *v, size_t n, int una)
{
	size_t cap = n * 96 + 1, o = 0, i;
	char *s = malloc(cap);

	if (s == NULL)
		err_die(EXIT_TEMP, "out of memory");
	s[0] = '\0';
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(s + o, cap - o, "%s%u:%llu:%llu:%u",
		    i ? " " : "", v[i].sid, (unsigned long long)v[i].rcv,
		    (unsigned long long)(una ? v[i].snd_una : v[i].snd_nxt),
		    v[i].flags);
	return s;
}

/*
 * Too long for one environment string (the kernel's MAX_ARG_STRLEN is
 * 128 KiB): the same text in a sealed memfd at the first descriptor after
 * the sockets, named by TCPR_SESSIONS_FD.
 */
#ifndef SESSIONS_ENV_MAX
#define SESSIONS_ENV_MAX (64 * 1024)
#endif

static void
sessions_fd(const char *env, size_t n)
{
	size_t len = strlen(env), o = 0;
	ssize_t w;
	char nbuf[32];
	int fd, t;

	if ((fd = memfd_create("tcpr-sessions", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) < 0)
		err_die(EXIT_TEMP, "unable to create the sessions file:");
	while (o < len) {
		if ((w = write(fd, env + o, len - o)) < 0) {
			if (errno == EINTR)
				continue;
			err_die(EXIT_TEMP, "unable to write the sessions file:");
		}
		o += (size_t)w;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK |
	    F_SEAL_GROW | F_SEAL_WRITE) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		err_die(EXIT_TEMP, "unable to seal the sessions file:");
	/* the sockets are at FD_BASE..FD_BASE+n-1: the memfd right after */
	t = (int)(FD_BASE + n);
	if (fd != t) {
		if (dup2(fd, t) < 0)
			err_die(EXIT_TEMP, "unable to move descriptor:");
		close(fd);
	} else if (fcntl(t, F_SETFD, 0) < 0)
		err_die(EXIT_TEMP, "unable to move descriptor:");
	snprintf(nbuf, sizeof nbuf, "%d", t);
	if (setenv("TCPR_SESSIONS_FD", nbuf, 1) < 0)
		err_die(EXIT_TEMP, "unable to set environment:");
	unsetenv("TCPR_SESSIONS");
}

/* Is a the address of one of our interfaces (bind without free bind)? */
static int
addr_up(const struct tcpr_sess *s)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, r;

	memset(&ss, 0, sizeof ss);
	if (s->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, s->laddr, 4);
		sl = sizeof *in;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, s->laddr, 16);
		sl = sizeof *in6;
	}
	if ((fd = socket(s->family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	r = bind(fd, (struct sockaddr *)&ss, sl) == 0;
	close(fd);
	return r;
}

static void
sleep_until(uint64_t t)
{
	uint64_t now = now_us();
	struct timespec ts;

	if (now >= t)
		return;
	ts.tv_sec = (time_t)((t - now) / 1000000);
	ts.tv_nsec = (long)((t - now) % 1000000) * 1000;
	nanosleep(&ts, NULL);
}

/*
 * The kicker: once the sessions' address is up (the new master announced
 * it), make every peer resend what it sent into the outage, in a few
 * rounds (the first ones may meet a peer whose neighbour cache still
 * points at the dead master, or the hook's traffic lock; a peer resends
 * at once only when its reverted timer has run out, so the rounds are
 * spread over more than its minimum timeout). A process of
 * its own, detached, holding none of the sockets: it works from the
 * restored numbers and stops after the last round.
 */
static void
kicker(const struct tcpr_sess *v, const uint64_t *age, const int *fd,
    size_t n, long ts_add, int una, uint64_t t_restored, long wait_ms)
{
	static const unsigned rounds_ms[] = { 20, 100, 300, 700 };
	struct tcpr_kick k;
	uint64_t deadline, t_up, fresh = UINT64_MAX, outage;
	size_t i, r, sent = 0;
	pid_t p;
	int dn, icmps;

	if ((p = fork()) < 0) {
		err_warn("kick: unable to fork:");
		return;
	}
	if (p > 0) {
		waitpid(p, NULL, 0);
		return;
	}
	if (fork() != 0)
		_exit(0);
	/* the grandchild: nobody waits for it, it keeps no socket alive */
	for (i = 0; i < n; i++)
		close(fd[i]);
	if ((dn = open("/dev/null", O_RDWR)) >= 0) {
		dup2(dn, 0);
		dup2(dn, 1);
		if (err_verbose < 1)
			dup2(dn, 2);
		if (dn > 2)
			close(dn);
	}
	if (tcpr_kick_open(&k) < 0) {
		err_warn("kick: unable to open raw sockets:");
		_exit(EXIT_TEMP);
	}
	deadline = now_us() + (uint64_t)wait_ms * 1000;
	for (i = 0; i < n; i++)
		while (!addr_up(&v[i])) {
			if (now_us() >= deadline) {
				err_warn("kick: address not up after %ld ms",
				    wait_ms);
				_exit(EXIT_NO);
			}
			sleep_until(now_us() + 2000);
		}
	t_up = now_us();
	/*
	 * How far the peers' timers may have backed off: the outage began
	 * about when the store last heard of the master (its freshest
	 * record); the first timeout comes after about 200 ms, each next
	 * one after twice as long. One ICMP message reverts one step.
	 */
	if (age)
		for (i = 0; i < n; i++)
			if (age[i] < fresh)
				fresh = age[i];
	outage = (fresh == UINT64_MAX ? 0 : fresh) +
	    (t_up - t_restored) / 1000 + rounds_ms[3];
	for (icmps = 2; icmps < 8 && outage >= 200ULL << (icmps - 1); icmps++)
		;
	for (r = 0; r < sizeof rounds_ms / sizeof rounds_ms[0]; r++) {
		sleep_until(t_up + rounds_ms[r] * 1000ULL);
		for (i = 0; i < n; i++) {
			const struct tcpr_sess *s = &v[i];
			uint32_t snd = tcpr_sess_snd_una(s), ts;

			if (!una)
				snd += (uint32_t)(s->snd_nxt - s->snd_una);
			/*
			 * The socket's clock now, never ahead of it: set at
			 * restore (before t_restored) and ticking in ms.
			 */
			ts = ((s->tsval + (uint32_t)ts_add +
			    (uint32_t)(age ? age[i] : 0)) & ~1u) +
			    (uint32_t)((now_us() - t_restored) / 1000);
			if (tcpr_kick(&k, s, tcpr_sess_rcv_nxt(s), snd, ts,
			    icmps, 4) > 0)
				sent++;
		}
	}
	err_info("kick: %zu sessions kicked in %zu rounds of %d ICMP messages, "
	    "%llu ms after the address came up", n, r, icmps,
	    (unsigned long long)((now_us() - t_up) / 1000));
	(void)sent;
	_exit(EXIT_OK);
}

/*
 * Learn where each peer really is before restoring: the store may lag
 * what the dead master sent (its last record went out before its last
 * writes). A probe per session; the peer's answer carries its rcv_nxt,
 * which is where our output must go on: the session is restored there
 * and the application told (TCPR_SESSIONS), so that it re-sends from the
 * exact offset. Restored at a stale offset, our output would overlap what
 * the peer has, and the peer would take the new bytes for old ones.
 * Only when asked (-L) and the sessions' address is up (the answers must
 * reach us), under a traffic lock: the packet socket sees the answers
 * before the lock drops them; without the lock our kernel would answer
 * them with resets, as it would the peers' own segments.
 */
static void
learn(struct tcpr_sess *v, const uint64_t *age, size_t n, long ts_add,
    long ms)
{
	struct tcpr_kick k;
	size_t cap = 16, i, got = 0, moved = 0;
	uint32_t *tab;
	unsigned char *seen;
	uint64_t t0 = now_us(), end, now;
	int pk;

	while (cap < 2 * n)
		cap *= 2;
	if ((tab = calloc(cap, sizeof *tab)) == NULL ||
	    (seen = calloc(n, 1)) == NULL)
		err_die(EXIT_TEMP, "out of memory");
	/* session index + 1 by the hash of its four-tuple */
	for (i = 0; i < n; i++) {
		size_t h = tcpr_sess_hash(&v[i]) & (cap - 1);

		while (tab[h])
			h = (h + 1) & (cap - 1);
		tab[h] = (uint32_t)i + 1;
	}
	if ((pk = tcpr_probe_listen()) < 0 || tcpr_kick_open(&k) < 0) {
		err_warn("learn: unable to open packet sockets:");
		goto out;
	}
	for (i = 0; i < n; i++) {
		uint32_t ts = (v[i].tsval + (uint32_t)ts_add +
		    (uint32_t)(age ? age[i] : 0)) & ~1u;

		if (tcpr_probe(&k, &v[i], tcpr_sess_snd_una(&v[i]),
		    tcpr_sess_rcv_nxt(&v[i]), ts) < 0)
			err_debug("learn: probe failed:");
	}
	end = now_us() + (uint64_t)ms * 1000;
	while (got < n && (now = now_us()) < end) {
		struct pollfd p = { .fd = pk, .events = POLLIN };
		unsigned char b[256];
		struct sockaddr_ll sll;
		socklen_t sl = sizeof sll;
		struct tcpr_seg g;
		struct tcpr_sess key;
		ssize_t r;
		size_t h;

		/* the time left as checked: read again, it may be past end */
		if (poll(&p, 1, (int)((end - now) / 1000) + 1) <= 0)
			continue;
		while ((r = recvfrom(pk, b, sizeof b, MSG_TRUNC,
		    (struct sockaddr *)&sll, &sl)) >= 0) {
			sl = sizeof sll;
			if (sll.sll_pkttype == PACKET_OUTGOING ||
			    tcpr_seg_parse(b, (size_t)r < sizeof b ? (size_t)r :
			    sizeof b, &g) < 0 || !(g.flags & 0x10) ||
			    (g.flags & 0x07))	/* a bare ACK, no SYN/FIN/RST */
				continue;
			memset(&key, 0, sizeof key);
			key.family = g.family;
			memcpy(key.laddr, g.daddr, 16);
			memcpy(key.paddr, g.saddr, 16);
			key.lport = g.dport;
			key.pport = g.sport;
			for (h = tcpr_sess_hash(&key) & (cap - 1); tab[h];
			    h = (h + 1) & (cap - 1)) {
				struct tcpr_sess *s = &v[tab[h] - 1];
				int32_t d;

				if (s->family != key.family ||
				    memcmp(s->laddr, key.laddr, 16) ||
				    memcmp(s->paddr, key.paddr, 16) ||
				    s->lport != key.lport || s->pport != key.pport)
					continue;
				if (seen[tab[h] - 1])
					break;
				seen[tab[h] - 1] = 1;
				got++;
				d = (int32_t)(g.ack - tcpr_sess_snd_una(s));
				/*
				 * Carry on from what the peer acknowledges: more
				 * than the store says was sent (the store lags),
				 * or less (output in flight at the crash never
				 * arrived: restored beyond it, the socket would
				 * leave a hole the peer waits on forever). Below
				 * snd_una it cannot be: that is what it had
				 * acknowledged. With our FIN sent, its ack counts
				 * the FIN: leave those.
				 */
				if (d >= 0 && !(s->flags & TCPR_F_FIN_OUT) &&
				    s->snd_una + (uint64_t)d != s->snd_nxt) {
					err_debug("learn: sid %u: output offset "
					    "%llu, the peer has %llu", s->sid,
					    (unsigned long long)s->snd_nxt,
					    (unsigned long long)(s->snd_una +
					    (uint64_t)d));
					s->snd_una = s->snd_nxt = s->snd_una +
					    (uint64_t)d;
					moved++;
				}
				break;
			}
		}
	}
	err_info("learn: %zu of %zu peers answered in %llu us, %zu output "
	    "offsets moved", got, n, (unsigned long long)(now_us() - t0),
	    moved);
	tcpr_kick_close(&k);
out:
	if (pk >= 0)
		close(pk);
	free(tab);
	free(seen);
}

int
main(int argc, char **argv)
{
	const char *dir = NULL;
	struct tcpr_sess *v;
	uint64_t *age = NULL;
	size_t n, nbad, i, ok = 0;
	long port = 0, ts_add = 2000, jobs = 0, wait_ms = 10000, learn_ms = 0;
	int c, check = 0, flags = 0, kick = 1, ring = RING_AUTO, *fd;
	unsigned lose = 0;
	cpu_set_t cpus;
	uint64_t t0, t1, t_load;
	char nbuf[32], *env;

	err_init(argv[0]);
	if ((env = getenv("TCPR_URING")) != NULL && *env)
		ring = strcmp(env, "0") == 0 ? RING_NEVER :
		    strcmp(env, "1") == 0 ? RING_ONLY : RING_AUTO;
	/* for tests: each ring loses the answers of this submission */
	if ((env = getenv("TCPR_URING_LOSE")) != NULL && *env)
		lose = (unsigned)num(env, 0, 1000, "TCPR_URING_LOSE");
	while ((c = getopt(argc, argv, "+a:j:KL:np:Rs:t:quUvVW")) != -1) {
		switch (c) {
		case 'a':
			ts_add = num(optarg, 0, 86400000, "timestamp advance");
			break;
		case 'j':
			jobs = num(optarg, 1, 8, "thread count");
			break;
		case 'K':
			kick = 0;
			break;
		case 'L':
			learn_ms = num(optarg, 0, 10000, "learning time");
			break;
		case 'n':
			check = 1;
			break;
		case 'p':
			port = num(optarg, 1, 65535, "port");
			break;
		case 'R':
			flags |= TCPR_RESTORE_UNA;
			break;
		case 'W':
			flags |= TCPR_RESTORE_PROBE;
			break;
		case 's':
			dir = optarg;
			break;
		case 't':
			wait_ms = num(optarg, 1, 600000, "wait");
			break;
		case 'q':
			err_verbose = -1;
			break;
		case 'u':
			ring = RING_ONLY;
			break;
		case 'U':
			ring = RING_NEVER;
			break;
		case 'v':
			err_verbose++;
			break;
		case 'V':
			printf("tcpr-restore %s\n", VERSION);
			return EXIT_OK;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (dir == NULL)
		usage();
	t0 = now_us();
	if (tcpr_store_load_age(dir, &v, &age, &n, &nbad, err_verbose >= 0 ?
	    bad_file : NULL) < 0)
		err_die(errno == ENOENT || errno == ENOTDIR ? EXIT_BAD : EXIT_TEMP,
		    "unable to read store %s:", dir);
	t_load = now_us() - t0;
	if (port) {
		size_t k = 0;

		for (i = 0; i < n; i++)
			if (v[i].lport == port) {
				age[k] = age[i];
				v[k++] = v[i];
			}
		n = k;
	}
	if (check) {
		fprintf(stderr, "tcpr-restore: store OK: %zu sessions, %zu bad\n",
		    n, nbad);
		return nbad ? EXIT_NO : EXIT_OK;
	}
	if (argc == 0)
		flags |= TCPR_RESTORE_KEEP;	/* dry run: silent close at exit */
	raise_nofile(n);
	/* Sessions of one address that is already up need no free bind. */
	for (i = 1; i < n && memcmp(v[i].laddr, v[0].laddr, 16) == 0; i++)
		;
	if (n && i == n && addr_up(&v[0]))
		flags |= TCPR_RESTORE_LOCAL;
	if ((flags & TCPR_RESTORE_LOCAL) && learn_ms && argc > 0)
		learn(v, age, n, ts_add, learn_ms);
	if ((fd = calloc(n + 1, sizeof *fd)) == NULL)
		err_die(EXIT_TEMP, "out of memory");
	/* the processors we may use, for -j's default */
	if (sched_getaffinity(0, sizeof cpus, &cpus) < 0) {
		CPU_ZERO(&cpus);
		CPU_SET(0, &cpus);
	}

	t0 = now_us();
	nbad += restore_all(v, age, fd, n, ts_add, flags, jobs, ring, &cpus,
	    lose);
	for (i = 0; i < n; i++)
		if (fd[i] >= 0) {
			fd[ok] = fd[i];
			if (age)
				age[ok] = age[i];
			v[ok++] = v[i];
		}
	t1 = now_us();
	err_info("restored %zu sessions in %llu us (%.1f us each), store "
	    "loaded in %llu us, %zu failed, by %s", ok,
	    (unsigned long long)(t1 - t0),
	    ok ? (double)(t1 - t0) / (double)ok : 0.0,
	    (unsigned long long)t_load, nbad, restored_by);

	if (argc == 0) {
		/* No program: list what was restored and keep nothing. */
		for (i = 0; i < ok; i++) {
			char line[512];

			tcpr_rec_fmt(TCPR_REC_FULL, &v[i], line, sizeof line);
			printf("restored %s\n", line + 5);
		}
		err_check_stdout();
		return nbad ? EXIT_NO : EXIT_OK;
	}
	live_fd = fd;
	live_n = ok;
	if (atexit(unrestore) != 0)
		err_warn("unable to arm the silent close on failure");
	if (kick && ok)
		kicker(v, age, fd, ok, ts_add, flags & TCPR_RESTORE_UNA, t1,
		    wait_ms);
	place_fds(fd, ok);
	snprintf(nbuf, sizeof nbuf, "%zu", ok);
	env = sessions_env(v, ok, flags & TCPR_RESTORE_UNA);
	if (setenv("TCPR_FDS", nbuf, 1) < 0)
		err_die(EXIT_TEMP, "unable to set environment:");
	if (strlen(env) < SESSIONS_ENV_MAX) {
		if (setenv("TCPR_SESSIONS", env, 1) < 0)
			err_die(EXIT_TEMP, "unable to set environment:");
	} else
		sessions_fd(env, ok);
	if (nbad)
		err_warn("%zu sessions not restored", nbad);
	execvp(argv[0], argv);
	err_die(errno == ENOENT ? EXIT_BAD : EXIT_TEMP, "unable to run %s:",
	    argv[0]);
}
