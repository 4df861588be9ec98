/*
 * The SNMP push of an apply (lc-build, lc-web): a cl_push_fn sending every
 * host's role file to its lc-agent (SNMPv3 SET of nsHostRoleConfig.0
 * through lib/snmp_push, all hosts at once) and keeping each host's result
 * for the caller to report.
 */
#ifndef NONSTOP_CLUSTER_PUSH_H
#define NONSTOP_CLUSTER_PUSH_H

#include <stddef.h>

#include "cluster.h"
#include "snmp_sess.h"

enum { CLP_OK, CLP_FAILED, CLP_NOAGENT };

struct cluster_push_result {
	char *host;
	int was, role, action;	/* as in the plan (struct cl_change) */
	int result;		/* CLP_* */
	char peer[96];		/* "udp:192.0.2.11:161"; empty with CLP_NOAGENT */
	char why[128];		/* "ok", "timeout", "inconsistentValue", ... */
	unsigned ms;		/* until the agent's answer */
};

struct cluster_push {
	/* in */
	const char *creds;	/* credentials file (lib/snmp_sess.h) */
	unsigned timeout_ms;	/* per try; 0: 1000 */
	int tries;		/* 0: 2 */
	/* out: every host of the plan, in its order, once push ran */
	struct cluster_push_result *res;
	size_t nres;
	size_t failed;
};

/*
 * The credentials in file, loaded once per process (net-snmp started for
 * app on the first call); NULL with why. Call it before cl_apply to refuse
 * a bad file before anything is written.
 */
const struct snmp_creds *cluster_push_creds(const char *file, const char *app,
    char *why, size_t whylen);

/*
 * A cl_push_fn; arg is a struct cluster_push. Hosts with no agent port or
 * address in the directory are left out (CLP_NOAGENT, not a failure). When
 * an agent did not take its file: -1 with e->rule "push" naming the hosts,
 * and the results in arg all the same.
 */
int cluster_push(const struct cl_cluster *c, struct cl_hosts *hosts,
    const struct cl_change *ch, size_t n, void *arg, struct cl_err *e);

/* Free the results (the inputs are the caller's). */
void cluster_push_free(struct cluster_push *p);

#endif
