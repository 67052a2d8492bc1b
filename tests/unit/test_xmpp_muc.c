/* The MUC group of the XMPP session against a real prosody (xmpp_harness.h):
 * presence payloads, direct messages, leave, conflicting and malformed
 * members injected by a raw client, and staying in the room: an unexpected
 * departure (kicked by the room's owner, status 307/110) is followed by a
 * rejoin with backoff, and a second session of the same account (a gateway
 * that logged in again before the server noticed its old connection died)
 * joins under the same nick without taking the first one's place.
 */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/log.h"
#include "xmpp_harness.h"

static void test_muc(void **state)
{
	struct client a, b, c;
	struct client *cs[] = {&a, &b, &c};
	struct ctl_xmpp_config ca = base_config("alice", CTL_XMPP_GROUP_MUC),
			       cb = base_config("bob", CTL_XMPP_GROUP_MUC),
			       cc = base_config("carol", CTL_XMPP_GROUP_MUC);
	struct ctl_xmpp_counters k;
	struct sig_message m;
	char hex[SIG_NODE_ID_HEXLEN + 1], jid[160];
	(void)state;

	client_init(&a, "alice", &ca, 1);
	client_init(&b, "bob", &cb, 2);
	client_init(&c, "carol", &cc, 3);
	assert_true(pump(cs, 3, 15000, all_see_all, NULL));
	for (unsigned i = 0; i < 3; i++) {
		assert_sees(cs[i], cs, 3);
		assert_int_equal(ctl_xmpp_state(cs[i]->x, NULL), CTL_XMPP_ONLINE);
		assert_true(ctl_xmpp_secured(cs[i]->x));
		/* libstrophe picks SCRAM when offered; never PLAIN */
		assert_true(!strncmp(ctl_xmpp_sasl_mechanism(cs[i]->x), "SCRAM-SHA-", 10));
		assert_non_null(strstr(ctl_xmpp_bound_jid(cs[i]->x), "@localhost/ipopd"));
		uint64_t gen;
		assert_true(ctl_xmpp_fd(cs[i]->x, &gen) >= 0);
	}
	/* Member JIDs are occupant JIDs whose nick is the node id. */
	sig_node_id_hex(b.self.node_id, hex);
	snprintf(jid, sizeof(jid), ROOM "/%s", hex);
	assert_string_equal(member_jid_of(&a, &b), jid);
	assert_non_null(sig_members_find(ctl_xmpp_members(a.x), jid));

	/* con_req a -> b, con_resp b -> a, ping c -> a */
	make_con(&m, SIG_MSG_CON_REQ, &a, &b);
	assert_int_equal(ctl_xmpp_send(a.x, member_jid_of(&a, &b), &m), 0);
	assert_true(pump(cs, 3, 5000, got_message, &b));
	assert_same_message(&m, &b.msg);
	assert_string_equal(b.msg_from, member_jid_of(&b, &a));
	make_con(&m, SIG_MSG_CON_RESP, &b, &a);
	assert_int_equal(ctl_xmpp_send(b.x, b.msg_from, &m), 0);
	assert_true(pump(cs, 3, 5000, got_message, &a));
	assert_same_message(&m, &a.msg);
	memset(&m, 0, sizeof(m));
	m.type = SIG_MSG_PING;
	memcpy(m.from_id, c.self.node_id, SIG_NODE_ID_LEN);
	memcpy(m.to_id, a.self.node_id, SIG_NODE_ID_LEN);
	m.seq = 99;
	a.nmsg = 0;
	assert_int_equal(ctl_xmpp_send(c.x, member_jid_of(&c, &a), &m), 0);
	assert_true(pump(cs, 3, 5000, got_message, &a));
	assert_int_equal(a.msg.type, SIG_MSG_PING);
	assert_int_equal(a.msg.seq, 99);

	/* Send-side refusals. */
	assert_int_equal(ctl_xmpp_send(c.x, ROOM "/nobody", &m), -ENOENT);
	m.to_id[0] ^= 1;
	m.from_id[0] ^= 1; /* not our node id */
	assert_int_equal(ctl_xmpp_send(c.x, member_jid_of(&c, &a), &m), -EINVAL);
	m.ncand = SIG_MAX_CANDIDATES + 1;
	assert_int_equal(ctl_xmpp_send(c.x, member_jid_of(&c, &a), &m), -EINVAL);

	/* A raw client sends what ctl_xmpp never would; members refuse it. */
	struct raw r;
	struct sig_presence mp;
	char json[SIG_MAX_PAYLOAD + 1], mhex[SIG_NODE_ID_HEXLEN + 1], ahex[SIG_NODE_ID_HEXLEN + 1];
	uint32_t ip;
	uint8_t mkey[SIG_KEY_LEN], mmac[6] = {0x02, 0x66, 0, 0, 0, 1};
	uint64_t want = 1;
	sig_node_id_hex(a.self.node_id, ahex);

	raw_open(&r, "mallory");
	/* 1. not JSON */
	raw_send(&r, "<presence to='" ROOM "/zz'><x xmlns='http://jabber.org/protocol/muc'/>"
		     "<ipop xmlns='" SIG_NS "'>{not json</ipop></presence>");
	assert_true(pump(cs, 3, 5000, rejected_at_least, &want));
	/* 2. valid payload, nick is not its node id */
	inet_pton(AF_INET, "10.254.0.99", &ip);
	memset(mkey, 0x77, sizeof(mkey));
	sig_presence_init(&mp, ip, mmac, mkey, 5899);
	assert_true(sig_presence_build(&mp, json, sizeof(json)) > 0);
	raw_send(&r, "<presence to='" ROOM "/zz'><ipop xmlns='" SIG_NS "'>%s</ipop></presence>",
		 json);
	want = 2;
	assert_true(pump(cs, 3, 5000, rejected_at_least, &want));
	raw_send(&r, "<presence to='" ROOM "/zz' type='unavailable'/>");
	/* 3. right nick, but alice's public key: a conflict for everyone */
	memcpy(mp.public_key, a.self.public_key, SIG_KEY_LEN);
	sig_node_id_hex(mp.node_id, mhex);
	assert_true(sig_presence_build(&mp, json, sizeof(json)) > 0);
	raw_send(&r,
		 "<presence to='" ROOM "/%s'><x xmlns='http://jabber.org/protocol/muc'/>"
		 "<ipop xmlns='" SIG_NS "'>%s</ipop></presence>",
		 mhex, json);
	want = 3;
	assert_true(pump(cs, 3, 5000, rejected_at_least, &want));
	for (unsigned i = 0; i < 3; i++) {
		ctl_xmpp_get_counters(cs[i]->x, &k);
		assert_int_equal(k.member_conflicts, 1);
		assert_int_equal(cs[i]->nmembers, 2);
	}
	/* 4. a non-member's private message */
	raw_send(&r,
		 "<message type='chat' to='" ROOM "/%s'><ipop xmlns='" SIG_NS "'>"
		 "{\"type\":\"ping\",\"from_id\":\"%s\",\"to_id\":\"%s\",\"seq\":1}"
		 "</ipop></message>",
		 ahex, mhex, ahex);
	want = 4;
	struct client *only_a[] = {&a};
	assert_true(pump(only_a, 1, 5000, rejected_at_least, &want));
	/* 5. becomes a valid member (own key), then spoofs from_id, sends junk,
	 *    and finally a valid ping */
	memcpy(mp.public_key, mkey, SIG_KEY_LEN);
	assert_true(sig_presence_build(&mp, json, sizeof(json)) > 0);
	raw_send(&r, "<presence to='" ROOM "/%s'><ipop xmlns='" SIG_NS "'>%s</ipop></presence>",
		 mhex, json);
	unsigned three = 3;
	assert_true(pump(cs, 3, 5000, members_eq, &three));
	a.nmsg = 0;
	raw_send(&r,
		 "<message type='chat' to='" ROOM "/%s'><ipop xmlns='" SIG_NS "'>"
		 "{\"type\":\"ping\",\"from_id\":\"%s\",\"to_id\":\"%s\",\"seq\":1}"
		 "</ipop></message>",
		 ahex, hex, ahex); /* bob's id */
	raw_send(&r,
		 "<message type='chat' to='" ROOM "/%s'><ipop xmlns='" SIG_NS "'>"
		 "{\"type\":\"ping\",\"from_id\":\"%s\",\"to_id\":\"%s\",\"seq\":-1}"
		 "</ipop></message>",
		 ahex, mhex, ahex);
	ctl_xmpp_get_counters(a.x, &k);
	want = k.rejected_payloads + k.member_conflicts + 2;
	assert_true(pump(only_a, 1, 5000, rejected_at_least, &want));
	assert_int_equal(a.nmsg, 0);
	raw_send(&r,
		 "<message type='chat' to='" ROOM "/%s'><ipop xmlns='" SIG_NS "'>"
		 "{\"type\":\"ping\",\"from_id\":\"%s\",\"to_id\":\"%s\",\"seq\":5}"
		 "</ipop></message>",
		 ahex, mhex, ahex);
	assert_true(pump(only_a, 1, 5000, got_message, &a));
	assert_int_equal(a.msg.seq, 5);
	raw_close(&r);
	/* mallory's stream closed: the room says it left */
	for (unsigned i = 0; i < 3; i++)
		cs[i]->unavailable_calls = 0;
	assert_true(pump(cs, 3, 5000, all_see_all, NULL));

	/* carol leaves: the others are told */
	client_fini(&c);
	assert_true(pump(cs, 2, 5000, all_see_all, NULL));
	sig_node_id_hex(c.self.node_id, hex);
	snprintf(jid, sizeof(jid), ROOM "/%s", hex);
	assert_string_equal(a.last_gone, jid);
	assert_string_equal(b.last_gone, jid);

	ctl_xmpp_get_counters(a.x, &k);
	assert_int_equal(k.connects, 1);
	assert_int_equal(k.disconnects, 0);
	assert_true(k.stanzas_in > 5 && k.stanzas_out >= 2);
	assert_true(k.messages_accepted >= 2);
	client_fini(&a);
	client_fini(&b);
}

