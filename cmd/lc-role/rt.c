/*
 * lc-role follow's latency aids: real-time priority (-R) and the state
 * writer thread that keeps fsync off the event path. See lc-role.h.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "err.h"

/* Not lc-role.h: it brings role.h, whose SCHED_RR clashes with <sched.h>. */
struct saver;
void rt_realtime(int prio);
struct saver *saver_start(void *(*snap)(void *), void (*save)(void *), void *arg);
void saver_kick(struct saver *sv);
void saver_lock(struct saver *sv);
void saver_unlock(struct saver *sv);
void saver_stop(struct saver *sv);

/*
 * A loaded host must not make an event wait behind other processes (at
 * 1,000 servers the tail came from waiting for the CPU, not from work).
 * RESET_ON_FORK: nothing started from here inherits it. mlockall: no page
 * fault on the event path once memory is touched. Locking future memory
 * needs a memlock limit without end: CAP_IPC_LOCK goes with the other
 * privileges, and then an allocation past the limit would fail (and
 * libnftables exits on a failed allocation). Without it, only what is
 * mapped now is locked.
 */
void
rt_realtime(int prio)
{
	struct sched_param sp = { .sched_priority = prio };
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	int future = MCL_FUTURE;

	if (sched_setscheduler(0, SCHED_RR | SCHED_RESET_ON_FORK, &sp) == -1) {
		err_warn("unable to run with real-time priority:");
		return;
	}
	if (setrlimit(RLIMIT_MEMLOCK, &rl) == -1) {
		err_debug("no memlock limit without end: locking current memory only");
		future = 0;
	}
	if (mlockall(MCL_CURRENT | future) == -1)
		err_warn("unable to lock memory:");
	else
		err_debug("real-time priority %d, memory locked", prio);
}

struct saver {
	pthread_t t;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	void *(*snap)(void *);
	void (*save)(void *);
	void *arg;
	unsigned long want, done;
	int quit;
};

static void *
saver_main(void *p)
{
	struct saver *sv = p;
	unsigned long gen;
	void *snap;

	pthread_mutex_lock(&sv->mu);
	for (;;) {
		while (sv->done == sv->want && !sv->quit)
			pthread_cond_wait(&sv->cv, &sv->mu);
		if (sv->done == sv->want)
			break;
		gen = sv->want;
		snap = sv->snap(sv->arg);
		pthread_mutex_unlock(&sv->mu);
		sv->save(snap);
		pthread_mutex_lock(&sv->mu);
		sv->done = gen;
	}
	pthread_mutex_unlock(&sv->mu);
	return NULL;
}

struct saver *
saver_start(void *(*snap)(void *), void (*save)(void *), void *arg)
{
	struct saver *sv;
	pthread_attr_t at;
	pthread_mutexattr_t ma;
	struct sched_param sp = { .sched_priority = 0 };
	sigset_t all, old;
	int e;

	if ((sv = calloc(1, sizeof *sv)) == NULL)
		return NULL;
	sv->snap = snap;
	sv->save = save;
	sv->arg = arg;
	/* Priority inheritance: a real-time follow may wait for the copy. */
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setprotocol(&ma, PTHREAD_PRIO_INHERIT);
	pthread_mutex_init(&sv->mu, &ma);
	pthread_mutexattr_destroy(&ma);
	pthread_cond_init(&sv->cv, NULL);
	/* Not real-time with -R: writing the file must not take the CPU. */
	pthread_attr_init(&at);
	pthread_attr_setinheritsched(&at, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(&at, SCHED_OTHER);
	pthread_attr_setschedparam(&at, &sp);
	/* Locked memory (-R) locks a whole stack: keep it small. */
	pthread_attr_setstacksize(&at, 256u << 10);
	/* Signals go to follow's thread, whose poll they must wake. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	e = pthread_create(&sv->t, &at, saver_main, sv);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&at);
	if (e != 0) {
		pthread_mutex_destroy(&sv->mu);
		pthread_cond_destroy(&sv->cv);
		free(sv);
		errno = e;
		return NULL;
	}
	return sv;
}

void
saver_kick(struct saver *sv)
{
	pthread_mutex_lock(&sv->mu);
	sv->want++;
	pthread_cond_signal(&sv->cv);
	pthread_mutex_unlock(&sv->mu);
}

void
saver_lock(struct saver *sv)
{
	pthread_mutex_lock(&sv->mu);
}

void
saver_unlock(struct saver *sv)
{
	pthread_mutex_unlock(&sv->mu);
}

void
saver_stop(struct saver *sv)
{
	if (sv == NULL)
		return;
	pthread_mutex_lock(&sv->mu);
	sv->quit = 1;
	pthread_cond_signal(&sv->cv);
	pthread_mutex_unlock(&sv->mu);
	pthread_join(sv->t, NULL);
	pthread_mutex_destroy(&sv->mu);
	pthread_cond_destroy(&sv->cv);
	free(sv);
}
