/*
 * lb-watch: the load balancer's failover in cascade order (LB, then the
 * primary backup server, then the secondary), built on ha-beat: it writes
 * the ha-beat configuration from the role file, is ha-beat's hook (take
 * over or give back the balancer role through lc-role) and its health
 * check (a balancer whose table is gone, or that a backup found not
 * balancing, hands over while it runs); watch judges the master.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "err.h"
#include "kv.h"
#include "lbwatch.h"
#include "role.h"

#define STATEDIR "/var/lib/nonstop/lb-watch"
#define AGENT_DIR "/var/lib/nonstop"

const char *opt_dp, *opt_key, *opt_creds, *statedir = STATEDIR;
const char *hb_state;		/* -H: ha-beat's state folder */
long watch_ms = 200, timeout_ms = 100, holddown_ms = 5000, probe_ms = 2000;
unsigned opt_port = 7401, opt_fall = 3, opt_rise = 2;
int opt_n, opt_q;
static const char *opt_if, *opt_file;
static const char *agent_log;	/* -e; NULL: AGENT_DIR/events if it exists */
static long interval_ms = 20;
static int opt_noself, opt_armed, opt_nogiveback;

static void
usage(void)
{
	fprintf(stderr, "usage: %s [-aGnqSvV] [-c credentials] [-D holddown_ms] "
	    "[-d nft|ipvs] [-e eventlog] [-F fall] [-H hbstatedir] [-i interface] "
	    "[-k keyfile] [-P probe_ms] [-p port] [-R rise] [-s statedir] "
	    "[-T watch_ms] [-t interval_ms] [-w timeout_ms] -f rolefile "
	    "conf | check | hook state | watch\n", err_prog);
	exit(EXIT_BAD);
}

static char *
absolute(const char *path)
{
	char *p = realpath(path, NULL);

	if (p == NULL)
		err_die(errno == ENOENT ? EXIT_BAD : EXIT_TEMP, "unable to resolve %s:",
		    path);
	return p;
}

/* A tool: $env, beside this binary, or on PATH. */
const char *
tool_path(const char *env, const char *name)
{
	static char buf[2][PATH_MAX];
	static int which;
	const char *e = getenv(env);
	char *b = buf[which ^= 1], *slash;
	ssize_t n;

	if (e != NULL && *e != '\0')
		return e;
	n = readlink("/proc/self/exe", b, PATH_MAX - 16);
	if (n > 0) {
		b[n] = '\0';
		if ((slash = strrchr(b, '/')) != NULL) {
			snprintf(slash + 1, 16, "%s", name);
			if (access(b, X_OK) == 0)
				return b;
		}
	}
	return name;
}

static const char *
lc_role_path(void)
{
	return tool_path("LC_ROLE", "lc-role");
}

int64_t
mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int64_t
wall_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void
hb_state_read(char *out, size_t size)
{
	char path[PATH_MAX], *now;

	out[0] = '\0';
	if (hb_state == NULL)
		return;
	snprintf(path, sizeof path, "%s/state", hb_state);
	if ((now = atomic_read(path, 64, NULL)) == NULL)
		return;
	now[strcspn(now, "\n")] = '\0';
	snprintf(out, size, "%s", now);
	free(now);
}

/* The state folder, whatever the caller's umask. */
void
make_statedir(void)
{
	if (mkdir(statedir, 0755) == 0)
		(void)chmod(statedir, 0755);
	else if (errno != EEXIST)
		err_die(EXIT_TEMP, "unable to create %s:", statedir);
}

/*
 * The hooks' options go to statedir/hooks rather than onto the hook
 * lines (ha-beat takes at most 16 arguments a hook): one record, e.g.
 *   dp=nft eventlog=/var/lib/nonstop/events hbstate=/run/x creds=/etc/c probe_ms=2000
 */
