/* Signalling payloads: the JSON carried in <ipop xmlns='urn:ipop:signal:1'>
 * inside XMPP presence (who a member is) and direct messages (connection
 * requests and replies with endpoint candidates, pings). Pure functions over
 * caller-owned structs, no I/O: the XMPP session (xmpp.h) calls them on every
 * stanza, the fuzz target calls them on arbitrary bytes. The table of members
 * seen is members.h. docs/signalling.md has the schemas and examples.
 *
 * Every field that arrives from the network is validated: types, lengths,
 * hex/base64 spelling, address syntax, the node id against the IPv4 it is
 * derived from, the ULA against the node id. Unknown fields are ignored (a
 * newer peer may add some); known fields are checked wherever they appear.
 * Parse functions return 0 or -EBADMSG and write one line naming the field
 * and what was expected into `why` (may be NULL).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"

#define SIG_NS		   "urn:ipop:signal:1"
#define SIG_VERSION	   1	/* protocol version this code speaks */
#define SIG_MAX_PAYLOAD	   4096 /* bytes of JSON text, either direction */
#define SIG_MAX_CANDIDATES 16
#define SIG_NODE_ID_LEN	   20 /* SHA-1 of the dotted-quad virtual IPv4 */
#define SIG_NODE_ID_HEXLEN 40
#define SIG_KEY_LEN	   32	/* X25519 public key */
#define SIG_REASON_MAX	   128	/* con_resp "reason", bytes without NUL */
#define SIG_JID_MAX	   3071 /* RFC 7622: 1023 + 1 + 1023 + 1 + 1023 */
#define SIG_MAX_ROUTES	   8	/* subnets a member may advertise behind it */

/* What a member advertises in its presence. No padding, unused route slots
 * zero: two presences compare with memcmp (the member table does). */
struct sig_presence {
	uint8_t node_id[SIG_NODE_ID_LEN];
	uint16_t version;		 /* 1..65535 */
	uint32_t ip4;			 /* virtual IPv4, network byte order */
	uint8_t ip6[16];		 /* fd50:0dbc:41f2:4a3c::/64 + node_id[0..8) */
	uint8_t mac[6];			 /* unicast, not all zero */
	uint8_t public_key[SIG_KEY_LEN]; /* static X25519 key */
	uint16_t port;			 /* underlay (data) UDP port, 1..65535 */
	uint32_t nroutes;		 /* 0..SIG_MAX_ROUTES */
	/* L3 mode: subnets routed behind the member ("routes", optional; see
	 * ipop_route_invalid in config.h), no duplicates, none covering its own addresses. */
	struct net_prefix routes[SIG_MAX_ROUTES];
};

enum sig_msg_type { SIG_MSG_CON_REQ = 0, SIG_MSG_CON_RESP, SIG_MSG_PING, SIG_MSG_PONG };

enum sig_link_kind {
	SIG_LINK_NONE = 0, /* absent (ping/pong only) */
	SIG_LINK_SUCCESSOR,
	SIG_LINK_CHORD,
	SIG_LINK_ON_DEMAND,
	SIG_LINK_STATIC,
};

enum sig_cand_kind { SIG_CAND_HOST = 0, SIG_CAND_SRFLX, SIG_CAND_RELAY, SIG_CAND_STATIC };

struct sig_candidate {
	enum sig_cand_kind kind;
	struct net_endpoint addr; /* unicast, not unspecified, port != 0 */
	uint32_t prio;		  /* higher is preferred */
};

/* A direct message. con_req and con_resp need link_kind and the candidate
 * list (0..16 entries); con_resp needs `accept` and may carry a reason.
 * ping and pong carry only the ids and seq (anything else is optional). */
struct sig_message {
	enum sig_msg_type type;
	uint8_t from_id[SIG_NODE_ID_LEN];
	uint8_t to_id[SIG_NODE_ID_LEN];
	enum sig_link_kind link_kind;
	uint64_t seq;			 /* 0..2^53-1 (exact in every JSON implementation) */
	bool accept;			 /* con_resp */
	char reason[SIG_REASON_MAX + 1]; /* con_resp, optional: printable ASCII */
	unsigned ncand;
	struct sig_candidate cand[SIG_MAX_CANDIDATES];
};

/* Parse `len` bytes of JSON (need not be NUL-terminated; at most
 * SIG_MAX_PAYLOAD). 0 or -EBADMSG. `out` is fully written on success and
 * unspecified on failure. */
int sig_presence_parse(const char *json, size_t len, struct sig_presence *out, char *why,
		       size_t whylen);
int sig_message_parse(const char *json, size_t len, struct sig_message *out, char *why,
		      size_t whylen);

/* Build the JSON text (compact, NUL-terminated) into buf. Returns its length,
 * -EINVAL when the struct would not pass the parser (nothing invalid is ever
 * sent), or -ENOSPC when buf is too small (SIG_MAX_PAYLOAD + 1 always
 * suffices). */
int sig_presence_build(const struct sig_presence *p, char *buf, size_t len);
int sig_message_build(const struct sig_message *m, char *buf, size_t len);

/* Fills a presence from a virtual IPv4: node id, ULA, version; no routes
 * (the caller adds them: nroutes, routes[0..nroutes)). */
void sig_presence_init(struct sig_presence *p, uint32_t ip4_be, const uint8_t mac[6],
		       const uint8_t public_key[SIG_KEY_LEN], uint16_t port);

const char *sig_msg_type_name(enum sig_msg_type t);
const char *sig_link_kind_name(enum sig_link_kind k); /* "" for NONE */
const char *sig_cand_kind_name(enum sig_cand_kind k);
/* 40 lowercase hex digits + NUL. */
void sig_node_id_hex(const uint8_t id[SIG_NODE_ID_LEN], char out[SIG_NODE_ID_HEXLEN + 1]);
/* Exactly 40 lowercase hex digits. 0 or -EINVAL. */
int sig_node_id_parse(const char *hex, uint8_t id[SIG_NODE_ID_LEN]);
