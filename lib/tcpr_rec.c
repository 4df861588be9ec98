/* TCP recovery records: encode, decode with strict validation, print. */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "be.h"
#include "tcpr_rec.h"

/*
 * Full record layout (offsets in bytes):
 *  0 version  1 type  2 length(2)  4 sid(4)  8 family(4|6)  9 flags
 * 10 snd_wscale  11 rcv_wscale  12 mss(2)  14 lport(2)  16 pport(2)
 * 18 reserved(2)  20 laddr(16)  36 paddr(16)  52 snd_isn(4)  56 rcv_isn(4)
 * 60 rcv(8)  68 snd_una(8)  76 snd_nxt(8)  84 tsval(4)  88 ts_recent(4)
 * 92 snd_wnd(4)  96 rcv_wnd(4)  = 100
 * Sync record layout:
 *  0 header(4)  4 sid(4)  8 rcv(8)  16 snd_una(8)  24 snd_nxt(8)
 * 32 tsval(4)  36 window(2, as in the TCP header)  38 flags  39 reserved
 */

#define MAXWND (65535u << 14)
/* More than this in flight or a jump this big is not TCP. */
#define MAXFLIGHT (1ull << 31)
#define MAXOFF (1ull << 62)

static int
bad(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	errno = EINVAL;
	return -1;
}

static int
zero(const unsigned char *p, size_t n)
{
	while (n-- > 0)
		if (*p++)
			return 0;
	return 1;
}

/* A unicast host address of family f. */
static int
addr_ok(int f, const unsigned char *a)
{
	if (f == AF_INET) {
		if (!zero(a + 4, 12) || zero(a, 4))
			return 0;
		if (a[0] >= 224 || a[0] == 0)	/* multicast, reserved */
			return 0;
		return 1;
	}
	if (zero(a, 16) || a[0] == 0xff)
		return 0;
	return 1;
}

static int
offsets_ok(const struct tcpr_sess *s, const char **why)
{
	if (s->rcv >= MAXOFF || s->snd_nxt >= MAXOFF)
		return bad(why, "stream offset out of range");
	if (s->snd_una > s->snd_nxt)
		return bad(why, "snd_una beyond snd_nxt");
	if (s->snd_nxt - s->snd_una > MAXFLIGHT)
		return bad(why, "more than 2 GiB unacknowledged");
	return 0;
}

int
tcpr_sess_check(const struct tcpr_sess *s, const char **why)
{
	if (s->sid == 0)
		return bad(why, "session id 0");
	if (s->family != AF_INET && s->family != AF_INET6)
		return bad(why, "unknown address family");
	if (s->flags & ~TCPR_F_ALL)
		return bad(why, "unknown flags");
	if (s->snd_wscale > 14 || s->rcv_wscale > 14)
		return bad(why, "window scale above 14");
	if (!(s->flags & TCPR_F_WSCALE) && (s->snd_wscale || s->rcv_wscale))
		return bad(why, "window scale without the option");
	if (s->mss < 64)
		return bad(why, "MSS below 64");
	if (s->lport == 0 || s->pport == 0)
		return bad(why, "port 0");
	if (!addr_ok(s->family, s->laddr) || !addr_ok(s->family, s->paddr))
		return bad(why, "not a unicast address");
	if (!(s->flags & TCPR_F_TS) && (s->tsval || s->ts_recent))
		return bad(why, "timestamp values without the option");
	if (s->snd_wnd > MAXWND || s->rcv_wnd > MAXWND)
		return bad(why, "window too large");
	return offsets_ok(s, why);
}

int
tcpr_rec_encode_full(const struct tcpr_sess *s, void *buf, size_t size)
{
	unsigned char *p = buf;

	if (tcpr_sess_check(s, NULL) < 0)
		return -1;
	if (size < TCPR_REC_FULL_LEN) {
		errno = ENOSPC;
		return -1;
	}
	memset(p, 0, TCPR_REC_FULL_LEN);
	p[0] = TCPR_REC_VERSION;
	p[1] = TCPR_REC_FULL;
	be_put16(p + 2, TCPR_REC_FULL_LEN);
	be_put32(p + 4, s->sid);
	p[8] = s->family == AF_INET ? 4 : 6;
	p[9] = s->flags;
	p[10] = s->snd_wscale;
	p[11] = s->rcv_wscale;
	be_put16(p + 12, s->mss);
	be_put16(p + 14, s->lport);
	be_put16(p + 16, s->pport);
	memcpy(p + 20, s->laddr, 16);
	memcpy(p + 36, s->paddr, 16);
	be_put32(p + 52, s->snd_isn);
	be_put32(p + 56, s->rcv_isn);
	be_put64(p + 60, s->rcv);
	be_put64(p + 68, s->snd_una);
	be_put64(p + 76, s->snd_nxt);
	be_put32(p + 84, s->tsval);
	be_put32(p + 88, s->ts_recent);
	be_put32(p + 92, s->snd_wnd);
	be_put32(p + 96, s->rcv_wnd);
	return TCPR_REC_FULL_LEN;
}

