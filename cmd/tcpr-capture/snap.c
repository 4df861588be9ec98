/*
 * tcpr-capture snap: record the TCP sessions of running processes, taking
 * their sockets with pidfd_getfd(2) and reading them in repair mode.
 */
#include <sys/socket.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "err.h"
#include "tcpr_rec.h"
#include "tcpr_repair.h"

static void
write_rec(const struct tcpr_sess *s, uint64_t cookie, void *arg)
{
	(void)cookie;
	unsigned char rec[TCPR_REC_FULL_LEN];

	(void)arg;
	if (tcpr_rec_encode_full(s, rec, sizeof rec) < 0)
		return;
	if (fwrite(rec, sizeof rec, 1, stdout) != 1)
		err_die(EXIT_TEMP, "unable to write records:");
}

static int
snap_fd(int fd, const struct capture_opts *o, int *nrec, snap_cb cb, void *arg)
{
	struct tcpr_sess s;
	const char *why;
	size_t unread;
	int type, proto;
	socklen_t l = sizeof type;

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) < 0 ||
	    type != SOCK_STREAM)
		return 0;
	l = sizeof proto;
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &l) < 0 ||
	    proto != IPPROTO_TCP)
		return 0;
	if (tcpr_repair_dump(fd, 1, &s, &unread, &why) < 0) {
		if (errno == ENOTCONN)
			return 0;	/* listening, closing: nothing to record */
		err_warn("unable to read a socket (%s):", why);
		return -1;
	}
	if (o->port && s.lport != o->port)
		return 0;
	s.sid = tcpr_sess_hash(&s);
	if (unread)
		err_warn("sid %u: %zu bytes acknowledged but unread by the "
		    "application are lost on restore", s.sid, unread);
	{
		uint64_t cookie = 0;

		l = sizeof cookie;
		if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &l) < 0)
			cookie = 0;
		cb(&s, cookie, arg);
	}
	++*nrec;
	return 0;
}

int
snap_pid(pid_t pid, const struct capture_opts *o, int *nrec, snap_cb cb,
    void *arg)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int pfd, rc = 0;

	snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
	if ((pfd = (int)syscall(SYS_pidfd_open, pid, 0)) < 0 ||
	    (d = opendir(path)) == NULL) {
		err_warn("process %ld:", (long)pid);
		if (pfd >= 0)
			close(pfd);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		char link[64], lpath[320];
		ssize_t n;
		int tfd, fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(lpath, sizeof lpath, "%s/%s", path, e->d_name);
		n = readlink(lpath, link, sizeof link - 1);
		if (n < 8 || strncmp(link, "socket:[", 8) != 0)
			continue;
		tfd = atoi(e->d_name);
		if ((fd = (int)syscall(SYS_pidfd_getfd, pfd, tfd, 0)) < 0) {
			err_warn("process %ld fd %d:", (long)pid, tfd);
			rc = -1;
			continue;
		}
		if (snap_fd(fd, o, nrec, cb, arg) < 0)
			rc = -1;
		close(fd);
	}
	closedir(d);
	close(pfd);
	return rc;
}

int
capture_snap(const struct capture_opts *o, int argc, char **argv)
{
	int i, nrec = 0, bad = 0;

	if (argc < 1)
		err_die(EXIT_BAD, "snap needs a process id");
	for (i = 0; i < argc; i++) {
		char *end;
		long pid = strtol(argv[i], &end, 10);

		if (*end || end == argv[i] || pid < 1 || pid > INT_MAX)
			err_die(EXIT_BAD, "bad process id %s", argv[i]);
	}
	if (o->check)
		return EXIT_OK;
	for (i = 0; i < argc; i++)
		if (snap_pid((pid_t)atol(argv[i]), o, &nrec, write_rec, NULL) < 0)
			bad = 1;
	err_check_stdout();
	err_info("%d sessions recorded", nrec);
	return bad ? EXIT_NO : EXIT_OK;
}
