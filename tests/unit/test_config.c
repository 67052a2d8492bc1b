/* Config loader: the IPOP seed configs load with the values they mean, the
 * examples in conf/ load, keyed peers / PSK / allowed_keys / link timers
 * parse with their defaults, and every rejection names file, line, key and
 * what was expected. Also jsonpos on its own and the node id / ULA vectors from the
 * seed's ifconfig output. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "control/config/config.h"
#include "control/link/identity.h"
#include "control/config/jsonpos.h"
#include "control/link/noise.h"
#include "dataplane/worker.h"

#define K72  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223"
#define K72B "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b0c0d0e0f10111213"

#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		if (!strstr((hay), (needle)))                                                      \
			fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));               \
	} while (0)
#define assert_starts_with(s, prefix)                                                              \
	do {                                                                                       \
		if (strncmp((s), (prefix), strlen(prefix)))                                        \
			fail_msg("\"%s\" does not start with \"%s\"", (s), (prefix));              \
	} while (0)

/* ---- helpers ----------------------------------------------------------- */

struct capture {
	int saved;
	FILE *tmp;
};

static void capture_begin(struct capture *cap)
{
	log_set_level(LOG_INFO);
	fflush(stderr);
	cap->tmp = tmpfile();
	assert_non_null(cap->tmp);
	cap->saved = dup(2);
	assert_true(cap->saved >= 0);
	assert_true(dup2(fileno(cap->tmp), 2) >= 0);
}

/* Returns what went to stderr (caller frees). */
static char *capture_end(struct capture *cap)
{
	fflush(stderr);
	dup2(cap->saved, 2);
	close(cap->saved);
	long n = ftell(cap->tmp);
	char *s = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
	rewind(cap->tmp);
	if (n > 0)
		assert_int_equal(fread(s, 1, (size_t)n, cap->tmp), (size_t)n);
	fclose(cap->tmp);
	return s;
}

static unsigned count(const char *hay, const char *needle)
{
	unsigned n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Loads text that must fail; err must start with prefix ("FILE:LINE: KEY:
 * expected ...") and be exactly one line. */
static void expect_error(const char *text, const struct ipop_config_overrides *ov,
			 const char *prefix, const char *also)
{
	struct ipop_config c;
	char err[512];
	assert_int_equal(ipop_config_load_string("t.json", text, ov, &c, err, sizeof(err)), -1);
	assert_starts_with(err, prefix);
	assert_null(strchr(err, '\n'));
	if (also)
		assert_contains(err, also);
	/* The output is zeroed on failure: freeing it again is harmless. */
	ipop_config_free(&c);
}

static void load_ok(const char *text, const struct ipop_config_overrides *ov, struct ipop_config *c)
{
	char err[512] = "";
	int rc = ipop_config_load_string("t.json", text, ov, c, err, sizeof(err));
	if (rc)
		fail_msg("unexpected error: %s", err);
}

static void ip6_of(const char *s, uint8_t out[16])
{
	assert_int_equal(inet_pton(AF_INET6, s, out), 1);
}

static uint32_t ip4_of(const char *s)
{
	uint32_t a;
	assert_int_equal(net_ip4_parse(s, &a), 0);
	return a;
}

static unsigned expected_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n <= 2 ? 1 : n > 65 ? 64 : (unsigned)(n - 1);
}

static char tmpdir[64];

static void write_file(const char *name, const char *text, mode_t mode, char *path_out)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	if (path_out)
		strcpy(path_out, path);
}

static int setup_tmpdir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ipopd-test-config-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path) && errno == EISDIR)
			remove_tree(path);
	}
	closedir(d);
	rmdir(dir);
}

static int teardown_tmpdir(void **state)
{
	(void)state;
	remove_tree(tmpdir);
	return 0;
}

/* ---- node id and ULA --------------------------------------------------- */

static void test_node_id_vectors(void **state)
{
	uint8_t id[20], ip6[16], want[16];
	(void)state;
	ipop_node_id(ip4_of("192.168.1.100"), id);
	ipop_ula_from_id(id, ip6);
	ip6_of("fd50:dbc:41f2:4a3c:25c9:651:c297:fef3", want);
	assert_memory_equal(ip6, want, 16);
	static const uint8_t sha1_outer[20] = {0x25, 0xc9, 0x06, 0x51, 0xc2, 0x97, 0xfe,
					       0xf3, 0xcf, 0x78, 0x7a, 0x19, 0x1b, 0x93,
					       0xcc, 0xe4, 0xc4, 0x75, 0xc6, 0xb7};
	assert_memory_equal(id, sha1_outer, 20);

	ipop_node_id(ip4_of("10.0.3.100"), id);
	ipop_ula_from_id(id, ip6);
	ip6_of("fd50:dbc:41f2:4a3c:f46d:6281:ae45:f92e", want);
	assert_memory_equal(ip6, want, 16);
}

/* ---- the seeds --------------------------------------------------------- */

/* The copies in tests/data must be the seed text, byte for byte. */
static void check_verbatim(const char *data_file)
{
	static const char *seeds[] = {SEEDS_DIR "/000_fa9bbc8f32dede73.txt",
				      SEEDS_DIR "/001_17551f5d2c75be3c.txt"};
	char *want, *have;
	size_t n;
	FILE *f = fopen(data_file, "r");
	assert_non_null(f);
	want = calloc(1, 65536);
	n = fread(want, 1, 65535, f);
	fclose(f);
	assert_true(n > 100);
	for (size_t i = 0; i < 2; i++) {
		f = fopen(seeds[i], "r");
		if (!f)
			continue; /* seeds live outside the repository */
		have = calloc(1, 65536);
		assert_true(fread(have, 1, 65535, f) > 0);
		fclose(f);
		assert_contains(have, want);
		free(have);
	}
	free(want);
}

static void test_seed_outer(void **state)
{
	struct ipop_config c;
	struct capture cap;
	char err[512] = "";
	uint8_t want[16];
	(void)state;

	check_verbatim(TEST_DATA_DIR "/seed-outer-gvpn.json");
	log_set_level(LOG_INFO);
	capture_begin(&cap);
	int rc =
	    ipop_config_load(TEST_DATA_DIR "/seed-outer-gvpn.json", NULL, &c, err, sizeof(err));
	char *log = capture_end(&cap);
	if (rc)
		fail_msg("%s", err);

	assert_int_equal(c.mode, IPOP_MODE_L3);
	assert_int_equal(c.port, 5800);
	assert_int_equal(c.contr_port, 5801);
	assert_int_equal(c.ip4, ip4_of("192.168.1.100"));
	assert_int_equal(c.ip4_mask, 16);
	ip6_of("fd50:dbc:41f2:4a3c:25c9:651:c297:fef3", want);
	assert_memory_equal(c.ip6, want, 16);
	assert_string_equal(c.xmpp_username, "xxxx@xxxx.com");
	assert_string_equal(c.xmpp_password, "xxxx");
	assert_string_equal(c.xmpp_host, "xxxx.com");
	assert_int_equal(c.xmpp_port, 5222);
	assert_int_equal(c.tincan_logging, 2);
	assert_string_equal(c.vpn_type, "GroupVPN");
	assert_int_equal(c.n_ignore, 2);
	assert_string_equal(c.network_ignore_list[0], "ipop");
	assert_string_equal(c.network_ignore_list[1], "lxcbr0");
	assert_int_equal(c.log_level, LOG_DEBUG);
	assert_int_equal(c.nstun, 0);
	assert_false(c.multihop);
	assert_int_equal(c.num_successors, 20);
	assert_int_equal(c.num_chords, 10);
	assert_int_equal(c.num_on_demand, 20);
	assert_int_equal(c.num_inbound, 50);
	assert_int_equal(c.ttl_link_initial, 60);
	assert_int_equal(c.ttl_link_pulse, 30);
	assert_int_equal(c.ttl_chord, 180);
	assert_int_equal(c.ttl_on_demand, 240);
	assert_int_equal(c.threshold_on_demand, 128);
	assert_int_equal(c.interval_management, 15);
	assert_int_equal(c.num_pings, 5);
	assert_int_equal(c.interval_ping, 300);
	/* ipopd defaults */
	assert_string_equal(c.backend, "kernel");
	assert_int_equal(c.workers, expected_workers());
	assert_int_equal(c.idle, DP_IDLE_ADAPTIVE);
	assert_int_equal(c.burst, 32);
	assert_string_equal(c.tap, "ipop");
	assert_int_equal(c.mtu, 0);
	assert_int_equal(c.underlay_mtu, 0);
	assert_string_equal(c.bridge, "");
	assert_string_equal(c.state_dir, "/var/lib/ipopd/ipop");
	assert_string_equal(c.mgmt_socket, "/run/ipopd/ipop.sock");
	assert_false(c.pin_workers);
	assert_int_equal(c.fdb_max_age, 300);
	assert_int_equal(c.npeers, 0);

	/* One warning per key that means nothing here, with its line. */
	assert_int_equal(count(log, " WARNING "), 13);
	assert_contains(log, "seed-outer-gvpn.json:53: StatReport.enabled: ignored: ipopd never "
			     "phones home");
	assert_contains(log, "seed-outer-gvpn.json:11: CFx.contr_port: ignored:");
	assert_contains(log, "seed-outer-gvpn.json:20: TincanListener.socket_read_wait_time: "
			     "ignored:");
	assert_contains(log, "seed-outer-gvpn.json:63: CentralVisualizer.central_visualizer_port: "
			     "ignored:");
	assert_null(strstr(log, "dependencies"));
	free(log);
	ipop_config_free(&c);
}

