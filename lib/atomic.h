/*
 * Crash-safe file replacement: a reader sees the old file or the new one,
 * never a torn one, whatever instant the writer is killed at.
 */
#ifndef NONSTOP_ATOMIC_H
#define NONSTOP_ATOMIC_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Replace path with len bytes of buf: write <path>.tmp (O_EXCL, mode),
 * fsync, rename over path, fsync the folder. Returns 0, or -1 with errno
 * set and the temp file removed; path is then unchanged.
 */
int atomic_write(const char *path, const void *buf, size_t len, mode_t mode);
/* The same for a NUL-terminated string. */
int atomic_write_str(const char *path, const char *s, mode_t mode);
/* Read a whole (small) file into a NUL-terminated malloc'd buffer. */
char *atomic_read(const char *path, size_t max, size_t *len);

#endif
