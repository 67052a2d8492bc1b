/* Unit tests for the member table (control/signalling/members.c): members
 * added, changed and re-announced, every kind of conflict with another
 * member or with us (keys, addresses, routes), stale sweeps and removal by
 * bare JID, and a table filled to its limit.
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

#include "control/signalling/members.h"
#include "tests/unit/sig_fixture.h"
#include "util/log.h"

/* The member with this node id, by iteration (the table has no index on it). */
static const struct sig_member *find_node(const struct sig_members *t,
					  const uint8_t node_id[SIG_NODE_ID_LEN])
{
	for (unsigned i = 0; i < sig_members_count(t); i++)
		if (!memcmp(sig_members_at(t, i)->p.node_id, node_id, SIG_NODE_ID_LEN))
			return sig_members_at(t, i);
	return NULL;
}

static void test_members_routes(void **state)
{
	static const char *const r_self[] = {"10.0.1.0/24"};
	static const char *const r_a[] = {"10.0.11.0/24", "fd00:11::/64"};
	static const char *const r_b[] = {"10.254.1.0/24"};
	static const char *const r_in_a[] = {"10.0.11.128/25"};
	static const char *const r_v6[] = {"fd00::/16"};
	static const char *const r_over_self[] = {"10.0.0.0/16"};
	static const char *const r_cover_self[] = {"10.254.0.0/24"};
	static const char *const r_cover_a[] = {"10.254.0.2/32"};
	static const char *const r_c[] = {"10.0.13.0/24"};
	static const char *const r_c2[] = {"10.0.13.0/25", "10.0.14.0/24"};
	const uint8_t mac_c[6] = {0x02, 0, 0, 0, 0, 0x0c}, mac_s[6] = {0x02, 0, 0, 0, 0, 0x0d};
	struct sig_members *t = sig_members_create();
	struct sig_presence self, a, b, c, q;
	char why[160];
	(void)state;

	assert_non_null(t);
	presence_make(&self, "10.254.0.1", mac_s, 9);
	routes_set(&self, 1, r_self);
	presence_make(&a, "10.254.0.2", mac_a, 1);
	routes_set(&a, 2, r_a);
	presence_make(&b, "10.254.0.3", mac_b, 2);
	routes_set(&b, 1, r_b);
	presence_make(&c, "10.254.1.4", mac_c, 3); /* inside b's routes */
	sig_members_set_self(t, &self);
	assert_int_equal(sig_members_update(t, "a@x/r", &a, why, sizeof(why)), SIG_MEMBER_ADDED);
	assert_int_equal(sig_members_update(t, "b@x/r", &b, why, sizeof(why)), SIG_MEMBER_ADDED);

	/* Routes over another member's routes (either family), or ours. */
	presence_make(&q, "10.254.2.4", mac_c, 3);
	routes_set(&q, 1, r_in_a);
	assert_int_equal(sig_members_update(t, "c@x/r", &q, why, sizeof(why)), -EEXIST);
	assert_string_equal(why, "routes overlap those of a@x/r");
	routes_set(&q, 1, r_v6);
	assert_int_equal(sig_members_update(t, "c@x/r", &q, why, sizeof(why)), -EEXIST);
	assert_string_equal(why, "routes overlap those of a@x/r");
	routes_set(&q, 1, r_over_self);
	assert_int_equal(sig_members_update(t, "c@x/r", &q, why, sizeof(why)), -EEXIST);
	assert_string_equal(why, "routes overlap ours");
	/* Routes over an overlay address: ours, another member's. */
	routes_set(&q, 1, r_cover_self);
	assert_int_equal(sig_members_update(t, "c@x/r", &q, why, sizeof(why)), -EEXIST);
	assert_string_equal(why, "routes cover our overlay address");
	routes_set(&q, 1, r_cover_a);
	assert_int_equal(sig_members_update(t, "c@x/r", &q, why, sizeof(why)), -EEXIST);
	assert_string_equal(why, "routes cover the overlay address of a@x/r");
	/* An overlay address inside another member's routes, or ours. */
	assert_int_equal(sig_members_update(t, "c@x/r", &c, why, sizeof(why)), -EEXIST);
	assert_string_equal(why, "overlay address is in the routes of b@x/r");
	presence_make(&q, "10.0.1.7", mac_c, 3);
	assert_int_equal(sig_members_update(t, "c@x/r", &q, why, sizeof(why)), -EEXIST);
	assert_string_equal(why, "overlay address is in our routes");
	assert_int_equal(sig_members_count(t), 2);
	assert_null(sig_members_find(t, "c@x/r"));

	/* Disjoint routes are fine; a member may change its own (same JID). */
	presence_make(&q, "10.254.2.4", mac_c, 3);
	routes_set(&q, 1, r_c);
	assert_int_equal(sig_members_update(t, "c@x/r", &q, why, sizeof(why)), SIG_MEMBER_ADDED);
	assert_int_equal(sig_members_update(t, "c@x/r", &q, why, sizeof(why)), SIG_MEMBER_SAME);
	routes_set(&q, 2, r_c2);
	assert_int_equal(sig_members_update(t, "c@x/r", &q, why, sizeof(why)), SIG_MEMBER_CHANGED);
	assert_int_equal(sig_members_find(t, "c@x/r")->p.nroutes, 2);
	/* ... but not onto a's, and the refused change leaves the old routes. */
	routes_set(&q, 2, r_a);
	assert_int_equal(sig_members_update(t, "c@x/r", &q, why, sizeof(why)), -EEXIST);
	assert_int_equal(sig_members_find(t, "c@x/r")->p.nroutes, 2);
	struct net_prefix kept = pfx("10.0.14.0/24");
	assert_memory_equal(&sig_members_find(t, "c@x/r")->p.routes[1], &kept, sizeof(kept));
	/* Once a is gone its subnets are free. */
	assert_int_equal(sig_members_remove(t, "a@x/r"), 0);
	assert_int_equal(sig_members_update(t, "c@x/r", &q, why, sizeof(why)), SIG_MEMBER_CHANGED);
	sig_members_destroy(t);
}
/* ---- member table ---- */

