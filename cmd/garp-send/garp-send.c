/*
 * garp-send: announce addresses on an interface so that peers update their
 * neighbour entries now: gratuitous ARP for IPv4, unsolicited NA for IPv6.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <net/if.h>

#include "addr.h"
#include "arp.h"
#include "err.h"
#include "kv.h"
#include "nl.h"
#include "priv.h"

#define MAX_COUNT 1000000UL
#define MAX_INTERVAL 3600000UL	/* one hour, in ms */

/* One line: what was wrong with the options, then the synopsis. */
static void __attribute__((noreturn))
usage(int opt, int missing)
{
	fprintf(stderr, "%s: fatal: %s -%c; usage: %s [-nqrVv] [-c count] "
	    "[-t interval_ms] -i interface address ...\n", err_prog,
	    missing ? "missing value for option" : "unknown option",
	    opt, err_prog);
	exit(EXIT_BAD);
}

/* Strict decimal in [min, max]; anything else is a usage error. */
static unsigned long
number(const char *s, char opt, unsigned long min, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 ||
	    v < min || v > max)
		err_die(EXIT_BAD, "bad -%c value: %s (want %lu..%lu)", opt, s,
		    min, max);
	return v;
}

/* Addresses no neighbour entry can hold are refused rather than sent. */
static const char *
unannounceable(const struct addr *a)
{
	if (a->family == AF_INET) {
		unsigned char b0 = a->u.b[0];
		if (a->u.v4.s_addr == 0)
			return "unspecified address";
		if (a->u.v4.s_addr == 0xffffffffu)
			return "broadcast address";
		if (b0 == 127)
			return "loopback address";
		if (b0 >= 224)
			return "multicast or reserved address";
		return NULL;
	}
	if (IN6_IS_ADDR_UNSPECIFIED(&a->u.v6))
		return "unspecified address";
	if (IN6_IS_ADDR_LOOPBACK(&a->u.v6))
		return "loopback address";
	if (IN6_IS_ADDR_MULTICAST(&a->u.v6))
		return "multicast address";
	if (IN6_IS_ADDR_V4MAPPED(&a->u.v6))
		return "IPv4-mapped address";
	return NULL;
}

static void
sleep_until(const struct timespec *t)
{
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, t, NULL) == EINTR)
		;
}

static double
ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 +
	    (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

int
main(int argc, char **argv)
{
	const char *ifname = NULL;
	unsigned long count = 3, interval = 100, round;
	int c, check = 0, quiet = 0, verbose = 0, reply = 0, fd, failed = 0;
	int naddr, k;
	struct addr *addrs;
	unsigned ifindex;
	unsigned char mac[6];
	char macs[18];
	struct timespec t0, next;

	err_init(argv[0]);
	opterr = 0;
	while ((c = getopt(argc, argv, ":c:i:nqrt:Vv")) != -1) {
		switch (c) {
		case 'c':
			count = number(optarg, 'c', 1, MAX_COUNT);
			break;
		case 'i':
			ifname = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'r':
			reply = 1;
			break;
		case 't':
			interval = number(optarg, 't', 0, MAX_INTERVAL);
			break;
		case 'V':
			printf("garp-send %s\n", VERSION);
			err_check_stdout();
			return EXIT_OK;
		case 'v':
			verbose++;
			break;
		case ':':
			usage(optopt, 1);
		default:
			usage(optopt, 0);
		}
	}
	argc -= optind;
	argv += optind;
	if (quiet && verbose)
		err_die(EXIT_BAD, "-q and -v exclude each other");
	if (ifname == NULL)
		err_die(EXIT_BAD, "no interface given (-i)");
	if (argc == 0)
		err_die(EXIT_BAD, "no address given");
	err_verbose = verbose > 1 ? verbose - 1 : 0;

	if ((addrs = calloc((size_t)argc, sizeof *addrs)) == NULL)
		err_die(EXIT_TEMP, "unable to allocate:");
	naddr = argc;
	for (k = 0; k < naddr; k++) {
		const char *why;
		if (addr_parse(argv[k], &addrs[k]) == -1)
			err_die(EXIT_BAD, "bad address: %s", argv[k]);
		if ((why = unannounceable(&addrs[k])) != NULL)
			err_die(EXIT_BAD, "bad address: %s: %s", argv[k], why);
	}

	if (strlen(ifname) >= IF_NAMESIZE || (ifindex = nl_ifindex(ifname)) == 0)
		err_die(EXIT_BAD, "bad interface: %s: no such interface", ifname);
	if (nl_link_mac(ifindex, mac) == -1)
		err_die(EXIT_TEMP, "unable to read the hardware address of %s:",
		    ifname);
	if (memcmp(mac, "\0\0\0\0\0\0", 6) == 0)
		err_die(EXIT_BAD, "bad interface: %s: no Ethernet address",
		    ifname);
	snprintf(macs, sizeof macs, "%02x:%02x:%02x:%02x:%02x:%02x",
	    mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	err_debug("interface %s index %u hardware address %s, %d address%s, "
	    "%lu round%s at %lu ms", ifname, ifindex, macs, naddr,
	    naddr == 1 ? "" : "es", count, count == 1 ? "" : "s", interval);
	if (check) {
		if (!quiet)
			fprintf(stderr, "%s: configuration OK\n", err_prog);
		return EXIT_OK;
	}

	if ((fd = arp_open(ifindex)) == -1)
		err_die(EXIT_TEMP, "unable to open a packet socket on %s:", ifname);
	/* The socket is all we need: keep no capability at all. */
	if (priv_drop(NULL, NULL, 0) == -1)
		err_die(EXIT_TEMP, "unable to drop privileges:");
	err_debug("packet socket open; all capabilities dropped");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	next = t0;
	for (round = 1; round <= count; round++) {
		for (k = 0; k < naddr; k++) {
			const struct addr *a = &addrs[k];
			char as[ADDR_STRLEN], rs[24], ts[32];
			const char *kind;

			addr_fmt(a, as, sizeof as);
			if (arp_announce(fd, ifindex, mac, a, reply) == -1) {
				/* Per address: keep going, fail at the end. */
				if (!quiet)
					err_warn("unable to announce %s on %s:",
					    as, ifname);
				failed = 1;
				continue;
			}
			if (!verbose)
				continue;
			kind = a->family == AF_INET6 ? "na" :
			    reply ? "reply" : "request";
			snprintf(rs, sizeof rs, "%lu", round);
			snprintf(ts, sizeof ts, "%.3f", ms_since(&t0));
			kv_fput(stdout, 1, "event", "sent");
			kv_fput(stdout, 0, "interface", ifname);
			kv_fput(stdout, 0, "address", as);
			kv_fput(stdout, 0, "mac", macs);
			kv_fput(stdout, 0, "kind", kind);
			kv_fput(stdout, 0, "round", rs);
			kv_fput(stdout, 0, "ms", ts);
			putchar('\n');
			/* Pipe readers see each packet as it goes. */
			fflush(stdout);
		}
		if (round == count || interval == 0)
			continue;
		/* Absolute deadlines: the rounds keep their spacing under load. */
		next.tv_sec += (time_t)(interval / 1000);
		next.tv_nsec += (long)(interval % 1000) * 1000000L;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		sleep_until(&next);
	}
	close(fd);
	free(addrs);
	err_check_stdout();
	return failed ? EXIT_TEMP : EXIT_OK;
}
