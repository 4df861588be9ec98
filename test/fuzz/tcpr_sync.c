/*
 * libFuzzer target for tcpr-sync's datagram parser. Each input is parsed
 * as it is (almost always a bad MAC) and again sealed with the right MAC,
 * so the fuzzer reaches the header and record checks behind it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct auth_key key = { .len = 32 };
	static unsigned char buf[SYNC_MAXDGRAM + 64];
	struct dgram d;
	const char *why;

	(void)dgram_parse(data, size, &key, &d, &why);
	if (size > SYNC_MAXDGRAM + 16)
		return 0;
	memcpy(buf, data, size);
	auth_mac(&key, buf, size, buf + size);
	if (dgram_parse(buf, size + AUTH_MACLEN, &key, &d, &why) == 0) {
		if (d.payload != buf + SYNC_HDR || d.len + SYNC_HDR != size)
			abort();
		if (d.type != SYNC_DATA && d.type != SYNC_ACK)
			abort();
	}
	return 0;
}
