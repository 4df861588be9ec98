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

socklen_t
addr_sockaddr(const struct addr *a, unsigned port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (a->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		s4->sin_addr = a->u.v4;
		return sizeof *s4;
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		s6->sin6_addr = a->u.v6;
		return sizeof *s6;
	}
}

int
addr_from_sockaddr(const struct sockaddr_storage *ss, struct addr *a)
{
	memset(a, 0, sizeof *a);
	if (ss->ss_family == AF_INET) {
		a->family = AF_INET;
		a->plen = 32;
		a->u.v4 = ((const struct sockaddr_in *)ss)->sin_addr;
	} else if (ss->ss_family == AF_INET6) {
		a->family = AF_INET6;
		a->plen = 128;
		a->u.v6 = ((const struct sockaddr_in6 *)ss)->sin6_addr;
	} else
		return -1;
	return 0;
}
