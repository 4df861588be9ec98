/* Address parsing; see addr.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"

int
addr_parse(const char *s, struct addr *a)
{
	char buf[ADDR_STRLEN];
	char *slash, *end;
	long plen = -1;

	memset(a, 0, sizeof *a);
	if (strlen(s) >= sizeof buf)
		goto bad;
	strcpy(buf, s);
	if ((slash = strchr(buf, '/')) != NULL) {
		*slash++ = '\0';
		if (*slash < '0' || *slash > '9')
			goto bad;
		errno = 0;
		plen = strtol(slash, &end, 10);
		if (*end != '\0' || errno)
			goto bad;
	}
	if (inet_pton(AF_INET, buf, &a->u.v4) == 1) {
		a->family = AF_INET;
		if (plen > 32)
			goto bad;
		a->plen = plen < 0 ? 32 : plen;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, &a->u.v6) == 1) {
		a->family = AF_INET6;
		if (plen > 128)
			goto bad;
		a->plen = plen < 0 ? 128 : plen;
		return 0;
	}
bad:
	errno = EINVAL;
	return -1;
}

const char *
addr_fmt(const struct addr *a, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];

	if (inet_ntop(a->family, a->u.b, ip, sizeof ip) == NULL)
		snprintf(ip, sizeof ip, "?");
	if (a->plen == (a->family == AF_INET ? 32 : 128))
		snprintf(buf, size, "%s", ip);
	else
		snprintf(buf, size, "%s/%u", ip, a->plen);
	return buf;
}

size_t
addr_len(const struct addr *a)
{
	return a->family == AF_INET ? 4 : 16;
}

int
addr_eq(const struct addr *a, const struct addr *b)
{
	return a->family == b->family &&
	    memcmp(a->u.b, b->u.b, addr_len(a)) == 0;
}
