/* Key material in the config (control/config/config_keys.c): key files,
 * keyed peers, the PSK (inline and in a file), allowed_keys, link timers and
 * the keyed examples in conf/; rejections name file, line, key and what was
 * expected without echoing secrets. */
#include <openssl/evp.h>

#include "control/config/config.h"
#include "control/link/identity.h"
#include "control/link/noise.h"
#include "dataplane/worker.h"
#include "tests/unit/config_fixture.h"

/* ---- key files --------------------------------------------------------- */

static void test_key_files(void **state)
{
	char cfg[256], err[512], keypath[256], text[2048];
	struct ipop_config c;
	(void)state;
	log_set_level(LOG_ERROR);
	write_file("good.key", "\n  " K72 "  \n", 0600, keypath);
	write_file("open.key", K72 "\n", 0644, NULL);
	write_file("short.key", "abcd\n", 0400, NULL);

#define KF_CONFIG(file)                                                                            \
	PEERS_HEAD PEER("b", "198.18.0.2:5800", "10.254.0.2", "\"0x80000102\"",                    \
			"\"key_file\": \"" file "\"", "\"0x80000201\"") "\n" PEERS_TAIL
	/* relative to the config file's directory, whatever the cwd */
	write_file("ok.json", KF_CONFIG("good.key"), 0644, cfg);
	assert_int_equal(ipop_config_load(cfg, NULL, &c, err, sizeof(err)), 0);
	for (unsigned i = 0; i < DP_SA_KEYMAT_LEN; i++)
		assert_int_equal(c.peers[0].sa_in.keymat[i], i);
	ipop_config_free(&c);
	snprintf(text, sizeof(text), KF_CONFIG("%s"), keypath); /* absolute */
	write_file("abs.json", text, 0644, cfg);
	assert_int_equal(ipop_config_load(cfg, NULL, &c, err, sizeof(err)), 0);
	ipop_config_free(&c);

	write_file("missing.json", KF_CONFIG("nope.key"), 0644, cfg);
	assert_int_equal(ipop_config_load(cfg, NULL, &c, err, sizeof(err)), -1);
	char prefix[512];
	snprintf(prefix, sizeof(prefix),
		 "%s:10: ipopd.peers[0].sa_in.key_file: expected a readable "
		 "key file",
		 cfg);
	assert_starts_with(err, prefix);
	assert_contains(err, "nope.key");
	assert_contains(err, "No such file or directory");

	write_file("open.json", KF_CONFIG("open.key"), 0644, cfg);
	assert_int_equal(ipop_config_load(cfg, NULL, &c, err, sizeof(err)), -1);
	snprintf(prefix, sizeof(prefix),
		 "%s:10: ipopd.peers[0].sa_in.key_file: expected mode 0600 or stricter, got 0644",
		 cfg);
	assert_starts_with(err, prefix);

	write_file("short.json", KF_CONFIG("short.key"), 0644, cfg);
	assert_int_equal(ipop_config_load(cfg, NULL, &c, err, sizeof(err)), -1);
	assert_contains(err, ":10: ipopd.peers[0].sa_in.key_file: expected 72 hex digits");

	write_file("dir.json", KF_CONFIG("."), 0644, cfg);
	assert_int_equal(ipop_config_load(cfg, NULL, &c, err, sizeof(err)), -1);
	assert_contains(err, ":10: ipopd.peers[0].sa_in.key_file: expected a regular key file");

	/* the config file itself */
	snprintf(cfg, sizeof(cfg), "%s/does-not-exist.json", tmpdir);
	assert_int_equal(ipop_config_load(cfg, NULL, &c, err, sizeof(err)), -1);
	assert_contains(err, "does-not-exist.json: expected a readable config file");
	log_set_level(LOG_INFO);
}

/* ---- keyed peers, PSK, allowed_keys, link timers ------------------------ */