static bool in_group(struct client **cs, unsigned n, void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < n; i++)
		if (!ctl_xmpp_in_group(cs[i]->x))
			return false;
	return true;
}

static bool not_in_group(struct client **cs, unsigned n, void *arg)
{
	(void)n;
	(void)arg;
	return !ctl_xmpp_in_group(cs[0]->x);
}

#define KICKROOM "kick@conference.localhost"

/* The room says we left (kicked by its owner: status 307 and 110): we join
 * again after a backoff, within the same session. */
static void test_muc_rejoin(void **state)
{
	struct client a, b;
	struct client *ab[] = {&a, &b}, *only_b[] = {&b};
	struct ctl_xmpp_config ca = base_config("alice", CTL_XMPP_GROUP_MUC),
			       cb = base_config("bob", CTL_XMPP_GROUP_MUC);
	struct ctl_xmpp_counters k;
	char bnick[SIG_NODE_ID_HEXLEN + 1];
	struct raw owner;
	(void)state;

	/* The owner (first in the room) is a person's client. */
	raw_open(&owner, "carol");
	raw_send(&owner, "<presence to='" KICKROOM "/owner'><x xmlns='http://jabber.org/"
			 "protocol/muc'/></presence>");
	raw_run(&owner, 300);
	ca.room = cb.room = KICKROOM;
	cb.backoff_min_ms = 300;
	client_init(&a, "alice", &ca, 81);
	client_init(&b, "bob", &cb, 82);
	assert_true(pump(ab, 2, 15000, all_see_all, NULL));
	sig_node_id_hex(b.self.node_id, bnick);
	raw_send(&owner,
		 "<iq type='set' id='kick1' to='" KICKROOM "'><query xmlns='http://jabber.org/"
		 "protocol/muc#admin'><item nick='%s' role='none'/></query></iq>",
		 bnick);
	assert_true(pump(only_b, 1, 5000, not_in_group, NULL));
	/* ... and back, with a seeing it leave and come back. */
	assert_true(pump(ab, 2, 15000, in_group, NULL));
	assert_true(pump(ab, 2, 15000, all_see_all, NULL));
	assert_true(a.unavailable_calls >= 1);
	assert_sees(&a, ab, 2);
	ctl_xmpp_get_counters(b.x, &k);
	assert_int_equal(k.connects, 1); /* the same session */
	raw_close(&owner);
	client_fini(&a);
	client_fini(&b);
}

