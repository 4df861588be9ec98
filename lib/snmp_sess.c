/* SNMPv3 manager sessions with fixed engine IDs; see snmp_sess.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <net-snmp/library/large_fd_set.h>

#include "atomic.h"
#include "kv.h"
#include "snmp_sess.h"

void
snmp_lib_init(const char *app)
{
	char dir[64], sub[96];

	/* Managers keep no state: the engine boots/time are relearnt. */
	snprintf(dir, sizeof dir, "/tmp/.nonstop-snmp-%u", (unsigned)getuid());
	(void)mkdir(dir, 0700);
	/* Made here so net-snmp does not announce making it on stderr. */
	snprintf(sub, sizeof sub, "%s/cert_indexes", dir);
	(void)mkdir(sub, 0700);
	setenv("MIBS", "", 1);
	netsnmp_ds_set_string(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_PERSISTENT_DIR, dir);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_PERSIST_STATE, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
	netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_SAVE, 1);
	snmp_disable_log();
	init_snmp(app);
}

static int
fail(char *why, size_t whylen, const char *msg, const char *arg)
{
	snprintf(why, whylen, "%s%s%s", msg, arg ? " " : "", arg ? arg : "");
	errno = EINVAL;
	return -1;
}

int
snmp_creds_load(const char *path, struct snmp_creds *c, char *why, size_t whylen)
{
	struct stat st;
	struct kv_rec rec;
	const char *kwhy, *v, *ap = NULL, *pp = NULL;
	char *text, *line, *save = NULL;
	size_t len, k;
	int rc = -1, seen = 0;

	memset(c, 0, sizeof *c);
	if (stat(path, &st) == -1) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(why, whylen, "%s: readable by others (mode %o, want 600)",
		    path, (unsigned)(st.st_mode & 0777));
		errno = EPERM;
		return -1;
	}
	if ((text = atomic_read(path, 4096, &len)) == NULL) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		static const char *const keys[] = { "user", "auth", "authpass",
		    "priv", "privpass", NULL };
		if (kv_parse(&rec, line, &kwhy) == -1) {
			fail(why, whylen, "bad credentials record:", kwhy);
			goto out;
		}
		if (rec.n == 0) {
			kv_free(&rec);
			continue;
		}
		if (seen++ || strcmp(rec.v[0].key, "user") != 0) {
			kv_free(&rec);
			fail(why, whylen, "credentials: want one user= record", NULL);
			goto out;
		}
		for (k = 0; k < rec.n; k++) {
			size_t j;
			for (j = 0; keys[j] != NULL; j++)
				if (strcmp(rec.v[k].key, keys[j]) == 0)
					break;
			if (keys[j] == NULL) {
				fail(why, whylen, "credentials: unknown key", rec.v[k].key);
				kv_free(&rec);
				goto out;
			}
		}
		snprintf(c->user, sizeof c->user, "%s", rec.v[0].val);
		v = kv_get(&rec, "auth");
		if (v == NULL || strcmp(v, "SHA-256") == 0) {
			c->auth = usmHMAC192SHA256AuthProtocol;
			c->authlen = OID_LENGTH(usmHMAC192SHA256AuthProtocol);
		} else if (strcmp(v, "SHA-512") == 0) {
			c->auth = usmHMAC384SHA512AuthProtocol;
			c->authlen = OID_LENGTH(usmHMAC384SHA512AuthProtocol);
		} else if (strcmp(v, "SHA") == 0) {
			c->auth = usmHMACSHA1AuthProtocol;
			c->authlen = OID_LENGTH(usmHMACSHA1AuthProtocol);
		} else {
			fail(why, whylen, "credentials: unknown auth", v);
			kv_free(&rec);
			goto out;
		}
		v = kv_get(&rec, "priv");
		if (v == NULL || strcmp(v, "AES") == 0) {
			c->priv = usmAESPrivProtocol;
			c->privlen = USM_PRIV_PROTO_AES_LEN;
		} else if (strcmp(v, "AES-256") == 0) {
			c->priv = usmAES256PrivProtocol;
			c->privlen = OID_LENGTH(usmAES256PrivProtocol);
		} else {
			fail(why, whylen, "credentials: unknown priv", v);
			kv_free(&rec);
			goto out;
		}
		ap = kv_get(&rec, "authpass");
		pp = kv_get(&rec, "privpass");
		if (ap == NULL || pp == NULL || strlen(ap) < 8 || strlen(pp) < 8) {
			fail(why, whylen, "credentials: authpass and privpass of 8 or more characters needed", NULL);
			kv_free(&rec);
			goto out;
		}
		/* The expensive part (a megabyte of hashing): once per run. */
		c->authkulen = sizeof c->authku;
		c->privkulen = sizeof c->privku;
		if (generate_Ku(c->auth, (u_int)c->authlen, (const u_char *)ap,
		    strlen(ap), c->authku, &c->authkulen) != SNMPERR_SUCCESS ||
		    generate_Ku(c->auth, (u_int)c->authlen, (const u_char *)pp,
		    strlen(pp), c->privku, &c->privkulen) != SNMPERR_SUCCESS) {
			fail(why, whylen, "credentials: key derivation failed", NULL);
			kv_free(&rec);
			goto out;
		}
		explicit_bzero(rec.buf, strlen(line));
		kv_free(&rec);
	}
	if (!seen) {
		fail(why, whylen, "credentials: no user= record", NULL);
		goto out;
	}
	rc = 0;