/* RFC 7748 section 6.1 public keys of Alice and Bob */
#define PUB_ALICE "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
#define PUB_BOB	  "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08="
#define PSK64	  "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"

/* a keyed peer on lines +0..+5 */
#define KPEER(name, ep, ip, key)                                                                   \
	"      {\n"                                                                                \
	"        \"name\": \"" name "\",\n"                                                        \
	"        \"endpoint\": \"" ep "\",\n"                                                      \
	"        \"ip4\": \"" ip "\",\n"                                                           \
	"        \"public_key\": " key "\n"                                                        \
	"      }"
/* the ipopd section's own keys, then one keyed peer (lines: body 5, peer 7) */
#define KEYED(body)                                                                                \
	"{\n"                                                                                      \
	"  \"CFx\": {\"ip4_mask\": 24},\n"                                                         \
	"  \"BaseTopologyManager\": {\"ip4\": \"10.254.0.1\"},\n"                                  \
	"  \"ipopd\": {\n"                                                                         \
	"    " body "\n"                                                                           \
	"    \"peers\": [\n" KPEER("b", "198.18.0.2:5800", "10.254.0.2",                           \
				   "\"" PUB_ALICE "\"") "\n" PEERS_TAIL

static char *print_config(const struct ipop_config *c)
{
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	ipop_config_print(c, f);
	fclose(f);
	return out;
}

static void test_keyed_peers(void **state)
{
	static const uint8_t alice[32] = {0x85, 0x20, 0xf0, 0x09, 0x89, 0x30, 0xa7, 0x54,
					  0x74, 0x8b, 0x7d, 0xdc, 0xb4, 0x3e, 0xf7, 0x5a,
					  0x0d, 0xbf, 0x3a, 0x0d, 0x26, 0x38, 0x1a, 0xf4,
					  0xeb, 0xa4, 0xa9, 0x8e, 0xaa, 0x9b, 0x4e, 0x6a};
	struct ipop_config c;
	struct capture cap;
	(void)state;

	/* a keyed peer next to a manual one; no warning */
	capture_begin(&cap);
	load_ok(
	    PEERS_HEAD KPEER("b", "198.18.0.2:5800", "10.254.0.2", "\"" PUB_ALICE "\"") ",\n" PEER(
		"c", "198.18.0.3:5800", "10.254.0.3", "\"0x80000103\"", GOODKEY,
		"\"0x80000301\"") ",\n" KPEER("d", "[2001:db8::4]:5800", "10.254.0.4",
					      "\"" PUB_BOB "\"") "\n" PEERS_TAIL,
	    NULL, &c);
	char *log = capture_end(&cap);
	assert_int_equal(count(log, " WARNING "), 0);
	free(log);
	assert_int_equal(c.npeers, 3);
	assert_true(c.peers[0].keyed);
	assert_memory_equal(c.peers[0].public_key, alice, 32);
	assert_int_equal(c.peers[0].sa_in.spi, 0);
	assert_int_equal(c.peers[0].sa_out.spi, 0);
	assert_int_equal(c.peers[0].ip4, ip4_of("10.254.0.2"));
	assert_int_equal(c.peers[0].line, 6);
	assert_false(c.peers[1].keyed);
	assert_int_equal(c.peers[1].sa_in.spi, 0x80000103u);
	assert_true(c.peers[2].keyed);
	assert_memory_not_equal(c.peers[2].public_key, alice, 32);
	/* defaults */
	assert_false(c.has_psk);
	assert_int_equal(c.n_allowed_keys, 0);
	assert_null(c.allowed_keys);
	assert_int_equal(c.rekey_interval_ms, 120000);
	assert_true(c.rekey_packets == 2147483648ull);
	assert_int_equal(c.keepalive_ms, 10000);
	assert_int_equal(c.link_timeout_ms, 30000);
	assert_false(c.key_export);

	char *out = print_config(&c);
	assert_contains(out, "peer b: public_key " PUB_ALICE "\n");
	assert_contains(out, "peer d: public_key " PUB_BOB "\n");
	assert_contains(out, "peer c: sa_in spi 0x80000103 key (set)\n");
	assert_null(strstr(out, "peer b: sa_in"));
	assert_contains(out, "psk: (none)\n");
	assert_contains(out, "allowed_keys: (none");
	assert_contains(out, "rekey_interval: 120s\n");
	assert_contains(out, "rekey_packets: 2147483648\n");
	assert_contains(out, "keepalive_interval: 10s\n");
	assert_contains(out, "link_timeout: 30s\n");
	assert_contains(out, "key_export: no\n");
	free(out);
	ipop_config_free(&c);

	/* two keyed peers may share nothing but they need no SPIs */
	load_ok(
	    PEERS_HEAD KPEER("b", "198.18.0.2:5800", "10.254.0.2", "\"" PUB_ALICE "\"") ",\n" KPEER(
		"c", "198.18.0.3:5800", "10.254.0.3", "\"" PUB_BOB "\"") "\n" PEERS_TAIL,
	    NULL, &c);
	assert_int_equal(c.npeers, 2);
	ipop_config_free(&c);

	/* switch mode: no ip4 needed, like manual peers */
	load_ok("{\"TincanSender\": {\"switchmode\": 1},\n\"ipopd\": {\"peers\": [\n"
		"  {\"endpoint\": \"198.18.0.2:5800\", \"public_key\": \"" PUB_BOB "\"}]}}",
		NULL, &c);
	assert_true(c.peers[0].keyed);
	assert_string_equal(c.peers[0].name, "peer0");
	ipop_config_free(&c);
}

