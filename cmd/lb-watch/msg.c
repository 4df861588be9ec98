/* lb-watch's status datagram: encoding and strict decoding; see msg.h. */
#include <string.h>

#include "be.h"
#include "msg.h"

static const char *names[LW_NSTATES] = { "none", "backup", "master", "fault",
    "stop" };

const char *
lw_state_name(int s)
{
	return s >= 0 && s < LW_NSTATES ? names[s] : "none";
}

int
lw_state_parse(const char *s)
{
	int i;

	for (i = 1; i < LW_NSTATES; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return LW_NONE;
}

static void
put_name(unsigned char *p, const char *s)
{
	memcpy(p, s, strnlen(s, LW_NAMELEN - 1));
}

void
lw_encode(const struct lw_msg *m, const struct auth_key *key,
    unsigned char buf[LW_LEN])
{
	unsigned char *p = buf + 8;

	memset(buf, 0, LW_LEN);
	memcpy(buf, "NSLW", 4);
	buf[4] = LW_VERSION;
	buf[5] = (unsigned char)m->state;
	put_name(p, m->cluster);
	put_name(p + LW_NAMELEN, m->node);
	put_name(p + 2 * LW_NAMELEN, m->demote);
	p += 3 * LW_NAMELEN;
	be_put64(p, m->epoch);
	be_put64(p + 8, m->seq);
	auth_mac(key, buf, LW_LEN - AUTH_MACLEN, buf + LW_LEN - AUTH_MACLEN);
}

/* A name field: printable, NUL-terminated, zero-padded; empty if may_empty. */
static int
get_name(const unsigned char *p, char *out, int may_empty)
{
	int i;

	for (i = 0; i < LW_NAMELEN && p[i] != '\0'; i++)
		if (p[i] <= ' ' || p[i] > '~')
			return -1;
	if (i == LW_NAMELEN || (i == 0 && !may_empty))
		return -1;
	for (; i < LW_NAMELEN; i++)
		if (p[i] != '\0')
			return -1;
	memcpy(out, p, LW_NAMELEN);
	return 0;
}

enum lw_err
lw_decode(const unsigned char *buf, size_t len, const struct auth_key *key,
    struct lw_msg *m)
{
	const unsigned char *p = buf + 8;

	if (len != LW_LEN)
		return LW_ELEN;
	if (memcmp(buf, "NSLW", 4) != 0)
		return LW_EMAGIC;
	if (buf[4] != LW_VERSION)
		return LW_EVERSION;
	if (!auth_verify(key, buf, LW_LEN - AUTH_MACLEN, buf + LW_LEN - AUTH_MACLEN))
		return LW_EMAC;
	if (buf[5] >= LW_NSTATES || buf[6] != 0 || buf[7] != 0)
		return LW_EFIELD;
	memset(m, 0, sizeof *m);
	m->state = buf[5];
	if (get_name(p, m->cluster, 0) == -1 ||
	    get_name(p + LW_NAMELEN, m->node, 0) == -1 ||
	    get_name(p + 2 * LW_NAMELEN, m->demote, 1) == -1)
		return LW_EFIELD;
	p += 3 * LW_NAMELEN;
	m->epoch = be_get64(p);
	m->seq = be_get64(p + 8);
	return LW_OK;
}