static void
hook_opts_write(void)
{
	char path[PATH_MAX], *line = NULL, *c = NULL, num[24];
	size_t len = 0;
	int first = 1;
	FILE *f;

	if ((f = open_memstream(&line, &len)) == NULL)
		err_die(EXIT_TEMP, "open_memstream:");
	if (opt_dp != NULL)
		kv_fput(f, first, "dp", opt_dp), first = 0;
	if (opt_armed)
		kv_fput(f, first, "armed", "yes"), first = 0;
	if (agent_log != NULL)
		kv_fput(f, first, "eventlog", agent_log), first = 0;
	if (hb_state != NULL) {
		/* It may not exist yet: ha-beat makes it. */
		char cwd[PATH_MAX], h[2 * PATH_MAX];
		if (hb_state[0] == '/')
			snprintf(h, sizeof h, "%s", hb_state);
		else if (getcwd(cwd, sizeof cwd) != NULL)
			snprintf(h, sizeof h, "%s/%s", cwd, hb_state);
		else
			err_die(EXIT_TEMP, "getcwd:");
		kv_fput(f, first, "hbstate", h), first = 0;
	}
	if (opt_creds != NULL) {
		c = absolute(opt_creds);
		kv_fput(f, first, "creds", c), first = 0;
		snprintf(num, sizeof num, "%ld", probe_ms);
		kv_fput(f, 0, "probe_ms", num);
		free(c);
	}
	fputc('\n', f);
	if (fclose(f) != 0)
		err_die(EXIT_TEMP, "open_memstream:");
	snprintf(path, sizeof path, "%s/hooks", statedir);
	if (atomic_write(path, first ? "" : line, first ? 0 : len, 0644) == -1)
		err_die(EXIT_TEMP, "unable to write %s:", path);
	free(line);
}

/* What conf left in statedir/hooks, for the options not given here. */
static void
hook_opts_read(void)
{
	char path[PATH_MAX], *s;
	const char *why, *v;
	struct kv_rec rec;

	snprintf(path, sizeof path, "%s/hooks", statedir);
	if ((s = atomic_read(path, 8192, NULL)) == NULL || *s == '\0') {
		free(s);
		return;
	}
	s[strcspn(s, "\n")] = '\0';
	if (kv_parse(&rec, s, &why) == -1)
		err_die(EXIT_BAD, "%s: %s", path, why);
	if (opt_dp == NULL && (v = kv_get(&rec, "dp")) != NULL)
		opt_dp = strdup(v);
	if ((v = kv_get(&rec, "armed")) != NULL && strcmp(v, "yes") == 0)
		opt_armed = 1;
	if (agent_log == NULL && (v = kv_get(&rec, "eventlog")) != NULL)
		agent_log = strdup(v);
	if (hb_state == NULL && (v = kv_get(&rec, "hbstate")) != NULL)
		hb_state = strdup(v);
	if (opt_creds == NULL && (v = kv_get(&rec, "creds")) != NULL) {
		opt_creds = strdup(v);
		if ((v = kv_get(&rec, "probe_ms")) != NULL)
			probe_ms = strtol(v, NULL, 10);
	}
	kv_free(&rec);
	free(s);
}

/* Print ha-beat.conf for this host: the cascade is the priority order. */
static int
conf(const struct role *r, const char *rolefile)
{
	char self[PATH_MAX], a[ADDR_STRLEN];
	char *role_abs, *state_abs, *key_abs;
	const char *hooks[] = { "master", "backup", "fault", "stop" };
	ssize_t n;
	size_t i, j;
	long every;

	if (opt_if == NULL || opt_key == NULL)
		err_die(EXIT_BAD, "conf needs -i interface and -k keyfile");
	if (strlen(r->cluster) > 31)
		err_die(EXIT_BAD, "cluster name %s too long for an ha-beat group "
		    "(31 characters)", r->cluster);
	if (r->nbs == 0)
		err_die(EXIT_BAD, "%s: no backup server: nothing to fail over to",
		    rolefile);
	if ((n = readlink("/proc/self/exe", self, sizeof self - 1)) <= 0)
		err_die(EXIT_TEMP, "unable to find my own path:");
	self[n] = '\0';
	role_abs = absolute(rolefile);
	key_abs = absolute(opt_key);
	make_statedir();
	state_abs = absolute(statedir);
	/* A check that overruns its period counts as failed: leave room. */
	every = interval_ms * 10 < 200 ? 200 : interval_ms * 10;

	printf("# ha-beat.conf for %s in cluster %s (generation %lu), "
	    "written by lb-watch from %s\n", r->host, r->cluster, r->generation,
	    role_abs);
	printf("group %s\ninterface %s\ninterval %ld\ndead 3\n", r->cluster,
	    opt_if, interval_ms);
	printf("key %s\n", key_abs);
	printf("node %s %s priority 250\n", r->lb.name,
	    addr_fmt(&r->lb.addr, a, sizeof a));
	for (i = 0; i < r->nbs; i++)
		printf("node %s %s priority %d\n", r->bs[i].name,
		    addr_fmt(&r->bs[i].addr, a, sizeof a),
		    250 - r->bs[i].order > 1 ? 250 - r->bs[i].order : 1);
	printf("self %s\n", r->host);
	/* A cascade: the last backup standing takes over alone. */
	printf("quorum 1\n");
	/* -G: a host that took over keeps the role when a better one returns. */
	if (opt_nogiveback)
		printf("preempt no\n");
	for (i = 0; i < r->nsvc; i++) {
		for (j = 0; j < i; j++)
			if (addr_eq(&r->svc[j].vip, &r->svc[i].vip))
				break;
		if (j == i)
			printf("vip %s/%u\n", addr_fmt(&r->svc[i].vip, a, sizeof a),
			    r->svc[i].vip.plen);
	}
	printf("check every %ld fall 2 rise 3 %s -q%s -s %s -f %s check\n", every,
	    self, opt_noself ? " -S" : "", state_abs, role_abs);
	for (i = 0; i < 4; i++)
		printf("hook %s %s -s %s -f %s hook %s\n", hooks[i], self,
		    state_abs, role_abs, hooks[i]);
	hook_opts_write();
	free(role_abs);
	free(key_abs);
	free(state_abs);
	return 0;
}