static void test_keyed_peer_errors(void **state)
{
	(void)state;
	log_set_level(LOG_ERROR);
	/* public_key and SAs: lines: peer 6, public_key 7, sa_in 8, sa_out 9 */
	expect_error(PEERS_HEAD
		     "      {\"endpoint\": \"198.18.0.2:5800\", \"ip4\": \"10.254.0.2\",\n"
		     "       \"public_key\": \"" PUB_ALICE "\",\n"
		     "       \"sa_in\": {\"spi\": \"0x80000102\", " GOODKEY "},\n"
		     "       \"sa_out\": {\"spi\": \"0x80000201\", " GOODKEY "}}\n" PEERS_TAIL,
		     NULL,
		     "t.json:8: ipopd.peers[0].sa_in: expected either public_key or sa_in and "
		     "sa_out, not both",
		     NULL);
	expect_error(PEERS_HEAD
		     "      {\"endpoint\": \"198.18.0.2:5800\", \"ip4\": \"10.254.0.2\",\n"
		     "       \"sa_out\": {\"spi\": \"0x80000201\", " GOODKEY "},\n"
		     "       \"public_key\": \"" PUB_ALICE "\"}\n" PEERS_TAIL,
		     NULL, "t.json:7: ipopd.peers[0].sa_out: expected either public_key or sa_in",
		     "not both");
	/* neither */
	expect_error(PEERS_HEAD "      {\n        \"endpoint\": \"198.18.0.2:5800\",\n"
				"        \"ip4\": \"10.254.0.2\"\n      }\n" PEERS_TAIL,
		     NULL,
		     "t.json:6: ipopd.peers[0]: expected public_key or sa_in and sa_out, got "
		     "neither",
		     NULL);
	/* manual, half: the missing SA is named */
	expect_error(PEERS_HEAD
		     "      {\"endpoint\": \"198.18.0.2:5800\", \"ip4\": \"10.254.0.2\",\n"
		     "       \"sa_in\": {\"spi\": \"0x80000102\", " GOODKEY "}}\n" PEERS_TAIL,
		     NULL,
		     "t.json:6: ipopd.peers[0].sa_out: expected an object {\"spi\", \"key\" or "
		     "\"key_file\"}, got nothing",
		     NULL);
	/* bad public keys: line 10 */
	static const struct {
		const char *key, *why;
	} bad[] = {
	    {"\"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo\"", "got 43 characters"},
	    {"\"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmoA=\"", "got 45 characters"},
	    {"\"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmoA\"", "got no '=' as the 44th"},
	    {"\"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo=\"", "got '_' at position 24"},
	    {"\"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmp=\"", "got a non-canonical 43rd"},
	    {"\" SDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\"", "got byte 0x20 at position 1"},
	    {"\"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTm\\u00e9\"",
	     "got byte 0xc3 at position 43"},
	    {"\"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbT\\u00e9=\"",
	     "got byte 0xc3 at position 42"},
	    {"\"8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a\"",
	     "got 64 characters"},
	    {"\"\"", "got 0 characters"},
	};
	char text[2048];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(
		    text, sizeof(text),
		    PEERS_HEAD KPEER("b", "198.18.0.2:5800", "10.254.0.2", "%s") "\n" PEERS_TAIL,
		    bad[i].key);
		expect_error(text, NULL,
			     "t.json:10: ipopd.peers[0].public_key: expected a public key of 44 "
			     "base64 characters (ipopd --show-pubkey), ",
			     bad[i].why);
	}
	expect_error(PEERS_HEAD KPEER("b", "198.18.0.2:5800", "10.254.0.2", "32") "\n" PEERS_TAIL,
		     NULL, "t.json:10: ipopd.peers[0].public_key: expected a public key",
		     "got an integer");
	expect_error(PEERS_HEAD KPEER("b", "198.18.0.2:5800", "10.254.0.2",
				      "[\"" PUB_ALICE "\"]") "\n" PEERS_TAIL,
		     NULL, "t.json:10: ipopd.peers[0].public_key: expected", "got an array");
	expect_error(PEERS_HEAD KPEER("b", "198.18.0.2:5800", "10.254.0.2",
				      "\"" PUB_ALICE "\", \"pubkey\": 1") "\n" PEERS_TAIL,
		     NULL, "t.json:10: ipopd.peers[0].pubkey: expected a key of a peer", NULL);
	/* the same key twice */
	expect_error(
	    PEERS_HEAD KPEER("b", "198.18.0.2:5800", "10.254.0.2", "\"" PUB_ALICE "\"") ",\n" KPEER(
		"c", "198.18.0.3:5800", "10.254.0.3", "\"" PUB_ALICE "\"") "\n" PEERS_TAIL,
	    NULL,
	    "t.json:16: ipopd.peers[1].public_key: expected a public key unique among "
	    "peers (also ipopd.peers[0].public_key)",
	    NULL);
	/* keyed peers still need an endpoint and (L3) an ip4 */
	expect_error(PEERS_HEAD "      {\"ip4\": \"10.254.0.2\", \"public_key\": \"" PUB_ALICE
				"\"}\n" PEERS_TAIL,
		     NULL, "t.json:6: ipopd.peers[0].endpoint: expected an endpoint", NULL);
	expect_error(PEERS_HEAD "      {\"endpoint\": \"198.18.0.2:5800\",\n"
				"       \"public_key\": \"" PUB_ALICE "\"}\n" PEERS_TAIL,
		     NULL, "t.json:6: ipopd.peers[0].ip4: expected an IPv4 address", NULL);
	log_set_level(LOG_INFO);
}

