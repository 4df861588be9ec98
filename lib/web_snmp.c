/* nsRsTable over SNMPv3 for lc-web (see web_snmp.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include "cluster_push.h"
#include "snmp_sess.h"
#include "web_snmp.h"

/* NONSTOP-MIB::nsRsEntry = nonstopMIB.1.2.2.1 */
static const oid entry[] = { 1, 3, 6, 1, 4, 1, 8072, 9999, 9999, 6678, 1, 2, 2, 1 };
#define ENTRYLEN (sizeof entry / sizeof entry[0])
static const unsigned cols[] = { 2, 6, 7, 8, 9, 11, 12 };
#define NCOLS (sizeof cols / sizeof cols[0])

struct walk {
	int reqid, done, op;
	netsnmp_pdu *resp;
};

static int
on_answer(int op, netsnmp_session *s, int reqid, netsnmp_pdu *pdu, void *arg)
{
	struct walk *w = arg;

	(void)s;
	if (reqid != w->reqid || w->done || op == NETSNMP_CALLBACK_OP_RESEND)
		return 1;
	w->done = 1;
	w->op = op;
	if (op == NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE && pdu)
		w->resp = snmp_clone_pdu(pdu);
	return 1;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct web_rs_live *
row(struct web_rs_live *out, size_t *n, size_t max, unsigned idx)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (out[i].idx == idx)
			return &out[i];
	if (*n == max)
		return NULL;
	/* Keep index order: rows arrive column-interleaved but ascending. */
	memset(&out[*n], 0, sizeof(out[*n]));
	out[*n].idx = idx;
	out[*n].weight = out[*n].conns = out[*n].load = -1;
	return &out[(*n)++];
}

static long long
date_and_time(const u_char *b, size_t len)
{
	struct tm tm;
	long long t;

	if (len != 8 && len != 11)
		return 0;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = (b[0] << 8 | b[1]) - 1900;
	tm.tm_mon = b[2] - 1;
	tm.tm_mday = b[3];
	tm.tm_hour = b[4];
	tm.tm_min = b[5];
	tm.tm_sec = b[6];
	if (tm.tm_year < 70)
		return 0;
	t = (long long)timegm(&tm);
	if (len == 11)
		t -= (b[8] == '-' ? -1 : 1) * ((long long)b[9] * 3600 + b[10] * 60);
	return t;
}

static void
text(char *dst, size_t size, const netsnmp_variable_list *v)
{
	size_t n = v->val_len < size - 1 ? v->val_len : size - 1, i;

	memcpy(dst, v->val.string, n);
	dst[n] = '\0';
	for (i = 0; i < n; i++)
		if ((unsigned char)dst[i] < 0x20 || dst[i] == 0x7f)
			dst[i] = '?';
}

