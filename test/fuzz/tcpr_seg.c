/*
 * libFuzzer target for the packet parser tcpr-restore reads the peers'
 * answers with (tcpr_seg_parse): any input parses or is refused cleanly,
 * and what parses is TCP over IPv4 or IPv6.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tcpr_kick.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tcpr_seg g;
	/* an exact-size copy, so that reading past the end is caught */
	uint8_t *p = malloc(size ? size : 1);

	if (p == NULL)
		return 0;
	memcpy(p, data, size);
	if (tcpr_seg_parse(p, size, &g) == 0 &&
	    ((g.family != AF_INET && g.family != AF_INET6) || size < 40))
		abort();
	free(p);
	return 0;
}
