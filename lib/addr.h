/* IPv4/IPv6 addresses with an optional prefix length, parsed and printed. */
#ifndef NONSTOP_ADDR_H
#define NONSTOP_ADDR_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

struct addr {
	int family;		/* AF_INET or AF_INET6 */
	unsigned char plen;	/* prefix length; 32/128 when not given */
	union {
		struct in_addr v4;
		struct in6_addr v6;
		unsigned char b[16];
	} u;
};

#define ADDR_STRLEN (INET6_ADDRSTRLEN + 4)

/* "192.0.2.1", "192.0.2.1/24", "2001:db8::1/64". 0, or -1 with EINVAL. */
int addr_parse(const char *s, struct addr *a);
/* Without prefix when full-length; buf of ADDR_STRLEN. */
const char *addr_fmt(const struct addr *a, char *buf, size_t size);
int addr_eq(const struct addr *a, const struct addr *b);
size_t addr_len(const struct addr *a);	/* 4 or 16 */
/* Fill ss with a and port (host order); returns the length to pass on. */
socklen_t addr_sockaddr(const struct addr *a, unsigned port,
    struct sockaddr_storage *ss);
/* The reverse: ss into a (full-length prefix). 0, or -1 for another family. */
int addr_from_sockaddr(const struct sockaddr_storage *ss, struct addr *a);

#endif
