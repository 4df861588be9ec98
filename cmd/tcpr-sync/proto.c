/* tcpr-sync datagrams: build and check. */
#include <string.h>

#include "be.h"
#include "proto.h"
#include "tcpr_rec.h"

size_t
dgram_seal(unsigned char *buf, int type, uint64_t epoch, uint64_t seq,
    size_t plen, const struct auth_key *key)
{
	buf[0] = SYNC_VERSION;
	buf[1] = (unsigned char)type;
	buf[2] = buf[3] = 0;
	be_put64(buf + 4, epoch);
	be_put64(buf + 12, seq);
	auth_mac(key, buf, SYNC_HDR + plen, buf + SYNC_HDR + plen);
	return SYNC_HDR + plen + AUTH_MACLEN;
}

static int
bad(const char **why, const char *msg)
{
	*why = msg;
	return -1;
}

int
dgram_parse(const unsigned char *buf, size_t len, const struct auth_key *key,
    struct dgram *d, const char **why)
{
	size_t plen, off;

	d->type = 0;
	if (len < SYNC_HDR + AUTH_MACLEN)
		return bad(why, "datagram too short");
	if (len > SYNC_MAXDGRAM)
		return bad(why, "datagram too long");
	plen = len - SYNC_HDR - AUTH_MACLEN;
	/* MAC first: nothing of a forged datagram is looked at further. */
	if (!auth_verify(key, buf, SYNC_HDR + plen, buf + SYNC_HDR + plen))
		return bad(why, "bad MAC");
	if (buf[0] != SYNC_VERSION)
		return bad(why, "unknown version");
	if (buf[2] || buf[3])
		return bad(why, "reserved bits set");
	memset(d, 0, sizeof *d);
	d->type = buf[1];
	d->epoch = be_get64(buf + 4);
	d->seq = be_get64(buf + 12);
	d->payload = buf + SYNC_HDR;
	d->len = plen;
	if (d->epoch == 0 || d->seq == 0)
		return bad(why, "epoch or sequence number 0");
	switch (d->type) {
	case SYNC_ACK:
		if (plen != SYNC_ACKLEN)
			return bad(why, "ack of wrong length");
		d->ack_epoch = be_get64(d->payload);
		d->ack_top = be_get64(d->payload + 8);
		d->ack_bits = be_get64(d->payload + 16);
		return 0;
	case SYNC_DATA:
		for (off = 0; off < plen;) {
			struct tcpr_sess s;
			int type, r = tcpr_rec_decode(d->payload + off, plen - off,
			    &type, &s, why);

			if (r < 0)
				return -1;
			if (r == 0)
				return bad(why, "truncated record");
			off += (size_t)r;
		}
		return 0;
	default:
		return bad(why, "unknown type");
	}
}
