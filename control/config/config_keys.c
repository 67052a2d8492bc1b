/* Key material in the config: manual SAs (SPI + 36-byte keymat, inline or
 * in a key file), the peers' X25519 public keys, the overlay PSK (inline or
 * in a file) and the allowed_keys pin list.
 *
 * Secrets (keymats, the PSK) are never echoed, not even when malformed: a
 * bad one is described by its length or "a non-hex character". Every buffer
 * that held one is wiped. Public keys are not secret and may be quoted.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/config/config_internal.h"
#include "util/key64.h"

#define KEY_FILE_MAX	256
#define HEX_SECRET_MAX	DP_SA_KEYMAT_LEN /* the longest hex secret we parse */
#define KEY_EXPECTED	"72 hex digits (32-byte AES-256 key, then 4-byte salt)"
#define PSK_EXPECTED	"64 hex digits (a 32-byte key, e.g. openssl rand -hex 32)"
#define PUBKEY_EXPECTED "a public key of 44 base64 characters (ipopd --show-pubkey)"

_Static_assert(sizeof(((struct ipop_config *)0)->psk) <= HEX_SECRET_MAX, "psk fits");
_Static_assert(sizeof(((struct ipop_peer_conf *)0)->public_key) == IPOP_KEY_LEN, "X25519 keys");

/* ---- manual SAs -------------------------------------------------------- */

/* 2*len hex digits, optional 0x, surrounding whitespace allowed. Never
 * echoes the value: it is a secret even when it is malformed. */
static int parse_hex_secret(struct loader *ld, const char *path, const char *s, uint8_t *out,
			    size_t len, const char *what)
{
	char hex[2 * HEX_SECRET_MAX + 1];
	uint8_t tmp[HEX_SECRET_MAX];
	size_t n;
	int rc = 0;

	s += strspn(s, " \t\r\n");
	n = strlen(s);
	while (n && strchr(" \t\r\n", s[n - 1]))
		n--;
	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		n -= 2;
	}
	if (n != 2 * len)
		return cfg_fail(ld, path, "expected %s, got %zu characters", what, n);
	memcpy(hex, s, n);
	hex[n] = 0;
	if (hex_decode(hex, tmp, len) != (int)len)
		rc = cfg_fail(ld, path, "expected %s, got a non-hex character", what);
	else
		memcpy(out, tmp, len);
	explicit_bzero(hex, sizeof(hex));
	explicit_bzero(tmp, sizeof(tmp));
	return rc;
}

/* A file holding one hex secret (key_file, psk_file): regular, mode 0600 or
 * stricter, relative to the config file. */
