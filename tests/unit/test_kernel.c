/* The `kernel` backend against the real kernel, inside a network namespace of
 * its own (unshare(CLONE_NEWNET) before anything else), so nothing here can
 * touch the host's interfaces. Needs root; skipped (77) where namespaces or
 * /dev/net/tun are not available.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "tests/unit/netns_private.h"

#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "dataplane/kernel.h"
#include "dataplane/table.h"
#include "dataplane/worker.h"

#define TEST_ETHERTYPE 0x88b5 /* IEEE local experimental: nothing else sends it */

static struct dp_pool pool;
static struct dp_counters counters;

static int set_mtu(const char *name, int mtu)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_mtu = mtu;
	int ret = ioctl(fd, SIOCSIFMTU, &ifr);
	close(fd);
	return ret;
}

static bool if_exists(const char *name)
{
	char path[128];
	struct stat st;
	snprintf(path, sizeof(path), "/sys/class/net/%s", name);
	return stat(path, &st) == 0;
}

static unsigned long read_sys_ulong(const char *name, const char *file)
{
	char path[160];
	unsigned long v = 0;
	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", name, file);
	FILE *f = fopen(path, "r");
	if (!f)
		return (unsigned long)-1;
	if (fscanf(f, "%li", &v) != 1) /* %li: tun_flags is written as 0x.... */
		v = (unsigned long)-1;
	fclose(f);
	return v;
}

static unsigned count_tun_fds(void)
{
	unsigned n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char path[300], target[64];

	assert_non_null(d);
	while ((e = readdir(d))) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		ssize_t r = readlink(path, target, sizeof(target) - 1);
		if (r <= 0)
			continue;
		target[r] = 0;
		if (strcmp(target, "/dev/net/tun") == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* Sockets bound to port in this namespace's /proc/net/udp6 (hex local port). */
static unsigned count_udp6_bound(uint16_t port)
{
	char line[512], want[8];
	unsigned n = 0;
	FILE *f = fopen("/proc/net/udp6", "r");
	if (!f)
		return 0;
	snprintf(want, sizeof(want), ":%04X", port);
	while (fgets(line, sizeof(line), f)) {
		char local[64];
		if (sscanf(line, " %*s %63s", local) == 1 && strstr(local, want) &&
		    strlen(strstr(local, want)) == 5)
			n++;
	}
	fclose(f);
	return n;
}

static int plain_socket(int family, const char *addr, uint16_t *port_out)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, addr, &s4->sin_addr), 1);
		len = sizeof(*s4);
	}
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
	len = sizeof(ss);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port_out = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					     : ((struct sockaddr_in *)&ss)->sin_port);
	struct timeval tv = {.tv_sec = 2};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void send_to(int fd, int family, const char *addr, uint16_t port, const void *buf,
		    size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &s6->sin6_addr);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		inet_pton(AF_INET, addr, &s4->sin_addr);
		sl = sizeof(*s4);
	}
	assert_int_equal(sendto(fd, buf, len, 0, (struct sockaddr *)&ss, sl), (ssize_t)len);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Polls every queue's net_rx until want datagrams arrived (or 2 s). */
static unsigned rx_all(struct dp_kernel *k, struct dp_pkt **out, unsigned want)
{
	unsigned got = 0;
	uint64_t deadline = now_ms() + 2000;
	while (got < want && now_ms() < deadline) {
		for (unsigned q = 0; q < k->nqueues && got < want; q++)
			got += dp_kernel_ops.net_rx(k->io[q], &pool, &counters, out + got, want - got);
		if (got < want)
			usleep(1000);
	}
	return got;
}

static int setup(void **state)
{
	(void)state;
	memset(&counters, 0, sizeof(counters));
	return dp_pool_init(&pool, 256);
}

static int teardown(void **state)
{
	(void)state;
	/* Every backend function must hand back what it took. */
	assert_int_equal(pool.avail, pool.size);
	dp_pool_fini(&pool);
	return 0;
}