/* A gateway that logs in again while the server still holds its old session
 * (a connection that died without the server noticing): a new resource, the
 * same nick in the room (a second session of the same occupant). When the
 * old session ends, the new one stays in, and the others keep listing it. */
static void test_muc_second_session(void **state)
{
	struct client a, old, neu;
	struct client *a_old[] = {&a, &old}, *a_new[] = {&a, &neu};
	struct ctl_xmpp_config ca = base_config("alice", CTL_XMPP_GROUP_MUC),
			       cb = base_config("dave", CTL_XMPP_GROUP_MUC);
	unsigned one = 1;
	(void)state;

	client_init(&a, "alice", &ca, 91);
	client_init(&old, "dave", &cb, 92);
	assert_true(pump(a_old, 2, 15000, all_see_all, NULL));
	client_init(&neu, "dave", &cb, 92); /* the same node, a new session */
	assert_true(pump(a_new, 2, 15000, in_group, NULL));
	assert_string_not_equal(ctl_xmpp_bound_jid(old.x), ctl_xmpp_bound_jid(neu.x));
	assert_int_equal(neu.nmembers, 1);
	client_fini(&old);
	pump(a_new, 2, 2000, NULL, NULL);
	assert_true(pump(a_new, 2, 15000, in_group, NULL));
	assert_true(pump(a_new, 2, 15000, all_see_all, NULL));
	assert_true(pump(a_new, 2, 5000, members_eq, &one));
	assert_sees(&a, a_new, 2);
	client_fini(&a);
	client_fini(&neu);
}

int main(void)
{
	/* clang-format off */
	static const char *const users[] = {"alice", "bob", "carol", "dave", "mallory"};
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_muc),
	    cmocka_unit_test(test_muc_rejoin),
	    cmocka_unit_test(test_muc_second_session),
	};
	/* clang-format on */
	return HARNESS_MAIN(users, tests);
}
