/*
 * The consumed table: a file that tcpr-capture -C creates and maps, and
 * that libtcpr maps (TCPR_CONSUMED names it) to publish, per session, how
 * much input the application has consumed. In exact mode the capture
 * holds back every outgoing segment that would acknowledge more than
 * that. One memory store per mark, no system call. Header only: libtcpr
 * is built apart from libnonstop.
 *
 * Layout (host byte order; both ends run on the same machine): a 64-byte
 * header, then nslots 64-byte slots in an open-addressing table keyed by
 * the four-tuple (local = the service's side), probed linearly from
 * tcpr_shm_hash. A slot's state goes FREE -> BUSY (claimed, compare and
 * swap) -> LIVE (tuple written, then published) -> DEAD (socket closed;
 * claimable again, but lookups probe past it).
 *
 * With the capture's in-kernel gate the slots are not in the file but in
 * an eBPF map (TCPR_SHM_F_MAP below); the layout is the same.
 *
 * Waking: the capture sets a slot's waiting flag when it holds a segment
 * of its session, then reads consumed; libtcpr stores consumed, then
 * takes the flag, and if it was set sends one datagram to the abstract
 * unix socket named in the header (wake). Both sides use sequentially
 * consistent atomics, so a mark is never missed.
 */
#ifndef NONSTOP_TCPR_SHM_H
#define NONSTOP_TCPR_SHM_H

#ifdef __bpf__
/* the gate's eBPF program (cmd/tcpr-capture/bpf/gate.c): the layout only */
#include <linux/types.h>
typedef __u8 uint8_t;
typedef __u16 uint16_t;
typedef __u32 uint32_t;
typedef __u64 uint64_t;
#else
#include <stdint.h>
#include <string.h>
#endif

#define TCPR_SHM_MAGIC 0x54435043u	/* "TCPC" */
#define TCPR_SHM_VERSION 2
#define TCPR_SHM_SLOTS 65536		/* a power of two */

enum { TCPR_SHM_FREE, TCPR_SHM_BUSY, TCPR_SHM_LIVE, TCPR_SHM_DEAD };

/*
 * The slots live in the capture's eBPF map (its in-kernel gate reads
 * them), not in the file: libtcpr sends "m" to the wake socket from a
 * bound one and gets the map's descriptor back (SCM_RIGHTS) to map.
 */
#define TCPR_SHM_F_MAP 1

#define TCPR_SHM_WAKELEN 32
struct tcpr_shm_hdr {
	uint32_t magic, version, nslots;
	uint32_t flags;		/* TCPR_SHM_F_MAP */
	uint32_t gen;		/* another run of the capture: enter again */
	uint32_t reserved[3];
	char wake[TCPR_SHM_WAKELEN];	/* abstract socket name, NUL-ended */
};

struct tcpr_shm_slot {
	uint32_t state;
	uint8_t family;		/* AF_INET, AF_INET6 */
	uint8_t reserved;
	uint16_t lport, pport;	/* host order */
	uint16_t reserved2;
	unsigned char laddr[16], paddr[16];	/* IPv4 in the first 4 */
	uint64_t consumed;	/* input offset consumed, from the stream's start */
	uint32_t waiting;	/* the capture holds a segment of it */
	uint32_t reserved3;
};

#define TCPR_SHM_SIZE(n) (sizeof(struct tcpr_shm_hdr) + \
	(size_t)(n) * sizeof(struct tcpr_shm_slot))

#ifndef __bpf__
static inline uint32_t
tcpr_shm_hash(uint8_t family, uint16_t lport, uint16_t pport,
    const unsigned char *laddr, const unsigned char *paddr)
{
	uint32_t h = 2166136261u;
	size_t i, n = family == 2 ? 4 : 16;	/* AF_INET */

	h = (h ^ family) * 16777619u;
	h = (h ^ (lport >> 8)) * 16777619u;
	h = (h ^ (lport & 0xff)) * 16777619u;
	h = (h ^ (pport >> 8)) * 16777619u;
	h = (h ^ (pport & 0xff)) * 16777619u;
	for (i = 0; i < n; i++)
		h = (h ^ laddr[i]) * 16777619u;
	for (i = 0; i < n; i++)
		h = (h ^ paddr[i]) * 16777619u;
	return h;
}

static inline int
tcpr_shm_match(const struct tcpr_shm_slot *s, uint8_t family, uint16_t lport,
    uint16_t pport, const unsigned char *laddr, const unsigned char *paddr)
{
	return s->family == family && s->lport == lport && s->pport == pport &&
	    !memcmp(s->laddr, laddr, 16) && !memcmp(s->paddr, paddr, 16);
}

/* The live slot of a tuple, or NULL (addresses zero-padded to 16). */
static inline struct tcpr_shm_slot *
tcpr_shm_find(struct tcpr_shm_slot *v, uint32_t n, uint8_t family,
    uint16_t lport, uint16_t pport, const unsigned char *laddr,
    const unsigned char *paddr)
{
	uint32_t i = tcpr_shm_hash(family, lport, pport, laddr, paddr), k;

	for (k = 0; k < n; k++, i++) {
		struct tcpr_shm_slot *s = &v[i & (n - 1)];
		uint32_t st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);

		if (st == TCPR_SHM_FREE)
			return NULL;
		if (st == TCPR_SHM_LIVE &&
		    tcpr_shm_match(s, family, lport, pport, laddr, paddr))
			return s;
	}
	return NULL;
}
#endif

#endif
