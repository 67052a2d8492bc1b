/* Handshake message framing on the data port: header codec, payload codecs,
 * mac1/mac2, cookie replies and per-source token buckets (see hsmsg.h and
 * docs/protocol.md for the wire format).
 *
 * Everything here runs on the control core before or around the Noise work,
 * so it is written to be cheap on garbage: a forged initiation costs a header
 * check and one HMAC-SHA256. Keys are per call (mac keys are derived once per
 * static key by the caller); the only state is the cookie secret and the
 * rate-limit table. Secrets on the stack are wiped before returning.
 */
#include "control/link/hsmsg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#define SPI_TOP_BIT	      0x80000000u
#define COOKIE_SECRET_LIFE_MS 120000u
#define TAI64_BASE	      0x4000000000000000ull /* 2^62: TAI64 label of second 0 */
#define MAC1_LABEL	      "ipopd mac1 v1"
#define COOKIE_LABEL	      "ipopd cookie v1"
#define RL_PROBE	      8u    /* buckets looked at per source before evicting */
#define RL_MILLI	      1000u /* tokens are counted in thousandths */

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* HMAC-SHA256(key, a || b) truncated to out_len (<= 32). On a libcrypto
 * failure out is zeroed: a zero MAC never verifies (the checks compute their
 * own and a failed computation makes them return false). */
static bool hmac2(const uint8_t *key, size_t key_len, const uint8_t *a, size_t a_len,
		  const uint8_t *b, size_t b_len, uint8_t *out, size_t out_len)
{
	uint8_t buf[HS_MSG_MAX + HS_MAC_LEN], md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	bool ok;

	if (a_len + b_len > sizeof(buf)) {
		memset(out, 0, out_len);
		return false;
	}
	memcpy(buf, a, a_len);
	if (b_len)
		memcpy(buf + a_len, b, b_len);
	ok = HMAC(EVP_sha256(), key, (int)key_len, buf, a_len + b_len, md, &md_len) != NULL &&
	     md_len == 32;
	if (ok)
		memcpy(out, md, out_len);
	else
		memset(out, 0, out_len);
	explicit_bzero(md, sizeof(md));
	explicit_bzero(buf, sizeof(buf));
	return ok;
}

/* The cookie secret must be unpredictable or anyone can mint cookies for
 * spoofed addresses. Without any randomness source nothing else here (Noise
 * ephemeral keys included) can be secure either, so give up loudly. */
static void fill_random(uint8_t *buf, size_t len)
{
	if (RAND_bytes(buf, (int)len) == 1)
		return;
	if (getrandom(buf, len, 0) == (ssize_t)len)
		return;
	fprintf(stderr, "hsmsg: no random bytes available\n");
	abort();
}

/* ---- header ---- */

int hs_parse_header(const uint8_t *msg, size_t len, struct hs_header *h)
{
	size_t want, max;
	uint32_t rx, tx;

	if (!msg || len < HS_HDR_LEN)
		return -EBADMSG;
	switch (msg[4]) {
	case HS_INITIATION:
		want = max = HS_INIT_LEN;
		break;
	case HS_RESPONSE:
		want = max = HS_RESP_LEN;
		break;
	case HS_COOKIE_REPLY:
		want = max = HS_COOKIE_MSG_LEN;
		break;
	case HS_CERT_REQUEST:
		want = max = HS_CERTREQ_LEN;
		break;
	case HS_CERT_REPLY:
		want = HS_CERTREP_MIN_LEN;
		max = HS_CERTREQ_LEN;
		break;
	case HS_INITIATION_CERT:
		want = HS_INIT_LEN + HS_CERT_PAYLOAD_MIN;
		max = HS_MSG_MAX;
		break;
	case HS_RESPONSE_CERT:
		want = HS_RESP_LEN + HS_CERT_PAYLOAD_MIN;
		max = HS_MSG_MAX;
		break;
	default:
		return -EBADMSG;
	}
	if (len < want || len > max || (msg[0] | msg[1] | msg[2] | msg[3]) ||
	    (msg[5] | msg[6] | msg[7]))
		return -EBADMSG;
	rx = get_be32(msg + 8);
	tx = get_be32(msg + 12);
	switch (msg[4]) {
	case HS_INITIATION:
	case HS_INITIATION_CERT:
	case HS_CERT_REQUEST: /* sender SPI: the request's id */
		if (rx != 0 || !(tx & SPI_TOP_BIT))
			return -EBADMSG;
		break;
	case HS_RESPONSE:
	case HS_RESPONSE_CERT:
		if (!(rx & SPI_TOP_BIT) || !(tx & SPI_TOP_BIT))
			return -EBADMSG;
		break;
	default: /* cookie reply, certificate reply: answer a message, carry no SPI */
		if (!(rx & SPI_TOP_BIT) || tx != 0)
			return -EBADMSG;
		break;
	}
	h->type = (enum hs_type)msg[4];
	h->receiver_spi = rx;
	h->sender_spi = tx;
	if (h->type == HS_COOKIE_REPLY) {
		h->noise = NULL;
		h->noise_len = 0;
	} else if (h->type == HS_CERT_REQUEST || h->type == HS_CERT_REPLY) {
		h->noise = msg + HS_HDR_LEN;
		h->noise_len = len - HS_HDR_LEN;
	} else {
		h->noise = msg + HS_HDR_LEN;
		h->noise_len = len - HS_HDR_LEN - 2 * HS_MAC_LEN;
	}
	return 0;
}

