/*
 * Cheaper USM crypto for rs-probe. net-snmp 5.9 on OpenSSL 3 looks up
 * the digest or cipher implementation and re-derives the HMAC pads or
 * the AES key schedule on every message, and MD5-hashes an engine ID
 * each time it looks up that engine's clock: measured with callgrind,
 * two thirds of the manager's instructions per poll. This file defines
 * the library's own entry points (sc_generate_keyed_hash,
 * sc_check_keyed_hash, sc_encrypt, sc_decrypt, hash_engineID, declared
 * in net-snmp's public headers); libnetsnmp calls them through its PLT,
 * so the dynamic linker binds its calls to these (ELF interposition).
 * The HMAC inner/outer states and AES key schedules are computed once
 * per key (keys are localized once per engine) and kept here; anything
 * else falls through to net-snmp's own function (RTLD_NEXT).
 *
 * Each fast path is checked against net-snmp's own function on random
 * data at start (usmfast_init) and stays off unless the two agree, so a
 * different net-snmp costs speed, never correctness.
 *
 * usm_get_user, called for every message sent and received, walks the
 * list of (engine ID, user) pairs: with a thousand agents, a thousand
 * entries, ~17k instructions a call. It is answered here from a hash of
 * what it returned before; the hash is dropped whenever the list changes
 * (usm_add_user, usm_remove_user, usm_free_user, which net-snmp also
 * calls through its PLT), so it never holds a freed user.
 *
 * RS_PROBE_GENERIC_CRYPTO=1 in the environment turns all of it off.
 */
#define OPENSSL_SUPPRESS_DEPRECATED	/* low-level SHA/AES: no per-call fetch */
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <net-snmp/library/lcd_time.h>
#include <net-snmp/library/scapi.h>
#include <net-snmp/library/transform_oids.h>

#include "usmfast.h"

/* The transform OIDs' length (net-snmp's USM_LENGTH_OID_TRANSFORM, not exported). */
#define TRANSFORM_LEN OID_LENGTH(usmHMACSHA1AuthProtocol)

enum { H_SHA1, H_SHA256, H_SHA512, NH };
enum { P_AES128, P_AES192, P_AES256, NP };

static const struct {
	size_t dlen, trunc, block;
} hinfo[NH] = { { 20, 12, 64 }, { 32, 24, 64 }, { 64, 48, 128 } };

union hctx {
	SHA_CTX s1;
	SHA256_CTX s256;
	SHA512_CTX s512;
};

/*
 * One cached key: HMAC pads absorbed, or a cipher context keyed once
 * (EVP: AES-NI where the CPU has it; only the IV is set per message).
 */
struct kent {
	int used, kind;		/* kind: 0..NH-1 HMAC, K_ENC/K_DEC + P_* AES */
	u_int keylen;
	u_char key[64];
	union hctx in, out;
	EVP_CIPHER_CTX *cc;
};
#define K_ENC 16
#define K_DEC 32

typedef int gen_fn(const oid *, size_t, const u_char *, u_int, const u_char *,
    u_int, u_char *, size_t *);
typedef int chk_fn(const oid *, size_t, const u_char *, u_int, const u_char *,
    u_int, const u_char *, u_int);
typedef int enc_fn(const oid *, size_t, u_char *, u_int, u_char *, u_int,
    const u_char *, u_int, u_char *, size_t *);
typedef int dec_fn(const oid *, size_t, u_char *, u_int, u_char *, u_int,
    u_char *, u_int, u_char *, size_t *);
typedef int heid_fn(const u_char *, u_int);
typedef struct usmUser *uget_fn(const u_char *, size_t, const char *);
typedef struct usmUser *uchg_fn(struct usmUser *);

static gen_fn *orig_gen;
static chk_fn *orig_chk;
static enc_fn *orig_enc;
static dec_fn *orig_dec;
static heid_fn *orig_heid;
static uget_fn *orig_uget;
static uchg_fn *orig_uadd, *orig_uremove, *orig_ufree;
static int uon;			/* the user hash is on */
static int udirty;		/* the list changed: drop the hash */
static struct usmUser **utab;
static size_t utabcap, utabn;
static int hon[NH], pon[NP];	/* fast paths found to agree */
static int heid_mode;		/* 0 undecided, 1 fast, 2 net-snmp's */
static EVP_CIPHER *ciph[NP];
static struct kslot {
	uint64_t h;
	struct kent *e;
} *tab;
static size_t tabcap, tabn;
static unsigned long long nfast, nslow;

