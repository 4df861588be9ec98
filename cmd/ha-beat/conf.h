/* ha-beat.conf: reading and validating it; see ha-beat.conf(5). */
#ifndef HA_BEAT_CONF_H
#define HA_BEAT_CONF_H

#include <stdint.h>

#include "addr.h"
#include "proto.h"

#define HB_MAXNODES 8
#define HB_MAXPATHS 2
#define HB_MAXVIPS 16
#define HB_MAXHOOKS 8
#define HB_MAXCHECKS 4
#define HB_MAXARGS 16
#define HB_MAXANNOUNCE 8

enum hook_state { HK_MASTER, HK_BACKUP, HK_FAULT, HK_STOP, HK_NSTATES };

struct node {
	char name[HB_NAMELEN];
	int priority;
	struct addr path[HB_MAXPATHS];	/* heartbeat addresses, first = main */
	int npath;
};

struct hook {
	enum hook_state state;
	char *argv[HB_MAXARGS + 1];
};

/* A health check: the node is fit to be master only while it passes. */
struct check {
	unsigned every_ms;	/* start it this often */
	unsigned timeout_ms;	/* a run still going after this has failed */
	unsigned fall, rise;	/* failures to fail, successes to recover */
	char *argv[HB_MAXARGS + 1];
};

struct conf {
	char group[HB_NAMELEN];
	char ifname[32];
	unsigned port;
	unsigned interval_ms;
	unsigned dead;
	char keyfile[256];
	struct node nodes[HB_MAXNODES];
	int nnodes;
	char self[HB_NAMELEN];
	struct addr vips[HB_MAXVIPS];
	int nvips;
	int preempt;
	unsigned lease_s;
	unsigned hold_ms;	/* listen this long at start; 0: interval x dead */
	int quorum;		/* live nodes (self included) needed to serve */
	unsigned announce_ms[HB_MAXANNOUNCE];	/* GARP rounds after takeover */
	int nannounce;
	int garp_reply;
	struct addr witness;
	int has_witness;
	unsigned witness_ms;
	int realtime;
	int keep_privileges;
	struct hook hooks[HB_MAXHOOKS];
	int nhooks;
	struct check checks[HB_MAXCHECKS];
	int nchecks;
};

extern const char *hook_state_name[HK_NSTATES];

/*
 * Read path into c; self (may be NULL) overrides the file's "self".
 * Returns 0, or -1 with *why holding "FILE:LINE: reason" (static storage).
 */
int conf_load(struct conf *c, const char *path, const char *self,
    const char **why);
void conf_free(struct conf *c);
/* Index of the node called name, or -1. */
int conf_node(const struct conf *c, const char *name);

#endif
