/* STUN/TURN client messages (RFC 5389, RFC 5766): parser, builder,
 * transactions with their retransmission schedule, long-term credentials.
 *
 * The parser is the part that faces the network: it checks every length
 * against the datagram before reading, keeps only pointers into the datagram,
 * and rejects rather than guesses. It is strict where the RFC lets a receiver
 * be (length and cookie, FINGERPRINT placement and value, attribute sizes) and
 * lenient only where the RFC says to ignore (reserved bits, padding content,
 * attributes after MESSAGE-INTEGRITY, comprehension-optional unknowns).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "control/nat/stun.h"

static inline uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* The message type interleaves the two class bits into the method (§6). */
static uint16_t msg_type(uint16_t method, unsigned cls)
{
	return (uint16_t)((method & 0x000f) | (method & 0x0070) << 1 | (method & 0x0f80) << 2 |
			  (cls & 1) << 4 | (cls & 2) << 7);
}

/* Nibble-table CRC-32: 64 bytes of table, fast enough for control messages. */
uint32_t stun_crc32(const uint8_t *p, size_t len)
{
	static const uint32_t tbl[16] = {
	    0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
	    0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
	    0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
	};
	uint32_t crc = 0xffffffffu;
	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		crc = (crc >> 4) ^ tbl[crc & 15];
		crc = (crc >> 4) ^ tbl[crc & 15];
	}
	return ~crc;
}

bool stun_is_stun(const uint8_t *buf, size_t len)
{
	return len >= STUN_HDR_LEN && (buf[0] & 0xc0) == 0 && be32(buf + 4) == STUN_COOKIE;
}

/* ---- parsing ---- */

#define FAIL(m, text)                                                                              \
	do {                                                                                       \
		(m)->why = (text);                                                                 \
		return -EBADMSG;                                                                   \
	} while (0)

static int parse_addr(struct stun_msg *m, const uint8_t *v, size_t alen, bool xor,
		      struct net_endpoint *ep)
{
	if (alen < 4)
		FAIL(m, "address attribute too short");
	uint16_t port = be16(v + 2);
	memset(ep, 0, sizeof(*ep));
	if (xor)
		port ^= (uint16_t)(STUN_COOKIE >> 16);
	ep->port = port;
	if (v[1] == 1) {
		if (alen != 8)
			FAIL(m, "IPv4 address attribute length not 8");
		net_addr_set_v4(ep->addr, v + 4);
		if (xor)
			for (int i = 0; i < 4; i++)
				ep->addr[12 + i] ^= (uint8_t)(STUN_COOKIE >> (24 - 8 * i));
		ep->family = AF_INET;
	} else if (v[1] == 2) {
		if (alen != 20)
			FAIL(m, "IPv6 address attribute length not 20");
		memcpy(ep->addr, v + 4, 16);
		if (xor) {
			/* XOR with cookie || transaction id, i.e. header bytes 4..19 */
			for (int i = 0; i < 16; i++)
				ep->addr[i] ^= m->raw[4 + i];
		}
		ep->family = AF_INET6;
	} else {
		FAIL(m, "bad address family");
	}
	return 0;
}

/* The first occurrence of an attribute is the one used (§15); later ones are
 * still validated. */
static int take_addr(struct stun_msg *m, const uint8_t *v, size_t alen, bool xor, uint32_t bit,
		     struct net_endpoint *dst)
{
	struct net_endpoint ep;
	int rc = parse_addr(m, v, alen, xor, &ep);
	if (rc == 0 && !(m->attrs & bit)) {
		*dst = ep;
		m->attrs |= bit;
	}
	return rc;
}

static int take_text(struct stun_msg *m, const uint8_t *v, size_t alen, size_t max, uint32_t bit,
		     struct stun_bytes *dst)
{
	if (alen > max)
		FAIL(m, "text attribute too long");
	if (!(m->attrs & bit)) {
		dst->p = v;
		dst->len = (uint16_t)alen;
		m->attrs |= bit;
	}
	return 0;
}

static int need_len(struct stun_msg *m, size_t alen, size_t want)
{
	if (alen != want)
		FAIL(m, "attribute has the wrong length");
	return 0;
}

