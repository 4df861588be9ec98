/*
 * snmp-push: drive lib/snmp_push the way lc-build apply does, for tests
 * and benchmarks. Each operand is NAME,PEER,ROLEFILE; prints one line per
 * host and exits 1 if any host failed.
 * usage: snmp-push -k credentials [-w timeout-ms] [-T tries] NAME,PEER,FILE...
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "err.h"
#include "kv.h"
#include "snmp_push.h"

int
main(int argc, char **argv)
{
	struct snmp_creds c;
	struct snmp_push_host *h;
	const char *creds = NULL;
	char why[256];
	unsigned timeout = 1000;
	int tries = 2, ch, i, n, failed;
	struct timespec t0, t1;

	err_init(argv[0]);
	while ((ch = getopt(argc, argv, "k:T:w:")) != -1) {
		switch (ch) {
		case 'k': creds = optarg; break;
		case 'T': tries = atoi(optarg); break;
		case 'w': timeout = (unsigned)atoi(optarg); break;
		default: goto usage;
		}
	}
	if (creds == NULL || optind == argc || tries < 1 || timeout < 10)
		goto usage;
	n = argc - optind;
	if ((h = calloc((size_t)n, sizeof *h)) == NULL)
		err_die(EXIT_TEMP, "out of memory");
	for (i = 0; i < n; i++) {
		char *a = argv[optind + i], *p1, *p2;
		size_t len;
		if ((p1 = strchr(a, ',')) == NULL || (p2 = strchr(p1 + 1, ',')) == NULL)
			goto usage;
		*p1 = *p2 = '\0';
		h[i].name = a, h[i].peer = p1 + 1;
		if ((h[i].text = atomic_read(p2 + 1, 1 << 16, &len)) == NULL)
			err_die(EXIT_BAD, "unable to read %s:", p2 + 1);
	}
	snmp_lib_init("snmp-push");
	if (snmp_creds_load(creds, &c, why, sizeof why) == -1)
		err_die(EXIT_BAD, "%s", why);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	failed = snmp_push(&c, h, (size_t)n, timeout, tries);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (failed < 0)
		err_die(EXIT_TEMP, "push:");
	for (i = 0; i < n; i++) {
		kv_fput(stdout, 1, "host", h[i].name);
		kv_fput(stdout, 0, "result", h[i].status == 0 ? "ok" : "failed");
		if (h[i].status != 0)
			kv_fput(stdout, 0, "reason", h[i].why);
		printf(" ms=%u tries=%d\n", h[i].ms, h[i].tries);
	}
	fprintf(stderr, "snmp-push: %d hosts, %d failed, %ld ms\n", n, failed,
	    (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
	snmp_creds_wipe(&c);
	err_check_stdout();
	return failed ? EXIT_NO : EXIT_OK;
usage:
	fprintf(stderr, "usage: snmp-push -k credentials [-T tries] [-w timeout] name,peer,file ...\n");
	return EXIT_BAD;
}
