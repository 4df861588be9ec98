/*
 * While this host balances, rs-probe | lc-role follow keeps failed real
 * servers out of its table: started by the master hook after the table
 * is set up, stopped by the others before it is taken down. The pair
 * runs in a session of its own whose id is kept in statedir/follow.pid.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "err.h"
#include "lbwatch.h"

/* rs-probe reads the balancer's real servers only from an lb role file. */
static int
probe_role(const char *rolefile, const char *out)
{
	char *text;
	size_t len;
	FILE *f;
	char *buf = NULL;
	size_t blen = 0;
	int rc;

	if ((text = atomic_read(rolefile, 1 << 20, &len)) == NULL)
		return -1;
	if ((f = open_memstream(&buf, &blen)) == NULL) {
		free(text);
		return -1;
	}
	if (strncmp(text, "role=bs ", 8) == 0 || strncmp(text, "role=lb ", 8) == 0) {
		fputs("role=lb ", f);
		fputs(text + 8, f);
	} else {
		fputs(text, f);
	}
	rc = fclose(f) == 0 ? atomic_write(out, buf, blen, 0644) : -1;
	free(buf);
	free(text);
	return rc;
}

void
follow_start(const struct role *r, const char *rolefile)
{
	char prole[4096], pstate[4096], lcstate[4096], pidfile[4096], num[32];
	char iv[24], to[24];
	pid_t pid;
	int p[2];

	(void)r;
	if (opt_creds == NULL)
		return;	/* rs-probe needs the agents' credentials */
	snprintf(prole, sizeof prole, "%s/probe.role", statedir);
	probe_dir(pstate, sizeof pstate);
	snprintf(lcstate, sizeof lcstate, "%s/lc-role", statedir);
	snprintf(pidfile, sizeof pidfile, "%s/follow.pid", statedir);
	if (probe_role(rolefile, prole) == -1) {
		err_warn("unable to write %s:", prole);
		return;
	}
	(void)mkdir(pstate, 0755);
	snprintf(iv, sizeof iv, "%ld", probe_ms);
	snprintf(to, sizeof to, "%ld", probe_ms / 2 < 1000 ? probe_ms / 2 : 1000);
	if ((pid = fork()) == -1) {
		err_warn("fork:");
		return;
	}
	if (pid == 0) {
		const char *lc = tool_path("LC_ROLE", "lc-role");
		const char *rp = tool_path("RS_PROBE", "rs-probe");
		pid_t q;

		setsid();
		if (pipe(p) == -1)
			_exit(EXIT_TEMP);
		if ((q = fork()) == -1)
			_exit(EXIT_TEMP);
		if (q == 0) {
			dup2(p[1], 1);
			close(p[0]);
			close(p[1]);
			execlp(rp, rp, "-f", prole, "-k", opt_creds, "-s", pstate,
			    "-t", iv, "-w", to, (char *)NULL);
			err_warn("unable to run %s:", rp);
			_exit(EXIT_TEMP);
		}
		dup2(p[0], 0);
		close(p[0]);
		close(p[1]);
		if (opt_dp != NULL)
			execlp(lc, lc, "-q", "-d", opt_dp, "-r", "lb", "-s", lcstate,
			    "follow", "-f", rolefile, (char *)NULL);
		else
			execlp(lc, lc, "-q", "-r", "lb", "-s", lcstate, "follow",
			    "-f", rolefile, (char *)NULL);
		err_warn("unable to run %s:", lc);
		_exit(EXIT_TEMP);
	}
	snprintf(num, sizeof num, "%ld\n", (long)pid);
	if (atomic_write_str(pidfile, num, 0644) == -1)
		err_warn("unable to write %s:", pidfile);
	err_debug("follow started: session %ld", (long)pid);
}

/* Running, not a zombie that nobody reaped yet. */
static int
alive(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	int ok = 0;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	if (fgets(buf, sizeof buf, f) != NULL && (p = strrchr(buf, ')')) != NULL)
		ok = p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
	fclose(f);
	return ok;
}

void
follow_stop(void)
{
	char pidfile[4096], *s;
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	long pid;
	int i;

	snprintf(pidfile, sizeof pidfile, "%s/follow.pid", statedir);
	if ((s = atomic_read(pidfile, 32, NULL)) == NULL)
		return;
	pid = strtol(s, NULL, 10);
	free(s);
	/* The session's leader keeps its pid as the group id until it ends. */
	if (pid > 1 && kill((pid_t)-pid, SIGTERM) == 0) {
		for (i = 0; i < 300 && alive((pid_t)pid); i++)
			nanosleep(&ts, NULL);
		if (alive((pid_t)pid)) {
			err_warn("follow session %ld still running: killing it", pid);
			(void)kill((pid_t)-pid, SIGKILL);
		}
	}
	if (unlink(pidfile) == -1 && errno != ENOENT)
		err_warn("unable to remove %s:", pidfile);
}
