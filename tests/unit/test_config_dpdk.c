/* The DPDK backend's settings (control/config/config_dpdk.c): what loads,
 * the defaults, and every rejection naming file, line, key and what was
 * expected. */
#include "control/config/config.h"
#include "tests/unit/config_fixture.h"

#define HEAD                                                                                       \
	"{\"BaseTopologyManager\": {\"ip4\": \"10.254.0.1\"},\n\"ipopd\": {\"backend\": "          \
	"\"dpdk\",\n"
#define DPDK(body) HEAD "\"dpdk\": {\n" body "}}}"
#define UNDERLAY                                                                                   \
	"\"underlay_port\": \"net_af_packet0,iface=eth1\", \"underlay_address\": "                 \
	"\"198.18.1.2/24\""

static void test_dpdk_ok(void **state)
{
	struct ipop_config c;
	(void)state;
	log_set_level(LOG_ERROR);

	/* Defaults: a net_tap on ipopd.tap, EAL in memory, one queue per worker. */
	load_ok(DPDK(UNDERLAY), NULL, &c);
	assert_string_equal(c.backend, "dpdk");
	assert_true(c.dpdk.set);
	assert_string_equal(c.dpdk.underlay_port, "net_af_packet0,iface=eth1");
	assert_int_equal(c.dpdk.underlay_ip, ip4_of("198.18.1.2"));
	assert_int_equal(c.dpdk.underlay_plen, 24);
	assert_int_equal(c.dpdk.underlay_gateway, 0);
	assert_string_equal(c.dpdk.host_port, "net_tap0,iface=ipop");
	assert_int_equal(c.dpdk.n_vhost_ports, 0);
	assert_int_equal(c.dpdk.n_eal_args, 1);
	assert_string_equal(c.dpdk.eal_args[0], "--in-memory");
	ipop_config_free(&c);

	/* vhost-user ports alone: no TAP unless host_port says so; relative
	 * paths are relative to the file (here the working directory). */
	load_ok(DPDK(UNDERLAY ",\n\"vhost_ports\": [\"/run/ipopd/vm1.sock\", \"vm2.sock\"],\n"
			      "\"eal_args\": [\"--no-huge\", \"-m\", \"512\"], \"queues\": 2,\n"
			      "\"underlay_gateway\": \"198.18.1.1\", \"mbufs\": 4096"),
		NULL, &c);
	assert_string_equal(c.dpdk.host_port, "");
	assert_int_equal(c.dpdk.n_vhost_ports, 2);
	assert_string_equal(c.dpdk.vhost_ports[0], "/run/ipopd/vm1.sock");
	assert_string_equal(c.dpdk.vhost_ports[1], "vm2.sock");
	assert_int_equal(c.dpdk.n_eal_args, 3);
	assert_string_equal(c.dpdk.eal_args[2], "512");
	assert_int_equal(c.dpdk.queues, 2);
	assert_int_equal(c.dpdk.mbufs, 4096);
	assert_int_equal(c.dpdk.underlay_gateway, ip4_of("198.18.1.1"));
	ipop_config_free(&c);

	/* Both sides. */
	load_ok(DPDK(UNDERLAY ",\n\"vhost_ports\": [\"/tmp/a.sock\"], \"host_port\": "
			      "\"net_tap0,iface=dk\""),
		NULL, &c);
	assert_string_equal(c.dpdk.host_port, "net_tap0,iface=dk");
	ipop_config_free(&c);

	/* A dpdk section with another backend is ignored, with a warning. */
	struct capture cap;
	capture_begin(&cap);
	load_ok("{\"BaseTopologyManager\": {\"ip4\": \"10.254.0.1\"},\n\"ipopd\": {\n"
		"\"dpdk\": {" UNDERLAY "}}}",
		NULL, &c);
	char *log = capture_end(&cap);
	assert_contains(log, "t.json:3: ipopd.dpdk: ignored: ipopd.backend is \"kernel\"");
	free(log);
	assert_string_equal(c.backend, "kernel");
	ipop_config_free(&c);
	log_set_level(LOG_INFO);
}