static unsigned gone_count;
static char gone_last[64];

static void gone(void *arg, const char *jid)
{
	(void)arg;
	gone_count++;
	snprintf(gone_last, sizeof(gone_last), "%s", jid);
}

static void test_members(void **state)
{
	struct sig_members *t = sig_members_create();
	struct sig_presence a, b, c, self, q;
	char why[160];
	(void)state;

	assert_non_null(t);
	presence_make(&a, "10.0.3.100", mac_a, 1);
	presence_make(&b, "10.0.3.101", mac_b, 2);
	const uint8_t mac_c[6] = {0x02, 0, 0, 0, 0, 0x0c}, mac_s[6] = {0x02, 0, 0, 0, 0, 0x0d};
	presence_make(&c, "10.0.3.102", mac_c, 3);
	presence_make(&self, "10.0.3.1", mac_s, 9);
	sig_members_set_self(t, &self);

	assert_int_equal(sig_members_update(t, "a@x/r", &a, why, sizeof(why)), SIG_MEMBER_ADDED);
	assert_int_equal(sig_members_update(t, "a@x/r", &a, why, sizeof(why)), SIG_MEMBER_SAME);
	assert_int_equal(sig_members_update(t, "b@x/r", &b, why, sizeof(why)), SIG_MEMBER_ADDED);
	assert_int_equal(sig_members_count(t), 2);

	/* c claims a's key, a's address, b's MAC, or ours: refused, table unchanged. */
	q = c;
	memcpy(q.public_key, a.public_key, SIG_KEY_LEN);
	assert_int_equal(sig_members_update(t, "c@x/r", &q, why, sizeof(why)), -EEXIST);
	assert_non_null(strstr(why, "public_key"));
	assert_non_null(strstr(why, "a@x/r"));
	q = a;
	memcpy(q.mac, mac_c, 6);
	key_fill(q.public_key, 3);
	assert_int_equal(sig_members_update(t, "c@x/r", &q, why, sizeof(why)), -EEXIST);
	assert_non_null(strstr(why, "ip4"));
	q = c;
	memcpy(q.mac, mac_b, 6);
	assert_int_equal(sig_members_update(t, "c@x/r", &q, why, sizeof(why)), -EEXIST);
	assert_non_null(strstr(why, "mac"));
	q = c;
	memcpy(q.public_key, self.public_key, SIG_KEY_LEN);
	assert_int_equal(sig_members_update(t, "c@x/r", &q, why, sizeof(why)), -EEXIST);
	assert_non_null(strstr(why, "ours"));
	q = self;
	assert_int_equal(sig_members_update(t, "c@x/r", &q, why, sizeof(why)), -EEXIST);
	assert_int_equal(sig_members_count(t), 2);
	assert_null(sig_members_find(t, "c@x/r"));
	/* A conflicting update of a known member leaves its old payload. */
	q = a;
	memcpy(q.mac, mac_b, 6);
	assert_int_equal(sig_members_update(t, "a@x/r", &q, why, sizeof(why)), -EEXIST);
	assert_memory_equal(&sig_members_find(t, "a@x/r")->p, &a, sizeof(a));

	assert_int_equal(sig_members_update(t, "c@x/r", &c, why, sizeof(why)), SIG_MEMBER_ADDED);
	/* A member may change its own key (same JID). */
	q = a;
	key_fill(q.public_key, 100);
	assert_int_equal(sig_members_update(t, "a@x/r", &q, why, sizeof(why)), SIG_MEMBER_CHANGED);
	assert_memory_equal(sig_members_find(t, "a@x/r")->p.public_key, q.public_key, SIG_KEY_LEN);
	/* ... and a's old key is now free. */
	assert_ptr_equal(find_node(t, b.node_id), sig_members_find(t, "b@x/r"));
	assert_null(find_node(t, self.node_id));

	/* Bad JIDs. */
	assert_int_equal(sig_members_update(t, "", &c, why, sizeof(why)), -EINVAL);
	assert_int_equal(sig_members_update(t, NULL, &c, why, sizeof(why)), -EINVAL);
	char *longjid = malloc(SIG_JID_MAX + 2);
	memset(longjid, 'j', SIG_JID_MAX + 1);
	longjid[SIG_JID_MAX + 1] = 0;
	assert_int_equal(sig_members_update(t, longjid, &c, why, sizeof(why)), -EINVAL);
	free(longjid);

	/* Unavailable presence removes. */
	assert_int_equal(sig_members_remove(t, "b@x/r"), 0);
	assert_int_equal(sig_members_remove(t, "b@x/r"), -ENOENT);
	assert_null(sig_members_find(t, "b@x/r"));
	assert_int_equal(sig_members_count(t), 2);
	/* b's identity is free again for someone else. */
	assert_int_equal(sig_members_update(t, "b2@x/r", &b, why, sizeof(why)), SIG_MEMBER_ADDED);

	/* Resync: everyone stale, two re-announce, the third is swept. */
	sig_members_mark_stale(t);
	assert_int_equal(sig_members_update(t, "a@x/r", &q, why, sizeof(why)), SIG_MEMBER_SAME);
	assert_int_equal(sig_members_update(t, "c@x/r", &c, why, sizeof(why)), SIG_MEMBER_SAME);
	gone_count = 0;
	assert_int_equal(sig_members_sweep_stale(t, gone, NULL), 1);
	assert_int_equal(gone_count, 1);
	assert_string_equal(gone_last, "b2@x/r");
	assert_int_equal(sig_members_sweep_stale(t, gone, NULL), 0);
	for (unsigned i = 0; i < sig_members_count(t); i++)
		assert_false(sig_members_at(t, i)->stale);
	assert_null(sig_members_at(t, sig_members_count(t)));

	/* By bare JID (roster removal): every resource goes. */
	struct sig_presence d;
	const uint8_t mac_d[6] = {0x02, 0, 0, 0, 0, 0x0e};
	presence_make(&d, "10.0.3.103", mac_d, 4);
	assert_int_equal(sig_members_update(t, "a@x/other", &d, why, sizeof(why)),
			 SIG_MEMBER_ADDED);
	assert_int_equal(sig_members_update(t, "ab@x/r", &b, why, sizeof(why)), SIG_MEMBER_ADDED);
	gone_count = 0;
	assert_int_equal(sig_members_remove_bare(t, "a@x", gone, NULL), 2);
	assert_int_equal(gone_count, 2);
	assert_non_null(sig_members_find(t, "ab@x/r"));
	assert_non_null(sig_members_find(t, "c@x/r"));
	assert_int_equal(sig_members_count(t), 2);

	/* Clearing self frees our identity for members (only for the test). */
	sig_members_set_self(t, NULL);
	assert_int_equal(sig_members_update(t, "s@x/r", &self, why, sizeof(why)), SIG_MEMBER_ADDED);
	sig_members_destroy(t);
	sig_members_destroy(NULL);
}

