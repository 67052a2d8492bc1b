/* The base64 form keys take in configs, on the command line, in node.key and
 * over XMPP: 44 characters of standard base64 with one '=' of padding, like
 * WireGuard's. */
#pragma once
#include <stdint.h>

#define IPOP_KEY_LEN	 32
#define IPOP_KEY_B64_LEN 44 /* without the terminating NUL */

/* Strict: exactly 44 characters of standard base64 with one '=' of padding,
 * canonical (each key has one spelling). 0 or -EINVAL. Constant-time. */
int ipop_key_from_base64(const char *s, uint8_t out[IPOP_KEY_LEN]);
void ipop_key_to_base64(const uint8_t key[IPOP_KEY_LEN], char out[IPOP_KEY_B64_LEN + 1]);
