/*
 * lc-agent: a guard around net-snmp's subagent SET cache.
 *
 * XXX net-snmp 5.9.3 (agent/snmp_agent.c) keeps each SET transaction's
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

#include "err.h"

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
