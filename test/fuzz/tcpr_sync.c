/*
 * libFuzzer target for tcpr-sync's datagram parser. Each input is parsed
 * as it is (almost always a bad MAC) and again sealed with the right MAC,
 * so the fuzzer reaches the header and record checks behind it; packed
 * entries that pass are applied to a stored session. The input also
 * drives a round trip of one packed entry: encoded from an acknowledged
 * state, applied to any stored state between that and the new one, it
 * must give the new state exactly.
 */
#include <sys/socket.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "be.h"
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void
round_trip(const uint8_t *d)
{
	struct packed e, g;
	struct tcpr_sess s, u;
	uint64_t base[4], cur[4], at[4];
	unsigned char buf[PK_ENTRY_MAX];
	const char *why;
	size_t n;
	int i;

	memset(&s, 0, sizeof s);
	memset(&e, 0, sizeof e);
	for (i = 0; i < 4; i++) {
		uint64_t b = get64(d + 8 * i) >> 3, dist = get64(d + 32 + 8 * i);
		int sh = d[64 + i] & 63;

		/* a forward distance of any size below 2^31 (the limit) */
		dist = (dist >> sh) & ((1ull << 31) - 1);
		if (i == 3) {
			base[i] = (uint32_t)b;
			cur[i] = (uint32_t)(base[i] + dist);
			at[i] = (uint32_t)(base[i] + dist / 2);
		} else {
			base[i] = b;
			cur[i] = b + dist;
			at[i] = b + (dist >> (d[68] & 31));
		}
		e.v[i] = cur[i];
		if (cur[i] != base[i])
			e.mask |= (uint8_t)(PK_RCV << i);
	}
	e.sid = 1 + (d[69] & 0x7f);
	e.mask |= PK_WND;
	e.wnd = (uint16_t)(d[70] << 8 | d[71]);
	n = pack_entry(buf, 0, &e, base);
	if (n > PK_ENTRY_MAX)
		abort();
	if (pack_next(buf, n, 0, &g, &why) != (int)n || g.sid != e.sid)
		abort();
	s.sid = e.sid;
	s.rcv = at[0];
	s.snd_una = at[1];
	s.snd_nxt = at[2];
	s.tsval = (uint32_t)at[3];
	pack_apply(&s, &g, &u);
	if (u.rcv != cur[0] || u.snd_una != cur[1] || u.snd_nxt != cur[2] ||
	    u.tsval != (uint32_t)cur[3] || u.snd_wnd != e.wnd)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct auth_key key = { .len = 32 };
	static unsigned char buf[SYNC_MAXDGRAM + 64];
	struct dgram d;
	const char *why;
	size_t off;

	if (size >= 72)
		round_trip(data);
	(void)dgram_parse(data, size, &key, &d, &why);
	if (size > SYNC_MAXDGRAM + 16)
		return 0;
	memcpy(buf, data, size);
	auth_mac(&key, buf, size, buf + size);
	if (dgram_parse(buf, size + AUTH_MACLEN, &key, &d, &why) != 0)
		return 0;
	if (d.payload != buf + SYNC_HDR || d.len + SYNC_HDR != size)
		abort();
	if (d.type != SYNC_DATA && d.type != SYNC_ACK)
		abort();
	for (off = 0; d.type == SYNC_DATA && off < d.len;) {
		const unsigned char *p = d.payload + off;
		size_t blen = be_get16(p + 2), o;
		uint32_t sid = 0;

		if (p[1] != SYNC_PACKED) {
			off += blen;
			continue;
		}
		for (o = TCPR_REC_HDR_LEN; o < blen;) {
			struct packed e;
			struct tcpr_sess s = { .sid = 1, .family = AF_INET,
			    .flags = TCPR_F_TS | TCPR_F_WSCALE, .snd_wscale = 7,
			    .mss = 1448, .lport = 7, .pport = 9,
			    .laddr = { 192, 0, 2, 1 }, .paddr = { 192, 0, 2, 2 },
			    .rcv = 1000, .snd_una = 500, .snd_nxt = 600,
			    .tsval = 77 }, u;
			int r = pack_next(p + o, blen - o, sid, &e, &why);

			if (r <= 0)
				abort();	/* dgram_parse passed it */
			o += (size_t)r;
			sid = e.sid;
			s.sid = e.sid;
			pack_apply(&s, &e, &u);
			if (u.rcv < s.rcv || u.snd_una < s.snd_una ||
			    u.snd_nxt < s.snd_nxt)
				abort();
			(void)tcpr_sess_update(&s, &u, &why);
		}
		off += blen;
	}
	return 0;
}
