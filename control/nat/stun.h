/* STUN (RFC 5389) and TURN (RFC 5766) client messages for the control core.
 *
 * Pure message code: no sockets, no clock, no allocation. The control core
 * sends the bytes from the data port through the worker inject ring and gets
 * the answers back on the punt ring (dataplane/classify.c sends "top bits 00 +
 * magic cookie" to it), so the mapping STUN learns is the one data uses.
 * docs/nat.md describes how this fits into NAT traversal.
 *
 * Conventions: builders return the message length (> 0) or -errno; checks
 * return 0 or -errno. Parsed messages borrow the datagram: keep the buffer
 * alive while using struct stun_msg. Nothing here reads past `len`.
 *
 * Not implemented (not needed by a client that only talks to STUN/TURN
 * servers): the server side, TCP/TLS framing, RFC 8489 MESSAGE-INTEGRITY-
 * SHA256 / USERHASH / PASSWORD-ALGORITHMS, SASLprep (credentials are used as
 * given: use ASCII user names and passwords).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"

#define STUN_COOKIE	  0x2112A442u
#define STUN_HDR_LEN	  20
#define STUN_TXID_LEN	  12
#define STUN_FP_XOR	  0x5354554eu /* FINGERPRINT = CRC-32 ^ this ("STUN") */
#define STUN_MI_LEN	  20	      /* HMAC-SHA1 */
#define STUN_LT_KEY_LEN	  16	      /* long-term key: MD5(username:realm:password) */
#define STUN_MSG_MAX	  1500	      /* enough for every request built here */
#define STUN_TEXT_MAX	  763	      /* REALM, NONCE, SOFTWARE, reason phrase: < 128 chars */
#define STUN_USERNAME_MAX 512	      /* USERNAME: < 513 bytes */
#define STUN_MAX_UNKNOWN  8	      /* UNKNOWN-ATTRIBUTES entries kept */

/* Retransmission over UDP (RFC 5389 §7.2.1): RTO starts at 500 ms and doubles,
 * Rc = 7 transmissions, then wait Rm * RTO: sends at 0, 0.5, 1.5, 3.5, 7.5,
 * 15.5, 31.5 s, gives up at 39.5 s. */
#define STUN_RTO_MS 500
#define STUN_RC	    7
#define STUN_RM	    16

enum stun_method {
	STUN_BINDING = 0x001,
	TURN_ALLOCATE = 0x003,
	TURN_REFRESH = 0x004,
	TURN_SEND = 0x006,
	TURN_DATA = 0x007,
	TURN_CREATE_PERMISSION = 0x008,
	TURN_CHANNEL_BIND = 0x009,
};

enum stun_class {
	STUN_REQUEST = 0,
	STUN_INDICATION = 1,
	STUN_SUCCESS = 2,
	STUN_ERROR = 3,
};

enum stun_attr {
	STUN_ATTR_MAPPED_ADDRESS = 0x0001,
	STUN_ATTR_USERNAME = 0x0006,
	STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
	STUN_ATTR_ERROR_CODE = 0x0009,
	STUN_ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
	STUN_ATTR_CHANNEL_NUMBER = 0x000C,
	STUN_ATTR_LIFETIME = 0x000D,
	STUN_ATTR_XOR_PEER_ADDRESS = 0x0012,
	STUN_ATTR_DATA = 0x0013,
	STUN_ATTR_REALM = 0x0014,
	STUN_ATTR_NONCE = 0x0015,
	STUN_ATTR_XOR_RELAYED_ADDRESS = 0x0016,
	STUN_ATTR_EVEN_PORT = 0x0018,
	STUN_ATTR_REQUESTED_TRANSPORT = 0x0019,
	STUN_ATTR_DONT_FRAGMENT = 0x001A,
	STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
	STUN_ATTR_RESERVATION_TOKEN = 0x0022,
	STUN_ATTR_PRIORITY = 0x0024,	  /* ICE (RFC 8445), accepted and ignored */
	STUN_ATTR_USE_CANDIDATE = 0x0025, /* ICE, accepted and ignored */
	STUN_ATTR_SOFTWARE = 0x8022,
	STUN_ATTR_ALTERNATE_SERVER = 0x8023,
	STUN_ATTR_FINGERPRINT = 0x8028,
	STUN_ATTR_ICE_CONTROLLED = 0x8029,
	STUN_ATTR_ICE_CONTROLLING = 0x802A,
};

