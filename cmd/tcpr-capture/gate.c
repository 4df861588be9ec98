/*
 * tcpr-capture's in-kernel gate (exact mode with -C): loads the eBPF
 * program of bpf/gate.c (built into this binary), holds its maps, and
 * pins the program where iptables' -m bpf --object-pinned finds it.
 */
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture.h"
#include "err.h"
#include "gate.h"
#include "tcpr_shm.h"

/* the program's object file, as clang -target bpf built it (mk/tcpr-gate.mk) */
extern const char gate_obj[], gate_obj_end[];
__asm__(".section .rodata\n.balign 8\n.globl gate_obj\ngate_obj:\n"
    ".incbin \"" GATE_OBJ "\"\n.globl gate_obj_end\ngate_obj_end:\n.previous\n");

static struct bpf_object *obj;
static int prog_fd = -1, sess_fd = -1, table_fd = -1, stats_fd = -1;
static struct gate_ctl *ctl;
static struct tcpr_shm_slot *table;
static uint32_t freel[GATE_MAX], nfree, gens[GATE_MAX];
static char pin_dir[64], pin_path[96];

static int
quiet(enum libbpf_print_level l, const char *fmt, va_list ap)
{
	if (l == LIBBPF_WARN && err_verbose > 0)
		return vfprintf(stderr, fmt, ap);
	return 0;
}

int
gate_load(const char **why)
{
	struct bpf_map *m;
	void *p;
	uint32_t i;

	libbpf_set_print(quiet);
	obj = bpf_object__open_mem(gate_obj, (size_t)(gate_obj_end - gate_obj),
	    NULL);
	if (obj == NULL) {
		*why = "unable to open the program";
		return -1;
	}
	if (bpf_object__load(obj) != 0) {
		*why = errno == EPERM ? "no permission to load eBPF programs" :
		    "unable to load the program (eBPF)";
		goto fail;
	}
	prog_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "gate"));
	sess_fd = bpf_map__fd(bpf_object__find_map_by_name(obj, "sessions"));
	stats_fd = bpf_map__fd(bpf_object__find_map_by_name(obj, "stats"));
	table_fd = bpf_map__fd(bpf_object__find_map_by_name(obj, "table"));
	m = bpf_object__find_map_by_name(obj, "ctl");
	if (prog_fd < 0 || sess_fd < 0 || stats_fd < 0 || table_fd < 0 ||
	    m == NULL) {
		*why = "the program lacks its maps";
		goto fail;
	}
	p = mmap(NULL, sizeof *ctl * GATE_MAX, PROT_READ | PROT_WRITE,
	    MAP_SHARED, bpf_map__fd(m), 0);
	if (p == MAP_FAILED) {
		*why = "unable to map the gate's sessions";
		goto fail;
	}
	ctl = p;
	p = mmap(NULL, sizeof *table * TCPR_SHM_SLOTS, PROT_READ | PROT_WRITE,
	    MAP_SHARED, table_fd, 0);
	if (p == MAP_FAILED) {
		*why = "unable to map the consumed table";
		goto fail;
	}
	table = p;
	for (i = 0; i < GATE_MAX; i++)
		freel[i] = GATE_MAX - 1 - i;
	nfree = GATE_MAX;
	return 0;
fail:
	bpf_object__close(obj);
	obj = NULL;
	return -1;
}

struct tcpr_shm_slot *
gate_table(void)
{
	return table;
}

int
gate_table_fd(void)
{
	return table_fd;
}

/*
 * Pin the program on a bpffs of our own, in a mount namespace of our
 * own (nobody else sees it), for iptables to name; gate_unpin() once the
 * rules hold it. ip netns exec gives every command a mount namespace of
 * its own anyway, so no shared bpffs would do.
 */
const char *
gate_pin(const char **why)
{
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) {
		*why = "no mount namespace of our own";
		return NULL;
	}
	snprintf(pin_dir, sizeof pin_dir, "/tmp/tcpr-gate.XXXXXX");
	if (mkdtemp(pin_dir) == NULL) {
		*why = "unable to make a folder for bpffs";
		return NULL;
	}
	if (mount("bpf", pin_dir, "bpf", 0, "mode=0700") < 0) {
		*why = "unable to mount bpffs";
		rmdir(pin_dir);
		pin_dir[0] = '\0';
		return NULL;
	}
	snprintf(pin_path, sizeof pin_path, "%s/gate", pin_dir);
	if (bpf_obj_pin(prog_fd, pin_path) < 0) {
		*why = "unable to pin the program";
		gate_unpin();
		return NULL;
	}
	return pin_path;
}

void
gate_unpin(void)
{
	if (pin_dir[0] == '\0')
		return;
	unlink(pin_path);
	umount2(pin_dir, MNT_DETACH);
	rmdir(pin_dir);
	pin_dir[0] = '\0';
}

static void
key_of(const struct tcpr_sess *s, struct gate_key *k)
{
	memset(k, 0, sizeof *k);
	k->family = s->family;
	k->lport = s->lport;
	k->pport = s->pport;
	memcpy(k->laddr, s->laddr, 16);
	memcpy(k->paddr, s->paddr, 16);
}

/*
 * Follow session s (base = its input's first sequence number): its
 * index, or -1 when the map is full (then it is not followed: every
 * segment of it passes; the capture warns).
 */
long
gate_add(const struct tcpr_sess *s, uint32_t base)
{
	struct gate_key k;
	struct gate_ctl *c;
	uint32_t i;

	if (nfree == 0)
		return -1;
	i = freel[--nfree];
	c = &ctl[i];
	/* all of it before the program can find it */
	__atomic_store_n(&c->state, GATE_QUEUE, __ATOMIC_RELAXED);
	c->flags = 0;
	c->slot = 0;
	c->base = base;
	c->fin = 0;
	c->passed_ack = base;
	__atomic_store_n(&c->done, __atomic_load_n(&c->queued,
	    __ATOMIC_SEQ_CST), __ATOMIC_SEQ_CST);
	key_of(s, &k);
	if (bpf_map_update_elem(sess_fd, &k, &i, BPF_ANY) < 0) {
		freel[nfree++] = i;
		return -1;
	}
	return (long)i;
}

void
gate_del(uint32_t i, const struct tcpr_sess *s)
{
	struct gate_key k;

	key_of(s, &k);
	bpf_map_delete_elem(sess_fd, &k);
	gens[i]++;
	freel[nfree++] = i;
}

struct gate_ctl *
gate_ctl(uint32_t i)
{
	return &ctl[i];
}

uint32_t
gate_gen(uint32_t i)
{
	return gens[i];
}

void
gate_stats(unsigned long long *passed, unsigned long long *queued)
{
	int n = libbpf_num_possible_cpus(), i;
	struct gate_stats *v;
	uint32_t z = 0;

	*passed = *queued = 0;
	if (n <= 0 || (v = calloc((size_t)n, sizeof *v)) == NULL)
		return;
	if (bpf_map_lookup_elem(stats_fd, &z, v) == 0)
		for (i = 0; i < n; i++) {
			*passed += v[i].passed;
			*queued += v[i].queued;
		}
	free(v);
}
