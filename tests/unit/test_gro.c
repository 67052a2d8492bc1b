/* Userspace GRO (dataplane/gro.c) and the TAP write path (dataplane/tap.c):
 * which packets are merged (the kernel's tcp_gro_receive rules), what the
 * super-frame header becomes, and that the super-frame the TAP receives
 * finishes to a valid checksum and cuts back into exactly the segments it
 * was made of. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "dataplane/gro.h"
#include "dataplane/tap.h"
#include "offload_frames.h"

#define MSS 1000

static struct dp_pool pool;
static struct dp_pkt *pk[DP_OUT_MAX];
static unsigned npk;
static struct dp_gro g;
static struct tf_frame tf;

static int setup(void **state)
{
	(void)state;
	npk = 0;
	g.udp = false;
	return dp_pool_init(&pool, DP_OUT_MAX);
}

static int teardown(void **state)
{
	(void)state;
	dp_pool_put_bulk(&pool, pk, npk);
	dp_pool_fini(&pool);
	return 0;
}

/* Appends a TCP segment of flow `flow` (source port 40000 + flow). */
static void add(struct tf_spec s, unsigned flow)
{
	s.sport = (uint16_t)(40000 + flow);
	if (!s.udp && !s.flags)
		s.flags = 0x10;
	tf_build(&tf, &s);
	struct dp_pkt *p = dp_pool_get(&pool);
	assert_non_null(p);
	memcpy(p->data, tf.f, tf.len);
	p->len = (uint16_t)tf.len;
	pk[npk++] = p;
}

static void add_run(unsigned flow, uint32_t seq, unsigned n, bool v6)
{
	for (unsigned i = 0; i < n; i++)
		add((struct tf_spec){.v6 = v6,
				     .seq = seq + i * MSS,
				     .payload = MSS,
				     .ip_id = (uint16_t)i,
				     .tag = (uint8_t)i},
		    flow);
}

/* The packet indexes of unit u, in order, as a string "0,2,4". */
static const char *unit_str(unsigned u)
{
	static char buf[512];
	size_t o = 0;
	buf[0] = 0;
	for (unsigned k = g.units[u].head; k != UINT16_MAX; k = g.next[k])
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, o ? ",%u" : "%u", k);
	return buf;
}

/* The super-frame a unit makes: head + the others' payloads. */
static size_t unit_frame(unsigned u, uint8_t *out)
{
	const struct dp_gro_unit *un = &g.units[u];
	size_t len = pk[un->head]->len;
	memcpy(out, pk[un->head]->data, len);
	for (unsigned k = g.next[un->head]; k != UINT16_MAX; k = g.next[k]) {
		memcpy(out + len, pk[k]->data + un->hdrlen, pk[k]->len - un->hdrlen);
		len += pk[k]->len - un->hdrlen;
	}
	return len;
}

/* Unit 0 as the TAP gets it: its IP length and header checksum are right,
 * the partial checksum, finished as the kernel would, verifies, and the
 * kernel's GSO of it gives back the very n frames of orig. */
