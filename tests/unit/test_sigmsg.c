/* Unit tests for the signalling payloads (control/signalling/sigmsg.c):
 * round trips of every payload kind, each field broken in each way the
 * parser must refuse (mutations of a valid object, so a refusal is
 * attributable to the one change), size limits and builders that refuse
 * invalid structs. The member table is test_members.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "control/signalling/sigmsg.h"
#include "tests/unit/sig_fixture.h"
#include "util/log.h"

/* ---- node ids ---- */

static void test_node_id(void **state)
{
	struct sig_presence p;
	char hex[SIG_NODE_ID_HEXLEN + 1];
	uint8_t id[SIG_NODE_ID_LEN];
	(void)state;

	presence_make(&p, "10.0.3.100", mac_a, 1);
	sig_node_id_hex(p.node_id, hex);
	/* python3 -c "import hashlib;print(hashlib.sha1(b'10.0.3.100').hexdigest())" */
	assert_string_equal(hex, "f46d6281ae45f92ed5dd0b85aae702ddfb38ec23");
	assert_int_equal(sig_node_id_parse(hex, id), 0);
	assert_memory_equal(id, p.node_id, sizeof(id));
	/* ULA: fd50:0dbc:41f2:4a3c:: + first 64 bits of the id */
	assert_int_equal(p.ip6[0], 0xfd);
	assert_int_equal(p.ip6[1], 0x50);
	assert_memory_equal(p.ip6 + 8, p.node_id, 8);

	assert_int_equal(sig_node_id_parse("F46d6281ae45f92ed5dd0b85aae702ddfb38ec23", id),
			 -EINVAL);
	assert_int_equal(sig_node_id_parse("f46d6281ae45f92ed5dd0b85aae702ddfb38ec2", id), -EINVAL);
	assert_int_equal(sig_node_id_parse("f46d6281ae45f92ed5dd0b85aae702ddfb38ec233", id),
			 -EINVAL);
	assert_int_equal(sig_node_id_parse("g46d6281ae45f92ed5dd0b85aae702ddfb38ec23", id),
			 -EINVAL);
	assert_int_equal(sig_node_id_parse("0x6d6281ae45f92ed5dd0b85aae702ddfb38ec23", id),
			 -EINVAL);
	assert_int_equal(sig_node_id_parse(NULL, id), -EINVAL);
}

/* ---- presence ---- */