static void test_seed_inner(void **state)
{
	struct ipop_config c;
	struct capture cap;
	char err[512] = "", ep[NET_ENDPOINT_STRLEN];
	uint8_t want[16];
	(void)state;

	check_verbatim(TEST_DATA_DIR "/seed-inner-switch.json");
	log_set_level(LOG_INFO);
	capture_begin(&cap);
	int rc =
	    ipop_config_load(TEST_DATA_DIR "/seed-inner-switch.json", NULL, &c, err, sizeof(err));
	char *log = capture_end(&cap);
	if (rc)
		fail_msg("%s", err);
	assert_int_equal(c.mode, IPOP_MODE_SWITCH);
	assert_int_equal(c.port, 5805);
	assert_int_equal(c.contr_port, 5806);
	assert_int_equal(c.ip4, ip4_of("10.0.3.100"));
	assert_int_equal(c.ip4_mask, 24);
	ip6_of("fd50:dbc:41f2:4a3c:f46d:6281:ae45:f92e", want);
	assert_memory_equal(c.ip6, want, 16);
	assert_int_equal(c.nstun, 1);
	assert_string_equal(net_endpoint_format(&c.stun[0], ep, sizeof(ep)), "192.168.1.100:19302");
	assert_int_equal(c.stun[0].family, AF_INET);
	assert_int_equal(c.n_ignore, 2);
	assert_string_equal(c.network_ignore_list[0], "eth0");
	assert_string_equal(c.network_ignore_list[1], "lxcbr0");
	assert_string_equal(c.xmpp_username, "yyyy@yyyy");
	assert_int_equal(count(log, " WARNING "), 13);
	assert_contains(log, "seed-inner-switch.json:54: StatReport.enabled: ignored: ipopd never "
			     "phones home");
	free(log);
	ipop_config_free(&c);
}

/* The two seeds are the recursive setup: with --tap they do not collide. */
static void test_seeds_side_by_side(void **state)
{
	struct ipop_config outer, inner;
	struct ipop_config_overrides ov_outer = {.tap = "tunnel-tap"}, ov_inner = {.tap = "ipop"};
	char err[512];
	(void)state;
	log_set_level(LOG_ERROR);
	assert_int_equal(ipop_config_load(TEST_DATA_DIR "/seed-outer-gvpn.json", &ov_outer, &outer,
					  err, sizeof(err)),
			 0);
	assert_int_equal(ipop_config_load(TEST_DATA_DIR "/seed-inner-switch.json", &ov_inner,
					  &inner, err, sizeof(err)),
			 0);
	assert_string_not_equal(outer.tap, inner.tap);
	assert_int_not_equal(outer.port, inner.port);
	assert_string_not_equal(outer.mgmt_socket, inner.mgmt_socket);
	assert_string_not_equal(outer.state_dir, inner.state_dir);
	assert_string_equal(outer.mgmt_socket, "/run/ipopd/tunnel-tap.sock");
	ipop_config_free(&outer);
	ipop_config_free(&inner);
	log_set_level(LOG_INFO);
}

/* ---- print ------------------------------------------------------------- */

static const char full_l3[] =
    "{\n"
    "  \"_comment\": \"site A\",\n"
    "  \"CFx\": {\"xmpp_username\": \"a@x\", \"xmpp_password\": \"pw-SECRET-pw\",\n"
    "          \"xmpp_host\": \"x\", \"ip4_mask\": 24, \"contr_port\": 5801},\n"
    "  \"TincanSender\": {\"switchmode\": 0, \"svpn_port\": 5800,\n"
    "                   \"stun\": [\"[2001:db8::1]:3478\"], \"dependencies\": [\"Logger\"]},\n"
    "  \"BaseTopologyManager\": {\"ip4\": \"10.254.0.1\", \"sec\": true, \"multihop\": true},\n"
    "  \"ipopd\": {\n"
    "    \"_comment_backend\": \"kernel only for now\",\n"
    "    \"backend\": \"kernel\", \"workers\": 3, \"idle\": \"busy\", \"burst\": 16,\n"
    "    \"tap\": \"ipop-l3\", \"mtu\": 1400, \"underlay_mtu\": 9000, \"pin_workers\": true,\n"
    "    \"state_dir\": \"/tmp/st\", \"mgmt_socket\": \"/tmp/l3.sock\",\n"
    "    \"peers\": [\n"
    "      {\n"
    "        \"name\": \"site-b\",\n"
    "        \"endpoint\": \"198.18.0.2:5800\",\n"
    "        \"ip4\": \"10.254.0.2\",\n"
    "        \"routes\": [\"10.1.0.0/16\", \"fd00:1::/64\"],\n"
    "        \"sa_in\": {\"spi\": \"0x80000102\", \"key\": \"" K72 "\"},\n"
    "        \"sa_out\": {\"spi\": 2147484161, \"key\": \"0x" K72B "\"}\n"
    "      },\n"
    "      {\n"
    "        \"name\": \"site-c\",\n"
    "        \"endpoint\": \"[2001:db8::3]:5800\",\n"
    "        \"ip4\": \"10.254.0.3\",\n"
    "        \"sa_in\": {\"spi\": \"80000103\", \"key\": \"" K72B "\"},\n"
    "        \"sa_out\": {\"spi\": \"0x80000301\", \"key\": \"" K72 "\"}\n"
    "      }\n"
    "    ]\n"
    "  }\n"
    "}\n";

static void test_full_l3(void **state)
{
	struct ipop_config c;
	struct capture cap;
	char ep[NET_ENDPOINT_STRLEN], pfx[64];
	uint8_t want[16], id[20];
	(void)state;

	capture_begin(&cap);
	load_ok(full_l3, NULL, &c);
	char *log = capture_end(&cap);
	/* _comment* and dependencies are silent; contr_port is the one warning. */
	assert_int_equal(count(log, " WARNING "), 1);
	assert_contains(log, "t.json:4: CFx.contr_port: ignored:");
	free(log);

	assert_int_equal(c.workers, 3);
	assert_int_equal(c.idle, DP_IDLE_BUSY);
	assert_int_equal(c.burst, 16);
	assert_string_equal(c.tap, "ipop-l3");
	assert_int_equal(c.mtu, 1400);
	assert_int_equal(c.underlay_mtu, 9000);
	assert_true(c.pin_workers);
	assert_true(c.multihop);
	assert_string_equal(c.state_dir, "/tmp/st");
	assert_string_equal(c.mgmt_socket, "/tmp/l3.sock");
	assert_int_equal(c.nstun, 1);
	assert_string_equal(net_endpoint_format(&c.stun[0], ep, sizeof(ep)), "[2001:db8::1]:3478");
	assert_int_equal(c.npeers, 2);
	assert_string_equal(c.peers[0].name, "site-b");
	assert_int_equal(c.peers[0].line, 14);
	assert_int_equal(c.peers[1].line, 22);
	assert_string_equal(net_endpoint_format(&c.peers[0].endpoint, ep, sizeof(ep)),
			    "198.18.0.2:5800");
	assert_string_equal(net_endpoint_format(&c.peers[1].endpoint, ep, sizeof(ep)),
			    "[2001:db8::3]:5800");
	assert_int_equal(c.peers[0].ip4, ip4_of("10.254.0.2"));
	ipop_node_id(ip4_of("10.254.0.2"), id);
	ipop_ula_from_id(id, want);
	assert_memory_equal(c.peers[0].ip6, want, 16);
	assert_int_equal(c.peers[0].nroutes, 2);
	assert_string_equal(net_prefix_format(&c.peers[0].routes[0], pfx, sizeof(pfx)),
			    "10.1.0.0/16");
	assert_string_equal(net_prefix_format(&c.peers[0].routes[1], pfx, sizeof(pfx)),
			    "fd00:1::/64");
	assert_int_equal(c.peers[0].sa_in.spi, 0x80000102u);
	assert_int_equal(c.peers[0].sa_out.spi, 0x80000201u);
	assert_int_equal(c.peers[1].sa_in.spi, 0x80000103u);
	for (unsigned i = 0; i < DP_SA_KEYMAT_LEN; i++) {
		assert_int_equal(c.peers[0].sa_in.keymat[i], i);
		assert_int_equal(c.peers[0].sa_out.keymat[i], (uint8_t)(0xf0 + i));
	}

	/* --check output: one setting per line, no secrets. */
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	ipop_config_print(&c, f);
	fclose(f);
	assert_contains(out, "mode: GroupVPN (L3)\n");
	assert_contains(out, "tap: ipop-l3\n");
	assert_contains(out, "port: 5800\n");
	assert_contains(out, "workers: 3 (pinned)\n");
	assert_contains(out, "idle: busy\n");
	assert_contains(out, "mtu: 1400\n");
	assert_contains(out, "ip4: 10.254.0.1/24\n");
	assert_contains(out, "xmpp_password: (set)\n");
	assert_contains(out, "stun: [2001:db8::1]:3478\n");
	assert_contains(out, "peer site-b: endpoint 198.18.0.2:5800\n");
	assert_contains(out, "peer site-b: route fd00:1::/64\n");
	assert_contains(out, "peer site-b: sa_in spi 0x80000102 key (set)\n");
	assert_contains(out, "mgmt_socket: /tmp/l3.sock\n");
	assert_null(strstr(out, "SECRET"));
	assert_null(strstr(out, "0405060708"));
	assert_null(strstr(out, "f4f5f6f7"));
	free(out);
	ipop_config_free(&c);
}

