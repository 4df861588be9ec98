/*
 * tcpr-capture: record the recovery state of a service's TCP sessions as
 * tcpr-records(5) on standard output, for tcpr-sync to ship.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "err.h"

static void
usage(void)
{
	fprintf(stderr, "usage: tcpr-capture [-nqvV] [-p port] snap pid ...\n");
	exit(EXIT_BAD);
}

int
main(int argc, char **argv)
{
	struct capture_opts o = { 0 };
	int c;

	err_init(argv[0]);
	while ((c = getopt(argc, argv, "np:qvV")) != -1) {
		switch (c) {
		case 'n':
			o.check = 1;
			break;
		case 'p': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || end == optarg || v < 1 || v > 65535)
				err_die(EXIT_BAD, "bad port %s", optarg);
			o.port = (uint16_t)v;
			break;
		}
		case 'q':
			err_verbose = -1;
			break;
		case 'v':
			err_verbose++;
			break;
		case 'V':
			printf("tcpr-capture %s\n", VERSION);
			return EXIT_OK;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	if (strcmp(argv[0], "snap") == 0)
		return capture_snap(&o, argc - 1, argv + 1);
	usage();
}
