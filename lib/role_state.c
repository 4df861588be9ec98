/*
 * lc-role's state file: exactly what it set up, so undo and role changes
 * remove that and nothing else. key=value records, written atomically.
 * lc-role writes it; lc-agent reads the balancer's table from it.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic.h"
#include "kv.h"
#include "role_state.h"

void
role_state_init(struct role_state *s)
{
	memset(s, 0, sizeof *s);
	s->role = -1;
}

void
role_state_free(struct role_state *s)
{
	free(s->addr);
	free(s->sys);
	dp_table_free(&s->table);
	role_state_init(s);
}

static void *
grow(void *p, size_t n, size_t size)
{
	if (n != 0 && (n & (n - 1)) != 0)
		return p;
	return realloc(p, (n == 0 ? 1 : n * 2) * size);
}

int
role_state_has_addr(const struct role_state *s, const struct addr *a, const char *dev)
{
	size_t i;

	for (i = 0; i < s->naddr; i++)
		if (addr_eq(&s->addr[i].a, a) && a->plen == s->addr[i].a.plen &&
		    strcmp(s->addr[i].dev, dev) == 0)
			return 1;
	return 0;
}

int
role_state_add_addr(struct role_state *s, const struct addr *a, const char *dev)
{
	struct role_state_addr *n;

	if (role_state_has_addr(s, a, dev))
		return 0;
	if ((n = grow(s->addr, s->naddr, sizeof *n)) == NULL)
		return -1;
	s->addr = n;
	s->addr[s->naddr].a = *a;
	snprintf(s->addr[s->naddr].dev, sizeof s->addr[0].dev, "%s", dev);
	s->naddr++;
	return 0;
}

struct role_state_sysctl *
role_state_sys(const struct role_state *s, const char *key)
{
	size_t i;

	for (i = 0; i < s->nsys; i++)
		if (strcmp(s->sys[i].key, key) == 0)
			return &s->sys[i];
	return NULL;
}

int
role_state_add_sys(struct role_state *s, const char *key, const char *old, const char *val)
{
	struct role_state_sysctl *n;

	if ((n = role_state_sys(s, key)) != NULL) {
		snprintf(n->val, sizeof n->val, "%s", val);
		return 0;
	}
	if ((n = grow(s->sys, s->nsys, sizeof *n)) == NULL)
		return -1;
	s->sys = n;
	n = &s->sys[s->nsys++];
	snprintf(n->key, sizeof n->key, "%s", key);
	snprintf(n->old, sizeof n->old, "%s", old);
	snprintf(n->val, sizeof n->val, "%s", val);
	return 0;
}

static int
mac_parse(const char *s, unsigned char *m)
{
	unsigned b[6];
	int i, n = 0;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n", &b[0], &b[1], &b[2], &b[3],
	    &b[4], &b[5], &n) != 6 || s[n] != '\0')
		return -1;
	for (i = 0; i < 6; i++)
		m[i] = (unsigned char)b[i];
	return 0;
}

static int
line(struct role_state *s, const struct kv_rec *r)
{
	const char *t = r->v[0].key, *v;
	struct addr a;

	if (strcmp(t, "state") == 0) {
		if ((v = kv_get(r, "role")) == NULL ||
		    (s->role = role_kind_parse(v)) == -1)
			return -1;
		snprintf(s->dp, sizeof s->dp, "%s", (v = kv_get(r, "dp")) ? v : "");
		snprintf(s->ifname, sizeof s->ifname, "%s",
		    (v = kv_get(r, "if")) ? v : "");
		if ((v = kv_get(r, "generation")) != NULL)
			s->generation = strtoul(v, NULL, 10);
		return 0;
	}
	if (strcmp(t, "addr") == 0) {
		if (addr_parse(r->v[0].val, &a) == -1 || (v = kv_get(r, "dev")) == NULL)
			return -1;
		return role_state_add_addr(s, &a, v);
	}
	if (strcmp(t, "sysctl") == 0) {
		const char *o = kv_get(r, "old"), *n = kv_get(r, "new");
		if (o == NULL || n == NULL || strlen(r->v[0].val) >= sizeof s->sys[0].key)
			return -1;
		return role_state_add_sys(s, r->v[0].val, o, n);
	}
	if (strcmp(t, "service") == 0) {
		struct dp_svc *d;
		const char *vip = kv_get(r, "vip"), *port = kv_get(r, "port");
		const char *proto = kv_get(r, "proto"), *sched = kv_get(r, "sched");
		int i;
		if (vip == NULL || port == NULL || proto == NULL || sched == NULL ||
		    (d = dp_table_add_svc(&s->table)) == NULL)
			return -1;
		snprintf(d->name, sizeof d->name, "%s", r->v[0].val);
		if (addr_parse(vip, &d->vip) == -1)
			return -1;
		d->port = (uint16_t)atoi(port);
		d->proto = strcmp(proto, "udp") == 0 ? IPPROTO_UDP : IPPROTO_TCP;
		for (i = 0; i < 4; i++)
			if (strcmp(sched, role_sched_name(i)) == 0)
				d->sched = i;
		return 0;
	}
	if (strcmp(t, "rs") == 0) {
		struct dp_rs *d;
		const char *ad = kv_get(r, "addr"), *port = kv_get(r, "port");
		const char *w = kv_get(r, "weight"), *mac = kv_get(r, "mac");
		if (s->table.nsvc == 0 || ad == NULL || port == NULL || w == NULL ||
		    (d = dp_svc_add_rs(&s->table.svc[s->table.nsvc - 1])) == NULL)
			return -1;
		snprintf(d->name, sizeof d->name, "%s", r->v[0].val);
		if (addr_parse(ad, &d->addr) == -1)
			return -1;
		d->port = (uint16_t)atoi(port);
		d->weight = atoi(w);
		if (mac != NULL) {
			if (mac_parse(mac, d->mac) == -1)
				return -1;
			d->has_mac = 1;
		}
		return 0;
	}
	return -1;
}

int
role_state_load(const char *path, struct role_state *s, char *why, size_t whylen)
{
	char *text, *p, *nl;
	size_t len;
	struct kv_rec rec;
	const char *kwhy;
	unsigned n = 0;

	role_state_init(s);
	if ((text = atomic_read(path, 64u << 20, &len)) == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(why, whylen, "unable to read %s: %s", path, strerror(errno));
		return -1;
	}
	for (p = text; *p != '\0'; p = nl + 1) {
		n++;
		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p) - 1;
		else
			*nl = '\0';
		if (kv_parse(&rec, p, &kwhy) == -1)
			goto bad;
		if (rec.n > 0 && line(s, &rec) == -1) {
			kv_free(&rec);
			goto bad;
		}
		kv_free(&rec);
	}
	free(text);
	return 0;
bad:
	free(text);
	role_state_free(s);
	snprintf(why, whylen, "%s: line %u: bad state record", path, n);
	errno = EINVAL;
	return -1;
}

int
role_state_save(const char *path, const struct role_state *s)
{
	char *buf = NULL, a[ADDR_STRLEN], m[18];
	size_t len = 0, i, j;
	FILE *f;
	int rc;

	if ((f = open_memstream(&buf, &len)) == NULL)
		return -1;
	fprintf(f, "state=1 role=%s", role_kind_name(s->role < 0 ? ROLE_NONE : s->role));
	if (s->dp[0])
		fprintf(f, " dp=%s", s->dp);
	if (s->ifname[0])
		kv_fput(f, 0, "if", s->ifname);
	fprintf(f, " generation=%lu\n", s->generation);
	for (i = 0; i < s->naddr; i++) {
		kv_fput(f, 1, "addr", addr_fmt(&s->addr[i].a, a, sizeof a));
		kv_fput(f, 0, "dev", s->addr[i].dev);
		fputc('\n', f);
	}
	for (i = 0; i < s->nsys; i++) {
		kv_fput(f, 1, "sysctl", s->sys[i].key);
		kv_fput(f, 0, "old", s->sys[i].old);
		kv_fput(f, 0, "new", s->sys[i].val);
		fputc('\n', f);
	}
	for (i = 0; i < s->table.nsvc; i++) {
		const struct dp_svc *d = &s->table.svc[i];
		kv_fput(f, 1, "service", d->name);
		fprintf(f, " vip=%s port=%u proto=%s sched=%s\n",
		    addr_fmt(&d->vip, a, sizeof a), d->port,
		    role_proto_name(d->proto), role_sched_name(d->sched));
		for (j = 0; j < d->nrs; j++) {
			const struct dp_rs *r = &d->rs[j];
			kv_fput(f, 1, "rs", r->name);
			fprintf(f, " addr=%s port=%u weight=%d",
			    addr_fmt(&r->addr, a, sizeof a), r->port, r->weight);
			if (r->has_mac) {
				snprintf(m, sizeof m, "%02x:%02x:%02x:%02x:%02x:%02x",
				    r->mac[0], r->mac[1], r->mac[2], r->mac[3],
				    r->mac[4], r->mac[5]);
				fprintf(f, " mac=%s", m);
			}
			fputc('\n', f);
		}
	}
	if (fclose(f) != 0) {
		free(buf);
		return -1;
	}
	rc = atomic_write(path, buf, len, 0644);
	free(buf);
	return rc;
}
