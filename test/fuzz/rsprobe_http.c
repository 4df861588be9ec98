/* libFuzzer target: rs-probe's HTTP status line parser on any bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "../../cmd/rs-probe/http.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy so ASan sees any read past the received bytes. */
	char *buf = malloc(size ? size : 1);
	int code;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	code = http_status(buf, size);
	if (code != 0 && code != -1 && (code < 100 || code > 599))
		abort();
	if (code > 0 && (size < 13 || memcmp(buf, "HTTP/", 5) != 0))
		abort();
	free(buf);
	return 0;
}