/* One attribute before MESSAGE-INTEGRITY. */
static int parse_attr(struct stun_msg *m, uint16_t type, const uint8_t *v, size_t alen)
{
	int rc;

	switch (type) {
	case STUN_ATTR_MAPPED_ADDRESS:
		return take_addr(m, v, alen, false, STUN_HAS_MAPPED, &m->mapped);
	case STUN_ATTR_XOR_MAPPED_ADDRESS:
		/* wins over a plain MAPPED-ADDRESS in either order */
		rc = take_addr(m, v, alen, true, STUN_HAS_XOR_MAPPED, &m->mapped);
		if (rc == 0)
			m->attrs |= STUN_HAS_MAPPED;
		return rc;
	case STUN_ATTR_XOR_RELAYED_ADDRESS:
		return take_addr(m, v, alen, true, STUN_HAS_RELAYED, &m->relayed);
	case STUN_ATTR_XOR_PEER_ADDRESS:
		return take_addr(m, v, alen, true, STUN_HAS_PEER, &m->peer);
	case STUN_ATTR_ERROR_CODE: {
		if (alen < 4)
			FAIL(m, "ERROR-CODE too short");
		if (alen > 4 + STUN_TEXT_MAX)
			FAIL(m, "ERROR-CODE reason too long");
		unsigned cls = v[2] & 7, num = v[3];
		if (cls < 3 || cls > 6 || num > 99)
			FAIL(m, "ERROR-CODE out of range");
		if (!(m->attrs & STUN_HAS_ERROR)) {
			m->error_code = (uint16_t)(cls * 100 + num);
			m->reason.p = v + 4;
			m->reason.len = (uint16_t)(alen - 4);
			m->attrs |= STUN_HAS_ERROR;
		}
		return 0;
	}
	case STUN_ATTR_UNKNOWN_ATTRIBUTES:
		if (alen & 1)
			FAIL(m, "UNKNOWN-ATTRIBUTES length odd");
		if (!(m->attrs & STUN_HAS_UNKNOWN_ATTRS)) {
			for (size_t i = 0; i < alen / 2 && m->n_unknown < STUN_MAX_UNKNOWN; i++)
				m->unknown[m->n_unknown++] = be16(v + 2 * i);
			m->attrs |= STUN_HAS_UNKNOWN_ATTRS;
		}
		return 0;
	case STUN_ATTR_USERNAME:
		return take_text(m, v, alen, STUN_USERNAME_MAX, STUN_HAS_USERNAME, &m->username);
	case STUN_ATTR_REALM:
		return take_text(m, v, alen, STUN_TEXT_MAX, STUN_HAS_REALM, &m->realm);
	case STUN_ATTR_NONCE:
		return take_text(m, v, alen, STUN_TEXT_MAX, STUN_HAS_NONCE, &m->nonce);
	case STUN_ATTR_SOFTWARE:
		return take_text(m, v, alen, STUN_TEXT_MAX, STUN_HAS_SOFTWARE, &m->software);
	case STUN_ATTR_DATA:
		return take_text(m, v, alen, 0xffff, STUN_HAS_DATA, &m->data);
	case STUN_ATTR_LIFETIME:
		if ((rc = need_len(m, alen, 4)) < 0)
			return rc;
		if (!(m->attrs & STUN_HAS_LIFETIME)) {
			m->lifetime = be32(v);
			m->attrs |= STUN_HAS_LIFETIME;
		}
		return 0;
	case STUN_ATTR_CHANNEL_NUMBER: {
		if ((rc = need_len(m, alen, 4)) < 0)
			return rc;
		uint16_t ch = be16(v);
		if (ch < TURN_CHANNEL_MIN || ch > TURN_CHANNEL_MAX)
			FAIL(m, "CHANNEL-NUMBER out of range");
		if (!(m->attrs & STUN_HAS_CHANNEL)) {
			m->channel = ch;
			m->attrs |= STUN_HAS_CHANNEL;
		}
		return 0;
	}
	/* Understood but of no use to this client: only their size is checked. */
	case STUN_ATTR_REQUESTED_TRANSPORT:
	case STUN_ATTR_PRIORITY:
		return need_len(m, alen, 4);
	case STUN_ATTR_EVEN_PORT:
		return need_len(m, alen, 1);
	case STUN_ATTR_DONT_FRAGMENT:
	case STUN_ATTR_USE_CANDIDATE:
		return need_len(m, alen, 0);
	case STUN_ATTR_RESERVATION_TOKEN:
	case STUN_ATTR_ICE_CONTROLLED:
	case STUN_ATTR_ICE_CONTROLLING:
		return need_len(m, alen, 8);
	case STUN_ATTR_MESSAGE_INTEGRITY:
		return need_len(m, alen, STUN_MI_LEN);
	default:
		if (type < 0x8000) {
			m->bad_attr = type;
			m->why = "unknown comprehension-required attribute";
			return -EPROTO;
		}
		return 0; /* comprehension-optional: ignore */
	}
}

