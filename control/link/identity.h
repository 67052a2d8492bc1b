/* The node's identity: a static X25519 key pair kept in the state directory,
 * created on first start (the base64 form of keys is util/key64.h). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "util/key64.h" /* IPOP_KEY_LEN, the base64 form */

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
