/*
 * TCP recovery records: the binary format that tcpr-capture writes,
 * tcpr-sync ships and stores, and tcpr-restore reads (tcpr-records(5)).
 * A full record describes a whole session (sent at handshake, teardown
 * and resync); a sync record updates the moving parts of one session
 * named by its id. All integers are big-endian; every record starts with
 * a 4-byte header: version, type, total length.
 */
#ifndef NONSTOP_TCPR_REC_H
#define NONSTOP_TCPR_REC_H

#include <stddef.h>
#include <stdint.h>

#define TCPR_REC_VERSION 1
#define TCPR_REC_FULL 1
#define TCPR_REC_SYNC 2
#define TCPR_REC_FULL_LEN 100
#define TCPR_REC_SYNC_LEN 40
#define TCPR_REC_HDR_LEN 4
#define TCPR_REC_MAXLEN TCPR_REC_FULL_LEN

/* flags: options agreed at the handshake, and the session's ends */
#define TCPR_F_SACK	0x01	/* SACK permitted both ways */
#define TCPR_F_TS	0x02	/* timestamps in use */
#define TCPR_F_WSCALE	0x04	/* window scaling in use */
#define TCPR_F_FIN_IN	0x08	/* the peer's FIN arrived (rcv counts it) */
#define TCPR_F_FIN_OUT	0x10	/* we sent a FIN (snd_nxt counts it) */
#define TCPR_F_END	0x20	/* session over (closed or reset): forget it */
#define TCPR_F_OPTMASK	(TCPR_F_SACK | TCPR_F_TS | TCPR_F_WSCALE)
#define TCPR_F_ALL	0x3f

/*
 * A session as the decoder hands it out. Stream offsets count payload
 * bytes from the start of each direction (SYN excluded), 64-bit so they
 * never wrap; sequence numbers follow as isn + 1 + offset (+1 after FIN).
 */
struct tcpr_sess {
	uint32_t sid;		/* capture's id for the session, never 0 */
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint8_t flags;		/* TCPR_F_* */
	uint8_t snd_wscale;	/* scale of the peer's window we receive */
	uint8_t rcv_wscale;	/* scale of our window the peer receives */
	uint16_t mss;		/* peer's MSS */
	uint16_t lport, pport;	/* local (service) and peer ports */
	unsigned char laddr[16], paddr[16];	/* IPv4 in the first 4 */
	uint32_t snd_isn;	/* our initial sequence number */
	uint32_t rcv_isn;	/* the peer's */
	uint64_t rcv;		/* input checkpoint: bytes acked to the peer */
	uint64_t snd_una;	/* output the peer acknowledged */
	uint64_t snd_nxt;	/* output written by the application */
	uint32_t tsval;		/* our latest timestamp value sent */
	uint32_t ts_recent;	/* the peer's latest timestamp value */
	uint32_t snd_wnd;	/* peer's window, bytes (unscaled) */
	uint32_t rcv_wnd;	/* our window, bytes */
};

/*
 * Encode s as a full (TCPR_REC_FULL_LEN bytes) or a sync record
 * (TCPR_REC_SYNC_LEN bytes) into buf. Returns the length, or -1 with
 * errno EINVAL (s not valid, see tcpr_sess_check) or ENOSPC.
 */
int tcpr_rec_encode_full(const struct tcpr_sess *s, void *buf, size_t size);
int tcpr_rec_encode_sync(const struct tcpr_sess *s, void *buf, size_t size);

/*
 * Decode one record from buf. Returns its length and sets *type; a full
 * record fills all of *s, a sync one only sid, flags (its FIN and END
 * bits), rcv, snd_una, snd_nxt, tsval and snd_wnd. Returns 0 if buf holds
 * only part of a record (need more bytes), -1 with errno EINVAL
 * (malformed: unknown version or type, wrong length, bad family, address,
 * port, flags or offsets) or EPROTONOSUPPORT (a newer version). *why says
 * what was wrong in words.
 */
int tcpr_rec_decode(const void *buf, size_t len, int *type,
    struct tcpr_sess *s, const char **why);

/* Apply a decoded sync record u to session s with the same sid: -1 EINVAL
 * when offsets would go back or past what the session allows. */
int tcpr_sess_update(struct tcpr_sess *s, const struct tcpr_sess *u,
    const char **why);

/* 0 if s is internally consistent, else -1 EINVAL with *why. */
int tcpr_sess_check(const struct tcpr_sess *s, const char **why);

/* Sequence numbers of a session's next byte in each direction. */
uint32_t tcpr_sess_rcv_nxt(const struct tcpr_sess *s);
uint32_t tcpr_sess_snd_una(const struct tcpr_sess *s);

/*
 * One line of text: "full sid=7 family=inet local=192.0.2.100:7 peer=...".
 * type is TCPR_REC_FULL or TCPR_REC_SYNC (which fields). Returns the
 * length snprintf would have written.
 */
int tcpr_rec_fmt(int type, const struct tcpr_sess *s, char *buf, size_t size);

/*
 * A store key naming the session by its four-tuple, usable as a file
 * name: "4-c0000264-0007-c0000201-a3f2". buf of TCPR_KEYLEN.
 */
#define TCPR_KEYLEN 80
const char *tcpr_sess_key(const struct tcpr_sess *s, char *buf, size_t size);

#endif
