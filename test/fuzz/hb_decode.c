/*
 * libFuzzer target for ha-beat's heartbeat decoder. The first input byte
 * selects: odd, the rest gets a correct MAC first, so the fuzzer also
 * reaches what lies behind authentication. The decoder must never crash
 * or read past the datagram.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct auth_key key = { .k = "fuzzing-key-0123456789", .len = 22 };
	struct hb_msg m;
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
	if (fix && len == HB_LEN)
		auth_mac(&key, buf, HB_LEN - AUTH_MACLEN, buf + HB_LEN - AUTH_MACLEN);
	if (hb_decode(buf, len, &key, &m) == HB_OK) {
		/* What a good message promises: terminated names, sane sizes. */
		if (memchr(m.group, '\0', sizeof m.group) == NULL ||
		    memchr(m.node, '\0', sizeof m.node) == NULL ||
		    m.size < 2 || m.size > 8 || m.live > m.size)
			abort();
	}
	free(buf);
	return 0;
}