static int load_key_file(struct loader *ld, const char *path, const char *name, uint8_t *out,
			 size_t len, const char *what)
{
	char file[PATH_MAX], buf[KEY_FILE_MAX + 1], q[64];
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd, rc = -1;

	if (cfg_resolve(ld, path, name, file, sizeof(file)))
		return -1;
	/* O_NONBLOCK: a FIFO named here must not hang the loader. */
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return cfg_fail(ld, path, "expected a readable key file, got %s: %s",
				cfg_quoted(file, q, sizeof(q)), strerror(errno));
	if (fstat(fd, &st)) {
		cfg_fail(ld, path, "expected a readable key file, got %s: %s",
			 cfg_quoted(file, q, sizeof(q)), strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		cfg_fail(ld, path, "expected a regular key file, got %s",
			 cfg_quoted(file, q, sizeof(q)));
		goto out_close;
	}
	if (st.st_mode & 077) {
		cfg_fail(ld, path, "expected mode 0600 or stricter, got %04o (chmod 600 %s)",
			 (unsigned)(st.st_mode & 07777), cfg_quoted(file, q, sizeof(q)));
		goto out_close;
	}
	while (got < sizeof(buf) - 1 && (n = read(fd, buf + got, sizeof(buf) - 1 - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			cfg_fail(ld, path, "expected a readable key file, got %s: %s",
				 cfg_quoted(file, q, sizeof(q)), strerror(errno));
			goto out_wipe;
		}
		got += (size_t)n;
	}
	buf[got] = 0;
	if (got == sizeof(buf) - 1 || strlen(buf) != got) {
		cfg_fail(ld, path, "expected %s to hold %s", cfg_quoted(file, q, sizeof(q)), what);
		goto out_wipe;
	}
	rc = parse_hex_secret(ld, path, buf, out, len, what);
	if (!rc)
		rc = cfg_note_secret_file(ld, path, file);
out_wipe:
	explicit_bzero(buf, sizeof(buf));
out_close:
	close(fd);
	return rc;
}

static int parse_spi(struct loader *ld, const char *path, json_t *v, uint32_t *out)
{
	char q[64];
	unsigned long long x;
#define SPI_EXPECTED "an SPI like \"0x80000102\" or an integer"
	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0 || json_integer_value(v) > 0xffffffffll)
			return cfg_fail(ld, path, "expected " SPI_EXPECTED " < 2^32, got %lld",
					json_integer_value(v));
		x = (unsigned long long)json_integer_value(v);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v), *h = s;
		if (h[0] == '0' && (h[1] == 'x' || h[1] == 'X'))
			h += 2;
		size_t n = strlen(h);
		if (n == 0 || n > 8 || strspn(h, "0123456789abcdefABCDEF") != n ||
		    n != json_string_length(v) - (size_t)(h - s))
			return cfg_fail(ld, path, "expected " SPI_EXPECTED ", got %s",
					cfg_quoted(s, q, sizeof(q)));
		x = strtoull(h, NULL, 16);
	} else {
		return cfg_fail(ld, path, "expected " SPI_EXPECTED ", got %s", cfg_type_name(v));
	}
	if (x < 0x80000000ull)
		return cfg_fail(ld, path, "expected an SPI >= 0x80000000, got 0x%08llx", x);
	*out = (uint32_t)x;
	return 0;
}

int cfg_key_sa(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
	       json_t *v)
{
	struct ipop_sa_conf *sa = (void *)((char *)base + ks->off);
	json_t *spi = NULL, *key = NULL, *key_file = NULL, *m;
	const char *k, *s;
	char sub[PATH_STR], q[64];

	if (!json_is_object(v))
		return cfg_fail(ld, path, "expected " SA_EXPECTED ", got %s", cfg_type_name(v));
	json_object_foreach(v, k, m)
	{
		if (!strcmp(k, "spi"))
			spi = m;
		else if (!strcmp(k, "key"))
			key = m;
		else if (!strcmp(k, "key_file"))
			key_file = m;
		else if (strncmp(k, "_comment", 8)) {
			cfg_join(sub, path, k);
			return cfg_fail(ld, sub, "expected one of spi, key, key_file, got %s",
					cfg_quoted(k, q, sizeof(q)));
		}
	}
	cfg_join(sub, path, "spi");
	if (!spi)
		return cfg_fail(ld, sub, "expected an SPI like \"0x80000102\", got nothing");
	if (parse_spi(ld, sub, spi, &sa->spi))
		return -1;
	if (key && key_file) {
		cfg_join(sub, path, "key_file");
		return cfg_fail(ld, sub, "expected either key or key_file, not both");
	}
	if (key) {
		cfg_join(sub, path, "key");
		if (!json_is_string(key))
			return cfg_fail(ld, sub, "expected " KEY_EXPECTED ", got %s",
					cfg_type_name(key));
		return parse_hex_secret(ld, sub, json_string_value(key), sa->keymat,
					DP_SA_KEYMAT_LEN, KEY_EXPECTED);
	}
	if (key_file) {
		cfg_join(sub, path, "key_file");
		if (cfg_get_string(ld, sub, key_file, "a path", &s))
			return -1;
		return load_key_file(ld, sub, s, sa->keymat, DP_SA_KEYMAT_LEN, KEY_EXPECTED);
	}
	cfg_join(sub, path, "key");
	return cfg_fail(ld, sub, "expected " KEY_EXPECTED " or a key_file, got nothing");
}

/* ---- public keys, PSK, allowed_keys ------------------------------------ */

/* What is wrong with a string that is not a key, precisely enough to find
 * the typo in a 44-character blob (a quoted copy would be cut short). */
