/*
 * Address announcements from a raw packet socket: gratuitous ARP for IPv4
 * (request or reply form) and unsolicited neighbour advertisements for
 * IPv6, so that peers move an address's neighbour entry to our MAC at once.
 */
#ifndef NONSTOP_ARP_H
#define NONSTOP_ARP_H

#include "addr.h"

/* An AF_PACKET raw socket bound to ifindex for sending announcements; fd or -1. */
int arp_open(unsigned ifindex);
/*
 * Gratuitous ARP for ip from mac, broadcast: request form (reply == 0:
 * op 1, target hardware address zero) or reply form (reply == 1: op 2,
 * target hardware address = mac, as Linux wants for a gratuitous reply).
 * 0 or -1 with errno.
 */
int arp_send4(int fd, unsigned ifindex, const unsigned char mac[6],
    const struct in_addr *ip, int reply);
/*
 * Unsolicited neighbour advertisement for ip to ff02::1 (override flag,
 * target link-layer address option), built by hand with a correct ICMPv6
 * checksum; source address ip itself, hop limit 255. 0 or -1 with errno.
 */
int arp_send6(int fd, unsigned ifindex, const unsigned char mac[6],
    const struct in6_addr *ip);
/* Dispatch on a->family (reply only matters for IPv4). 0 or -1 with errno. */
int arp_announce(int fd, unsigned ifindex, const unsigned char mac[6],
    const struct addr *a, int reply);

#endif
