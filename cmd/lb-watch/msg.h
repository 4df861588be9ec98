/*
 * lb-watch's status datagram between the watchers of one cluster: who is
 * what in ha-beat's election, and a judge's demand that a master which
 * no longer balances step down. Fixed size, HMAC-SHA256 over all of it.
 */
#ifndef LB_WATCH_MSG_H
#define LB_WATCH_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"

#define LW_NAMELEN 32
#define LW_VERSION 1
/* magic 4, version, state, 2 zero, cluster, node, demote, epoch, seq, mac */
#define LW_LEN (8 + 3 * LW_NAMELEN + 16 + AUTH_MACLEN)

enum lw_state { LW_NONE, LW_BACKUP, LW_MASTER, LW_FAULT, LW_STOP, LW_NSTATES };

struct lw_msg {
	int state;			/* enum lw_state */
	char cluster[LW_NAMELEN];	/* NUL-terminated, non-empty */
	char node[LW_NAMELEN];		/* NUL-terminated, non-empty */
	char demote[LW_NAMELEN];	/* "" or the master told to step down */
	uint64_t epoch, seq;
};

enum lw_err { LW_OK, LW_ELEN, LW_EMAGIC, LW_EVERSION, LW_EFIELD, LW_EMAC };

void lw_encode(const struct lw_msg *m, const struct auth_key *key,
    unsigned char buf[LW_LEN]);
/* Strict: every field checked, the MAC last but before anything is used. */
enum lw_err lw_decode(const unsigned char *buf, size_t len,
    const struct auth_key *key, struct lw_msg *m);
const char *lw_state_name(int s);
/* LW_* for an ha-beat state word; LW_NONE for anything else. */
int lw_state_parse(const char *s);

#endif
