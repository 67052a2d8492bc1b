/* The software segmenter (dataplane/gso.c) and the TAP read path around it
 * (dataplane/tap.c): every segment checked field by field and every checksum
 * against an independent computation (offload_frames.h); malformed virtio-net
 * headers refused, and on the TAP path dropped and counted. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <cmocka.h>

#include "dataplane/csum.h"
#include "dataplane/gso.h"
#include "dataplane/tap.h"
#include "offload_frames.h"

#define SEG_MAX 9000

static struct tf_frame sf, seg;

static struct virtio_net_hdr gso_hdr(const struct tf_frame *t, bool v6, bool udp, uint16_t mss)
{
	struct virtio_net_hdr vh = {
	    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
	    .gso_type = udp ? VIRTIO_NET_HDR_GSO_UDP_L4
			    : (v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4),
	    .hdr_len = (uint16_t)t->hdr,
	    .gso_size = mss,
	    .csum_start = (uint16_t)t->l4,
	    .csum_offset = udp ? 6 : 16,
	};
	return vh;
}

/* Segments sf (built from s) with mss and checks every segment. */
static void check_segmentation(const struct tf_spec *s, uint16_t mss)
{
	tf_build(&sf, s);
	tf_make_partial(&sf, s->v6, s->udp);
	struct virtio_net_hdr vh = gso_hdr(&sf, s->v6, s->udp, mss);
	struct dp_l4_info info;
	assert_int_equal(dp_gso_parse(&vh, sf.f, sf.len, SEG_MAX, &info), 0);
	assert_int_equal(info.l3off, sf.l3);
	assert_int_equal(info.l4off, sf.l4);
	assert_int_equal(info.hdrlen, sf.hdr);
	assert_int_equal(info.mss, mss);

	unsigned n = dp_gso_count(&info, sf.len);
	assert_int_equal(n, (s->payload + mss - 1) / mss);
	size_t done = 0;
	for (unsigned k = 0; k < n; k++) {
		size_t len = dp_gso_segment(&info, sf.f, sf.len, k, seg.f);
		size_t pl = s->payload - done < mss ? s->payload - done : mss;
		bool last = k == n - 1;
		assert_int_equal(len, sf.hdr + pl);
		/* Ethernet and addresses untouched; payload is the right slice */
		assert_memory_equal(seg.f, sf.f, sf.l3);
		assert_memory_equal(seg.f + sf.hdr, sf.f + sf.hdr + done, pl);
		const uint8_t *ip = seg.f + sf.l3, *l4 = seg.f + sf.l4;
		if (s->v6) {
			assert_int_equal(tf_rd16(ip + 4), len - sf.l3 - 40);
			assert_memory_equal(ip + 6, sf.f + sf.l3 + 6, sf.l4 - sf.l3 - 6);
		} else {
			size_t ihl = (size_t)(ip[0] & 0xf) * 4;
			assert_int_equal(tf_rd16(ip + 2), len - sf.l3);
			assert_int_equal(tf_rd16(ip + 4), (uint16_t)(s->ip_id + k));
			assert_int_equal(tf_fold(tf_sum(ip, ihl, 0)), 0xffff);
			assert_memory_equal(ip + 20, sf.f + sf.l3 + 20, ihl - 20);
		}
		uint8_t proto = s->udp ? IPPROTO_UDP : IPPROTO_TCP;
		assert_int_equal(tf_l4_verify(ip, s->v6, proto, l4, len - sf.l4), 0xffff);
		if (s->udp) {
			assert_int_equal(tf_rd16(l4 + 4), 8 + pl);
		} else {
			assert_int_equal(tf_rd32(l4 + 4), (uint32_t)(s->seq + done));
			assert_int_equal(tf_rd32(l4 + 8), s->ack);
			uint8_t want = s->flags;
			if (k > 0)
				want &= (uint8_t)~0x80; /* CWR: first only */
			if (!last)
				want &= (uint8_t)~0x09; /* FIN, PSH: last only */
			assert_int_equal(l4[13], want);
			/* window, urgent pointer, options as they were */
			assert_memory_equal(l4 + 14, sf.f + sf.l4 + 14, 2);
			assert_memory_equal(l4 + 18, sf.f + sf.l4 + 18, sf.hdr - sf.l4 - 18);
		}
		done += pl;
	}
	assert_int_equal(done, s->payload);
}