static void test_print_auto_mtu(void **state)
{
	struct ipop_config c;
	char err[512], *out = NULL;
	size_t outlen = 0;
	(void)state;
	log_set_level(LOG_ERROR);
	assert_int_equal(
	    ipop_config_load(TEST_DATA_DIR "/seed-inner-switch.json", NULL, &c, err, sizeof(err)),
	    0);
	log_set_level(LOG_INFO);
	FILE *f = open_memstream(&out, &outlen);
	ipop_config_print(&c, f);
	fclose(f);
	assert_contains(out, "mode: switch");
	assert_contains(out, "mtu: auto");
	assert_contains(out, "port: 5805\n");
	assert_contains(out, "ip6: fd50:dbc:41f2:4a3c:f46d:6281:ae45:f92e/64\n");
	assert_contains(out, "node_id: f46d6281ae45f92ed5dd0b85aae702ddfb38ec23\n");
	assert_contains(out, "stun: 192.168.1.100:19302\n");
	assert_contains(out, "network_ignore: eth0\n");
	assert_contains(out, "state_dir: /var/lib/ipopd/ipop\n");
	free(out);
	ipop_config_free(&c);
}

/* ---- rejections: syntax, types, modes ---------------------------------- */

static void test_invalid_json(void **state)
{
	(void)state;
	expect_error("{\n  \"CFx\": {\n    \"xmpp_port\": 5222,\n  }\n}\n", NULL,
		     "t.json:4:", "invalid JSON");
	expect_error("{\n  \"CFx\": {\n", NULL, "t.json:", "invalid JSON");
	expect_error("", NULL, "t.json:", "invalid JSON");
	/* jansson quotes the input near the error; a raw newline must not split the line */
	expect_error("{\n \"CFx\": {\n  \"fa \\\n }\n}", NULL, "t.json:", "invalid JSON");
	/* duplicate keys would make one of them silently lost */
	expect_error("{\"CFx\": {},\n \"CFx\": {}}", NULL, "t.json:2:", "invalid JSON");
	expect_error("[1, 2]", NULL, "t.json: expected a JSON object", NULL);
}

static const char l3_head[] = "{\n"
			      "  \"CFx\": {\"contr_port\": 5801},\n"
			      "  \"BaseTopologyManager\": {\"ip4\": \"10.254.0.1\"},\n";

static void test_wrong_types(void **state)
{
	char text[1024];
	(void)state;
	log_set_level(LOG_ERROR);
	snprintf(text, sizeof(text),
		 "%s  \"TincanSender\": {\n    \"svpn_port\": \"5800\"\n  }\n}\n", l3_head);
	expect_error(text, NULL, "t.json:5: TincanSender.svpn_port: expected an integer 1..65535",
		     "got a string");
	snprintf(text, sizeof(text), "%s  \"TincanSender\": {\"svpn_port\": 70000}\n}\n", l3_head);
	expect_error(text, NULL, "t.json:4: TincanSender.svpn_port: expected an integer 1..65535",
		     "got 70000");
	snprintf(text, sizeof(text), "%s  \"TincanSender\": {\"svpn_port\": 5800.5}\n}\n", l3_head);
	expect_error(text, NULL, "t.json:4: TincanSender.svpn_port: expected an integer",
		     "with a fraction");
	expect_error("{\n  \"CFx\": [1]\n}", NULL, "t.json:2: CFx: expected an object", "an array");
	expect_error("{\n\"CFx\": {\"network_ignore_list\": \"eth0\"}}", NULL,
		     "t.json:2: CFx.network_ignore_list: expected an array", NULL);
	expect_error("{\n\"CFx\": {\"network_ignore_list\": [\"eth0\",\n 7]}}", NULL,
		     "t.json:3: CFx.network_ignore_list[1]: expected an interface name", NULL);
	expect_error("{\"CFx\": {\"tincan_logging\": 4}}", NULL,
		     "t.json:1: CFx.tincan_logging: expected an integer 0..3", "got 4");
	expect_error("{\"CFx\": {\"ip4_mask\": 0}}", NULL, "t.json:1: CFx.ip4_mask: expected",
		     NULL);
	expect_error("{\"Logger\": {\"controller_logging\": \"LOUD\"}}", NULL,
		     "t.json:1: Logger.controller_logging: expected one of", "\"LOUD\"");
	snprintf(text, sizeof(text), "%s  \"BaseTopologyManager\": 1\n}\n", "{\n");
	expect_error(text, NULL, "t.json:2: BaseTopologyManager: expected an object", NULL);
	expect_error("{\"BaseTopologyManager\": {\"ip4\": \"10.254.0.1\", \"multihop\": 1}}", NULL,
		     "t.json:1: BaseTopologyManager.multihop: expected true or false", NULL);
	expect_error("{\"BaseTopologyManager\": {\"ip4\": \"10.254.0.300\"}}", NULL,
		     "t.json:1: BaseTopologyManager.ip4: expected an IPv4 address", NULL);
	expect_error("{\"BaseTopologyManager\": {\"ip4\": \"224.0.0.1\"}}", NULL,
		     "t.json:1: BaseTopologyManager.ip4: expected a unicast IPv4 address", NULL);
	/* ignored keys are still type-checked */
	expect_error("{\"BaseTopologyManager\": {\"ip4\": \"10.254.0.1\"},\n"
		     "\"StatReport\": {\"enabled\": \"yes\"}}",
		     NULL, "t.json:2: StatReport.enabled: expected true or false", NULL);
	expect_error("{\"BaseTopologyManager\": {\"ip4\": \"10.254.0.1\"},\n"
		     "\"CFx\": {\"xmpp_host\": \"a\\u0000b\"}}",
		     NULL, "t.json:2:", "invalid JSON"); /* jansson refuses NUL in strings */
	log_set_level(LOG_INFO);
}

static void test_unknown_mode(void **state)
{
	(void)state;
	log_set_level(LOG_ERROR);
	expect_error(
	    "{\n  \"BaseTopologyManager\": {\"ip4\": \"10.254.0.1\"},\n"
	    "  \"TincanSender\": {\n    \"switchmode\": 2\n  }\n}",
	    NULL, "t.json:4: TincanSender.switchmode: expected 0 (GroupVPN L3) or 1 (switch mode)",
	    "got 2");
	expect_error("{\n  \"BaseTopologyManager\": {\"ip4\": \"10.254.0.1\"},\n"
		     "  \"TincanSender\": {\"switchmode\": true}}",
		     NULL, "t.json:3: TincanSender.switchmode: expected 0", "got true");
	expect_error(
	    "{\n  \"CFx\": {\n    \"xmpp_host\": \"x\",\n    \"vpn_type\": \"SocialVPN\"\n  "
	    "}\n}",
	    NULL, "t.json:4: CFx.vpn_type: expected \"GroupVPN\"", "unknown mode");
	expect_error("{\"BaseTopologyManager\": {\"ip4\": \"10.254.0.1\",\n \"sec\": false}}", NULL,
		     "t.json:2: BaseTopologyManager.sec: expected true", "unencrypted");
	log_set_level(LOG_INFO);
}

