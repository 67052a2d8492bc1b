/* Demultiplexing of the underlay port (DESIGN.md "Wire format"): one UDP port
 * carries ESP data, our control messages behind the RFC 3948 non-ESP marker,
 * and STUN. */
#pragma once
#include <stddef.h>
#include <stdint.h>

enum dp_class {
	DP_CLASS_ESP,     /* SPI >= 0x80000000 and long enough to be ESP */
	DP_CLASS_CONTROL, /* first 4 bytes zero (non-ESP marker), payload follows */
	DP_CLASS_STUN,    /* top two bits 00 and magic cookie 0x2112A442 at offset 4 */
	DP_CLASS_CHANNEL, /* top two bits 01: TURN ChannelData (RFC 5766 §11.4) from a relay */
	DP_CLASS_GARBAGE, /* anything else: dropped and counted */
};

enum dp_class dp_classify(const uint8_t *p, size_t len);
const char *dp_class_name(enum dp_class c);
