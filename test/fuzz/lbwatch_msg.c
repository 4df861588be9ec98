/*
 * libFuzzer target for lb-watch's status datagram decoder. The first
 * input byte selects: odd, the rest gets a correct MAC first, so the
 * fuzzer also reaches the field checks behind authentication. The decoder
 * must never crash or read past the datagram.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct auth_key key = { .k = "fuzzing-key-0123456789", .len = 22 };
	struct lw_msg m;
	uint8_t *buf;
	int fix;

	if (len == 0)
		return 0;
	fix = data[0] & 1;
	data++;
	len--;
	if ((buf = malloc(len ? len : 1)) == NULL)
		return 0;
	memcpy(buf, data, len);
	if (fix && len == LW_LEN)
		auth_mac(&key, buf, LW_LEN - AUTH_MACLEN, buf + LW_LEN - AUTH_MACLEN);
	if (lw_decode(buf, len, &key, &m) == LW_OK) {
		/* What a good datagram promises: terminated names, a known state. */
		if (memchr(m.cluster, '\0', sizeof m.cluster) == NULL ||
		    memchr(m.node, '\0', sizeof m.node) == NULL ||
		    memchr(m.demote, '\0', sizeof m.demote) == NULL ||
		    m.cluster[0] == '\0' || m.node[0] == '\0' ||
		    m.state < 0 || m.state >= LW_NSTATES)
			abort();
	}
	free(buf);
	return 0;
}
