/* Underlay port demultiplexing (DESIGN.md "Wire format").
 *
 * The order of the tests matters: the non-ESP marker (four zero bytes) also
 * has its top two bits clear, so a control message whose payload happened to
 * carry the STUN cookie at offset 4 must still be CONTROL. SPI values below
 * 0x80000000 are never allocated, which leaves room for STUN (top bits 00)
 * and rejects most stray traffic cheaply.
 */
#include "dataplane/classify.h"

#define STUN_MAGIC_COOKIE 0x2112A442u
#define STUN_HDR_LEN	  20
#define ESP_MIN_CLASSIFY  8 /* SPI + sequence number */

static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

enum dp_class dp_classify(const uint8_t *p, size_t len)
{
	if (len < 4)
		return DP_CLASS_GARBAGE;

	uint32_t first = be32(p);
	if (first == 0)
		return DP_CLASS_CONTROL;
	if (first & 0x80000000u)
		return len >= ESP_MIN_CLASSIFY ? DP_CLASS_ESP : DP_CLASS_GARBAGE;
	if ((p[0] & 0xc0) == 0 && len >= STUN_HDR_LEN && be32(p + 4) == STUN_MAGIC_COOKIE)
		return DP_CLASS_STUN;
	/* Channel numbers are 0x4000..0x7FFF (RFC 5766 §11): first bits 01. The
	 * source and the length are checked by the pipeline. */
	if ((p[0] & 0xc0) == 0x40)
		return DP_CLASS_CHANNEL;
	return DP_CLASS_GARBAGE;
}

const char *dp_class_name(enum dp_class c)
{
	switch (c) {
	case DP_CLASS_ESP:
		return "esp";
	case DP_CLASS_CONTROL:
		return "control";
	case DP_CLASS_STUN:
		return "stun";
	case DP_CLASS_CHANNEL:
		return "channel";
	case DP_CLASS_GARBAGE:
		return "garbage";
	}
	return "?";
}
