/*
 * lc-agent: AgentX subagent of net-snmp's snmpd serving NONSTOP-MIB from
 * live state, and turning SETs of the role objects into a new role file.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <net-snmp/agent/net-snmp-agent-includes.h>

#include "err.h"
#include "lcagent.h"
#include "priv.h"
#include "role.h"

static volatile sig_atomic_t stop;

static void
usage(void)
{
	fprintf(stderr, "usage: lc-agent [-nvV] [-a lc-role] [-f rolefile] "
	    "[-N host] [-p ping] [-S lc-role-state] [-s statedir] [-u user] "
	    "[-x agentx-socket]\n");
	exit(EXIT_BAD);
}

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
tick(unsigned int reg, void *arg)
{
	(void)reg, (void)arg;
	view_tick();
}

int
main(int argc, char **argv)
{
	static const cap_value_t keep[] = { CAP_NET_ADMIN, CAP_NET_RAW };
	const char *sock = NULL, *user = NULL;
	char hostbuf[HOST_NAME_MAX + 1], why[256], persist[PATH_MAX];
	struct sigaction sa;
	struct role r;
	struct stat st;
	long ping = 1;
	int c, check = 0;

	err_init(argv[0]);
	conf.rolefile = "/etc/nonstop/role";
	conf.statedir = "/var/lib/nonstop";
	conf.lcrole = "lc-role";
	opterr = 0;
	while ((c = getopt(argc, argv, "a:f:N:np:S:s:u:vVx:")) != -1) {
		switch (c) {
		case 'a': conf.lcrole = optarg; break;
		case 'f': conf.rolefile = optarg; break;
		case 'N': conf.host = optarg; break;
		case 'n': check = 1; break;
		case 'p': {
			char *end;
			ping = strtol(optarg, &end, 10);
			if (*end != '\0' || ping < 1 || ping > 3600)
				err_die(EXIT_BAD, "bad ping interval %s (1-3600 s)", optarg);
			break;
		}
		case 'S': conf.lcrolestate = optarg; break;
		case 's': conf.statedir = optarg; break;
		case 'u': user = optarg; break;
		case 'v': err_verbose++; break;
		case 'V': printf("lc-agent %s\n", VERSION); return EXIT_OK;
		case 'x': sock = optarg; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();

	/* A role file that is there must be valid; none at all is allowed. */
	if (role_read(conf.rolefile, &r, why, sizeof why) == 0) {
		if (conf.host != NULL && strcmp(conf.host, r.host) != 0)
			err_die(EXIT_BAD, "%s is for host %s, not %s", conf.rolefile,
			    r.host, conf.host);
		if (conf.host == NULL && (conf.host = strdup(r.host)) == NULL)
			err_die(EXIT_TEMP, "out of memory");
		role_free(&r);
	} else if (errno != ENOENT) {
		err_die(errno == EINVAL ? EXIT_BAD : EXIT_TEMP, "%s", why);
	}
	if (conf.host == NULL) {
		if (gethostname(hostbuf, sizeof hostbuf) == -1)
			err_die(EXIT_TEMP, "gethostname:");
		conf.host = hostbuf;
	}
	if (stat(conf.statedir, &st) == -1 || !S_ISDIR(st.st_mode))
		err_die(EXIT_BAD, "state directory %s is not a directory", conf.statedir);
	if (conf.lcrolestate == NULL) {
		static char path[PATH_MAX];
		if (snprintf(path, sizeof path, "%s/lc-role/state", conf.statedir) >=
		    (int)sizeof path)
			err_die(EXIT_BAD, "state directory name too long");
		conf.lcrolestate = path;
	}
	if (check) {
		printf("configuration OK\n");
		return EXIT_OK;
	}
	agent.status = RSTAT_UNCONF;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	/* net-snmp: subagent, our socket, no config files, state under ours. */
	snprintf(persist, sizeof persist, "%s/snmp", conf.statedir);
	(void)mkdir(persist, 0700);
	{
		char sub[PATH_MAX + 16];
		snprintf(sub, sizeof sub, "%s/cert_indexes", persist);
		(void)mkdir(sub, 0700);
	}
	setenv("SNMP_PERSISTENT_DIR", persist, 1);
	setenv("MIBS", "", 1);
	netsnmp_ds_set_string(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_PERSISTENT_DIR, persist);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_PERSIST_STATE, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_ROLE, 1);
	if (sock != NULL)
		netsnmp_ds_set_string(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_X_SOCKET, sock);
	snmp_disable_log();
	if (err_verbose > 0)
		snmp_enable_stderrlog();
	if (init_agent("lc-agent") != 0)
		err_die(EXIT_TEMP, "init_agent failed");
	/* After init_agent, which resets it to 15 s: reconnect within ~1 s. */
	netsnmp_ds_set_int(NETSNMP_DS_APPLICATION_ID,
	    NETSNMP_DS_AGENT_AGENTX_PING_INTERVAL, (int)ping);
	if (agentx_session_watch() == -1)
		err_die(EXIT_TEMP, "unable to watch the AgentX session");
	if (view_register() == -1)
		err_die(EXIT_TEMP, "unable to register NONSTOP-MIB");
	init_snmp("lc-agent");
	if (snmp_alarm_register_hr((struct timeval){ 0, 250000 }, SA_REPEAT,
	    tick, NULL) == 0)
		err_die(EXIT_TEMP, "unable to register the timer");

	/* Nothing privileged is opened later; the converger gets NET_ADMIN. */
	if (priv_drop(user, keep, 2) == -1)
		err_die(EXIT_TEMP, "unable to drop privileges:");
	if (priv_ambient(keep, 2) == -1 && errno != EPERM)
		err_warn("unable to make capabilities ambient:");
	err_info("serving NONSTOP-MIB for host %s from %s", conf.host, conf.rolefile);

	while (!stop) {
		agent_check_and_process(1);
		agentx_session_reset();
	}
	/*
	 * No snmp_shutdown(): there is no state to save, the master unregisters
	 * us when the socket closes, and net-snmp 5.9.3's polite AgentX close
	 * waits synchronously, where a disconnect from a master going away at
	 * the same time unregisters the very callback list being walked
	 * (valgrind: use after free in snmp_call_callbacks at exit).
	 */
	return EXIT_OK;
}
