/* Discovery settings in the config (control/config/config_disc.c and the
 * ipopd keys it relies on): STUN and TURN servers, XMPP group settings,
 * static candidates and advertise_routes. */
#include <openssl/evp.h>

#include "control/config/config.h"
#include "control/link/identity.h"
#include "control/link/noise.h"
#include "dataplane/worker.h"
#include "tests/unit/config_fixture.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stun),
	    cmocka_unit_test(test_discovery),
	    cmocka_unit_test(test_advertise_routes),
	};
	return cmocka_run_group_tests(tests, setup_tmpdir, teardown_tmpdir);
}
