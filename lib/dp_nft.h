/* nftables dataplane (netdev ingress DR); see dp.h and dp_nft.c. */
#ifndef NONSTOP_DP_NFT_H
#define NONSTOP_DP_NFT_H

#include "dp.h"

/* The nft table this dataplane owns, for messages and tests. */
#define DP_NFT_TABLE "netdev nonstop"

#endif