static void test_psk(void **state)
{
	struct ipop_config c;
	char text[2048];
	(void)state;
	log_set_level(LOG_ERROR);
	load_ok(KEYED("\"psk\": \"" PSK64 "\","), NULL, &c);
	assert_true(c.has_psk);
	for (unsigned i = 0; i < 32; i++)
		assert_int_equal(c.psk[i], 0xa0 + i);
	char *out = print_config(&c);
	assert_contains(out, "psk: (set)\n");
	assert_null(strstr(out, "a0a1a2"));
	assert_null(strstr(out, "A0A1A2"));
	free(out);
	ipop_config_free(&c);
	load_ok(KEYED("\"psk\": \"0x" PSK64 "\","), NULL, &c);
	assert_true(c.has_psk);
	assert_int_equal(c.psk[31], 0xbf);
	ipop_config_free(&c);

	/* wrong length, bad digit, wrong type, all zeros: line 5, never echoed */
	expect_error(
	    KEYED("\"psk\": \"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbe\","),
	    NULL, "t.json:5: ipopd.psk: expected 64 hex digits", "got 62 characters");
	expect_error(KEYED("\"psk\": \"" PSK64 "00\","), NULL,
		     "t.json:5: ipopd.psk: expected 64 hex digits", "got 66 characters");
	expect_error(
	    KEYED("\"psk\": \"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebg\","),
	    NULL, "t.json:5: ipopd.psk: expected 64 hex digits", "non-hex");
	expect_error(KEYED("\"psk\": 12,"), NULL, "t.json:5: ipopd.psk: expected 64 hex digits",
		     "got an integer");
	expect_error(KEYED("\"psk\": \"" PSK64 "\", \"psk_file\": \"x\","), NULL,
		     "t.json:5: ipopd.psk_file: expected either psk or psk_file, not both", NULL);
	snprintf(text, sizeof(text), KEYED("\"psk\": \"%064d\","), 0);
	expect_error(text, NULL, "t.json:5: ipopd.psk: expected a PSK other than all zeros", NULL);
	struct ipop_config c2;
	char err[512];
	assert_int_equal(
	    ipop_config_load_string(
		"t.json",
		KEYED("\"psk\": "
		      "\"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebX\","),
		NULL, &c2, err, sizeof(err)),
	    -1);
	assert_null(strstr(err, "a0a1a2"));
	log_set_level(LOG_INFO);
}

