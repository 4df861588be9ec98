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
};

#include <sys/types.h>
#include "tcpr_rec.h"

/* cookie: the socket's SO_COOKIE, naming it among sockets of one tuple */
typedef void (*snap_cb)(const struct tcpr_sess *, uint64_t cookie, void *);
/* Record pid's sessions (of o->port), calling cb for each. */
int snap_pid(pid_t pid, const struct capture_opts *o, int *nrec, snap_cb cb,
    void *arg);

int capture_run(const struct capture_opts *o);
int capture_snap(const struct capture_opts *o, int argc, char **argv);

#endif
