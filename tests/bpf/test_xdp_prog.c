/* The XDP steering program against crafted frames (bpf_prog_test_run): the
 * verdict and the counter each frame lands in; and the loader's errors and
 * attach/detach on a private namespace's loopback. Root and BPF needed:
 * exits 77 (skip) otherwise. */
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <cmocka.h>

#include "bpf/loader/xdp_prog.h"
#include "tests/bpf/pkt_build.h"

#ifndef AF_XDP
#define AF_XDP 44
#endif

#define PORT   4500
#define OUR4   "198.18.0.2"
#define OTHER4 "198.18.0.3"
#define OUR6   "2001:db8::2"
#define OTHER6 "2001:db8::3"

static const uint8_t esp[] = {0, 0, 0x10, 0x01, 0, 0, 0, 1, 0xaa, 0xbb, 0xcc, 0xdd};
static const uint8_t handshake[] = {0, 0, 0, 0, 1, 0, 0, 0, 0x42, 0x42, 0x42, 0x42};
static const uint8_t stun[] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1,  2,
			       3,    4,	   5,	 6,    7,    8,	   9,	 10,   11, 12};
static const uint8_t chandata[] = {0x40, 0x00, 0x00, 0x04, 0, 0, 0, 0};

struct fixture {
	struct xdp_prog *prog;
	int xsk;
};

static struct xdp_prog_cfg base_cfg(void)
{
	struct xdp_prog_cfg c = {
	    .obj_path = XDP_OBJ_PATH, .port = PORT, .n_v4 = 1, .n_v6 = 1, .n_queues = 1};

	inet_pton(AF_INET, OUR4, &c.v4[0]);
	inet_pton(AF_INET6, OUR6, &c.v6[0]);
	return c;
}

static int setup_cfg(void **state, const struct xdp_prog_cfg *cfg)
{
	static struct fixture f;
	char err[256];

	f.prog = xdp_prog_load(cfg, err, sizeof(err));
	if (!f.prog) {
		print_error("%s\n", err);
		return -1;
	}
	/* An unbound AF_XDP socket is enough for the XSK map slot: test_run
	 * reports the redirect verdict without delivering. */
	f.xsk = socket(AF_XDP, SOCK_RAW, 0);
	if (f.xsk < 0 || xdp_prog_xsk_set(f.prog, 0, f.xsk) < 0) {
		print_error("AF_XDP socket into the XSK map: %s\n", strerror(errno));
		return -1;
	}
	*state = &f;
	return 0;
}

static int setup(void **state)
{
	struct xdp_prog_cfg c = base_cfg();

	return setup_cfg(state, &c);
}

static int setup_any(void **state)
{
	struct xdp_prog_cfg c = base_cfg();

	c.n_v4 = c.n_v6 = 0;
	c.any_addr = true;
	return setup_cfg(state, &c);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close(f->xsk);
	xdp_prog_close(f->prog);
	return 0;
}

/* Runs one frame; returns the verdict, or -errno from test_run. */
static int run(struct fixture *f, const void *data, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = data, .data_size_in = (__u32)len, .repeat = 1);
	int r = bpf_prog_test_run_opts(xdp_prog_fd(f->prog), &o);

	return r < 0 ? -errno : (int)o.retval;
}

/* The frame gets `verdict`, and exactly counter `idx` moves, by one. */
static void expect(struct fixture *f, struct pkt *p, int verdict, unsigned idx)
{
	uint64_t before[XDP_STEER_COUNTERS], after[XDP_STEER_COUNTERS];

	if (p->l3)
		pkt_fix(p);
	assert_int_equal(xdp_prog_counters_read(f->prog, before), 0);
	assert_int_equal(run(f, p->b, p->len), verdict);
	assert_int_equal(xdp_prog_counters_read(f->prog, after), 0);
	for (unsigned i = 0; i < XDP_STEER_COUNTERS; i++) {
		if (after[i] - before[i] != (i == idx ? 1u : 0u))
			fail_msg("counter %s moved by %llu (expected %s)", xdp_prog_counter_name(i),
				 (unsigned long long)(after[i] - before[i]),
				 xdp_prog_counter_name(idx));
	}
}

