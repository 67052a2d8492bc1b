/* Shared by the config tests (test_config*.c): expected-error checks,
 * log capture, a temporary directory, and config text builders. */
#pragma once
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/config/config.h"
#include "util/log.h"

#define K72  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223"
#define K72B "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b0c0d0e0f10111213"

#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		if (!strstr((hay), (needle)))                                                      \
			fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));               \
	} while (0)
#define assert_starts_with(s, prefix)                                                              \
	do {                                                                                       \
		if (strncmp((s), (prefix), strlen(prefix)))                                        \
			fail_msg("\"%s\" does not start with \"%s\"", (s), (prefix));              \
	} while (0)

/* ---- helpers ----------------------------------------------------------- */

struct capture {
	int saved;
	FILE *tmp;
};

static __attribute__((unused)) void capture_begin(struct capture *cap)
{
	log_set_level(LOG_INFO);
	fflush(stderr);
	cap->tmp = tmpfile();
	assert_non_null(cap->tmp);
	cap->saved = dup(2);
	assert_true(cap->saved >= 0);
	assert_true(dup2(fileno(cap->tmp), 2) >= 0);
}

/* Returns what went to stderr (caller frees). */
static char *capture_end(struct capture *cap)
{
	fflush(stderr);
	dup2(cap->saved, 2);
	close(cap->saved);
	long n = ftell(cap->tmp);
	char *s = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
	rewind(cap->tmp);
	if (n > 0)
		assert_int_equal(fread(s, 1, (size_t)n, cap->tmp), (size_t)n);
	fclose(cap->tmp);
	return s;
}

static __attribute__((unused)) unsigned count(const char *hay, const char *needle)
{
	unsigned n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Loads text that must fail; err must start with prefix ("FILE:LINE: KEY:
 * expected ...") and be exactly one line. */
static __attribute__((unused)) void expect_error(const char *text,
						 const struct ipop_config_overrides *ov,
						 const char *prefix, const char *also)
{
	struct ipop_config c;
	char err[512];
	assert_int_equal(ipop_config_load_string("t.json", text, ov, &c, err, sizeof(err)), -1);
	assert_starts_with(err, prefix);
	assert_null(strchr(err, '\n'));
	if (also)
		assert_contains(err, also);
	/* The output is zeroed on failure: freeing it again is harmless. */
	ipop_config_free(&c);
}

static __attribute__((unused)) void
load_ok(const char *text, const struct ipop_config_overrides *ov, struct ipop_config *c)
{
	char err[512] = "";
	int rc = ipop_config_load_string("t.json", text, ov, c, err, sizeof(err));
	if (rc)
		fail_msg("unexpected error: %s", err);
}

static __attribute__((unused)) void ip6_of(const char *s, uint8_t out[16])
{
	assert_int_equal(inet_pton(AF_INET6, s, out), 1);
}

static __attribute__((unused)) uint32_t ip4_of(const char *s)
{
	uint32_t a;
	assert_int_equal(net_ip4_parse(s, &a), 0);
	return a;
}

static __attribute__((unused)) unsigned expected_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n <= 2 ? 1 : n > 65 ? 64 : (unsigned)(n - 1);
}

static char tmpdir[64];

static __attribute__((unused)) void write_file(const char *name, const char *text, mode_t mode,
					       char *path_out)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	if (path_out)
		strcpy(path_out, path);
}

static __attribute__((unused)) int setup_tmpdir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ipopd-test-config-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static __attribute__((unused)) void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path) && errno == EISDIR)
			remove_tree(path);
	}
	closedir(d);
	rmdir(dir);
}

static __attribute__((unused)) int teardown_tmpdir(void **state)
{
	(void)state;
	remove_tree(tmpdir);
	return 0;
}

/* ---- config text -------------------------------------------------------- */

#define PEERS_HEAD                                                                                 \
	"{\n"                                                                                      \
	"  \"CFx\": {\"ip4_mask\": 24},\n"                                                         \
	"  \"BaseTopologyManager\": {\"ip4\": \"10.254.0.1\"},\n"                                  \
	"  \"ipopd\": {\n"                                                                         \
	"    \"peers\": [\n"
#define PEERS_TAIL "    ]\n  }\n}\n"
/* a peer on lines +0..+6 */
#define PEER(name, ep, ip, spi_in, sa_in_key, spi_out)                                             \
	"      {\n"                                                                                \
	"        \"name\": \"" name "\",\n"                                                        \
	"        \"endpoint\": \"" ep "\",\n"                                                      \
	"        \"ip4\": \"" ip "\",\n"                                                           \
	"        \"sa_in\": {\"spi\": " spi_in ", " sa_in_key "},\n"                               \
	"        \"sa_out\": {\"spi\": " spi_out ", \"key\": \"" K72 "\"}\n"                       \
	"      }"
#define GOODKEY "\"key\": \"" K72B "\""
