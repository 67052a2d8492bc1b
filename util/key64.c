/* The base64 form of 32-byte keys (see key64.h).
 *
 * The codec is constant-time (no table lookups or branches on key bytes): the
 * same code decodes private keys.
 */
#include "util/key64.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* -1 when lo <= c <= hi, else 0; c, lo, hi in 0..255. */
static int in_range(int c, int lo, int hi)
{
	return ((lo - 1 - c) & (c - hi - 1)) >> 8;
}

/* 6-bit value of a standard-alphabet character, or -1. */
static int b64_value(int c)
{
	int v = -1;
	v += in_range(c, 'A', 'Z') & (c - 'A' + 1);
	v += in_range(c, 'a', 'z') & (c - 'a' + 27);
	v += in_range(c, '0', '9') & (c - '0' + 53);
	v += in_range(c, '+', '+') & 63;
	v += in_range(c, '/', '/') & 64;
	return v;
}

static char b64_char(int v)
{
	int c = v + 'A';
	c += ((25 - v) >> 8) & ('a' - 'A' - 26);
	c -= ((51 - v) >> 8) & ('a' + 26 - '0');
	c -= ((61 - v) >> 8) & ('0' + 10 - '+');
	c += ((62 - v) >> 8) & ('/' - '+' - 1);
	return (char)c;
}

void ipop_key_to_base64(const uint8_t key[IPOP_KEY_LEN], char out[IPOP_KEY_B64_LEN + 1])
{
	unsigned i, o = 0;
	uint32_t w;

	for (i = 0; i + 3 <= IPOP_KEY_LEN; i += 3) {
		w = (uint32_t)key[i] << 16 | (uint32_t)key[i + 1] << 8 | key[i + 2];
		out[o++] = b64_char((int)(w >> 18) & 63);
		out[o++] = b64_char((int)(w >> 12) & 63);
		out[o++] = b64_char((int)(w >> 6) & 63);
		out[o++] = b64_char((int)w & 63);
	}
	/* 32 = 10 * 3 + 2: two bytes left, 16 bits in three characters */
	w = (uint32_t)key[i] << 8 | key[i + 1];
	out[o++] = b64_char((int)(w >> 10) & 63);
	out[o++] = b64_char((int)(w >> 4) & 63);
	out[o++] = b64_char((int)(w << 2) & 63);
	out[o++] = '=';
	out[o] = 0;
	/* private keys pass through here too */
	explicit_bzero(&w, sizeof(w));
}

int ipop_key_from_base64(const char *s, uint8_t out[IPOP_KEY_LEN])
{
	uint8_t tmp[IPOP_KEY_LEN];
	int bad = 0, v[4];
	unsigned i, o = 0;
	uint32_t w;

	if (!s || !out || strnlen(s, IPOP_KEY_B64_LEN + 1) != IPOP_KEY_B64_LEN ||
	    s[IPOP_KEY_B64_LEN - 1] != '=')
		return -EINVAL;
	for (i = 0; i + 4 <= IPOP_KEY_B64_LEN - 4; i += 4) {
		for (int k = 0; k < 4; k++) {
			v[k] = b64_value((unsigned char)s[i + k]);
			bad |= v[k];
		}
		w = (uint32_t)(v[0] & 63) << 18 | (uint32_t)(v[1] & 63) << 12 |
		    (uint32_t)(v[2] & 63) << 6 | (uint32_t)(v[3] & 63);
		tmp[o++] = (uint8_t)(w >> 16);
		tmp[o++] = (uint8_t)(w >> 8);
		tmp[o++] = (uint8_t)w;
	}
	for (int k = 0; k < 3; k++) {
		v[k] = b64_value((unsigned char)s[i + k]);
		bad |= v[k];
	}
	w = (uint32_t)(v[0] & 63) << 10 | (uint32_t)(v[1] & 63) << 4 | (uint32_t)(v[2] & 63) >> 2;
	tmp[o++] = (uint8_t)(w >> 8);
	tmp[o++] = (uint8_t)w;
	/* Canonical only: the two bits the last character carries past the
	 * key must be zero, so each key has exactly one spelling. */
	bad |= -(v[2] & 3);
	if (bad >= 0)
		memcpy(out, tmp, sizeof(tmp));
	explicit_bzero(tmp, sizeof(tmp));
	explicit_bzero(v, sizeof(v));
	explicit_bzero(&w, sizeof(w));
	return bad < 0 ? -EINVAL : 0;
}
