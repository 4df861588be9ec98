/* rtnetlink address and link calls with libmnl; see nl.h. */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "nl.h"

#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000	/* linux/if.h clashes with net/if.h */
#endif

struct nl {
	struct mnl_socket *sock;
	unsigned portid;
	unsigned seq;
};

struct nl *
nl_open(void)
{
	struct nl *nl = calloc(1, sizeof *nl);

	if (nl == NULL)
		return NULL;
	if ((nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC)) == NULL)
		goto fail;
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) == -1)
		goto fail;
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (unsigned)time(NULL);
	return nl;
fail:
	{
		int e = errno;
		if (nl->sock)
			mnl_socket_close(nl->sock);
		free(nl);
		errno = e;
	}
	return NULL;
}

void
nl_close(struct nl *nl)
{
	if (nl == NULL)
		return;
	mnl_socket_close(nl->sock);
	free(nl);
}

unsigned
nl_ifindex(const char *name)
{
	unsigned i = if_nametoindex(name);

	if (i == 0)
		errno = ENODEV;
	return i;
}

/* Send nlh and run cb over the replies until the ack or NLMSG_DONE. */
static int
talk(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned seq = nlh->nlmsg_seq = ++nl->seq;
	int r;

	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -1;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->sock, buf, sizeof buf);
		if (n == -1)
			return -1;
		r = mnl_cb_run(buf, n, seq, nl->portid, cb, data);
		if (r <= MNL_CB_STOP)
			return r == MNL_CB_ERROR ? -1 : 0;
	}
}

static struct nlmsghdr *
addr_msg(char *buf, int type, int flags, unsigned ifindex,
    const struct addr *a)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
	ifa->ifa_family = a->family;
	ifa->ifa_prefixlen = a->plen;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, addr_len(a), a->u.b);
	mnl_attr_put(nlh, IFA_ADDRESS, addr_len(a), a->u.b);
	return nlh;
}

int
nl_addr_add(struct nl *nl, unsigned ifindex, const struct addr *a,
    uint32_t valid_lft, uint32_t preferred_lft)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = addr_msg(buf, RTM_NEWADDR,
	    NLM_F_CREATE | NLM_F_REPLACE, ifindex, a);
	struct ifa_cacheinfo ci = {
		.ifa_prefered = preferred_lft,
		.ifa_valid = valid_lft,
	};
	uint32_t flags = a->family == AF_INET6 ? IFA_F_NODAD : 0;

	mnl_attr_put(nlh, IFA_CACHEINFO, sizeof ci, &ci);
	mnl_attr_put_u32(nlh, IFA_FLAGS, flags);
	return talk(nl, nlh, NULL, NULL);
}

int
nl_addr_del(struct nl *nl, unsigned ifindex, const struct addr *a)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = addr_msg(buf, RTM_DELADDR, 0, ifindex, a);

	if (talk(nl, nlh, NULL, NULL) == -1)
		return errno == EADDRNOTAVAIL || errno == ENODEV ? 0 : -1;
	return 0;
}

struct has_ctx {
	const struct addr *a;
	unsigned ifindex;
	int found;
};

static int
has_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, IFA_MAX) < 0)
		return MNL_CB_OK;
	tb[type] = attr;
	return MNL_CB_OK;
}

static int
has_cb(const struct nlmsghdr *nlh, void *data)
{
	struct has_ctx *c = data;
	struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFA_MAX + 1] = { 0 };
	const struct nlattr *at;

	if (ifa->ifa_family != c->a->family || ifa->ifa_index != c->ifindex)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof *ifa, has_attr_cb, tb);
	at = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (at && mnl_attr_get_payload_len(at) == addr_len(c->a) &&
	    memcmp(mnl_attr_get_payload(at), c->a->u.b, addr_len(c->a)) == 0)
		c->found = 1;
	return MNL_CB_OK;
}

int
nl_addr_has(struct nl *nl, unsigned ifindex, const struct addr *a)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	struct has_ctx c = { a, ifindex, 0 };

	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
	ifa->ifa_family = a->family;
	if (talk(nl, nlh, has_cb, &c) == -1)
		return -1;
	return c.found;
}

int
nl_link_mac(unsigned ifindex, unsigned char mac[6])
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = -1;

	if (fd == -1)
		return -1;
	memset(&ifr, 0, sizeof ifr);
	if (if_indextoname(ifindex, ifr.ifr_name) == NULL)
		goto out;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) == -1)
		goto out;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	rc = 0;
out:
	close(fd);
	return rc;
}

struct link_ctx {
	int up;
};

static int
link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_ctx *c = data;
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

	c->up = (ifi->ifi_flags & IFF_UP) && (ifi->ifi_flags & IFF_LOWER_UP);
	return MNL_CB_OK;
}

int
nl_link_up(struct nl *nl, unsigned ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;
	struct link_ctx c = { -1 };

	nlh->nlmsg_type = RTM_GETLINK;
	/* The ack ends the exchange; without it talk() would wait for more. */
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	if (talk(nl, nlh, link_cb, &c) == -1)
		return -1;
	return c.up;
}

int
nl_link_watch_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    NETLINK_ROUTE);

	if (fd == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

void
nl_link_watch_drain(int fd)
{
	char buf[8192];
	int i;

	/* Bounded: a storm of link messages must not starve the caller. */
	for (i = 0; i < 64; i++)
		if (recv(fd, buf, sizeof buf, MSG_DONTWAIT) <= 0)
			break;
}
