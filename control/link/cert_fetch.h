/* Certificate fetch ahead of the Noise IK handshake (docs/protocol.md
 * "Certificates"): an initiator that knows a peer's endpoint but not its
 * static key asks for the peer's certificate chain first.
 *
 *   request (HS_CERTREQ_LEN = 1200 bytes, type 4):
 *     header (receiver SPI 0, sender SPI = request id, top bit set)
 *     e_i: the requester's fresh ephemeral X25519 public key (32)
 *     zero padding: a reply is never larger than its request, so the
 *     exchange amplifies nothing
 *   reply (type 5, at most HS_CERTREQ_LEN bytes):
 *     header (receiver SPI = the request id, sender SPI 0)
 *     e_r: the responder's fresh ephemeral X25519 public key (32)
 *     AES-256-GCM(k, nonce 0, AAD = reply header || e_i || e_r,
 *                 certificate payload (cert.h)) || tag (16)
 *   k = HKDF-SHA256(salt = "ipopd cert fetch v1", IKM = X25519(e, e'),
 *                   info = e_i || e_r)[0..32)
 *
 * The certificate is encrypted against passive observers (as the
 * responder's identity in Noise XX); the exchange authenticates nothing.
 * The key it yields is only a candidate: the chain must verify against the
 * CA and the IK handshake that follows proves the peer holds that key.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "control/link/cert.h"
#include "control/link/hsmsg.h"

struct cert_fetch {
	uint32_t id; /* the request's sender SPI */
	uint8_t e_priv[32], e_pub[32];
};

/* A new request (fresh ephemeral key and id) into out. 0 or -errno. */
int cert_fetch_request(struct cert_fetch *f, uint8_t out[HS_CERTREQ_LEN]);
/* Responder: the reply to a parsed request (req, req_len: the datagram)
 * carrying chain. 0, -EMSGSIZE (chain too large) or -errno. */
int cert_fetch_reply(const uint8_t *req, size_t req_len, const struct cert_chain *chain,
		     uint8_t *out, size_t cap, size_t *out_len);
/* Requester: decrypts a reply to f into payload (cap bytes; the certificate
 * payload, still to be decoded and verified). 0 or -EBADMSG. */
int cert_fetch_open(const struct cert_fetch *f, const uint8_t *reply, size_t len, uint8_t *payload,
		    size_t cap, size_t *payload_len);
void cert_fetch_wipe(struct cert_fetch *f);