static void test_duplicate_port(void **state)
{
	(void)state;
	log_set_level(LOG_ERROR);
	expect_error("{\n  \"CFx\": {\"contr_port\": 5800},\n"
		     "  \"BaseTopologyManager\": {\"ip4\": \"10.254.0.1\"},\n"
		     "  \"TincanSender\": {\n    \"svpn_port\": 5800\n  }\n}",
		     NULL,
		     "t.json:5: TincanSender.svpn_port: expected a port different from "
		     "CFx.contr_port",
		     "got 5800");
	/* default svpn_port (5800) clashes too */
	expect_error("{\n  \"CFx\": {\"contr_port\": 5800},\n"
		     "  \"BaseTopologyManager\": {\"ip4\": \"10.254.0.1\"},\n"
		     "  \"TincanSender\": {\n    \"switchmode\": 0\n  }\n}",
		     NULL, "t.json:4: TincanSender.svpn_port: expected a port different", NULL);
	log_set_level(LOG_INFO);
}

static void test_missing_keys(void **state)
{
	(void)state;
	log_set_level(LOG_ERROR);
	/* L3 without ip4: line of the section, or 1 without a section */
	expect_error("{\n  \"CFx\": {},\n  \"BaseTopologyManager\": {\n    \"sec\": true\n  }\n}",
		     NULL, "t.json:3: BaseTopologyManager.ip4: expected an IPv4 address",
		     "required in L3 mode");
	expect_error("{\n  \"TincanSender\": {\"switchmode\": 0}\n}", NULL,
		     "t.json:1: BaseTopologyManager.ip4: expected an IPv4 address", NULL);
	/* switch mode does not need it */
	struct ipop_config c;
	load_ok("{\"TincanSender\": {\"switchmode\": 1}}", NULL, &c);
	assert_int_equal(c.ip4, 0);
	ipop_config_free(&c);
	log_set_level(LOG_INFO);
}

/* ---- ipopd section ----------------------------------------------------- */

static void test_ipopd_section(void **state)
{
	char text[1024];
	struct ipop_config c;
	(void)state;
	log_set_level(LOG_ERROR);
#define IPOPD(body) "{\"BaseTopologyManager\": {\"ip4\": \"10.254.0.1\"},\n\"ipopd\": {\n" body "}}"
	expect_error(
	    IPOPD("\"backend\": \"af_xdp\""), NULL,
	    "t.json:3: ipopd.backend: expected \"kernel\" (af_xdp and dpdk backends are not "
	    "built yet)",
	    NULL);
	expect_error(IPOPD("\"backend\": \"dpdk\""), NULL, "t.json:3: ipopd.backend: expected",
		     NULL);
	expect_error(IPOPD("\"backend\": \"netmap\""), NULL, "t.json:3: ipopd.backend: expected",
		     "\"netmap\"");
	expect_error(IPOPD("\"workers\": 0"), NULL,
		     "t.json:3: ipopd.workers: expected an integer 1..64", NULL);
	expect_error(IPOPD("\"workers\": 65"), NULL, "t.json:3: ipopd.workers: expected", NULL);
	expect_error(IPOPD("\"idle\": \"lazy\""), NULL,
		     "t.json:3: ipopd.idle: expected \"adaptive\"", NULL);
	expect_error(IPOPD("\"burst\": 65"), NULL,
		     "t.json:3: ipopd.burst: expected an integer 1..64", NULL);
	expect_error(IPOPD("\"tap\": \"abcdefghijklmnop\""), NULL,
		     "t.json:3: ipopd.tap: expected an interface name of 1..15 characters", NULL);
	expect_error(IPOPD("\"tap\": \"ip op\""), NULL, "t.json:3: ipopd.tap: expected", NULL);
	expect_error(IPOPD("\"tap\": \"\""), NULL, "t.json:3: ipopd.tap: expected", NULL);
	expect_error(IPOPD("\"mtu\": 575"), NULL, "t.json:3: ipopd.mtu: expected 0 (auto)", NULL);
	expect_error(IPOPD("\"mtu\": 9001"), NULL, "t.json:3: ipopd.mtu: expected 0 (auto)", NULL);
	expect_error(IPOPD("\"underlay_mtu\": 1279"), NULL,
		     "t.json:3: ipopd.underlay_mtu: expected", NULL);
	expect_error(IPOPD("\"bridge\": \"lxcbr0\""), NULL,
		     "t.json:3: ipopd.bridge: expected no bridge in L3 mode", NULL);
	expect_error(IPOPD("\"pin_workers\": \"yes\""), NULL,
		     "t.json:3: ipopd.pin_workers: expected true or false", NULL);
	expect_error(IPOPD("\"fdb_max_age\": 0"), NULL, "t.json:3: ipopd.fdb_max_age: expected",
		     NULL);
	expect_error(IPOPD("\"worker\": 2"), NULL,
		     "t.json:3: ipopd.worker: expected a key of ipopd", NULL);
	/* Found by fuzz_config: a key with a control character made the
	 * error two lines (the path was printed raw). */
	expect_error(IPOPD("\"wor\\nker\": 2"), NULL,
		     "t.json:3: ipopd.wor?ker: expected a key of ipopd", NULL);
	expect_error(IPOPD("\"state_dir\": \"\""), NULL,
		     "t.json:3: ipopd.state_dir: expected a path", NULL);
	memset(text, 'a', 200);
	memcpy(text, "\"mgmt_socket\": \"/", 17);
	memcpy(text + 190, "\"", 2);
	char big[2048];
	snprintf(big, sizeof(big), IPOPD("%s"), text);
	expect_error(big, NULL,
		     "t.json:3: ipopd.mgmt_socket: expected a socket path of at most 107", NULL);
	/* bridge is fine in switch mode; mtu 0 is auto */
	load_ok("{\"TincanSender\": {\"switchmode\": 1},\n\"ipopd\": {\"bridge\": \"lxcbr0\", "
		"\"mtu\": 0, \"tap\": \"a.b_c-9\"}}",
		NULL, &c);
	assert_string_equal(c.bridge, "lxcbr0");
	assert_string_equal(c.tap, "a.b_c-9");
	assert_int_equal(c.mtu, 0);
	ipop_config_free(&c);
	log_set_level(LOG_INFO);
}

static void test_tap_override(void **state)
{
	struct ipop_config c;
	struct ipop_config_overrides ov = {.tap = "inner0"};
	(void)state;
	log_set_level(LOG_ERROR);
	load_ok(IPOPD("\"tap\": \"cfgtap\""), &ov, &c);
	assert_string_equal(c.tap, "inner0");
	assert_string_equal(c.mgmt_socket, "/run/ipopd/inner0.sock");
	assert_string_equal(c.state_dir, "/var/lib/ipopd/inner0");
	ipop_config_free(&c);

	/* explicit paths in the file stay; --socket wins over the file */
	load_ok(IPOPD("\"mgmt_socket\": \"/tmp/x.sock\", \"state_dir\": \"/tmp/st\""), &ov, &c);
	assert_string_equal(c.mgmt_socket, "/tmp/x.sock");
	assert_string_equal(c.state_dir, "/tmp/st");
	ipop_config_free(&c);
	ov.mgmt_socket = "/tmp/cli.sock";
	load_ok(IPOPD("\"mgmt_socket\": \"/tmp/x.sock\""), &ov, &c);
	assert_string_equal(c.mgmt_socket, "/tmp/cli.sock");
	ipop_config_free(&c);

	ov.mgmt_socket = NULL;
	ov.tap = "much-too-long-name";
	expect_error(IPOPD("\"tap\": \"cfgtap\""), &ov, "command line: --tap: expected", NULL);
	log_set_level(LOG_INFO);
}

/* ---- peers ------------------------------------------------------------- */

#define PEERS_HEAD                                                                                 \
	"{\n"                                                                                      \
	"  \"CFx\": {\"ip4_mask\": 24},\n"                                                         \
	"  \"BaseTopologyManager\": {\"ip4\": \"10.254.0.1\"},\n"                                  \
	"  \"ipopd\": {\n"                                                                         \
	"    \"peers\": [\n"
#define PEERS_TAIL "    ]\n  }\n}\n"
/* a peer on lines +0..+6 */
#define PEER(name, ep, ip, spi_in, sa_in_key, spi_out)                                             \
	"      {\n"                                                                                \
	"        \"name\": \"" name "\",\n"                                                        \
	"        \"endpoint\": \"" ep "\",\n"                                                      \
	"        \"ip4\": \"" ip "\",\n"                                                           \
	"        \"sa_in\": {\"spi\": " spi_in ", " sa_in_key "},\n"                               \
	"        \"sa_out\": {\"spi\": " spi_out ", \"key\": \"" K72 "\"}\n"                       \
	"      }"
#define GOODKEY "\"key\": \"" K72B "\""