static void test_psk_file(void **state)
{
	char cfg[256], err[512], prefix[512];
	struct ipop_config c;
	(void)state;
	log_set_level(LOG_ERROR);
	write_file("overlay.psk", PSK64 "\n", 0600, NULL);
	write_file("open.psk", PSK64 "\n", 0644, NULL);
	write_file("group.psk", PSK64 "\n", 0640, NULL);
	write_file("short.psk", "a0a1\n", 0600, NULL);

	write_file("psk-ok.json", KEYED("\"psk_file\": \"overlay.psk\","), 0644, cfg);
	if (ipop_config_load(cfg, NULL, &c, err, sizeof(err)))
		fail_msg("%s", err);
	assert_true(c.has_psk);
	assert_int_equal(c.psk[0], 0xa0);
	assert_int_equal(c.psk[31], 0xbf);
	ipop_config_free(&c);

	write_file("psk-open.json", KEYED("\"psk_file\": \"open.psk\","), 0644, cfg);
	assert_int_equal(ipop_config_load(cfg, NULL, &c, err, sizeof(err)), -1);
	snprintf(prefix, sizeof(prefix),
		 "%s:5: ipopd.psk_file: expected mode 0600 or stricter, got 0644", cfg);
	assert_starts_with(err, prefix);

	write_file("psk-group.json", KEYED("\"psk_file\": \"group.psk\","), 0644, cfg);
	assert_int_equal(ipop_config_load(cfg, NULL, &c, err, sizeof(err)), -1);
	assert_contains(err, "got 0640");

	write_file("psk-short.json", KEYED("\"psk_file\": \"short.psk\","), 0644, cfg);
	assert_int_equal(ipop_config_load(cfg, NULL, &c, err, sizeof(err)), -1);
	assert_contains(err, ":5: ipopd.psk_file: expected 64 hex digits");
	assert_contains(err, "got 4 characters");

	write_file("psk-missing.json", KEYED("\"psk_file\": \"nope.psk\","), 0644, cfg);
	assert_int_equal(ipop_config_load(cfg, NULL, &c, err, sizeof(err)), -1);
	assert_contains(err, ":5: ipopd.psk_file: expected a readable key file");
	assert_contains(err, "No such file or directory");

	write_file("psk-dir.json", KEYED("\"psk_file\": \".\","), 0644, cfg);
	assert_int_equal(ipop_config_load(cfg, NULL, &c, err, sizeof(err)), -1);
	assert_contains(err, ":5: ipopd.psk_file: expected a regular key file");

	write_file("psk-empty.json", KEYED("\"psk_file\": \"\","), 0644, cfg);
	assert_int_equal(ipop_config_load(cfg, NULL, &c, err, sizeof(err)), -1);
	assert_contains(err, ":5: ipopd.psk_file: expected a path");
	log_set_level(LOG_INFO);
}