void hs_write_header(uint8_t *msg, enum hs_type type, uint32_t receiver_spi, uint32_t sender_spi)
{
	memset(msg, 0, 8);
	msg[4] = (uint8_t)type;
	put_be32(msg + 8, receiver_spi);
	put_be32(msg + 12, sender_spi);
}

/* ---- payloads (inside Noise, so authenticated; bytes 2..3 are reserved,
 * sent as zero and ignored like the flags) ---- */

void hs_init_payload_encode(const struct hs_init_payload *p, uint8_t out[HS_INIT_PAYLOAD_LEN])
{
	out[0] = p->version;
	out[1] = p->flags;
	out[2] = out[3] = 0;
	put_be32(out + 4, p->sender_spi);
	memcpy(out + 8, p->tai64n, 12);
}

int hs_init_payload_decode(const uint8_t *in, size_t len, struct hs_init_payload *p)
{
	if (!in || len != HS_INIT_PAYLOAD_LEN || in[0] != HS_VERSION)
		return -EBADMSG;
	p->version = in[0];
	p->flags = in[1];
	p->sender_spi = get_be32(in + 4);
	memcpy(p->tai64n, in + 8, 12);
	return 0;
}

void hs_resp_payload_encode(const struct hs_resp_payload *p, uint8_t out[HS_RESP_PAYLOAD_LEN])
{
	out[0] = p->version;
	out[1] = p->flags;
	out[2] = out[3] = 0;
	put_be32(out + 4, p->sender_spi);
}

int hs_resp_payload_decode(const uint8_t *in, size_t len, struct hs_resp_payload *p)
{
	if (!in || len != HS_RESP_PAYLOAD_LEN || in[0] != HS_VERSION)
		return -EBADMSG;
	p->version = in[0];
	p->flags = in[1];
	p->sender_spi = get_be32(in + 4);
	return 0;
}

void hs_tai64n_now(uint8_t out[12])
{
	struct timespec ts;
	uint64_t label;

	clock_gettime(CLOCK_REALTIME, &ts);
	label = TAI64_BASE + (uint64_t)ts.tv_sec;
	put_be32(out, (uint32_t)(label >> 32));
	put_be32(out + 4, (uint32_t)label);
	put_be32(out + 8, (uint32_t)ts.tv_nsec);
}

/* ---- mac1 / mac2 ---- */

static void label_hash(const char *label, const uint8_t pub[32], uint8_t out[32])
{
	uint8_t buf[32 + 32];
	size_t n = strlen(label);

	memcpy(buf, label, n);
	memcpy(buf + n, pub, 32);
	if (!SHA256(buf, n + 32, out))
		memset(out, 0, 32);
}

void hs_mac_keys_derive(const uint8_t pub[32], struct hs_mac_keys *k)
{
	label_hash(MAC1_LABEL, pub, k->mac1);
	label_hash(COOKIE_LABEL, pub, k->cookie);
}

void hs_macs_write(uint8_t *msg, size_t len, const struct hs_mac_keys *receiver,
		   const uint8_t cookie[HS_COOKIE_LEN])
{
	uint8_t *mac1, *mac2;

	if (len < HS_HDR_LEN + 2 * HS_MAC_LEN)
		return;
	mac1 = msg + len - 2 * HS_MAC_LEN;
	mac2 = msg + len - HS_MAC_LEN;
	hmac2(receiver->mac1, sizeof(receiver->mac1), msg, len - 2 * HS_MAC_LEN, NULL, 0, mac1,
	      HS_MAC_LEN);
	if (cookie)
		hmac2(cookie, HS_COOKIE_LEN, msg, len - HS_MAC_LEN, NULL, 0, mac2, HS_MAC_LEN);
	else
		memset(mac2, 0, HS_MAC_LEN);
}

