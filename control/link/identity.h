/* The node's identity: a static X25519 key pair kept in the state directory,
 * created on first start, and the base64 form keys take in configs, on the
 * command line and over XMPP (44 characters, like WireGuard's). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define IPOP_KEY_LEN     32
#define IPOP_KEY_B64_LEN 44 /* without the terminating NUL */
#define IPOP_KEY_FILE    "node.key"

struct ipop_identity {
	uint8_t priv[IPOP_KEY_LEN];
	uint8_t pub[IPOP_KEY_LEN];
};

/* Loads <state_dir>/node.key (base64 private key, one line), creating it with
 * mode 0600 (and the directory with 0700) when it does not exist. Refuses a
 * key file with any group/other permission bits, a symlink, or content that is
 * not one base64 key. 0, or -errno with one line in err naming the file. */
int ipop_identity_load(const char *state_dir, struct ipop_identity *id, char *err, size_t errlen);
/* explicit_bzero of the private key. */
void ipop_identity_wipe(struct ipop_identity *id);

/* Strict: exactly 44 characters of standard base64 with one '=' of padding.
 * 0 or -EINVAL. */
int ipop_key_from_base64(const char *s, uint8_t out[IPOP_KEY_LEN]);
void ipop_key_to_base64(const uint8_t key[IPOP_KEY_LEN], char out[IPOP_KEY_B64_LEN + 1]);
