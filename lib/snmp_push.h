/*
 * Push role files to many hosts' lc-agents at once (lc-build apply): one
 * SNMPv3 SET of NONSTOP-MIB::nsHostRoleConfig.0 per host, all in flight
 * together, each with its own timeout and retries. Idempotent: an agent
 * accepts the content it already has and changes nothing.
 */
#ifndef NONSTOP_SNMP_PUSH_H
#define NONSTOP_SNMP_PUSH_H

#include <stddef.h>

#include "snmp_sess.h"

struct snmp_push_host {
	/* in */
	const char *name;	/* host name = its agent's engine ID text */
	const char *peer;	/* "udp:192.0.2.11:161" */
	const char *text;	/* the role file */
	/* out */
	int status;		/* 0 ok; >0 the SNMP error-status; -1 timeout; -2 local */
	char why[128];		/* "ok", "inconsistentValue", "timeout", ... */
	unsigned ms;		/* time until the answer */
	/* private */
	void *h;
	int reqid, tries, done;
	long long sent;
};

/*
 * Push every host's text in parallel; tries >= 1 sends per host (a
 * timed-out SET is sent again; the agent's idempotence makes that safe).
 * Returns the number of hosts that failed (0: all applied), or -1 with
 * errno when nothing could be started.
 */
int snmp_push(const struct snmp_creds *c, struct snmp_push_host *hosts,
    size_t n, unsigned timeout_ms, int tries);

#endif