#define SYM(var, name) (*(void **)&(var) = dlsym(RTLD_NEXT, name))

static void
resolve(void)
{
	if (orig_gen != NULL)
		return;
	SYM(orig_gen, "sc_generate_keyed_hash");
	SYM(orig_chk, "sc_check_keyed_hash");
	SYM(orig_enc, "sc_encrypt");
	SYM(orig_dec, "sc_decrypt");
	SYM(orig_heid, "hash_engineID");
	SYM(orig_uget, "usm_get_user");
	SYM(orig_uadd, "usm_add_user");
	SYM(orig_uremove, "usm_remove_user");
	SYM(orig_ufree, "usm_free_user");
}

static int
hash_alg(const oid *t, size_t tl)
{
	if (tl != TRANSFORM_LEN || t == NULL)
		return -1;
	if (netsnmp_oid_equals(t, tl, usmHMAC192SHA256AuthProtocol, tl) == 0)
		return H_SHA256;
	if (netsnmp_oid_equals(t, tl, usmHMACSHA1AuthProtocol, tl) == 0)
		return H_SHA1;
	if (netsnmp_oid_equals(t, tl, usmHMAC384SHA512AuthProtocol, tl) == 0)
		return H_SHA512;
	return -1;
}

static int
priv_alg(const oid *t, size_t tl)
{
	if (t == NULL)
		return -1;
	if (netsnmp_oid_equals(t, tl, usmAESPrivProtocol,
	    OID_LENGTH(usmAESPrivProtocol)) == 0)
		return P_AES128;
	if (netsnmp_oid_equals(t, tl, usmAES192PrivProtocol,
	    OID_LENGTH(usmAES192PrivProtocol)) == 0)
		return P_AES192;
	if (netsnmp_oid_equals(t, tl, usmAES256PrivProtocol,
	    OID_LENGTH(usmAES256PrivProtocol)) == 0)
		return P_AES256;
	return -1;
}

static uint64_t
fnv(int kind, const u_char *k, size_t n)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)kind;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ k[i]) * 1099511628211ULL;
	return h;
}

void
usmfast_flush(void)
{
	size_t i;

	for (i = 0; i < tabcap; i++) {
		struct kent *e = tab[i].e;
		if (e == NULL)
			continue;
		if (e->cc != NULL)
			EVP_CIPHER_CTX_free(e->cc);
		OPENSSL_cleanse(e, sizeof *e);
		free(e);
	}
	free(tab);
	tab = NULL;
	tabcap = tabn = 0;
}

static void hmac_setup(struct kent *e);

/*
 * The cached state for (kind, key), made on first use; NULL if none.
 * The table holds hashes and pointers only: a probe touches 16 bytes,
 * not a whole entry (two digest states, ~600 bytes).
 */
static struct kent *
lookup(int kind, const u_char *key, u_int keylen)
{
	size_t i, mask;
	uint64_t h = fnv(kind, key, keylen);
	struct kent *e;

	if (keylen > sizeof e->key)
		return NULL;
	if (tabn + 1 > tabcap / 2) {
		struct kslot *old = tab;
		size_t oldcap = tabcap, j;
		if (oldcap >= 65536) {		/* keys of forgotten targets */
			usmfast_flush();
			old = NULL, oldcap = 0;
		}
		tabcap = oldcap ? oldcap * 2 : 64;
		if ((tab = calloc(tabcap, sizeof *tab)) == NULL) {
			tab = old, tabcap = oldcap;
			return NULL;
		}
		for (j = 0; j < oldcap; j++) {
			if (old[j].e == NULL)
				continue;
			mask = tabcap - 1;
			for (i = old[j].h & mask; tab[i].e != NULL; i = (i + 1) & mask)
				;
			tab[i] = old[j];
		}
		free(old);
	}
	mask = tabcap - 1;
	for (i = h & mask; tab[i].e != NULL; i = (i + 1) & mask) {
		e = tab[i].e;
		if (tab[i].h == h && e->kind == kind && e->keylen == keylen &&
		    memcmp(e->key, key, keylen) == 0)
			return e;
	}
	if ((e = calloc(1, sizeof *e)) == NULL)
		return NULL;
	e->used = 1, e->kind = kind, e->keylen = keylen;
	memcpy(e->key, key, keylen);
	if (kind < NH) {
		hmac_setup(e);
	} else {
		int p = kind & 15;
		if ((e->cc = EVP_CIPHER_CTX_new()) == NULL ||
		    EVP_CipherInit_ex2(e->cc, ciph[p], key, NULL,
		    (kind & K_ENC) != 0, NULL) != 1) {
			EVP_CIPHER_CTX_free(e->cc);
			OPENSSL_cleanse(e, sizeof *e);
			free(e);
			return NULL;
		}
	}
	tab[i].h = h, tab[i].e = e;
	tabn++;
	return e;
}

