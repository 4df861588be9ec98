/*
 * The live real-server table of a load balancer, read from its lc-agent
 * over SNMPv3 (NONSTOP-MIB::nsRsTable) with lib/snmp_sess: what lc-web
 * shows as the status, weights and connections the agents report.
 */
#ifndef NONSTOP_WEB_SNMP_H
#define NONSTOP_WEB_SNMP_H

#include <stddef.h>

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
 * credentials file creds (lib/snmp_sess.h; loaded once per process by
 * cluster_push_creds). Up to max rows go to out in index order. Returns
 * the row count, or -1 with why.
 */
int web_snmp_rs_table(const char *creds, const char *peer, const char *engine,
    unsigned timeout_ms, struct web_rs_live *out, size_t max, char *why,
    size_t whylen);

#endif
