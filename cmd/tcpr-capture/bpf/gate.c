/*
 * tcpr-capture's gate: an eBPF socket-filter program that iptables runs
 * as an xt_bpf match (-m bpf --object-pinned) on every outgoing segment
 * of the service, in front of the NFQUEUE rule. It returns 1 (the segment
 * passes in the kernel) when the capture has no need to see it: its
 * acknowledgement lies within what the application has consumed (the
 * consumed table, a map libtcpr writes with one store per mark) and no
 * earlier segment of its session is still in the queue. It returns 0 (to
 * the queue) for control segments, for a session without a table slot
 * yet, and for one that acknowledges more than was consumed. Nothing
 * overtakes a segment with data (or FIN) in the queue; a bare
 * acknowledgement may overtake another (the capture drops the older one
 * when it comes due: the peer has a newer one).
 * Built with clang -target bpf; loaded by gate.c.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "../gate.h"
#include "tcpr_shm.h"

/* the session of a four-tuple: its index in ctl */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GATE_MAX);
	__type(key, struct gate_key);
	__type(value, __u32);
} sessions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, GATE_MAX);
	__type(key, __u32);
	__type(value, struct gate_ctl);
} ctl SEC(".maps");

/* the consumed table's slots (lib/tcpr_shm.h) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, TCPR_SHM_SLOTS);
	__type(key, __u32);
	__type(value, struct tcpr_shm_slot);
} table SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gate_stats);
} stats SEC(".maps");

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

static __always_inline int
pass(struct gate_ctl *c, __u32 ack)
{
	__u32 z = 0;
	struct gate_stats *st = bpf_map_lookup_elem(&stats, &z);

	if (c)
		c->passed_ack = ack;
	if (st)
		st->passed++;
	return 1;
}

/* ordered: it carries data, FIN or RST (gate.h) */
static __always_inline int
queue(struct gate_ctl *c, int ordered)
{
	__u32 z = 0;
	struct gate_stats *st = bpf_map_lookup_elem(&stats, &z);

	if (c && ordered)
		__sync_fetch_and_add(&c->queued, 1);
	if (st)
		st->queued++;
	return 0;
}

SEC("socket")
int
gate(struct __sk_buff *skb)
{
	struct gate_key k = { 0 };
	struct gate_ctl *c;
	struct tcpr_shm_slot *s;
	unsigned char h[40], t[14];
	__u32 thoff, thl, ack, allowed, *idx;
	__u8 flags;
	int ordered;

	if (bpf_skb_load_bytes(skb, 0, h, 20) < 0)
		return 0;
	if (h[0] >> 4 == 4) {
		if (h[9] != 6)
			return 0;
		thoff = (__u32)(h[0] & 15) * 4;
		k.family = 2;		/* AF_INET */
		__builtin_memcpy(k.laddr, h + 12, 4);
		__builtin_memcpy(k.paddr, h + 16, 4);
	} else if (h[0] >> 4 == 6) {
		if (bpf_skb_load_bytes(skb, 0, h, 40) < 0 || h[6] != 6)
			return 0;	/* extension headers: the capture's */
		thoff = 40;
		k.family = 10;		/* AF_INET6 */
		__builtin_memcpy(k.laddr, h + 8, 16);
		__builtin_memcpy(k.paddr, h + 24, 16);
	} else
		return 0;
	if (thoff < 20 || thoff > 60 || bpf_skb_load_bytes(skb, thoff, t, 14) < 0)
		return 0;
	k.lport = (__u16)(t[0] << 8 | t[1]);
	k.pport = (__u16)(t[2] << 8 | t[3]);
	ack = (__u32)t[8] << 24 | (__u32)t[9] << 16 | (__u32)t[10] << 8 | t[11];
	thl = (__u32)(t[12] >> 4) * 4;
	flags = t[13];
	ordered = skb->len > thoff + thl || (flags & (TH_FIN | TH_RST));

	idx = bpf_map_lookup_elem(&sessions, &k);
	c = idx ? bpf_map_lookup_elem(&ctl, idx) : NULL;
	/* the capture records from these; SYN-ACK: the session begins */
	if (flags & (TH_SYN | TH_FIN | TH_RST))
		return queue(c, ordered);
	if (c == NULL)
		return pass(c, ack);	/* not followed (began before us) */
	if (c->queued != c->done || !(flags & TH_ACK))
		return queue(c, ordered);
	if (c->state == GATE_PASS)
		return pass(c, ack);
	if (c->state != GATE_CHECK)
		return queue(c, ordered);
	if ((s = bpf_map_lookup_elem(&table, &c->slot)) == NULL)
		return queue(c, ordered);
	/* closed by the application (or its slot taken since): not held */
	if (s->state != TCPR_SHM_LIVE || s->family != k.family ||
	    s->lport != k.lport || s->pport != k.pport)
		return pass(c, ack);
	allowed = c->base + (__u32)s->consumed;
	/* all input before the peer's FIN consumed: the FIN too */
	if ((c->flags & GATE_F_FIN) && allowed == c->fin)
		allowed++;
	if ((__s32)(ack - allowed) > 0)
		return queue(c, ordered);
	return pass(c, ack);
}

char _license[] SEC("license") = "GPL";
