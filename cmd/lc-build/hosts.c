/* lc-build host ... and admin ...: directory entries for hosts and administrators. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "err.h"
#include "lc-build.h"

static void __attribute__((noreturn))
host_usage(void)
{
	err_die(EXIT_BAD, "usage: host add|change NAME key=value ... | host delete|show NAME | "
	    "host list | host load [FILE]");
}

static int
host_print(const struct cl_host *h, void *arg)
{
	char *roles[CL_NROLES];
	size_t n = 0;
	int r;

	(void)arg;
	for (r = CL_LB; r < CL_NROLES; r++)
		if (h->potential & (1u << r))
			roles[n++] = (char *)(uintptr_t)cl_role_name(r);
	out_begin();
	out_str("host", h->name);
	out_list("addr", h->addr, h->naddr);
	if (h->weight >= 0)
		out_num("weight", h->weight);
	out_list("roles", roles, n);
	out_str("status", cl_role_name(h->status));
	out_str("in", h->status_cluster);
	if (h->agent)
		out_num("agent", h->agent);
	out_str("cpu", h->cpu);
	if (h->mem >= 0)
		out_num("mem", h->mem);
	out_str("nic", h->nic);
	out_str("descr", h->descr);
	out_end();
	return ferror(stdout) ? -1 : 0;
}

/* Apply key=value operands; secret=FILE gives a hashed password. */
static char *
host_operands(struct cl_host *h, int argc, char **argv)
{
	struct cl_err e;
	char *pw = NULL, *v;
	int i;

	for (i = 0; i < argc; i++) {
		if (!(v = split_kv(argv[i])))
			err_die(EXIT_BAD, "operand %s: want key=value", argv[i]);
		if (strcmp(argv[i], "secret") == 0) {
			free(pw);
			if (!(pw = cl_ssha_file(v, &e)))
				die_err(&e);
		} else if (cl_host_set(h, argv[i], v, &e) < 0)
			die_err(&e);
	}
	return pw;
}

int
cmd_host(int argc, char **argv)
{
	struct cl_err e;
	struct cl_host h;
	struct dir *d;
	const char *sub;
	char *pw;
	int x;

	if (argc < 2)
		host_usage();
	sub = argv[1];
	if (strcmp(sub, "list") == 0) {
		if (argc != 2)
			host_usage();
		d = connect_dir();
		if (cl_dir_hosts_each(d, host_print, NULL, &e) < 0)
			die_err(&e);
		dir_close(d);
		return 0;
	}
	if (strcmp(sub, "load") == 0) {
		char *text;
		size_t len;
		long n;
		if (argc > 3)
			host_usage();
		if (!(text = atomic_read(argc == 3 ? argv[2] : "/dev/stdin", 1u << 30, &len)))
			err_die(EXIT_BAD, "unable to read %s:", argc == 3 ? argv[2] : "stdin");
		if (opt.dryrun) {
			if ((n = cl_ldif_check(text, len, &e)) < 0)
				die_err(&e);
			free(text);
			out_begin();
			out_num("checked", n);
			out_end();
			return 0;
		}
		d = connect_dir();
		if ((n = cl_dir_hosts_load(d, text, len, 64, &e)) < 0)
			die_err(&e);
		free(text);
		out_begin();
		out_num("loaded", n);
		out_end();
		dir_close(d);
		return 0;
	}
	if (argc < 3)
		host_usage();
	memset(&h, 0, sizeof(h));
	if (strcmp(sub, "add") == 0) {
		h.mem = h.weight = -1;
		if (!(h.name = strdup(argv[2])))
			err_die(EXIT_TEMP, "out of memory");
		pw = host_operands(&h, argc - 3, argv + 3);
		d = connect_dir();
		if (!opt.dryrun && cl_dir_host_put(d, &h, 1, pw, &e) < 0)
			die_err(&e);
	} else if (strcmp(sub, "change") == 0) {
		d = connect_dir();
		if ((x = cl_dir_host_get(d, argv[2], &h, &e)) <= 0) {
			if (x < 0)
				die_err(&e);
			err_die(EXIT_BAD, "no host %s", argv[2]);
		}
		pw = host_operands(&h, argc - 3, argv + 3);
		if (cl_dir_host_check(d, &h, &e) < 0)
			die_err(&e);
		if (!opt.dryrun && cl_dir_host_put(d, &h, 0, pw, &e) < 0)
			die_err(&e);
	} else if (strcmp(sub, "delete") == 0 || strcmp(sub, "show") == 0) {
		if (argc != 3)
			host_usage();
		d = connect_dir();
		if ((x = cl_dir_host_get(d, argv[2], &h, &e)) <= 0) {
			if (x < 0)
				die_err(&e);
			err_die(EXIT_NO, "no host %s", argv[2]);
		}
		if (sub[0] == 's')
			host_print(&h, NULL);
		else if (!opt.dryrun && cl_dir_host_delete(d, argv[2], &e) < 0)
			die_err(&e);
		pw = NULL;
	} else
		host_usage();
	if (pw)
		explicit_bzero(pw, strlen(pw));
	free(pw);
	cl_host_free(&h);
	dir_close(d);
	return 0;
}