/* Error codes a client acts on. */
enum stun_error_code {
	STUN_ERR_TRY_ALTERNATE = 300,
	STUN_ERR_BAD_REQUEST = 400,
	STUN_ERR_UNAUTHORIZED = 401,
	STUN_ERR_FORBIDDEN = 403,
	STUN_ERR_UNKNOWN_ATTRIBUTE = 420,
	STUN_ERR_ALLOCATION_MISMATCH = 437,
	STUN_ERR_STALE_NONCE = 438,
	STUN_ERR_WRONG_CREDENTIALS = 441,
	STUN_ERR_UNSUPPORTED_TRANSPORT = 442,
	STUN_ERR_ALLOCATION_QUOTA = 486,
	STUN_ERR_INSUFFICIENT_CAPACITY = 508,
};

/* struct stun_msg.attrs: which attributes the message carried (first
 * occurrence of each is the one parsed, RFC 5389 §15). */
#define STUN_HAS_MAPPED	       (1u << 0) /* m->mapped valid: XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS */
#define STUN_HAS_XOR_MAPPED    (1u << 1)
#define STUN_HAS_RELAYED       (1u << 2)
#define STUN_HAS_PEER	       (1u << 3)
#define STUN_HAS_ERROR	       (1u << 4)
#define STUN_HAS_USERNAME      (1u << 5)
#define STUN_HAS_REALM	       (1u << 6)
#define STUN_HAS_NONCE	       (1u << 7)
#define STUN_HAS_SOFTWARE      (1u << 8)
#define STUN_HAS_DATA	       (1u << 9)
#define STUN_HAS_LIFETIME      (1u << 10)
#define STUN_HAS_CHANNEL       (1u << 11)
#define STUN_HAS_UNKNOWN_ATTRS (1u << 12)
#define STUN_HAS_INTEGRITY     (1u << 13)
#define STUN_HAS_FINGERPRINT   (1u << 14)

struct stun_bytes {
	const uint8_t *p; /* into the parsed datagram, not NUL-terminated */
	uint16_t len;
};

struct stun_msg {
	uint16_t method; /* enum stun_method (12 bits) */
	uint8_t cls;	 /* enum stun_class */
	uint8_t txid[STUN_TXID_LEN];
	const uint8_t *raw; /* the datagram (borrowed) */
	size_t len;
	uint32_t attrs; /* STUN_HAS_* */
	struct net_endpoint mapped, relayed, peer;
	uint16_t error_code; /* 300..699 */
	struct stun_bytes reason, username, realm, nonce, software, data;
	uint32_t lifetime;		    /* seconds */
	uint16_t channel;		    /* 0x4000..0x7FFF */
	uint16_t unknown[STUN_MAX_UNKNOWN]; /* UNKNOWN-ATTRIBUTES of a 420 response */
	uint8_t n_unknown;
	uint16_t integrity_off; /* offset of the MESSAGE-INTEGRITY attribute header */
	uint16_t bad_attr;	/* on -EPROTO: the comprehension-required type not understood */
	const char *why;	/* on error: static text saying what was wrong */
};

/* Header-only test (what the classifier does): top two bits 00, magic cookie,
 * at least a header. */
bool stun_is_stun(const uint8_t *buf, size_t len);

/* Strict parse of one datagram: header (top bits 00, cookie, length a multiple
 * of 4 and equal to len - 20), every attribute inside the message with its
 * padding, known attributes with valid lengths and values (address family 1 or
 * 2, ERROR-CODE class 3..6, channel 0x4000..0x7FFF), FINGERPRINT last and
 * correct when present. Attributes after MESSAGE-INTEGRITY other than
 * FINGERPRINT are ignored (§15.4); MESSAGE-INTEGRITY itself is checked by
 * stun_check_integrity(). Returns 0, -EBADMSG (malformed or bad FINGERPRINT,
 * m->why says what) or -EPROTO (a comprehension-required attribute, type
 * < 0x8000, that is not understood: m->bad_attr). */
int stun_parse(const uint8_t *buf, size_t len, struct stun_msg *m);

/* MESSAGE-INTEGRITY (HMAC-SHA1 over the message up to the attribute, with the
 * header length covering it). key: the long-term key (stun_long_term_key) or
 * the short-term password. Returns 0, -ENOENT (absent) or -EBADMSG (wrong). */