static void test_allowed_keys(void **state)
{
	struct ipop_config c;
	(void)state;
	log_set_level(LOG_ERROR);
	load_ok(KEYED("\"allowed_keys\": [\"" PUB_BOB "\", \"" PUB_ALICE "\"],"), NULL, &c);
	assert_int_equal(c.n_allowed_keys, 2);
	assert_memory_equal(c.allowed_keys[1], c.peers[0].public_key, 32);
	assert_memory_not_equal(c.allowed_keys[0], c.allowed_keys[1], 32);
	char *out = print_config(&c);
	assert_contains(out, "allowed_key: " PUB_BOB "\n");
	assert_contains(out, "allowed_key: " PUB_ALICE "\n");
	free(out);
	ipop_config_free(&c);
	load_ok(KEYED("\"allowed_keys\": [],"), NULL, &c);
	assert_int_equal(c.n_allowed_keys, 0);
	ipop_config_free(&c);

	expect_error(KEYED("\"allowed_keys\": \"" PUB_BOB "\","), NULL,
		     "t.json:5: ipopd.allowed_keys: expected an array of public keys", NULL);
	expect_error(KEYED("\"allowed_keys\": [\"" PUB_ALICE "\", \"nope\"],"), NULL,
		     "t.json:5: ipopd.allowed_keys[1]: expected a public key of 44 base64",
		     "got 4 characters");
	expect_error(KEYED("\"allowed_keys\": [\"" PUB_ALICE "\", 7],"), NULL,
		     "t.json:5: ipopd.allowed_keys[1]: expected a public key", "got an integer");
	expect_error(KEYED("\"allowed_keys\": [\"" PUB_ALICE "\", \"" PUB_ALICE "\"],"), NULL,
		     "t.json:5: ipopd.allowed_keys[1]: expected a key not listed before", NULL);
	/* a static peer whose key the pin list leaves out could never link */
	expect_error(KEYED("\"allowed_keys\": [\"" PUB_BOB "\"],"), NULL,
		     "t.json:11: ipopd.peers[0].public_key: expected a key listed in "
		     "ipopd.allowed_keys",
		     NULL);
	log_set_level(LOG_INFO);
}