int stun_parse(const uint8_t *buf, size_t len, struct stun_msg *m)
{
	memset(m, 0, sizeof(*m));
	if (len < STUN_HDR_LEN)
		FAIL(m, "shorter than a STUN header");
	if (buf[0] & 0xc0)
		FAIL(m, "top two bits not zero");
	if (be32(buf + 4) != STUN_COOKIE)
		FAIL(m, "no magic cookie");
	size_t mlen = be16(buf + 2);
	if (mlen & 3)
		FAIL(m, "length not a multiple of 4");
	if (STUN_HDR_LEN + mlen != len)
		FAIL(m, "length does not match the datagram");

	uint16_t t = be16(buf);
	m->method = (uint16_t)((t & 0x000f) | (t >> 1 & 0x0070) | (t >> 2 & 0x0f80));
	m->cls = (uint8_t)((t >> 4 & 1) | (t >> 7 & 2));
	memcpy(m->txid, buf + 8, STUN_TXID_LEN);
	m->raw = buf;
	m->len = len;

	size_t off = STUN_HDR_LEN;
	while (off < len) {
		/* len - off >= 4 here: both are multiples of 4 */
		uint16_t type = be16(buf + off);
		size_t alen = be16(buf + off + 2);
		const uint8_t *v = buf + off + 4;
		if (pad4(alen) > len - off - 4)
			FAIL(m, "attribute runs past the end");

		if (type == STUN_ATTR_FINGERPRINT) {
			if (alen != 4)
				FAIL(m, "FINGERPRINT length not 4");
			if (off + 8 != len)
				FAIL(m, "FINGERPRINT not last");
			if ((stun_crc32(buf, off) ^ STUN_FP_XOR) != be32(v))
				FAIL(m, "wrong FINGERPRINT");
			m->attrs |= STUN_HAS_FINGERPRINT;
		} else if (m->attrs & STUN_HAS_INTEGRITY) {
			/* §15.4: ignore everything after MESSAGE-INTEGRITY but FINGERPRINT */
		} else {
			int rc = parse_attr(m, type, v, alen);
			if (rc < 0)
				return rc;
			if (type == STUN_ATTR_MESSAGE_INTEGRITY) {
				m->integrity_off = (uint16_t)off;
				m->attrs |= STUN_HAS_INTEGRITY;
			}
		}
		off += 4 + pad4(alen);
	}
	return 0;
}

/* HMAC-SHA1 over buf[0, mi_off) as if the message ended right after the
 * MESSAGE-INTEGRITY attribute: the header's length field is rewritten for the
 * hash, which is why the header is hashed from a copy. */
static int integrity_hmac(const uint8_t *buf, size_t mi_off, const uint8_t *key, size_t key_len,
			  uint8_t out[STUN_MI_LEN])
{
	uint8_t hdr[STUN_HDR_LEN];
	size_t mlen = 0;
	int rc = -EIO;

	memcpy(hdr, buf, STUN_HDR_LEN);
	put16(hdr + 2, (uint16_t)(mi_off + 4 + STUN_MI_LEN - STUN_HDR_LEN));

	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *mctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA1", 0),
	    OSSL_PARAM_construct_end(),
	};
	if (!mctx || !EVP_MAC_init(mctx, key, key_len, params))
		goto out;
	if (!EVP_MAC_update(mctx, hdr, STUN_HDR_LEN) ||
	    !EVP_MAC_update(mctx, buf + STUN_HDR_LEN, mi_off - STUN_HDR_LEN))
		goto out;
	if (!EVP_MAC_final(mctx, out, &mlen, STUN_MI_LEN) || mlen != STUN_MI_LEN)
		goto out;
	rc = 0;
out:
	EVP_MAC_CTX_free(mctx);
	EVP_MAC_free(mac);
	return rc;
}