static void test_members_many(void **state)
{
	struct sig_members *t = sig_members_create();
	char jid[32], why[160];
	(void)state;

	for (unsigned i = 0; i < 300; i++) {
		struct sig_presence p;
		char a[20];
		uint8_t mac[6] = {0x02, 0, 0, 0, (uint8_t)(i >> 8), (uint8_t)i};
		snprintf(a, sizeof(a), "10.1.%u.%u", i / 250, i % 250 + 1);
		presence_make(&p, a, mac, (uint8_t)i);
		p.public_key[31] = (uint8_t)(i >> 8); /* keys differ for all i */
		snprintf(jid, sizeof(jid), "n%u@x/r", i);
		assert_int_equal(sig_members_update(t, jid, &p, why, sizeof(why)),
				 SIG_MEMBER_ADDED);
	}
	assert_int_equal(sig_members_count(t), 300);
	for (unsigned i = 0; i < 300; i += 2) {
		snprintf(jid, sizeof(jid), "n%u@x/r", i);
		assert_int_equal(sig_members_remove(t, jid), 0);
	}
	assert_int_equal(sig_members_count(t), 150);
	for (unsigned i = 1; i < 300; i += 2) {
		snprintf(jid, sizeof(jid), "n%u@x/r", i);
		assert_non_null(sig_members_find(t, jid));
	}
	sig_members_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_members_routes),
	    cmocka_unit_test(test_members),
	    cmocka_unit_test(test_members_many),
	};
	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
