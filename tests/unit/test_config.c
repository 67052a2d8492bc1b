/* Config loader (control/config/config.c, config_ipopd.c): the IPOP seed
 * configs load with the values they mean, the examples in conf/ load, and
 * every rejection names file, line, key and what was expected. Key material
 * is test_config_keys.c, static peers test_config_peers.c, discovery
 * settings test_config_disc.c, jsonpos
 * test_jsonpos.c, node ids test_overlay.c. */
#include <openssl/evp.h>

#include "control/config/config.h"
#include "control/link/identity.h"
#include "control/link/noise.h"
#include "dataplane/worker.h"
#include "tests/unit/config_fixture.h"

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
	assert_int_equal(c.idle_spin_us, 30);
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
    "    \"idle_spin_us\": 250, \"tap\": \"ipop-l3\", \"mtu\": 1400, \"underlay_mtu\": 9000, "
    "\"pin_workers\": true,\n"
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
	assert_int_equal(c.idle_spin_us, 250);
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
	expect_error(IPOPD("\"backend\": \"af_xdp\""), NULL,
		     "t.json:3: ipopd.backend: expected ipopd.underlay_interface", "af_xdp");
	expect_error(IPOPD("\"backend\": \"af_xdp\", \"underlay_interface\": \"a b\""), NULL,
		     "t.json:3: ipopd.underlay_interface: expected an interface name", NULL);
	expect_error(IPOPD("\"backend\": \"af_xdp\", \"underlay_interface\": \"eth0\",\n"
			   "\"xdp_mode\": \"fast\""),
		     NULL, "t.json:4: ipopd.xdp_mode: expected \"auto\", \"native\" or \"generic\"",
		     "\"fast\"");
	/* dpdk: test_config_dpdk.c */
	expect_error(IPOPD("\"backend\": \"netmap\""), NULL, "t.json:3: ipopd.backend: expected",
		     "\"netmap\"");
	expect_error(IPOPD("\"workers\": 0"), NULL,
		     "t.json:3: ipopd.workers: expected an integer 1..64", NULL);
	expect_error(IPOPD("\"workers\": 65"), NULL, "t.json:3: ipopd.workers: expected", NULL);
	expect_error(IPOPD("\"idle\": \"lazy\""), NULL,
		     "t.json:3: ipopd.idle: expected \"adaptive\"", NULL);
	expect_error(IPOPD("\"burst\": 65"), NULL,
		     "t.json:3: ipopd.burst: expected an integer 1..64", NULL);
	expect_error(IPOPD("\"idle_spin_us\": 0"), NULL,
		     "t.json:3: ipopd.idle_spin_us: expected an integer 1..10000", NULL);
	expect_error(IPOPD("\"idle_spin_us\": \"long\""), NULL,
		     "t.json:3: ipopd.idle_spin_us: expected an integer 1..10000", NULL);
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
	load_ok(IPOPD("\"backend\": \"af_xdp\", \"underlay_interface\": \"eth1\", "
		      "\"xdp_mode\": \"generic\""),
		NULL, &c);
	assert_string_equal(c.backend, "af_xdp");
	assert_string_equal(c.underlay_interface, "eth1");
	assert_int_equal(c.xdp_mode, 2);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seed_outer),	       cmocka_unit_test(test_seed_inner),
	    cmocka_unit_test(test_seeds_side_by_side), cmocka_unit_test(test_full_l3),
	    cmocka_unit_test(test_print_auto_mtu),     cmocka_unit_test(test_invalid_json),
	    cmocka_unit_test(test_wrong_types),	       cmocka_unit_test(test_unknown_mode),
	    cmocka_unit_test(test_duplicate_port),     cmocka_unit_test(test_missing_keys),
	    cmocka_unit_test(test_ipopd_section),      cmocka_unit_test(test_tap_override),
	    cmocka_unit_test(test_conf_examples),      cmocka_unit_test(test_unknown_sections_warn),
	};
	return cmocka_run_group_tests(tests, setup_tmpdir, teardown_tmpdir);
}
