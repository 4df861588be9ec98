/*
 * Role files (nonstop-role(5)): what one host of a load cluster is and
 * the cluster it belongs to, written by lc-build and read by lc-role,
 * lc-agent, rs-probe and lb-watch. role_read validates everything; a
 * file it accepts is complete and consistent.
 */
#ifndef NONSTOP_ROLE_H
#define NONSTOP_ROLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"

enum role_kind { ROLE_NONE, ROLE_LB, ROLE_BS, ROLE_RS };
enum role_sched { SCHED_RR, SCHED_WRR, SCHED_LC, SCHED_WLC };

#define ROLE_NAMELEN 64
#define ROLE_WEIGHT_MAX 65535

struct role_svc {
	char name[ROLE_NAMELEN];
	struct addr vip;
	uint16_t port;
	int proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	enum role_sched sched;
};

struct role_host {
	char name[ROLE_NAMELEN];
	struct addr addr;
	uint16_t port;		/* rs: 0 = the service's port; agent: its port */
	int order;		/* bs: 1 = primary */
	int weight;		/* rs */
};

struct role {
	enum role_kind kind;
	char host[ROLE_NAMELEN];
	char cluster[ROLE_NAMELEN];
	unsigned long generation;
	struct role_svc *svc;
	size_t nsvc;
	struct role_host lb;
	int has_lb;
	struct role_host *bs;	/* sorted by order */
	size_t nbs;
	struct role_host *rs;
	size_t nrs;
	struct role_host *agent;
	size_t nagent;
};

/*
 * Read and validate a role file (path "-" is stdin). Returns 0, or -1:
 * errno EINVAL with why (size whylen) naming the line and the problem,
 * or another errno when the file cannot be read (why says so too).
 */
int role_read(const char *path, struct role *r, char *why, size_t whylen);
/* The same from a NUL-terminated buffer. */
int role_parse(const char *text, struct role *r, char *why, size_t whylen);
void role_free(struct role *r);

const char *role_kind_name(enum role_kind k);
/* ROLE_* for "lb", "bs", "rs", "none"; -1 otherwise. */
int role_kind_parse(const char *s);
const char *role_sched_name(enum role_sched s);
const char *role_proto_name(int proto);
/* The real server named name, or NULL. */
struct role_host *role_rs(const struct role *r, const char *name);

#endif