static void test_presence_round_trip(void **state)
{
	struct sig_presence p, q;
	char buf[SIG_MAX_PAYLOAD + 1], why[160];
	int n;
	(void)state;

	presence_make(&p, "192.168.1.100", mac_a, 7);
	n = sig_presence_build(&p, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	assert_non_null(strstr(buf, "\"ip4\":\"192.168.1.100\""));
	assert_non_null(strstr(buf, "\"mac\":\"02:00:00:00:00:0a\""));
	assert_non_null(strstr(buf, "\"port\":5800"));
	assert_non_null(strstr(buf, "\"version\":1"));
	memset(&q, 0x55, sizeof(q));
	assert_int_equal(sig_presence_parse(buf, (size_t)n, &q, why, sizeof(why)), 0);
	assert_memory_equal(&p, &q, sizeof(p));

	/* Too small a buffer: refused, not truncated. */
	assert_int_equal(sig_presence_build(&p, buf, (size_t)n), -ENOSPC);
	assert_int_equal(sig_presence_build(&p, buf, (size_t)n + 1), n);

	/* The builder refuses what the parser would refuse. */
	q = p;
	q.node_id[0] ^= 1;
	assert_int_equal(sig_presence_build(&q, buf, sizeof(buf)), -EINVAL);
	q = p;
	q.port = 0;
	assert_int_equal(sig_presence_build(&q, buf, sizeof(buf)), -EINVAL);
	q = p;
	q.mac[0] |= 1;
	assert_int_equal(sig_presence_build(&q, buf, sizeof(buf)), -EINVAL);
	q = p;
	q.version = 0;
	assert_int_equal(sig_presence_build(&q, buf, sizeof(buf)), -EINVAL);
	q = p;
	memset(q.public_key, 0, sizeof(q.public_key));
	assert_int_equal(sig_presence_build(&q, buf, sizeof(buf)), -EINVAL);
}

/* A valid presence object to mutate. */
static json_t *presence_obj(void)
{
	struct sig_presence p;
	char buf[SIG_MAX_PAYLOAD + 1];
	json_t *o;
	presence_make(&p, "10.0.3.100", mac_a, 1);
	assert_true(sig_presence_build(&p, buf, sizeof(buf)) > 0);
	o = json_loads(buf, 0, NULL);
	assert_non_null(o);
	return o;
}

static int parse_presence_obj(json_t *o, char *why, size_t whylen)
{
	struct sig_presence p;
	char *s = json_dumps(o, JSON_COMPACT);
	int r;
	assert_non_null(s);
	r = sig_presence_parse(s, strlen(s), &p, why, whylen);
	free(s);
	json_decref(o);
	return r;
}

/* Expect refusal with `field` named in the reason. */
static void presence_bad(const char *field, json_t *value, const char *expect_in_why)
{
	char why[256] = "";
	json_t *o = presence_obj();
	if (value)
		json_object_set_new(o, field, value);
	else
		json_object_del(o, field);
	int r = parse_presence_obj(o, why, sizeof(why));
	if (r != -EBADMSG)
		fail_msg("presence with bad %s accepted", field);
	if (!strstr(why, expect_in_why))
		fail_msg("reason for bad %s: \"%s\" lacks \"%s\"", field, why, expect_in_why);
}

static void test_presence_malformed(void **state)
{
	static const char *const fields[] = {"node_id", "version",    "ip4", "ip6",
					     "mac",	"public_key", "port"};
	(void)state;

	for (unsigned i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		presence_bad(fields[i], NULL, "required");
		presence_bad(fields[i], json_null(), fields[i]);
		presence_bad(fields[i], json_array(), fields[i]);
		presence_bad(fields[i], json_object(), fields[i]);
		presence_bad(fields[i], json_true(), fields[i]);
	}
	/* node id: format, then consistency with ip4 */
	presence_bad("node_id", json_string("F46D6281AE45F92ED5DD0B85AAE702DDFB38EC23"), "node_id");
	presence_bad("node_id", json_string("f46d6281ae45f92ed5dd0b85aae702ddfb38ec2"), "node_id");
	presence_bad("node_id", json_string("f46d6281ae45f92ed5dd0b85aae702ddfb38ec2z"), "node_id");
	presence_bad("node_id", json_string(""), "node_id");
	presence_bad("node_id", json_string("046d6281ae45f92ed5dd0b85aae702ddfb38ec23"), "SHA-1");
	presence_bad("node_id", json_integer(1), "node_id");
	/* version */
	presence_bad("version", json_integer(0), "version");
	presence_bad("version", json_integer(-1), "version");
	presence_bad("version", json_integer(65536), "version");
	presence_bad("version", json_string("1"), "version");
	presence_bad("version", json_real(1.0), "version");
	/* ip4: syntax, one spelling, usable; a different valid ip4 breaks the id */
	presence_bad("ip4", json_string("010.0.3.100"), "ip4");
	presence_bad("ip4", json_string("10.0.3.100 "), "ip4");
	presence_bad("ip4", json_string("10.0.3"), "ip4");
	presence_bad("ip4", json_string("10.0.3.256"), "ip4");
	presence_bad("ip4", json_string("::1"), "ip4");
	presence_bad("ip4", json_string("0.0.0.0"), "ip4");
	presence_bad("ip4", json_string("127.0.0.1"), "ip4");
	presence_bad("ip4", json_string("224.0.0.5"), "ip4");
	presence_bad("ip4", json_string("255.255.255.255"), "ip4");
	presence_bad("ip4", json_string("10.0.3.101"), "SHA-1");
	presence_bad("ip4", json_integer(167773028), "ip4");
	/* ip6 */
	presence_bad("ip6", json_string("fd50:dbc:41f2:4a3c::1"), "ip6");
	presence_bad("ip6", json_string("10.0.3.100"), "ip6");
	presence_bad("ip6", json_string("fd50:0dbc:41f2:4a3c:f46d:6281:ae45:f92f"), "ip6");
	presence_bad("ip6", json_string("fd50::zz"), "ip6");
	/* mac */
	presence_bad("mac", json_string("02:00:00:00:00"), "mac");
	presence_bad("mac", json_string("02-00-00-00-00-0a"), "mac");
	presence_bad("mac", json_string("02:00:00:00:00:0g"), "mac");
	presence_bad("mac", json_string("02:00:00:00:00:0a:"), "mac");
	presence_bad("mac", json_string("0200.0000.000a"), "mac");
	presence_bad("mac", json_string("01:00:5e:00:00:01"), "unicast");
	presence_bad("mac", json_string("00:00:00:00:00:00"), "non-zero");
	presence_bad("mac",
		     json_string("\x10"
				 "2:00:00:00:00:0a"),
		     "mac");
	/* public key */
	presence_bad("public_key", json_string("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"),
		     "public_key");
	presence_bad("public_key", json_string("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=="),
		     "public_key");
	presence_bad("public_key", json_string("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9="),
		     "public_key");
	presence_bad("public_key", json_string("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh*="),
		     "public_key");
	presence_bad("public_key", json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
		     "non-zero");
	presence_bad("public_key", json_string(""), "public_key");
	/* port */
	presence_bad("port", json_integer(0), "port");
	presence_bad("port", json_integer(65536), "port");
	presence_bad("port", json_integer(-5800), "port");
	presence_bad("port", json_string("5800"), "port");
	presence_bad("port", json_real(5800.5), "port");
}

static void test_presence_envelope(void **state)
{
	struct sig_presence p;
	char why[256], big[SIG_MAX_PAYLOAD + 64];
	json_t *o;
	(void)state;

	/* Unknown fields are ignored. */
	o = presence_obj();
	json_object_set_new(o, "future_field", json_pack("{s:[i,i]}", "x", 1, 2));
	assert_int_equal(parse_presence_obj(o, why, sizeof(why)), 0);

	/* Invalid JSON, wrong top level, empty, duplicates, NUL, oversize. */
	assert_int_equal(sig_presence_parse("{", 1, &p, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "invalid JSON"));
	assert_int_equal(sig_presence_parse("[1,2]", 5, &p, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "object"));
	assert_int_equal(sig_presence_parse("\"x\"", 3, &p, why, sizeof(why)), -EBADMSG);
	assert_int_equal(sig_presence_parse("", 0, &p, why, sizeof(why)), -EBADMSG);
	assert_int_equal(sig_presence_parse(NULL, 0, &p, NULL, 0), -EBADMSG);
	assert_int_equal(sig_presence_parse("{\"port\":1,\"port\":2}", 20, &p, why, sizeof(why)),
			 -EBADMSG);
	assert_non_null(strstr(why, "duplicate"));
	assert_int_equal(sig_presence_parse("{}\0{}", 5, &p, why, sizeof(why)), -EBADMSG);
	assert_int_equal(
	    sig_presence_parse("{\"node_id\":\"a\\u0000b\"}", 22, &p, why, sizeof(why)), -EBADMSG);

	/* Exactly at the limit passes the size check; one byte more does not. */
	o = presence_obj();
	char *s = json_dumps(o, JSON_COMPACT);
	size_t pad = SIG_MAX_PAYLOAD - strlen(s) - strlen(",\"pad\":\"\"");
	free(s);
	char *padding = malloc(pad + 2);
	memset(padding, 'x', pad + 1);
	json_object_set_new(o, "pad", json_stringn(padding, pad));
	s = json_dumps(o, JSON_COMPACT);
	assert_int_equal(strlen(s), SIG_MAX_PAYLOAD);
	assert_int_equal(sig_presence_parse(s, strlen(s), &p, why, sizeof(why)), 0);
	free(s);
	json_object_set_new(o, "pad", json_stringn(padding, pad + 1));
	s = json_dumps(o, JSON_COMPACT);
	assert_int_equal(strlen(s), SIG_MAX_PAYLOAD + 1);
	assert_int_equal(sig_presence_parse(s, strlen(s), &p, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "exceeds"));
	free(s);
	free(padding);
	json_decref(o);

	memset(big, ' ', sizeof(big));
	assert_int_equal(sig_presence_parse(big, sizeof(big), &p, why, sizeof(why)), -EBADMSG);
	/* why may be NULL */
	assert_int_equal(sig_presence_parse("{", 1, &p, NULL, 0), -EBADMSG);
}

/* ---- routed subnets ---- */

static void test_presence_routes_round_trip(void **state)
{
	static const char *const two[] = {"10.0.11.0/24", "fd00:11::/64"};
	static const char *const eight[] = {"10.0.0.0/24", "10.0.1.0/24",   "10.0.2.0/24",
					    "10.0.3.0/25", "192.0.2.0/24",  "2001:db8::/32",
					    "fd00:1::/48", "203.0.113.7/32"};
	struct sig_presence p, q;
	char buf[SIG_MAX_PAYLOAD + 1], why[160] = "";
	int n;
	(void)state;

	/* Without routes the key is not sent at all (older peers see nothing new). */
	presence_make(&p, "10.254.0.1", mac_a, 7);
	n = sig_presence_build(&p, buf, sizeof(buf));
	assert_true(n > 0);
	assert_null(strstr(buf, "routes"));

	routes_set(&p, 2, two);
	n = sig_presence_build(&p, buf, sizeof(buf));
	assert_true(n > 0);
	assert_non_null(strstr(buf, "\"routes\":[\"10.0.11.0/24\",\"fd00:11::/64\"]"));
	memset(&q, 0x55, sizeof(q));
	if (sig_presence_parse(buf, (size_t)n, &q, why, sizeof(why)))
		fail_msg("%s: %s", buf, why);
	assert_memory_equal(&p, &q, sizeof(p));
	assert_int_equal(q.nroutes, 2);
	assert_int_equal(q.routes[1].family, AF_INET6);

	routes_set(&p, SIG_MAX_ROUTES, eight);
	n = sig_presence_build(&p, buf, sizeof(buf));
	assert_true(n > 0);
	memset(&q, 0x55, sizeof(q));
	assert_int_equal(sig_presence_parse(buf, (size_t)n, &q, why, sizeof(why)), 0);
	assert_memory_equal(&p, &q, sizeof(p));

	/* An empty list is the same as none. */
	presence_make(&p, "10.254.0.1", mac_a, 7);
	n = sig_presence_build(&p, buf, sizeof(buf));
	assert_true(n > 0 && buf[n - 1] == '}');
	memcpy(buf + n - 1, ",\"routes\":[]}", 14);
	assert_int_equal(sig_presence_parse(buf, strlen(buf), &q, why, sizeof(why)), 0);
	assert_memory_equal(&p, &q, sizeof(p));

	/* The builder refuses routes the parser would refuse. */
	routes_set(&p, 2, two);
	q = p;
	q.nroutes = SIG_MAX_ROUTES + 1;
	assert_int_equal(sig_presence_build(&q, buf, sizeof(buf)), -EINVAL);
	q = p;
	q.routes[0].addr[15] = 1; /* host bit */
	assert_int_equal(sig_presence_build(&q, buf, sizeof(buf)), -EINVAL);
	q = p;
	q.routes[1] = q.routes[0];
	assert_int_equal(sig_presence_build(&q, buf, sizeof(buf)), -EINVAL);
	q = p;
	q.routes[0] = pfx("0.0.0.0/0");
	assert_int_equal(sig_presence_build(&q, buf, sizeof(buf)), -EINVAL);
	q = p;
	q.routes[0] = pfx("10.254.0.0/24"); /* its own ip4 */
	assert_int_equal(sig_presence_build(&q, buf, sizeof(buf)), -EINVAL);
	q = p;
	q.routes[5] = pfx("10.9.0.0/16"); /* past nroutes: must be zero */
	assert_int_equal(sig_presence_build(&q, buf, sizeof(buf)), -EINVAL);
	q = p;
	q.routes[0].family = 0;
	assert_int_equal(sig_presence_build(&q, buf, sizeof(buf)), -EINVAL);
	q = p;
	assert_true(sig_presence_build(&q, buf, sizeof(buf)) > 0);
}

static void routes_bad(json_t *routes, const char *expect_in_why)
{
	char why[256] = "";
	json_t *o = presence_obj();
	json_object_set_new(o, "routes", routes);
	char *s = json_dumps(o, JSON_COMPACT);
	int r = parse_presence_obj(o, why, sizeof(why));
	if (r != -EBADMSG)
		fail_msg("presence with bad routes accepted: %s", s);
	if (!strstr(why, expect_in_why))
		fail_msg("reason for %s: \"%s\" lacks \"%s\"", s, why, expect_in_why);
	free(s);
}

/* A good route first, so the index in the reason is checked as well. */
static void route_bad(const char *prefix, const char *expect_in_why)
{
	routes_bad(json_pack("[s, s]", "10.9.0.0/16", prefix), expect_in_why);
}

static void test_presence_routes_malformed(void **state)
{
	char big[200];
	(void)state;

	/* The presence mutated here is 10.0.3.100's (see presence_obj). */
	routes_bad(json_string("10.0.11.0/24"), "routes: expected an array");
	routes_bad(json_object(), "routes: expected an array");
	routes_bad(json_null(), "routes: expected an array");
	routes_bad(json_true(), "routes: expected an array");
	routes_bad(json_integer(1), "routes: expected an array");
	routes_bad(json_pack("[s,s,s,s,s,s,s,s,s]", "10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16",
			     "10.4.0.0/16", "10.5.0.0/16", "10.6.0.0/16", "10.7.0.0/16",
			     "10.8.0.0/16", "10.9.0.0/16"),
		   "routes: 9 entries, at most 8");
	routes_bad(json_pack("[i]", 24), "routes[0]: expected a string");
	routes_bad(json_pack("[s, n]", "10.1.0.0/16"), "routes[1]: expected a string");
	routes_bad(json_pack("[[s]]", "10.1.0.0/16"), "routes[0]: expected a string");
	/* syntax */
	route_bad("", "routes[1]: expected a prefix");
	route_bad("10.0.11.0", "routes[1]: expected a prefix"); /* the length is required */
	route_bad("10.0.11.0/", "routes[1]: expected a prefix");
	route_bad("10.0.11.0/33", "routes[1]: expected a prefix");
	route_bad("10.0.11.0/-1", "routes[1]: expected a prefix");
	route_bad("10.0.11.0/+24", "routes[1]: expected a prefix");
	route_bad("10.0.11.0/24 ", "routes[1]: expected a prefix");
	route_bad(" 10.0.11.0/24", "routes[1]: expected a prefix");
	route_bad("10.0.11/24", "routes[1]: expected a prefix");
	route_bad("fd00::/129", "routes[1]: expected a prefix");
	route_bad("fd00::g/64", "routes[1]: expected a prefix");
	route_bad("eth0", "routes[1]: expected a prefix");
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	route_bad(big, "routes[1]: expected a prefix");
	/* host bits, one spelling */
	route_bad("10.0.11.1/24", "routes[1]: host bits set (expected 10.0.11.0/24)");
	route_bad("fd00::1/64", "routes[1]: host bits set");
	route_bad("10.0.11.0/024", "routes[1]: expected the canonical spelling 10.0.11.0/24");
	route_bad("FD00:11::/64", "canonical spelling fd00:11::/64");
	route_bad("fd00:11:0::/64", "canonical spelling fd00:11::/64");
	route_bad("fd00:0011::/64", "canonical spelling fd00:11::/64");
	/* what may be routed */
	route_bad("0.0.0.0/0", "routes[1]: a default route");
	route_bad("::/0", "routes[1]: a default route");
	route_bad("0.0.0.0/8", "0.0.0.0/8");
	route_bad("127.0.0.0/8", "loopback");
	route_bad("127.0.0.1/32", "loopback");
	route_bad("224.0.0.0/4", "multicast");
	route_bad("255.255.255.255/32", "broadcast");
	route_bad("192.0.0.0/2", "224.0.0.0/3"); /* contains it */
	route_bad("::1/128", "::/8");
	route_bad("::ffff:10.0.0.0/104", "IPv4-mapped");
	route_bad("fe80::/64", "link-local");
	route_bad("ff02::/16", "multicast");
	route_bad("fd50:dbc:41f2:4a3c::/64", "ULA");
	route_bad("fd50:dbc:41f2::/48", "ULA");
	route_bad("fd50:dbc:41f2:4a3c:1::/80", "ULA");
	route_bad("fc00::/7", "ULA");
	route_bad("10.9.0.0/16", "routes[1]: a duplicate");
	/* its own addresses */
	route_bad("10.0.3.0/24", "routes[1]: covers the member's own ip4 or ip6");
	route_bad("10.0.3.100/32", "own ip4");
	route_bad("10.0.0.0/8", "own ip4");
}
/* ---- messages ---- */

static void message_make(struct sig_message *m, enum sig_msg_type type)
{
	struct sig_presence a, b;
	presence_make(&a, "10.0.3.100", mac_a, 1);
	presence_make(&b, "10.0.3.101", mac_b, 2);
	memset(m, 0, sizeof(*m));
	m->type = type;
	memcpy(m->from_id, a.node_id, SIG_NODE_ID_LEN);
	memcpy(m->to_id, b.node_id, SIG_NODE_ID_LEN);
	m->seq = 42;
	if (type == SIG_MSG_CON_REQ || type == SIG_MSG_CON_RESP) {
		m->link_kind = SIG_LINK_CHORD;
		m->ncand = 4;
		m->cand[0].kind = SIG_CAND_HOST;
		assert_int_equal(net_endpoint_parse("198.18.0.1:5800", &m->cand[0].addr), 0);
		m->cand[0].prio = 100;
		m->cand[1].kind = SIG_CAND_SRFLX;
		assert_int_equal(net_endpoint_parse("[2001:db8::1]:5801", &m->cand[1].addr), 0);
		m->cand[1].prio = 4294967295u;
		m->cand[2].kind = SIG_CAND_RELAY;
		assert_int_equal(net_endpoint_parse("198.19.0.7:3478", &m->cand[2].addr), 0);
		m->cand[2].prio = 0;
		m->cand[3].kind = SIG_CAND_STATIC;
		assert_int_equal(net_endpoint_parse("203.0.113.9:65535", &m->cand[3].addr), 0);
		m->cand[3].prio = 7;
	}
	if (type == SIG_MSG_CON_RESP)
		m->accept = true;
}

static void message_round_trip(const struct sig_message *m)
{
	struct sig_message q;
	char buf[SIG_MAX_PAYLOAD + 1], why[160] = "";
	int n = sig_message_build(m, buf, sizeof(buf));
	assert_true(n > 0);
	memset(&q, 0x55, sizeof(q));
	if (sig_message_parse(buf, (size_t)n, &q, why, sizeof(why)))
		fail_msg("round trip of %s failed: %s (%s)", sig_msg_type_name(m->type), why, buf);
	assert_int_equal(q.type, m->type);
	assert_memory_equal(q.from_id, m->from_id, SIG_NODE_ID_LEN);
	assert_memory_equal(q.to_id, m->to_id, SIG_NODE_ID_LEN);
	assert_int_equal(q.link_kind, m->link_kind);
	assert_int_equal(q.seq, m->seq);
	assert_int_equal(q.accept, m->type == SIG_MSG_CON_RESP && m->accept);
	assert_string_equal(q.reason, m->reason);
	assert_int_equal(q.ncand, m->ncand);
	for (unsigned i = 0; i < m->ncand; i++) {
		assert_int_equal(q.cand[i].kind, m->cand[i].kind);
		assert_int_equal(q.cand[i].prio, m->cand[i].prio);
		assert_true(net_endpoint_equal(&q.cand[i].addr, &m->cand[i].addr));
		assert_int_equal(q.cand[i].addr.family, m->cand[i].addr.family);
	}
}

static void test_message_round_trips(void **state)
{
	struct sig_message m;
	char buf[SIG_MAX_PAYLOAD + 1];
	(void)state;

	message_make(&m, SIG_MSG_CON_REQ);
	message_round_trip(&m);
	for (int k = SIG_LINK_SUCCESSOR; k <= SIG_LINK_STATIC; k++) {
		m.link_kind = (enum sig_link_kind)k;
		message_round_trip(&m);
	}
	m.ncand = 0; /* a node with no candidate yet may still ask */
	message_round_trip(&m);
	m.ncand = SIG_MAX_CANDIDATES;
	for (unsigned i = 0; i < SIG_MAX_CANDIDATES; i++) {
		char a[32];
		snprintf(a, sizeof(a), "198.18.1.%u:%u", i + 1, 5800 + i);
		assert_int_equal(net_endpoint_parse(a, &m.cand[i].addr), 0);
		m.cand[i].kind = (enum sig_cand_kind)(i % 4);
		m.cand[i].prio = i * 1000;
	}
	message_round_trip(&m);
	m.seq = (UINT64_C(1) << 53) - 1;
	message_round_trip(&m);

	message_make(&m, SIG_MSG_CON_RESP);
	message_round_trip(&m);
	m.accept = false;
	m.ncand = 0;
	snprintf(m.reason, sizeof(m.reason), "num_inbound reached (8)");
	message_round_trip(&m);

	message_make(&m, SIG_MSG_PING);
	message_round_trip(&m);
	assert_true(sig_message_build(&m, buf, sizeof(buf)) > 0);
	assert_null(strstr(buf, "candidates")); /* nothing optional is invented */
	assert_null(strstr(buf, "link_kind"));
	message_make(&m, SIG_MSG_PONG);
	m.seq = 0;
	message_round_trip(&m);

	/* The builder refuses invalid structs. */
	message_make(&m, SIG_MSG_CON_REQ);
	m.ncand = SIG_MAX_CANDIDATES + 1;
	assert_int_equal(sig_message_build(&m, buf, sizeof(buf)), -EINVAL);
	message_make(&m, SIG_MSG_CON_REQ);
	m.link_kind = SIG_LINK_NONE;
	assert_int_equal(sig_message_build(&m, buf, sizeof(buf)), -EINVAL);
	message_make(&m, SIG_MSG_CON_REQ);
	memcpy(m.to_id, m.from_id, SIG_NODE_ID_LEN);
	assert_int_equal(sig_message_build(&m, buf, sizeof(buf)), -EINVAL);
	message_make(&m, SIG_MSG_CON_REQ);
	m.cand[1].addr.port = 0;
	assert_int_equal(sig_message_build(&m, buf, sizeof(buf)), -EINVAL);
	message_make(&m, SIG_MSG_CON_REQ);
	m.seq = UINT64_C(1) << 53;
	assert_int_equal(sig_message_build(&m, buf, sizeof(buf)), -EINVAL);
	message_make(&m, SIG_MSG_CON_RESP);
	snprintf(m.reason, sizeof(m.reason), "bad\nline");
	assert_int_equal(sig_message_build(&m, buf, sizeof(buf)), -EINVAL);
	message_make(&m, SIG_MSG_CON_REQ);
	m.type = (enum sig_msg_type)9;
	assert_int_equal(sig_message_build(&m, buf, sizeof(buf)), -EINVAL);
	message_make(&m, SIG_MSG_CON_REQ);
	assert_int_equal(sig_message_build(&m, buf, 10), -ENOSPC);
}

static json_t *message_obj(enum sig_msg_type type)
{
	struct sig_message m;
	char buf[SIG_MAX_PAYLOAD + 1];
	json_t *o;
	message_make(&m, type);
	assert_true(sig_message_build(&m, buf, sizeof(buf)) > 0);
	o = json_loads(buf, 0, NULL);
	assert_non_null(o);
	return o;
}

/* Applies value at key (NULL deletes) inside candidates[idx] when idx >= 0. */
static void message_bad_at(enum sig_msg_type type, int idx, const char *key, json_t *value,
			   const char *expect)
{
	struct sig_message m;
	char why[256] = "";
	json_t *o = message_obj(type), *target = o;
	if (idx >= 0)
		target = json_array_get(json_object_get(o, "candidates"), (size_t)idx);
	assert_non_null(target);
	if (value)
		json_object_set_new(target, key, value);
	else
		json_object_del(target, key);
	char *s = json_dumps(o, JSON_COMPACT);
	int r = sig_message_parse(s, strlen(s), &m, why, sizeof(why));
	if (r != -EBADMSG)
		fail_msg("%s with bad %s accepted: %s", sig_msg_type_name(type), key, s);
	if (!strstr(why, expect))
		fail_msg("reason for bad %s: \"%s\" lacks \"%s\"", key, why, expect);
	free(s);
	json_decref(o);
}

static void message_bad(enum sig_msg_type type, const char *key, json_t *value, const char *expect)
{
	message_bad_at(type, -1, key, value, expect);
}

static void test_message_malformed(void **state)
{
	static const char *const required[] = {"type", "from_id",   "to_id",
					       "seq",  "link_kind", "candidates"};
	(void)state;

	for (unsigned i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		message_bad(SIG_MSG_CON_REQ, required[i], NULL, required[i]);
		message_bad(SIG_MSG_CON_REQ, required[i], json_null(), required[i]);
		message_bad(SIG_MSG_CON_REQ, required[i], json_real(1.5), required[i]);
		message_bad(SIG_MSG_CON_REQ, required[i], json_false(), required[i]);
	}
	message_bad(SIG_MSG_CON_RESP, "accept", NULL, "accept");
	message_bad(SIG_MSG_CON_RESP, "accept", json_string("true"), "accept");
	message_bad(SIG_MSG_CON_RESP, "accept", json_integer(1), "accept");
	message_bad(SIG_MSG_CON_RESP, "candidates", NULL, "candidates");
	message_bad(SIG_MSG_CON_RESP, "link_kind", NULL, "link_kind");

	message_bad(SIG_MSG_CON_REQ, "type", json_string("con_request"), "type");
	message_bad(SIG_MSG_CON_REQ, "type", json_string("CON_REQ"), "type");
	message_bad(SIG_MSG_CON_REQ, "type", json_string(""), "type");
	message_bad(SIG_MSG_CON_REQ, "from_id", json_string("xyz"), "from_id");
	message_bad(SIG_MSG_CON_REQ, "to_id",
		    json_string("F46D6281AE45F92ED5DD0B85AAE702DDFB38EC23"), "to_id");
	message_bad(SIG_MSG_CON_REQ, "to_id",
		    json_string("f46d6281ae45f92ed5dd0b85aae702ddfb38ec23"), "equals");
	message_bad(SIG_MSG_CON_REQ, "seq", json_integer(-1), "seq");
	message_bad(SIG_MSG_CON_REQ, "seq", json_integer((json_int_t)1 << 53), "seq");
	message_bad(SIG_MSG_CON_REQ, "seq", json_string("1"), "seq");
	message_bad(SIG_MSG_CON_REQ, "link_kind", json_string("ring"), "link_kind");
	message_bad(SIG_MSG_CON_REQ, "link_kind", json_string(""), "link_kind");
	message_bad(SIG_MSG_CON_REQ, "link_kind", json_integer(1), "link_kind");
	message_bad(SIG_MSG_CON_REQ, "candidates", json_object(), "candidates");
	message_bad(SIG_MSG_CON_REQ, "candidates", json_string("198.18.0.1:1"), "candidates");
	message_bad(SIG_MSG_CON_REQ, "reason", json_integer(3), "reason");
	message_bad(SIG_MSG_CON_RESP, "reason", json_string("tab\there"), "reason");
	message_bad(SIG_MSG_CON_RESP, "reason", json_string("caf\xc3\xa9"), "reason");
	char longr[SIG_REASON_MAX + 2];
	memset(longr, 'r', sizeof(longr) - 1);
	longr[sizeof(longr) - 1] = 0;
	message_bad(SIG_MSG_CON_RESP, "reason", json_string(longr), "reason");

	/* Known fields are type-checked even where they are optional. */
	message_bad(SIG_MSG_PING, "link_kind", json_string("bogus"), "link_kind");
	message_bad(SIG_MSG_PING, "candidates", json_integer(0), "candidates");
	message_bad(SIG_MSG_PONG, "accept", json_string("no"), "accept");
	message_bad(SIG_MSG_PING, "seq", NULL, "seq");

	/* Candidates. */
	json_t *many = json_array();
	for (int i = 0; i < SIG_MAX_CANDIDATES + 1; i++)
		json_array_append_new(many, json_pack("{s:s,s:s,s:i}", "kind", "host", "addr",
						      "198.18.0.1:5800", "prio", i));
	message_bad(SIG_MSG_CON_REQ, "candidates", many, "at most 16");
	message_bad(SIG_MSG_CON_REQ, "candidates", json_pack("[i]", 1), "candidates[0]");
	message_bad(SIG_MSG_CON_REQ, "candidates", json_pack("[[]]"), "candidates[0]");

	static const char *const bad_addrs[] = {
	    "198.18.0.1",
	    "198.18.0.1:0",
	    "198.18.0.1:65536",
	    "198.18.0.1:-1",
	    "198.18.0.1:+80",
	    "198.18.0.1:80x",
	    "198.18.0.1: 80",
	    "[::1]",
	    "::1:5800",
	    "[::1:5800",
	    "[fe80::1]:5800",
	    "[fe80::1%eth0]:5800",
	    "0.0.0.0:5800",
	    "224.0.0.1:5800",
	    "255.255.255.255:1",
	    "[::]:5800",
	    "[ff02::1]:5800",
	    "[::ffff:198.18.0.1]:5800",
	    "host.example:5800",
	    "",
	    ":5800",
	    "[]:5800",
	    "198.18.0.01:5800",
	};
	for (unsigned i = 0; i < sizeof(bad_addrs) / sizeof(bad_addrs[0]); i++)
		message_bad_at(SIG_MSG_CON_REQ, 1, "addr", json_string(bad_addrs[i]),
			       "candidates[1].addr");
	message_bad_at(SIG_MSG_CON_REQ, 1, "addr", json_integer(5), "candidates[1].addr");
	message_bad_at(SIG_MSG_CON_REQ, 1, "addr", NULL, "candidates[1].addr: required");
	message_bad_at(SIG_MSG_CON_REQ, 2, "kind", json_string("prflx"), "candidates[2].kind");
	message_bad_at(SIG_MSG_CON_REQ, 2, "kind", NULL, "candidates[2].kind");
	message_bad_at(SIG_MSG_CON_REQ, 3, "prio", json_integer(-1), "candidates[3].prio");
	message_bad_at(SIG_MSG_CON_REQ, 3, "prio", json_integer(4294967296LL),
		       "candidates[3].prio");
	message_bad_at(SIG_MSG_CON_REQ, 3, "prio", json_string("1"), "candidates[3].prio");
	message_bad_at(SIG_MSG_CON_REQ, 3, "prio", NULL, "candidates[3].prio");
}

static void test_message_envelope(void **state)
{
	struct sig_message m;
	char why[256];
	json_t *o;
	(void)state;

	/* Unknown fields, also inside candidates, are ignored. */
	o = message_obj(SIG_MSG_CON_REQ);
	json_object_set_new(o, "ttl", json_integer(3));
	json_object_set_new(json_array_get(json_object_get(o, "candidates"), 0), "foundation",
			    json_string("x"));
	char *s = json_dumps(o, JSON_COMPACT);
	assert_int_equal(sig_message_parse(s, strlen(s), &m, why, sizeof(why)), 0);
	assert_int_equal(m.ncand, 4);
	free(s);
	json_decref(o);

	assert_int_equal(sig_message_parse("{\"type\":", 8, &m, why, sizeof(why)), -EBADMSG);
	assert_int_equal(sig_message_parse("null", 4, &m, why, sizeof(why)), -EBADMSG);
	assert_int_equal(
	    sig_message_parse("{\"type\":\"ping\",\"type\":\"pong\"}", 29, &m, why, sizeof(why)),
	    -EBADMSG);
	char big[SIG_MAX_PAYLOAD + 1];
	memset(big, ' ', sizeof(big));
	big[0] = '{';
	big[sizeof(big) - 1] = '}';
	assert_int_equal(sig_message_parse(big, sizeof(big), &m, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "exceeds"));
	/* 4096 bytes of whitespace-padded {} is within the limit, then fails on fields */
	assert_int_equal(sig_message_parse(big, SIG_MAX_PAYLOAD, &m, why, sizeof(why)), -EBADMSG);
	assert_null(strstr(why, "exceeds"));
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(sig_msg_type_name(SIG_MSG_CON_REQ), "con_req");
	assert_string_equal(sig_msg_type_name(SIG_MSG_PONG), "pong");
	assert_string_equal(sig_link_kind_name(SIG_LINK_ON_DEMAND), "on_demand");
	assert_string_equal(sig_link_kind_name(SIG_LINK_NONE), "");
	assert_string_equal(sig_cand_kind_name(SIG_CAND_SRFLX), "srflx");
	assert_string_equal(sig_cand_kind_name((enum sig_cand_kind)77), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_node_id),
	    cmocka_unit_test(test_presence_round_trip),
	    cmocka_unit_test(test_presence_malformed),
	    cmocka_unit_test(test_presence_envelope),
	    cmocka_unit_test(test_presence_routes_round_trip),
	    cmocka_unit_test(test_presence_routes_malformed),
	    cmocka_unit_test(test_message_round_trips),
	    cmocka_unit_test(test_message_malformed),
	    cmocka_unit_test(test_message_envelope),
	    cmocka_unit_test(test_names),
	};
	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
