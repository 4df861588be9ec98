/* tcpr-sync's network side: send (master) and recv (backup). */
#ifndef TCPR_SYNC_SYNC_H
#define TCPR_SYNC_SYNC_H

struct sync_opts {
	const char *keyfile;	/* -k */
	const char *dir;	/* -s store folder (recv) */
	const char *peer;	/* send: host:port; recv: [addr:]port */
	int interval;		/* -t ms: alive/resend period */
};

int sync_send(const struct sync_opts *o, int check);
int sync_recv(const struct sync_opts *o, int check);

#endif