int stun_check_integrity(const struct stun_msg *m, const uint8_t *key, size_t key_len)
{
	uint8_t want[STUN_MI_LEN];

	if (!(m->attrs & STUN_HAS_INTEGRITY))
		return -ENOENT;
	if (integrity_hmac(m->raw, m->integrity_off, key, key_len, want) < 0)
		return -EIO;
	/* constant time: the tag is a secret-dependent value */
	uint8_t diff = 0;
	for (int i = 0; i < STUN_MI_LEN; i++)
		diff |= want[i] ^ m->raw[m->integrity_off + 4 + i];
	return diff ? -EBADMSG : 0;
}

int stun_long_term_key(const char *username, const char *realm, const char *password,
		       uint8_t key[STUN_LT_KEY_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;
	int rc = -EIO;

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_md5(), NULL))
		goto out;
	if (!EVP_DigestUpdate(ctx, username, strlen(username)) || !EVP_DigestUpdate(ctx, ":", 1) ||
	    !EVP_DigestUpdate(ctx, realm, strlen(realm)) || !EVP_DigestUpdate(ctx, ":", 1) ||
	    !EVP_DigestUpdate(ctx, password, strlen(password)))
		goto out;
	if (!EVP_DigestFinal_ex(ctx, key, &n) || n != STUN_LT_KEY_LEN)
		goto out;
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* ---- building ---- */

void stun_build_start(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method,
		      enum stun_class cls, const uint8_t txid[STUN_TXID_LEN])
{
	b->buf = buf;
	b->cap = cap;
	b->len = 0;
	b->err = 0;
	if (cap < STUN_HDR_LEN) {
		b->err = -ENOBUFS;
		return;
	}
	if (method > 0x0fff) {
		b->err = -EINVAL;
		return;
	}
	put16(buf, msg_type(method, cls));
	put16(buf + 2, 0);
	put32(buf + 4, STUN_COOKIE);
	memcpy(buf + 8, txid, STUN_TXID_LEN);
	b->len = STUN_HDR_LEN;
}

/* Reserves an attribute of alen bytes (zero padding included) and keeps the
 * header length current, so integrity/fingerprint see the right value. */
static uint8_t *attr_reserve(struct stun_builder *b, uint16_t type, size_t alen)
{
	if (b->err)
		return NULL;
	if (alen > 0xffff || b->len + 4 + pad4(alen) - STUN_HDR_LEN > 0xffff) {
		b->err = -EINVAL;
		return NULL;
	}
	if (b->cap - b->len < 4 + pad4(alen)) {
		b->err = -ENOBUFS;
		return NULL;
	}
	uint8_t *p = b->buf + b->len;
	put16(p, type);
	put16(p + 2, (uint16_t)alen);
	memset(p + 4 + alen, 0, pad4(alen) - alen);
	b->len += 4 + pad4(alen);
	put16(b->buf + 2, (uint16_t)(b->len - STUN_HDR_LEN));
	return p + 4;
}

void stun_build_attr(struct stun_builder *b, uint16_t type, const void *val, size_t len)
{
	uint8_t *p = attr_reserve(b, type, len);
	if (p && len)
		memcpy(p, val, len);
}

void stun_build_u32(struct stun_builder *b, uint16_t type, uint32_t v)
{
	uint8_t *p = attr_reserve(b, type, 4);
	if (p)
		put32(p, v);
}

void stun_build_xor_addr(struct stun_builder *b, uint16_t type, const struct net_endpoint *ep)
{
	bool v4 = ep->family == AF_INET;
	uint8_t *p = attr_reserve(b, type, v4 ? 8 : 20);
	if (!p)
		return;
	p[0] = 0;
	p[1] = v4 ? 1 : 2;
	put16(p + 2, ep->port ^ (uint16_t)(STUN_COOKIE >> 16));
	if (v4) {
		for (int i = 0; i < 4; i++)
			p[4 + i] = ep->addr[12 + i] ^ b->buf[4 + i];
	} else {
		for (int i = 0; i < 16; i++)
			p[4 + i] = ep->addr[i] ^ b->buf[4 + i];
	}
}

void stun_build_integrity(struct stun_builder *b, const uint8_t *key, size_t key_len)
{
	size_t off = b->len;
	uint8_t *p = attr_reserve(b, STUN_ATTR_MESSAGE_INTEGRITY, STUN_MI_LEN);
	if (p && integrity_hmac(b->buf, off, key, key_len, p) < 0)
		b->err = -EIO;
}