static void test_open_close(void **state)
{
	struct dp_kernel k;
	(void)state;

	assert_int_equal(dp_kernel_open(&k, "ipt%d", 2, 0, NULL), 0);
	assert_int_equal(k.nqueues, 2);
	assert_true(k.port != 0);
	assert_memory_equal(k.tap_name, "ipt", 3);
	assert_true(if_exists(k.tap_name));
	unsigned long flags = read_sys_ulong(k.tap_name, "tun_flags");
	assert_true(flags != (unsigned long)-1);
	assert_true(flags & IFF_MULTI_QUEUE);
	assert_true(flags & IFF_TAP);
	assert_true(flags & IFF_NO_PI);
	assert_int_equal(count_tun_fds(), 2);
	assert_int_equal(count_udp6_bound(k.port), 2);

	char name[IFNAMSIZ];
	memcpy(name, k.tap_name, IFNAMSIZ);
	dp_kernel_close(&k);
	assert_false(if_exists(name));
	assert_int_equal(count_tun_fds(), 0);
	assert_int_equal(count_udp6_bound(k.port), 0);
	dp_kernel_close(&k); /* twice is harmless */
}

static void test_bad_args(void **state)
{
	struct dp_kernel k;
	(void)state;
	assert_int_equal(dp_kernel_open(&k, "ipt0", 0, 0, NULL), -EINVAL);
	assert_int_equal(dp_kernel_open(&k, "this-name-is-too-long", 1, 0, NULL), -EINVAL);
	assert_int_equal(dp_kernel_open(&k, NULL, 1, 0, NULL), -EINVAL);
	assert_int_equal(count_tun_fds(), 0);
}

/* Two instances must not collide (DESIGN.md): a second open with our TAP name
 * or our port fails instead of silently sharing it; distinct ones coexist. */
static void test_exclusive(void **state)
{
	struct dp_kernel a, b;
	(void)state;

	assert_int_equal(dp_kernel_open(&a, "ipx0", 2, 0, NULL), 0);
	assert_int_equal(dp_kernel_open(&b, "ipx0", 1, 0, NULL), -EBUSY);
	assert_int_equal(dp_kernel_open(&b, "ipx1", 1, a.port, NULL), -EADDRINUSE);
	assert_false(if_exists("ipx1")); /* nothing left behind by the failure */
	assert_int_equal(dp_kernel_open(&b, "ipx1", 2, 0, NULL), 0);
	assert_true(b.port != a.port);
	assert_true(if_exists("ipx0") && if_exists("ipx1"));
	assert_int_equal(count_tun_fds(), 4);
	dp_kernel_close(&b);
	assert_true(if_exists("ipx0"));
	assert_false(if_exists("ipx1"));
	dp_kernel_close(&a);
	assert_int_equal(count_tun_fds(), 0);
}

