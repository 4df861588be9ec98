/*
 * Message authentication for heartbeats and sync: HMAC-SHA256 from
 * libcrypto over a shared key file, and a per-sender anti-replay window.
 */
#ifndef NONSTOP_AUTH_H
#define NONSTOP_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define AUTH_MACLEN 32
#define AUTH_KEYMIN 16
#define AUTH_KEYMAX 256

struct auth_key {
	unsigned char k[AUTH_KEYMAX];
	size_t len;
};

/*
 * Load the key: the whole file's bytes, 16 to 256 of them. Refuses a file
 * that others may read or write (EPERM), a short or long one (EINVAL).
 * *why says which in words.
 */
int auth_key_load(const char *path, struct auth_key *key, const char **why);
void auth_key_wipe(struct auth_key *key);
void auth_mac(const struct auth_key *key, const void *data, size_t len,
    unsigned char mac[AUTH_MACLEN]);
/* 1 if mac is data's MAC, compared in constant time. */
int auth_verify(const struct auth_key *key, const void *data, size_t len,
    const unsigned char mac[AUTH_MACLEN]);

/*
 * Anti-replay per sender: a sender numbers its messages (epoch, seq); the
 * epoch is the sender's start time and grows across restarts, seq grows
 * within an epoch. A message is fresh when its epoch is newer, or equal and
 * seq is newer than anything in the last 64 or not yet seen among them.
 */
struct auth_replay {
	uint64_t epoch;
	uint64_t top;		/* highest seq seen in epoch */
	uint64_t seen;		/* bit i: top - i seen */
};

/* 1 and recorded if fresh, 0 if a replay or too old. */
int auth_replay_check(struct auth_replay *r, uint64_t epoch, uint64_t seq);
/* An epoch for a new sender: CLOCK_REALTIME in ns. */
uint64_t auth_epoch_now(void);

#endif