void stun_build_fingerprint(struct stun_builder *b)
{
	size_t off = b->len;
	uint8_t *p = attr_reserve(b, STUN_ATTR_FINGERPRINT, 4);
	if (p)
		put32(p, stun_crc32(b->buf, off) ^ STUN_FP_XOR);
}

int stun_build_end(struct stun_builder *b)
{
	return b->err ? b->err : (int)b->len;
}

/* ---- transactions ---- */

int stun_txn_init(struct stun_txn *t, uint16_t method)
{
	memset(t, 0, sizeof(*t));
	t->method = method;
	t->rto_ms = STUN_RTO_MS;
	return RAND_bytes(t->txid, STUN_TXID_LEN) == 1 ? 0 : -EIO;
}

void stun_txn_start(struct stun_txn *t, uint64_t now_ms, uint32_t rto_ms)
{
	t->rto_ms = rto_ms ? rto_ms : STUN_RTO_MS;
	t->first_ms = now_ms;
	t->sent = 1;
}

uint64_t stun_rtx_offset_ms(unsigned n, uint32_t rto_ms)
{
	if (n >= STUN_RC)
		return (uint64_t)rto_ms * ((1u << (STUN_RC - 1)) - 1) + (uint64_t)STUN_RM * rto_ms;
	return (uint64_t)rto_ms * ((1u << n) - 1);
}

uint64_t stun_txn_deadline(const struct stun_txn *t)
{
	return t->first_ms + stun_rtx_offset_ms(t->sent, t->rto_ms);
}

int stun_txn_poll(struct stun_txn *t, uint64_t now_ms)
{
	if (now_ms < stun_txn_deadline(t))
		return 0;
	if (t->sent >= STUN_RC)
		return -ETIMEDOUT;
	t->sent++;
	return 1;
}

bool stun_txn_match(const struct stun_txn *t, const struct stun_msg *m)
{
	return (m->cls == STUN_SUCCESS || m->cls == STUN_ERROR) && m->method == t->method &&
	       memcmp(m->txid, t->txid, STUN_TXID_LEN) == 0;
}

/* ---- Binding ---- */

int stun_binding_request(struct stun_txn *t, bool fingerprint, uint8_t *buf, size_t cap)
{
	struct stun_builder b;
	int rc = stun_txn_init(t, STUN_BINDING);
	if (rc < 0)
		return rc;
	stun_build_start(&b, buf, cap, STUN_BINDING, STUN_REQUEST, t->txid);
	if (fingerprint)
		stun_build_fingerprint(&b);
	return stun_build_end(&b);
}

int stun_binding_response(const struct stun_txn *t, const struct stun_msg *m,
			  struct net_endpoint *mapped)
{
	if (!stun_txn_match(t, m))
		return -ESRCH;
	if (m->cls == STUN_ERROR)
		return -EPROTO;
	if (!(m->attrs & STUN_HAS_MAPPED))
		return -EBADMSG;
	*mapped = m->mapped;
	return 0;
}

/* ---- TURN ---- */

static int copy_str(char *dst, size_t cap, const char *src, size_t len)
{
	if (len >= cap || memchr(src, 0, len))
		return -EINVAL;
	memcpy(dst, src, len);
	dst[len] = 0;
	return 0;
}

int turn_auth_init(struct turn_auth *a, const char *username, const char *password)
{
	memset(a, 0, sizeof(*a));
	if (copy_str(a->username, sizeof(a->username), username, strlen(username)) < 0 ||
	    copy_str(a->password, sizeof(a->password), password, strlen(password)) < 0)
		return -EINVAL;
	return 0;
}

static void turn_start(struct stun_builder *b, struct stun_txn *t, uint16_t method,
		       const struct turn_auth *a, uint8_t *buf, size_t cap)
{
	if (stun_txn_init(t, method) < 0) {
		b->err = -EIO;
		return;
	}
	t->authenticated = a && a->challenged;
	stun_build_start(b, buf, cap, method, STUN_REQUEST, t->txid);
}

static int turn_finish(struct stun_builder *b, const struct turn_auth *a)
{
	if (a && a->challenged) {
		stun_build_attr(b, STUN_ATTR_USERNAME, a->username, strlen(a->username));
		stun_build_attr(b, STUN_ATTR_REALM, a->realm, strlen(a->realm));
		stun_build_attr(b, STUN_ATTR_NONCE, a->nonce, strlen(a->nonce));
		stun_build_integrity(b, a->key, sizeof(a->key));
	}
	stun_build_fingerprint(b);
	return stun_build_end(b);
}

