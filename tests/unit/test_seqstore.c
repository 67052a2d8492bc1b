/* Sequence reservation files: round trip, durability details, and every
 * malformed content refused (a wrong guess here could reuse a GCM nonce). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "control/link/seqstore.h"

static char dir[] = "/tmp/ipopd-test-seq-XXXXXX";

static void write_raw(uint32_t spi, const char *content)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/seq-%08x", dir, spi);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void test_round_trip(void **state)
{
	(void)state;
	uint64_t mark = 99;
	assert_int_equal(ctl_seq_load(dir, 0x80000001, &mark), 0);
	assert_int_equal(mark, 0); /* no file: start from zero */
	assert_int_equal(ctl_seq_store(dir, 0x80000001, 4194304), 0);
	assert_int_equal(ctl_seq_load(dir, 0x80000001, &mark), 0);
	assert_int_equal(mark, 4194304);
	assert_int_equal(ctl_seq_store(dir, 0x80000001, 0x100000000ull), 0);
	assert_int_equal(ctl_seq_load(dir, 0x80000001, &mark), 0);
	assert_int_equal(mark, 0x100000000ull);

	char path[256];
	struct stat st;
	snprintf(path, sizeof(path), "%s/seq-80000001", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/seq-80000001.tmp", dir);
	assert_int_equal(access(path, F_OK), -1); /* renamed into place, nothing left over */
}

static void test_malformed(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",		    "\n",	   "abc\n",	 "-1\n",	 "12x\n",
	    "12 34\n",	    "4294967297\n", "99999999999999999999999\n", " \n",
	    "0x10\n",	    "1\n2\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t mark = 7;
		write_raw(0x80000002, bad[i]);
		int rc = ctl_seq_load(dir, 0x80000002, &mark);
		if (rc != -EBADMSG)
			fail_msg("content %zu \"%s\": expected -EBADMSG, got %d", i, bad[i], rc);
	}
	uint64_t mark;
	write_raw(0x80000002, "123");
	assert_int_equal(ctl_seq_load(dir, 0x80000002, &mark), 0);
	assert_int_equal(mark, 123);
	write_raw(0x80000002, "4294967296\n"); /* exactly 2^32: every number used */
	assert_int_equal(ctl_seq_load(dir, 0x80000002, &mark), 0);
	assert_int_equal(mark, 4294967296ull);
}

static void test_unwritable(void **state)
{
	(void)state;
	assert_true(ctl_seq_store("/nonexistent-ipopd-dir", 0x80000003, 1) < 0);
	uint64_t mark;
	/* A directory where the file should be: unreadable, refused. */
	char path[256];
	snprintf(path, sizeof(path), "%s/seq-80000004", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_true(ctl_seq_load(dir, 0x80000004, &mark) < 0);
	rmdir(path);
}

static int cleanup(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_unwritable),
	};
	return cmocka_run_group_tests(tests, NULL, cleanup);
}
