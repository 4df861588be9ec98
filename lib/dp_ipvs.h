/* IPVS dataplane over generic netlink; see dp.h and dp_ipvs.c. */
#ifndef NONSTOP_DP_IPVS_H
#define NONSTOP_DP_IPVS_H

#include "dp.h"

#endif