int stun_check_integrity(const struct stun_msg *m, const uint8_t *key, size_t key_len);

/* key = MD5(username ":" realm ":" password) (RFC 5389 §15.4). 0 or -EIO. */
int stun_long_term_key(const char *username, const char *realm, const char *password,
		       uint8_t key[STUN_LT_KEY_LEN]);

/* CRC-32 (IEEE 802.3, as zlib's crc32()); FINGERPRINT = stun_crc32(...) ^ STUN_FP_XOR. */
uint32_t stun_crc32(const uint8_t *p, size_t len);

/* Message builder. Errors are sticky: the add functions do nothing once one
 * failed, stun_build_end() reports it. MESSAGE-INTEGRITY and FINGERPRINT must
 * come last, in that order. */
struct stun_builder {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err; /* 0, -ENOBUFS or -EINVAL */
};

void stun_build_start(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method,
		      enum stun_class cls, const uint8_t txid[STUN_TXID_LEN]);
void stun_build_attr(struct stun_builder *b, uint16_t type, const void *val, size_t len);
void stun_build_u32(struct stun_builder *b, uint16_t type, uint32_t v);
/* XOR-MAPPED/-RELAYED/-PEER-ADDRESS; ep->family decides IPv4 (family 1) or IPv6. */
void stun_build_xor_addr(struct stun_builder *b, uint16_t type, const struct net_endpoint *ep);
void stun_build_integrity(struct stun_builder *b, const uint8_t *key, size_t key_len);
void stun_build_fingerprint(struct stun_builder *b);
/* Message length, or the first error. */
int stun_build_end(struct stun_builder *b);

/* One client transaction: its id, what it asked, and its retransmission
 * schedule. Retransmissions resend the same bytes; a retry after 401/438 is a
 * new transaction (new id). Times are milliseconds on any monotonic clock. */
struct stun_txn {
	uint8_t txid[STUN_TXID_LEN];
	uint16_t method;
	bool authenticated; /* the request carried MESSAGE-INTEGRITY */
	uint8_t sent;	    /* transmissions so far */
	uint32_t rto_ms;
	uint64_t first_ms; /* time of the first transmission */
};

/* New random 96-bit transaction id (RAND_bytes). 0 or -EIO. */
int stun_txn_init(struct stun_txn *t, uint16_t method);
/* The first transmission just went out. rto_ms 0 = STUN_RTO_MS. */
void stun_txn_start(struct stun_txn *t, uint64_t now_ms, uint32_t rto_ms);
/* When transmission n (0-based) is due, relative to the first one:
 * rto * (2^n - 1) for n < STUN_RC; n == STUN_RC gives the final timeout,
 * rto * (2^(Rc-1) - 1) + Rm * rto. */
uint64_t stun_rtx_offset_ms(unsigned n, uint32_t rto_ms);
/* Absolute time of the next retransmission, or of the final timeout. */
uint64_t stun_txn_deadline(const struct stun_txn *t);
/* Call when the deadline is reached (or any time): 0 = nothing due yet,
 * 1 = retransmit now (counted), -ETIMEDOUT = the transaction failed. After a
 * stall, late retransmissions are sent once each call, never in a burst. */
int stun_txn_poll(struct stun_txn *t, uint64_t now_ms);
/* The message is a success or error response to this transaction. */
bool stun_txn_match(const struct stun_txn *t, const struct stun_msg *m);

/* Binding request (no attributes, FINGERPRINT if asked) with a new
 * transaction in t. Returns the length or -errno. */
int stun_binding_request(struct stun_txn *t, bool fingerprint, uint8_t *buf, size_t cap);
/* Reads the server-reflexive address out of a response to t: 0, -ESRCH (not
 * a response to t), -EPROTO (error response: m->error_code), -EBADMSG (no
 * mapped address). */
int stun_binding_response(const struct stun_txn *t, const struct stun_msg *m,
			  struct net_endpoint *mapped);

/* ---- TURN (RFC 5766) with long-term credentials (RFC 5389 §10.2) ---- */

#define TURN_CHANNEL_MIN     0x4000
#define TURN_CHANNEL_MAX     0x7FFF
#define TURN_CHANNEL_HDR_LEN 4
#define TURN_TRANSPORT_UDP   17

