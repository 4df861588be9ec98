/* Gratuitous ARP and unsolicited neighbour advertisements; see arp.h. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>

#include "arp.h"

#define ARP_LEN (14 + 28)		/* Ethernet + ARP for IPv4 over Ethernet */
#define NA_LEN (14 + 40 + 24 + 8)	/* Ethernet + IPv6 + NA + TLLA option */

int
arp_open(unsigned ifindex)
{
	struct sockaddr_ll sll;
	int fd;

	/*
	 * Protocol 0: the socket receives nothing, so it never queues
	 * traffic that nobody reads; sendto() names the protocol per packet.
	 */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	memset(&sll, 0, sizeof sll);
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = 0;
	sll.sll_ifindex = (int)ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof sll) == -1) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int
xmit(int fd, unsigned ifindex, uint16_t proto, const unsigned char *dst,
    const void *frame, size_t len)
{
	struct sockaddr_ll sll;
	ssize_t n;

	memset(&sll, 0, sizeof sll);
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(proto);
	sll.sll_ifindex = (int)ifindex;
	sll.sll_halen = 6;
	memcpy(sll.sll_addr, dst, 6);
	n = sendto(fd, frame, len, 0, (struct sockaddr *)&sll, sizeof sll);
	if (n == -1)
		return -1;
	if ((size_t)n != len) {
		errno = EIO;
		return -1;
	}
	return 0;
}

static void
put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

int
arp_send4(int fd, unsigned ifindex, const unsigned char mac[6],
    const struct in_addr *ip, int reply)
{
	static const unsigned char bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	unsigned char f[ARP_LEN], *a = f + 14;

	memset(f, 0, sizeof f);
	memcpy(f, bcast, 6);
	memcpy(f + 6, mac, 6);
	put16(f + 12, ETH_P_ARP);
	put16(a, 1);			/* hardware type Ethernet */
	put16(a + 2, ETH_P_IP);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, reply ? 2 : 1);
	memcpy(a + 8, mac, 6);		/* sender hardware address */
	memcpy(a + 14, ip, 4);		/* sender protocol address */
	if (reply)			/* Linux takes a reply as gratuitous only if tha == sha */
		memcpy(a + 18, mac, 6);
	memcpy(a + 24, ip, 4);		/* target protocol address = sender's */
	return xmit(fd, ifindex, ETH_P_ARP, bcast, f, sizeof f);
}

/* RFC 1071 sum over len bytes, folded in at the end by the caller. */
static uint32_t
sum16(uint32_t s, const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)(p[len - 1] << 8);
	return s;
}

int
arp_send6(int fd, unsigned ifindex, const unsigned char mac[6],
    const struct in6_addr *ip)
{
	static const unsigned char allnodes_mac[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	static const unsigned char allnodes[16] = { 0xff, 0x02, [15] = 1 };
	unsigned char f[NA_LEN], *ip6 = f + 14, *icmp = ip6 + 40, pseudo[8];
	const uint16_t plen = 24 + 8;
	uint32_t s;

	memset(f, 0, sizeof f);
	memcpy(f, allnodes_mac, 6);
	memcpy(f + 6, mac, 6);
	put16(f + 12, ETH_P_IPV6);

	ip6[0] = 0x60;			/* version 6, traffic class 0, flow 0 */
	put16(ip6 + 4, plen);
	ip6[6] = 58;			/* next header ICMPv6 */
	ip6[7] = 255;			/* hop limit: receivers drop NDP with any other */
	memcpy(ip6 + 8, ip, 16);
	memcpy(ip6 + 24, allnodes, 16);

	icmp[0] = 136;			/* neighbour advertisement */
	icmp[1] = 0;
	icmp[4] = 0x20;			/* override; not router, not solicited */
	memcpy(icmp + 8, ip, 16);	/* target address */
	icmp[24] = 2;			/* option: target link-layer address */
	icmp[25] = 1;			/* length in units of 8 bytes */
	memcpy(icmp + 26, mac, 6);

	/* Pseudo-header: source, destination, upper-layer length, next header. */
	memset(pseudo, 0, sizeof pseudo);
	pseudo[2] = (unsigned char)(plen >> 8);
	pseudo[3] = (unsigned char)plen;
	pseudo[7] = 58;
	s = sum16(0, ip6 + 8, 32);
	s = sum16(s, pseudo, sizeof pseudo);
	s = sum16(s, icmp, plen);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	put16(icmp + 2, (uint16_t)~s);
	return xmit(fd, ifindex, ETH_P_IPV6, allnodes_mac, f, sizeof f);
}

int
arp_announce(int fd, unsigned ifindex, const unsigned char mac[6],
    const struct addr *a, int reply)
{
	switch (a->family) {
	case AF_INET:
		return arp_send4(fd, ifindex, mac, &a->u.v4, reply);
	case AF_INET6:
		return arp_send6(fd, ifindex, mac, &a->u.v6);
	default:
		errno = EAFNOSUPPORT;
		return -1;
	}
}
