/* A minimal io_uring ring on the raw system calls. */
#include <sys/mman.h>
#include <sys/syscall.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tcpr_ring.h"

#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#define __NR_io_uring_enter 426
#define __NR_io_uring_register 427
#endif

static int
sys_setup(unsigned entries, struct io_uring_params *p)
{
	return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int
sys_enter(int fd, unsigned submit, unsigned wait, unsigned flags)
{
	return (int)syscall(__NR_io_uring_enter, fd, submit, wait, flags,
	    NULL, 0);
}

int
tcpr_ring_open(struct tcpr_ring *r, unsigned entries)
{
	/*
	 * The cheapest set first: task work run only while we wait (it
	 * carries every linked request after the first), then the older
	 * ones. SUBMIT_ALL always: one bad request must not stop the rest.
	 */
	static const unsigned setups[] = {
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
		    IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN,
		IORING_SETUP_SUBMIT_ALL,
	};
	struct io_uring_params p;
	unsigned *array, i;
	size_t k;
	int e;

	memset(r, 0, sizeof *r);
	r->fd = -1;
	for (k = 0; k < sizeof setups / sizeof setups[0]; k++) {
		memset(&p, 0, sizeof p);
		p.flags = setups[k] | IORING_SETUP_CQSIZE;
		p.cq_entries = entries * 2;
		if ((r->fd = sys_setup(entries, &p)) >= 0 || errno != EINVAL)
			break;
	}
	if (r->fd < 0)
		return -1;
	if (!(p.features & IORING_FEAT_SINGLE_MMAP)) {
		errno = ENOSYS;
		goto err;
	}
	r->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	r->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (r->cq_len > r->sq_len)
		r->sq_len = r->cq_len;
	r->sq_map = mmap(NULL, r->sq_len, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
	if (r->sq_map == MAP_FAILED) {
		r->sq_map = NULL;
		goto err;
	}
	r->cq_map = r->sq_map;	/* one mapping for both */
	r->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
	r->sqes = mmap(NULL, r->sqes_len, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (r->sqes == MAP_FAILED) {
		r->sqes = NULL;
		goto err;
	}
	r->sq_head = (unsigned *)((char *)r->sq_map + p.sq_off.head);
	r->sq_tail = (unsigned *)((char *)r->sq_map + p.sq_off.tail);
	r->sq_mask = *(unsigned *)((char *)r->sq_map + p.sq_off.ring_mask);
	r->sq_entries = p.sq_entries;
	r->cq_head = (unsigned *)((char *)r->cq_map + p.cq_off.head);
	r->cq_tail = (unsigned *)((char *)r->cq_map + p.cq_off.tail);
	r->cq_mask = *(unsigned *)((char *)r->cq_map + p.cq_off.ring_mask);
	r->cq_entries = p.cq_entries;
	r->cqes = (struct io_uring_cqe *)((char *)r->cq_map + p.cq_off.cqes);
	/* SQEs are used in ring order: the index array is the identity */
	array = (unsigned *)((char *)r->sq_map + p.sq_off.array);
	for (i = 0; i < p.sq_entries; i++)
		array[i] = i;
	r->tail = *r->sq_tail;
	return 0;
err:
	e = errno;
	tcpr_ring_close(r);
	errno = e;
	return -1;
}

void
tcpr_ring_close(struct tcpr_ring *r)
{
	if (r->sqes)
		munmap(r->sqes, r->sqes_len);
	if (r->sq_map)
		munmap(r->sq_map, r->sq_len);
	if (r->fd >= 0)
		close(r->fd);
	memset(r, 0, sizeof *r);
	r->fd = -1;
}

void
tcpr_ring_drop(struct tcpr_ring *r)
{
	if (r->fd >= 0)
		close(r->fd);
	memset(r, 0, sizeof *r);
	r->fd = -1;
}

int
tcpr_ring_has(struct tcpr_ring *r, const uint8_t *ops, size_t n)
{
	struct io_uring_probe *p;
	size_t i;
	int ok = 1;

	p = calloc(1, sizeof *p + 256 * sizeof p->ops[0]);
	if (p == NULL)
		return 0;
	if (syscall(__NR_io_uring_register, r->fd, IORING_REGISTER_PROBE, p,
	    256) < 0)
		ok = 0;
	for (i = 0; ok && i < n; i++)
		if (ops[i] > p->last_op ||
		    !(p->ops[ops[i]].flags & IO_URING_OP_SUPPORTED))
			ok = 0;
	free(p);
	return ok;
}

unsigned
tcpr_ring_room(const struct tcpr_ring *r)
{
	return r->sq_entries - (r->tail -
	    __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE));
}

struct io_uring_sqe *
tcpr_ring_sqe(struct tcpr_ring *r)
{
	struct io_uring_sqe *q;

	if (tcpr_ring_room(r) == 0)
		return NULL;
	q = &r->sqes[r->tail & r->sq_mask];
	memset(q, 0, sizeof *q);
	r->tail++;
	r->queued++;
	return q;
}

int
tcpr_ring_submit_wait(struct tcpr_ring *r, unsigned nwait)
{
	unsigned sub = r->queued, orig = r->queued, ready;
	int k, n;

	__atomic_store_n(r->sq_tail, r->tail, __ATOMIC_RELEASE);
	for (k = 0; k < 10000; k++) {
		ready = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE) -
		    *r->cq_head;
		if (sub == 0 && ready >= nwait)
			return 0;
		n = sys_enter(r->fd, sub, nwait, IORING_ENTER_GETEVENTS);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (sub == orig)
				return -1;	/* nothing taken: the caller may redo it all */
			/*
			 * Part of the batch is in the kernel and its answers
			 * will come: submit the rest and wait on (EAGAIN and
			 * EBUSY pass), bounded by the loop. Only if that runs
			 * out does the caller redo steps the kernel may have
			 * done (tcpr-restore(8) BUGS).
			 */
			continue;
		}
		sub -= (unsigned)n < sub ? (unsigned)n : sub;
		r->queued = sub;
	}
	errno = ETIME;
	return -1;
}

struct io_uring_cqe *
tcpr_ring_cqe(struct tcpr_ring *r)
{
	unsigned h = *r->cq_head;

	if (h == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE))
		return NULL;
	return &r->cqes[h & r->cq_mask];
}

void
tcpr_ring_cqe_seen(struct tcpr_ring *r)
{
	__atomic_store_n(r->cq_head, *r->cq_head + 1, __ATOMIC_RELEASE);
}

void
tcpr_ring_prep_setsockopt(struct io_uring_sqe *q, int fd, int level,
    int name, const void *val, unsigned len)
{
	/* the fields of 6.7's SQE, over the older header's unions */
	uint32_t ln[2] = { (uint32_t)level, (uint32_t)name };

	q->opcode = TCPR_OP_URING_CMD;
	q->fd = fd;
	q->cmd_op = TCPR_SOCK_SETSOCKOPT;
	memcpy(&q->addr, ln, sizeof ln);	/* level, optname */
	q->file_index = len;			/* optlen */
	q->addr3 = (uint64_t)(uintptr_t)val;	/* optval */
}
