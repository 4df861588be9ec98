/* lc-agent: reading rs-probe's state file, sock_diag counts, the event log. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "atomic.h"
#include "err.h"
#include "kv.h"
#include "lcagent.h"

static uint64_t
num(const struct kv_rec *r, const char *k)
{
	const char *v = kv_get(r, k);
	return v != NULL ? strtoull(v, NULL, 10) : 0;
}

int
probe_load(struct probe *p, const char *path)
{
	char *text, *line, *save = NULL;
	struct kv_rec rec;
	const char *why, *v;
	size_t len;

	memset(p, 0, sizeof *p);
	if ((text = atomic_read(path, 1 << 22, &len)) == NULL)
		return -1;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (kv_parse(&rec, line, &why) == -1)
			continue;
		if (rec.n == 0) {
			kv_free(&rec);
			continue;
		}
		if (strcmp(rec.v[0].key, "probe") == 0) {
			p->valid = 1;
			p->sweeps = num(&rec, "sweeps");
			p->down_events = num(&rec, "down_events");
			p->up_events = num(&rec, "up_events");
		} else if (strcmp(rec.v[0].key, "rs") == 0) {
			struct probe_rs *r, *n;
			n = realloc(p->rs, (p->nrs + 1) * sizeof *p->rs);
			if (n == NULL) {
				kv_free(&rec);
				break;
			}
			p->rs = n;
			r = &p->rs[p->nrs++];
			memset(r, 0, sizeof *r);
			snprintf(r->name, sizeof r->name, "%s", rec.v[0].val);
			v = kv_get(&rec, "status");
			r->status = v == NULL ? 1 : strcmp(v, "up") == 0 ? 2 :
			    strcmp(v, "down") == 0 ? 3 : 1;
			if ((v = kv_get(&rec, "reason")) != NULL)
				snprintf(r->reason, sizeof r->reason, "%s", v);
			r->weight = kv_get(&rec, "weight") != NULL ?
			    (int)num(&rec, "weight") : -1;
			r->load = num(&rec, "load");
			r->conns = num(&rec, "conns");
			r->inactive = num(&rec, "inactive");
			r->checks = num(&rec, "checks");
			r->failures = num(&rec, "failures");
			r->since = (time_t)num(&rec, "since");
		}
		kv_free(&rec);
	}
	free(text);
	return p->valid ? 0 : -1;
}

void
probe_free(struct probe *p)
{
	free(p->rs);
	memset(p, 0, sizeof *p);
}

const struct probe_rs *
probe_find(const struct probe *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nrs; i++)
		if (strcmp(p->rs[i].name, name) == 0)
			return &p->rs[i];
	return NULL;
}

/* One inet_diag dump (TCP, one family) into the per-port counters. */
static int
diag_dump(int family, const uint16_t *ports, size_t n, int *listening,
    unsigned long *established)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	struct nlmsghdr *h;
	struct inet_diag_req_v2 *req;
	unsigned seq = (unsigned)time(NULL);
	int ret, rc = -1;

	if ((nl = mnl_socket_open(NETLINK_SOCK_DIAG)) == NULL)
		return -1;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == -1)
		goto out;
	h = mnl_nlmsg_put_header(buf);
	h->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	h->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	h->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(h, sizeof *req);
	req->sdiag_family = (uint8_t)family;
	req->sdiag_protocol = IPPROTO_TCP;
	req->idiag_states = (1u << TCP_LISTEN) | (1u << TCP_ESTABLISHED);
	if (mnl_socket_sendto(nl, h, h->nlmsg_len) < 0)
		goto out;
	for (;;) {
		ret = (int)mnl_socket_recvfrom(nl, buf, sizeof buf);
		if (ret <= 0)
			goto out;
		for (h = (struct nlmsghdr *)buf; mnl_nlmsg_ok(h, ret);
		    h = mnl_nlmsg_next(h, &ret)) {
			struct inet_diag_msg *m;
			uint16_t sport;
			size_t i;

			if (h->nlmsg_type == NLMSG_DONE) {
				rc = 0;
				goto out;
			}
			if (h->nlmsg_type == NLMSG_ERROR)
				goto out;
			if (h->nlmsg_len < mnl_nlmsg_size(sizeof *m))
				continue;
			m = mnl_nlmsg_get_payload(h);
			sport = ntohs(m->id.idiag_sport);
			for (i = 0; i < n; i++) {
				if (ports[i] != sport)
					continue;
				if (m->idiag_state == TCP_LISTEN)
					listening[i] = 1;
				else if (m->idiag_state == TCP_ESTABLISHED)
					established[i]++;
			}
		}
	}
out:
	mnl_socket_close(nl);
	return rc;
}

int
sockdiag_count(const uint16_t *ports, size_t n, int *listening,
    unsigned long *established)
{
	memset(listening, 0, n * sizeof *listening);
	memset(established, 0, n * sizeof *established);
	if (n == 0)
		return 0;
	if (diag_dump(AF_INET, ports, n, listening, established) == -1)
		return -1;
	/* A host without IPv6 has nothing to count there. */
	(void)diag_dump(AF_INET6, ports, n, listening, established);
	return 0;
}

void
event_log(const char *type, const char *subject, const char *fmt, ...)
{
	char path[4096], line[1024];
	int fd, len, k;
	va_list ap;

	snprintf(path, sizeof path, "%s/events", conf.statedir);
	len = snprintf(line, sizeof line, "time=%lld event=%s", (long long)time(NULL), type);
	k = kv_sput(line + len, sizeof line - (size_t)len, 0, "subject", subject);
	if (k > 0 && (size_t)(len + k) < sizeof line)
		len += k;
	if (fmt != NULL && (size_t)len + 1 < sizeof line) {
		line[len++] = ' ';
		va_start(ap, fmt);
		k = vsnprintf(line + len, sizeof line - (size_t)len - 1, fmt, ap);
		va_end(ap);
		if (k > 0)
			len += k < (int)(sizeof line - (size_t)len - 1) ? k :
			    (int)(sizeof line - (size_t)len - 2);
	}
	line[len++] = '\n';
	/* One write with O_APPEND: lines of several writers never mix. */
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) == -1) {
		err_warn("unable to open %s:", path);
		return;
	}
	if (write(fd, line, (size_t)len) != len)
		err_warn("unable to write %s:", path);
	close(fd);
}

void
date_and_time(time_t t, unsigned char out[8])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	out[0] = (unsigned char)((tm.tm_year + 1900) >> 8);
	out[1] = (unsigned char)((tm.tm_year + 1900) & 0xff);
	out[2] = (unsigned char)(tm.tm_mon + 1);
	out[3] = (unsigned char)tm.tm_mday;
	out[4] = (unsigned char)tm.tm_hour;
	out[5] = (unsigned char)tm.tm_min;
	out[6] = (unsigned char)(tm.tm_sec > 59 ? 59 : tm.tm_sec);
	out[7] = 0;
}
