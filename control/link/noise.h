/* Noise_IKpsk2_25519_AESGCM_SHA256 (Noise spec rev 34): the link handshake.
 *
 *   <- s
 *   ...
 *   -> e, es, s, ss          msg1 = 32 + (32 + 16) + (payload + 16) bytes
 *   <- e, ee, se, psk        msg2 = 32 + (payload + 16) bytes
 *
 * The initiator knows the responder's static key beforehand (from XMPP
 * presence); the responder learns the initiator's static key from msg1 and
 * decides whether to trust it (noise_hs_remote_static) before answering.
 * psk2 always mixes a 32-byte PSK: an overlay without a group PSK uses 32 zero
 * bytes, which keeps one wire format (and the same security as plain IK).
 *
 * X25519, SHA-256 and HMAC come from OpenSSL libcrypto, AES-256-GCM from
 * intel-ipsec-mb (nonce = 4 zero bytes || 64-bit big-endian counter, 16-byte
 * tag, compared in constant time here). The module runs on the control core
 * and keeps no global state; apart from libcrypto's transient objects nothing
 * is allocated. Every secret (ephemeral keys, chaining key, cipher key, DH
 * outputs, expanded AES keys) is explicit_bzero'd once it is no longer
 * needed, on error paths too.
 *
 * Errors (all functions return 0 or a negative errno):
 *   -EINVAL   bad arguments (NULL pointer, bad role, missing remote static
 *             key, or a configured remote static key that is low-order)
 *   -EPROTO   call out of order: wrong role or state, handshake already
 *             finished or split (this is what a replayed msg2 gets)
 *   -EMSGSIZE message shorter than this step's minimum (truncated)
 *   -E2BIG    message or payload longer than NOISE_MAX_MSG_LEN (oversized)
 *   -ENOBUFS  the caller's output buffer is too small
 *   -EBADMSG  authentication failed: bad tag (tampering, wrong responder
 *             static key, wrong PSK) or an invalid (low-order) public key
 *   -EIO      a libcrypto or ipsec-mb call failed
 *
 * A failed noise_read_message leaves the handshake exactly as it was before
 * the call (the work is done on a scratch copy that is then wiped): a forged
 * or corrupted datagram cannot kill a handshake that the genuine message may
 * still complete. Writes never fail on remote input; a failed write also
 * leaves the state untouched.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <intel-ipsec-mb.h>

#define NOISE_PROTOCOL_NAME "Noise_IKpsk2_25519_AESGCM_SHA256"
#define NOISE_KEY_LEN	    32 /* X25519 keys, PSK, cipher keys */
#define NOISE_HASH_LEN	    32 /* SHA-256: chaining key, handshake hash */
#define NOISE_TAG_LEN	    16
#define NOISE_MAX_MSG_LEN   65535 /* spec section 3 */
#define NOISE_MSG1_LEN(plen)                                                                       \
	(NOISE_KEY_LEN + NOISE_KEY_LEN + NOISE_TAG_LEN + (plen) + NOISE_TAG_LEN)
#define NOISE_MSG2_LEN(plen) (NOISE_KEY_LEN + (plen) + NOISE_TAG_LEN)
#define NOISE_MSG1_MIN_LEN   NOISE_MSG1_LEN(0) /* 96 */
#define NOISE_MSG2_MIN_LEN   NOISE_MSG2_LEN(0) /* 48 */
/* Largest payload a message may carry (msg2 has the smaller overhead). */
#define NOISE_MAX_PAYLOAD_LEN (NOISE_MAX_MSG_LEN - NOISE_MSG2_MIN_LEN)

/* ESP key material derived from one split key: AES-256 key || 4-byte salt,
 * the form dp_sa_create() and tshark take (DP_SA_KEYMAT_LEN). */
#define NOISE_ESP_KEYMAT_LEN  36
#define NOISE_ESP_KEYMAT_INFO "ipopd esp keymat v1"

enum noise_role { NOISE_INITIATOR = 1, NOISE_RESPONDER = 2 };

enum noise_hs_state {
	NOISE_HS_NONE = 0,   /* not initialised, or wiped */
	NOISE_HS_WRITE_MSG1, /* initiator: next call is noise_write_message */
	NOISE_HS_READ_MSG1,  /* responder: next call is noise_read_message */
	NOISE_HS_READ_MSG2,  /* initiator: msg1 sent, waiting for msg2 */
	NOISE_HS_WRITE_MSG2, /* responder: msg1 accepted, answer with msg2 */
	NOISE_HS_DONE,	     /* both messages processed: hash and split available */
	NOISE_HS_SPLIT,	     /* keys handed out, secrets wiped (rs and h kept) */
};

/* Handshake state (the spec's HandshakeState with its SymmetricState and
 * CipherState inlined). Plain data, may live anywhere; the IMB_MGR is
 * borrowed and must outlive the handshake. Treat the fields as private. */
struct noise_hs {
	enum noise_role role;
	enum noise_hs_state state;
	IMB_MGR *mgr;
	uint8_t ck[NOISE_HASH_LEN]; /* chaining key */
	uint8_t h[NOISE_HASH_LEN];  /* handshake hash */
	uint8_t k[NOISE_KEY_LEN];   /* cipher key, valid when has_k */
	uint64_t n;		    /* cipher nonce */
	bool has_k;
	bool fixed_e; /* test vectors: e_priv was injected, do not generate */
	uint8_t s_priv[NOISE_KEY_LEN], s_pub[NOISE_KEY_LEN];
	uint8_t e_priv[NOISE_KEY_LEN], e_pub[NOISE_KEY_LEN];
	uint8_t rs[NOISE_KEY_LEN]; /* remote static */
	uint8_t re[NOISE_KEY_LEN]; /* remote ephemeral */
	uint8_t psk[NOISE_KEY_LEN];
};