static void test_peer_errors(void **state)
{
	(void)state;
	log_set_level(LOG_ERROR);
	/* lines: peers[0] starts at 6, name 7, endpoint 8, ip4 9, sa_in 10, sa_out 11 */
	expect_error(PEERS_HEAD PEER("b", "198.18.0.2", "10.254.0.2", "\"0x80000102\"", GOODKEY,
				     "\"0x80000201\"") "\n" PEERS_TAIL,
		     NULL, "t.json:8: ipopd.peers[0].endpoint: expected an endpoint", NULL);
	expect_error(PEERS_HEAD PEER("b", "198.18.0.2:0", "10.254.0.2", "\"0x80000102\"", GOODKEY,
				     "\"0x80000201\"") "\n" PEERS_TAIL,
		     NULL, "t.json:8: ipopd.peers[0].endpoint: expected", NULL);
	expect_error(
	    PEERS_HEAD "      {\n        \"name\": \"b\",\n        \"ip4\": \"10.254.0.2\"\n"
		       "      }\n" PEERS_TAIL,
	    NULL, "t.json:6: ipopd.peers[0].endpoint: expected an endpoint", "got nothing");
	expect_error(
	    PEERS_HEAD
	    "      {\"endpoint\": \"198.18.0.2:5800\", \"ip4\": \"10.254.0.2\"}\n" PEERS_TAIL,
	    NULL, "t.json:6: ipopd.peers[0]: expected public_key or sa_in and sa_out",
	    "got neither");
	/* bad SPIs */
	expect_error(PEERS_HEAD PEER("b", "198.18.0.2:5800", "10.254.0.2", "\"0x00000102\"",
				     GOODKEY, "\"0x80000201\"") "\n" PEERS_TAIL,
		     NULL, "t.json:10: ipopd.peers[0].sa_in.spi: expected an SPI >= 0x80000000",
		     "got 0x00000102");
	expect_error(PEERS_HEAD PEER("b", "198.18.0.2:5800", "10.254.0.2", "\"0x80000102\"",
				     GOODKEY, "258") "\n" PEERS_TAIL,
		     NULL, "t.json:11: ipopd.peers[0].sa_out.spi: expected an SPI >= 0x80000000",
		     NULL);
	expect_error(PEERS_HEAD PEER("b", "198.18.0.2:5800", "10.254.0.2", "\"0x1800000000\"",
				     GOODKEY, "\"0x80000201\"") "\n" PEERS_TAIL,
		     NULL, "t.json:10: ipopd.peers[0].sa_in.spi: expected an SPI", NULL);
	expect_error(PEERS_HEAD PEER("b", "198.18.0.2:5800", "10.254.0.2", "\"0x8000zz02\"",
				     GOODKEY, "\"0x80000201\"") "\n" PEERS_TAIL,
		     NULL, "t.json:10: ipopd.peers[0].sa_in.spi: expected an SPI", NULL);
	expect_error(PEERS_HEAD PEER("b", "198.18.0.2:5800", "10.254.0.2", "-1", GOODKEY,
				     "\"0x80000201\"") "\n" PEERS_TAIL,
		     NULL, "t.json:10: ipopd.peers[0].sa_in.spi: expected an SPI", NULL);
	expect_error(PEERS_HEAD PEER("b", "198.18.0.2:5800", "10.254.0.2", "true", GOODKEY,
				     "\"0x80000201\"") "\n" PEERS_TAIL,
		     NULL, "t.json:10: ipopd.peers[0].sa_in.spi: expected an SPI", "got true");
	/* bad keys: the key itself never shows up in the message */
	expect_error(PEERS_HEAD PEER("b", "198.18.0.2:5800", "10.254.0.2", "\"0x80000102\"",
				     "\"key\": \"0011223344\"", "\"0x80000201\"") "\n" PEERS_TAIL,
		     NULL, "t.json:10: ipopd.peers[0].sa_in.key: expected 72 hex digits",
		     "got 10 characters");
	struct ipop_config c;
	char err[512];
	assert_int_equal(
	    ipop_config_load_string(
		"t.json",
		PEERS_HEAD PEER(
		    "b", "198.18.0.2:5800", "10.254.0.2", "\"0x80000102\"",
		    "\"key\": "
		    "\"deadbeefg405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223\"",
		    "\"0x80000201\"") "\n" PEERS_TAIL,
		NULL, &c, err, sizeof(err)),
	    -1);
	assert_starts_with(err, "t.json:10: ipopd.peers[0].sa_in.key: expected 72 hex digits");
	assert_contains(err, "non-hex");
	assert_null(strstr(err, "deadbeef"));
	expect_error(PEERS_HEAD PEER("b", "198.18.0.2:5800", "10.254.0.2", "\"0x80000102\"",
				     "\"key\": 5", "\"0x80000201\"") "\n" PEERS_TAIL,
		     NULL, "t.json:10: ipopd.peers[0].sa_in.key: expected 72 hex digits", NULL);
	expect_error(PEERS_HEAD PEER("b", "198.18.0.2:5800", "10.254.0.2", "\"0x80000102\"",
				     "\"_comment\": \"no key\"", "\"0x80000201\"") "\n" PEERS_TAIL,
		     NULL, "t.json:10: ipopd.peers[0].sa_in.key: expected 72 hex digits",
		     "got nothing");
	expect_error(
	    PEERS_HEAD PEER("b", "198.18.0.2:5800", "10.254.0.2", "\"0x80000102\"",
			    GOODKEY ", \"key_file\": \"x.key\"", "\"0x80000201\"") "\n" PEERS_TAIL,
	    NULL, "t.json:10: ipopd.peers[0].sa_in.key_file: expected either key or key_file",
	    NULL);
	expect_error(
	    PEERS_HEAD PEER("b", "198.18.0.2:5800", "10.254.0.2", "\"0x80000102\"",
			    GOODKEY ", \"kye\": 1", "\"0x80000201\"") "\n" PEERS_TAIL,
	    NULL, "t.json:10: ipopd.peers[0].sa_in.kye: expected one of spi, key, key_file", NULL);
	/* name, uniqueness, ip4 */
	expect_error(PEERS_HEAD PEER("this-name-is-longer-than-31-chars", "198.18.0.2:5800",
				     "10.254.0.2", "\"0x80000102\"", GOODKEY,
				     "\"0x80000201\"") "\n" PEERS_TAIL,
		     NULL, "t.json:7: ipopd.peers[0].name: expected a name of 1..31", NULL);
	expect_error(
	    PEERS_HEAD PEER("b", "198.18.0.2:5800", "10.254.0.2", "\"0x80000102\"", GOODKEY,
			    "\"0x80000201\"") ",\n" PEER("b", "198.18.0.3:5800", "10.254.0.3",
							 "\"0x80000103\"", GOODKEY,
							 "\"0x80000301\"") "\n" PEERS_TAIL,
	    NULL, "t.json:14: ipopd.peers[1].name: expected a unique name", "\"b\"");
	expect_error(
	    PEERS_HEAD PEER("b", "198.18.0.2:5800", "10.254.0.2", "\"0x80000102\"", GOODKEY,
			    "\"0x80000201\"") ",\n" PEER("c", "198.18.0.3:5800", "10.254.0.3",
							 "2147483906", GOODKEY,
							 "\"0x80000301\"") "\n" PEERS_TAIL,
	    NULL, "t.json:17: ipopd.peers[1].sa_in.spi: expected an SPI unique", NULL);
	expect_error(
	    PEERS_HEAD PEER("b", "198.18.0.2:5800", "10.254.0.2", "\"0x80000102\"", GOODKEY,
			    "\"0x80000201\"") ",\n" PEER("c", "198.18.0.3:5800", "10.254.0.2",
							 "\"0x80000103\"", GOODKEY,
							 "\"0x80000301\"") "\n" PEERS_TAIL,
	    NULL, "t.json:16: ipopd.peers[1].ip4: expected a unique address", NULL);
	expect_error(PEERS_HEAD PEER("b", "198.18.0.2:5800", "10.254.0.1", "\"0x80000102\"",
				     GOODKEY, "\"0x80000201\"") "\n" PEERS_TAIL,
		     NULL, "t.json:9: ipopd.peers[0].ip4: expected an address other than our own",
		     NULL);
	expect_error(
	    PEERS_HEAD "      {\"endpoint\": \"198.18.0.2:5800\",\n"
		       "       \"sa_in\": {\"spi\": \"0x80000102\", " GOODKEY "},\n"
		       "       \"sa_out\": {\"spi\": \"0x80000201\", " GOODKEY "}}\n" PEERS_TAIL,
	    NULL, "t.json:6: ipopd.peers[0].ip4: expected an IPv4 address", "required in L3 mode");
	expect_error(
	    PEERS_HEAD "      {\"endpoint\": \"198.18.0.2:5800\", \"ip4\": \"10.254.0.2\",\n"
		       "       \"routes\": [\"10.1.0.0/16\", \"10.2.0.1/16\"],\n"
		       "       \"sa_in\": {\"spi\": \"0x80000102\", " GOODKEY "},\n"
		       "       \"sa_out\": {\"spi\": \"0x80000201\", " GOODKEY "}}\n" PEERS_TAIL,
	    NULL, "t.json:7: ipopd.peers[0].routes[1]: expected a prefix without host bits", NULL);
	expect_error(PEERS_HEAD
		     "      {\"endpoint\": \"198.18.0.2:5800\", \"ip4\": \"10.254.0.2\",\n"
		     "       \"port\": 1}\n" PEERS_TAIL,
		     NULL, "t.json:7: ipopd.peers[0].port: expected a key of a peer", NULL);
	expect_error(PEERS_HEAD "      \"b\"\n" PEERS_TAIL, NULL,
		     "t.json:6: ipopd.peers[0]: expected an object", NULL);
	expect_error(
	    "{\"BaseTopologyManager\": {\"ip4\": \"10.254.0.1\"},\n\"ipopd\": {\"peers\": {}}}",
	    NULL, "t.json:2: ipopd.peers: expected an array", NULL);
	/* routes are an L3 feature */
	expect_error("{\"TincanSender\": {\"switchmode\": 1},\n\"ipopd\": {\"peers\": [\n"
		     "  {\"endpoint\": \"198.18.0.2:5800\",\n"
		     "   \"routes\": [\"10.1.0.0/16\"],\n"
		     "   \"sa_in\": {\"spi\": \"0x80000102\", " GOODKEY "},\n"
		     "   \"sa_out\": {\"spi\": \"0x80000201\", " GOODKEY "}}]}}",
		     NULL, "t.json:4: ipopd.peers[0].routes: expected no routes in switch mode",
		     NULL);
	log_set_level(LOG_INFO);
}