static void v4_udp(struct pkt *p, const char *dst, uint16_t port, const void *pl, size_t n)
{
	*p = (struct pkt){0};
	put_eth(p, ETH_P_IP);
	put_ipv4(p, dst, IPPROTO_UDP, 0, 0);
	put_udp(p, port, pl, n);
}

static void v6_udp(struct pkt *p, const char *dst, uint16_t port, const void *pl, size_t n)
{
	*p = (struct pkt){0};
	put_eth(p, ETH_P_IPV6);
	put_ipv6(p, dst, IPPROTO_UDP);
	put_udp(p, port, pl, n);
}

static void test_ours_redirected(void **state)
{
	struct fixture *f = *state;
	const struct {
		const uint8_t *d;
		size_t n;
	} kinds[] = {{esp, sizeof(esp)},
		     {handshake, sizeof(handshake)},
		     {stun, sizeof(stun)},
		     {chandata, sizeof(chandata)},
		     {NULL, 0}};
	struct pkt p;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		v4_udp(&p, OUR4, PORT, kinds[i].d, kinds[i].n);
		expect(f, &p, XDP_REDIRECT, XDP_STEER_STEERED);
		v6_udp(&p, OUR6, PORT, kinds[i].d, kinds[i].n);
		expect(f, &p, XDP_REDIRECT, XDP_STEER_STEERED);
	}
	/* DF is not a fragment. */
	p = (struct pkt){0};
	put_eth(&p, ETH_P_IP);
	put_ipv4(&p, OUR4, IPPROTO_UDP, 0, 0x4000);
	put_udp(&p, PORT, esp, sizeof(esp));
	expect(f, &p, XDP_REDIRECT, XDP_STEER_STEERED);
}

static void test_others_passed(void **state)
{
	struct fixture *f = *state;
	struct pkt p;

	v4_udp(&p, OUR4, 53, esp, sizeof(esp));
	expect(f, &p, XDP_PASS, XDP_STEER_PASS_OTHER_PORT);
	v4_udp(&p, OUR4, PORT + 1, esp, sizeof(esp));
	expect(f, &p, XDP_PASS, XDP_STEER_PASS_OTHER_PORT);
	v4_udp(&p, OTHER4, PORT, esp, sizeof(esp));
	expect(f, &p, XDP_PASS, XDP_STEER_PASS_OTHER_ADDR);
	v6_udp(&p, OUR6, 53, esp, sizeof(esp));
	expect(f, &p, XDP_PASS, XDP_STEER_PASS_OTHER_PORT);
	v6_udp(&p, OTHER6, PORT, esp, sizeof(esp));
	expect(f, &p, XDP_PASS, XDP_STEER_PASS_OTHER_ADDR);

	p = (struct pkt){0};
	put_eth(&p, ETH_P_IP);
	put_ipv4(&p, OUR4, IPPROTO_TCP, 0, 0);
	put_tcp(&p, PORT);
	expect(f, &p, XDP_PASS, XDP_STEER_PASS_NOT_UDP);
	p = (struct pkt){0};
	put_eth(&p, ETH_P_IPV6);
	put_ipv6(&p, OUR6, IPPROTO_TCP);
	put_tcp(&p, PORT);
	expect(f, &p, XDP_PASS, XDP_STEER_PASS_NOT_UDP);
	p = (struct pkt){0};
	put_eth(&p, ETH_P_IP);
	put_ipv4(&p, OUR4, IPPROTO_ICMP, 0, 0);
	put(&p, "\x08\0\0\0\0\0\0\0", 8);
	expect(f, &p, XDP_PASS, XDP_STEER_PASS_NOT_UDP);
	p = (struct pkt){0};
	put_eth(&p, ETH_P_IPV6);
	put_ipv6(&p, OUR6, IPPROTO_ICMPV6);
	put(&p, "\x80\0\0\0\0\0\0\0", 8);
	expect(f, &p, XDP_PASS, XDP_STEER_PASS_NOT_UDP);
	/* ESP straight on IP (protocol 50) is the kernel's. */
	p = (struct pkt){0};
	put_eth(&p, ETH_P_IP);
	put_ipv4(&p, OUR4, IPPROTO_ESP, 0, 0);
	put(&p, esp, sizeof(esp));
	expect(f, &p, XDP_PASS, XDP_STEER_PASS_NOT_UDP);
	/* ARP */
	p = (struct pkt){0};
	put_eth(&p, ETH_P_ARP);
	put(&p, "\0\1\x08\0\6\4\0\1", 8);
	put(&p, "\2\0\0\0\0\1\xc6\x12\0\1\0\0\0\0\0\0\xc6\x12\0\2", 20);
	expect(f, &p, XDP_PASS, XDP_STEER_PASS_NOT_IP);
}