static void test_net_rx_tx(void **state)
{
	struct dp_kernel k;
	struct dp_pkt *pkts[8];
	uint16_t p6, p4;
	char buf[64];
	(void)state;

	assert_int_equal(dp_kernel_open(&k, "ipn0", 2, 0, NULL), 0);
	int s6 = plain_socket(AF_INET6, "::1", &p6);
	int s4 = plain_socket(AF_INET, "127.0.0.1", &p4);
	send_to(s6, AF_INET6, "::1", k.port, "hello-six", 9);
	send_to(s4, AF_INET, "127.0.0.1", k.port, "hello-four", 10);
	/* Nothing arrives on a wrong socket's queue twice: two in total. */
	assert_int_equal(rx_all(&k, pkts, 2), 2);

	struct net_endpoint lo6, lo4;
	assert_int_equal(net_endpoint_parse("[::1]:1", &lo6), 0);
	assert_int_equal(net_endpoint_parse("127.0.0.1:1", &lo4), 0);
	lo6.port = p6;
	lo4.port = p4;
	for (unsigned i = 0; i < 2; i++) {
		struct dp_pkt *p = pkts[i];
		assert_int_equal(p->drop, DP_DROP_NONE);
		assert_ptr_equal(p->data, p->buf + DP_HEADROOM);
		if (p->peer.family == AF_INET6) {
			assert_true(net_endpoint_equal(&p->peer, &lo6));
			assert_int_equal(p->len, 9);
			assert_memory_equal(p->data, "hello-six", 9);
		} else {
			assert_int_equal(p->peer.family, AF_INET);
			assert_true(net_endpoint_equal(&p->peer, &lo4));
			assert_int_equal(p->len, 10);
			assert_memory_equal(p->data, "hello-four", 10);
		}
		memcpy(p->data, "reply", 5);
		p->len = 5;
	}
	/* Answer both from one queue, each to its own peer (one sendmmsg). */
	dp_kernel_ops.net_tx(k.io[1], &pool, &counters, pkts, 2);
	assert_int_equal(counters.net_tx_packets, 2);
	assert_int_equal(counters.net_tx_bytes, 10);
	assert_int_equal(counters.drops[DP_DROP_NET_TX], 0);

	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	assert_int_equal(recvfrom(s6, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl), 5);
	assert_memory_equal(buf, "reply", 5);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&from)->sin6_port), k.port);
	fl = sizeof(from);
	assert_int_equal(recvfrom(s4, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl), 5);
	assert_int_equal(ntohs(((struct sockaddr_in *)&from)->sin_port), k.port);

	/* The control core's own datagrams leave from the data port too. */
	assert_int_equal(dp_kernel_send_control(&k, &lo4, "ctl", 3), 0);
	fl = sizeof(from);
	assert_int_equal(recvfrom(s4, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl), 3);
	assert_memory_equal(buf, "ctl", 3);
	assert_int_equal(ntohs(((struct sockaddr_in *)&from)->sin_port), k.port);

	/* Nothing pending: rx returns 0 without blocking. */
	for (unsigned q = 0; q < 2; q++)
		assert_int_equal(dp_kernel_ops.net_rx(k.io[q], &pool, &counters, pkts, 8), 0);

	close(s6);
	close(s4);
	dp_kernel_close(&k);
}

/* A failed message is counted and skipped; the ones after it still go. */
static void test_net_tx_errors(void **state)
{
	struct dp_kernel k;
	struct dp_pkt *pkts[5];
	uint16_t p4;
	char buf[64];
	/* port 1 on loopback stands for the plain socket's port */
	static const char *const dst[5] = {"198.18.0.1:9", "127.0.0.1:1", "[2001:db8::1]:9",
					   "127.0.0.1:1", "198.18.0.2:9"};
	(void)state;

	assert_int_equal(dp_kernel_open(&k, "ipe0", 1, 0, NULL), 0);
	int s4 = plain_socket(AF_INET, "127.0.0.1", &p4);
	for (unsigned i = 0; i < 5; i++) {
		pkts[i] = dp_pool_get(&pool);
		assert_int_equal(net_endpoint_parse(dst[i], &pkts[i]->peer), 0);
		if (pkts[i]->peer.port == 1)
			pkts[i]->peer.port = p4;
		pkts[i]->len = (uint16_t)snprintf((char *)pkts[i]->data, 16, "msg%u", i);
	}
	/* Only lo is up in this namespace: the 198.18/15 and 2001:db8:: ones
	 * fail with ENETUNREACH. */
	dp_kernel_ops.net_tx(k.io[0], &pool, &counters, pkts, 5);
	assert_int_equal(counters.net_tx_packets, 2);
	assert_int_equal(counters.drops[DP_DROP_NET_TX], 3);
	assert_int_equal(recv(s4, buf, sizeof(buf), 0), 4);
	assert_memory_equal(buf, "msg1", 4);
	assert_int_equal(recv(s4, buf, sizeof(buf), 0), 4);
	assert_memory_equal(buf, "msg3", 4);

	struct net_endpoint bad;
	assert_int_equal(net_endpoint_parse("198.18.0.1:9", &bad), 0);
	assert_int_equal(dp_kernel_send_control(&k, &bad, "x", 1), -ENETUNREACH);
	close(s4);
	dp_kernel_close(&k);
}

