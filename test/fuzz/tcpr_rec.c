/*
 * libFuzzer target for the recovery record decoder: any input must decode
 * or be refused cleanly; what decodes must encode back to the same bytes
 * and survive being applied as an update.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tcpr_rec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tcpr_sess s, first;
	unsigned char out[TCPR_REC_MAXLEN];
	const char *why;
	size_t off = 0;
	int type, r, have = 0;

	while (off < size) {
		r = tcpr_rec_decode(data + off, size - off, &type, &s, &why);
		if (r <= 0)
			break;
		if (type == TCPR_REC_FULL) {
			if (tcpr_rec_encode_full(&s, out, sizeof out) != r ||
			    memcmp(out, data + off, (size_t)r) != 0)
				abort();
			first = s;
			have = 1;
		} else if (have) {
			s.sid = first.sid;
			(void)tcpr_sess_update(&first, &s, &why);
			if (tcpr_sess_check(&first, &why) != 0)
				abort();
		}
		{
			char line[512];
			tcpr_rec_fmt(type, &s, line, sizeof line);
		}
		off += (size_t)r;
	}
	return 0;
}