static void test_ipv4_options(void **state)
{
	struct fixture *f = *state;
	struct pkt p;

	for (unsigned words = 1; words <= 10; words++) {
		p = (struct pkt){0};
		put_eth(&p, ETH_P_IP);
		put_ipv4(&p, OUR4, IPPROTO_UDP, words, 0);
		put_udp(&p, PORT, esp, sizeof(esp));
		expect(f, &p, XDP_REDIRECT, XDP_STEER_STEERED);
		/* Options whose bytes 2..3 read as our port: a parser that
		 * ignored IHL would steer this datagram to port 53. */
		p.b[p.l3 + 22] = PORT >> 8;
		p.b[p.l3 + 23] = PORT & 0xff;
		p.b[p.l4 + 2] = 0;
		p.b[p.l4 + 3] = 53;
		expect(f, &p, XDP_PASS, XDP_STEER_PASS_OTHER_PORT);
	}
	/* IHL below 5 and a wrong version */
	v4_udp(&p, OUR4, PORT, esp, sizeof(esp));
	p.b[p.l3] = 0x44;
	expect(f, &p, XDP_PASS, XDP_STEER_PASS_BAD_IP);
	v4_udp(&p, OUR4, PORT, esp, sizeof(esp));
	p.b[p.l3] = 0x65;
	expect(f, &p, XDP_PASS, XDP_STEER_PASS_BAD_IP);
	/* IHL 15 claims 60 bytes the frame does not have */
	p = (struct pkt){0};
	put_eth(&p, ETH_P_IP);
	put_ipv4(&p, OUR4, IPPROTO_UDP, 0, 0);
	p.b[p.l3] = 0x4f;
	put(&p, "\0\0\0\0\0\0\0\0", 8);
	expect(f, &p, XDP_PASS, XDP_STEER_PASS_TRUNCATED);
}

static void test_fragments(void **state)
{
	struct fixture *f = *state;
	const uint16_t frags[] = {0x2000, 0x0001, 0x00b9, 0x20b9, 0x1fff};
	struct pkt p;

	for (size_t i = 0; i < sizeof(frags) / sizeof(frags[0]); i++) {
		p = (struct pkt){0};
		put_eth(&p, ETH_P_IP);
		put_ipv4(&p, OUR4, IPPROTO_UDP, 0, frags[i]);
		put_udp(&p, PORT, esp, sizeof(esp));
		expect(f, &p, XDP_PASS, XDP_STEER_PASS_FRAGMENT);
	}
	p = (struct pkt){0};
	put_eth(&p, ETH_P_IPV6);
	put_ipv6(&p, OUR6, IPPROTO_FRAGMENT);
	put_ext6(&p, IPPROTO_UDP);
	put_udp(&p, PORT, esp, sizeof(esp));
	expect(f, &p, XDP_PASS, XDP_STEER_PASS_FRAGMENT);
}

