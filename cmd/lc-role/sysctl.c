/* sysctl by dotted key under /proc/sys, for the ARP settings of a real server. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lc-role.h"

static int
sysctl_path(const char *key, char *path, size_t size)
{
	size_t i, n;

	if (snprintf(path, size, "/proc/sys/%s", key) >= (int)size)
		return -1;
	n = strlen(path);
	for (i = 10; i < n; i++)
		if (path[i] == '.')
			path[i] = '/';
	return 0;
}

int
sysctl_get(const char *key, char *val, size_t size)
{
	char path[160];
	ssize_t n;
	int fd;

	if (sysctl_path(key, path, sizeof path) == -1 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, val, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	val[n] = '\0';
	val[strcspn(val, "\n")] = '\0';
	return 0;
}

int
sysctl_set(const char *key, const char *val)
{
	char path[160];
	size_t n = strlen(val);
	int fd, e;

	if (sysctl_path(key, path, sizeof path) == -1 ||
	    (fd = open(path, O_WRONLY | O_CLOEXEC)) == -1)
		return -1;
	if (write(fd, val, n) != (ssize_t)n) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}