int
tcpr_rec_encode_sync(const struct tcpr_sess *s, void *buf, size_t size)
{
	unsigned char *p = buf;
	uint32_t w;

	if (tcpr_sess_check(s, NULL) < 0)
		return -1;
	if (size < TCPR_REC_SYNC_LEN) {
		errno = ENOSPC;
		return -1;
	}
	memset(p, 0, TCPR_REC_SYNC_LEN);
	p[0] = TCPR_REC_VERSION;
	p[1] = TCPR_REC_SYNC;
	be_put16(p + 2, TCPR_REC_SYNC_LEN);
	be_put32(p + 4, s->sid);
	be_put64(p + 8, s->rcv);
	be_put64(p + 16, s->snd_una);
	be_put64(p + 24, s->snd_nxt);
	be_put32(p + 32, s->tsval);
	w = s->snd_wnd >> s->snd_wscale;
	be_put16(p + 36, w > 65535 ? 65535 : (uint16_t)w);
	p[38] = s->flags & (TCPR_F_FIN_IN | TCPR_F_FIN_OUT | TCPR_F_END);
	return TCPR_REC_SYNC_LEN;
}

int
tcpr_rec_decode(const void *buf, size_t len, int *type, struct tcpr_sess *s,
    const char **why)
{
	const unsigned char *p = buf;
	size_t rlen;

	if (len < TCPR_REC_HDR_LEN)
		return 0;
	if (p[0] == 0)
		return bad(why, "record version 0");
	if (p[0] > TCPR_REC_VERSION) {
		if (why)
			*why = "record version newer than this program";
		errno = EPROTONOSUPPORT;
		return -1;
	}
	rlen = be_get16(p + 2);
	if (p[1] == TCPR_REC_FULL) {
		if (rlen != TCPR_REC_FULL_LEN)
			return bad(why, "full record of wrong length");
	} else if (p[1] == TCPR_REC_SYNC) {
		if (rlen != TCPR_REC_SYNC_LEN)
			return bad(why, "sync record of wrong length");
	} else
		return bad(why, "unknown record type");
	if (len < rlen)
		return 0;
	memset(s, 0, sizeof *s);
	*type = p[1];
	s->sid = be_get32(p + 4);
	if (p[1] == TCPR_REC_SYNC) {
		if (s->sid == 0)
			return bad(why, "session id 0");
		s->rcv = be_get64(p + 8);
		s->snd_una = be_get64(p + 16);
		s->snd_nxt = be_get64(p + 24);
		s->tsval = be_get32(p + 32);
		s->snd_wnd = be_get16(p + 36);
		s->flags = p[38];
		if (s->flags & ~(TCPR_F_FIN_IN | TCPR_F_FIN_OUT | TCPR_F_END))
			return bad(why, "option flags in a sync record");
		if (p[39])
			return bad(why, "reserved byte not zero");
		if (offsets_ok(s, why) < 0)
			return -1;
		return (int)rlen;
	}
	if (p[8] == 4)
		s->family = AF_INET;
	else if (p[8] == 6)
		s->family = AF_INET6;
	else
		return bad(why, "unknown address family");
	s->flags = p[9];
	s->snd_wscale = p[10];
	s->rcv_wscale = p[11];
	s->mss = be_get16(p + 12);
	s->lport = be_get16(p + 14);
	s->pport = be_get16(p + 16);
	if (be_get16(p + 18))
		return bad(why, "reserved bytes not zero");
	memcpy(s->laddr, p + 20, 16);
	memcpy(s->paddr, p + 36, 16);
	s->snd_isn = be_get32(p + 52);
	s->rcv_isn = be_get32(p + 56);
	s->rcv = be_get64(p + 60);
	s->snd_una = be_get64(p + 68);
	s->snd_nxt = be_get64(p + 76);
	s->tsval = be_get32(p + 84);
	s->ts_recent = be_get32(p + 88);
	s->snd_wnd = be_get32(p + 92);
	s->rcv_wnd = be_get32(p + 96);
	if (tcpr_sess_check(s, why) < 0)
		return -1;
	return (int)rlen;
}