static void test_peer_warnings(void **state)
{
	struct ipop_config c;
	struct capture cap;
	(void)state;
	capture_begin(&cap);
	load_ok(PEERS_HEAD PEER("b", "198.18.0.2:5800", "10.99.0.2", "\"0x80000102\"", GOODKEY,
				"\"0x80000201\"") "\n" PEERS_TAIL,
		NULL, &c);
	char *log = capture_end(&cap);
	assert_int_equal(count(log, " WARNING "), 1);
	assert_contains(log,
			"t.json:9: ipopd.peers[0].ip4: outside the overlay subnet 10.254.0.0/24");
	free(log);
	assert_int_equal(c.npeers, 1);
	assert_int_equal(c.peers[0].line, 6);
	ipop_config_free(&c);
}

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

/* ---- the examples in conf/ load (after the chmod the README asks for) --- */

static void test_conf_examples(void **state)
{
	static const char *files[] = {"switch-site-a.json", "switch-site-b.json", "l3-site-a.json",
				      "l3-site-b.json"};
	static const char *keys[] = {"EXAMPLE-switch-a-to-b.key", "EXAMPLE-switch-b-to-a.key",
				     "EXAMPLE-l3-a-to-b.key", "EXAMPLE-l3-b-to-a.key"};
	char src[512], dst[512], err[512];
	struct ipop_config a[4];
	(void)state;
	log_set_level(LOG_ERROR);
	char keysdir[300];
	snprintf(keysdir, sizeof(keysdir), "%s/keys", tmpdir);
	mkdir(keysdir, 0700);
	for (size_t i = 0; i < 4; i++) {
		snprintf(src, sizeof(src), TEST_DATA_DIR "/../../conf/keys/%s", keys[i]);
		snprintf(dst, sizeof(dst), "keys/%s", keys[i]);
		FILE *f = fopen(src, "r");
		assert_non_null(f);
		char buf[512] = "";
		assert_true(fread(buf, 1, sizeof(buf) - 1, f) > 0);
		fclose(f);
		write_file(dst, buf, 0600, NULL);
	}
	for (size_t i = 0; i < 4; i++) {
		snprintf(src, sizeof(src), TEST_DATA_DIR "/../../conf/%s", files[i]);
		FILE *f = fopen(src, "r");
		assert_non_null(f);
		char *buf = calloc(1, 65536);
		assert_true(fread(buf, 1, 65535, f) > 0);
		fclose(f);
		write_file(files[i], buf, 0644, dst);
		free(buf);
		if (ipop_config_load(dst, NULL, &a[i], err, sizeof(err)))
			fail_msg("%s", err);
		assert_int_equal(a[i].npeers, 1);
	}
	/* switch sites: bridged, and each one's sa_out is the other's sa_in */
	for (size_t i = 0; i < 4; i += 2) {
		struct ipop_config *x = &a[i], *y = &a[i + 1];
		assert_int_equal(x->mode, i == 0 ? IPOP_MODE_SWITCH : IPOP_MODE_L3);
		assert_int_equal(x->mode, y->mode);
		assert_int_equal(x->peers[0].sa_out.spi, y->peers[0].sa_in.spi);
		assert_int_equal(x->peers[0].sa_in.spi, y->peers[0].sa_out.spi);
		assert_memory_equal(x->peers[0].sa_out.keymat, y->peers[0].sa_in.keymat,
				    DP_SA_KEYMAT_LEN);
		assert_memory_equal(x->peers[0].sa_in.keymat, y->peers[0].sa_out.keymat,
				    DP_SA_KEYMAT_LEN);
		assert_memory_not_equal(x->peers[0].sa_in.keymat, x->peers[0].sa_out.keymat,
					DP_SA_KEYMAT_LEN);
	}
	assert_string_equal(a[0].bridge, "lxcbr0");
	assert_int_equal(a[2].ip4, ip4_of("10.254.0.1"));
	assert_int_equal(a[3].ip4, ip4_of("10.254.0.2"));
	assert_int_equal(a[2].ip4_mask, 24);
	assert_int_equal(a[2].peers[0].ip4, a[3].ip4);
	assert_int_equal(a[3].peers[0].ip4, a[2].ip4);
	for (size_t i = 0; i < 4; i++)
		ipop_config_free(&a[i]);
	for (size_t i = 0; i < 4; i++) {
		snprintf(dst, sizeof(dst), "%s/%s", keysdir, keys[i]);
		unlink(dst);
	}
	rmdir(keysdir);
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

/* ---- STUN list --------------------------------------------------------- */

static void test_stun(void **state)
{
	struct ipop_config c;
	struct capture cap;
	(void)state;
	capture_begin(&cap);
	load_ok("{\"TincanSender\": {\"switchmode\": 1,\n"
		"  \"stun\": [\"stun.l.google.com:19302\", \"198.18.0.9:3478\"]}}",
		NULL, &c);
	char *log = capture_end(&cap);
	assert_int_equal(c.nstun, 1);
	assert_int_equal(c.stun[0].port, 3478);
	assert_contains(log, "t.json:2: TincanSender.stun[0]: ignored:");
	assert_contains(log, "hostname");
	free(log);
	ipop_config_free(&c);
	expect_error("{\"TincanSender\": {\"switchmode\": 1,\n \"stun\": [\"198.18.0.9\"]}}", NULL,
		     "t.json:2: TincanSender.stun[0]: expected \"host:port\"", NULL);
	expect_error("{\"TincanSender\": {\"switchmode\": 1,\n \"stun\": \"198.18.0.9:1\"}}", NULL,
		     "t.json:2: TincanSender.stun: expected an array", NULL);
	expect_error("{\"TincanSender\": {\"switchmode\": 1,\n \"stun\": [\"host:99999\"]}}", NULL,
		     "t.json:2: TincanSender.stun[0]: expected", NULL);
}

#define DISC_BASE                                                                                  \
	"{\"CFx\": {\"xmpp_username\": \"gw1@xmpp.test\", \"xmpp_password\": \"pw\",\n"            \
	"  \"xmpp_host\": \"198.18.0.250\", \"xmpp_port\": 5223, \"ip4_mask\": 16},\n"             \
	" \"BaseTopologyManager\": {\"ip4\": \"10.254.3.7\"}"

static void test_discovery(void **state)
{
	struct ipop_config c;
	char room[128], in[64], hex[13];
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	(void)state;

	/* Defaults: TLS required, MUC named after the JID's domain and network. */
	load_ok(DISC_BASE "}", NULL, &c);
	assert_string_equal(c.xmpp_host, "198.18.0.250");
	assert_int_equal(c.xmpp_port, 5223);
	assert_false(c.xmpp_allow_plaintext);
	assert_int_equal(c.group, IPOP_GROUP_MUC);
	snprintf(in, sizeof(in), "xmpp.test/10.254.0.0/16");
	assert_true(EVP_Digest(in, strlen(in), md, &mdlen, EVP_sha1(), NULL));
	for (unsigned i = 0; i < 6; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	snprintf(room, sizeof(room), "ipop-%s@conference.xmpp.test", hex);
	assert_string_equal(c.muc_room, room);
	assert_int_equal(c.nstatic_candidates, 0);
	assert_int_equal(c.nturn, 0);
	ipop_config_free(&c);

	/* Another address in the same /16 shares the room; a bare user name
	 * takes the domain from xmpp_host. */
	load_ok("{\"CFx\": {\"xmpp_username\": \"gw2\", \"xmpp_password\": \"pw\",\n"
		"  \"xmpp_host\": \"xmpp.test\"},\n"
		" \"BaseTopologyManager\": {\"ip4\": \"10.254.200.1\"}}",
		NULL, &c);
	assert_string_equal(c.muc_room, room);
	ipop_config_free(&c);

	load_ok(DISC_BASE
		",\n \"TincanSender\": {\"turn\": [{\"server\": \"198.18.0.251:3478\",\n"
		"   \"user\": \"u\", \"pass\": \"p\"}]},\n"
		" \"ipopd\": {\"xmpp_ca_file\": \"/etc/ca.pem\", \"xmpp_allow_plaintext\": "
		"true,\n  \"group\": \"roster\", \"muc_room\": \"r@conference.x\",\n"
		"  \"static_candidates\": [\"198.18.0.9:5800\", \"[2001:db8::1]:5801\"]}}",
		NULL, &c);
	assert_string_equal(c.xmpp_ca_file, "/etc/ca.pem");
	assert_true(c.xmpp_allow_plaintext);
	assert_int_equal(c.group, IPOP_GROUP_ROSTER);
	assert_string_equal(c.muc_room, "r@conference.x");
	assert_int_equal(c.nstatic_candidates, 2);
	assert_int_equal(c.static_candidates[0].port, 5800);
	assert_int_equal(c.static_candidates[1].port, 5801);
	assert_int_equal(c.nturn, 1);
	assert_int_equal(c.turn[0].server.port, 3478);
	assert_string_equal(c.turn[0].user, "u");
	assert_string_equal(c.turn[0].pass, "p");
	ipop_config_free(&c);

	/* Errors name the key. */
	expect_error(DISC_BASE ",\n \"ipopd\": {\"group\": \"friends\"}}", NULL,
		     "t.json:4: ipopd.group: expected \"muc\" or \"roster\"", "friends");
	expect_error(DISC_BASE ",\n \"ipopd\": {\"group\": 1}}", NULL,
		     "t.json:4: ipopd.group: expected", NULL);
	expect_error(DISC_BASE ",\n \"ipopd\": {\"muc_room\": \"noat\"}}", NULL,
		     "t.json:4: ipopd.muc_room: expected a room JID", NULL);
	expect_error(DISC_BASE ",\n \"ipopd\": {\"muc_room\": \"a@b/c\"}}", NULL,
		     "t.json:4: ipopd.muc_room: expected a room JID", NULL);
	expect_error(DISC_BASE ",\n \"ipopd\": {\"xmpp_allow_plaintext\": \"yes\"}}", NULL,
		     "t.json:4: ipopd.xmpp_allow_plaintext: expected true or false", NULL);
	expect_error(DISC_BASE ",\n \"ipopd\": {\"xmpp_ca_file\": \"\"}}", NULL,
		     "t.json:4: ipopd.xmpp_ca_file: expected a path", NULL);
	expect_error(DISC_BASE ",\n \"ipopd\": {\"static_candidates\": [\"198.18.0.9\"]}}", NULL,
		     "t.json:4: ipopd.static_candidates[0]: expected \"IPv4:port\"", NULL);
	expect_error(DISC_BASE ",\n \"ipopd\": {\"static_candidates\": \"198.18.0.9:1\"}}", NULL,
		     "t.json:4: ipopd.static_candidates: expected an array", NULL);
	expect_error(DISC_BASE ",\n \"TincanSender\": {\"turn\": {}}}", NULL,
		     "t.json:4: TincanSender.turn: expected an array", NULL);
	expect_error(DISC_BASE ",\n \"TincanSender\": {\"turn\": [\"198.18.0.1:3478\"]}}", NULL,
		     "t.json:4: TincanSender.turn[0]: expected an object", NULL);
	expect_error(DISC_BASE ",\n \"TincanSender\": {\"turn\": [{\"server\": \"x\", \"user\": "
			       "\"u\", \"pass\": \"p\"}]}}",
		     NULL, "t.json:4: TincanSender.turn[0].server: expected", NULL);
	expect_error(DISC_BASE ",\n \"TincanSender\": {\"turn\": [{\"server\": \"198.18.0.1:3478\","
			       " \"pass\": \"secret-pw\"}]}}",
		     NULL, "t.json:4: TincanSender.turn[0].user: expected a string", NULL);
	expect_error(DISC_BASE ",\n \"TincanSender\": {\"turn\": [{\"server\": \"198.18.0.1:3478\","
			       " \"user\": \"u\", \"pass\": \"\"}]}}",
		     NULL, "t.json:4: TincanSender.turn[0].pass: expected a string of 1..", NULL);
	expect_error(DISC_BASE ",\n \"TincanSender\": {\"turn\": [{\"server\": \"198.18.0.1:3478\","
			       " \"user\": \"u\", \"pass\": \"p\", \"realm\": \"r\"}]}}",
		     NULL, "t.json:4: TincanSender.turn[0].realm: expected one of", NULL);
	/* XMPP needs the virtual address (node id) and credentials. */
	expect_error("{\"CFx\": {\"xmpp_username\": \"u@x\", \"xmpp_password\": \"p\", "
		     "\"xmpp_host\": \"x\"},\n\"TincanSender\": {\"switchmode\": 1}}",
		     NULL, "t.json:1: BaseTopologyManager.ip4: expected an IPv4 address", "XMPP");
	expect_error("{\"CFx\": {\"xmpp_username\": \"u@x\", \"xmpp_host\": \"x\"},\n"
		     "\"BaseTopologyManager\": {\"ip4\": \"10.1.1.1\"}}",
		     NULL, "t.json:1: CFx.xmpp_password: expected", NULL);
}

/* ipopd.advertise_routes: parsed with the peers' prefix parser, what the
 * presence may carry (signal.h), L3 only, outside the overlay, not routed to
 * a static peer. */
static void test_advertise_routes(void **state)
{
	struct ipop_config c;
	char pfx[64], *out = NULL;
	size_t outlen = 0;
	(void)state;
#define ADV_HEAD "{\"BaseTopologyManager\": {\"ip4\": \"10.254.0.1\"},\n\"ipopd\": {\n"
	load_ok(ADV_HEAD "\"advertise_routes\": [\"10.0.11.0/24\", \"fd00:11::/64\"]}}", NULL, &c);
	assert_int_equal(c.n_advertise_routes, 2);
	assert_string_equal(net_prefix_format(&c.advertise_routes[0], pfx, sizeof(pfx)),
			    "10.0.11.0/24");
	assert_string_equal(net_prefix_format(&c.advertise_routes[1], pfx, sizeof(pfx)),
			    "fd00:11::/64");
	FILE *f = open_memstream(&out, &outlen);
	assert_non_null(f);
	ipop_config_print(&c, f);
	fclose(f);
	assert_contains(out, "advertise_route: 10.0.11.0/24\n");
	assert_contains(out, "advertise_route: fd00:11::/64\n");
	free(out);
	ipop_config_free(&c);
	load_ok(ADV_HEAD "\"advertise_routes\": []}}", NULL, &c);
	assert_int_equal(c.n_advertise_routes, 0);
	ipop_config_free(&c);
	load_ok(ADV_HEAD "\"advertise_routes\": [\"10.0.0.0/24\", \"10.0.1.0/24\", "
			 "\"10.0.2.0/24\", \"10.0.3.0/24\", \"10.0.4.0/24\", \"10.0.5.0/24\", "
			 "\"10.0.6.0/24\", \"fd00::/16\"]}}",
		NULL, &c);
	assert_int_equal(c.n_advertise_routes, IPOP_ADVERTISE_ROUTES_MAX);
	ipop_config_free(&c);

	log_set_level(LOG_ERROR);
	expect_error(
	    ADV_HEAD "\"advertise_routes\": \"10.0.11.0/24\"}}", NULL,
	    "t.json:3: ipopd.advertise_routes: expected an array of prefixes, got a string", NULL);
	expect_error(
	    ADV_HEAD "\"advertise_routes\": [\n\"10.0.11.1/24\"]}}", NULL,
	    "t.json:4: ipopd.advertise_routes[0]: expected a prefix without host bits, got "
	    "\"10.0.11.1/24\"",
	    NULL);
	expect_error(ADV_HEAD "\"advertise_routes\": [\"10.0.11.0/24\",\n\"x\"]}}", NULL,
		     "t.json:4: ipopd.advertise_routes[1]: expected a prefix like", NULL);
	expect_error(ADV_HEAD "\"advertise_routes\": [\n24]}}", NULL,
		     "t.json:4: ipopd.advertise_routes[0]: expected a prefix like",
		     "got an integer");
	expect_error(ADV_HEAD "\"advertise_routes\": [\"10.0.0.0/24\", \"10.0.1.0/24\", "
			      "\"10.0.2.0/24\", \"10.0.3.0/24\", \"10.0.4.0/24\", \"10.0.5.0/24\", "
			      "\"10.0.6.0/24\", \"10.0.7.0/24\", \"10.0.8.0/24\"]}}",
		     NULL, "t.json:3: ipopd.advertise_routes: expected at most 8 prefixes, got 9",
		     NULL);
	expect_error(ADV_HEAD "\"advertise_routes\": [\"0.0.0.0/0\"]}}", NULL,
		     "t.json:3: ipopd.advertise_routes[0]: expected a prefix that can be routed, "
		     "got 0.0.0.0/0 (a default route (/0))",
		     NULL);
	expect_error(ADV_HEAD "\"advertise_routes\": [\"127.0.0.0/8\"]}}", NULL,
		     "t.json:3: ipopd.advertise_routes[0]: expected a prefix that can be routed",
		     "loopback");
	expect_error(ADV_HEAD "\"advertise_routes\": [\"fd50:dbc:41f2::/48\"]}}", NULL,
		     "t.json:3: ipopd.advertise_routes[0]: expected a prefix that can be routed",
		     "ULA");
	expect_error(
	    ADV_HEAD "\"advertise_routes\": [\"10.0.0.0/16\",\n\"10.0.11.0/24\"]}}", NULL,
	    "t.json:4: ipopd.advertise_routes[1]: expected a prefix that overlaps no other, "
	    "got 10.0.11.0/24 (overlaps ipopd.advertise_routes[0])",
	    NULL);
	expect_error(ADV_HEAD "\"advertise_routes\": [\"10.0.11.0/24\", \"10.0.11.0/24\"]}}", NULL,
		     "t.json:3: ipopd.advertise_routes[1]: expected a prefix that overlaps", NULL);
	/* Our own overlay subnet (ip4_mask defaults to 16), from inside or outside. */
	expect_error(ADV_HEAD "\"advertise_routes\": [\"10.254.7.0/24\"]}}", NULL,
		     "t.json:3: ipopd.advertise_routes[0]: expected a prefix outside the overlay "
		     "subnet 10.254.0.0/16",
		     "got 10.254.7.0/24");
	expect_error(ADV_HEAD "\"advertise_routes\": [\"10.0.0.0/8\"]}}", NULL,
		     "t.json:3: ipopd.advertise_routes[0]: expected a prefix outside the overlay",
		     NULL);
	/* A subnet a static peer routes too. */
	expect_error(ADV_HEAD "\"advertise_routes\": [\"10.0.11.0/24\"],\n"
			      "\"peers\": [{\"endpoint\": \"198.18.0.2:5800\", \"ip4\": "
			      "\"10.254.0.2\",\n"
			      "  \"routes\": [\"10.0.0.0/16\"], \"public_key\": "
			      "\"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\"}]}}",
		     NULL,
		     "t.json:3: ipopd.advertise_routes[0]: expected a prefix no peer routes, got "
		     "10.0.11.0/24 (overlaps ipopd.peers[0].routes[0])",
		     NULL);
	/* An L3 feature. */
	expect_error("{\"TincanSender\": {\"switchmode\": 1},\n\"ipopd\": {\n"
		     "\"advertise_routes\": [\"10.0.11.0/24\"]}}",
		     NULL, "t.json:3: ipopd.advertise_routes: expected no routes in switch mode",
		     NULL);
	log_set_level(LOG_INFO);
#undef ADV_HEAD
}

static void test_unknown_sections_warn(void **state)
{
	struct ipop_config c;
	struct capture cap;
	(void)state;
	capture_begin(&cap);
	load_ok("{\"TincanSender\": {\"switchmode\": 1},\n\"OverlayVisualizer\": {\"x\": 1},\n"
		"\"Logger\": {\"LogLevel\": \"INFO\"}}",
		NULL, &c);
	char *log = capture_end(&cap);
	assert_int_equal(count(log, " WARNING "), 2);
	assert_contains(log, "t.json:2: OverlayVisualizer: ignored:");
	assert_contains(log, "t.json:3: Logger.LogLevel: ignored:");
	free(log);
	ipop_config_free(&c);
}

/* ---- jsonpos on its own ------------------------------------------------ */

static void test_jsonpos(void **state)
{
	static const char t[] = "{\n"
				"  \"a\": {\"b\": 1,\n"
				"    \"c\\\"d\": [\n"
				"      \"x\\\"]{\",\n"
				"      {\"e\": {\"f\": [1, {\"g\": 2}]}}\n"
				"    ],\n"
				"    \"c\": [10,\n"
				"      20]\n"
				"  },\n"
				"  \"h\\u0069\": true\n"
				"}";
	size_t n = strlen(t);
	(void)state;
	assert_int_equal(jsonpos_line(t, n, "a"), 2);
	assert_int_equal(jsonpos_line(t, n, "a.b"), 2);
	assert_int_equal(jsonpos_line(t, n, "a.c"), 7);
	assert_int_equal(jsonpos_line(t, n, "a.c[0]"), 7);
	assert_int_equal(jsonpos_line(t, n, "a.c[1]"), 8);
	assert_int_equal(jsonpos_line(t, n, "a.c[2]"), 0);
	assert_int_equal(jsonpos_line(t, n, "a.c\"d[1].e.f[1].g"), 5);
	assert_int_equal(jsonpos_line(t, n, "hi"), 10);
	assert_int_equal(jsonpos_line(t, n, "a.x"), 0);
	assert_int_equal(jsonpos_line(t, n, "a.b.c"), 0);
	assert_int_equal(jsonpos_line(t, n, ""), 0);
	assert_int_equal(jsonpos_line(t, n, "a[0]"), 0);
	assert_int_equal(jsonpos_line(t, n, "a.c[x]"), 0);
	assert_int_equal(jsonpos_line(t, n, "a.c[99999999999999999999]"), 0);
	assert_int_equal(jsonpos_line("[1,\n2]", 6, "[1]"), 2);
	/* malformed or truncated text: every prefix of t, and some garbage */
	for (size_t i = 0; i < n; i++) {
		char *copy = malloc(i ? i : 1); /* exact size so ASan sees any overread */
		memcpy(copy, t, i);
		unsigned l = jsonpos_line(copy, i, "a.c\"d[1].e.f[1].g");
		assert_true(l == 0 || l == 5);
		jsonpos_line(copy, i, "hi");
		jsonpos_line(copy, i, "a.c[1]");
		free(copy);
	}
	static const char *bad[] = {
	    "{\"a\"",	    "{\"a\":", "{\"a\": [", "{\"a\\",
	    "{\"a\": \"\\", "{,}",     "}}}",	    "{\"a\": {]]]}, \"b\": 1}",
	    "\"\\u12"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = strlen(bad[i]);
		char *copy = malloc(len);
		memcpy(copy, bad[i], len);
		jsonpos_line(copy, len, "a.b");
		jsonpos_line(copy, len, "b");
		jsonpos_line(copy, len, "[0]");
		free(copy);
	}
	assert_int_equal(jsonpos_line(NULL, 0, "a"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_node_id_vectors),
	    cmocka_unit_test(test_seed_outer),
	    cmocka_unit_test(test_seed_inner),
	    cmocka_unit_test(test_seeds_side_by_side),
	    cmocka_unit_test(test_full_l3),
	    cmocka_unit_test(test_print_auto_mtu),
	    cmocka_unit_test(test_invalid_json),
	    cmocka_unit_test(test_wrong_types),
	    cmocka_unit_test(test_unknown_mode),
	    cmocka_unit_test(test_duplicate_port),
	    cmocka_unit_test(test_missing_keys),
	    cmocka_unit_test(test_ipopd_section),
	    cmocka_unit_test(test_tap_override),
	    cmocka_unit_test(test_peer_errors),
	    cmocka_unit_test(test_peer_warnings),
	    cmocka_unit_test(test_key_files),
	    cmocka_unit_test(test_conf_examples),
	    cmocka_unit_test(test_keyed_peers),
	    cmocka_unit_test(test_keyed_peer_errors),
	    cmocka_unit_test(test_psk),
	    cmocka_unit_test(test_psk_file),
	    cmocka_unit_test(test_allowed_keys),
	    cmocka_unit_test(test_link_timers),
	    cmocka_unit_test(test_conf_keyed_examples),
	    cmocka_unit_test(test_stun),
	    cmocka_unit_test(test_discovery),
	    cmocka_unit_test(test_advertise_routes),
	    cmocka_unit_test(test_unknown_sections_warn),
	    cmocka_unit_test(test_jsonpos),
	};
	return cmocka_run_group_tests(tests, setup_tmpdir, teardown_tmpdir);
}
