/* lc-agent internals: the live state it serves and how it is gathered. */
#ifndef LC_AGENT_H
#define LC_AGENT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "dp.h"
#include "role.h"

/* Where things are; set from options by main(). */
struct conf {
	const char *rolefile;
	const char *statedir;
	const char *lcrole;	/* converger, execvp'd as LCROLE apply -f FILE */
	const char *host;	/* this host's name */
	const char *lcrolestate;	/* lc-role's state file */
};
extern struct conf conf;

enum rstat { RSTAT_UNCONF = 1, RSTAT_CONF, RSTAT_APPLYING, RSTAT_ACTIVE,
    RSTAT_FAILED };

/* What the agent itself knows (counters, converger status). */
struct agent {
	enum rstat status;
	char error[256];
	uint64_t sets, refused, applies, apply_fail;
	int child;		/* pid of the running converger, 0 if none */
	int pending;		/* another apply wanted after the running one */
	int unapplied;		/* a SET wrote the role file, its commit never came */
};
extern struct agent agent;

/* Per real server, as rs-probe's state file says. */
struct probe_rs {
	char name[ROLE_NAMELEN];
	int status;		/* 1 unknown, 2 up, 3 down */
	char reason[64];
	int weight;		/* -1: not given */
	unsigned long load, conns, inactive;
	uint64_t checks, failures;
	time_t since;
};

struct probe {
	int valid;
	uint64_t sweeps, down_events, up_events;
	struct probe_rs *rs;
	size_t nrs;
};

/* state.c */
/* Load the probe state file ("<statedir>/rs-probe.state"); 0 or -1. */
int probe_load(struct probe *p, const char *path);
void probe_free(struct probe *p);
const struct probe_rs *probe_find(const struct probe *p, const char *name);
/* Count listeners and established TCP connections on the given ports. */
int sockdiag_count(const uint16_t *ports, size_t n, int *listening,
    unsigned long *established);
/* Append an event line to "<statedir>/events". */
void event_log(const char *type, const char *subject, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void date_and_time(time_t t, unsigned char out[8]);

/* dataplane.c: nsLbDataplane values, nsRsDataplane values. */
enum { DPV_NONE = 1, DPV_NFT, DPV_IPVS, DPV_UNREADABLE };
enum { DPR_UNKNOWN = 1, DPR_PRESENT, DPR_ABSENT };

struct dpview {
	int kind;		/* DPV_* */
	char why[256];		/* with DPV_UNREADABLE */
	struct dp_table t;	/* the kernel's table */
};

/* The kernel's table, read back at most every 250 ms. */
const struct dpview *dpview_get(void);
/*
 * Real server h of role r in the kernel's table: DPR_PRESENT when every
 * service holds it (weight from the first, connections summed), else
 * DPR_ABSENT; DPR_UNKNOWN when the table could not be read.
 */
int dpview_rs(const struct dpview *v, const struct role *r,
    const struct role_host *h, int *weight, unsigned long *active,
    unsigned long *inactive);

/* setcache.c: net-snmp's subagent SET paths, made safe to lose the master. */
int agentx_session_watch(void);
void agentx_session_reset(void);	/* after each agent_check_and_process() */

/* view.c */
int view_register(void);
void view_tick(void);	/* once per alarm: notifications, child reaping */
void apply_start(void);

#endif