static void test_ipv6_ext(void **state)
{
	struct fixture *f = *state;
	const uint8_t exts[] = {IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING};
	struct pkt p;

	for (size_t i = 0; i < sizeof(exts); i++) {
		p = (struct pkt){0};
		put_eth(&p, ETH_P_IPV6);
		put_ipv6(&p, OUR6, exts[i]);
		put_ext6(&p, IPPROTO_UDP);
		put_udp(&p, PORT, esp, sizeof(esp));
		expect(f, &p, XDP_PASS, XDP_STEER_PASS_IPV6_EXT);
	}
	v6_udp(&p, OUR6, PORT, esp, sizeof(esp));
	p.b[p.l3] = 0x40;
	expect(f, &p, XDP_PASS, XDP_STEER_PASS_BAD_IP);
}

static void test_vlan(void **state)
{
	struct fixture *f = *state;
	struct pkt p = {0};

	put_eth(&p, ETH_P_8021Q);
	put_vlan(&p, 7, ETH_P_IP);
	put_ipv4(&p, OUR4, IPPROTO_UDP, 0, 0);
	put_udp(&p, PORT, esp, sizeof(esp));
	expect(f, &p, XDP_PASS, XDP_STEER_PASS_VLAN);
	p = (struct pkt){0};
	put_eth(&p, ETH_P_8021AD);
	put_vlan(&p, 7, ETH_P_8021Q);
	put_vlan(&p, 8, ETH_P_IPV6);
	put_ipv6(&p, OUR6, IPPROTO_UDP);
	put_udp(&p, PORT, esp, sizeof(esp));
	expect(f, &p, XDP_PASS, XDP_STEER_PASS_VLAN);
}

/* Every prefix of a frame we would steer: pass, never redirect, never a
 * read past the end (the verifier already proved that; this proves the
 * verdicts). Below 14 bytes test_run itself refuses the frame. */
static void truncate_all(struct fixture *f, struct pkt *p)
{
	pkt_fix(p);
	for (size_t len = 0; len < p->len; len++) {
		int v = run(f, p->b, len);

		if (len < ETH_HLEN && v == -EINVAL)
			continue;
		if (v != XDP_PASS)
			fail_msg("%zu of %zu bytes: verdict %d", len, p->len, v);
	}
	assert_int_equal(run(f, p->b, p->len), XDP_REDIRECT);
}

static void test_truncated(void **state)
{
	struct fixture *f = *state;
	uint64_t before[XDP_STEER_COUNTERS], after[XDP_STEER_COUNTERS];
	struct pkt p;

	v4_udp(&p, OUR4, PORT, NULL, 0);
	truncate_all(f, &p);
	v6_udp(&p, OUR6, PORT, NULL, 0);
	truncate_all(f, &p);
	p = (struct pkt){0};
	put_eth(&p, ETH_P_IP);
	put_ipv4(&p, OUR4, IPPROTO_UDP, 10, 0);
	put_udp(&p, PORT, NULL, 0);
	truncate_all(f, &p);

	/* Counted as truncated: a frame cut inside the UDP header. */
	v4_udp(&p, OUR4, PORT, NULL, 0);
	pkt_fix(&p);
	assert_int_equal(xdp_prog_counters_read(f->prog, before), 0);
	assert_int_equal(run(f, p.b, p.len - 1), XDP_PASS);
	assert_int_equal(xdp_prog_counters_read(f->prog, after), 0);
	assert_int_equal(after[XDP_STEER_PASS_TRUNCATED] - before[XDP_STEER_PASS_TRUNCATED], 1);
}

static void test_no_socket(void **state)
{
	struct fixture *f = *state;
	struct pkt p;

	assert_int_equal(xdp_prog_xsk_clear(f->prog, 0), 0);
	v4_udp(&p, OUR4, PORT, esp, sizeof(esp));
	expect(f, &p, XDP_PASS, XDP_STEER_PASS_NO_SOCKET);
	assert_int_equal(xdp_prog_xsk_set(f->prog, 0, f->xsk), 0);
	expect(f, &p, XDP_REDIRECT, XDP_STEER_STEERED);
	assert_int_equal(xdp_prog_xsk_set(f->prog, 1, f->xsk), -EINVAL);
}

