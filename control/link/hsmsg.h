/* Handshake messages on the data port (DESIGN.md "Keys and trust").
 *
 * They travel behind the RFC 3948 non-ESP marker, so the workers punt them to
 * the control core. Every message starts with a 16-byte header:
 *
 *   off len
 *    0   4  00 00 00 00       non-ESP marker
 *    4   1  type              1 initiation, 2 response, 3 cookie reply
 *    5   3  00 00 00          reserved, must be zero
 *    8   4  receiver SPI      0 in an initiation; otherwise the sender SPI of
 *                             the initiation being answered (big endian)
 *   12   4  sender SPI        the SPI the sender chose for its new inbound SA
 *                             (top bit set; 0 in a cookie reply)
 *
 * Initiation (HS_INIT_LEN = 164 bytes):
 *   16  116  Noise IKpsk2 message 1 (e, es, s, ss) whose encrypted payload is
 *            struct hs_init_payload (20 bytes: version, flags, sender SPI
 *            again — must equal the header's — and a TAI64N timestamp)
 *  132   16  mac1
 *  148   16  mac2
 * Response (HS_RESP_LEN = 104 bytes):
 *   16   56  Noise message 2 (e, ee, se, psk) with struct hs_resp_payload
 *            (8 bytes: version, flags, sender SPI again)
 *   72   16  mac1
 *   88   16  mac2
 * Cookie reply (HS_COOKIE_LEN = 48 bytes):
 *   16   16  cookie
 *   32   16  tag = HMAC-SHA256(cookie-reply key of the responder's public key,
 *            bytes 0..31 || mac1 of the initiation answered)[0..16): binds the
 *            reply to an initiation only its sender (and on-path observers)
 *            saw, so off-path attackers cannot forge cookie replies.
 *
 * mac1 = HMAC-SHA256(key = SHA-256("ipopd mac1 v1" || receiver's static
 * public key), all bytes before mac1)[0..16). Any sender knowing whom it talks
 * to can compute it; a receiver checks it before any Noise work, so garbage
 * costs one HMAC, not two X25519s.
 * mac2 = HMAC-SHA256(key = cookie, all bytes before mac2)[0..16), or 16 zero
 * bytes when the sender holds no fresh cookie from that receiver.
 * Under load (more initiations than a threshold per second) a responder
 * answers initiations without a valid mac2 with a cookie reply instead of
 * doing Noise work: cookie = HMAC-SHA256(secret rotated every 120 s, source
 * address || port)[0..16) — proof that the initiator receives at its address.
 * Per-source token buckets bound the work anyone can cause.
 *
 * All functions are pure (no I/O, no allocation after init) and never read
 * past `len`.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"

#define HS_HDR_LEN    16
#define HS_MAC_LEN    16
#define HS_COOKIE_LEN 16
#define HS_VERSION    1

#define HS_INIT_PAYLOAD_LEN 20
#define HS_RESP_PAYLOAD_LEN 8
/* Noise message sizes (noise.h): msg1 = 32 + 48 + payload + 16, msg2 = 32 + payload + 16 */
#define HS_INIT_NOISE_LEN (32 + 48 + HS_INIT_PAYLOAD_LEN + 16)
#define HS_RESP_NOISE_LEN (32 + HS_RESP_PAYLOAD_LEN + 16)
#define HS_INIT_LEN	  (HS_HDR_LEN + HS_INIT_NOISE_LEN + 2 * HS_MAC_LEN) /* 164 */
#define HS_RESP_LEN	  (HS_HDR_LEN + HS_RESP_NOISE_LEN + 2 * HS_MAC_LEN) /* 104 */
#define HS_COOKIE_MSG_LEN (HS_HDR_LEN + HS_COOKIE_LEN + HS_MAC_LEN)	    /* 48 */

/* Trust by certificate (docs/protocol.md "Certificates") adds four types:
 * a certificate request/reply ahead of the handshake (the initiator learns
 * the responder's static key from its certificate) and an initiation and a
 * response whose Noise payload carries the sender's certificate chain after
 * the fixed payload (variable length, mac1/mac2 still the last 32 bytes). */
#define HS_MSG_MAX	    1232 /* largest handshake datagram: IPv6 minimum MTU - 48 */
#define HS_CERTREQ_LEN	    1200 /* a certificate request, padded: replies are never larger */
#define HS_CERT_PAYLOAD_MIN 4	 /* cert.h wire form: 1 + 2 + at least 1 byte of DER */
#define HS_CERTREP_MIN_LEN  (HS_HDR_LEN + 32 + HS_CERT_PAYLOAD_MIN + 16)

enum hs_type {
	HS_INITIATION = 1,
	HS_RESPONSE = 2,
	HS_COOKIE_REPLY = 3,
	HS_CERT_REQUEST = 4,
	HS_CERT_REPLY = 5,
	HS_INITIATION_CERT = 6,
	HS_RESPONSE_CERT = 7,
};

