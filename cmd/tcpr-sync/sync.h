/* tcpr-sync's network side: send (master) and recv (backup). */
#ifndef TCPR_SYNC_SYNC_H
#define TCPR_SYNC_SYNC_H

struct sync_opts {
	const char *keyfile;	/* -k */
	const char *dir;	/* -s store folder (recv) */
	const char *peer;	/* send: host:port; recv: [addr:]port */
	int interval;		/* -t ms: alive/resend period */
	int realtime;		/* -R: SCHED_RR and locked memory */
};

/* -R: real-time round-robin priority 10, memory locked (warns if not). */
void sync_realtime(void);
int sync_send(const struct sync_opts *o, int check);
int sync_recv(const struct sync_opts *o, int check);

#endif
