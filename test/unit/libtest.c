/*
 * Unit checks of lib/: kv records, atomic writes, anti-replay, addresses.
 * Prints "ok N - what" / "not ok N - what" and exits 1 if any failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "atomic.h"
#include "auth.h"
#include "kv.h"

static int n, failed;

static void
check(int ok, const char *what)
{
	printf("%sok %d - %s\n", ok ? "" : "not ", ++n, what);
	if (!ok)
		failed = 1;
}

static void
test_kv(void)
{
	struct kv_rec r;
	const char *why;
	char buf[256];

	check(kv_parse(&r, "role=lb host=lb1 note=\"a \\\"b\\\" c\"", &why) == 0 &&
	    r.n == 3 && strcmp(kv_get(&r, "note"), "a \"b\" c") == 0 &&
	    strcmp(kv_get(&r, "role"), "lb") == 0, "kv_parse quoted value with escapes");
	kv_free(&r);
	check(kv_parse(&r, "  # comment", &why) == 0 && r.n == 0, "kv_parse comment line");
	kv_free(&r);
	check(kv_parse(&r, "a=1 a=2", &why) == -1 && strcmp(why, "repeated key") == 0,
	    "kv_parse refuses a repeated key");
	check(kv_parse(&r, "a=1 b", &why) == -1 && strcmp(why, "token without '='") == 0,
	    "kv_parse refuses a token without =");
	check(kv_parse(&r, "b@d=1", &why) == -1 && strcmp(why, "bad key") == 0,
	    "kv_parse refuses a bad key");
	check(kv_parse(&r, "a=\"open", &why) == -1 && strcmp(why, "unterminated quote") == 0,
	    "kv_parse refuses an unterminated quote");
	check(kv_parse(&r, "a=", &why) == 0 && strcmp(kv_get(&r, "a"), "") == 0,
	    "kv_parse empty value");
	kv_free(&r);
	kv_sput(buf, sizeof buf, 1, "k", "two words");
	check(strcmp(buf, "k=\"two words\"") == 0, "kv_sput quotes blanks");
	kv_sput(buf, sizeof buf, 0, "k", "");
	check(strcmp(buf, " k=\"\"") == 0, "kv_sput quotes an empty value");
	kv_sput(buf, sizeof buf, 1, "k", "a\"b\\c\nd");
	check(kv_parse(&r, buf, &why) == 0 && strcmp(kv_get(&r, "k"), "a\"b\\c\nd") == 0,
	    "kv_sput then kv_parse round trip");
	kv_free(&r);
	check(kv_sput(buf, 4, 1, "key", "value") == 9 && strlen(buf) == 3,
	    "kv_sput truncates and reports the length needed");
}

static void
test_atomic(void)
{
	char dir[] = "/tmp/libtestXXXXXX", path[128], tmp[140], *s;
	struct stat st;
	size_t len;
	int fd;

	if (mkdtemp(dir) == NULL) {
		check(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof path, "%s/state", dir);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	check(atomic_write_str(path, "master\n", 0644) == 0, "atomic_write creates");
	s = atomic_read(path, 1024, &len);
	check(s && strcmp(s, "master\n") == 0 && len == 7, "atomic_read reads it back");
	free(s);
	/* A writer killed mid-way leaves a .tmp: the next write replaces it. */
	fd = open(tmp, O_WRONLY | O_CREAT, 0644);
	write(fd, "torn", 4);
	close(fd);
	check(atomic_write_str(path, "backup\n", 0600) == 0, "atomic_write over a stale temp file");
	s = atomic_read(path, 1024, NULL);
	check(s && strcmp(s, "backup\n") == 0, "the new content is there");
	free(s);
	check(stat(tmp, &st) == -1 && errno == ENOENT, "no temp file left");
	check(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "mode as asked");
	snprintf(path, sizeof path, "%s/nodir/state", dir);
	check(atomic_write_str(path, "x", 0644) == -1 && errno == ENOENT,
	    "atomic_write into a missing folder fails with ENOENT");
	s = atomic_read("/nonexistent/file", 16, NULL);
	check(s == NULL && errno == ENOENT, "atomic_read of a missing file");
	snprintf(path, sizeof path, "%s/state", dir);
	unlink(path);
	rmdir(dir);
}

static void
test_replay(void)
{
	struct auth_replay r = { 0 };

	check(auth_replay_check(&r, 100, 1) == 1, "replay: first message fresh");
	check(auth_replay_check(&r, 100, 1) == 0, "replay: same message again refused");
	check(auth_replay_check(&r, 100, 3) == 1, "replay: newer fresh");
	check(auth_replay_check(&r, 100, 2) == 1, "replay: late but unseen fresh");
	check(auth_replay_check(&r, 100, 2) == 0, "replay: late and seen refused");
	check(auth_replay_check(&r, 100, 100) == 1, "replay: jump ahead");
	check(auth_replay_check(&r, 100, 20) == 0, "replay: older than the window refused");
	check(auth_replay_check(&r, 99, 1000) == 0, "replay: older epoch refused");
	check(auth_replay_check(&r, 101, 1) == 1, "replay: newer epoch (restart) fresh");
}

static void
test_auth(void)
{
	struct auth_key k = { .k = "0123456789abcdef", .len = 16 };
	unsigned char mac[AUTH_MACLEN];

	auth_mac(&k, "hello", 5, mac);
	check(auth_verify(&k, "hello", 5, mac) == 1, "auth_verify accepts its own MAC");
	mac[0] ^= 1;
	check(auth_verify(&k, "hello", 5, mac) == 0, "auth_verify refuses a changed MAC");
}

static void
test_addr(void)
{
	struct addr a, b;
	char buf[ADDR_STRLEN];

	check(addr_parse("192.0.2.1", &a) == 0 && a.plen == 32 &&
	    strcmp(addr_fmt(&a, buf, sizeof buf), "192.0.2.1") == 0, "addr v4");
	check(addr_parse("2001:db8::1/64", &a) == 0 && a.plen == 64 &&
	    strcmp(addr_fmt(&a, buf, sizeof buf), "2001:db8::1/64") == 0, "addr v6 with prefix");
	check(addr_parse("192.0.2.1/33", &a) == -1, "addr refuses /33");
	check(addr_parse("192.0.2.1/", &a) == -1, "addr refuses an empty prefix");
	check(addr_parse("192.0.2.256", &a) == -1, "addr refuses a bad octet");
	check(addr_parse("192.0.2.1/24", &a) == 0 && addr_parse("192.0.2.1", &b) == 0 &&
	    addr_eq(&a, &b), "addr_eq ignores the prefix");
}

int
main(void)
{
	test_kv();
	test_atomic();
	test_replay();
	test_auth();
	test_addr();
	printf("1..%d\n", n);
	return failed;
}
