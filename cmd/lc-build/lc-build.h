/* lc-build internals shared by its files (not a library). */
#ifndef LC_BUILD_H
#define LC_BUILD_H

#include <stdio.h>

#include "cluster.h"
#include "dir.h"

struct opts {
	struct dir_opts dir;
	const char *folder;	/* -o: role files */
	const char *keyfile;	/* -k: export/import HMAC key */
	const char *creds;	/* -a: SNMPv3 credentials for the push */
	unsigned push_ms;	/* -t, or 1000: each push try */
	int json, dryrun, quiet;
};

extern struct opts opt;

/* Connect as the options say; dies on failure. */
struct dir *connect_dir(void);
/* Die with the exit code a cl_err calls for. */
void die_err(const struct cl_err *e) __attribute__((noreturn));

int cmd_init(int argc, char **argv);
int cmd_whoami(int argc, char **argv);
int cmd_host(int argc, char **argv);
int cmd_cluster(int argc, char **argv);
int cmd_admin(int argc, char **argv);

/* Output: text key=value lines for people and shell, -j JSON lines. */
void out_begin(void);
void out_str(const char *key, const char *val);
void out_num(const char *key, long val);
void out_bool(const char *key, int val);
void out_list(const char *key, char *const *vals, size_t n);
void out_end(void);

/* Split "key=value" in place; NULL when there is no '='. */
char *split_kv(char *arg);

#endif