/* Run argv, wait; its exit status, or 111 when it could not run. */
static int
run(const char *const argv[])
{
	/* execvp's argv is not const for history's sake only. */
	union { const char *const *c; char *const *v; } u = { argv };
	pid_t pid;
	int st;

	if ((pid = fork()) == -1)
		err_die(EXIT_TEMP, "fork:");
	if (pid == 0) {
		execvp(argv[0], u.v);
		err_warn("unable to run %s:", argv[0]);
		_exit(EXIT_TEMP);
	}
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			err_die(EXIT_TEMP, "waitpid:");
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return EXIT_TEMP;
}

static int
lock(int how)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof path, "%s/lock", statedir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) == -1)
		err_die(EXIT_TEMP, "unable to open %s:", path);
	while (flock(fd, how) == -1)
		if (errno != EINTR)
			err_die(EXIT_TEMP, "unable to lock %s:", path);
	return fd;
}

static void
append(const char *path, const char *line, size_t len)
{
	int fd;

	/* One write with O_APPEND: lines of several writers never mix. */
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) == -1) {
		err_warn("unable to open %s:", path);
		return;
	}
	if (write(fd, line, len) != (ssize_t)len)
		err_warn("unable to append to %s:", path);
	close(fd);
}

/* One event line: printed, in our log and in the agent's event log. */
static void
event(const struct role *r, const char *what, const char *state, int rc)
{
	char *line = NULL;
	size_t len = 0;
	struct timeval tv;
	const char *reason = getenv("HA_REASON"), *master = getenv("HA_MASTER");
	FILE *f;

	gettimeofday(&tv, NULL);
	if ((f = open_memstream(&line, &len)) == NULL)
		return;
	fprintf(f, "time=%ld.%06ld", (long)tv.tv_sec, (long)tv.tv_usec);
	kv_fput(f, 0, "event", what);
	kv_fput(f, 0, "subject", r->host);
	kv_fput(f, 0, "cluster", r->cluster);
	kv_fput(f, 0, "state", state);
	kv_fput(f, 0, "reason", reason ? reason : "");
	kv_fput(f, 0, "master", master ? master : "");
	fprintf(f, " rc=%d\n", rc);
	if (fclose(f) == 0)
		emit(line, len);
	free(line);
}

/*
 * Where the prober keeps its state and history: the agent's folder, so
 * that lc-agent serves them, when events go there by default; else ours.
 */
void
probe_dir(char *out, size_t size)
{
	struct stat st;

	if (agent_log == NULL && stat(AGENT_DIR, &st) == 0 && S_ISDIR(st.st_mode))
		snprintf(out, size, "%s", AGENT_DIR);
	else
		snprintf(out, size, "%s/probe", statedir);
}

void
emit(const char *line, size_t len)
{
	char path[PATH_MAX];
	struct stat st;

	if (!opt_q) {
		fputs(line, stdout);
		fflush(stdout);
	}
	snprintf(path, sizeof path, "%s/events", statedir);
	append(path, line, len);
	/* The agent's log, when there is one: lc-agent serves it (nsEventTable). */
	if (agent_log == NULL) {
		if (stat(AGENT_DIR, &st) == 0 && S_ISDIR(st.st_mode))
			append(AGENT_DIR "/events", line, len);
	} else if (*agent_log != '\0') {
		append(agent_log, line, len);
	}
}

