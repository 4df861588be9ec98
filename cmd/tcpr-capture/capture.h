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
};

int capture_run(const struct capture_opts *o);
int capture_snap(const struct capture_opts *o, int argc, char **argv);

#endif
