/* lc-build output records: "key=value ..." lines, or JSON objects with -j. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

#include "kv.h"
#include "lc-build.h"

static int first;

static void
json_str(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	putchar('"');
	for (; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", stdout);
		else if (*p == '\t')
			fputs("\\t", stdout);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

void
out_begin(void)
{
	first = 1;
	if (opt.json)
		putchar('{');
}

static void
key(const char *k)
{
	if (opt.json) {
		if (!first)
			putchar(',');
		json_str(k);
		putchar(':');
	}
}

void
out_str(const char *k, const char *v)
{
	if (!v)
		return;
	if (opt.json) {
		key(k);
		json_str(v);
	} else
		kv_fput(stdout, first, k, v);
	first = 0;
}

void
out_num(const char *k, long v)
{
	if (opt.json) {
		key(k);
		printf("%ld", v);
	} else {
		char tmp[32];
		snprintf(tmp, sizeof(tmp), "%ld", v);
		kv_fput(stdout, first, k, tmp);
	}
	first = 0;
}

void
out_bool(const char *k, int v)
{
	if (opt.json) {
		key(k);
		fputs(v ? "true" : "false", stdout);
	} else
		kv_fput(stdout, first, k, v ? "yes" : "no");
	first = 0;
}

/* Text: one comma-separated value (none when empty); JSON: an array. */
void
out_list(const char *k, char *const *v, size_t n)
{
	size_t i;

	if (opt.json) {
		key(k);
		putchar('[');
		for (i = 0; i < n; i++) {
			if (i)
				putchar(',');
			json_str(v[i]);
		}
		putchar(']');
	} else {
		size_t len = 0;
		char *buf;

		if (n == 0)
			return;		/* text: an empty list is left out */
		for (i = 0; i < n; i++)
			len += strlen(v[i]) + 1;
		if (!(buf = malloc(len + 1)))
			err_die(EXIT_TEMP, "out of memory");
		for (i = 0, len = 0; i < n; i++) {
			if (i)
				buf[len++] = ',';
			memcpy(buf + len, v[i], strlen(v[i]));
			len += strlen(v[i]);
		}
		buf[len] = '\0';
		kv_fput(stdout, first, k, buf);
		free(buf);
	}
	first = 0;
}

void
out_end(void)
{
	if (opt.json)
		putchar('}');
	putchar('\n');
}

char *
split_kv(char *arg)
{
	char *eq = strchr(arg, '=');

	if (!eq || eq == arg)
		return NULL;
	*eq = '\0';
	return eq + 1;
}
