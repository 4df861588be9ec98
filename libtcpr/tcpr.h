/*
 * libtcpr: the application side of nonstop's TCP session recovery.
 * The calls take the parameters of their BSD socket namesakes. On a
 * backup that took over, tcpr_accept() first returns the sessions that
 * tcpr-restore(8) restored, and tcpr_offsets() tells where each stream
 * stands, so the application resumes them; then new connections.
 * See tcpr(3).
 */
#ifndef TCPR_H
#define TCPR_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TCPR_VERSION_MAJOR 0
#define TCPR_VERSION_MINOR 1

int tcpr_socket(int domain, int type, int protocol);
/* bind(2), with SO_REUSEADDR so the service port is shared with the
 * restored sessions. */
int tcpr_bind(int fd, const struct sockaddr *addr, socklen_t len);
int tcpr_listen(int fd, int backlog);
/*
 * accept(2); restored sessions of fd's local port come first, each once,
 * without blocking. tcpr_pending(fd) says how many are still to come.
 */
int tcpr_accept(int fd, struct sockaddr *addr, socklen_t *len);
int tcpr_pending(int fd);
ssize_t tcpr_recv(int fd, void *buf, size_t len, int flags);
ssize_t tcpr_send(int fd, const void *buf, size_t len, int flags);
int tcpr_shutdown(int fd, int how);
int tcpr_close(int fd);

/* 1 if fd is a restored session, 0 if not, -1 (EBADF) if not ours. */
int tcpr_restored(int fd);
/*
 * Stream offsets of session fd: *in, input bytes delivered to the
 * application since the session began (on the old master too); *out,
 * output bytes accepted from it. Either pointer may be NULL.
 */
int tcpr_offsets(int fd, uint64_t *in, uint64_t *out);
/*
 * Marks. tcpr_consumed: the application is done with n more input bytes
 * (they need not come back after a failover); by default everything
 * tcpr_recv returns counts as consumed unless tcpr_manual(fd, 1) was
 * called. tcpr_safe: the output offset the peer has acknowledged;
 * output below it may be forgotten.
 */
int tcpr_manual(int fd, int on);
int tcpr_consumed(int fd, size_t n);
int tcpr_safe(int fd, uint64_t *off);
/* The input offset consumed so far. */
int tcpr_checkpoint(int fd, uint64_t *off);

#ifdef __cplusplus
}
#endif

#endif