out:
	explicit_bzero(text, len);
	free(text);
	if (rc == -1)
		snmp_creds_wipe(c);
	return rc;
}

void
snmp_creds_wipe(struct snmp_creds *c)
{
	explicit_bzero(c, sizeof *c);
}

size_t
snmp_engine_text(const char *text, u_char *out, size_t max)
{
	size_t n = strlen(text);

	if (n + 5 > max || n + 5 > 32)
		return 0;
	out[0] = 0x80, out[1] = 0x00, out[2] = 0x1f, out[3] = 0x88, out[4] = 0x04;
	memcpy(out + 5, text, n);
	return n + 5;
}

void *
snmp_target_open(const struct snmp_creds *c, const char *peer,
    const char *engine_text, unsigned timeout_ms, netsnmp_callback cb,
    void *arg, char *why, size_t whylen)
{
	netsnmp_session s;
	u_char eid[32];
	size_t eidlen;
	void *h;
	char *p;

	if ((eidlen = snmp_engine_text(engine_text, eid, sizeof eid)) == 0) {
		snprintf(why, whylen, "engine ID text '%s' too long", engine_text);
		errno = EINVAL;
		return NULL;
	}
	snmp_sess_init(&s);
	if ((p = strdup(peer)) == NULL)
		return NULL;
	s.peername = p;
	s.version = SNMP_VERSION_3;
	s.securityName = (char *)(uintptr_t)c->user;
	s.securityNameLen = strlen(c->user);
	s.securityLevel = SNMP_SEC_LEVEL_AUTHPRIV;
	s.securityAuthProto = (oid *)(uintptr_t)c->auth;
	s.securityAuthProtoLen = c->authlen;
	memcpy(s.securityAuthKey, c->authku, c->authkulen);
	s.securityAuthKeyLen = c->authkulen;
	s.securityPrivProto = (oid *)(uintptr_t)c->priv;
	s.securityPrivProtoLen = c->privlen;
	memcpy(s.securityPrivKey, c->privku, c->privkulen);
	s.securityPrivKeyLen = c->privkulen;
	/*
	 * A known engine ID: net-snmp then skips discovery (which blocks
	 * inside the first send) and localizes the keys right here.
	 */
	s.securityEngineID = eid;
	s.securityEngineIDLen = eidlen;
	s.contextEngineID = eid;
	s.contextEngineIDLen = eidlen;
	s.timeout = (long)timeout_ms * 1000;
	s.retries = 0;
	s.callback = cb;
	s.callback_magic = arg;
	h = snmp_sess_open(&s);
	explicit_bzero(s.securityAuthKey, sizeof s.securityAuthKey);
	explicit_bzero(s.securityPrivKey, sizeof s.securityPrivKey);
	free(p);
	if (h == NULL) {
		int e1, e2;
		char *msg = NULL;
		snmp_error(&s, &e1, &e2, &msg);
		snprintf(why, whylen, "%s: %s", peer, msg ? msg : "cannot open");
		free(msg);
		errno = EINVAL;
	}
	return h;
}

void
snmp_target_close(void *h)
{
	if (h != NULL)
		snmp_sess_close(h);
}

int
snmp_target_fd(void *h)
{
	netsnmp_transport *t = snmp_sess_transport(h);
	return t != NULL ? t->sock : -1;
}

void
snmp_target_read(void *h)
{
	netsnmp_large_fd_set fds;
	int fd = snmp_target_fd(h);

	if (fd < 0)
		return;
	netsnmp_large_fd_set_init(&fds, fd + 1);
	netsnmp_large_fd_setfd(fd, &fds);
	(void)snmp_sess_read2(h, &fds);
	netsnmp_large_fd_set_cleanup(&fds);
}

void
snmp_target_expire(void *h)
{
	snmp_sess_timeout(h);
}