static void test_link_timers(void **state)
{
	struct ipop_config c;
	struct capture cap;
	(void)state;
	log_set_level(LOG_ERROR);
	load_ok(KEYED("\"rekey_interval\": 2, \"rekey_packets\": 1000, \"keepalive_interval\": 1,"
		      " \"link_timeout\": 3,"),
		NULL, &c);
	assert_int_equal(c.rekey_interval_ms, 2000);
	assert_true(c.rekey_packets == 1000);
	assert_int_equal(c.keepalive_ms, 1000);
	assert_int_equal(c.link_timeout_ms, 3000);
	ipop_config_free(&c);
	load_ok(KEYED("\"rekey_interval\": 1.5, \"keepalive_interval\": 2.25, \"link_timeout\": "
		      "7.5, \"rekey_packets\": 4293918720,"),
		NULL, &c);
	assert_int_equal(c.rekey_interval_ms, 1500);
	assert_int_equal(c.keepalive_ms, 2250);
	assert_int_equal(c.link_timeout_ms, 7500);
	assert_true(c.rekey_packets == 4293918720ull);
	char *out = print_config(&c);
	assert_contains(out, "rekey_interval: 1.500s\n");
	assert_contains(out, "keepalive_interval: 2.250s\n");
	assert_contains(out, "link_timeout: 7.500s\n");
	assert_contains(out, "rekey_packets: 4293918720\n");
	free(out);
	ipop_config_free(&c);
	/* link_timeout alone, above the default keepalive */
	load_ok(KEYED("\"link_timeout\": 11,"), NULL, &c);
	assert_int_equal(c.link_timeout_ms, 11000);
	assert_int_equal(c.keepalive_ms, 10000);
	ipop_config_free(&c);

	expect_error(KEYED("\"rekey_interval\": 0,"), NULL,
		     "t.json:5: ipopd.rekey_interval: expected a number of seconds 1..86400",
		     "got 0");
	expect_error(KEYED("\"rekey_interval\": 0.5,"), NULL,
		     "t.json:5: ipopd.rekey_interval: expected a number of seconds", "got 0.5");
	expect_error(KEYED("\"rekey_interval\": -3,"), NULL,
		     "t.json:5: ipopd.rekey_interval: expected", NULL);
	expect_error(KEYED("\"rekey_interval\": 86401,"), NULL,
		     "t.json:5: ipopd.rekey_interval: expected", NULL);
	expect_error(KEYED("\"rekey_interval\": \"2\","), NULL,
		     "t.json:5: ipopd.rekey_interval: expected a number of seconds",
		     "got a string");
	expect_error(KEYED("\"rekey_interval\": true,"), NULL,
		     "t.json:5: ipopd.rekey_interval: expected", "got true");
	expect_error(KEYED("\"rekey_packets\": 999,"), NULL,
		     "t.json:5: ipopd.rekey_packets: expected an integer 1000..4293918720",
		     "got 999");
	expect_error(KEYED("\"rekey_packets\": 4293918721,"), NULL,
		     "t.json:5: ipopd.rekey_packets: expected an integer 1000..4293918720", NULL);
	expect_error(KEYED("\"rekey_packets\": 5000.5,"), NULL,
		     "t.json:5: ipopd.rekey_packets: expected an integer", "with a fraction");
	expect_error(KEYED("\"keepalive_interval\": 0,"), NULL,
		     "t.json:5: ipopd.keepalive_interval: expected a number of seconds", NULL);
	expect_error(KEYED("\"keepalive_interval\": \"10\","), NULL,
		     "t.json:5: ipopd.keepalive_interval: expected", "got a string");
	expect_error(KEYED("\"link_timeout\": null,"), NULL,
		     "t.json:5: ipopd.link_timeout: expected", "got null");
	/* link_timeout must exceed keepalive_interval */
	expect_error(KEYED("\"keepalive_interval\": 5, \"link_timeout\": 5,"), NULL,
		     "t.json:5: ipopd.link_timeout: expected more seconds than keepalive_interval",
		     NULL);
	expect_error(KEYED("\"keepalive_interval\": 5, \"link_timeout\": 4.5,"), NULL,
		     "t.json:5: ipopd.link_timeout: expected more seconds", "(5), got 4.500");
	expect_error(KEYED("\"link_timeout\": 10,"), NULL,
		     "t.json:5: ipopd.link_timeout: expected more seconds than keepalive_interval "
		     "(10), got 10",
		     NULL);
	expect_error(KEYED("\"keepalive_interval\": 40,"), NULL,
		     "t.json:5: ipopd.keepalive_interval: expected fewer seconds than link_timeout "
		     "(30 by default",
		     NULL);

	/* key_export: a bool, warned about when on */
	expect_error(KEYED("\"key_export\": \"yes\","), NULL,
		     "t.json:5: ipopd.key_export: expected true or false", NULL);
	expect_error(KEYED("\"key_export\": 1,"), NULL,
		     "t.json:5: ipopd.key_export: expected true or false", NULL);
	capture_begin(&cap);
	load_ok(KEYED("\"key_export\": true,"), NULL, &c);
	char *log = capture_end(&cap);
	assert_int_equal(count(log, " WARNING "), 1);
	assert_contains(log, "t.json:5: ipopd.key_export: enabled");
	free(log);
	assert_true(c.key_export);
	out = print_config(&c);
	assert_contains(out, "key_export: yes\n");
	free(out);
	ipop_config_free(&c);
	load_ok(KEYED("\"key_export\": false,"), NULL, &c);
	assert_false(c.key_export);
	ipop_config_free(&c);
	log_set_level(LOG_INFO);
}

