/* Internal to the config loader (config.c, config_msg.c, config_ipopd.c,
 * config_keys.c): the loader state, the table-driven key specs and the
 * helpers these files share. Nothing outside control/config*.c includes this.
 *
 *   config.c        loader core (getters, section walk, load, free), the
 *                   IPOP controller sections, --check output
 *   config_msg.c    messages: errors, warnings, line numbers, quoting
 *   config_ipopd.c  the "ipopd" section: settings, static peers, defaults,
 *                   command-line overrides, whole-config peer checks
 *   config_keys.c   key material: manual SAs and key files, public keys,
 *                   the overlay PSK, allowed_keys
 */
#pragma once
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/config/config.h"

#define PATH_STR 128 /* dotted key paths; the longest real one is ~40 */

struct loader {
	const char *name; /* the file as given, for messages */
	const char *text;
	size_t len;
	char dir[PATH_MAX]; /* relative paths in the file are relative to this */
	char *err;
	size_t errlen;
	bool failed;
	bool link_timeout_set; /* ipopd.link_timeout given (else a default) */
	struct ipop_config *c;
};

struct key_spec;
typedef int (*key_fn)(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		      json_t *v);

enum key_kind { KEY_UINT, KEY_STR, KEY_BOOL, KEY_FN, KEY_IGNORED };

struct key_spec {
	const char *name;
	enum key_kind kind;
	size_t off, size; /* where the value goes in the base object */
	long long min, max;
	key_fn fn;
	/* KEY_IGNORED: why the key means nothing here. Other kinds: the value is
	 * checked and stored, and this warning is logged as well. */
	const char *why;
	int jtype; /* KEY_IGNORED: expected JSON type (JSON_TRUE = any bool), -1 = any */
};

struct section_spec {
	const char *name;
	const struct key_spec *keys;
	bool strict; /* unknown keys are errors (our own sections) rather than warnings */
};

#define CF(f) offsetof(struct ipop_config, f), sizeof(((struct ipop_config *)0)->f)
#define PF(f) offsetof(struct ipop_peer_conf, f), sizeof(((struct ipop_peer_conf *)0)->f)
#define U(n, f, lo, hi)                                                                            \
	{                                                                                          \
		n, KEY_UINT, CF(f), lo, hi, NULL, NULL, 0                                          \
	}
#define S(n, f)                                                                                    \
	{                                                                                          \
		n, KEY_STR, CF(f), 0, 0, NULL, NULL, 0                                             \
	}
#define B(n, f)                                                                                    \
	{                                                                                          \
		n, KEY_BOOL, CF(f), 0, 0, NULL, NULL, 0                                            \
	}
#define FN(n, f, fn)                                                                               \
	{                                                                                          \
		n, KEY_FN, CF(f), 0, 0, fn, NULL, 0                                                \
	}
#define PFN(n, f, fn)                                                                              \
	{                                                                                          \
		n, KEY_FN, PF(f), 0, 0, fn, NULL, 0                                                \
	}
#define IGN(n, t, why)                                                                             \
	{                                                                                          \
		n, KEY_IGNORED, 0, 0, 0, 0, NULL, why, t                                           \
	}

#define IFNAME_EXPECTED "an interface name of 1..15 characters from [A-Za-z0-9_.-]"
#define EP_EXPECTED	"an endpoint \"IPv4:port\" or \"[IPv6]:port\" (port 1..65535)"
#define SA_EXPECTED	"an object {\"spi\", \"key\" or \"key_file\"}"

/* ---- config_msg.c: messages ---- */

/* Line of path, else of its nearest present parent, else 1. */
unsigned cfg_line_of(const struct loader *ld, const char *path);
/* Records "FILE:LINE: PATH: MSG" (the first error only); returns -1. */
__attribute__((format(printf, 3, 4))) int cfg_fail(struct loader *ld, const char *path,
						   const char *fmt, ...);