static void test_any_addr(void **state)
{
	struct fixture *f = *state;
	struct pkt p;

	v4_udp(&p, OTHER4, PORT, esp, sizeof(esp));
	expect(f, &p, XDP_REDIRECT, XDP_STEER_STEERED);
	v6_udp(&p, OTHER6, PORT, esp, sizeof(esp));
	expect(f, &p, XDP_REDIRECT, XDP_STEER_STEERED);
	v4_udp(&p, OTHER4, PORT + 1, esp, sizeof(esp));
	expect(f, &p, XDP_PASS, XDP_STEER_PASS_OTHER_PORT);
}

/* The rules of docs/af_xdp.md written plainly, to hold the program against. */
static int ref_verdict(const uint8_t *f, size_t len)
{
	uint8_t our4[4], our6[16];
	size_t off = ETH_HLEN;
	int ours;

	inet_pton(AF_INET, OUR4, our4);
	inet_pton(AF_INET6, OUR6, our6);
	if (len < ETH_HLEN)
		return XDP_PASS;
	if (f[12] == 0x08 && f[13] == 0x00) {
		size_t ihl;

		if (len < off + 20 || f[off] >> 4 != 4 || (f[off] & 15) < 5)
			return XDP_PASS;
		ihl = (f[off] & 15u) * 4;
		if (len < off + ihl || ((f[off + 6] << 8 | f[off + 7]) & 0x3fff) ||
		    f[off + 9] != IPPROTO_UDP)
			return XDP_PASS;
		ours = !memcmp(f + off + 16, our4, 4);
		off += ihl;
	} else if (f[12] == 0x86 && f[13] == 0xdd) {
		if (len < off + 40 || f[off] >> 4 != 6 || f[off + 6] != IPPROTO_UDP)
			return XDP_PASS;
		ours = !memcmp(f + off + 24, our6, 16);
		off += 40;
	} else {
		return XDP_PASS;
	}
	if (len < off + 8 || (f[off + 2] << 8 | f[off + 3]) != PORT)
		return XDP_PASS;
	return ours ? XDP_REDIRECT : XDP_PASS;
}

/* Random mutations of steerable frames (fixed seed): the program's verdict
 * always equals the reference's, and both verdicts occur often. */
static void test_mutations(void **state)
{
	struct fixture *f = *state;
	struct pkt t[3];
	unsigned seed = 1, counts[2] = {0, 0};

	v4_udp(&t[0], OUR4, PORT, esp, sizeof(esp));
	v6_udp(&t[1], OUR6, PORT, esp, sizeof(esp));
	t[2] = (struct pkt){0};
	put_eth(&t[2], ETH_P_IP);
	put_ipv4(&t[2], OUR4, IPPROTO_UDP, 3, 0);
	put_udp(&t[2], PORT, esp, sizeof(esp));
	for (int i = 0; i < 3; i++)
		pkt_fix(&t[i]);
	for (int i = 0; i < 20000; i++) {
		struct pkt p = t[rand_r(&seed) % 3];
		int flips = 1 + rand_r(&seed) % 3, want, got;
		size_t len = p.len;

		for (int k = 0; k < flips; k++) {
			size_t at = (size_t)rand_r(&seed) % (p.l4 + 8);

			p.b[at] = rand_r(&seed) % 4 ? (uint8_t)rand_r(&seed) : p.b[at] ^ 0x01;
		}
		if (rand_r(&seed) % 4 == 0)
			len = (size_t)rand_r(&seed) % (p.len + 1);
		want = ref_verdict(p.b, len);
		got = run(f, p.b, len);
		if (len < ETH_HLEN && got == -EINVAL)
			continue;
		if (got != want)
			fail_msg("mutation %d (%zu bytes): program %d, reference %d", i, len, got,
				 want);
		counts[got == XDP_REDIRECT]++;
	}
	print_message("mutations: %u passed, %u redirected\n", counts[0], counts[1]);
	assert_true(counts[0] > 2000 && counts[1] > 2000);
}