static void
h_init(int a, union hctx *c)
{
	if (a == H_SHA1) SHA1_Init(&c->s1);
	else if (a == H_SHA256) SHA256_Init(&c->s256);
	else SHA512_Init(&c->s512);
}

static void
h_update(int a, union hctx *c, const void *p, size_t n)
{
	if (a == H_SHA1) SHA1_Update(&c->s1, p, n);
	else if (a == H_SHA256) SHA256_Update(&c->s256, p, n);
	else SHA512_Update(&c->s512, p, n);
}

static void
h_final(int a, union hctx *c, u_char *md)
{
	if (a == H_SHA1) SHA1_Final(md, &c->s1);
	else if (a == H_SHA256) SHA256_Final(md, &c->s256);
	else SHA512_Final(md, &c->s512);
}

/* Keys no longer than a block (localized keys are one digest long). */
static void
hmac_setup(struct kent *e)
{
	u_char pad[128];
	size_t b = hinfo[e->kind].block, i;

	memset(pad, 0, sizeof pad);
	memcpy(pad, e->key, e->keylen);
	for (i = 0; i < b; i++)
		pad[i] ^= 0x36;
	h_init(e->kind, &e->in);
	h_update(e->kind, &e->in, pad, b);
	for (i = 0; i < b; i++)
		pad[i] ^= 0x36 ^ 0x5c;
	h_init(e->kind, &e->out);
	h_update(e->kind, &e->out, pad, b);
	OPENSSL_cleanse(pad, sizeof pad);
}

/* The full HMAC of msg into md; -1 if this key has no fast path. */
static int
hmac(int a, const u_char *key, u_int keylen, const u_char *msg, u_int msglen,
    u_char *md)
{
	struct kent *e;
	union hctx c;
	u_char inner[64];

	if (keylen == 0 || keylen > hinfo[a].block ||
	    (e = lookup(a, key, keylen)) == NULL)
		return -1;
	c = e->in;
	h_update(a, &c, msg, msglen);
	h_final(a, &c, inner);
	c = e->out;
	h_update(a, &c, inner, hinfo[a].dlen);
	h_final(a, &c, md);
	OPENSSL_cleanse(&c, sizeof c);
	return 0;
}

int
sc_generate_keyed_hash(const oid *authtype, size_t authtypelen,
    const u_char *key, u_int keylen, const u_char *message, u_int msglen,
    u_char *MAC, size_t *maclen)
{
	int a = hash_alg(authtype, authtypelen);
	u_char md[64];

	if (a >= 0 && hon[a] && key != NULL && message != NULL && msglen > 0 &&
	    MAC != NULL && maclen != NULL && *maclen == hinfo[a].trunc &&
	    hmac(a, key, keylen, message, msglen, md) == 0) {
		memcpy(MAC, md, hinfo[a].trunc);
		OPENSSL_cleanse(md, sizeof md);
		nfast++;
		return SNMPERR_SUCCESS;
	}
	resolve();
	nslow++;
	return orig_gen ? orig_gen(authtype, authtypelen, key, keylen, message,
	    msglen, MAC, maclen) : SNMPERR_GENERR;
}