static void test_dpdk_errors(void **state)
{
	(void)state;
	log_set_level(LOG_ERROR);
	expect_error(HEAD "\"tap\": \"x\"}}", NULL,
		     "t.json:2: ipopd.dpdk: expected a device: a vdev", "with backend \"dpdk\"");
	expect_error(DPDK("\"underlay_address\": \"198.18.1.2/24\""), NULL,
		     "t.json:3: ipopd.dpdk.underlay_port: expected a device", NULL);
	expect_error(DPDK("\"underlay_port\": \"net_tap0\""), NULL,
		     "t.json:3: ipopd.dpdk.underlay_address: expected an IPv4 address with its "
		     "prefix length",
		     NULL);
	expect_error(DPDK("\"underlay_port\": \"net tap\""), NULL,
		     "t.json:4: ipopd.dpdk.underlay_port: expected a device", "no spaces");
	expect_error(DPDK("\"underlay_port\": 5"), NULL,
		     "t.json:4: ipopd.dpdk.underlay_port: expected", "integer");
	expect_error(DPDK("\"underlay_port\": \"\""), NULL,
		     "t.json:4: ipopd.dpdk.underlay_port: expected", NULL);
	expect_error(DPDK("\"underlay_address\": \"198.18.1.2\""), NULL,
		     "t.json:4: ipopd.dpdk.underlay_address: expected an IPv4 address with its",
		     "\"198.18.1.2\"");
	expect_error(DPDK("\"underlay_address\": \"fd00::1/64\""), NULL,
		     "t.json:4: ipopd.dpdk.underlay_address: expected", NULL);
	expect_error(DPDK("\"underlay_address\": \"224.0.0.1/24\""), NULL,
		     "t.json:4: ipopd.dpdk.underlay_address: expected a unicast", NULL);
	expect_error(DPDK("\"underlay_address\": \"198.18.1.2/33\""), NULL,
		     "t.json:4: ipopd.dpdk.underlay_address: expected", NULL);
	expect_error(DPDK(UNDERLAY ",\n\"underlay_gateway\": \"198.18.2.1\""), NULL,
		     "t.json:5: ipopd.dpdk.underlay_gateway: expected an address inside", NULL);
	expect_error(DPDK(UNDERLAY ",\n\"underlay_gateway\": \"198.18.1.2\""), NULL,
		     "t.json:5: ipopd.dpdk.underlay_gateway: expected another address", NULL);
	expect_error(DPDK(UNDERLAY ",\n\"host_port\": \"\""), NULL,
		     "t.json:5: ipopd.dpdk.host_port: expected a host side", NULL);
	expect_error(DPDK(UNDERLAY ",\n\"eal_args\": \"--no-huge\""), NULL,
		     "t.json:5: ipopd.dpdk.eal_args: expected an array of EAL arguments", NULL);
	expect_error(DPDK(UNDERLAY ",\n\"eal_args\": [\"-m 512\"]"), NULL,
		     "t.json:5: ipopd.dpdk.eal_args[0]: expected an EAL argument", NULL);
	expect_error(DPDK(UNDERLAY ",\n\"vhost_ports\": [\"/a.sock\", \"/a.sock\"]"), NULL,
		     "t.json:5: ipopd.dpdk.vhost_ports[1]: expected a path no other port uses",
		     NULL);
	expect_error(DPDK(UNDERLAY ",\n\"vhost_ports\": [\"/a,b.sock\"]"), NULL,
		     "t.json:5: ipopd.dpdk.vhost_ports[0]: expected a socket path", NULL);
	expect_error(
	    DPDK(UNDERLAY
		 ",\n\"vhost_ports\": [\"/" /* 120 characters */
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]"),
	    NULL, "t.json:5: ipopd.dpdk.vhost_ports[0]: expected a path of at most", NULL);
	expect_error(DPDK(UNDERLAY ",\n\"queues\": 0"), NULL,
		     "t.json:5: ipopd.dpdk.queues: expected an integer 1..16", NULL);
	expect_error(DPDK(UNDERLAY ",\n\"mbufs\": 10"), NULL,
		     "t.json:5: ipopd.dpdk.mbufs: expected an integer 1024..", NULL);
	expect_error(DPDK(UNDERLAY ",\n\"hugepages\": true"), NULL,
		     "t.json:5: ipopd.dpdk.hugepages: expected a key of ipopd.dpdk", NULL);
	expect_error(HEAD "\"dpdk\": [1]}}", NULL, "t.json:3: ipopd.dpdk: expected an object",
		     NULL);
	log_set_level(LOG_INFO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dpdk_ok),
	    cmocka_unit_test(test_dpdk_errors),
	};
	return cmocka_run_group_tests(tests, setup_tmpdir, teardown_tmpdir);
}
