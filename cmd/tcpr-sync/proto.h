/*
 * tcpr-sync datagrams (UDP), all big-endian:
 *   0 version (1)  1 type (1 data, 2 ack)  2 reserved (2, zero)
 *   4 epoch (8): the sender's start time, grows across restarts
 *  12 seq (8): the sender's datagram number within its epoch, from 1
 *  20 payload: data: whole tcpr-records(5); ack: the acknowledged
 *     sender's epoch (8), the highest seq received (8), a bitmap of the
 *     64 seqs up to it (8, bit i: top - i received and stored)
 *  .. HMAC-SHA256 of everything before it (32)
 */
#ifndef TCPR_SYNC_PROTO_H
#define TCPR_SYNC_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"

#define SYNC_VERSION 1
#define SYNC_DATA 1
#define SYNC_ACK 2
#define SYNC_HDR 20
#define SYNC_ACKLEN 24
#define SYNC_MAXPAYLOAD 1400
#define SYNC_MAXDGRAM (SYNC_HDR + SYNC_MAXPAYLOAD + AUTH_MACLEN)

struct dgram {
	int type;
	uint64_t epoch, seq;
	const unsigned char *payload;	/* points into the buffer */
	size_t len;
	/* ack */
	uint64_t ack_epoch, ack_top, ack_bits;
};

/*
 * Check and split one datagram: version, type, reserved bits, length,
 * MAC, and for data every record in it (tcpr_rec_decode). Returns 0, or
 * -1 with *why. Anti-replay is the caller's (auth_replay_check).
 */
int dgram_parse(const unsigned char *buf, size_t len,
    const struct auth_key *key, struct dgram *d, const char **why);
/* Header at buf, payload already at buf + SYNC_HDR, MAC appended. */
size_t dgram_seal(unsigned char *buf, int type, uint64_t epoch, uint64_t seq,
    size_t plen, const struct auth_key *key);

#endif
