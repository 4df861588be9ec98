/*
 * lc-build: keep the cluster directory in LDAP (hosts, clusters,
 * administrators) and build clusters from it: validate, plan, apply
 * (role files, then the directory), dissolve, export and import.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ldap.h>

#include "err.h"
#include "lc-build.h"

struct opts opt;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: lc-build [-jnqvV] [-a credentials] [-b base] "
	    "[-D binddn -y passfile] [-H uri] [-k keyfile] [-o folder] [-t ms] "
	    "command [operand ...]\n");
	exit(EXIT_BAD);
}

struct dir *
connect_dir(void)
{
	char msg[512];
	int rc;
	struct dir *d = dir_open(&opt.dir, msg, sizeof(msg), &rc);

	if (!d)
		err_die(dir_temporary(rc) ? EXIT_TEMP : EXIT_BAD, "%s", msg);
	err_debug("bound to %s as %s, base %s", opt.dir.uri ? opt.dir.uri : "(ldap.conf)",
	    opt.dir.binddn ? opt.dir.binddn : "SASL EXTERNAL", dir_base(d));
	return d;
}

void
die_err(const struct cl_err *e)
{
	if (e->rule[0] && strcmp(e->rule, "not-found") == 0)
		err_die(EXIT_NO, "%s", e->msg);	/* show, delete */
	if (e->rule[0] && strcmp(e->rule, "input") != 0 && strcmp(e->rule, "archive") != 0)
		err_die(EXIT_BAD, "rule %s: %s", e->rule, e->msg);
	if (e->rule[0])
		err_die(EXIT_BAD, "%s", e->msg);
	err_die(e->ldaprc && dir_temporary(e->ldaprc) ? EXIT_TEMP : EXIT_BAD, "%s", e->msg);
}

int
cmd_init(int argc, char **argv)
{
	struct cl_err e;
	struct dir *d;
	int made;

	if (argc != 1)
		usage();
	d = connect_dir();
	if (opt.dryrun) {
		dir_close(d);
		return 0;
	}
	if (cl_dir_init(d, &made, &e) < 0)
		die_err(&e);
	out_begin();
	out_str("base", dir_base(d));
	out_num("made", made);
	out_end();
	dir_close(d);
	return 0;
}

int
cmd_whoami(int argc, char **argv)
{
	struct dir *d;
	char *who;

	if (argc != 1)
		usage();
	d = connect_dir();
	if (!(who = dir_whoami(d)))
		err_die(dir_temporary(dir_errcode(d)) ? EXIT_TEMP : EXIT_BAD, "%s",
		    dir_errmsg(d));
	out_begin();
	out_str("id", who);
	out_str("base", dir_base(d));
	out_end();
	free(who);
	dir_close(d);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(int, char **);
} cmds[] = {
	{ "init", cmd_init },
	{ "whoami", cmd_whoami },
	{ "host", cmd_host },
	{ "cluster", cmd_cluster },
	{ "admin", cmd_admin },
};

int
main(int argc, char **argv)
{
	long t;
	size_t i;
	int c, rc;

	err_init(argv[0]);
	while ((c = getopt(argc, argv, "a:b:D:H:jk:no:qt:vVy:")) != -1) {
		switch (c) {
		case 'a': opt.creds = optarg; break;
		case 'b': opt.dir.base = optarg; break;
		case 'D': opt.dir.binddn = optarg; break;
		case 'H': opt.dir.uri = optarg; break;
		case 'j': opt.json = 1; break;
		case 'k': opt.keyfile = optarg; break;
		case 'n': opt.dryrun = 1; break;
		case 'o': opt.folder = optarg; break;
		case 'q': opt.quiet = 1; break;
		case 't':
			errno = 0;
			t = strtol(optarg, NULL, 10);
			if (errno || t < 1 || t > 3600000)
				err_die(EXIT_BAD, "bad timeout %s (ms)", optarg);
			opt.dir.timeout_ms = (int)t;
			opt.push_ms = (unsigned)t;
			break;
		case 'v': err_verbose++; break;
		case 'V': puts("lc-build " VERSION); return 0;
		case 'y': opt.dir.pwfile = optarg; break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	if ((opt.dir.binddn == NULL) != (opt.dir.pwfile == NULL))
		err_die(EXIT_BAD, "-D and -y go together");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[0], cmds[i].name) == 0) {
			rc = cmds[i].fn(argc, argv);
			err_check_stdout();
			return rc;
		}
	err_die(EXIT_BAD, "unknown command %s (init whoami host cluster admin)", argv[0]);
}