/* Generates a static (or any) X25519 key pair from the OS CSPRNG
 * (RAND_priv_bytes). The private key is stored unclamped; X25519 clamps. */
int noise_keypair_generate(uint8_t priv[NOISE_KEY_LEN], uint8_t pub[NOISE_KEY_LEN]);

/* pub = X25519(priv, 9). */
int noise_pubkey_from_private(uint8_t pub[NOISE_KEY_LEN], const uint8_t priv[NOISE_KEY_LEN]);

/* Starts a handshake: InitializeSymmetric(protocol name), MixHash(prologue),
 * MixHash(responder's static public key).
 *   role          NOISE_INITIATOR or NOISE_RESPONDER
 *   mgr           ipsec-mb manager (alloc_mb_mgr(0) + init_mb_mgr_auto) used
 *                 for AES-GCM; borrowed
 *   local_priv    our static private key (public part is derived)
 *   remote_pub    initiator: the responder's static public key (required);
 *                 responder: must be NULL (it arrives in msg1)
 *   psk           32 bytes, or NULL for the all-zero PSK (overlay without a
 *                 group PSK). A responder may replace it with noise_hs_set_psk
 *                 after reading msg1.
 *   prologue      bytes both sides must agree on (may be NULL if len is 0);
 *                 ipopd should bind protocol version and overlay id here.
 * Any previous content of hs is overwritten. */
int noise_hs_init(struct noise_hs *hs, enum noise_role role, IMB_MGR *mgr,
		  const uint8_t local_priv[NOISE_KEY_LEN], const uint8_t remote_pub[NOISE_KEY_LEN],
		  const uint8_t psk[NOISE_KEY_LEN], const void *prologue, size_t prologue_len);

/* Replaces the PSK (NULL = all zero). Allowed until the psk token is
 * processed: initiator before reading msg2, responder before writing msg2 —
 * so a responder can pick the PSK of the group the initiator's static key
 * belongs to. -EPROTO afterwards. */
int noise_hs_set_psk(struct noise_hs *hs, const uint8_t psk[NOISE_KEY_LEN]);

/* Writes the next handshake message (msg1 for the initiator, msg2 for the
 * responder) carrying payload (may be NULL if payload_len is 0; it is
 * encrypted and authenticated). out receives NOISE_MSG1_LEN(payload_len) or
 * NOISE_MSG2_LEN(payload_len) bytes, stored in *out_len. */
int noise_write_message(struct noise_hs *hs, const void *payload, size_t payload_len, uint8_t *out,
			size_t out_cap, size_t *out_len);

/* Reads the next handshake message (msg1 on the responder, msg2 on the
 * initiator). The decrypted payload (msg_len minus the fixed overhead) goes to
 * payload/payload_cap and its length to *payload_len; payload may be NULL when
 * payload_cap is 0. On error hs is unchanged (see the top of this file) and
 * payload holds no plaintext (a failed decryption zeroes what it wrote). */
int noise_read_message(struct noise_hs *hs, const uint8_t *msg, size_t msg_len, void *payload,
		       size_t payload_cap, size_t *payload_len);

/* The peer's static public key: responder after reading msg1, initiator at
 * any time (it is the key it was given). -EPROTO before it is known. */
int noise_hs_remote_static(const struct noise_hs *hs, uint8_t out[NOISE_KEY_LEN]);

/* The handshake hash h, for channel binding (identical on both sides once the
 * handshake is DONE; -EPROTO before). */
int noise_hs_hash(const struct noise_hs *hs, uint8_t out[NOISE_HASH_LEN]);

/* Split(): two 32-byte transport keys oriented for this side — the initiator
 * sends with the spec's k1 and receives with k2, the responder the reverse.
 * hash (may be NULL) receives the handshake hash. Requires DONE; afterwards hs
 * is in NOISE_HS_SPLIT and keeps only public data (the remote static key and
 * the handshake hash, still readable through the two getters above). */
int noise_split(struct noise_hs *hs, uint8_t send_key[NOISE_KEY_LEN],
		uint8_t recv_key[NOISE_KEY_LEN], uint8_t hash[NOISE_HASH_LEN]);

/* Wipes every secret and returns hs to NOISE_HS_NONE (abandoning a handshake,
 * or after use). Safe on a wiped or zeroed hs. */
void noise_hs_wipe(struct noise_hs *hs);

/* TEST ONLY (test vectors, fuzzing): fixes the ephemeral private key this
 * side will use instead of generating one. Must follow noise_hs_init and
 * precede the write that emits e. Never call this in the daemon: a reused
 * ephemeral key destroys forward secrecy. */
int noise_hs_set_ephemeral_for_testing(struct noise_hs *hs, const uint8_t e_priv[NOISE_KEY_LEN]);

/* ESP key material for one direction, proposed derivation:
 *   keymat[0..36) = HKDF-SHA256(salt = handshake hash,
 *                               IKM  = that direction's split key,
 *                               info = "ipopd esp keymat v1", L = 36)
 * (RFC 5869). keymat[0..32) is the AES-256-GCM key, keymat[32..36) the
 * RFC 4106 salt. The split keys are already direction-specific and secret;
 * the handshake hash as salt ties the SA to the whole transcript (static
 * keys, prologue, payloads). The split keys are used for ESP only (no Noise
 * transport messages). A rekey is a fresh handshake, so there is no Noise
 * Rekey() here. */
int noise_esp_keymat(const uint8_t split_key[NOISE_KEY_LEN], const uint8_t hash[NOISE_HASH_LEN],
		     uint8_t keymat[NOISE_ESP_KEYMAT_LEN]);