static void test_tcp4(void **state)
{
	(void)state;
	/* exact multiple, last short, IP and TCP options, every flag */
	struct tf_spec s = {
	    .flags = 0x10, .seq = 1000, .ack = 77, .ip_id = 65530, .payload = 14480};
	check_segmentation(&s, 1448);
	s.payload = 14481;
	s.flags = 0x10 | 0x08 | 0x01 | 0x80 | 0x20; /* ACK PSH FIN CWR URG */
	check_segmentation(&s, 1448);
	s.ipopt = 8;
	s.tcpopt = 12;
	s.seq = 0xfffff000; /* sequence numbers wrap */
	s.payload = 60000;
	check_segmentation(&s, 1400);
	s.vlan = true;
	s.payload = 3000;
	check_segmentation(&s, 536);
}

static void test_tcp6(void **state)
{
	(void)state;
	struct tf_spec s = {
	    .v6 = true, .flags = 0x18, .seq = 5, .ack = 9, .payload = 20000, .tag = 3};
	check_segmentation(&s, 1428);
	s.ipopt = 8; /* destination options header */
	s.tcpopt = 20;
	s.flags = 0x11 | 0x80;
	check_segmentation(&s, 1000);
	s.payload = 1001; /* one full segment and one byte */
	check_segmentation(&s, 1000);
}

static void test_udp(void **state)
{
	(void)state;
	struct tf_spec s = {.udp = true, .ip_id = 7, .payload = 12000};
	check_segmentation(&s, 1200);
	s.payload = 12345;
	check_segmentation(&s, 1200);
	s.v6 = true;
	check_segmentation(&s, 1232);
	s.ipopt = 16;
	check_segmentation(&s, 100);
}

static void test_csum_finish(void **state)
{
	(void)state;
	/* a plain frame with a partial checksum (checksum offload, no GSO) */
	for (int v6 = 0; v6 <= 1; v6++)
		for (int udp = 0; udp <= 1; udp++) {
			struct tf_spec s = {.v6 = v6, .udp = udp, .payload = 777, .tag = 9};
			tf_build(&sf, &s);
			uint8_t want[2];
			memcpy(want, sf.f + sf.l4 + (udp ? 6 : 16), 2);
			tf_make_partial(&sf, v6, udp);
			struct virtio_net_hdr vh = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
						    .csum_start = (uint16_t)sf.l4,
						    .csum_offset = udp ? 6 : 16};
			struct dp_l4_info info;
			assert_int_equal(dp_gso_parse(&vh, sf.f, sf.len, SEG_MAX, &info), 0);
			assert_int_equal(info.mss, 0);
			assert_true(info.csum);
			dp_gso_csum_finish(&info, sf.f, sf.len);
			assert_memory_equal(sf.f + sf.l4 + (udp ? 6 : 16), want, 2);
		}
	/* no flags: nothing to do */
	struct virtio_net_hdr none = {0};
	struct dp_l4_info info;
	assert_int_equal(dp_gso_parse(&none, sf.f, sf.len, SEG_MAX, &info), 0);
	assert_false(info.csum);
}

