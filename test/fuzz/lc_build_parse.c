/*
 * libFuzzer target for what lc-build parses from outside: LDIF (host loads
 * and export archives), spec text (nonstopAppliedSpec read back from the
 * directory) and key=value operands.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_err e;
	struct cl_cluster c;
	struct cl_hosts h = { 0 };
	char *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	cl_ldif_check(s, size, &e);
	if (cl_spec_parse(s, &c, &h, &e) == 0) {
		/* A parsed spec must validate and render without harm. */
		struct cl_change *ch;
		size_t n;
		cl_validate(&c, &h, &e);
		if (cl_plan(&c, &h, s, 0, 1, &ch, &n, &e) == 0)
			cl_changes_free(ch, n);
	}
	cl_cluster_free(&c);
	cl_hosts_free(&h);
	memset(&c, 0, sizeof(c));
	c.name = strdup("fuzz");
	cl_cluster_set(&c, "service", s, &e);
	cl_cluster_set(&c, "rs", s, &e);
	cl_cluster_set(&c, "bs", s, &e);
	cl_cluster_free(&c);
	free(s);
	return 0;
}