int
tcpr_sess_update(struct tcpr_sess *s, const struct tcpr_sess *u,
    const char **why)
{
	struct tcpr_sess n = *s;

	if (u->sid != s->sid)
		return bad(why, "session id mismatch");
	if (u->rcv < s->rcv || u->snd_una < s->snd_una || u->snd_nxt < s->snd_nxt)
		return bad(why, "stream offset went back");
	if (u->rcv - s->rcv > MAXFLIGHT || u->snd_nxt - s->snd_una > MAXFLIGHT)
		return bad(why, "stream offset jumped more than 2 GiB");
	if ((s->flags & TCPR_F_FIN_IN) && u->rcv != s->rcv)
		return bad(why, "input after the peer's FIN");
	if ((s->flags & TCPR_F_FIN_OUT) && u->snd_nxt != s->snd_nxt)
		return bad(why, "output after our FIN");
	n.rcv = u->rcv;
	n.snd_una = u->snd_una;
	n.snd_nxt = u->snd_nxt;
	if (n.flags & TCPR_F_TS)
		n.tsval = u->tsval;
	n.snd_wnd = (uint32_t)u->snd_wnd << n.snd_wscale;
	/* FIN and END are sticky: a later record cannot take them back. */
	n.flags |= u->flags & (TCPR_F_FIN_IN | TCPR_F_FIN_OUT | TCPR_F_END);
	if (tcpr_sess_check(&n, why) < 0)
		return -1;
	*s = n;
	return 0;
}

uint32_t
tcpr_sess_rcv_nxt(const struct tcpr_sess *s)
{
	return s->rcv_isn + 1 + (uint32_t)s->rcv +
	    ((s->flags & TCPR_F_FIN_IN) ? 1 : 0);
}

uint32_t
tcpr_sess_snd_una(const struct tcpr_sess *s)
{
	return s->snd_isn + 1 + (uint32_t)s->snd_una;
}

static void
fmt_ep(const struct tcpr_sess *s, const unsigned char *a, uint16_t port,
    char *buf, size_t size)
{
	char h[INET6_ADDRSTRLEN];

	inet_ntop(s->family, a, h, sizeof h);
	if (s->family == AF_INET6)
		snprintf(buf, size, "[%s]:%u", h, port);
	else
		snprintf(buf, size, "%s:%u", h, port);
}

static const char *
fmt_flags(unsigned f, char *buf, size_t size)
{
	static const char *names[] = { "sack", "ts", "wscale", "fin_in",
	    "fin_out", "end" };
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (f & (1u << i))
			n += snprintf(buf + n, size - n, "%s%s", n ? "," : "",
			    names[i]);
	if (n == 0)
		snprintf(buf, size, "none");
	return buf;
}

int
tcpr_rec_fmt(int type, const struct tcpr_sess *s, char *buf, size_t size)
{
	char l[64], r[64], f[64];

	fmt_flags(s->flags, f, sizeof f);
	if (type == TCPR_REC_SYNC)
		return snprintf(buf, size, "sync sid=%u flags=%s rcv=%llu "
		    "snd_una=%llu snd_nxt=%llu tsval=%u window=%u", s->sid, f,
		    (unsigned long long)s->rcv,
		    (unsigned long long)s->snd_una,
		    (unsigned long long)s->snd_nxt, s->tsval, s->snd_wnd);
	fmt_ep(s, s->laddr, s->lport, l, sizeof l);
	fmt_ep(s, s->paddr, s->pport, r, sizeof r);
	return snprintf(buf, size, "full sid=%u family=%s local=%s peer=%s "
	    "flags=%s mss=%u snd_wscale=%u rcv_wscale=%u snd_isn=%u "
	    "rcv_isn=%u rcv=%llu snd_una=%llu snd_nxt=%llu tsval=%u "
	    "ts_recent=%u snd_wnd=%u rcv_wnd=%u", s->sid,
	    s->family == AF_INET ? "inet" : "inet6", l, r, f, s->mss,
	    s->snd_wscale, s->rcv_wscale, s->snd_isn, s->rcv_isn,
	    (unsigned long long)s->rcv, (unsigned long long)s->snd_una,
	    (unsigned long long)s->snd_nxt, s->tsval, s->ts_recent,
	    s->snd_wnd, s->rcv_wnd);
}

/* n bytes of a as hex digits at o; the end */
static char *
hex_put(char *o, const unsigned char *a, size_t n)
{
	static const char digit[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		*o++ = digit[a[i] >> 4];
		*o++ = digit[a[i] & 15];
	}
	return o;
}

/* (no snprintf: the store's load makes one key a file) */
const char *
tcpr_sess_key(const struct tcpr_sess *s, char *buf, size_t size)
{
	size_t n = s->family == AF_INET ? 4 : 16, len;
	unsigned char port[2];
	char k[TCPR_KEYLEN], *o = k;

	*o++ = s->family == AF_INET ? '4' : '6';
	*o++ = '-';
	o = hex_put(o, s->laddr, n);
	*o++ = '-';
	port[0] = (unsigned char)(s->lport >> 8);
	port[1] = (unsigned char)s->lport;
	o = hex_put(o, port, 2);
	*o++ = '-';
	o = hex_put(o, s->paddr, n);
	*o++ = '-';
	port[0] = (unsigned char)(s->pport >> 8);
	port[1] = (unsigned char)s->pport;
	o = hex_put(o, port, 2);
	if (size == 0)
		return buf;
	len = (size_t)(o - k) < size - 1 ? (size_t)(o - k) : size - 1;
	memcpy(buf, k, len);
	buf[len] = '\0';
	return buf;
}