static void __attribute__((noreturn))
admin_usage(void)
{
	err_die(EXIT_BAD, "usage: admin add|change ID key=value ... | admin delete|show ID | "
	    "admin list");
}

static int
admin_print(const struct cl_admin *a, void *arg)
{
	(void)arg;
	out_begin();
	out_str("admin", a->id);
	out_str("name", a->name);
	out_str("descr", a->descr);
	out_end();
	return ferror(stdout) ? -1 : 0;
}

int
cmd_admin(int argc, char **argv)
{
	struct cl_err e;
	struct cl_admin a;
	struct dir *d;
	const char *sub;
	char *pw = NULL, *v;
	int i, x, add;

	if (argc < 2)
		admin_usage();
	sub = argv[1];
	memset(&a, 0, sizeof(a));
	if (strcmp(sub, "list") == 0) {
		if (argc != 2)
			admin_usage();
		d = connect_dir();
		if (cl_dir_admins_each(d, admin_print, NULL, &e) < 0)
			die_err(&e);
		dir_close(d);
		return 0;
	}
	if (argc < 3)
		admin_usage();
	if ((add = strcmp(sub, "add") == 0) || strcmp(sub, "change") == 0) {
		a.id = strdup(argv[2]);
		for (i = 3; i < argc; i++) {
			if (!(v = split_kv(argv[i])))
				err_die(EXIT_BAD, "operand %s: want key=value", argv[i]);
			if (strcmp(argv[i], "name") == 0) {
				free(a.name);
				a.name = strdup(v);
			} else if (strcmp(argv[i], "descr") == 0) {
				free(a.descr);
				a.descr = strdup(v);
			} else if (strcmp(argv[i], "secret") == 0) {
				free(pw);
				if (!(pw = cl_ssha_file(v, &e)))
					die_err(&e);
			} else
				err_die(EXIT_BAD, "admin %s: unknown key %s (name descr secret)",
				    argv[2], argv[i]);
		}
		d = connect_dir();
		if (!add) {
			struct cl_admin cur;
			if ((x = cl_dir_admin_get(d, argv[2], &cur, &e)) <= 0) {
				if (x < 0)
					die_err(&e);
				err_die(EXIT_BAD, "no administrator %s", argv[2]);
			}
			cl_admin_free(&cur);
		}
		if (!opt.dryrun && cl_dir_admin_put(d, &a, add, pw, &e) < 0)
			die_err(&e);
	} else if (strcmp(sub, "show") == 0 || strcmp(sub, "delete") == 0) {
		if (argc != 3)
			admin_usage();
		d = connect_dir();
		if ((x = cl_dir_admin_get(d, argv[2], &a, &e)) <= 0) {
			if (x < 0)
				die_err(&e);
			err_die(EXIT_NO, "no administrator %s", argv[2]);
		}
		if (sub[0] == 's')
			admin_print(&a, NULL);
		else if (!opt.dryrun && cl_dir_admin_delete(d, argv[2], &e) < 0)
			die_err(&e);
	} else
		admin_usage();
	free(pw);
	cl_admin_free(&a);
	dir_close(d);
	return 0;
}
