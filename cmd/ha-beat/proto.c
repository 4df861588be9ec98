/* Heartbeat encoding and strict decoding; see proto.h. */
#include <string.h>

#include "be.h"
#include "proto.h"

void
hb_encode(const struct hb_msg *m, const struct auth_key *key,
    unsigned char buf[HB_LEN])
{
	memset(buf, 0, HB_LEN);
	memcpy(buf, "NSHB", 4);
	buf[4] = HB_VERSION;
	buf[5] = m->type;
	buf[6] = m->state;
	buf[7] = m->priority;
	memcpy(buf + 8, m->group, strnlen(m->group, HB_NAMELEN - 1));
	memcpy(buf + 40, m->node, strnlen(m->node, HB_NAMELEN - 1));
	be_put64(buf + 72, m->epoch);
	be_put64(buf + 80, m->seq);
	be_put16(buf + 88, m->interval_ms);
	buf[90] = m->live;
	buf[91] = m->size;
	memcpy(buf + 92, m->master, strnlen(m->master, HB_NAMELEN - 1));
	auth_mac(key, buf, HB_LEN - AUTH_MACLEN, buf + HB_LEN - AUTH_MACLEN);
}

/* A name field that may be empty: NUL-terminated, printable, zero-padded. */
static int
opt_name_ok(const unsigned char *p)
{
	int i;

	for (i = 0; i < HB_NAMELEN; i++) {
		if (p[i] == '\0')
			break;
		if (p[i] <= ' ' || p[i] > '~')
			return 0;
	}
	if (i == HB_NAMELEN)
		return 0;
	for (; i < HB_NAMELEN; i++)	/* padding must be zero */
		if (p[i] != '\0')
			return 0;
	return 1;
}

/* The same, non-empty. */
static int
name_ok(const unsigned char *p)
{
	return p[0] != '\0' && opt_name_ok(p);
}

enum hb_err
hb_decode(const unsigned char *buf, size_t len, const struct auth_key *key,
    struct hb_msg *m)
{
	if (len != HB_LEN)
		return HB_ESHORT;
	if (memcmp(buf, "NSHB", 4) != 0)
		return HB_EMAGIC;
	if (buf[4] != HB_VERSION)
		return HB_EVERSION;
	if ((buf[5] != HB_ADVERT && buf[5] != HB_RESIGN) || buf[6] > HB_FAULT ||
	    buf[7] == 0 || !name_ok(buf + 8) || !name_ok(buf + 40) ||
	    be_get16(buf + 88) == 0 || buf[91] < 2 || buf[91] > 8 ||
	    buf[90] > buf[91] || !opt_name_ok(buf + 92))
		return HB_EFIELD;
	if (!auth_verify(key, buf, HB_LEN - AUTH_MACLEN,
	    buf + HB_LEN - AUTH_MACLEN))
		return HB_EMAC;
	memset(m, 0, sizeof *m);
	m->type = buf[5];
	m->state = buf[6];
	m->priority = buf[7];
	memcpy(m->group, buf + 8, HB_NAMELEN);
	memcpy(m->node, buf + 40, HB_NAMELEN);
	m->epoch = be_get64(buf + 72);
	m->seq = be_get64(buf + 80);
	m->interval_ms = be_get16(buf + 88);
	m->live = buf[90];
	m->size = buf[91];
	memcpy(m->master, buf + 92, HB_NAMELEN);
	return HB_OK;
}

const char *
hb_strerr(enum hb_err e)
{
	switch (e) {
	case HB_OK: return "ok";
	case HB_ESHORT: return "bad-length";
	case HB_EMAGIC: return "not-heartbeat";
	case HB_EVERSION: return "bad-version";
	case HB_EFIELD: return "malformed";
	case HB_EMAC: return "bad-mac";
	}
	return "unknown";
}
