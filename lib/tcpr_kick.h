/*
 * Make the peer of a restored session resend at once what it sent while
 * nobody answered, instead of when its backed-off retransmission timer
 * runs out. Two levers a Linux (or any RFC-following) peer honours:
 *  - an ICMP host unreachable (ICMPv6 no route) quoting the peer's oldest
 *    unacknowledged segment: RFC 6069 reverts one step of the timer's
 *    back-off per message, and retransmits at once when the reverted
 *    timer has run out (only after the peer retransmitted at least once);
 *  - duplicate ACKs at our rcv_nxt: fast retransmit after three (only for
 *    peers without SACK: a SACK peer counts none without SACK blocks; and
 *    only with four segments or more outstanding: a peer counts no more
 *    duplicates than it has segments in flight).
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

/*
 * Our packets carry this mark, so that a traffic lock (the hook's DROP
 * rules for the service) can let them pass: CRIU's value.
 */
#define TCPR_KICK_MARK 0xc114

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

/*
 * Learning the peer's position: a probe is an ACK just below the peer's
 * window (seq one below our snd_una), which the peer answers at once with
 * a bare ACK carrying its snd_nxt (seq) and rcv_nxt (ack). tsval as for
 * tcpr_kick, tsecr the peer's latest timestamp. 0, or -1 with errno.
 */
int tcpr_probe(const struct tcpr_kick *k, const struct tcpr_sess *s,
    uint32_t snd_una, uint32_t rcv_nxt, uint32_t tsval);

/* A TCP segment's addresses, ports, numbers and flags. */
struct tcpr_seg {
	uint8_t family;
	uint8_t flags;		/* TCP flags: 0x10 ACK, 0x04 RST, ... */
	uint16_t sport, dport;
	unsigned char saddr[16], daddr[16];	/* IPv4 in the first 4 */
	uint32_t seq, ack;
};

/*
 * Parse a network-layer packet (IPv4 or IPv6, no link header: what an
 * AF_PACKET SOCK_DGRAM socket reads) carrying TCP. IPv6 extension headers
 * are not followed. 0, or -1 with errno EINVAL (not TCP, truncated,
 * malformed).
 */
int tcpr_seg_parse(const void *pkt, size_t len, struct tcpr_seg *g);

/* A non-blocking AF_PACKET socket that sees every packet (the replies to
 * probes, before any firewall rule). -1 with errno on failure. */
int tcpr_probe_listen(void);

#endif
