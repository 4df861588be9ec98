/* libFuzzer target: role files (they reach hosts through SNMP SETs). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "role.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), why[256];
	struct role r;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (role_parse(text, &r, why, sizeof why) == 0) {
		/* An accepted file is consistent. */
		if (r.kind != ROLE_NONE && (r.nsvc == 0 || !r.has_lb))
			abort();
		role_free(&r);
	} else if (why[0] == '\0') {
		abort();
	}
	free(text);
	return 0;
}
