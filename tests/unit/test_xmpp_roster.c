/* The roster group of the XMPP session against a real prosody
 * (xmpp_harness.h): contacts see each other and a non-contact does not,
 * subscription requests approved once the account's owner adds the JID, and
 * membership derived from the roster's state whatever the order of presence
 * and roster pushes: a revoked relation is reported (member_revoked) also
 * when the contact's unavailable presence came first, and a presence that
 * came before the roster item making its sender a contact is taken when
 * the item arrives.
 */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/log.h"
#include "xmpp_harness.h"

static void test_roster(void **state)
{
	struct client a, b, c;
	struct client *cs[] = {&a, &b, &c}, *ab[] = {&a, &b};
	struct ctl_xmpp_config ca = base_config("r1", CTL_XMPP_GROUP_ROSTER),
			       cb = base_config("r2", CTL_XMPP_GROUP_ROSTER),
			       cc = base_config("r3", CTL_XMPP_GROUP_ROSTER);
	struct ctl_xmpp_counters k;
	struct sig_message m;
	(void)state;

	client_init(&a, "r1", &ca, 11);
	client_init(&b, "r2", &cb, 12);
	client_init(&c, "r3", &cc, 13);
	/* Online, roster loaded, nobody subscribed yet: nobody seen, then or
	 * a while later. (A fixed 3 s window for the three logins would fail
	 * on a machine slow enough to need longer.) */
	assert_true(pump(cs, 3, 15000, all_online, NULL));
	assert_false(pump(cs, 3, 1500, all_see_all, NULL));
	for (unsigned i = 0; i < 3; i++) {
		assert_true(ctl_xmpp_in_group(cs[i]->x));
		assert_int_equal(cs[i]->nmembers, 0);
	}
	/* r1 and r2 put each other in the group; r3 asks r1 and is ignored. */
	roster_subscribe("r1", "r2");
	roster_subscribe("r2", "r1");
	roster_subscribe("r3", "r1");
	assert_true(pump(ab, 2, 15000, all_see_all, NULL));
	assert_sees(&a, ab, 2);
	assert_sees(&b, ab, 2);
	/* The member JID is the full JID of the contact, whose resource is
	 * new for every session. */
	assert_string_equal(member_jid_of(&a, &b), ctl_xmpp_bound_jid(b.x));
	assert_true(!strncmp(ctl_xmpp_bound_jid(b.x), "r2@localhost/ipopd-", 19));
	assert_int_equal(strlen(ctl_xmpp_bound_jid(b.x)), 19 + 8);
	/* A while later, r3 still sees nobody and nobody sees r3. */
	assert_false(pump(&cs[2], 1, 2000, NULL, NULL));
	pump(cs, 3, 1000, NULL, NULL);
	assert_int_equal(c.nmembers, 0);
	assert_int_equal(a.nmembers, 1);
	assert_int_equal(b.nmembers, 1);

	make_con(&m, SIG_MSG_CON_REQ, &a, &b);
	assert_int_equal(ctl_xmpp_send(a.x, member_jid_of(&a, &b), &m), 0);
	assert_true(pump(cs, 3, 5000, got_message, &b));
	assert_same_message(&m, &b.msg);
	assert_string_equal(b.msg_from, ctl_xmpp_bound_jid(a.x));
	make_con(&m, SIG_MSG_CON_REQ, &a, &c);
	assert_int_equal(ctl_xmpp_send(a.x, ctl_xmpp_bound_jid(c.x), &m), -ENOENT);

	/* A presence change is reported (once: a second report would show up
	 * by the end of the next window); an identical one is not. */
	unsigned calls = a.available_calls, want = calls + 1;
	b.self.port = 6000;
	assert_int_equal(ctl_xmpp_set_presence(b.x, &b.self), 0);
	assert_true(pump(cs, 3, 10000, first_available_at_least, &want));
	assert_int_equal(a.available_calls, calls + 1);
	assert_sees(&a, ab, 2);
	assert_int_equal(ctl_xmpp_set_presence(b.x, &b.self), 0);
	pump(cs, 3, 1500, NULL, NULL);
	assert_int_equal(a.available_calls, calls + 1);
	ctl_xmpp_get_counters(a.x, &k);
	assert_true(k.presences_accepted >= 3);

	/* r2 stops: r1 is told. */
	char b_jid[160];
	snprintf(b_jid, sizeof(b_jid), "%s", ctl_xmpp_bound_jid(b.x));
	ctl_xmpp_stop(b.x);
	assert_int_equal(ctl_xmpp_state(b.x, NULL), CTL_XMPP_DISCONNECTED);
	unsigned zero_members = 0;
	assert_true(pump(cs, 3, 5000, first_members_eq, &zero_members));
	assert_int_equal(b.nmembers, 1); /* stopping keeps what we knew */
	assert_string_equal(a.last_gone, b_jid);
	client_fini(&a);
	client_fini(&b);
	client_fini(&c);
}

/* A subscription request that arrives before the account's owner puts the
 * JID in the roster is approved once they do (the roster push), instead of
 * waiting for our next login, when the server would deliver it again. */
