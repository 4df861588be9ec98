/*
 * Make the peer of a restored session resend at once what it sent while
 * nobody answered, instead of when its backed-off retransmission timer
 * runs out. Two levers a Linux (or any RFC-following) peer honours:
 *  - an ICMP host unreachable (ICMPv6 no route) quoting the peer's oldest
 *    unacknowledged segment: RFC 6069 reverts one step of the timer's
 *    back-off per message, and retransmits at once when the reverted
 *    timer has run out (only after the peer retransmitted at least once);
 *  - duplicate ACKs at our rcv_nxt: fast retransmit after three (only for
 *    peers without SACK: a SACK peer counts none without SACK blocks).
 * Both are harmless when nothing is outstanding or the numbers are stale:
 * the peer ignores them. Needs CAP_NET_RAW.
 */
#ifndef NONSTOP_TCPR_KICK_H
#define NONSTOP_TCPR_KICK_H

#include <stdint.h>

#include "tcpr_rec.h"

struct tcpr_kick {
	int icmp4, icmp6, tcp4, tcp6;	/* raw sockets, -1 if not open */
};

/* Open the raw sockets; 0, or -1 with errno when none could be opened. */
int tcpr_kick_open(struct tcpr_kick *k);
void tcpr_kick_close(struct tcpr_kick *k);

/*
 * Kick the peer of restored session s whose socket expects the peer's
 * byte rcv_nxt and sends its next at snd_nxt, its timestamp clock at
 * tsval now (never more than the socket's own: a higher value sent to the
 * peer would make it drop the socket's segments). icmps ICMP messages
 * (one back-off step each) and, for a session without SACK, dupacks
 * duplicate ACKs. Returns the number of packets sent, -1 if none could be.
 */
int tcpr_kick(const struct tcpr_kick *k, const struct tcpr_sess *s,
    uint32_t rcv_nxt, uint32_t snd_nxt, uint32_t tsval, int icmps,
    int dupacks);

#endif