bool hs_mac1_ok(const uint8_t *msg, size_t len, const struct hs_mac_keys *own)
{
	uint8_t want[HS_MAC_LEN];
	bool ok;

	if (!msg || len < HS_HDR_LEN + 2 * HS_MAC_LEN || len > HS_MSG_MAX)
		return false;
	ok = hmac2(own->mac1, sizeof(own->mac1), msg, len - 2 * HS_MAC_LEN, NULL, 0, want,
		   HS_MAC_LEN) &&
	     CRYPTO_memcmp(want, msg + len - 2 * HS_MAC_LEN, HS_MAC_LEN) == 0;
	explicit_bzero(want, sizeof(want));
	return ok;
}

bool hs_mac2_ok(const uint8_t *msg, size_t len, const uint8_t cookie[HS_COOKIE_LEN])
{
	uint8_t want[HS_MAC_LEN];
	bool ok;

	if (!msg || !cookie || len < HS_HDR_LEN + 2 * HS_MAC_LEN || len > HS_MSG_MAX)
		return false;
	ok = hmac2(cookie, HS_COOKIE_LEN, msg, len - HS_MAC_LEN, NULL, 0, want, HS_MAC_LEN) &&
	     CRYPTO_memcmp(want, msg + len - HS_MAC_LEN, HS_MAC_LEN) == 0;
	explicit_bzero(want, sizeof(want));
	return ok;
}

/* ---- cookies ---- */

void hs_cookie_gen_init(struct hs_cookie_gen *g, uint64_t now_ms)
{
	fill_random(g->secret, sizeof(g->secret));
	g->secret_birth_ms = now_ms;
}

void hs_cookie_make(struct hs_cookie_gen *g, const struct net_endpoint *src, uint64_t now_ms,
		    uint8_t cookie[HS_COOKIE_LEN])
{
	uint8_t in[18];

	/* a clock that went backwards also rotates: never extend a secret's life */
	if (now_ms - g->secret_birth_ms >= COOKIE_SECRET_LIFE_MS || now_ms < g->secret_birth_ms)
		hs_cookie_gen_init(g, now_ms);
	memcpy(in, src->addr, 16);
	in[16] = (uint8_t)(src->port >> 8);
	in[17] = (uint8_t)src->port;
	hmac2(g->secret, sizeof(g->secret), in, sizeof(in), NULL, 0, cookie, HS_COOKIE_LEN);
}

void hs_cookie_reply_build(uint8_t out[HS_COOKIE_MSG_LEN], const uint8_t *init,
			   const struct hs_mac_keys *own, const uint8_t cookie[HS_COOKIE_LEN])
{
	hs_cookie_reply_build_len(out, init, HS_INIT_LEN, own, cookie);
}

void hs_cookie_reply_build_len(uint8_t out[HS_COOKIE_MSG_LEN], const uint8_t *init, size_t init_len,
			       const struct hs_mac_keys *own, const uint8_t cookie[HS_COOKIE_LEN])
{
	const uint8_t *mac1 = init + init_len - 2 * HS_MAC_LEN;

	hs_write_header(out, HS_COOKIE_REPLY, get_be32(init + 12), 0);
	memcpy(out + HS_HDR_LEN, cookie, HS_COOKIE_LEN);
	hmac2(own->cookie, sizeof(own->cookie), out, HS_HDR_LEN + HS_COOKIE_LEN, mac1, HS_MAC_LEN,
	      out + HS_HDR_LEN + HS_COOKIE_LEN, HS_MAC_LEN);
}

int hs_cookie_reply_open(const uint8_t *reply, size_t len, const uint8_t *our_init,
			 const struct hs_mac_keys *responder, uint8_t cookie[HS_COOKIE_LEN])
{
	return hs_cookie_reply_open_len(reply, len, our_init, HS_INIT_LEN, responder, cookie);
}

int hs_cookie_reply_open_len(const uint8_t *reply, size_t len, const uint8_t *our_init,
			     size_t our_init_len, const struct hs_mac_keys *responder,
			     uint8_t cookie[HS_COOKIE_LEN])
{
	const uint8_t *mac1 = our_init + our_init_len - 2 * HS_MAC_LEN;
	uint8_t tag[HS_MAC_LEN];
	struct hs_header h;
	bool ok;

	if (hs_parse_header(reply, len, &h) || h.type != HS_COOKIE_REPLY ||
	    h.receiver_spi != get_be32(our_init + 12))
		return -EBADMSG;
	ok = hmac2(responder->cookie, sizeof(responder->cookie), reply, HS_HDR_LEN + HS_COOKIE_LEN,
		   mac1, HS_MAC_LEN, tag, sizeof(tag)) &&
	     CRYPTO_memcmp(tag, reply + HS_HDR_LEN + HS_COOKIE_LEN, HS_MAC_LEN) == 0;
	explicit_bzero(tag, sizeof(tag));
	if (!ok)
		return -EBADMSG;
	memcpy(cookie, reply + HS_HDR_LEN, HS_COOKIE_LEN);
	return 0;
}