static void test_roster_late_add(void **state)
{
	struct client a, b;
	struct client *ab[] = {&a, &b};
	struct ctl_xmpp_config ca = base_config("r4", CTL_XMPP_GROUP_ROSTER),
			       cb = base_config("r5", CTL_XMPP_GROUP_ROSTER);
	struct raw admin;
	(void)state;

	client_init(&a, "r4", &ca, 21);
	client_init(&b, "r5", &cb, 22);
	assert_true(pump(ab, 2, 10000, all_online, NULL));
	/* r4 asks for r5's presence (and pre-approves r5): r5 has nobody in
	 * its roster, so the request is not approved. */
	roster_subscribe("r4", "r5");
	assert_false(pump(ab, 2, 1500, all_see_all, NULL));
	assert_int_equal(a.nmembers, 0);
	assert_int_equal(b.nmembers, 0);
	/* r5's owner adds r4 from a client of their own: a subscription
	 * request only, what "add contact" sends. r4 had pre-approved it, so
	 * r5 sees r4; r5 approves r4's earlier request, so r4 sees r5. */
	raw_open(&admin, "r5");
	raw_send(&admin, "<presence to='r4@localhost' type='subscribe'/>");
	assert_true(pump(ab, 2, 10000, all_see_all, NULL));
	raw_close(&admin);
	assert_sees(&a, ab, 2);
	assert_sees(&b, ab, 2);
	assert_string_equal(member_jid_of(&a, &b), ctl_xmpp_bound_jid(b.x));
	assert_string_equal(member_jid_of(&b, &a), ctl_xmpp_bound_jid(a.x));
	client_fini(&a);
	client_fini(&b);
}

/* A presence for the raw client `r` (account r7, resource gw) with a valid
 * payload for host 77. */
static void raw_presence(struct raw *r, const char *to, struct sig_presence *p)
{
	char json[SIG_MAX_PAYLOAD + 1];
	uint8_t key[SIG_KEY_LEN], mac[6] = {0x02, 0x77, 0, 0, 0, 1};
	uint32_t ip;

	inet_pton(AF_INET, "10.254.0.77", &ip);
	memset(key, 0x77, sizeof(key));
	sig_presence_init(p, ip, mac, key, 5877);
	assert_true(sig_presence_build(p, json, sizeof(json)) > 0);
	if (to)
		raw_send(r, "<presence to='%s'><ipop xmlns='" SIG_NS "'>%s</ipop></presence>", to,
			 json);
	else
		raw_send(r, "<presence><ipop xmlns='" SIG_NS "'>%s</ipop></presence>", json);
}

static bool first_revoked_at_least(struct client **cs, unsigned n, void *arg)
{
	(void)n;
	return cs[0]->revoked_calls >= *(unsigned *)arg;
}

/* Membership follows the roster's state, not the order of stanzas: a
 * revocation is reported whether the contact's unavailable presence comes
 * before the roster push (ejabberd's order) or after it (prosody's), and a
 * presence that arrives before the roster item making its sender a contact
 * is taken when the item arrives. The contact is a raw client (r7/gw), so
 * the test decides the order. */
static void test_roster_order(void **state)
{
	struct client a;
	struct client *only_a[] = {&a};
	struct ctl_xmpp_config ca = base_config("r6", CTL_XMPP_GROUP_ROSTER);
	struct sig_presence p;
	struct raw b;
	unsigned one = 1, two = 2, zero = 0;
	(void)state;

	client_init(&a, "r6", &ca, 26);
	assert_true(pump(only_a, 1, 10000, all_online, NULL));
	raw_open_as(&b, "r7", "gw");
	/* r6 asks for r7's presence; r7 approves: r6's item is "to". */
	roster_subscribe("r6", "r7");
	raw_send(&b, "<presence to='r6@localhost' type='subscribed'/>");
	raw_presence(&b, NULL, &p);
	assert_true(pump(only_a, 1, 10000, first_members_eq, &one));
	assert_string_equal(a.members[0].jid, "r7@localhost/gw");

	/* 1. Presence first: r7 goes offline, then cancels our subscription
	 *    (the roster push comes after): still revoked. */
	raw_send(&b, "<presence type='unavailable'/>");
	assert_true(pump(only_a, 1, 10000, first_members_eq, &zero));
	assert_int_equal(a.revoked_calls, 0);
	raw_send(&b, "<presence to='r6@localhost' type='unsubscribed'/>");
	assert_true(pump(only_a, 1, 10000, first_revoked_at_least, &one));
	assert_string_equal(a.last_revoked, "r7@localhost/gw");

	/* 2. A presence before the roster item: directed presence to our full
	 *    JID while r7 is not a contact is held; r7's approval (the push
	 *    to "to") makes it a member without r7 sending anything again
	 *    (its broadcast presence is unavailable, so a probe finds
	 *    nothing). */
	raw_presence(&b, ctl_xmpp_bound_jid(a.x), &p);
	pump(only_a, 1, 1000, NULL, NULL);
	assert_int_equal(a.nmembers, 0);
	roster_subscribe("r6", "r7");
	raw_send(&b, "<presence to='r6@localhost' type='subscribed'/>");
	assert_true(pump(only_a, 1, 10000, first_members_eq, &one));
	assert_string_equal(a.members[0].jid, "r7@localhost/gw");
	assert_memory_equal(&a.members[0].p, &p, sizeof(p));

	/* 3. Roster push first (the member is still online): revoked. */
	raw_send(&b, "<presence to='r6@localhost' type='unsubscribed'/>");
	assert_true(pump(only_a, 1, 10000, first_revoked_at_least, &two));
	assert_int_equal(a.nmembers, 0);
	assert_string_equal(a.last_revoked, "r7@localhost/gw");
	pump(only_a, 1, 500, NULL, NULL);
	assert_int_equal(a.revoked_calls, 2);
	raw_close(&b);
	client_fini(&a);
}

int main(void)
{
	/* clang-format off */
	static const char *const users[] = {"r1", "r2", "r3", "r4", "r5", "r6", "r7"};
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roster),
	    cmocka_unit_test(test_roster_late_add),
	    cmocka_unit_test(test_roster_order),
	};
	/* clang-format on */
	return HARNESS_MAIN(users, tests);
}
