/* Provoke a restored session's peer into retransmitting now (RFC 6069, dupacks). */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "tcpr_kick.h"

#ifndef IPV6_CHECKSUM
#define IPV6_CHECKSUM 7
#endif

static uint32_t
sum16(uint32_t acc, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (; n > 1; n -= 2, b += 2)
		acc += (uint32_t)b[0] << 8 | b[1];
	if (n)
		acc += (uint32_t)b[0] << 8;
	return acc;
}

static uint16_t
fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

static void
put16(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void
put32(unsigned char *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

int
tcpr_kick_open(struct tcpr_kick *k)
{
	int off = 16;	/* TCP checksum offset, for the kernel to fill */

	k->icmp4 = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	k->icmp6 = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
	k->tcp4 = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP);
	k->tcp6 = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP);
	int mark = TCPR_KICK_MARK;

	if (k->tcp6 >= 0 && setsockopt(k->tcp6, IPPROTO_IPV6, IPV6_CHECKSUM,
	    &off, sizeof off) < 0) {
		close(k->tcp6);
		k->tcp6 = -1;
	}
	/* past the traffic lock (best effort: without it the lock holds) */
	if (k->tcp4 >= 0)
		setsockopt(k->tcp4, SOL_SOCKET, SO_MARK, &mark, sizeof mark);
	if (k->tcp6 >= 0)
		setsockopt(k->tcp6, SOL_SOCKET, SO_MARK, &mark, sizeof mark);
	if (k->icmp4 < 0 && k->icmp6 < 0 && k->tcp4 < 0 && k->tcp6 < 0)
		return -1;
	return 0;
}

void
tcpr_kick_close(struct tcpr_kick *k)
{
	if (k->icmp4 >= 0)
		close(k->icmp4);
	if (k->icmp6 >= 0)
		close(k->icmp6);
	if (k->tcp4 >= 0)
		close(k->tcp4);
	if (k->tcp6 >= 0)
		close(k->tcp6);
	k->icmp4 = k->icmp6 = k->tcp4 = k->tcp6 = -1;
}

/*
 * The first 8 bytes of the peer's segment the message is about: its
 * ports and its oldest unacknowledged sequence number (our rcv_nxt).
 */
static void
quoted_tcp(unsigned char *p, const struct tcpr_sess *s, uint32_t rcv_nxt)
{
	put16(p, s->pport);
	put16(p + 2, s->lport);
	put32(p + 4, rcv_nxt);
}

static int
send_icmp(const struct tcpr_kick *k, const struct tcpr_sess *s,
    uint32_t rcv_nxt)
{
	unsigned char m[8 + 40 + 8];
	struct sockaddr_storage ss;
	size_t len;
	int fd;

	memset(m, 0, sizeof m);
	memset(&ss, 0, sizeof ss);
	if (s->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		unsigned char *ip = m + 8;

		m[0] = 3;	/* destination unreachable */
		m[1] = 1;	/* host unreachable */
		ip[0] = 0x45;
		put16(ip + 2, 20 + 20);
		ip[8] = 64;
		ip[9] = IPPROTO_TCP;
		memcpy(ip + 12, s->paddr, 4);	/* the peer's segment to us */
		memcpy(ip + 16, s->laddr, 4);
		put16(ip + 10, fold(sum16(0, ip, 20)));
		quoted_tcp(m + 28, s, rcv_nxt);
		len = 8 + 20 + 8;
		put16(m + 2, fold(sum16(0, m, len)));
		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, s->paddr, 4);
		fd = k->icmp4;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		unsigned char *ip = m + 8;

		m[0] = 1;	/* destination unreachable */
		m[1] = 0;	/* no route: the code RFC 6069 reverts on */
		ip[0] = 0x60;
		put16(ip + 4, 20);
		ip[6] = IPPROTO_TCP;
		ip[7] = 64;
		memcpy(ip + 8, s->paddr, 16);
		memcpy(ip + 24, s->laddr, 16);
		quoted_tcp(m + 48, s, rcv_nxt);
		len = sizeof m;	/* the kernel sums ICMPv6 */
		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, s->paddr, 16);
		fd = k->icmp6;
	}
	if (fd < 0) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	return sendto(fd, m, len, 0, (struct sockaddr *)&ss,
	    s->family == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6)) < 0 ? -1 : 0;
}