/*
 * The lc-role role for an ha-beat state: the balancer's on master; on
 * backup too when armed (-a): the table is set up, idle while another
 * host holds the VIPs, so a takeover needs only the VIPs that ha-beat
 * moves itself in real time, not a hook that a loaded machine may run
 * late.
 */
static const char *
want_role(const char *state)
{
	if (strcmp(state, "master") == 0)
		return "lb";
	return opt_armed && strcmp(state, "backup") == 0 ? "lb" : "bs";
}

/* Take the balancer role (master) or give it back (anything else). */
static int
hook(const struct role *r, const char *rolefile, const char *state)
{
	char lcstate[PATH_MAX], rolepath[PATH_MAX], *prev, applied[16];
	const char *argv[16];
	const char *want;
	int argc = 0, rc, fd, balance;

	if (strcmp(state, "master") && strcmp(state, "backup") &&
	    strcmp(state, "fault") && strcmp(state, "stop"))
		err_die(EXIT_BAD, "unknown state %s (master, backup, fault, stop)",
		    state);
	want = want_role(state);
	if (opt_n) {
		printf("state=%s role=%s\n", state, want);
		return 0;
	}
	make_statedir();
	/* ha-beat does not wait for these hooks: one at a time. */
	fd = lock(LOCK_EX);
	/*
	 * ha-beat starts hooks without waiting: two may run out of order.
	 * With its state file, each applies the state of now, so the last
	 * one to run leaves the right role whatever the order.
	 */
	if (hb_state != NULL) {
		char path[PATH_MAX], *now;
		snprintf(path, sizeof path, "%s/state", hb_state);
		if ((now = atomic_read(path, 64, NULL)) != NULL) {
			now[strcspn(now, "\n")] = '\0';
			if (strcmp(now, "master") == 0 || strcmp(now, "backup") == 0 ||
			    strcmp(now, "fault") == 0 || strcmp(now, "stop") == 0) {
				if (strcmp(now, state) != 0)
					err_info("hook for %s runs late: applying %s",
					    state, now);
				want = want_role(now);
				snprintf(applied, sizeof applied, "%s", now);
				state = applied;
			}
			free(now);
		}
	}
	snprintf(lcstate, sizeof lcstate, "%s/lc-role", statedir);
	snprintf(rolepath, sizeof rolepath, "%s/role", statedir);
	prev = atomic_read(rolepath, 64, NULL);
	if (prev != NULL)
		prev[strcspn(prev, "\n")] = '\0';
	balance = strcmp(state, "master") == 0;
	/* The prober of the last takeover goes before the table changes. */
	follow_stop();
	argv[argc++] = lc_role_path();
	argv[argc++] = "-q";
	argv[argc++] = "-A";
	if (opt_dp != NULL) {
		argv[argc++] = "-d";
		argv[argc++] = opt_dp;
	}
	argv[argc++] = "-r";
	argv[argc++] = want;
	argv[argc++] = "-s";
	argv[argc++] = lcstate;
	argv[argc++] = "apply";
	argv[argc++] = "-f";
	argv[argc++] = rolefile;
	argv[argc] = NULL;
	rc = run(argv);
	if (rc == 0 && balance)
		follow_start(r, rolefile);
	/* What this host does now: balance (lb), or not (bs). */
	if (rc == 0 && atomic_write_str(rolepath, balance ? "lb\n" : "bs\n",
	    0644) == -1)
		err_warn("unable to write %s:", rolepath);
	if (balance)
		event(r, rc == 0 ? "takeover" : "takeover-failed", state, rc);
	else if (prev != NULL && strcmp(prev, "lb") == 0)
		event(r, rc == 0 ? "giveback" : "giveback-failed", state, rc);
	else
		event(r, rc == 0 ? "standby" : "standby-failed", state, rc);
	free(prev);
	close(fd);
	return rc == 0 ? EXIT_OK : rc == EXIT_BAD ? EXIT_BAD : EXIT_TEMP;
}

/*
 * ha-beat health check: no backup's judge has demoted this host, and a
 * master's table is what lc-role set up.
 */