int
web_snmp_rs_table(const char *credsfile, const char *peer, const char *engine,
    unsigned timeout_ms, struct web_rs_live *out, size_t max, char *why,
    size_t whylen)
{
	const struct snmp_creds *c;
	oid next[NCOLS][MAX_OID_LEN];
	size_t nextlen[NCOLS], n = 0, k, req;
	int done[NCOLS] = { 0 }, alldone = 0;
	struct walk w;
	void *h;

	for (k = 0; k < NCOLS; k++) {
		memcpy(next[k], entry, sizeof entry);
		next[k][ENTRYLEN] = cols[k];
		nextlen[k] = ENTRYLEN + 1;
	}
	if (!(c = cluster_push_creds(credsfile, "lc-web", why, whylen)))
		return -1;
	memset(&w, 0, sizeof w);
	if (!(h = snmp_target_open(c, peer, engine, timeout_ms, on_answer, &w, why, whylen)))
		return -1;
	for (req = 0; req < 8 && !alldone; req++) {
		netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_GETBULK);
		netsnmp_variable_list *v;
		long long deadline;
		size_t i;

		if (!pdu) {
			snprintf(why, whylen, "out of memory");
			goto fail;
		}
		pdu->non_repeaters = 0;
		pdu->max_repetitions = 32;
		for (k = 0; k < NCOLS; k++)
			snmp_add_null_var(pdu, next[k], nextlen[k]);
		memset(&w, 0, sizeof w);
		if ((w.reqid = snmp_sess_async_send(h, pdu, on_answer, &w)) == 0) {
			snmp_free_pdu(pdu);
			snprintf(why, whylen, "%s: cannot send", peer);
			goto fail;
		}
		deadline = now_ms() + timeout_ms + 50;
		while (!w.done) {
			long long left = deadline - now_ms();
			struct timeval tv;
			fd_set fds;
			int fd = snmp_target_fd(h);

			if (left <= 0) {
				snmp_target_expire(h);
				if (!w.done) {
					w.done = 1;
					w.op = NETSNMP_CALLBACK_OP_TIMED_OUT;
				}
				break;
			}
			tv.tv_sec = left / 1000;
			tv.tv_usec = left % 1000 * 1000;
			FD_ZERO(&fds);
			if (fd >= 0 && fd < FD_SETSIZE)
				FD_SET(fd, &fds);
			if (select(fd + 1, &fds, NULL, NULL, &tv) > 0)
				snmp_target_read(h);
			else
				snmp_target_expire(h);
		}
		if (w.op == NETSNMP_CALLBACK_OP_TIMED_OUT) {
			snprintf(why, whylen, "%s: no answer within %u ms", peer, timeout_ms);
			goto fail;
		}
		if (!w.resp) {
			snprintf(why, whylen, "%s: unreachable", peer);
			goto fail;
		}
		if (w.resp->errstat != SNMP_ERR_NOERROR) {
			snprintf(why, whylen, "%s: %s", peer, snmp_errstring((int)w.resp->errstat));
			snmp_free_pdu(w.resp);
			goto fail;
		}
		for (v = w.resp->variables, i = 0; v; v = v->next_variable, i++) {
			struct web_rs_live *r;
			k = i % NCOLS;
			if (done[k])
				continue;
			if (v->type == SNMP_ENDOFMIBVIEW || v->type == SNMP_NOSUCHOBJECT ||
			    v->type == SNMP_NOSUCHINSTANCE || v->name_length != ENTRYLEN + 2 ||
			    memcmp(v->name, entry, sizeof entry) != 0 ||
			    v->name[ENTRYLEN] != cols[k]) {
				done[k] = 1;
				continue;
			}
			memcpy(next[k], v->name, v->name_length * sizeof(oid));
			nextlen[k] = v->name_length;
			if (!(r = row(out, &n, max, (unsigned)v->name[ENTRYLEN + 1]))) {
				done[k] = 1;
				continue;
			}
			switch (cols[k]) {
			case 2:
				if (v->type == ASN_OCTET_STR)
					text(r->name, sizeof r->name, v);
				break;
			case 8:
				if (v->type == ASN_OCTET_STR)
					text(r->reason, sizeof r->reason, v);
				break;
			case 12:
				if (v->type == ASN_OCTET_STR)
					r->since = date_and_time(v->val.string, v->val_len);
				break;
			default:
				if (v->type == ASN_INTEGER || v->type == ASN_GAUGE ||
				    v->type == ASN_COUNTER || v->type == ASN_UNSIGNED) {
					long x = *v->val.integer;
					if (cols[k] == 6)
						r->weight = x;
					else if (cols[k] == 7)
						r->status = x >= 1 && x <= 3 ? (int)x : 0;
					else if (cols[k] == 9)
						r->conns = x;
					else
						r->load = x;
				}
			}
		}
		snmp_free_pdu(w.resp);
		w.resp = NULL;
		for (k = 0, alldone = 1; k < NCOLS; k++)
			alldone &= done[k];
	}
	snmp_target_close(h);
	return (int)n;
fail:
	snmp_target_close(h);
	errno = EIO;
	return -1;
}

