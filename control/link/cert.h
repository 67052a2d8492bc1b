/* Trust by certificate (docs/protocol.md "Certificates"): standard X.509
 * through OpenSSL libcrypto, so any PKI tool can run the overlay's CA.
 *
 * A node certificate binds the node's static X25519 public key (the
 * certificate's subject public key) to
 *   - its overlay IPv4 address: a subjectAltName iPAddress (4 bytes),
 *   - optionally the subnets routed behind it: the RFC 3779 IP address
 *     delegation extension (sbgp-ipAddrBlock, IPv4 prefixes or ranges),
 *     which OpenSSL also checks along the chain (an issuer must hold what
 *     it delegates, so a CA can be scoped to the overlay's range),
 *   - a name: the first subjectAltName dNSName, else the subject's CN,
 * for its validity period. It must not be a CA (basicConstraints).
 *
 * struct cert_trust holds the configured CA certificate(s) and the
 * optional CRL file (reloaded by cert_trust_reload_crl). cert_verify checks
 * a peer's chain as it arrived in the handshake (cert_payload_*), the key
 * the handshake proved and reports one refusal reason. All of it runs on
 * the control core; nothing here does I/O except the *_load functions.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CERT_CHAIN_MAX	   3	/* leaf + up to two intermediates in a handshake */
#define CERT_DER_MAX	   1024 /* one DER certificate */
#define CERT_SUBNETS_MAX   8
#define CERT_EXPIRY_WARN_S (14 * 86400) /* "expires soon" below this */

enum cert_verdict {
	CERT_OK = 0,
	CERT_OTHER_CA, /* does not chain to the configured CA */
	CERT_EXPIRED,  /* it or a certificate of its chain */
	CERT_NOT_YET_VALID,
	CERT_REVOKED,	       /* in the CRL */
	CERT_OTHER_KEY,	       /* certifies another key than the handshake proved */
	CERT_ADDR_NOT_COVERED, /* an overlay address the peer uses is not in it */
	CERT_INVALID,	       /* anything else: a CA as leaf, no overlay address, a CRL problem */
	CERT_MALFORMED,	       /* the payload or a DER certificate does not parse */
	CERT_VERDICT_COUNT
};

/* "other CA", "expired", ... for logs and counters. */
const char *cert_verdict_name(enum cert_verdict v);

/* What a verified certificate says. */
struct cert_info {
	uint8_t pub[32];
	uint32_t ip4; /* overlay IPv4 (network order) */
	struct {
		uint32_t lo, hi; /* host order, inclusive */
	} subnet[CERT_SUBNETS_MAX];
	unsigned nsubnets;
	char name[64];
	char subject[160]; /* RFC 2253 */
	char serial[66];   /* hex */
	int64_t not_after; /* seconds since the epoch */
};

/* A certificate chain as carried in a handshake payload: views into the
 * buffer it was decoded from (or the one it will be encoded into). */
struct cert_chain {
	const uint8_t *der[CERT_CHAIN_MAX];
	size_t len[CERT_CHAIN_MAX];
	unsigned n; /* der[0] is the leaf */
};

/* Wire form (docs/protocol.md):  u8 n (1..CERT_CHAIN_MAX), then n times
 * u16 length (1..CERT_DER_MAX, big endian) and the DER bytes; nothing
 * after. cert_payload_len: bytes the chain takes. */
size_t cert_payload_len(const struct cert_chain *c);
/* 0 or -EMSGSIZE (cap too small) / -EINVAL (bad chain). */
int cert_payload_encode(const struct cert_chain *c, uint8_t *out, size_t cap, size_t *len);
/* 0 or -EBADMSG. Never reads past len; c points into in. */
int cert_payload_decode(const uint8_t *in, size_t len, struct cert_chain *c);

struct cert_trust;
/* ca_file: PEM, one or more CA certificates (the overlay's trust anchors).
 * crl_file: PEM CRLs, one from every CA that issues node certificates (root
 * and intermediates), or NULL/"" for none. 0 or -errno with err filled
 * ("ca_file /x: no certificate in it"). */
int cert_trust_load(struct cert_trust **out, const char *ca_file, const char *crl_file, char *err,
		    size_t errlen);
/* Reads the CRL file again (SIGHUP); on failure the previous CRLs stay. */
int cert_trust_reload_crl(struct cert_trust *t, char *err, size_t errlen);
void cert_trust_free(struct cert_trust *t);

/* Checks chain (leaf first, intermediates after) at time now against t:
 * chains to a configured CA, every certificate valid now, none revoked,
 * leaf not a CA, carries an overlay IPv4 address and the X25519 key pub.
 * pub NULL: any X25519 key (a fetched certificate, whose key is not known
 * yet). Fills info (may be NULL) on CERT_OK. */
enum cert_verdict cert_verify(const struct cert_trust *t, const struct cert_chain *chain,
			      const uint8_t pub[32], time_t now, struct cert_info *info);

/* Whether the certificate covers the IPv4 prefix addr/len (network order):
 * it is the overlay address (a /32) or lies within one of its subnets. */
bool cert_info_covers(const struct cert_info *ci, uint32_t addr_be, unsigned len);

/* Our own chain: cert_file (PEM, leaf first, then intermediates) as DER,
 * checked to carry our public key. *out is freed with cert_own_free. */
struct cert_own {
	uint8_t *buf; /* all DER, back to back */
	struct cert_chain chain;
	struct cert_info info;
};
int cert_own_load(struct cert_own *out, const char *cert_file, const uint8_t pub[32], char *err,
		  size_t errlen);
void cert_own_free(struct cert_own *o);
