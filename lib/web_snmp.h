/*
 * The live real-server table of a load balancer, read from its lc-agent
 * over SNMPv3 (NONSTOP-MIB::nsRsTable) with lib/snmp_sess: what lc-web
 * shows as the status, weights and connections the agents report.
 */
#ifndef NONSTOP_WEB_SNMP_H
#define NONSTOP_WEB_SNMP_H

#include <stddef.h>

#include "cluster.h"

enum { WEB_RS_UNKNOWN = 1, WEB_RS_UP, WEB_RS_DOWN };

struct web_rs_live {
	unsigned idx;		/* nsRsIndex */
	char name[64];		/* nsRsName */
	int status;		/* nsRsStatus: WEB_RS_*, 0 not reported */
	char reason[48];	/* nsRsReason */
	long weight;		/* nsRsWeight, -1 not reported */
	long conns;		/* nsRsActiveConns, -1 not reported */
	long load;		/* nsRsLoad in hundredths, -1 not reported */
	long long since;	/* nsRsLastChange as seconds since the epoch, 0 unknown */
};

/*
 * Walk nsRsTable of the agent at peer ("udp:192.0.2.2:161") whose engine
 * ID text is engine (its host name), with GETBULK, each request bounded
 * by timeout_ms and the whole walk by 8 requests, as the user of the
 * credentials file creds (lib/snmp_sess.h; loaded once per process). Up
 * to max rows go to out in index order. Returns the row count, or -1
 * with why.
 */
int web_snmp_rs_table(const char *creds, const char *peer, const char *engine,
    unsigned timeout_ms, struct web_rs_live *out, size_t max, char *why,
    size_t whylen);

/*
 * A cl_push_fn for cl_apply: send each host's role file to its lc-agent
 * (SNMPv3 SET of nsHostRoleConfig.0 through lib/snmp_push, all hosts at
 * once, 2 s per try, 2 tries) at the host's first address and agent
 * port; hosts with no agent port in the directory are left out. arg is
 * the credentials file. Fails (e->rule "push", naming the hosts) when an
 * agent did not take its file.
 */
int web_snmp_push(const struct cl_cluster *c, struct cl_hosts *hosts,
    const struct cl_change *ch, size_t n, void *arg, struct cl_err *e);

#endif