int
sc_check_keyed_hash(const oid *authtype, size_t authtypelen,
    const u_char *key, u_int keylen, const u_char *message, u_int msglen,
    const u_char *MAC, u_int maclen)
{
	int a = hash_alg(authtype, authtypelen), rc;
	u_char md[64];

	if (a >= 0 && hon[a] && key != NULL && message != NULL && msglen > 0 &&
	    MAC != NULL && maclen == hinfo[a].trunc &&
	    hmac(a, key, keylen, message, msglen, md) == 0) {
		rc = CRYPTO_memcmp(md, MAC, maclen) == 0 ? SNMPERR_SUCCESS :
		    SNMPERR_GENERR;
		OPENSSL_cleanse(md, sizeof md);
		nfast++;
		return rc;
	}
	resolve();
	nslow++;
	return orig_chk ? orig_chk(authtype, authtypelen, key, keylen, message,
	    msglen, MAC, maclen) : SNMPERR_GENERR;
}

static const int pbits[NP] = { 128, 192, 256 };

/* AES-CFB128 as RFC 3826 uses it: no padding, ciphertext = plaintext length. */
static int
aes_cfb(int enc, const oid *t, size_t tl, const u_char *key, u_int keylen,
    const u_char *iv, u_int ivlen, const u_char *in, u_int inlen, u_char *out,
    size_t *outlen)
{
	int p = priv_alg(t, tl), n = 0;
	struct kent *e;

	if (p < 0 || !pon[p] || key == NULL || iv == NULL || in == NULL ||
	    out == NULL || outlen == NULL || inlen == 0 || inlen > INT32_MAX ||
	    *outlen < inlen || ivlen < 16 || keylen < (u_int)pbits[p] / 8 ||
	    (e = lookup((enc ? K_ENC : K_DEC) + p, key, (u_int)pbits[p] / 8)) == NULL)
		return -1;
	if (EVP_CipherInit_ex2(e->cc, NULL, NULL, iv, -1, NULL) != 1 ||
	    EVP_CipherUpdate(e->cc, out, &n, in, (int)inlen) != 1 ||
	    (u_int)n != inlen)
		return -1;
	*outlen = inlen;
	return 0;
}

int
sc_encrypt(const oid *privtype, size_t privtypelen, u_char *key, u_int keylen,
    u_char *iv, u_int ivlen, const u_char *plaintext, u_int ptlen,
    u_char *ciphertext, size_t *ctlen)
{
	if (aes_cfb(1, privtype, privtypelen, key, keylen, iv, ivlen, plaintext,
	    ptlen, ciphertext, ctlen) == 0) {
		nfast++;
		return SNMPERR_SUCCESS;
	}
	resolve();
	nslow++;
	return orig_enc ? orig_enc(privtype, privtypelen, key, keylen, iv, ivlen,
	    plaintext, ptlen, ciphertext, ctlen) : SNMPERR_GENERR;
}

int
sc_decrypt(const oid *privtype, size_t privtypelen, u_char *key, u_int keylen,
    u_char *iv, u_int ivlen, u_char *ciphertext, u_int ctlen,
    u_char *plaintext, size_t *ptlen)
{
	if (aes_cfb(0, privtype, privtypelen, key, keylen, iv, ivlen, ciphertext,
	    ctlen, plaintext, ptlen) == 0) {
		nfast++;
		return SNMPERR_SUCCESS;
	}
	resolve();
	nslow++;
	return orig_dec ? orig_dec(privtype, privtypelen, key, keylen, iv, ivlen,
	    ciphertext, ctlen, plaintext, ptlen) : SNMPERR_GENERR;
}

/*
 * The bucket of an engine in net-snmp's engine-time table. Any function
 * into 0..ETIMELIST_SIZE-1 is right as long as one process uses one
 * throughout: decided on the first call, never changed.
 */
int
hash_engineID(const u_char *engineID, u_int engineID_len)
{
	if (heid_mode == 0) {
		const char *g = getenv("RS_PROBE_GENERIC_CRYPTO");
		heid_mode = g != NULL && g[0] != '\0' && strcmp(g, "0") != 0 ? 2 : 1;
	}
	if (heid_mode == 1 && engineID != NULL && engineID_len > 0)
		return (int)(fnv(0, engineID, engineID_len) % ETIMELIST_SIZE);
	resolve();
	return orig_heid ? orig_heid(engineID, engineID_len) : SNMPERR_GENERR;
}

