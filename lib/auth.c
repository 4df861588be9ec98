/* HMAC-SHA256 and anti-replay; see auth.h. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"

int
auth_key_load(const char *path, struct auth_key *key, const char **why)
{
	struct stat st;
	ssize_t n;
	int fd;

	memset(key, 0, sizeof *key);
	*why = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		*why = "key file is not a regular file";
		errno = EINVAL;
		goto fail;
	}
	if (st.st_mode & (S_IRWXO | S_IWGRP)) {
		*why = "key file is accessible to others (chmod 600 or 640)";
		errno = EPERM;
		goto fail;
	}
	n = read(fd, key->k, sizeof key->k);
	if (n == -1)
		goto fail;
	if (n == (ssize_t)sizeof key->k) {
		char c;
		if (read(fd, &c, 1) == 1) {
			*why = "key longer than 256 bytes";
			errno = EINVAL;
			goto fail;
		}
	}
	if (n < AUTH_KEYMIN) {
		*why = "key shorter than 16 bytes";
		errno = EINVAL;
		goto fail;
	}
	key->len = n;
	close(fd);
	return 0;
fail:
	{
		int e = errno;
		close(fd);
		auth_key_wipe(key);
		errno = e;
	}
	return -1;
}

void
auth_key_wipe(struct auth_key *key)
{
	OPENSSL_cleanse(key, sizeof *key);
}

void
auth_mac(const struct auth_key *key, const void *data, size_t len,
    unsigned char mac[AUTH_MACLEN])
{
	unsigned int ml = AUTH_MACLEN;

	HMAC(EVP_sha256(), key->k, (int)key->len, data, len, mac, &ml);
}

int
auth_verify(const struct auth_key *key, const void *data, size_t len,
    const unsigned char mac[AUTH_MACLEN])
{
	unsigned char want[AUTH_MACLEN];
	int ok;

	auth_mac(key, data, len, want);
	ok = CRYPTO_memcmp(want, mac, AUTH_MACLEN) == 0;
	OPENSSL_cleanse(want, sizeof want);
	return ok;
}

int
auth_replay_check(struct auth_replay *r, uint64_t epoch, uint64_t seq)
{
	uint64_t d;

	if (epoch < r->epoch)
		return 0;
	if (epoch > r->epoch) {
		r->epoch = epoch;
		r->top = seq;
		r->seen = 1;
		return 1;
	}
	if (seq > r->top) {
		d = seq - r->top;
		r->seen = d >= 64 ? 1 : (r->seen << d) | 1;
		r->top = seq;
		return 1;
	}
	d = r->top - seq;
	if (d >= 64 || (r->seen & (1ULL << d)))
		return 0;
	r->seen |= 1ULL << d;
	return 1;
}

uint64_t
auth_epoch_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