/* conf/keyed-site-{a,b}.json: each lists the public key of the other's
 * EXAMPLE node key (conf/keys/EXAMPLE-keyed-site-*.node.key). */
static void test_conf_keyed_examples(void **state)
{
	static const char *files[] = {"keyed-site-a.json", "keyed-site-b.json"};
	static const char *keys[] = {"EXAMPLE-keyed-site-a.node.key",
				     "EXAMPLE-keyed-site-b.node.key"};
	struct ipop_config a[2];
	uint8_t pub[2][32];
	char path[512], err[512];
	(void)state;
	log_set_level(LOG_ERROR);
	for (size_t i = 0; i < 2; i++) {
		char line[128] = "";
		snprintf(path, sizeof(path), TEST_DATA_DIR "/../../conf/keys/%s", keys[i]);
		FILE *f = fopen(path, "r");
		assert_non_null(f);
		assert_non_null(fgets(line, sizeof(line), f));
		fclose(f);
		assert_int_equal(strlen(line), IPOP_KEY_B64_LEN + 1);
		line[IPOP_KEY_B64_LEN] = 0;
		uint8_t priv[32];
		assert_int_equal(ipop_key_from_base64(line, priv), 0);
		assert_int_equal(noise_pubkey_from_private(pub[i], priv), 0);
		snprintf(path, sizeof(path), TEST_DATA_DIR "/../../conf/%s", files[i]);
		if (ipop_config_load(path, NULL, &a[i], err, sizeof(err)))
			fail_msg("%s", err);
		assert_int_equal(a[i].npeers, 1);
		assert_true(a[i].peers[0].keyed);
		assert_int_equal(a[i].mode, IPOP_MODE_L3);
		assert_string_equal(a[i].tap, "ipop-k");
		assert_int_equal(a[i].port, 5820);
		assert_int_equal(a[i].rekey_interval_ms, 120000);
		assert_false(a[i].key_export);
		assert_non_null(strstr(a[i].state_dir, files[i] + strlen("keyed-")) ||
				strstr(a[i].state_dir, i ? "site-b" : "site-a"));
	}
	assert_memory_equal(a[0].peers[0].public_key, pub[1], 32);
	assert_memory_equal(a[1].peers[0].public_key, pub[0], 32);
	assert_int_equal(a[0].peers[0].ip4, a[1].ip4);
	assert_int_equal(a[1].peers[0].ip4, a[0].ip4);
	assert_string_not_equal(a[0].state_dir, a[1].state_dir);
	for (size_t i = 0; i < 2; i++)
		ipop_config_free(&a[i]);
	log_set_level(LOG_INFO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_key_files),	      cmocka_unit_test(test_keyed_peers),
	    cmocka_unit_test(test_keyed_peer_errors), cmocka_unit_test(test_psk),
	    cmocka_unit_test(test_psk_file),	      cmocka_unit_test(test_allowed_keys),
	    cmocka_unit_test(test_link_timers),	      cmocka_unit_test(test_conf_keyed_examples),
	};
	return cmocka_run_group_tests(tests, setup_tmpdir, teardown_tmpdir);
}