int turn_allocate_request(struct stun_txn *t, const struct turn_auth *a, uint32_t lifetime_s,
			  uint8_t *buf, size_t cap)
{
	struct stun_builder b = {0};
	turn_start(&b, t, TURN_ALLOCATE, a, buf, cap);
	stun_build_u32(&b, STUN_ATTR_REQUESTED_TRANSPORT, (uint32_t)TURN_TRANSPORT_UDP << 24);
	if (lifetime_s)
		stun_build_u32(&b, STUN_ATTR_LIFETIME, lifetime_s);
	return turn_finish(&b, a);
}

int turn_refresh_request(struct stun_txn *t, const struct turn_auth *a, uint32_t lifetime_s,
			 uint8_t *buf, size_t cap)
{
	struct stun_builder b = {0};
	turn_start(&b, t, TURN_REFRESH, a, buf, cap);
	stun_build_u32(&b, STUN_ATTR_LIFETIME, lifetime_s);
	return turn_finish(&b, a);
}

int turn_create_permission_request(struct stun_txn *t, const struct turn_auth *a,
				   const struct net_endpoint *peers, unsigned npeers, uint8_t *buf,
				   size_t cap)
{
	struct stun_builder b = {0};
	if (npeers == 0)
		return -EINVAL;
	turn_start(&b, t, TURN_CREATE_PERMISSION, a, buf, cap);
	for (unsigned i = 0; i < npeers; i++)
		stun_build_xor_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS, &peers[i]);
	return turn_finish(&b, a);
}

int turn_channel_bind_request(struct stun_txn *t, const struct turn_auth *a, uint16_t channel,
			      const struct net_endpoint *peer, uint8_t *buf, size_t cap)
{
	struct stun_builder b = {0};
	if (channel < TURN_CHANNEL_MIN || channel > TURN_CHANNEL_MAX)
		return -EINVAL;
	turn_start(&b, t, TURN_CHANNEL_BIND, a, buf, cap);
	stun_build_u32(&b, STUN_ATTR_CHANNEL_NUMBER, (uint32_t)channel << 16);
	stun_build_xor_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS, peer);
	return turn_finish(&b, a);
}

/* Takes realm (if present) and nonce from a 401/438 and derives the key. */
static int take_challenge(struct turn_auth *a, const struct stun_msg *m, bool need_realm)
{
	struct turn_auth n = *a;

	if (!(m->attrs & STUN_HAS_NONCE) || (need_realm && !(m->attrs & STUN_HAS_REALM)))
		return -EBADMSG;
	if (copy_str(n.nonce, sizeof(n.nonce), (const char *)m->nonce.p, m->nonce.len) < 0)
		return -EBADMSG;
	if ((m->attrs & STUN_HAS_REALM) &&
	    copy_str(n.realm, sizeof(n.realm), (const char *)m->realm.p, m->realm.len) < 0)
		return -EBADMSG;
	if (!n.realm[0])
		return -EBADMSG;
	if (stun_long_term_key(n.username, n.realm, n.password, n.key) < 0)
		return -EIO;
	n.challenged = true;
	*a = n;
	return 0;
}

int turn_response(const struct stun_txn *t, struct turn_auth *a, const struct stun_msg *m)
{
	int rc;

	if (!stun_txn_match(t, m))
		return -ESRCH;
	if (m->cls == STUN_ERROR) {
		if (!(m->attrs & STUN_HAS_ERROR))
			return -EBADMSG;
		switch (m->error_code) {
		case STUN_ERR_UNAUTHORIZED:
			if (t->authenticated)
				return -EACCES;
			rc = take_challenge(a, m, true);
			return rc < 0 ? rc : 1;
		case STUN_ERR_STALE_NONCE:
			rc = take_challenge(a, m, !a->challenged);
			return rc < 0 ? rc : 1;
		case STUN_ERR_BAD_REQUEST:
		case STUN_ERR_UNKNOWN_ATTRIBUTE:
			/* may come without integrity even to an authenticated request */
			return -EPROTO;
		default:
			break;
		}
	}
	/* §10.2.3: other responses to an authenticated request must carry a
	 * valid MESSAGE-INTEGRITY or be discarded as if never received. */
	if (t->authenticated) {
		if (stun_check_integrity(m, a->key, sizeof(a->key)) < 0)
			return -EBADMSG;
		if ((m->attrs & STUN_HAS_NONCE) &&
		    copy_str(a->nonce, sizeof(a->nonce), (const char *)m->nonce.p, m->nonce.len) <
			0)
			return -EBADMSG;
	}
	return m->cls == STUN_ERROR ? -EPROTO : 0;
}