__attribute__((format(printf, 3, 4))) void cfg_warn(struct loader *ld, const char *path,
						    const char *fmt, ...);
const char *cfg_type_name(const json_t *v);
/* A user string quoted for a one-line message (control bytes '?', cut). */
const char *cfg_quoted(const char *s, char *buf, size_t len);
/* out (PATH_STR bytes) = parent.key */
void cfg_join(char *out, const char *parent, const char *key);

/* ---- config.c: getters, the section walk ---- */

int cfg_get_uint(struct loader *ld, const char *path, json_t *v, long long min, long long max,
		 long long *out);
int cfg_get_string(struct loader *ld, const char *path, json_t *v, const char *what,
		   const char **out);
int cfg_get_bool(struct loader *ld, const char *path, json_t *v, bool *out);
bool cfg_ifname_ok(const char *s);
int cfg_key_ifname(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		   json_t *v);
int cfg_key_ip4(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		json_t *v);
int cfg_load_section(struct loader *ld, const struct section_spec *sec, void *base,
		     const char *path, json_t *obj);

/* ---- config_ipopd.c ---- */

extern const struct section_spec cfg_ipopd_section;
void cfg_ipopd_defaults(struct ipop_config *c);
/* --tap/--socket, then the defaults named after the TAP. */
int cfg_ipopd_overrides(struct loader *ld, struct ipop_config *c,
			const struct ipop_config_overrides *ov);
/* Checks across peers and keys; derives the peers' ULAs. */
int cfg_ipopd_check(struct loader *ld, struct ipop_config *c);
void cfg_ipopd_print(const struct ipop_config *c, FILE *f);
/* Relative paths in the file are relative to the file's directory. */
int cfg_resolve(struct loader *ld, const char *path, const char *s, char *out, size_t outlen);

/* ---- config_keys.c: key handlers ---- */

int cfg_key_sa(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
	       json_t *v);
int cfg_key_public_key(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		       json_t *v);
int cfg_key_psk(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		json_t *v);
int cfg_key_psk_file(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		     json_t *v);
/* ---- config_disc.c: discovery (XMPP group, candidates, TURN) ---- */

int cfg_key_group(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		  json_t *v);
int cfg_key_muc_room(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		     json_t *v);
int cfg_key_static_candidates(struct loader *ld, const struct key_spec *ks, void *base,
			      const char *path, json_t *v);
int cfg_key_turn(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		 json_t *v);
/* "ipop-" + 12 hex of SHA-1(domain "/" network "/" mask) "@conference." domain */
void cfg_default_room(const struct ipop_config *c, char *out, size_t outlen);
/* With xmpp_host: ip4 and credentials required; the default room. */
int cfg_disc_check(struct loader *ld, struct ipop_config *c);
void cfg_disc_print(const struct ipop_config *c, FILE *f);

int cfg_key_allowed_keys(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
			 json_t *v);

/* ---- config_ops.c: user, http_listen, xmpp_password_file ---- */

int cfg_key_user(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		 json_t *v);
int cfg_key_http_listen(struct loader *ld, const struct key_spec *ks, void *base,
			const char *path, json_t *v);
int cfg_key_xmpp_password_file(struct loader *ld, const struct key_spec *ks, void *base,
			       const char *path, json_t *v);
void cfg_ops_print(const struct ipop_config *c, FILE *f);

/* ---- config_dpdk.c: the "dpdk" object (backend "dpdk") ---- */

int cfg_key_dpdk(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		 json_t *v);
/* Required keys with backend "dpdk", defaults (host_port, eal_args). */
int cfg_dpdk_check(struct loader *ld, struct ipop_config *c);
void cfg_dpdk_print(const struct ipop_config *c, FILE *f);
/* Records a secret file that was read (ipop_config.secret_files). 0 or -1. */
int cfg_note_secret_file(struct loader *ld, const char *path, const char *file);