static uint64_t
uhash(const u_char *eid, size_t elen, const char *name)
{
	uint64_t h = fnv(1, eid, elen);
	const u_char *p;

	for (p = (const u_char *)name; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h ^ (h >> 31);
}

static int
umatch(const struct usmUser *u, const u_char *eid, size_t elen, const char *name)
{
	return u->engineIDLen == elen && u->name != NULL &&
	    (elen == 0 || memcmp(u->engineID, eid, elen) == 0) &&
	    strcmp(u->name, name) == 0;
}

static void
uinsert(struct usmUser *u)
{
	size_t i, mask;

	if (utabn + 1 > utabcap / 2) {
		struct usmUser **old = utab;
		size_t oldcap = utabcap, j;
		size_t cap = utabcap ? utabcap * 2 : 256;
		if ((utab = calloc(cap, sizeof *utab)) == NULL) {
			utab = old;
			return;
		}
		utabcap = cap, utabn = 0;
		for (j = 0; j < oldcap; j++)
			if (old[j] != NULL)
				uinsert(old[j]);
		free(old);
	}
	mask = utabcap - 1;
	for (i = uhash(u->engineID, u->engineIDLen, u->name) & mask; utab[i] != NULL;
	    i = (i + 1) & mask)
		;
	utab[i] = u;
	utabn++;
}

struct usmUser *
usm_get_user(const u_char *engineID, size_t engineIDLen, const char *name)
{
	struct usmUser *u;
	size_t i, mask;

	resolve();
	if (orig_uget == NULL)
		return NULL;
	if (!uon || name == NULL || (engineID == NULL && engineIDLen > 0))
		return orig_uget(engineID, engineIDLen, name);
	if (udirty) {
		if (utab != NULL)
			memset(utab, 0, utabcap * sizeof *utab);
		utabn = 0;
		udirty = 0;
	}
	if (utabcap > 0) {
		mask = utabcap - 1;
		for (i = uhash(engineID, engineIDLen, name) & mask; utab[i] != NULL;
		    i = (i + 1) & mask)
			if (umatch(utab[i], engineID, engineIDLen, name))
				return utab[i];
	}
	u = orig_uget(engineID, engineIDLen, name);
	/* Only exact matches: not a default user handed out for a miss. */
	if (u != NULL && umatch(u, engineID, engineIDLen, name))
		uinsert(u);
	return u;
}

struct usmUser *
usm_add_user(struct usmUser *user)
{
	resolve();
	udirty = 1;
	return orig_uadd ? orig_uadd(user) : NULL;
}

struct usmUser *
usm_remove_user(struct usmUser *user)
{
	resolve();
	udirty = 1;
	return orig_uremove ? orig_uremove(user) : NULL;
}

struct usmUser *
usm_free_user(struct usmUser *user)
{
	resolve();
	udirty = 1;
	return orig_ufree ? orig_ufree(user) : NULL;
}

static int
selftest_hash(int a)
{
	u_char key[64], msg[300], m1[64], m2[64];
	size_t l1 = hinfo[a].trunc, l2 = hinfo[a].trunc;
	const oid *t = a == H_SHA1 ? usmHMACSHA1AuthProtocol :
	    a == H_SHA256 ? usmHMAC192SHA256AuthProtocol : usmHMAC384SHA512AuthProtocol;
	int ok;

	if (RAND_bytes(key, sizeof key) != 1 || RAND_bytes(msg, sizeof msg) != 1)
		return 0;
	hon[a] = 0;
	if (orig_gen(t, TRANSFORM_LEN, key, (u_int)hinfo[a].dlen, msg,
	    sizeof msg, m1, &l1) != SNMPERR_SUCCESS)
		return 0;
	hon[a] = 1;
	ok = sc_generate_keyed_hash(t, TRANSFORM_LEN, key,
	    (u_int)hinfo[a].dlen, msg, sizeof msg, m2, &l2) == SNMPERR_SUCCESS &&
	    l1 == l2 && memcmp(m1, m2, l1) == 0 &&
	    sc_check_keyed_hash(t, TRANSFORM_LEN, key,
	    (u_int)hinfo[a].dlen, msg, sizeof msg, m1, (u_int)l1) == SNMPERR_SUCCESS;
	m1[0] ^= 1;
	ok = ok && sc_check_keyed_hash(t, TRANSFORM_LEN, key,
	    (u_int)hinfo[a].dlen, msg, sizeof msg, m1, (u_int)l1) != SNMPERR_SUCCESS &&
	    orig_chk(t, TRANSFORM_LEN, key, (u_int)hinfo[a].dlen, msg,
	    sizeof msg, m1, (u_int)l1) != SNMPERR_SUCCESS;
	m1[0] ^= 1;
	ok = ok && orig_chk(t, TRANSFORM_LEN, key, (u_int)hinfo[a].dlen,
	    msg, sizeof msg, m2, (u_int)l2) == SNMPERR_SUCCESS;
	hon[a] = ok;
	OPENSSL_cleanse(key, sizeof key);
	return ok;
}

static int
selftest_priv(int p)
{
	u_char key[64], iv[16], pt[157], c1[160], c2[160], d[160];
	const oid *t = p == P_AES128 ? usmAESPrivProtocol :
	    p == P_AES192 ? usmAES192PrivProtocol : usmAES256PrivProtocol;
	size_t tl = p == P_AES128 ? OID_LENGTH(usmAESPrivProtocol) :
	    OID_LENGTH(usmAES256PrivProtocol), l1, l2, l3;
	u_int kl, klens[2] = { (u_int)pbits[p] / 8, 64 };
	int ok = 1, k;

	for (k = 0; k < 2 && ok; k++) {
		kl = klens[k];
		if (RAND_bytes(key, sizeof key) != 1 || RAND_bytes(iv, sizeof iv) != 1 ||
		    RAND_bytes(pt, sizeof pt) != 1)
			return pon[p] = 0;
		l1 = l2 = l3 = sizeof c1;
		pon[p] = 0;
		if (orig_enc(t, tl, key, kl, iv, sizeof iv, pt, sizeof pt, c1, &l1) !=
		    SNMPERR_SUCCESS)
			return 0;
		pon[p] = 1;
		ok = sc_encrypt(t, tl, key, kl, iv, sizeof iv, pt, sizeof pt, c2, &l2) ==
		    SNMPERR_SUCCESS && l1 == l2 && memcmp(c1, c2, l1) == 0 &&
		    sc_decrypt(t, tl, key, kl, iv, sizeof iv, c1, (u_int)l1, d, &l3) ==
		    SNMPERR_SUCCESS && l3 == sizeof pt && memcmp(d, pt, sizeof pt) == 0;
		l3 = sizeof d;
		ok = ok && orig_dec(t, tl, key, kl, iv, sizeof iv, c2, (u_int)l2, d, &l3) ==
		    SNMPERR_SUCCESS && l3 == sizeof pt && memcmp(d, pt, sizeof pt) == 0;
		pon[p] = ok;
	}
	OPENSSL_cleanse(key, sizeof key);
	return ok;
}

int
usmfast_init(int disable)
{
	const char *g = getenv("RS_PROBE_GENERIC_CRYPTO");
	int a, n = 0;

	static const char *const cname[NP] = { "AES-128-CFB", "AES-192-CFB",
	    "AES-256-CFB" };

	resolve();
	memset(hon, 0, sizeof hon);
	memset(pon, 0, sizeof pon);
	for (a = 0; a < NP; a++)
		if (ciph[a] == NULL)
			ciph[a] = EVP_CIPHER_fetch(NULL, cname[a], NULL);
	if (disable || (g != NULL && g[0] != '\0' && strcmp(g, "0") != 0) ||
	    orig_gen == NULL || orig_chk == NULL || orig_enc == NULL ||
	    orig_dec == NULL)
		return 0;
	if (orig_uget != NULL && orig_uadd != NULL && orig_uremove != NULL &&
	    orig_ufree != NULL)
		uon = 1, udirty = 1, n++;
	for (a = 0; a < NH; a++)
		n += selftest_hash(a);
	for (a = 0; a < NP; a++)
		if (ciph[a] != NULL)
			n += selftest_priv(a);
	usmfast_flush();	/* the test keys */
	return n;
}

void
usmfast_counts(unsigned long long *fast, unsigned long long *slow)
{
	*fast = nfast;
	*slow = nslow;
}