static void test_load_errors(void **state)
{
	struct xdp_prog_cfg c = base_cfg();
	char err[256] = "";

	(void)state;
	c.obj_path = "/nonexistent/xdp_steer.bpf.o";
	assert_null(xdp_prog_load(&c, err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "/nonexistent/xdp_steer.bpf.o"));
	c = base_cfg();
	c.port = 0;
	assert_null(xdp_prog_load(&c, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	c = base_cfg();
	c.n_queues = 65;
	assert_null(xdp_prog_load(&c, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "queue count"));
}

static unsigned attached_id(const char *ifname)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (bpf_xdp_query((int)if_nametoindex(ifname), 0, &q) < 0)
		return ~0u;
	return q.prog_id;
}

/* In this process's own namespace (see main): attach to lo (no native XDP,
 * so auto falls back to generic), refuse a second program, detach. */
static void test_attach(void **state)
{
	struct xdp_prog_cfg c = base_cfg();
	struct xdp_prog *a, *b;
	char err[256] = "";

	(void)state;
	a = xdp_prog_load(&c, err, sizeof(err));
	b = xdp_prog_load(&c, err, sizeof(err));
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(xdp_prog_attach(a, "nosuchif0", XDP_PROG_MODE_AUTO, err, sizeof(err)),
			 -ENODEV);
	assert_string_equal(err, "xdp: interface nosuchif0 does not exist");
	assert_int_equal(xdp_prog_attach(a, "lo", XDP_PROG_MODE_NATIVE, err, sizeof(err)) < 0, 1);
	assert_int_equal(attached_id("lo"), 0);
	assert_int_equal(xdp_prog_attach(a, "lo", XDP_PROG_MODE_AUTO, err, sizeof(err)), 0);
	assert_int_equal(xdp_prog_mode_get(a), XDP_PROG_MODE_GENERIC);
	assert_int_not_equal(attached_id("lo"), 0);
	assert_int_equal(xdp_prog_attach(b, "lo", XDP_PROG_MODE_GENERIC, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "already has an XDP program"));
	assert_int_equal(xdp_prog_detach(a), 0);
	assert_int_equal(attached_id("lo"), 0);
	assert_int_equal(xdp_prog_attach(b, "lo", XDP_PROG_MODE_GENERIC, err, sizeof(err)), 0);
	xdp_prog_close(b); /* close detaches */
	assert_int_equal(attached_id("lo"), 0);
	xdp_prog_close(a);
}

int main(void)
{
	const struct CMUnitTest steer[] = {
	    cmocka_unit_test_setup_teardown(test_ours_redirected, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_others_passed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ipv4_options, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fragments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ipv6_ext, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vlan, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_socket, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_any_addr, setup_any, teardown),
	    cmocka_unit_test_setup_teardown(test_mutations, setup, teardown),
	    cmocka_unit_test(test_load_errors),
	    cmocka_unit_test(test_attach),
	};
	struct xdp_prog_cfg c = base_cfg();
	struct xdp_prog *probe;
	char err[256];

	if (geteuid() != 0) {
		printf("SKIP: needs root (BPF)\n");
		return 77;
	}
	probe = xdp_prog_load(&c, err, sizeof(err));
	if (!probe && (errno == EPERM || errno == EACCES)) {
		printf("SKIP: %s\n", err);
		return 77;
	}
	xdp_prog_close(probe);
	/* A namespace of our own: the attach tests touch only its loopback. */
	if (unshare(CLONE_NEWNET) < 0) {
		printf("SKIP: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return 77;
	}
	return cmocka_run_group_tests(steer, NULL, NULL);
}