static void check_superframe(const struct tf_frame *orig, unsigned n, bool v6, bool udp)
{
	static struct tf_frame sfr;
	const struct dp_gro_unit *u = &g.units[0];
	unsigned coff = udp ? 6 : 16;

	assert_int_equal(g.nunits, 1);
	assert_int_equal(u->count, n);
	assert_int_equal(u->vh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(u->vh.gso_type, udp  ? VIRTIO_NET_HDR_GSO_UDP_L4
					 : v6 ? VIRTIO_NET_HDR_GSO_TCPV6
					      : VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(u->vh.gso_size, MSS);
	assert_int_equal(u->vh.csum_start, tf.l4);
	assert_int_equal(u->vh.csum_offset, coff);
	assert_int_equal(u->hdrlen, tf.hdr);
	sfr.len = unit_frame(0, sfr.f);
	sfr.l3 = tf.l3, sfr.l4 = tf.l4, sfr.hdr = tf.hdr;
	uint8_t *ip = sfr.f + tf.l3, *l4 = sfr.f + tf.l4;
	size_t l4len = sfr.len - tf.l4;
	if (v6) {
		assert_int_equal(tf_rd16(ip + 4), sfr.len - tf.l3 - 40);
	} else {
		assert_int_equal(tf_rd16(ip + 2), sfr.len - tf.l3);
		assert_int_equal(tf_fold(tf_sum(ip, 20, 0)), 0xffff);
	}
	if (udp)
		assert_int_equal(tf_rd16(l4 + 4), l4len);
	tf_wr16(l4 + coff, (uint16_t)~tf_fold(tf_sum(l4, l4len, 0)));
	assert_int_equal(tf_l4_verify(ip, v6, udp ? IPPROTO_UDP : IPPROTO_TCP, l4, l4len), 0xffff);

	tf_make_partial(&sfr, v6, udp);
	struct dp_l4_info info;
	assert_int_equal(dp_gso_parse(&u->vh, sfr.f, sfr.len, 9000, &info), 0);
	assert_int_equal(dp_gso_count(&info, sfr.len), n);
	for (unsigned k = 0; k < n; k++) {
		static uint8_t seg[2000];
		size_t l = dp_gso_segment(&info, sfr.f, sfr.len, k, seg);
		assert_int_equal(l, orig[k].len);
		assert_memory_equal(seg, orig[k].f, l);
	}
}

static void test_one_flow(void **state)
{
	(void)state;
	static struct tf_frame orig[10];
	for (unsigned i = 0; i < 10; i++) {
		struct tf_spec s = {.seq = 5000 + i * MSS,
				    .payload = MSS,
				    .ip_id = (uint16_t)(7 + i),
				    .tag = (uint8_t)i,
				    .flags = (uint8_t)(i == 9 ? 0x18 : 0x10)};
		add(s, 0);
		memcpy(orig[i].f, pk[i]->data, pk[i]->len);
		orig[i].len = pk[i]->len;
	}
	dp_gro_build(&g, pk, npk);
	assert_string_equal(unit_str(0), "0,1,2,3,4,5,6,7,8,9");
	assert_int_equal(pk[0]->data[tf.l4 + 13], 0x18); /* PSH of the last segment carried over */
	check_superframe(orig, 10, false, false);
}

static void test_interleaved_and_other(void **state)
{
	(void)state;
	/* A0 B0 udp A1 B1 A2 B2, then v6 C0 C1 */
	for (unsigned i = 0; i < 3; i++) {
		add((struct tf_spec){.seq = 100 + i * MSS, .payload = MSS}, 0);
		add((struct tf_spec){.seq = 900 + i * MSS, .payload = MSS}, 1);
		if (i == 0)
			add((struct tf_spec){.udp = true, .payload = 300}, 2);
	}
	add((struct tf_spec){.v6 = true, .seq = 1, .payload = MSS}, 3);
	add((struct tf_spec){.v6 = true, .seq = 1 + MSS, .payload = 10}, 3);
	dp_gro_build(&g, pk, npk);
	assert_int_equal(g.nunits, 4);
	assert_string_equal(unit_str(0), "0,3,5");
	assert_string_equal(unit_str(1), "1,4,6");
	assert_string_equal(unit_str(2), "2");
	assert_int_equal(g.units[2].vh.flags, VIRTIO_NET_HDR_F_DATA_VALID);
	assert_int_equal(g.units[2].vh.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	assert_string_equal(unit_str(3), "7,8");
	assert_int_equal(g.units[3].vh.gso_type, VIRTIO_NET_HDR_GSO_TCPV6);
	static uint8_t f[70000];
	size_t len = unit_frame(3, f);
	assert_int_equal(tf_rd16(f + 14 + 4), len - 14 - 40);
}

static void test_run_breakers(void **state)
{
	(void)state;
	uint32_t s = 1;
	add((struct tf_spec){.seq = s, .payload = MSS}, 0);		    /* 0 */
	add((struct tf_spec){.seq = s + MSS, .payload = MSS}, 0);	    /* 1 */
	add((struct tf_spec){.seq = s + 2 * MSS, .payload = 0}, 0);	    /* 2 pure ACK: alone */
	add((struct tf_spec){.seq = s + 2 * MSS, .payload = MSS}, 0);	    /* 3 */
	add((struct tf_spec){.seq = s + 3 * MSS, .payload = 400}, 0);	    /* 4 short: ends */
	add((struct tf_spec){.seq = s + 3 * MSS + 400, .payload = MSS}, 0); /* 5 */
	add((struct tf_spec){.seq = s + 4 * MSS + 400, .payload = MSS, .flags = 0x90},
	    0);							      /* 6 CWR: new run */
	add((struct tf_spec){.seq = s + 9 * MSS, .payload = MSS}, 0); /* 7 gap: new run */
	add((struct tf_spec){.seq = s + 10 * MSS, .payload = MSS, .tcpopt = 12},
	    0); /* 8 options differ */
	add((struct tf_spec){.seq = s + 11 * MSS, .payload = MSS, .flags = 0x30},
	    0);						     /* 9 URG: alone */
	add((struct tf_spec){.seq = 77, .payload = MSS}, 1); /* 10 */
	add((struct tf_spec){.seq = 77 + MSS, .payload = MSS, .flags = 0x11},
	    1);							       /* 11 FIN: joins, ends */
	add((struct tf_spec){.seq = 77 + 2 * MSS, .payload = MSS}, 1); /* 12 new run */
	dp_gro_build(&g, pk, npk);
	const char *want[] = {"0,1", "2", "3,4", "5", "6", "7", "8", "9", "10,11", "12"};
	assert_int_equal(g.nunits, 10);
	for (unsigned u = 0; u < 10; u++)
		assert_string_equal(unit_str(u), want[u]);
	assert_int_equal(pk[10]->data[tf.l4 + 13], 0x11); /* FIN carried to the head */
}

static void test_limits_and_padding(void **state)
{
	(void)state;
	add_run(0, 1, 70, false); /* more than DP_GRO_SEGS_MAX, more than 64 KiB */
	/* a frame with Ethernet padding is never merged nor marked valid */
	add((struct tf_spec){.seq = 1 + 70 * MSS, .payload = MSS}, 0);
	pk[npk - 1]->len += 6;
	dp_gro_build(&g, pk, npk);
	unsigned total = 0;
	for (unsigned u = 0; u < g.nunits; u++) {
		assert_true(g.units[u].count <= DP_GRO_SEGS_MAX);
		static uint8_t f[70000];
		size_t len = unit_frame(u, f);
		assert_true(len - 14 <= 65535);
		total += g.units[u].count;
	}
	assert_int_equal(total, 71);
	assert_true(g.nunits >= 3);
	assert_int_equal(g.units[g.nunits - 1].count, 1);
	assert_int_equal(g.units[g.nunits - 1].vh.flags, 0);
}

/* UDP (with g.udp, as on a kernel with USO): one flow's datagrams become one
 * UDP_L4 super-frame that finishes to a valid checksum and that the kernel's
 * USO cuts back into exactly the same datagrams (IPv4 and IPv6). */
static void udp_flow(bool v6)
{
	static struct tf_frame orig[12];
	g.udp = true;
	for (unsigned i = 0; i < 12; i++) {
		add((struct tf_spec){.v6 = v6,
				     .udp = true,
				     .payload = i == 11 ? 300 : MSS,
				     .ip_id = (uint16_t)(65530 + i), /* wraps */
				     .tag = (uint8_t)i},
		    0);
		memcpy(orig[i].f, pk[i]->data, pk[i]->len);
		orig[i].len = pk[i]->len;
	}
	dp_gro_build(&g, pk, npk);

	check_superframe(orig, 12, v6, true);
}

static void test_udp_flow4(void **state)
{
	(void)state;
	udp_flow(false);
}

static void test_udp_flow6(void **state)
{
	(void)state;
	udp_flow(true);
}

/* What ends or refuses a UDP run; and without g.udp nothing UDP merges. */
static void test_udp_breakers(void **state)
{
	(void)state;
	struct tf_spec u = {.udp = true, .payload = MSS};
	g.udp = true;
	u.ip_id = 1, add(u, 0);			 /* 0 */
	u.ip_id = 2, add(u, 0);			 /* 1 */
	u.ip_id = 4, add(u, 0);			 /* 2 id gap: new run */
	u.ip_id = 5, u.payload = 10, add(u, 0);	 /* 3 short: joins, ends */
	u.ip_id = 6, u.payload = MSS, add(u, 0); /* 4 new run */
	u.ip_id = 7, u.payload = 0, add(u, 0);	 /* 5 empty: alone */
	u.ip_id = 8, u.payload = MSS, add(u, 0); /* 6 new run (after the empty one) */
	u.ip_id = 9, add(u, 0);			 /* 7 ttl differs: new run */
	pk[7]->data[tf.l3 + 8] = 1;
	u.ip_id = 10, u.payload = MSS + 1, add(u, 0); /* 8 longer than the run's: new */
	add((struct tf_spec){.seq = 1, .payload = MSS, .sport = 40000}, 0); /* 9 TCP, same ports */
	u.ip_id = 11, u.payload = MSS + 1, add(u, 0); /* 10 joins 8 (9 is another flow) */
	add((struct tf_spec){.udp = true, .payload = MSS, .ip_id = 12}, 1); /* 11 other flow */
	dp_gro_build(&g, pk, npk);
	const char *want[] = {"0,1", "2,3", "4", "5", "6", "7", "8,10", "9", "11"};
	assert_int_equal(g.nunits, 9);
	for (unsigned i = 0; i < 9; i++)
		assert_string_equal(unit_str(i), want[i]);
	assert_int_equal(g.units[4].vh.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	assert_int_equal(g.units[4].vh.flags, VIRTIO_NET_HDR_F_DATA_VALID);

	g.udp = false;
	dp_gro_build(&g, pk, npk);
	assert_int_equal(g.nunits, 12);
}

/* The TAP write path on a SOCK_SEQPACKET pair: one message per unit. */
static void test_tap_tx(void **state)
{
	(void)state;
	int sv[2];
	static struct dp_tap_queue q;
	struct dp_counters c;
	static uint8_t buf[70000];

	memset(&c, 0, sizeof(c));
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
	int big = 4 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	assert_int_equal(dp_tap_queue_init(&q, sv[0], true, true), 0);
	add_run(0, 1, 8, false);
	add((struct tf_spec){.udp = true, .payload = 50}, 1);
	unsigned n = npk;
	dp_tap_tx(&q, &pool, &c, pk, n);
	npk = 0; /* returned to the pool */
	assert_int_equal(c.host_tx_packets, 9);
	assert_int_equal(c.tap_superframes_out, 1);
	assert_int_equal(c.tap_coalesced, 8);
	ssize_t r = recv(sv[1], buf, sizeof(buf), 0);
	assert_true(r > 0);
	struct virtio_net_hdr vh;
	memcpy(&vh, buf, sizeof(vh));
	assert_int_equal(vh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(vh.gso_size, MSS);
	assert_int_equal((size_t)r, sizeof(vh) + 14 + 20 + 20 + 8 * MSS);
	r = recv(sv[1], buf, sizeof(buf), 0);
	assert_int_equal((size_t)r, sizeof(vh) + 14 + 20 + 8 + 50);
	memcpy(&vh, buf, sizeof(vh));
	assert_int_equal(vh.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	assert_true(recv(sv[1], buf, sizeof(buf), 0) < 0);
	assert_int_equal(pool.avail, DP_OUT_MAX);
	close(sv[1]);
	dp_tap_queue_fini(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_one_flow, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_interleaved_and_other, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_run_breakers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limits_and_padding, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tap_tx, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_udp_flow4, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_udp_flow6, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_udp_breakers, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
