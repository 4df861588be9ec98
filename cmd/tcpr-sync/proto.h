/*
 * tcpr-sync datagrams (UDP), all big-endian:
 *   0 version (1)  1 type (1 data, 2 ack)  2 reserved (2, zero)
 *   4 epoch (8): the sender's start time, grows across restarts
 *  12 seq (8): the sender's datagram number within its epoch, from 1
 *  20 payload: data: whole tcpr-records(5) and packed sync blocks
 *     (below); ack: the acknowledged
 *     sender's epoch (8), the highest seq received (8), a bitmap of the
 *     64 seqs up to it (8, bit i: top - i received and stored)
 *  .. HMAC-SHA256 of everything before it (32)
 */
#ifndef TCPR_SYNC_PROTO_H
#define TCPR_SYNC_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "tcpr_rec.h"

#define SYNC_VERSION 1
#define SYNC_DATA 1
#define SYNC_ACK 2
#define SYNC_HDR 20
#define SYNC_ACKLEN 24
#define SYNC_MAXPAYLOAD 1400
#define SYNC_MAXDGRAM (SYNC_HDR + SYNC_MAXPAYLOAD + AUTH_MACLEN)

/*
 * A packed sync block, in data datagrams only: a record header (version
 * 1, type 3, length of the whole block), then entries to its end, by
 * increasing session id:
 *   sid: varint, the difference from the previous entry's (the first:
 *        from 0), never 0
 *   mask (1): PK_RCV, PK_UNA, PK_NXT, PK_TS, PK_WND: the field follows;
 *        PK_FIN_IN, PK_FIN_OUT, PK_END: the flags
 *   rcv, snd_una, snd_nxt: the low 7k bits of the 64-bit offset in a
 *        k-byte varint (k 1-9); the receiver adds to its stored value
 *        the difference of the low bits modulo 2^7k. The sender makes k
 *        big enough for the distance from a state the backup has
 *        acknowledged, so the stored value is never further behind.
 *   tsval: the same modulo 2^32 (k 1-5)
 *   window: varint (1-3 bytes), the TCP header's 16-bit field
 * A missing field is unchanged.
 */
#define SYNC_PACKED 3
#define PK_RCV		0x01
#define PK_UNA		0x02
#define PK_NXT		0x04
#define PK_TS		0x08
#define PK_WND		0x10
#define PK_FIN_IN	0x20
#define PK_FIN_OUT	0x40
#define PK_END		0x80
#define PK_ENTRY_MAX (5 + 1 + 3 * 9 + 5 + 3)

struct packed {
	uint32_t sid;
	uint8_t mask;
	uint8_t k[4];		/* varint bytes of rcv, una, nxt, ts */
	uint64_t v[4];		/* their low bits (or, to encode, full values) */
	uint16_t wnd;
};

/*
 * Encode e (e->v: the whole new values) after the entry of prev_sid;
 * base: the acknowledged state to count the distance from. Returns the
 * length (at most PK_ENTRY_MAX).
 */
size_t pack_entry(unsigned char *p, uint32_t prev_sid, struct packed *e,
    const uint64_t base[4]);
/* The next entry of a block: its length, or -1 with *why. */
int pack_next(const unsigned char *p, size_t len, uint32_t prev_sid,
    struct packed *e, const char **why);
/*
 * The sync record (as tcpr_rec_decode gives one) that e makes of the
 * stored session s.
 */
void pack_apply(const struct tcpr_sess *s, const struct packed *e,
    struct tcpr_sess *u);

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