struct turn_auth {
	char username[STUN_USERNAME_MAX + 1];
	char password[256];
	char realm[STUN_TEXT_MAX + 1];
	char nonce[STUN_TEXT_MAX + 1];
	uint8_t key[STUN_LT_KEY_LEN];
	bool challenged; /* realm and nonce known: requests carry credentials */
};

/* 0 or -EINVAL (too long). */
int turn_auth_init(struct turn_auth *a, const char *username, const char *password);

/* Requests. Each starts a new transaction in t and, once challenged, carries
 * USERNAME, REALM, NONCE, MESSAGE-INTEGRITY; all end with FINGERPRINT.
 * Return the length or -errno. */
/* REQUESTED-TRANSPORT UDP; LIFETIME only if lifetime_s != 0. */
int turn_allocate_request(struct stun_txn *t, const struct turn_auth *a, uint32_t lifetime_s,
			  uint8_t *buf, size_t cap);
/* lifetime_s 0 releases the allocation. */
int turn_refresh_request(struct stun_txn *t, const struct turn_auth *a, uint32_t lifetime_s,
			 uint8_t *buf, size_t cap);
/* One XOR-PEER-ADDRESS per peer (port ignored by the server), npeers >= 1. */
int turn_create_permission_request(struct stun_txn *t, const struct turn_auth *a,
				   const struct net_endpoint *peers, unsigned npeers, uint8_t *buf,
				   size_t cap);
/* channel 0x4000..0x7FFF, else -EINVAL. */
int turn_channel_bind_request(struct stun_txn *t, const struct turn_auth *a, uint16_t channel,
			      const struct net_endpoint *peer, uint8_t *buf, size_t cap);

/* What to do with a response m to the TURN request t:
 *   0          success; if the request was authenticated its MESSAGE-INTEGRITY
 *              was verified; a NONCE in it updates a
 *   1          retry with a new request: a now holds the realm/nonce/key of a
 *              401 challenge, or the new nonce of 438 Stale Nonce
 *   -ESRCH     not a response to t
 *   -EACCES    401 to an authenticated request: wrong credentials
 *   -EBADMSG   MESSAGE-INTEGRITY missing or wrong where required, or a
 *              401/438 without REALM/NONCE (discard it, keep waiting)
 *   -EPROTO    any other error response: see m->error_code */
int turn_response(const struct stun_txn *t, struct turn_auth *a, const struct stun_msg *m);

struct turn_allocation {
	struct net_endpoint relayed; /* XOR-RELAYED-ADDRESS: the relay candidate */
	struct net_endpoint mapped;  /* XOR-MAPPED-ADDRESS: a server-reflexive candidate */
	uint32_t lifetime_s;
	bool has_mapped;
};
/* From an Allocate success response: 0 or -EBADMSG (no relayed address or lifetime). */
int turn_allocate_result(const struct stun_msg *m, struct turn_allocation *out);

/* Send indication (XOR-PEER-ADDRESS, DATA, FINGERPRINT; fresh random id,
 * indications are not authenticated). Length or -errno. */
int turn_send_indication(const struct net_endpoint *peer, const void *data, size_t len,
			 uint8_t *buf, size_t cap);
/* A Data indication from the server: 0, or -EINVAL (not a Data indication)
 * or -EBADMSG (no XOR-PEER-ADDRESS or DATA). */
int turn_data_indication(const struct stun_msg *m, struct net_endpoint *peer, const uint8_t **data,
			 size_t *len);

/* ChannelData (RFC 5766 §11.4): channel number, length, data. */
static inline bool turn_is_channel_data(const uint8_t *buf, size_t len)
{
	return len >= TURN_CHANNEL_HDR_LEN && (buf[0] & 0xc0) == 0x40;
}
/* pad: round the datagram up to 4 bytes (optional over UDP, §11.5). Length or
 * -EINVAL (bad channel, data > 65535) / -ENOBUFS. */
int turn_channel_data_encode(uint16_t channel, const void *data, size_t len, bool pad, uint8_t *buf,
			     size_t cap);
/* Accepts the datagram unpadded or padded to 4 bytes, nothing else.
 * 0 or -EBADMSG. */
int turn_channel_data_decode(const uint8_t *buf, size_t len, uint16_t *channel,
			     const uint8_t **data, size_t *data_len);

const char *stun_method_name(uint16_t method);