static void test_malformed(void **state)
{
	(void)state;
	struct tf_spec s = {.flags = 0x10, .payload = 5000};
	struct dp_l4_info info;
	tf_build(&sf, &s);
	struct virtio_net_hdr ok = gso_hdr(&sf, false, false, 1448), vh;
	assert_int_equal(dp_gso_parse(&ok, sf.f, sf.len, SEG_MAX, &info), 0);

#define BAD(field, value, err)                                                                     \
	do {                                                                                       \
		vh = ok;                                                                           \
		vh.field = value;                                                                  \
		assert_int_equal(dp_gso_parse(&vh, sf.f, sf.len, SEG_MAX, &info), err);            \
	} while (0)
	BAD(gso_size, 0, -EINVAL);				 /* gso_size 0 */
	BAD(gso_size, (uint16_t)sf.len, -EINVAL);		 /* not smaller than the frame */
	BAD(gso_size, 60000, -EINVAL);				 /* larger than the frame */
	BAD(csum_start, (uint16_t)(sf.l4 + 2), -EINVAL);	 /* wrong csum_start */
	BAD(csum_start, 60000, -EINVAL);			 /* beyond the frame */
	BAD(csum_offset, 6, -EINVAL);				 /* UDP's offset on TCP */
	BAD(gso_type, VIRTIO_NET_HDR_GSO_TCPV6, -EINVAL);	 /* v6 type, v4 frame */
	BAD(gso_type, VIRTIO_NET_HDR_GSO_UDP_L4, -EINVAL);	 /* UDP type, TCP frame */
	BAD(gso_type, VIRTIO_NET_HDR_GSO_UDP, -EINVAL);		 /* UFO: not offered */
	BAD(gso_type, 77, -EINVAL);				 /* unknown type */
	BAD(flags, 0, -EINVAL);					 /* GSO without NEEDS_CSUM */
	BAD(flags, VIRTIO_NET_HDR_F_NEEDS_CSUM | 0x80, -EINVAL); /* unknown flag */
	/* a segment that would not fit the caller's buffer */
	assert_int_equal(dp_gso_parse(&ok, sf.f, sf.len, 1000, &info), -EMSGSIZE);
	/* truncated frames: every prefix shorter than the headers */
	for (size_t l = 0; l < sf.hdr; l++) {
		vh = ok;
		vh.gso_size = 1;
		assert_int_equal(dp_gso_parse(&vh, sf.f, l, SEG_MAX, &info), -EINVAL);
	}
	/* headers only, no payload */
	vh = ok;
	vh.gso_size = 1;
	assert_int_equal(dp_gso_parse(&vh, sf.f, sf.hdr, SEG_MAX, &info), -EINVAL);
	/* an IPv4 fragment */
	sf.f[sf.l3 + 6] |= 0x20;
	assert_int_equal(dp_gso_parse(&ok, sf.f, sf.len, SEG_MAX, &info), -EINVAL);
	sf.f[sf.l3 + 6] &= (uint8_t)~0x20;
	/* not IP at all */
	tf_wr16(sf.f + 12, 0x0806);
	assert_int_equal(dp_gso_parse(&ok, sf.f, sf.len, SEG_MAX, &info), -EINVAL);
	tf_wr16(sf.f + 12, 0x0800);
	/* a plain frame whose checksum field lies outside it */
	struct virtio_net_hdr cs = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				    .csum_start = (uint16_t)(sf.len - 1),
				    .csum_offset = 0};
	assert_int_equal(dp_gso_parse(&cs, sf.f, sf.len, SEG_MAX, &info), -EINVAL);
#undef BAD
}

/* ---- the TAP read path, on a SOCK_SEQPACKET pair standing in for the TAP ---- */

static void send_frame(int fd, const struct virtio_net_hdr *vh, const uint8_t *f, size_t len)
{
	struct iovec iov[2] = {{(void *)vh, sizeof(*vh)}, {(void *)f, len}};
	assert_int_equal(writev(fd, iov, 2), (ssize_t)(sizeof(*vh) + len));
}

