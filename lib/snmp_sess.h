/*
 * SNMPv3 manager sessions for nonstop's managers (rs-probe, lc-build
 * apply, lb-watch): authPriv only, keys derived once from the pass
 * phrases, each agent addressed by its fixed engine ID so that no
 * discovery round trip is ever made (a dead agent then costs one timeout,
 * never a blocking probe). Built on net-snmp's single-session API so a
 * caller can poll any number of sessions from its own event loop.
 */
#ifndef NONSTOP_SNMP_SESS_H
#define NONSTOP_SNMP_SESS_H

#include <stddef.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

#define SNMP_KEYMAX 64

/* The credentials file: one record, mode 0600 or stricter, e.g.
 *   user=nonstop auth=SHA-256 authpass=... priv=AES privpass=...
 * auth: SHA, SHA-256 (default), SHA-512; priv: AES (default), AES-256. */
struct snmp_creds {
	char user[64];
	const oid *auth;
	size_t authlen;
	const oid *priv;
	size_t privlen;
	u_char authku[SNMP_KEYMAX], privku[SNMP_KEYMAX];
	size_t authkulen, privkulen;
};

/*
 * Initialise net-snmp for a manager: no config files read, nothing
 * persisted, no MIBs loaded. Call once before anything else here.
 */
void snmp_lib_init(const char *app);
/* Load and check the credentials file; derive the keys. 0, or -1 with why. */
int snmp_creds_load(const char *path, struct snmp_creds *c, char *why, size_t whylen);
void snmp_creds_wipe(struct snmp_creds *c);
/*
 * The engine ID net-snmp's snmpd uses for `engineID TEXT`: 80 00 1f 88 04
 * followed by the text. Returns its length, or 0 if out is too small.
 */
size_t snmp_engine_text(const char *text, u_char *out, size_t max);
/*
 * Open a session to peer ("udp:192.0.2.11:161", "udp6:[2001:db8::1]:161")
 * whose agent has engine ID engine_text; timeout per request, no
 * retries; cb/arg receive every answer. Returns the single-session
 * handle, or NULL with why.
 */
void *snmp_target_open(const struct snmp_creds *c, const char *peer,
    const char *engine_text, unsigned timeout_ms, netsnmp_callback cb,
    void *arg, char *why, size_t whylen);
void snmp_target_close(void *h);
/* The session's socket, to wait on. */
int snmp_target_fd(void *h);
/* Read and dispatch what waits on the session's socket. */
void snmp_target_read(void *h);
/* Expire the session's requests whose timeout passed (callbacks run). */
void snmp_target_expire(void *h);

#endif
