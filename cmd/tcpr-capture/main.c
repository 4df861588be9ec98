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
	fprintf(stderr, "usage: tcpr-capture [-GnqRvVx] [-C file] [-P pid] [-Q queue] [-t ms] -p port "
	    "| tcpr-capture [-nqvV] [-p port] snap pid ...\n");
	exit(EXIT_BAD);
}

int
main(int argc, char **argv)
{
	struct capture_opts o = { .interval = 10, .queue = 31000 };
	int c;

	err_init(argv[0]);
	while ((c = getopt(argc, argv, "C:GnP:p:qQ:Rt:vVx")) != -1) {
		switch (c) {
		case 'C':
			o.consumed = optarg;
			break;
		case 'G':
			o.nogate = 1;
			break;
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
		case 'R':
			o.realtime = 1;
			break;
		case 'q':
			err_verbose = -1;
			break;
		case 'Q':
		case 't': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || end == optarg || v < (c == 't') ||
			    v > (c == 't' ? 10000 : 65535))
				err_die(EXIT_BAD, "bad %s %s", c == 't' ?
				    "interval" : "queue number", optarg);
			if (c == 't')
				o.interval = (int)v;
			else
				o.queue = (uint16_t)v;
			break;
		}
		case 'P': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || end == optarg || v < 1 || v > 0x7fffffffL)
				err_die(EXIT_BAD, "bad process id %s", optarg);
			o.adopt = v;
			break;
		}
		case 'x':
			o.exact = 1;
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
	if (o.consumed && !o.exact)
		err_die(EXIT_BAD, "-C needs the exact mode (-x)");
	if (argc == 0)
		return capture_run(&o);
	if (strcmp(argv[0], "snap") == 0)
		return capture_snap(&o, argc - 1, argv + 1);
	usage();
}