struct hs_header {
	enum hs_type type;
	uint32_t receiver_spi;
	uint32_t sender_spi;
	/* Noise message inside the datagram (NULL for a cookie reply); for a
	 * certificate request/reply: everything after the header */
	const uint8_t *noise;
	size_t noise_len;
};

/* Checks length (exact per type; a range for types 5, 6, 7), marker, reserved bytes, type and SPI
 * rules (sender SPI top bit set in initiations/responses; receiver SPI zero in an initiation, top
 * bit set otherwise). 0 or -EBADMSG. */
int hs_parse_header(const uint8_t *msg, size_t len, struct hs_header *h);
/* Writes the 16-byte header. */
void hs_write_header(uint8_t *msg, enum hs_type type, uint32_t receiver_spi, uint32_t sender_spi);

struct hs_init_payload {
	uint8_t version;
	uint8_t flags;
	uint32_t sender_spi;
	uint8_t tai64n[12];
};
struct hs_resp_payload {
	uint8_t version;
	uint8_t flags;
	uint32_t sender_spi;
};
void hs_init_payload_encode(const struct hs_init_payload *p, uint8_t out[HS_INIT_PAYLOAD_LEN]);
/* -EBADMSG on a wrong length or unknown version (flags are ignored). */
int hs_init_payload_decode(const uint8_t *in, size_t len, struct hs_init_payload *p);
void hs_resp_payload_encode(const struct hs_resp_payload *p, uint8_t out[HS_RESP_PAYLOAD_LEN]);
int hs_resp_payload_decode(const uint8_t *in, size_t len, struct hs_resp_payload *p);

/* TAI64N of the wall clock: 8 bytes 2^62 + seconds, 4 bytes nanoseconds, big
 * endian, so memcmp orders them. */
void hs_tai64n_now(uint8_t out[12]);

/* Keys derived once per static public key. */
struct hs_mac_keys {
	uint8_t mac1[32];   /* SHA-256("ipopd mac1 v1" || pub) */
	uint8_t cookie[32]; /* SHA-256("ipopd cookie v1" || pub): cookie-reply tag key */
};
void hs_mac_keys_derive(const uint8_t pub[32], struct hs_mac_keys *k);

/* Fills mac1 (keyed for the receiver) and mac2 (cookie, or zeros when NULL)
 * of an initiation or response of `len` bytes. */
void hs_macs_write(uint8_t *msg, size_t len, const struct hs_mac_keys *receiver,
		   const uint8_t cookie[HS_COOKIE_LEN]);
/* Constant-time checks of mac1 (with our own keys) and mac2 (with a cookie). */
bool hs_mac1_ok(const uint8_t *msg, size_t len, const struct hs_mac_keys *own);
bool hs_mac2_ok(const uint8_t *msg, size_t len, const uint8_t cookie[HS_COOKIE_LEN]);

/* Responder side of cookies. */
struct hs_cookie_gen {
	uint8_t secret[32];
	uint64_t secret_birth_ms;
};
void hs_cookie_gen_init(struct hs_cookie_gen *g, uint64_t now_ms);
/* Rotates the secret every 120 s (the previous cookies die with it). */
void hs_cookie_make(struct hs_cookie_gen *g, const struct net_endpoint *src, uint64_t now_ms,
		    uint8_t cookie[HS_COOKIE_LEN]);
/* Builds the 48-byte reply to `init` (a full initiation, for its sender SPI
 * and mac1) with our own keys. */
void hs_cookie_reply_build(uint8_t out[HS_COOKIE_MSG_LEN], const uint8_t *init,
			   const struct hs_mac_keys *own, const uint8_t cookie[HS_COOKIE_LEN]);
/* The same for an initiation of init_len bytes (type 6 is longer). */
void hs_cookie_reply_build_len(uint8_t out[HS_COOKIE_MSG_LEN], const uint8_t *init, size_t init_len,
			       const struct hs_mac_keys *own, const uint8_t cookie[HS_COOKIE_LEN]);
/* Initiator side: verifies the tag against the initiation we sent (its mac1)
 * and the responder's keys; copies the cookie out. 0 or -EBADMSG. */
int hs_cookie_reply_open(const uint8_t *reply, size_t len, const uint8_t *our_init,
			 const struct hs_mac_keys *responder, uint8_t cookie[HS_COOKIE_LEN]);
int hs_cookie_reply_open_len(const uint8_t *reply, size_t len, const uint8_t *our_init,
			     size_t our_init_len, const struct hs_mac_keys *responder,
			     uint8_t cookie[HS_COOKIE_LEN]);

/* Per-source token buckets (address without port), fixed size, oldest
 * evicted. rate per second and burst. */
struct hs_ratelimit;
struct hs_ratelimit *hs_ratelimit_create(unsigned slots, unsigned rate, unsigned burst);
void hs_ratelimit_destroy(struct hs_ratelimit *rl);
bool hs_ratelimit_allow(struct hs_ratelimit *rl, const struct net_endpoint *src, uint64_t now_ms);
