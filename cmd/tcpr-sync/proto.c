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

static const uint8_t kmax[4] = { 9, 9, 9, 5 };

/* k varint bytes carrying the low 7k bits of v */
static size_t
put_low(unsigned char *p, uint64_t v, unsigned k)
{
	unsigned i;

	for (i = 0; i < k; i++, v >>= 7)
		p[i] = (unsigned char)((v & 0x7f) | (i + 1 < k ? 0x80 : 0));
	return k;
}

static size_t
put_varint(unsigned char *p, uint64_t v)
{
	size_t i = 0;

	while (v >= 0x80) {
		p[i++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[i++] = (unsigned char)v;
	return i;
}

/* -1: runs past len or beyond max bytes */
static int
get_varint(const unsigned char *p, size_t len, unsigned max, uint64_t *v,
    unsigned *k)
{
	unsigned i;

	*v = 0;
	for (i = 0; i < max && i < len; i++) {
		*v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80)) {
			*k = i + 1;
			return 0;
		}
	}
	return -1;
}

size_t
pack_entry(unsigned char *p, uint32_t prev_sid, struct packed *e,
    const uint64_t base[4])
{
	size_t n = put_varint(p, e->sid - prev_sid);
	int i;

	p[n++] = e->mask;
	for (i = 0; i < 4; i++) {
		uint64_t d;
		unsigned k = 1;

		if (!(e->mask & (PK_RCV << i)))
			continue;
		d = i == 3 ? (uint32_t)((uint32_t)e->v[i] - (uint32_t)base[i]) :
		    e->v[i] - base[i];
		while (k < kmax[i] && (d >> (7 * k)) != 0)
			k++;
		e->k[i] = (uint8_t)k;
		n += put_low(p + n, e->v[i], k);
	}
	if (e->mask & PK_WND)
		n += put_varint(p + n, e->wnd);
	return n;
}

int
pack_next(const unsigned char *p, size_t len, uint32_t prev_sid,
    struct packed *e, const char **why)
{
	uint64_t v;
	unsigned k;
	size_t n;
	int i;

	memset(e, 0, sizeof *e);
	if (get_varint(p, len, 5, &v, &k) < 0)
		return bad(why, "packed entry: bad session id");
	if (v == 0 || v > UINT32_MAX - prev_sid)
		return bad(why, "packed entry: session ids not increasing");
	e->sid = prev_sid + (uint32_t)v;
	n = k;
	if (n >= len)
		return bad(why, "packed entry: truncated");
	e->mask = p[n++];
	for (i = 0; i < 4; i++) {
		if (!(e->mask & (PK_RCV << i)))
			continue;
		if (get_varint(p + n, len - n, kmax[i], &e->v[i], &k) < 0)
			return bad(why, "packed entry: bad field");
		if ((i < 3 && e->v[i] >= 1ull << 62) ||
		    (i == 3 && e->v[i] > UINT32_MAX))
			return bad(why, "packed entry: field out of range");
		e->k[i] = (uint8_t)k;
		n += k;
	}
	if (e->mask & PK_WND) {
		if (get_varint(p + n, len - n, 3, &v, &k) < 0 || v > 65535)
			return bad(why, "packed entry: bad window");
		e->wnd = (uint16_t)v;
		n += k;
	}
	return (int)n;
}

void
pack_apply(const struct tcpr_sess *s, const struct packed *e,
    struct tcpr_sess *u)
{
	const uint64_t cur[4] = { s->rcv, s->snd_una, s->snd_nxt, s->tsval };
	uint64_t r[4];
	int i;

	memset(u, 0, sizeof *u);
	for (i = 0; i < 4; i++) {
		uint64_t m = e->k[i] >= 9 ? ~0ull >> 1 :
		    (1ull << (7 * e->k[i])) - 1;

		r[i] = cur[i];
		if (!(e->mask & (PK_RCV << i)))
			continue;
		r[i] = cur[i] + ((e->v[i] - cur[i]) & m);
		if (i == 3)
			r[i] = (uint32_t)r[i];
	}
	u->sid = s->sid;
	u->rcv = r[0];
	u->snd_una = r[1];
	u->snd_nxt = r[2];
	u->tsval = (uint32_t)r[3];
	u->snd_wnd = e->mask & PK_WND ? e->wnd :
	    (s->snd_wnd >> s->snd_wscale > 65535 ? 65535 :
	    s->snd_wnd >> s->snd_wscale);
	u->flags = (uint8_t)((e->mask & PK_FIN_IN ? TCPR_F_FIN_IN : 0) |
	    (e->mask & PK_FIN_OUT ? TCPR_F_FIN_OUT : 0) |
	    (e->mask & PK_END ? TCPR_F_END : 0));
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
			const unsigned char *p = d->payload + off;
			int type, r;

			if (plen - off >= TCPR_REC_HDR_LEN &&
			    p[0] == TCPR_REC_VERSION && p[1] == SYNC_PACKED) {
				size_t blen = be_get16(p + 2), o;
				uint32_t sid = 0;

				if (blen <= TCPR_REC_HDR_LEN || blen > plen - off)
					return bad(why, "packed block of bad length");
				for (o = TCPR_REC_HDR_LEN; o < blen;) {
					struct packed e;
					int n = pack_next(p + o, blen - o, sid, &e, why);

					if (n < 0)
						return -1;
					sid = e.sid;
					o += (size_t)n;
				}
				off += blen;
				continue;
			}
			r = tcpr_rec_decode(p, plen - off, &type, &s, why);
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
