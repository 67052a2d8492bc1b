/* Underlay demultiplexing: ESP, STUN, control and garbage, including every
 * short length around the thresholds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dataplane/classify.h"

/* RFC 5769 §2.1: a real STUN Binding Request (with SOFTWARE, PRIORITY,
 * ICE-CONTROLLED, USERNAME, MESSAGE-INTEGRITY and FINGERPRINT). */
static const uint8_t stun_request[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* A Binding Success Response header (no attributes) as coturn sends it. */
static const uint8_t stun_response_hdr[20] = {
    0x01, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
};

static void test_stun(void **state)
{
	(void)state;
	assert_int_equal(dp_classify(stun_request, sizeof(stun_request)), DP_CLASS_STUN);
	assert_int_equal(dp_classify(stun_response_hdr, 20), DP_CLASS_STUN);
	/* A STUN header is 20 bytes: anything shorter is not STUN. */
	for (size_t len = 0; len < 20; len++)
		assert_int_equal(dp_classify(stun_request, len), DP_CLASS_GARBAGE);

	uint8_t b[sizeof(stun_request)];
	memcpy(b, stun_request, sizeof(b));
	b[7] ^= 1; /* wrong magic cookie */
	assert_int_equal(dp_classify(b, sizeof(b)), DP_CLASS_GARBAGE);

	memcpy(b, stun_request, sizeof(b));
	b[0] = 0x40; /* top two bits 01: TURN ChannelData, not STUN (and not ESP) */
	assert_int_equal(dp_classify(b, sizeof(b)), DP_CLASS_CHANNEL);
	b[0] = 0x3f; /* top two bits still 00: STUN */
	assert_int_equal(dp_classify(b, sizeof(b)), DP_CLASS_STUN);
}

static void test_control(void **state)
{
	(void)state;
	uint8_t b[64] = {0};

	/* The non-ESP marker alone, and with payload. */
	assert_int_equal(dp_classify(b, 4), DP_CLASS_CONTROL);
	b[4] = 1;
	b[5] = 0x42;
	assert_int_equal(dp_classify(b, sizeof(b)), DP_CLASS_CONTROL);

	/* The marker wins even when the STUN cookie follows it. */
	b[4] = 0x21, b[5] = 0x12, b[6] = 0xa4, b[7] = 0x42;
	assert_int_equal(dp_classify(b, sizeof(b)), DP_CLASS_CONTROL);

	/* Fewer than 4 bytes cannot carry the marker. */
	for (size_t len = 0; len < 4; len++)
		assert_int_equal(dp_classify(b, len), DP_CLASS_GARBAGE);
	/* One non-zero bit in the marker makes it something else. */
	for (int byte = 0; byte < 4; byte++) {
		memset(b, 0, sizeof(b));
		b[byte] = 0x01;
		assert_int_not_equal(dp_classify(b, sizeof(b)), DP_CLASS_CONTROL);
	}
}

static void test_esp(void **state)
{
	(void)state;
	uint8_t b[64] = {0x80, 0x00, 0x12, 0x34, 0, 0, 0, 1};

	assert_int_equal(dp_classify(b, sizeof(b)), DP_CLASS_ESP);
	assert_int_equal(dp_classify(b, 8), DP_CLASS_ESP);
	for (size_t len = 0; len < 8; len++)
		assert_int_equal(dp_classify(b, len), DP_CLASS_GARBAGE);

	b[0] = 0xff, b[1] = 0xff, b[2] = 0xff, b[3] = 0xff;
	assert_int_equal(dp_classify(b, sizeof(b)), DP_CLASS_ESP);
	/* Just below the SPI range: first bits 01, a TURN channel number. */
	b[0] = 0x7f;
	assert_int_equal(dp_classify(b, sizeof(b)), DP_CLASS_CHANNEL);
	/* An ESP packet whose bytes 4..7 happen to equal the STUN cookie is ESP. */
	b[0] = 0x80, b[4] = 0x21, b[5] = 0x12, b[6] = 0xa4, b[7] = 0x42;
	assert_int_equal(dp_classify(b, sizeof(b)), DP_CLASS_ESP);
}

static void test_garbage(void **state)
{
	(void)state;
	uint8_t b[32] = {0x00, 0x00, 0x00, 0x01};

	assert_int_equal(dp_classify(NULL, 0), DP_CLASS_GARBAGE);
	assert_int_equal(dp_classify(b, sizeof(b)), DP_CLASS_GARBAGE);
	/* DNS-looking and HTTP-looking junk. "G" has the first bits 01 of a
	 * TURN channel number: the pipeline drops it unless it comes from a
	 * TURN server of ours and has a matching length (test_pipeline). */
	const char *http = "GET / HTTP/1.1\r\n\r\n";
	assert_int_equal(dp_classify((const uint8_t *)http, strlen(http)), DP_CLASS_CHANNEL);
	uint8_t dns[12] = {0x12, 0x34, 0x01, 0x00, 0x00, 0x01};
	assert_int_equal(dp_classify(dns, sizeof(dns)), DP_CLASS_GARBAGE);
	/* A single 0xff keepalive byte (RFC 3948 NAT-keepalive) is garbage, not ESP. */
	uint8_t ka = 0xff;
	assert_int_equal(dp_classify(&ka, 1), DP_CLASS_GARBAGE);
}

/* Random inputs: every answer must agree with the rules of DESIGN.md. */
static void test_random_consistent(void **state)
{
	(void)state;
	uint8_t b[32];
	unsigned seed = 12345;

	for (int iter = 0; iter < 200000; iter++) {
		size_t len = (size_t)(rand_r(&seed) % 33);
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (uint8_t)rand_r(&seed);
		/* Bias towards the interesting prefixes. */
		int kind = rand_r(&seed) % 4;
		if (kind == 0)
			memset(b, 0, 4);
		else if (kind == 1)
			b[0] &= 0x3f, b[4] = 0x21, b[5] = 0x12, b[6] = 0xa4, b[7] = 0x42;

		enum dp_class c = dp_classify(b, len);
		uint32_t first =
		    len >= 4 ? (uint32_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3] : 1;
		if (len >= 4 && first == 0)
			assert_int_equal(c, DP_CLASS_CONTROL);
		else if (len >= 8 && (first & 0x80000000u))
			assert_int_equal(c, DP_CLASS_ESP);
		else if (len >= 20 && (b[0] & 0xc0) == 0 && b[4] == 0x21 && b[5] == 0x12 &&
			 b[6] == 0xa4 && b[7] == 0x42)
			assert_int_equal(c, DP_CLASS_STUN);
		else if (len >= 4 && (b[0] & 0xc0) == 0x40)
			assert_int_equal(c, DP_CLASS_CHANNEL);
		else
			assert_int_equal(c, DP_CLASS_GARBAGE);
	}
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(dp_class_name(DP_CLASS_ESP), "esp");
	assert_string_equal(dp_class_name(DP_CLASS_CONTROL), "control");
	assert_string_equal(dp_class_name(DP_CLASS_STUN), "stun");
	assert_string_equal(dp_class_name(DP_CLASS_GARBAGE), "garbage");
	assert_string_equal(dp_class_name(DP_CLASS_CHANNEL), "channel");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stun),
	    cmocka_unit_test(test_control),
	    cmocka_unit_test(test_esp),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_random_consistent),
	    cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
