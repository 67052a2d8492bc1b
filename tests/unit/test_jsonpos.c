/* jsonpos (control/config/jsonpos.c): the line of a key path in JSON text,
 * and no overread on malformed or truncated text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "control/config/jsonpos.h"

static void test_jsonpos(void **state)
{
	static const char t[] = "{\n"
				"  \"a\": {\"b\": 1,\n"
				"    \"c\\\"d\": [\n"
				"      \"x\\\"]{\",\n"
				"      {\"e\": {\"f\": [1, {\"g\": 2}]}}\n"
				"    ],\n"
				"    \"c\": [10,\n"
				"      20]\n"
				"  },\n"
				"  \"h\\u0069\": true\n"
				"}";
	size_t n = strlen(t);
	(void)state;
	assert_int_equal(jsonpos_line(t, n, "a"), 2);
	assert_int_equal(jsonpos_line(t, n, "a.b"), 2);
	assert_int_equal(jsonpos_line(t, n, "a.c"), 7);
	assert_int_equal(jsonpos_line(t, n, "a.c[0]"), 7);
	assert_int_equal(jsonpos_line(t, n, "a.c[1]"), 8);
	assert_int_equal(jsonpos_line(t, n, "a.c[2]"), 0);
	assert_int_equal(jsonpos_line(t, n, "a.c\"d[1].e.f[1].g"), 5);
	assert_int_equal(jsonpos_line(t, n, "hi"), 10);
	assert_int_equal(jsonpos_line(t, n, "a.x"), 0);
	assert_int_equal(jsonpos_line(t, n, "a.b.c"), 0);
	assert_int_equal(jsonpos_line(t, n, ""), 0);
	assert_int_equal(jsonpos_line(t, n, "a[0]"), 0);
	assert_int_equal(jsonpos_line(t, n, "a.c[x]"), 0);
	assert_int_equal(jsonpos_line(t, n, "a.c[99999999999999999999]"), 0);
	assert_int_equal(jsonpos_line("[1,\n2]", 6, "[1]"), 2);
	/* malformed or truncated text: every prefix of t, and some garbage */
	for (size_t i = 0; i < n; i++) {
		char *copy = malloc(i ? i : 1); /* exact size so ASan sees any overread */
		memcpy(copy, t, i);
		unsigned l = jsonpos_line(copy, i, "a.c\"d[1].e.f[1].g");
		assert_true(l == 0 || l == 5);
		jsonpos_line(copy, i, "hi");
		jsonpos_line(copy, i, "a.c[1]");
		free(copy);
	}
	static const char *bad[] = {
	    "{\"a\"",	    "{\"a\":", "{\"a\": [", "{\"a\\",
	    "{\"a\": \"\\", "{,}",     "}}}",	    "{\"a\": {]]]}, \"b\": 1}",
	    "\"\\u12"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = strlen(bad[i]);
		char *copy = malloc(len);
		memcpy(copy, bad[i], len);
		jsonpos_line(copy, len, "a.b");
		jsonpos_line(copy, len, "b");
		jsonpos_line(copy, len, "[0]");
		free(copy);
	}
	assert_int_equal(jsonpos_line(NULL, 0, "a"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_jsonpos),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
