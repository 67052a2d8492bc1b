/* libFuzzer target for every STUN/TURN parser in control/stun.c: the
 * message parser, integrity and fingerprint checks, the Binding and TURN
 * response handlers (driven with a transaction that matches the input, so
 * the 401/438 challenge paths run), allocation results, Data indications and
 * ChannelData. A message that parses is re-encoded field by field and must
 * parse again to the same addresses: the builder and parser agree.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/nat/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static void check_addr_roundtrip(const struct stun_msg *m)
{
	uint8_t out[STUN_MSG_MAX];
	struct stun_builder b;
	struct stun_msg again;

	stun_build_start(&b, out, sizeof(out), m->method, (enum stun_class)m->cls, m->txid);
	if (m->attrs & STUN_HAS_MAPPED)
		stun_build_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS, &m->mapped);
	if (m->attrs & STUN_HAS_RELAYED)
		stun_build_xor_addr(&b, STUN_ATTR_XOR_RELAYED_ADDRESS, &m->relayed);
	if (m->attrs & STUN_HAS_PEER)
		stun_build_xor_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS, &m->peer);
	if (m->attrs & STUN_HAS_DATA)
		stun_build_attr(&b, STUN_ATTR_DATA, m->data.p, m->data.len);
	stun_build_integrity(&b, (const uint8_t *)"k", 1);
	stun_build_fingerprint(&b);
	int len = stun_build_end(&b);
	if (len < 0)
		return; /* DATA too large for out[]: fine */
	if (stun_parse(out, (size_t)len, &again) != 0)
		abort();
	if (stun_check_integrity(&again, (const uint8_t *)"k", 1) != 0)
		abort();
	if ((m->attrs & STUN_HAS_MAPPED) && !net_endpoint_equal(&m->mapped, &again.mapped))
		abort();
	if ((m->attrs & STUN_HAS_RELAYED) && !net_endpoint_equal(&m->relayed, &again.relayed))
		abort();
	if ((m->attrs & STUN_HAS_PEER) && !net_endpoint_equal(&m->peer, &again.peer))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct stun_msg m;
	uint16_t ch;
	const uint8_t *data;
	size_t dlen;

	if (turn_channel_data_decode(d, n, &ch, &data, &dlen) == 0) {
		if (data + dlen > d + n || ch < TURN_CHANNEL_MIN || ch > TURN_CHANNEL_MAX)
			abort();
	}

	stun_is_stun(d, n);
	int rc = stun_parse(d, n, &m);
	if (rc != 0)
		return 0;
	if (m.len != n || !stun_is_stun(d, n))
		abort();

	stun_check_integrity(&m, (const uint8_t *)"key", 3);

	struct stun_txn t = {.method = m.method, .authenticated = (n & 1) != 0};
	memcpy(t.txid, m.txid, STUN_TXID_LEN);
	struct net_endpoint ep;
	stun_binding_response(&t, &m, &ep);

	struct turn_auth a;
	turn_auth_init(&a, "user", "pass");
	if (n & 2) {
		strcpy(a.realm, "realm");
		strcpy(a.nonce, "nonce");
		a.challenged = true;
	}
	rc = turn_response(&t, &a, &m);
	if (rc == 1 && !a.challenged)
		abort();

	struct turn_allocation al;
	turn_allocate_result(&m, &al);
	if (turn_data_indication(&m, &ep, &data, &dlen) == 0 && data + dlen > d + n)
		abort();

	check_addr_roundtrip(&m);
	return 0;
}
