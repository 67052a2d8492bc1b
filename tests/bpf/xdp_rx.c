/* Test helper for test_xdp_netns.sh: loads the steering program with the
 * loader, attaches it to IFNAME, opens an AF_XDP socket (copy mode, libxdp
 * with XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD: our program carries the XSK map)
 * on queue 0, and counts the frames it receives until SIGTERM/SIGINT or
 * SECONDS pass. Prints "ready" once the socket is in the map, then at exit
 * "received N", "bad N" (frames that are not UDP to PORT) and one
 * "counter NAME N" line per program counter.
 *
 *   xdp_rx OBJ IFNAME PORT SECONDS ADDR...
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <xdp/xsk.h>

#include "bpf/loader/xdp_prog.h"

#define NUM_FRAMES 1024
#define FRAME_SIZE XSK_UMEM__DEFAULT_FRAME_SIZE

static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

/* 1 when the frame is a UDP datagram to `port` (IPv4 without options
 * beyond IHL, or IPv6 without extension headers). */
static int is_ours(const uint8_t *f, uint32_t len, uint16_t port)
{
	const struct ethhdr *eth = (const void *)f;
	const struct udphdr *udp;
	size_t off = sizeof(*eth);

	if (len < off)
		return 0;
	if (eth->h_proto == htons(ETH_P_IP)) {
		const struct iphdr *ip = (const void *)(f + off);

		if (len < off + sizeof(*ip) || ip->protocol != IPPROTO_UDP)
			return 0;
		off += ip->ihl * 4u;
	} else if (eth->h_proto == htons(ETH_P_IPV6)) {
		const struct ipv6hdr *ip6 = (const void *)(f + off);

		if (len < off + sizeof(*ip6) || ip6->nexthdr != IPPROTO_UDP)
			return 0;
		off += sizeof(*ip6);
	} else {
		return 0;
	}
	if (len < off + sizeof(*udp))
		return 0;
	udp = (const void *)(f + off);
	return udp->dest == htons(port);
}

int main(int argc, char **argv)
{
	struct xdp_prog_cfg cfg = {.n_queues = 1};
	struct xsk_socket_config xcfg = {
	    .rx_size = XSK_RING_CONS__DEFAULT_NUM_DESCS,
	    .tx_size = XSK_RING_PROD__DEFAULT_NUM_DESCS,
	    .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
	    .bind_flags = XDP_COPY | XDP_USE_NEED_WAKEUP,
	};
	uint64_t counters[XDP_STEER_COUNTERS], received = 0, bad = 0;
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons comp, rx;
	struct xsk_umem *umem = NULL;
	struct xsk_socket *xsk = NULL;
	struct xdp_prog *prog = NULL;
	char err[256];
	void *area = MAP_FAILED;
	time_t end;
	uint32_t idx;
	int r, rc = 1;

	if (argc < 6) {
		fprintf(stderr, "usage: xdp_rx OBJ IFNAME PORT SECONDS ADDR...\n");
		return 2;
	}
	cfg.obj_path = argv[1];
	cfg.port = (uint16_t)atoi(argv[3]);
	end = time(NULL) + atoi(argv[4]);
	for (int i = 5; i < argc; i++) {
		if (inet_pton(AF_INET, argv[i], &cfg.v4[cfg.n_v4]) == 1)
			cfg.n_v4++;
		else if (inet_pton(AF_INET6, argv[i], &cfg.v6[cfg.n_v6]) == 1)
			cfg.n_v6++;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	prog = xdp_prog_load(&cfg, err, sizeof(err));
	if (!prog || xdp_prog_attach(prog, argv[2], XDP_PROG_MODE_AUTO, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	area = mmap(NULL, (size_t)NUM_FRAMES * FRAME_SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED) {
		perror("mmap");
		goto out;
	}
	r = xsk_umem__create(&umem, area, (uint64_t)NUM_FRAMES * FRAME_SIZE, &fill, &comp, NULL);
	if (r) {
		fprintf(stderr, "xsk_umem__create: %s\n", strerror(-r));
		goto out;
	}
	r = xsk_socket__create(&xsk, argv[2], 0, umem, &rx, &tx, &xcfg);
	if (r) {
		fprintf(stderr, "xsk_socket__create: %s\n", strerror(-r));
		goto out;
	}
	if (xsk_ring_prod__reserve(&fill, XSK_RING_PROD__DEFAULT_NUM_DESCS, &idx) !=
	    XSK_RING_PROD__DEFAULT_NUM_DESCS)
		goto out;
	for (uint32_t i = 0; i < XSK_RING_PROD__DEFAULT_NUM_DESCS; i++)
		*xsk_ring_prod__fill_addr(&fill, idx + i) = (uint64_t)i * FRAME_SIZE;
	xsk_ring_prod__submit(&fill, XSK_RING_PROD__DEFAULT_NUM_DESCS);
	r = xdp_prog_xsk_set(prog, 0, xsk_socket__fd(xsk));
	if (r) {
		fprintf(stderr, "xsk map: %s\n", strerror(-r));
		goto out;
	}
	printf("ready mode=%s\n",
	       xdp_prog_mode_get(prog) == XDP_PROG_MODE_NATIVE ? "native" : "generic");
	fflush(stdout);

	while (!quit && time(NULL) < end) {
		struct pollfd pfd = {.fd = xsk_socket__fd(xsk), .events = POLLIN};
		uint32_t n, fidx;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = xsk_ring_cons__peek(&rx, 64, &idx);
		if (!n)
			continue;
		while (xsk_ring_prod__reserve(&fill, n, &fidx) != n)
			;
		for (uint32_t i = 0; i < n; i++) {
			const struct xdp_desc *d = xsk_ring_cons__rx_desc(&rx, idx + i);
			const uint8_t *f = xsk_umem__get_data(area, d->addr);

			if (is_ours(f, d->len, cfg.port))
				received++;
			else
				bad++;
			*xsk_ring_prod__fill_addr(&fill, fidx + i) =
			    xsk_umem__extract_addr(d->addr);
		}
		xsk_ring_prod__submit(&fill, n);
		xsk_ring_cons__release(&rx, n);
	}
	printf("received %llu\nbad %llu\n", (unsigned long long)received, (unsigned long long)bad);
	if (xdp_prog_counters_read(prog, counters) == 0)
		for (unsigned i = 0; i < XDP_STEER_COUNTERS; i++)
			printf("counter %s %llu\n", xdp_prog_counter_name(i),
			       (unsigned long long)counters[i]);
	rc = 0;
out:
	if (xsk)
		xsk_socket__delete(xsk);
	if (umem)
		xsk_umem__delete(umem);
	if (area != MAP_FAILED)
		munmap(area, (size_t)NUM_FRAMES * FRAME_SIZE);
	xdp_prog_close(prog);
	return rc;
}
