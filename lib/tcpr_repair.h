/*
 * TCP_REPAIR both ways: read a live socket's state into a recovery record
 * (tcpr_repair_dump) and make a socket from a record that carries on the
 * same connection without the peer noticing (tcpr_repair_restore).
 * Both need CAP_NET_ADMIN.
 */
#ifndef NONSTOP_TCPR_REPAIR_H
#define NONSTOP_TCPR_REPAIR_H

#include <stddef.h>
#include <stdint.h>

#include "tcpr_rec.h"

/*
 * Read the state of connected TCP socket fd into *s (sid given), leaving
 * the socket as it was: repair on, read, repair off without a window probe.
 * *unread gets the bytes the application has not read yet (they are
 * acknowledged to the peer, so a restore cannot bring them back).
 * Returns 0, or -1 with errno and *why (ENOTCONN: not in a state that can
 * be recorded, e.g. listening, SYN or TIME-WAIT).
 */
int tcpr_repair_dump(int fd, uint32_t sid, struct tcpr_sess *s,
    size_t *unread, const char **why);

#define TCPR_RESTORE_PROBE   0x1	/* leave repair with a window probe */
#define TCPR_RESTORE_KEEP    0x2	/* stay in repair mode (dry run) */
#define TCPR_RESTORE_UNA     0x4	/* send from snd_una: the app re-sends */
#define TCPR_RESTORE_LOCAL   0x8	/* the local address is up: no free bind */

/*
 * A socket carrying on session s: repair on, bind (free bind: the address
 * need not be up yet), queue sequence numbers, connect (silent), options,
 * timestamp (tsval + ts_add), window, repair off (silent, unless
 * TCPR_RESTORE_PROBE: then a window probe the peer answers), and
 * shutdown(SHUT_WR) when our FIN was sent. The socket sends its next byte at offset snd_nxt:
 * output in flight at the crash is taken as delivered. With
 * TCPR_RESTORE_UNA it sends from snd_una instead, and the application
 * re-sends what was not acknowledged as new data (libtcpr keeps it).
 * Returns the descriptor (without FD_CLOEXEC), or -1 with errno and *why
 * naming the step that failed.
 */
int tcpr_repair_restore(const struct tcpr_sess *s, uint32_t ts_add,
    int flags, const char **why);

/*
 * tcpr_repair_restore in two halves: prepare (socket, repair mode, free
 * bind, sequence numbers, MSS: nothing shared with other sockets) returns
 * the socket; finish (bind, connect, options, timestamp, window, repair
 * off) completes it and returns fd, or closes it and returns -1. The
 * halves may run in different threads, one ahead of the other.
 */
int tcpr_repair_prepare(const struct tcpr_sess *s, int flags,
    const char **why);
int tcpr_repair_finish(int fd, const struct tcpr_sess *s, uint32_t ts_add,
    int flags, const char **why);

/*
 * tcpr_repair_restore through io_uring (Linux 6.11: socket, setsockopt,
 * bind and connect requests), batches of up to cap sessions through one
 * ring: a few io_uring_enter calls per batch instead of 14 system calls
 * per session. new returns NULL with errno when the kernel cannot
 * (ENOSYS, EPERM: io_uring disabled; with probe, EOPNOTSUPP: requests
 * missing). Without probe (which costs 15-30 us) a kernel without the
 * requests refuses the first of them, and the ring gives way to system
 * calls.
 * restore makes fd[0..m) from v[0..m), each session's timestamp advanced
 * by ts_add plus age[k] (age may be NULL): fd[k] the socket (close-on-
 * exec), or -1 with why[k] (the step) and err[k] (errno). Whatever the
 * ring did not surely do (a step that failed in it, the answers of a
 * ring that broke) is done by system calls, safely redone; calls counts
 * those steps. Returns 0, or -1 with errno EINVAL (m > cap).
 * lose, for tests: the n-th submission's answers are lost (the ring
 * breaks after the kernel did the work).
 */
#define TCPR_REPAIR_BATCH 32
struct tcpr_repair_ring;
struct tcpr_repair_ring *tcpr_repair_ring_new(size_t cap, int probe);
/*
 * Free h; the ring's memory stays mapped until exec or exit: unmapping
 * it costs a TLB shootdown on every processor the process's threads ran
 * on (tens of microseconds in a virtual machine).
 */
void tcpr_repair_ring_drop(struct tcpr_repair_ring *h);
int tcpr_repair_ring_restore(struct tcpr_repair_ring *h,
    const struct tcpr_sess *v, size_t m, uint32_t ts_add,
    const uint64_t *age, int flags, int *fd, const char **why, int *err);
size_t tcpr_repair_ring_calls(const struct tcpr_repair_ring *h);
void tcpr_repair_ring_lose(struct tcpr_repair_ring *h, unsigned n);

/* A stable session id from the four-tuple, never 0. */
uint32_t tcpr_sess_hash(const struct tcpr_sess *s);

#endif