/* A pure ACK from the session's own address (it is up by now). */
static int
send_ack(const struct tcpr_kick *k, const struct tcpr_sess *s,
    uint32_t rcv_nxt, uint32_t snd_nxt, uint32_t tsval, uint32_t tsecr)
{
	unsigned char t[32];
	union {
		char b[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} cb;
	struct sockaddr_storage ss;
	struct iovec iov;
	struct msghdr mh;
	struct cmsghdr *cm;
	uint32_t win = s->rcv_wnd;
	size_t len = 20;
	int fd;

	if (s->flags & TCPR_F_WSCALE)
		win >>= s->rcv_wscale;
	if (win > 65535)
		win = 65535;
	memset(t, 0, sizeof t);
	put16(t, s->lport);
	put16(t + 2, s->pport);
	put32(t + 4, snd_nxt);
	put32(t + 8, rcv_nxt);
	t[13] = 0x10;	/* ACK */
	put16(t + 14, win);
	if (s->flags & TCPR_F_TS) {
		t[20] = 1;
		t[21] = 1;
		t[22] = 8;
		t[23] = 10;
		put32(t + 24, tsval);
		put32(t + 28, tsecr);
		len = 32;
	}
	t[12] = (unsigned char)((len / 4) << 4);

	memset(&ss, 0, sizeof ss);
	memset(&cb, 0, sizeof cb);
	memset(&mh, 0, sizeof mh);
	iov.iov_base = t;
	iov.iov_len = len;
	mh.msg_name = &ss;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cb.b;
	cm = (struct cmsghdr *)cb.b;
	if (s->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		struct in_pktinfo pi;
		unsigned char ph[12];
		uint32_t acc;

		memset(ph, 0, sizeof ph);
		memcpy(ph, s->laddr, 4);
		memcpy(ph + 4, s->paddr, 4);
		ph[9] = IPPROTO_TCP;
		put16(ph + 10, (uint32_t)len);
		acc = sum16(sum16(0, ph, sizeof ph), t, len);
		put16(t + 16, fold(acc));
		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, s->paddr, 4);
		mh.msg_namelen = sizeof *in;
		memset(&pi, 0, sizeof pi);
		memcpy(&pi.ipi_spec_dst, s->laddr, 4);
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof pi);
		memcpy(CMSG_DATA(cm), &pi, sizeof pi);
		mh.msg_controllen = CMSG_SPACE(sizeof pi);
		fd = k->tcp4;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		struct in6_pktinfo pi;

		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, s->paddr, 16);
		mh.msg_namelen = sizeof *in6;
		memset(&pi, 0, sizeof pi);
		memcpy(&pi.ipi6_addr, s->laddr, 16);
		cm->cmsg_level = IPPROTO_IPV6;
		cm->cmsg_type = IPV6_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof pi);
		memcpy(CMSG_DATA(cm), &pi, sizeof pi);
		mh.msg_controllen = CMSG_SPACE(sizeof pi);
		fd = k->tcp6;
	}
	if (fd < 0) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	return sendmsg(fd, &mh, 0) < 0 ? -1 : 0;
}

int
tcpr_kick(const struct tcpr_kick *k, const struct tcpr_sess *s,
    uint32_t rcv_nxt, uint32_t snd_nxt, uint32_t tsval, int icmps,
    int dupacks)
{
	int i, n = 0, e = 0;

	for (i = 0; i < icmps; i++)
		if (send_icmp(k, s, rcv_nxt) == 0)
			n++;
		else
			e = errno;
	for (i = 0; i < dupacks && !(s->flags & TCPR_F_SACK); i++)
		/* tsecr 0: no echo, the peer takes nothing for undo or RTT */
		if (send_ack(k, s, rcv_nxt, snd_nxt, tsval, 0) == 0)
			n++;
		else
			e = errno;
	if (n == 0 && e) {
		errno = e;
		return -1;
	}
	return n;
}

int
tcpr_probe(const struct tcpr_kick *k, const struct tcpr_sess *s,
    uint32_t snd_una, uint32_t rcv_nxt, uint32_t tsval)
{
	return send_ack(k, s, rcv_nxt, snd_una - 1, tsval, s->ts_recent);
}

int
tcpr_seg_parse(const void *pkt, size_t len, struct tcpr_seg *g)
{
	const unsigned char *p = pkt, *t;
	size_t hl;

	memset(g, 0, sizeof *g);
	if (len < 1)
		goto bad;
	if (p[0] >> 4 == 4) {
		size_t tot;

		if (len < 20 || (hl = (size_t)(p[0] & 15) * 4) < 20 || p[9] != IPPROTO_TCP)
			goto bad;
		tot = (size_t)p[2] << 8 | p[3];
		if (tot < hl || tot > len)
			goto bad;
		if ((p[6] & 0x3f) || p[7])	/* a fragment: no whole header */
			goto bad;
		len = tot;
		g->family = AF_INET;
		memcpy(g->saddr, p + 12, 4);
		memcpy(g->daddr, p + 16, 4);
	} else if (p[0] >> 4 == 6) {
		if (len < 40 || p[6] != IPPROTO_TCP)
			goto bad;
		hl = 40;
		if (40 + ((size_t)p[4] << 8 | p[5]) < len)
			len = 40 + ((size_t)p[4] << 8 | p[5]);
		g->family = AF_INET6;
		memcpy(g->saddr, p + 8, 16);
		memcpy(g->daddr, p + 24, 16);
	} else
		goto bad;
	if (len < hl + 20)
		goto bad;
	t = p + hl;
	if ((size_t)(t[12] >> 4) * 4 < 20 || hl + (size_t)(t[12] >> 4) * 4 > len)
		goto bad;
	g->sport = (uint16_t)(t[0] << 8 | t[1]);
	g->dport = (uint16_t)(t[2] << 8 | t[3]);
	g->seq = (uint32_t)t[4] << 24 | (uint32_t)t[5] << 16 | (uint32_t)t[6] << 8 | t[7];
	g->ack = (uint32_t)t[8] << 24 | (uint32_t)t[9] << 16 | (uint32_t)t[10] << 8 | t[11];
	g->flags = t[13];
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

int
tcpr_probe_listen(void)
{
	return socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    htons(ETH_P_ALL));
}
