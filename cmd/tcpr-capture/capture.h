/* tcpr-capture: options and the modes. */
#ifndef TCPR_CAPTURE_H
#define TCPR_CAPTURE_H

#include <stdint.h>

struct capture_opts {
	uint16_t port;		/* -p service port, 0: every port (snap) */
	int check;		/* -n */
	int exact;		/* -x: every segment, not just control */
	int interval;		/* -t ms: counter poll period */
	uint16_t queue;		/* -Q netfilter queue number */
	long adopt;		/* -P pid: its sessions are followed too */
	const char *consumed;	/* -C file: the consumed table (exact mode) */
	int realtime;		/* -R: SCHED_RR, locked memory */
	int nogate;		/* -G: exact mode queues every segment */
};

#include <sys/types.h>
#include "tcpr_rec.h"

/* cookie: the socket's SO_COOKIE, naming it among sockets of one tuple */
typedef void (*snap_cb)(const struct tcpr_sess *, uint64_t cookie, void *);
/* Record pid's sessions (of o->port), calling cb for each. */
int snap_pid(pid_t pid, const struct capture_opts *o, int *nrec, snap_cb cb,
    void *arg);

int capture_run(const struct capture_opts *o);

/* gate.c: the exact mode's in-kernel gate (gate.h); -1 and why on failure */
struct gate_ctl;
struct tcpr_shm_slot;
int gate_load(const char **why);
struct tcpr_shm_slot *gate_table(void);
int gate_table_fd(void);
const char *gate_pin(const char **why);
void gate_unpin(void);
long gate_add(const struct tcpr_sess *s, uint32_t base);
void gate_del(uint32_t i, const struct tcpr_sess *s);
struct gate_ctl *gate_ctl(uint32_t i);
uint32_t gate_gen(uint32_t i);
void gate_stats(unsigned long long *passed, unsigned long long *queued);
int capture_snap(const struct capture_opts *o, int argc, char **argv);

#endif
