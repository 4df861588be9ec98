/*
 * lc-agent: a guard around net-snmp's subagent SET cache.
 *
 * net-snmp 5.9.3 bug, worked around here (lc-agent(8) BUGS).
 * net-snmp 5.9.3 (agent/snmp_agent.c) keeps each SET transaction's
 * requests between its phases in a list keyed by session and transaction
 * id: netsnmp_wrap_up_request() saves an entry after RESERVE1, RESERVE2
 * and ACTION, even when the phase found no entry of its own (the master
 * timed out and dropped us, snmpd restarted, the phase came for a
 * transaction this agent no longer holds). That entry has no requests,
 * and the next phase of the same transaction (FREE, UNDO, COMMIT) finds
 * it and dereferences the NULL: a segfault in get_set_cache(). Seen under
 * load, with AgentX timeouts, and under test/bench/lc-agent-stress.sh.
 * The library calls save_set_cache() through its PLT, so this definition
 * (exported, the binary links with -Wl,-E) is the one it gets: an entry
 * without requests is not saved, and the later phase fails cleanly with
 * genErr instead.
 */
#include <dlfcn.h>
#include <stddef.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <net-snmp/agent/net-snmp-agent-includes.h>
#include <net-snmp/agent/agent_callbacks.h>

#include "err.h"
#include "lcagent.h"

void *save_set_cache(netsnmp_agent_session *asp);

void *
save_set_cache(netsnmp_agent_session *asp)
{
	static void *(*real)(netsnmp_agent_session *);
	static unsigned long dropped;

	if (asp == NULL || asp->requests == NULL || asp->reqinfo == NULL ||
	    asp->pdu == NULL) {
		if (dropped++ < 10)
			err_warn("SET phase for a transaction no longer held "
			    "(AgentX timeout or reconnect): refused");
		return NULL;
	}
	if (real == NULL) {
		*(void **)&real = dlsym(RTLD_NEXT, "save_set_cache");
		if (real == NULL) {
			err_warn("net-snmp has no save_set_cache: %s", dlerror());
			return NULL;
		}
	}
	return real(asp);
}

/*
 * net-snmp 5.9.3 bug, worked around here (lc-agent(8) BUGS).
 * net-snmp 5.9.3 (agentx/subagent.c): a SET phase in flight on the
 * internal callback session holds the AgentX session it answers to. When
 * the master drops that session (agentXTimeout passed, snmpd restarted),
 * the subagent only closes it on the master's disconnect; the library
 * frees it at the next select, and the phase's answer then writes through
 * the freed session and its freed transaction (valgrind: invalid read in
 * handle_subagent_set_response; a heap corruption or segfault later).
 * On a ping failure the library itself reopens the callback session so
 * that such answers are dropped; agentx_session_lost() notes the
 * disconnect and agentx_session_reset(), called by the main loop after
 * the read that saw it (the old session is still allocated then), does
 * the same.
 */
extern netsnmp_session *agentx_callback_sess;
extern int callback_master_num;
int handle_subagent_response(int, netsnmp_session *, int, netsnmp_pdu *, void *);

static int lost;

static int
on_index_stop(int major, int minor, void *server, void *client)
{
	(void)major, (void)minor, (void)server, (void)client;
	lost = 1;
	return SNMP_ERR_NOERROR;
}

int
agentx_session_watch(void)
{
	return snmp_register_callback(SNMP_CALLBACK_APPLICATION,
	    SNMPD_CALLBACK_INDEX_STOP, on_index_stop, NULL) == SNMPERR_SUCCESS ?
	    0 : -1;
}

void
agentx_session_reset(void)
{
	if (!lost)
		return;
	lost = 0;
	if (agentx_callback_sess == NULL)
		return;
	snmp_close(agentx_callback_sess);
	agentx_callback_sess = netsnmp_callback_open(callback_master_num,
	    handle_subagent_response, NULL, NULL);
	if (agentx_callback_sess == NULL)
		err_warn("unable to reopen the AgentX callback session");
	else
		err_info("AgentX session lost: SET phases in flight dropped");
}
