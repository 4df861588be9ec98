/*
 * tcpr-capture's in-kernel gate (exact mode with -C): what the eBPF
 * program (bpf/gate.c, an xt_bpf match in front of the NFQUEUE rule) and
 * the capture share. Host byte order; C types that both clang -target bpf
 * and the host compiler lay out alike.
 */
#ifndef TCPR_GATE_H
#define TCPR_GATE_H

#define GATE_MAX 65536		/* sessions followed at once */

/* a session's four-tuple: the same bytes as tcpr_shm_slot's 4..43 */
struct gate_key {
	unsigned char family, pad;
	unsigned short lport, pport, pad2;
	unsigned char laddr[16], paddr[16];
};

enum {
	GATE_QUEUE,	/* no table slot yet: every segment to the capture */
	GATE_CHECK,	/* compare the acknowledgement with the slot */
	GATE_PASS	/* not a tcpr(3) session: nothing is held */
};
#define GATE_F_FIN 1	/* the peer's FIN was seen: fin is its sequence */

/* one per session (the ctl map, mapped by the capture) */
struct gate_ctl {
	unsigned int state, flags;
	unsigned int slot;	/* in the consumed table */
	unsigned int base;	/* rcv_isn + 1: the input's offset 0 */
	unsigned int fin;
	unsigned int passed_ack;	/* of the last segment let pass */
	/*
	 * Order: the program counts every segment of the session with data,
	 * FIN or RST that it sends to the queue, the capture every one of
	 * them it has given a verdict; while they differ no segment of it
	 * passes in the kernel, so none overtakes data in the queue. Bare
	 * acknowledgements are not counted: a newer one may overtake an
	 * older that waits (which is then dropped, not sent late).
	 */
	unsigned long long queued, done;
};

struct gate_stats {
	unsigned long long passed, queued;
};

#endif
