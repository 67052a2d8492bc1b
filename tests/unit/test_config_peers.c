/* Config loader, static peers (control/config/config_ipopd.c): every
 * malformed peer entry is refused naming file, line, key and what was
 * expected, and the doubtful ones load with a warning. The rest of the
 * loader is test_config.c. */

#include "control/config/config.h"
#include "tests/unit/config_fixture.h"

/* ---- peers ------------------------------------------------------------- */

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

/* ---- the examples in conf/ load (after the chmod the README asks for) --- */

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_peer_errors),
	    cmocka_unit_test(test_peer_warnings),
	};
	return cmocka_run_group_tests(tests, setup_tmpdir, teardown_tmpdir);
}
