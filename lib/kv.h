/*
 * key=value records, one per line: the text format of role files, state
 * files and event streams. Tokens are separated by blanks; a value holding
 * blanks, quotes, '#', '=' or nothing is written in double quotes with
 * \" \\ \n \t escapes. Keys are [A-Za-z0-9_.-]+.
 */
#ifndef NONSTOP_KV_H
#define NONSTOP_KV_H

#include <stddef.h>
#include <stdio.h>

struct kv {
	char *key;
	char *val;
};

struct kv_rec {
	struct kv *v;
	size_t n;
	char *buf;	/* owns the strings */
};

/*
 * Parse one line into rec (keys and values point into rec->buf).
 * A blank line or a '#' comment gives n == 0. Returns 0, or -1 with
 * errno EINVAL and *why naming the problem (bad key, unterminated quote,
 * a token without '=', a repeated key), or ENOMEM.
 */
int kv_parse(struct kv_rec *rec, const char *line, const char **why);
void kv_free(struct kv_rec *rec);
/* The value of key, or NULL. */
const char *kv_get(const struct kv_rec *rec, const char *key);
/* 1 if s is a valid key. */
int kv_key_ok(const char *s);

/*
 * Split a config line into words (same quoting, no '=' required), at most
 * max words. Returns the count, or -1 (EINVAL with *why, or E2BIG).
 * Words point into buf, which the caller owns and which is modified.
 */
int kv_words(char *buf, char **words, int max, const char **why);

/* Write " key=value" (no leading blank when first), quoting as needed. */
int kv_fput(FILE *f, int first, const char *key, const char *val);
/* Same into buf; returns the length it needs (snprintf rules). */
int kv_sput(char *buf, size_t size, int first, const char *key, const char *val);

#endif