static void test_tap_rx(void **state)
{
	(void)state;
	int sv[2];
	struct dp_pool pool;
	struct dp_counters c;
	static struct dp_tap_queue q;
	struct dp_pkt *pkts[DP_BURST_MAX];

	memset(&c, 0, sizeof(c));
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
	int big = 1 << 20;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	assert_int_equal(dp_pool_init(&pool, 256), 0);
	assert_int_equal(dp_tap_queue_init(&q, sv[0], true, true), 0);

	/* a 40-segment super-frame read 16 packets at a time */
	struct tf_spec s = {.flags = 0x18, .seq = 1, .payload = 40 * 1000, .tag = 5};
	tf_build(&sf, &s);
	tf_make_partial(&sf, false, false);
	struct virtio_net_hdr vh = gso_hdr(&sf, false, false, 1000);
	send_frame(sv[1], &vh, sf.f, sf.len);
	/* then a malformed one (dropped, counted), then a plain frame */
	struct virtio_net_hdr bad = vh;
	bad.gso_size = 0;
	send_frame(sv[1], &bad, sf.f, sf.len);
	struct virtio_net_hdr none = {0};
	send_frame(sv[1], &none, sf.f, 100);

	unsigned got = 0, n, plain = 0;
	uint32_t seq = 1;
	while ((n = dp_tap_rx(&q, &pool, &c, pkts, 16)) > 0) {
		assert_true(n <= 16);
		for (unsigned i = 0; i < n; i++) {
			if (got == 40) { /* then only the plain frame */
				assert_int_equal(pkts[i]->len, 100);
				assert_memory_equal(pkts[i]->data, sf.f, 100);
				plain++;
				continue;
			}
			assert_int_equal(pkts[i]->len, sf.hdr + 1000);
			assert_int_equal(tf_rd32(pkts[i]->data + sf.l4 + 4), seq);
			assert_int_equal(tf_l4_verify(pkts[i]->data + sf.l3, false, IPPROTO_TCP,
						      pkts[i]->data + sf.l4, pkts[i]->len - sf.l4),
					 0xffff);
			seq += 1000;
			got++;
		}
		dp_pool_put_bulk(&pool, pkts, n);
	}
	assert_int_equal(got, 40);
	assert_int_equal(plain, 1);
	assert_int_equal(c.tap_superframes_in, 1);
	assert_int_equal(c.tap_segments_in, 40);
	assert_int_equal(c.drops[DP_DROP_BAD_VNET_HDR], 1);
	assert_int_equal(pool.avail, 256);

	/* a plain frame with a wrong csum_start comes back marked */
	bad = (struct virtio_net_hdr){
	    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 99, .csum_offset = 16};
	send_frame(sv[1], &bad, sf.f, 100);
	n = dp_tap_rx(&q, &pool, &c, pkts, 16);
	assert_int_equal(n, 1);
	assert_int_equal(pkts[0]->drop, DP_DROP_BAD_VNET_HDR);
	dp_pool_put_bulk(&pool, pkts, n);

	/* pool empty: the super-frame waits, nothing is lost */
	send_frame(sv[1], &vh, sf.f, sf.len);
	struct dp_pkt *hold[256];
	unsigned held = 0;
	while (pool.avail > 3)
		hold[held++] = dp_pool_get(&pool);
	n = dp_tap_rx(&q, &pool, &c, pkts, 16);
	assert_int_equal(n, 3);
	dp_pool_put_bulk(&pool, pkts, n);
	dp_pool_put_bulk(&pool, hold, held);
	got = 3;
	while ((n = dp_tap_rx(&q, &pool, &c, pkts, 16)) > 0) {
		got += n;
		dp_pool_put_bulk(&pool, pkts, n);
	}
	assert_int_equal(got, 40);

	close(sv[1]);
	dp_tap_queue_fini(&q);
	dp_pool_fini(&pool);
}

/* dp_csum_add's 32-byte rounds and its tail agree with the byte-wise sum for
 * every length up to past two rounds, at every alignment, from a carried-in
 * sum, and over a 64 KiB run of 0xff bytes (the largest sums). */
static void test_csum_add(void **state)
{
	(void)state;
	static uint8_t buf[65536 + 8];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + (i >> 7));
	for (size_t off = 0; off < 8; off++) {
		for (size_t len = 0; len <= 300; len += 2) {
			uint8_t *p = buf + off;
			uint64_t head = dp_csum_add(0, p, 6);
			uint16_t c = dp_csum_finish(dp_csum_add(head, p + 6, len));
			uint8_t got[2];
			memcpy(got, &c, 2);
			uint16_t want = (uint16_t)~tf_fold(tf_sum(p, len + 6, 0));
			assert_int_equal(tf_rd16(got), want);
		}
	}
	memset(buf, 0xff, sizeof(buf));
	uint16_t c = dp_csum_finish(dp_csum_add(0, buf + 1, 65535));
	uint8_t got[2];
	memcpy(got, &c, 2);
	assert_int_equal(tf_rd16(got), (uint16_t)~tf_fold(tf_sum(buf + 1, 65535, 0)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tcp4),      cmocka_unit_test(test_tcp6),
	    cmocka_unit_test(test_udp),	      cmocka_unit_test(test_csum_finish),
	    cmocka_unit_test(test_malformed), cmocka_unit_test(test_tap_rx),
	    cmocka_unit_test(test_csum_add),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
