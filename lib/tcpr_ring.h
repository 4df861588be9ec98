/*
 * A small io_uring ring over the raw system calls (no liburing: Debian
 * 12's is too old for socket operations): queue many requests, submit
 * them and wait for their completions in one io_uring_enter. Enough for
 * tcpr-restore's batches; not a general library.
 */
#ifndef NONSTOP_TCPR_RING_H
#define NONSTOP_TCPR_RING_H

#include <stddef.h>
#include <stdint.h>
#include <linux/io_uring.h>

/* What older kernel headers (linux-libc-dev 6.1) lack: fixed numbers. */
#define TCPR_OP_SOCKET 45	/* IORING_OP_SOCKET, Linux 5.19 */
#define TCPR_OP_URING_CMD 46	/* IORING_OP_URING_CMD, 5.19 */
#define TCPR_OP_BIND 56		/* IORING_OP_BIND, 6.11 */
#define TCPR_SOCK_SETSOCKOPT 3	/* SOCKET_URING_OP_SETSOCKOPT, 6.7 */

struct tcpr_ring {
	int fd;
	unsigned sq_mask, sq_entries, cq_mask, cq_entries;
	unsigned *sq_head, *sq_tail, *cq_head, *cq_tail;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	void *sq_map, *cq_map;
	size_t sq_len, cq_len, sqes_len;
	unsigned tail;		/* our SQ tail, published at submit */
	unsigned queued;	/* SQEs filled since the last submit */
};

/*
 * A ring of at least entries SQEs (a power of two), completions twice
 * as many; 0, or -1 with errno (ENOSYS: no io_uring; EPERM: disabled).
 */
int tcpr_ring_open(struct tcpr_ring *r, unsigned entries);
void tcpr_ring_close(struct tcpr_ring *r);
/* close, leaving the memory mapped until exec or exit (no shootdown) */
void tcpr_ring_drop(struct tcpr_ring *r);

/* Is every opcode of ops[0..n) supported (IORING_REGISTER_PROBE)? */
int tcpr_ring_has(struct tcpr_ring *r, const uint8_t *ops, size_t n);

/* The next SQE, zeroed, or NULL when the queue is full (submit first). */
struct io_uring_sqe *tcpr_ring_sqe(struct tcpr_ring *r);

/* SQEs free before the next submit. */
unsigned tcpr_ring_room(const struct tcpr_ring *r);

/*
 * Submit what is queued and wait until at least nwait completions are
 * ready (the submitted requests' own, when nothing else is in flight).
 * 0, or -1 with errno when the kernel took nothing.
 */
int tcpr_ring_submit_wait(struct tcpr_ring *r, unsigned nwait);

/* Completions: the oldest unread one, or NULL; then mark it read. */
struct io_uring_cqe *tcpr_ring_cqe(struct tcpr_ring *r);
void tcpr_ring_cqe_seen(struct tcpr_ring *r);

/* A setsockopt as an SQE (uring_cmd on the socket, Linux 6.7). */
void tcpr_ring_prep_setsockopt(struct io_uring_sqe *q, int fd, int level,
    int name, const void *val, unsigned len);

#endif
