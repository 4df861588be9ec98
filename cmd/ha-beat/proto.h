/*
 * The ha-beat wire format: one UDP datagram per heartbeat, authenticated
 * with HMAC-SHA256 over every byte before the MAC. Version 1, 156 bytes:
 *
 *   0  magic "NSHB"      4  version (1)   5  type (1 advert, 2 resign)
 *   6  state (0 backup, 1 master, 2 fault)  7  priority (1..255)
 *   8  group name, 32 bytes NUL-padded
 *  40  node name, 32 bytes NUL-padded
 *  72  epoch (u64, sender's start time in ns)  80  seq (u64)
 *  88  interval in ms (u16)  90  live count (u8)  91  group size (u8)
 *  92  the node the sender takes as master, 32 bytes NUL-padded; empty: none
 * 124  HMAC-SHA256 (32 bytes)
 * Integers are big-endian.
 */
#ifndef HA_BEAT_PROTO_H
#define HA_BEAT_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"

#define HB_VERSION 1
#define HB_LEN 156
#define HB_NAMELEN 32		/* bytes on the wire; names up to 31 chars */

enum hb_type { HB_ADVERT = 1, HB_RESIGN = 2 };
enum hb_state { HB_BACKUP = 0, HB_MASTER = 1, HB_FAULT = 2 };

struct hb_msg {
	uint8_t type;
	uint8_t state;
	uint8_t priority;
	char group[HB_NAMELEN];
	char node[HB_NAMELEN];
	uint64_t epoch;
	uint64_t seq;
	uint16_t interval_ms;
	uint8_t live;
	uint8_t size;
	char master[HB_NAMELEN];	/* may be empty */
};

enum hb_err {
	HB_OK = 0,
	HB_ESHORT,	/* wrong length */
	HB_EMAGIC,	/* not ours */
	HB_EVERSION,	/* unknown version */
	HB_EFIELD,	/* a field out of range or a name not NUL-terminated */
	HB_EMAC,	/* authentication failed */
};

/* Encode m into buf[HB_LEN] with its MAC. */
void hb_encode(const struct hb_msg *m, const struct auth_key *key,
    unsigned char buf[HB_LEN]);
/* Check and decode len bytes of buf; the MAC is checked last. */
enum hb_err hb_decode(const unsigned char *buf, size_t len,
    const struct auth_key *key, struct hb_msg *m);
const char *hb_strerr(enum hb_err e);

#endif
