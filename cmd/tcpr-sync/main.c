/*
 * tcpr-sync: ship TCP recovery records from the master to the backup and
 * keep the backup's session store; dump records and stores as text.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "sync.h"
#include "table.h"
#include "tcpr_rec.h"
#include "tcpr_store.h"

static void
usage(void)
{
	fprintf(stderr, "usage: tcpr-sync [-nqRvV] [-k keyfile] [-s dir] "
	    "[-t ms] dump [file ...] | list | apply [file] | "
	    "send host:port | recv [addr:]port\n");
	exit(EXIT_BAD);
}

struct recs {
	int *type;
	struct tcpr_sess *s;
	size_t n, cap;
};

/* Read a whole record stream from fd; die 100 on the first bad record. */
static void
read_stream(int fd, const char *name, struct recs *out, int print)
{
	unsigned char buf[65536];
	size_t have = 0, off = 0;
	unsigned long long pos = 0;
	int eof = 0;

	while (!eof || have > 0) {
		struct tcpr_sess s;
		const char *why = "";
		int type, r;

		if (!eof && have < TCPR_REC_MAXLEN) {
			ssize_t n;

			memmove(buf, buf + off, have);
			off = 0;
			n = read(fd, buf + have, sizeof buf - have);
			if (n == -1) {
				if (errno == EINTR)
					continue;
				err_die(EXIT_TEMP, "unable to read %s:", name);
			}
			if (n == 0)
				eof = 1;
			have += (size_t)n;
			continue;
		}
		r = tcpr_rec_decode(buf + off, have, &type, &s, &why);
		if (r < 0)
			err_die(EXIT_BAD, "%s: bad record at byte %llu: %s", name,
			    pos, why);
		if (r == 0)
			err_die(EXIT_BAD, "%s: truncated record at byte %llu",
			    name, pos);
		if (print) {
			char line[512];

			tcpr_rec_fmt(type, &s, line, sizeof line);
			printf("%s\n", line);
		}
		if (out) {
			if (out->n == out->cap) {
				out->cap = out->cap ? out->cap * 2 : 256;
				out->s = realloc(out->s, out->cap * sizeof *out->s);
				out->type = realloc(out->type,
				    out->cap * sizeof *out->type);
				if (out->s == NULL || out->type == NULL)
					err_die(EXIT_TEMP, "out of memory");
			}
			out->s[out->n] = s;
			out->type[out->n++] = type;
		}
		off += (size_t)r;
		have -= (size_t)r;
		pos += (unsigned long long)r;
	}
}

static int
open_in(const char *path)
{
	int fd;

	if (path == NULL || strcmp(path, "-") == 0)
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		err_die(errno == ENOENT || errno == EACCES ? EXIT_BAD : EXIT_TEMP,
		    "unable to open %s:", path);
	return fd;
}

static int
cmd_dump(int argc, char **argv)
{
	int i;

	if (argc == 0)
		read_stream(0, "stdin", NULL, 1);
	for (i = 0; i < argc; i++) {
		int fd = open_in(argv[i]);

		read_stream(fd, fd ? argv[i] : "stdin", NULL, 1);
		if (fd)
			close(fd);
	}
	err_check_stdout();
	return EXIT_OK;
}

static void
bad_file(const char *name, const char *why)
{
	err_warn("store: skipping %s: %s", name, why);
}

static int
cmd_list(const char *dir)
{
	struct tcpr_sess *v;
	size_t n, nbad, i;
	char line[512];

	if (dir == NULL)
		err_die(EXIT_BAD, "list needs a store folder (-s)");
	if (tcpr_store_load(dir, &v, &n, &nbad, bad_file) < 0)
		err_die(errno == ENOENT ? EXIT_BAD : EXIT_TEMP,
		    "unable to read store %s:", dir);
	for (i = 0; i < n; i++) {
		tcpr_rec_fmt(TCPR_REC_FULL, &v[i], line, sizeof line);
		printf("%s\n", line);
	}
	free(v);
	err_check_stdout();
	return nbad ? EXIT_NO : EXIT_OK;
}

/*
 * Apply a record stream to the store all or nothing: the whole stream is
 * checked against a copy in memory first, so bad input changes nothing.
 */
static int
cmd_apply(const char *dir, const char *path)
{
	struct recs r = { 0 };
	struct table t;
	size_t i, nbad;
	const char *why;
	int fd = open_in(path);

	if (dir == NULL)
		err_die(EXIT_BAD, "apply needs a store folder (-s)");
	read_stream(fd, fd ? path : "stdin", &r, 0);
	if (table_open(&t, dir, &nbad) < 0)
		err_die(errno == ENOENT ? EXIT_BAD : EXIT_TEMP,
		    "unable to read store %s:", dir);
	t.dir = NULL;
	for (i = 0; i < r.n; i++)
		if (table_apply(&t, r.type[i], &r.s[i], &why) < 0)
			err_die(EXIT_BAD, "record %zu (sid %u): %s", i + 1,
			    r.s[i].sid, why);
	table_close(&t);
	if (table_open(&t, dir, &nbad) < 0)
		err_die(EXIT_TEMP, "unable to read store %s:", dir);
	for (i = 0; i < r.n; i++)
		if (table_apply(&t, r.type[i], &r.s[i], &why) < 0)
			err_die(EXIT_TEMP, "store %s: %s", dir, why);
	if (table_flush(&t) < 0 || table_compact(&t) < 0)
		err_die(EXIT_TEMP, "unable to write store %s:", dir);
	err_debug("applied %zu records, %zu sessions stored", r.n, t.n);
	table_close(&t);
	free(r.s);
	free(r.type);
	return EXIT_OK;
}

int
main(int argc, char **argv)
{
	struct sync_opts o = { .interval = 100 };
	int c, check = 0;

	err_init(argv[0]);
	while ((c = getopt(argc, argv, "k:nRs:t:qvV")) != -1) {
		switch (c) {
		case 'k':
			o.keyfile = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'R':
			o.realtime = 1;
			break;
		case 's':
			o.dir = optarg;
			break;
		case 't': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || end == optarg || v < 1 || v > 60000)
				err_die(EXIT_BAD, "bad interval %s (1-60000 ms)",
				    optarg);
			o.interval = (int)v;
			break;
		}
		case 'q':
			err_verbose = -1;
			break;
		case 'v':
			err_verbose++;
			break;
		case 'V':
			printf("tcpr-sync %s\n", VERSION);
			return EXIT_OK;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	if (strcmp(argv[0], "dump") == 0) {
		if (check)
			return EXIT_OK;
		return cmd_dump(argc - 1, argv + 1);
	}
	if (strcmp(argv[0], "list") == 0) {
		if (argc != 1)
			usage();
		return check ? EXIT_OK : cmd_list(o.dir);
	}
	if (strcmp(argv[0], "apply") == 0) {
		if (argc > 2)
			usage();
		return check ? EXIT_OK : cmd_apply(o.dir, argc == 2 ? argv[1] : NULL);
	}
	if (strcmp(argv[0], "send") == 0 || strcmp(argv[0], "recv") == 0) {
		if (argc != 2)
			usage();
		o.peer = argv[1];
		if (argv[0][0] == 's')
			return sync_send(&o, check);
		return sync_recv(&o, check);
	}
	usage();
}
