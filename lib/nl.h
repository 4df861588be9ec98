/*
 * rtnetlink with libmnl: addresses with lifetimes (leases) and link state.
 * All calls are synchronous request/ack on the handle's socket.
 */
#ifndef NONSTOP_NL_H
#define NONSTOP_NL_H

#include <stdint.h>

#include "addr.h"

struct nl;

#define NL_FOREVER 0xFFFFFFFFu

struct nl *nl_open(void);
void nl_close(struct nl *nl);
/* Interface index of name, or 0 with errno ENODEV. */
unsigned nl_ifindex(const char *name);
/*
 * Add, or renew when present, a on ifindex with the given lifetimes in
 * seconds (NL_FOREVER for none). The kernel removes the address when
 * valid_lft runs out, so a holder that dies loses it by itself.
 * IPv6 addresses skip DAD. Returns 0 or -1 with errno from the kernel.
 */
int nl_addr_add(struct nl *nl, unsigned ifindex, const struct addr *a,
    uint32_t valid_lft, uint32_t preferred_lft);
/* Remove a; 0 also when it was not there. */
int nl_addr_del(struct nl *nl, unsigned ifindex, const struct addr *a);
/* 1 if a is on ifindex, 0 if not, -1 on error. */
int nl_addr_has(struct nl *nl, unsigned ifindex, const struct addr *a);
/* Hardware address of ifindex into mac[6]; 0 or -1. */
int nl_link_mac(unsigned ifindex, unsigned char mac[6]);
/* 1 if ifindex is up with carrier, 0 if not, -1 on error. */
int nl_link_up(struct nl *nl, unsigned ifindex);

/*
 * A socket subscribed to link changes (RTMGRP_LINK), non-blocking. When it
 * is readable, call nl_link_watch_drain() and re-read nl_link_up().
 */
int nl_link_watch_open(void);
void nl_link_watch_drain(int fd);

#endif
