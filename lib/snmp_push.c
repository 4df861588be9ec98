/* Parallel role pushes over SNMPv3 SET; see snmp_push.h. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "snmp_push.h"

/* NONSTOP-MIB::nsHostRoleConfig.0 */
static const oid role_config[] = { 1, 3, 6, 1, 4, 1, 8072, 9999, 9999, 6678,
    1, 1, 6, 0 };

static const char *const errname[] = { "noError", "tooBig", "noSuchName",
    "badValue", "readOnly", "genErr", "noAccess", "wrongType", "wrongLength",
    "wrongEncoding", "wrongValue", "noCreation", "inconsistentValue",
    "resourceUnavailable", "commitFailed", "undoFailed", "authorizationError",
    "notWritable", "inconsistentName" };

static long long
now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int
on_answer(int op, netsnmp_session *s, int reqid, netsnmp_pdu *pdu, void *arg)
{
	struct snmp_push_host *h = arg;

	(void)s;
	if (h->done || reqid != h->reqid)
		return 1;	/* an answer to an earlier try */
	switch (op) {
	case NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE:
		h->done = 1;
		h->ms = (unsigned)(now_ms() - h->sent);
		h->status = (int)pdu->errstat;
		if (pdu->errstat == 0)
			snprintf(h->why, sizeof h->why, "ok");
		else if (pdu->errstat > 0 && pdu->errstat < (long)(sizeof errname / sizeof errname[0]))
			snprintf(h->why, sizeof h->why, "%s", errname[pdu->errstat]);
		else
			snprintf(h->why, sizeof h->why, "error-%ld", pdu->errstat);
		break;
	case NETSNMP_CALLBACK_OP_RESEND:
		break;	/* net-snmp resends after a time-window report */
	case NETSNMP_CALLBACK_OP_TIMED_OUT:
		h->status = -1;
		snprintf(h->why, sizeof h->why, "timeout");
		h->reqid = 0;
		break;
	default:
		h->status = -2;
		snprintf(h->why, sizeof h->why, "send failed");
		h->reqid = 0;
		break;
	}
	return 1;
}

static int
send_set(struct snmp_push_host *h)
{
	netsnmp_pdu *pdu = snmp_pdu_create(SNMP_MSG_SET);

	if (pdu == NULL)
		return -1;
	snmp_pdu_add_variable(pdu, role_config, OID_LENGTH(role_config),
	    ASN_OCTET_STR, h->text, strlen(h->text));
	h->tries++;
	h->sent = now_ms();
	if ((h->reqid = snmp_sess_async_send(h->h, pdu, on_answer, h)) == 0) {
		snmp_free_pdu(pdu);
		h->status = -2;
		snprintf(h->why, sizeof h->why, "send failed");
		return -1;
	}
	return 0;
}

int
snmp_push(const struct snmp_creds *c, struct snmp_push_host *hosts,
    size_t n, unsigned timeout_ms, int tries)
{
	struct pollfd *pfd;
	size_t *who, i, k, failed = 0, open = 0;

	pfd = calloc(n ? n : 1, sizeof *pfd);
	who = calloc(n ? n : 1, sizeof *who);
	if (pfd == NULL || who == NULL) {
		free(pfd);
		free(who);
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct snmp_push_host *h = &hosts[i];
		h->status = -1, h->done = 0, h->tries = 0, h->reqid = 0, h->ms = 0;
		snprintf(h->why, sizeof h->why, "timeout");
		h->h = snmp_target_open(c, h->peer, h->name, timeout_ms, on_answer,
		    h, h->why, sizeof h->why);
		if (h->h == NULL) {
			h->status = -2, h->done = 1;
			continue;
		}
		if (send_set(h) == -1)
			h->done = 1;
		else
			open++;
	}
	while (open > 0) {
		long long now = now_ms(), next = now + 1000;
		int rc;

		for (i = k = 0; i < n; i++) {
			struct snmp_push_host *h = &hosts[i];
			if (h->done)
				continue;
			if (h->reqid == 0 || now - h->sent >= (long long)timeout_ms) {
				/* Timed out: expire it in net-snmp, then try again. */
				snmp_target_expire(h->h);
				if (h->tries < tries && send_set(h) == 0) {
					;
				} else {
					h->done = 1, h->status = h->status ? h->status : -1;
					open--;
					continue;
				}
			}
			if (h->sent + timeout_ms < next)
				next = h->sent + timeout_ms;
			pfd[k].fd = snmp_target_fd(h->h);
			pfd[k].events = POLLIN;
			who[k++] = i;
		}
		if (open == 0)
			break;
		rc = poll(pfd, k, (int)(next > now ? next - now : 0));
		if (rc == -1 && errno != EINTR)
			break;
		for (i = 0; rc > 0 && i < k; i++) {
			struct snmp_push_host *h = &hosts[who[i]];
			if (pfd[i].revents == 0 || h->done)
				continue;
			snmp_target_read(h->h);
			if (h->done)
				open--;
		}
	}
	for (i = 0; i < n; i++) {
		if (hosts[i].status != 0)
			failed++;
		snmp_target_close(hosts[i].h);
		hosts[i].h = NULL;
	}
	free(pfd);
	free(who);
	return (int)failed;
}