/* A datagram larger than a buffer is handed back marked, never truncated. */
static void test_net_rx_truncated(void **state)
{
	struct dp_kernel k;
	struct dp_pkt *pkts[4];
	static uint8_t big[DP_BUF_SIZE - DP_HEADROOM + 64];
	uint16_t p4;
	(void)state;

	memset(big, 0xab, sizeof(big));
	assert_int_equal(dp_kernel_open(&k, "ipr0", 1, 0, NULL), 0);
	int s4 = plain_socket(AF_INET, "127.0.0.1", &p4);
	send_to(s4, AF_INET, "127.0.0.1", k.port, big, sizeof(big));
	send_to(s4, AF_INET, "127.0.0.1", k.port, "ok", 2);
	assert_int_equal(rx_all(&k, pkts, 2), 2);
	assert_int_equal(pkts[0]->drop, DP_DROP_TOO_BIG);
	assert_int_equal(pkts[1]->drop, DP_DROP_NONE);
	assert_int_equal(pkts[1]->len, 2);
	dp_pool_put_bulk(&pool, pkts, 2);
	close(s4);
	dp_kernel_close(&k);
}

static void make_frame(uint8_t *f, size_t len, uint8_t tag)
{
	static const uint8_t dst[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t src[6] = {0x02, 0x00, 0x5e, 0x10, 0x00, 0x01};
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = TEST_ETHERTYPE >> 8;
	f[13] = TEST_ETHERTYPE & 0xff;
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(tag + i);
}

static void test_tap_io(void **state)
{
	struct dp_kernel k;
	struct dp_pkt *pkts[DP_BURST_MAX];
	uint8_t frame[100], buf[256];
	(void)state;

	assert_int_equal(dp_kernel_open(&k, "ipio0", 2, 0, NULL), 0);
	unsigned ifindex = if_nametoindex(k.tap_name);
	assert_true(ifindex > 0);

	/* Writing to a TAP that is down fails: counted, buffer returned. */
	struct dp_pkt *p = dp_pool_get(&pool);
	make_frame(p->data, 60, 1);
	p->len = 60;
	dp_kernel_ops.host_tx(k.io[0], &pool, &counters, &p, 1);
	assert_int_equal(counters.drops[DP_DROP_HOST_TX], 1);
	assert_int_equal(counters.host_tx_packets, 0);

	assert_int_equal(test_if_set_up(k.tap_name, true), 0);
	int ps = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(TEST_ETHERTYPE));
	assert_true(ps >= 0);
	struct sockaddr_ll sll = {
	    .sll_family = AF_PACKET,
	    .sll_protocol = htons(TEST_ETHERTYPE),
	    .sll_ifindex = (int)ifindex,
	};
	assert_int_equal(bind(ps, (struct sockaddr *)&sll, sizeof(sll)), 0);
	struct timeval tv = {.tv_sec = 2};
	setsockopt(ps, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

	/* host_tx: our frame enters the kernel through the TAP. */
	unsigned long rx_before = read_sys_ulong(k.tap_name, "statistics/rx_packets");
	for (unsigned i = 0; i < 3; i++) {
		pkts[i] = dp_pool_get(&pool);
		make_frame(pkts[i]->data, 60 + i, (uint8_t)(10 * i));
		pkts[i]->len = (uint16_t)(60 + i);
	}
	dp_kernel_ops.host_tx(k.io[1], &pool, &counters, pkts, 3);
	assert_int_equal(counters.host_tx_packets, 3);
	assert_int_equal(counters.host_tx_bytes, 60 + 61 + 62);
	for (unsigned i = 0; i < 3; i++) {
		ssize_t r = recv(ps, buf, sizeof(buf), 0);
		assert_int_equal(r, 60 + i);
		make_frame(frame, 60 + i, (uint8_t)(10 * i));
		assert_memory_equal(buf, frame, 60 + i);
	}
	assert_int_equal(read_sys_ulong(k.tap_name, "statistics/rx_packets") - rx_before, 3);

	/* host_rx: a frame the kernel sends out of the TAP reaches one of the
	 * queues (ignore whatever IPv6 autoconfiguration sends meanwhile). */
	make_frame(frame, 80, 7);
	sll.sll_halen = 6;
	memset(sll.sll_addr, 0xff, 6);
	assert_int_equal(sendto(ps, frame, 80, 0, (struct sockaddr *)&sll, sizeof(sll)), 80);
	bool found = false;
	uint64_t deadline = now_ms() + 2000;
	while (!found && now_ms() < deadline) {
		for (unsigned q = 0; q < 2; q++) {
			unsigned n = dp_kernel_ops.host_rx(k.io[q], &pool, &counters, pkts, DP_BURST_MAX);
			for (unsigned i = 0; i < n; i++) {
				if (pkts[i]->len == 80 && memcmp(pkts[i]->data, frame, 80) == 0)
					found = true;
				assert_ptr_equal(pkts[i]->data, pkts[i]->buf + DP_HEADROOM);
			}
			dp_pool_put_bulk(&pool, pkts, n);
		}
		if (!found)
			usleep(1000);
	}
	assert_true(found);

	/* A frame larger than a buffer (TAP MTU raised behind our back, past
	 * DP_MTU_MAX) is dropped whole and counted, never cut. */
	assert_int_equal(set_mtu(k.tap_name, 12000), 0);
	static uint8_t jumbo[DP_BUF_SIZE + 600];
	make_frame(jumbo, sizeof(jumbo), 3);
	assert_int_equal(sendto(ps, jumbo, sizeof(jumbo), 0, (struct sockaddr *)&sll, sizeof(sll)),
			 (ssize_t)sizeof(jumbo));
	found = false;
	deadline = now_ms() + 2000;
	while (!found && now_ms() < deadline) {
		for (unsigned q = 0; q < 2; q++) {
			unsigned n = dp_kernel_ops.host_rx(k.io[q], &pool, &counters, pkts, DP_BURST_MAX);
			for (unsigned i = 0; i < n; i++)
				assert_true(pkts[i]->len <= DP_BUF_SIZE - DP_HEADROOM);
			dp_pool_put_bulk(&pool, pkts, n);
		}
		found = counters.drops[DP_DROP_TOO_BIG] > 0;
		if (!found)
			usleep(1000);
	}
	assert_true(found);

	/* A jumbo frame within DP_MTU_MAX crosses whole. */
	static uint8_t j9k[DP_MTU_MAX + 14];
	make_frame(j9k, sizeof(j9k), 5);
	assert_int_equal(sendto(ps, j9k, sizeof(j9k), 0, (struct sockaddr *)&sll, sizeof(sll)),
			 (ssize_t)sizeof(j9k));
	found = false;
	deadline = now_ms() + 2000;
	while (!found && now_ms() < deadline) {
		for (unsigned q = 0; q < 2; q++) {
			unsigned n = dp_kernel_ops.host_rx(k.io[q], &pool, &counters, pkts, DP_BURST_MAX);
			for (unsigned i = 0; i < n; i++)
				if (pkts[i]->len == sizeof(j9k) &&
				    memcmp(pkts[i]->data, j9k, sizeof(j9k)) == 0)
					found = true;
			dp_pool_put_bulk(&pool, pkts, n);
		}
		if (!found)
			usleep(1000);
	}
	assert_true(found);

	close(ps);
	dp_kernel_close(&k);
}

/* wait() returns at once when poked or when a datagram is pending, and
 * after the timeout when nothing is. */
static void test_wait(void **state)
{
	struct dp_kernel k;
	struct dp_pkt *pkts[2];
	uint64_t v = 1;
	uint16_t p4;
	(void)state;

	assert_int_equal(dp_kernel_open(&k, "ipw0", 1, 0, NULL), 0); /* TAP down: quiet */
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(efd >= 0);

	uint64_t t0 = now_ms();
	assert_int_equal(dp_kernel_ops.wait(k.io[0], efd, 60), 0);
	assert_true(now_ms() - t0 >= 50);

	assert_int_equal(write(efd, &v, sizeof(v)), sizeof(v));
	t0 = now_ms();
	assert_int_equal(dp_kernel_ops.wait(k.io[0], efd, 5000), 0);
	assert_true(now_ms() - t0 < 1000);
	assert_int_equal(read(efd, &v, sizeof(v)), sizeof(v));

	int s4 = plain_socket(AF_INET, "127.0.0.1", &p4);
	send_to(s4, AF_INET, "127.0.0.1", k.port, "x", 1);
	t0 = now_ms();
	assert_int_equal(dp_kernel_ops.wait(k.io[0], efd, 5000), 0);
	assert_true(now_ms() - t0 < 1000);
	assert_int_equal(rx_all(&k, pkts, 1), 1);
	dp_pool_put(&pool, pkts[0]);

	close(s4);
	close(efd);
	dp_kernel_close(&k);
}

/* A real worker thread on the kernel backend: asleep in its adaptive wait,
 * woken by a datagram, it punts it to the control core and pokes notify. */
static void test_worker_punt(void **state)
{
	struct dp_kernel k;
	struct dp_worker w;
	struct dp_worker_config cfg = {
	    .id = 0, .idle = DP_IDLE_ADAPTIVE, .cpu = -1, .pool_size = 512};
	struct dp_table_params params = {.mode = DP_MODE_L3, .mtu = 1400};
	uint16_t p4;
	uint64_t v;
	void *slot = NULL;
	(void)state;

	size_t qsz = rte_rcu_qsbr_get_memsize(1);
	struct rte_rcu_qsbr *qsbr = aligned_alloc(64, (qsz + 63) & ~(size_t)63);
	assert_non_null(qsbr);
	assert_int_equal(rte_rcu_qsbr_init(qsbr, 1), 0);
	int notify = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(notify >= 0);
	struct dp_table *t = dp_table_create(&params, 0, 1, 1, 1);
	assert_non_null(t);
	dp_table_seal(t);

	assert_int_equal(dp_kernel_open(&k, "ipwk0", 1, 0, NULL), 0);
	assert_int_equal(dp_worker_init(&w, &cfg, &dp_kernel_ops, k.io[0], qsbr, notify), 0);
	assert_int_equal(dp_worker_start(&w), 0);
	assert_int_equal(dp_worker_push_table(&w, t), 0);
	int s4 = plain_socket(AF_INET, "127.0.0.1", &p4);

	/* Let it go to sleep: the idle spell is ~50 µs, then 100 ms waits. */
	uint64_t deadline = now_ms() + 2000;
	while (__atomic_load_n(&w.counters.idle_sleeps, __ATOMIC_RELAXED) == 0 &&
	       now_ms() < deadline)
		usleep(1000);
	usleep(20000);
	send_to(s4, AF_INET, "127.0.0.1", k.port, "\0\0\0\0hello", 9);

	struct pollfd pfd = {.fd = notify, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 10000), 1);
	assert_int_equal(read(notify, &v, sizeof(v)), sizeof(v));
	assert_int_equal(rte_ring_sc_dequeue(w.punt_ring, &slot), 0);
	struct dp_punt *u = slot;
	assert_int_equal(u->len, 9);
	assert_memory_equal(u->data, "\0\0\0\0hello", 9);
	assert_int_equal(u->from.port, p4);
	assert_int_equal(u->from.family, AF_INET);
	assert_int_equal(rte_ring_sp_enqueue(w.punt_free_ring, u), 0);

	dp_worker_stop(&w);
	assert_true(w.counters.idle_sleeps > 0);
	assert_int_equal(w.counters.net_rx_packets, 1);
	assert_int_equal(w.counters.net_rx_bytes, 9);
	assert_int_equal(w.counters.tables, 1);
	assert_int_equal(w.pool.avail, w.pool.size);
	dp_worker_fini(&w);
	dp_kernel_close(&k);
	dp_table_free(t);
	free(qsbr);
	close(notify);
	close(s4);
}

int main(void)
{
	int rc = test_enter_private_netns(true);
	if (rc)
		return rc;

	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exclusive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_net_rx_tx, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_net_tx_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_net_rx_truncated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tap_io, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wait, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_worker_punt, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