static int
check(void)
{
	char lcstate[PATH_MAX], why[128];
	const char *argv[8];
	const char *st = getenv("HA_STATE");
	int rc, fd;

	/* Whatever the state: a demoted master must not be elected again. */
	if (demoted(why, sizeof why)) {
		if (!opt_q)
			err_warn("%s", why);
		return EXIT_NO;
	}
	if (st == NULL || strcmp(st, "master") != 0 || opt_noself)
		return EXIT_OK;
	make_statedir();
	fd = lock(LOCK_SH);
	snprintf(lcstate, sizeof lcstate, "%s/lc-role", statedir);
	argv[0] = lc_role_path();
	argv[1] = opt_q ? "-q" : "-v";
	argv[2] = "-s";
	argv[3] = lcstate;
	argv[4] = "check";
	argv[5] = NULL;
	rc = run(argv);
	close(fd);
	return rc;
}

static long
num(const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < lo || v > hi)
		err_die(EXIT_BAD, "bad number %s (%ld-%ld)", s, lo, hi);
	return v;
}

int
main(int argc, char **argv)
{
	struct role r;
	char why[512], *end;
	const char *cmd;
	int c, rc;

	err_init(argv[0]);
	while ((c = getopt(argc, argv, "ac:D:d:e:F:f:GH:i:k:nP:p:qR:Ss:T:t:vVw:")) != -1) {
		switch (c) {
		case 'a': opt_armed = 1; break;
		case 'c': opt_creds = optarg; break;
		case 'D': holddown_ms = num(optarg, 0, 3600000); break;
		case 'F': opt_fall = (unsigned)num(optarg, 1, 100); break;
		case 'G': opt_nogiveback = 1; break;
		case 'P': probe_ms = num(optarg, 10, 3600000); break;
		case 'p': opt_port = (unsigned)num(optarg, 1, 65535); break;
		case 'R': opt_rise = (unsigned)num(optarg, 1, 100); break;
		case 'S': opt_noself = 1; break;
		case 'T': watch_ms = num(optarg, 10, 60000); break;
		case 'w': timeout_ms = num(optarg, 1, 60000); break;
		case 'H': hb_state = optarg; break;
		case 'e': agent_log = optarg; break;
		case 'd': opt_dp = optarg; break;
		case 'f': opt_file = optarg; break;
		case 'i': opt_if = optarg; break;
		case 'k': opt_key = optarg; break;
		case 'n': opt_n = 1; break;
		case 'q': opt_q = 1; break;
		case 's': statedir = optarg; break;
		case 't':
			interval_ms = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || interval_ms < 1 ||
			    interval_ms > 60000)
				usage();
			break;
		case 'v': err_verbose++; break;
		case 'V': puts("lb-watch " VERSION); return 0;
		default: usage();
		}
	}
	if (optind >= argc || opt_file == NULL)
		usage();
	cmd = argv[optind++];
	if (strcmp(cmd, "hook") == 0 ? argc - optind != 1 : argc != optind)
		usage();
	if (strcmp(cmd, "hook") == 0)
		hook_opts_read();
	if (opt_creds != NULL && access(opt_creds, R_OK) == -1)
		err_die(errno == ENOENT ? EXIT_BAD : EXIT_TEMP, "%s:", opt_creds);
	if (opt_dp != NULL && strcmp(opt_dp, "nft") && strcmp(opt_dp, "ipvs"))
		err_die(EXIT_BAD, "unknown dataplane %s (nft or ipvs)", opt_dp);
	if (strcmp(cmd, "conf") && strcmp(cmd, "hook") && strcmp(cmd, "check") &&
	    strcmp(cmd, "watch"))
		usage();
	if (role_read(opt_file, &r, why, sizeof why) == -1)
		err_die(errno == EINVAL || errno == ENOENT ? EXIT_BAD : EXIT_TEMP,
		    "%s: %s", opt_file, why);
	if (r.kind != ROLE_LB && r.kind != ROLE_BS)
		err_die(EXIT_BAD, "%s: this host is %s: lb-watch runs on the "
		    "balancer and its backup servers", opt_file, role_kind_name(r.kind));
	if (strcmp(cmd, "conf") == 0)
		rc = conf(&r, opt_file);
	else if (strcmp(cmd, "hook") == 0)
		rc = hook(&r, opt_file, argv[optind]);
	else if (strcmp(cmd, "watch") == 0)
		rc = watch(&r);
	else
		rc = check();
	role_free(&r);
	err_check_stdout();
	return rc;
}