int turn_allocate_result(const struct stun_msg *m, struct turn_allocation *out)
{
	memset(out, 0, sizeof(*out));
	if (m->method != TURN_ALLOCATE || m->cls != STUN_SUCCESS ||
	    !(m->attrs & STUN_HAS_RELAYED) || !(m->attrs & STUN_HAS_LIFETIME))
		return -EBADMSG;
	out->relayed = m->relayed;
	out->lifetime_s = m->lifetime;
	if (m->attrs & STUN_HAS_XOR_MAPPED) {
		out->mapped = m->mapped;
		out->has_mapped = true;
	}
	return 0;
}

int turn_send_indication(const struct net_endpoint *peer, const void *data, size_t len,
			 uint8_t *buf, size_t cap)
{
	struct stun_builder b;
	uint8_t txid[STUN_TXID_LEN];

	if (RAND_bytes(txid, sizeof(txid)) != 1)
		return -EIO;
	stun_build_start(&b, buf, cap, TURN_SEND, STUN_INDICATION, txid);
	stun_build_xor_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS, peer);
	stun_build_attr(&b, STUN_ATTR_DATA, data, len);
	stun_build_fingerprint(&b);
	return stun_build_end(&b);
}

int turn_data_indication(const struct stun_msg *m, struct net_endpoint *peer, const uint8_t **data,
			 size_t *len)
{
	if (m->method != TURN_DATA || m->cls != STUN_INDICATION)
		return -EINVAL;
	if (!(m->attrs & STUN_HAS_PEER) || !(m->attrs & STUN_HAS_DATA))
		return -EBADMSG;
	*peer = m->peer;
	*data = m->data.p;
	*len = m->data.len;
	return 0;
}

/* ---- ChannelData ---- */

int turn_channel_data_encode(uint16_t channel, const void *data, size_t len, bool pad, uint8_t *buf,
			     size_t cap)
{
	if (channel < TURN_CHANNEL_MIN || channel > TURN_CHANNEL_MAX || len > 0xffff)
		return -EINVAL;
	size_t total = TURN_CHANNEL_HDR_LEN + (pad ? pad4(len) : len);
	if (total > cap)
		return -ENOBUFS;
	put16(buf, channel);
	put16(buf + 2, (uint16_t)len);
	if (len)
		memmove(buf + TURN_CHANNEL_HDR_LEN, data, len);
	memset(buf + TURN_CHANNEL_HDR_LEN + len, 0, total - TURN_CHANNEL_HDR_LEN - len);
	return (int)total;
}

int turn_channel_data_decode(const uint8_t *buf, size_t len, uint16_t *channel,
			     const uint8_t **data, size_t *data_len)
{
	if (len < TURN_CHANNEL_HDR_LEN)
		return -EBADMSG;
	uint16_t ch = be16(buf);
	size_t dlen = be16(buf + 2);
	if (ch < TURN_CHANNEL_MIN || ch > TURN_CHANNEL_MAX)
		return -EBADMSG;
	if (len != TURN_CHANNEL_HDR_LEN + dlen && len != TURN_CHANNEL_HDR_LEN + pad4(dlen))
		return -EBADMSG;
	*channel = ch;
	*data = buf + TURN_CHANNEL_HDR_LEN;
	*data_len = dlen;
	return 0;
}

const char *stun_method_name(uint16_t method)
{
	switch (method) {
	case STUN_BINDING:
		return "Binding";
	case TURN_ALLOCATE:
		return "Allocate";
	case TURN_REFRESH:
		return "Refresh";
	case TURN_SEND:
		return "Send";
	case TURN_DATA:
		return "Data";
	case TURN_CREATE_PERMISSION:
		return "CreatePermission";
	case TURN_CHANNEL_BIND:
		return "ChannelBind";
	}
	return "?";
}