static void describe_bad_key(const char *s, char *buf, size_t len)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				       "0123456789+/";
	size_t n = strlen(s);

	if (n != IPOP_KEY_B64_LEN) {
		snprintf(buf, len, "%zu characters", n);
		return;
	}
	for (size_t i = 0; i < IPOP_KEY_B64_LEN - 1; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!strchr(alphabet, c)) {
			if (c > 0x20 && c < 0x7f)
				snprintf(buf, len, "'%c' at position %zu", c, i + 1);
			else
				snprintf(buf, len, "byte 0x%02x at position %zu", c, i + 1);
			return;
		}
	}
	if (s[IPOP_KEY_B64_LEN - 1] != '=')
		snprintf(buf, len, "no '=' as the 44th character");
	else
		snprintf(buf, len,
			 "a non-canonical 43rd character (a key has exactly one "
			 "spelling)");
}

static int parse_public_key(struct loader *ld, const char *path, json_t *v, uint8_t out[32])
{
	const char *s;
	char why[96];
	if (cfg_get_string(ld, path, v, PUBKEY_EXPECTED, &s))
		return -1;
	if (ipop_key_from_base64(s, out)) {
		describe_bad_key(s, why, sizeof(why));
		return cfg_fail(ld, path, "expected " PUBKEY_EXPECTED ", got %s", why);
	}
	return 0;
}

int cfg_key_public_key(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		       json_t *v)
{
	struct ipop_peer_conf *p = base;
	(void)ks;
	if (parse_public_key(ld, path, v, p->public_key))
		return -1;
	p->keyed = true;
	return 0;
}

/* An all-zero PSK is what Noise mixes when there is none: refusing it keeps
 * "psk set" meaning something. */
static int check_psk(struct loader *ld, const char *path, struct ipop_config *c)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < sizeof(c->psk); i++)
		acc |= c->psk[i];
	if (!acc)
		return cfg_fail(ld, path,
				"expected a PSK other than all zeros (that is the same as none)");
	c->has_psk = true;
	return 0;
}

int cfg_key_psk(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		json_t *v)
{
	struct ipop_config *c = base;
	(void)ks;
	if (c->has_psk)
		return cfg_fail(ld, path, "expected either psk or psk_file, not both");
	if (!json_is_string(v))
		return cfg_fail(ld, path, "expected " PSK_EXPECTED ", got %s", cfg_type_name(v));
	if (parse_hex_secret(ld, path, json_string_value(v), c->psk, sizeof(c->psk), PSK_EXPECTED))
		return -1;
	return check_psk(ld, path, c);
}

int cfg_key_psk_file(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		     json_t *v)
{
	struct ipop_config *c = base;
	const char *s;
	(void)ks;
	if (c->has_psk)
		return cfg_fail(ld, path, "expected either psk or psk_file, not both");
	if (cfg_get_string(ld, path, v, "a path", &s))
		return -1;
	if (!*s)
		return cfg_fail(ld, path, "expected a path, got an empty string");
	if (load_key_file(ld, path, s, c->psk, sizeof(c->psk), PSK_EXPECTED))
		return -1;
	return check_psk(ld, path, c);
}

int cfg_key_allowed_keys(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
			 json_t *v)
{
	struct ipop_config *c = base;
	char sub[PATH_STR];
	size_t i;
	json_t *e;
	(void)ks;
	if (!json_is_array(v))
		return cfg_fail(ld, path,
				"expected an array of public keys (44 base64 characters), "
				"got %s",
				cfg_type_name(v));
	c->allowed_keys = calloc(json_array_size(v) + 1, sizeof(*c->allowed_keys));
	if (!c->allowed_keys)
		return cfg_fail(ld, path, "expected a list that fits in memory");
	json_array_foreach(v, i, e)
	{
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (parse_public_key(ld, sub, e, c->allowed_keys[i]))
			return -1;
		for (size_t j = 0; j < i; j++)
			if (!memcmp(c->allowed_keys[j], c->allowed_keys[i], IPOP_KEY_LEN))
				return cfg_fail(ld, sub,
						"expected a key not listed before (also %s[%zu])",
						path, j);
		c->n_allowed_keys = (unsigned)i + 1;
	}
	return 0;
}