/* ---- per-source token buckets ----
 *
 * Open addressing over a fixed array: a source lives in one of the RL_PROBE
 * buckets after its hash. The hash is SipHash-2-4 under a random key, so a
 * flooder cannot aim its spoofed sources at a victim's buckets. When all
 * probed buckets belong to others the stalest one is taken over: its owner
 * has been quiet longest, so its bucket had refilled the most anyway, and a
 * source that comes back simply starts with a full bucket. */

struct rl_bucket {
	uint8_t addr[16];
	bool used;
	uint64_t last_ms;  /* last refill */
	uint64_t tokens_m; /* thousandths of a token */
};

struct hs_ratelimit {
	unsigned slots, probe;
	uint64_t rate_m;  /* refill per millisecond, in thousandths: rate tokens/s */
	uint64_t burst_m; /* capacity in thousandths */
	uint64_t k0, k1;  /* SipHash key */
	struct rl_bucket *b;
};

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = ROTL(v[1], 13);
	v[1] ^= v[0];
	v[0] = ROTL(v[0], 32);
	v[2] += v[3];
	v[3] = ROTL(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = ROTL(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = ROTL(v[1], 17);
	v[1] ^= v[2];
	v[2] = ROTL(v[2], 32);
}

/* SipHash-2-4 of exactly 16 bytes. */
static uint64_t siphash16(uint64_t k0, uint64_t k1, const uint8_t in[16])
{
	uint64_t v[4] = {k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull,
			 k0 ^ 0x6c7967656e657261ull, k1 ^ 0x7465646279746573ull};
	uint64_t m[3] = {get_le64(in), get_le64(in + 8), (uint64_t)16 << 56};

	for (int i = 0; i < 3; i++) {
		v[3] ^= m[i];
		sip_round(v);
		sip_round(v);
		v[0] ^= m[i];
	}
	v[2] ^= 0xff;
	for (int i = 0; i < 4; i++)
		sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

struct hs_ratelimit *hs_ratelimit_create(unsigned slots, unsigned rate, unsigned burst)
{
	struct hs_ratelimit *rl;
	uint8_t key[16];

	if (!slots || !burst) {
		errno = EINVAL;
		return NULL;
	}
	rl = calloc(1, sizeof(*rl));
	if (!rl)
		return NULL;
	rl->b = calloc(slots, sizeof(*rl->b));
	if (!rl->b) {
		free(rl);
		return NULL;
	}
	rl->slots = slots;
	rl->probe = slots < RL_PROBE ? slots : RL_PROBE;
	rl->rate_m = rate;
	rl->burst_m = (uint64_t)burst * RL_MILLI;
	fill_random(key, sizeof(key));
	rl->k0 = get_le64(key);
	rl->k1 = get_le64(key + 8);
	explicit_bzero(key, sizeof(key));
	return rl;
}

void hs_ratelimit_destroy(struct hs_ratelimit *rl)
{
	if (!rl)
		return;
	free(rl->b);
	explicit_bzero(rl, sizeof(*rl));
	free(rl);
}

bool hs_ratelimit_allow(struct hs_ratelimit *rl, const struct net_endpoint *src, uint64_t now_ms)
{
	unsigned start = (unsigned)(siphash16(rl->k0, rl->k1, src->addr) % rl->slots);
	struct rl_bucket *b = NULL, *stalest = NULL;

	for (unsigned i = 0; i < rl->probe; i++) {
		struct rl_bucket *c = &rl->b[(start + i) % rl->slots];

		if (c->used && memcmp(c->addr, src->addr, 16) == 0) {
			b = c;
			break;
		}
		if (!c->used) {
			if (!stalest || stalest->used)
				stalest = c;
		} else if (!stalest || (stalest->used && c->last_ms < stalest->last_ms)) {
			stalest = c;
		}
	}
	if (!b) {
		b = stalest;
		memcpy(b->addr, src->addr, 16);
		b->used = true;
		b->last_ms = now_ms;
		b->tokens_m = rl->burst_m;
	} else if (now_ms > b->last_ms) {
		uint64_t dt = now_ms - b->last_ms;
		uint64_t room = rl->burst_m - b->tokens_m;

		/* compare before multiplying: dt * rate can overflow after a long silence */
		if (rl->rate_m && dt >= room / rl->rate_m + 1)
			b->tokens_m = rl->burst_m;
		else
			b->tokens_m += dt * rl->rate_m;
		b->last_ms = now_ms;
	}
	if (b->tokens_m < RL_MILLI)
		return false;
	b->tokens_m -= RL_MILLI;
	return true;
}
