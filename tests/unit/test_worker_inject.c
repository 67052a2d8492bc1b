/* The control → worker inject ring (dataplane/worker.h) and the control
 * core's send wrapper (control/core/underlay.h), against the real kernel backend
 * inside a network namespace of our own (loopback only). Needs root; skipped
 * (77) where namespaces or /dev/net/tun are not available.
 *
 * Real threads: an injector thread plays the control core while the worker
 * thread sleeps (adaptive idle: every inject must wake it) or spins (busy: no
 * wake-ups at all), and a receiving socket checks that every datagram
 * arrives exactly once, with its bytes, from the data port.
 *
 * No assertion here depends on how fast the machine is or how long a thread
 * waits for a CPU: on a loaded 2-core CI machine either thread may be off
 * the CPU for tens of milliseconds. A missed wake-up is told apart from a
 * slow one by making it cost far more than any scheduling delay (see
 * long_wait()), not by a tight time budget.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "tests/unit/netns_private.h"
#include <jansson.h>

#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "control/core/ctl.h"
#include "control/mgmt/mgmt.h"
#include "control/core/underlay.h"
#include "dataplane/kernel.h"
#include "dataplane/worker.h"

#define MANY	      4000
#define RING_CAPACITY (DP_INJECT_SLOTS - 1) /* rte_ring without RING_F_EXACT_SZ */

struct fixture {
	struct dp_kernel k;
	struct dp_worker w;
	struct rte_rcu_qsbr *qsbr;
	int notify;
	int rx4, rx6; /* receivers on 127.0.0.1 and ::1 */
	struct net_endpoint to4, to6;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int receiver(int family, struct net_endpoint *ep)
{
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_addr = in6addr_loopback};
	struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr *sa = family == AF_INET6 ? (struct sockaddr *)&s6 : (struct sockaddr *)&s4;
	socklen_t len = family == AF_INET6 ? sizeof(s6) : sizeof(s4);
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int big = 64 << 20;

	assert_true(fd >= 0);
	/* Room for a whole run, so a slow receiver thread loses nothing. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	assert_int_equal(bind(fd, sa, len), 0);
	assert_int_equal(getsockname(fd, sa, &len), 0);
	if (family == AF_INET6) {
		net_endpoint_from_sin6(&s6, ep);
	} else {
		memset(ep, 0, sizeof(*ep));
		memcpy(ep->addr, net_v4mapped, sizeof(net_v4mapped));
		memcpy(ep->addr + 12, &s4.sin_addr, 4);
		ep->port = ntohs(s4.sin_port);
		ep->family = AF_INET;
	}
	return fd;
}

/* Datagram i: its index, then a pattern that depends on i and the offset;
 * lengths cycle through 8..DP_INJECT_DATA_MAX. */
static size_t make_dgram(uint32_t i, uint8_t *buf)
{
	size_t len = 8 + (i * 37u) % (DP_INJECT_DATA_MAX - 7);
	memcpy(buf, &i, 4);
	uint32_t l = (uint32_t)len;
	memcpy(buf + 4, &l, 4);
	for (size_t j = 8; j < len; j++)
		buf[j] = (uint8_t)(i * 7u + j * 13u);
	return len;
}

/* Receives one datagram (timeout_ms), checks it came from the data port on
 * loopback and carries a well-formed make_dgram(); returns its index, or -1
 * on timeout. */
static int recv_dgram(int fd, uint16_t data_port, int timeout_ms)
{
	uint8_t buf[2048], want[DP_INJECT_DATA_MAX];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	if (poll(&pfd, 1, timeout_ms) != 1)
		return -1;
	ssize_t r = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&ss, &sl);
	assert_true(r >= 8);
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		assert_int_equal(ntohs(s6->sin6_port), data_port);
		assert_true(IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		assert_int_equal(ss.ss_family, AF_INET);
		assert_int_equal(ntohs(s4->sin_port), data_port);
		assert_int_equal(ntohl(s4->sin_addr.s_addr), INADDR_LOOPBACK);
	}
	uint32_t i;
	memcpy(&i, buf, 4);
	size_t len = make_dgram(i, want);
	assert_int_equal((size_t)r, len);
	assert_memory_equal(buf, want, len);
	return (int)i;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	size_t qsz = rte_rcu_qsbr_get_memsize(1);

	if (!f)
		return -1;
	f->w.wake_fd = -1; /* teardown's dp_worker_fini is safe before init */
	f->qsbr = aligned_alloc(64, (qsz + 63) & ~(size_t)63);
	if (!f->qsbr || rte_rcu_qsbr_init(f->qsbr, 1) != 0)
		return -1;
	f->notify = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (f->notify < 0 || dp_kernel_open(&f->k, "ipinj%d", 1, 0, NULL) != 0)
		return -1;
	f->rx4 = receiver(AF_INET, &f->to4);
	f->rx6 = receiver(AF_INET6, &f->to6);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	dp_worker_fini(&f->w);
	dp_kernel_close(&f->k);
	close(f->rx4);
	close(f->rx6);
	close(f->notify);
	free(f->qsbr);
	free(f);
	return 0;
}

static void worker_init(struct fixture *f, enum dp_idle idle, uint32_t pool_size)
{
	struct dp_worker_config cfg = {.id = 0, .idle = idle, .cpu = -1, .pool_size = pool_size};
	assert_int_equal(
	    dp_worker_init(&f->w, &cfg, &dp_kernel_ops, f->k.io[0], f->qsbr, f->notify), 0);
}

/* The kernel backend with the idle wait stretched from the worker's 100 ms to
 * LONG_WAIT_MS. With 100 ms, a missed wake-up (the datagram goes out when the
 * wait times out) was only told apart from a thread that merely waited for a
 * CPU by a 60 ms latency budget, which a loaded machine overran now and then
 * (1 run in 30 with the process group paused for up to 160 ms at random, as
 * a noisy VM does). Now a missed wake-up costs seconds: unmistakable. */
#define LONG_WAIT_MS 10000
#define MISSED_MS    5000 /* an inject not sent by then was not woken for */

static int long_wait(void *io, int wake_fd, int timeout_ms)
{
	(void)timeout_ms;
	return dp_kernel_ops.wait(io, wake_fd, LONG_WAIT_MS);
}

static struct dp_backend_ops long_wait_ops;

static void worker_init_long_wait(struct fixture *f)
{
	struct dp_worker_config cfg = {.id = 0, .idle = DP_IDLE_ADAPTIVE, .cpu = -1};
	long_wait_ops = dp_kernel_ops;
	long_wait_ops.wait = long_wait;
	assert_int_equal(
	    dp_worker_init(&f->w, &cfg, &long_wait_ops, f->k.io[0], f->qsbr, f->notify), 0);
}

static uint64_t load(const uint64_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

/* Pokes the worker received (its wake eventfd's counter; 0 if none). */
static uint64_t wake_count(struct dp_worker *w)
{
	uint64_t v = 0;
	if (read(w->wake_fd, &v, sizeof(v)) < 0)
		return 0;
	return v;
}

/* ---- limits, without a worker thread ---------------------------------- */

static void test_oversize(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[DP_INJECT_DATA_MAX + 1];

	worker_init(f, DP_IDLE_ADAPTIVE, 0);
	memset(buf, 0xab, sizeof(buf));
	assert_int_equal(dp_worker_inject(&f->w, &f->to4, buf, DP_INJECT_DATA_MAX + 1), -EMSGSIZE);
	assert_int_equal(dp_worker_inject(&f->w, &f->to4, buf, 0), -EMSGSIZE);
	assert_int_equal(dp_worker_inject(&f->w, &f->to4, buf, 65536 + 3), -EMSGSIZE);
	assert_int_equal(rte_ring_count(f->w.inject_ring), 0);
	assert_int_equal(f->w.inject_full, 0);

	/* Exactly the maximum goes, whole. */
	size_t len = 0;
	uint32_t i = 0;
	while ((len = make_dgram(i, buf)) != DP_INJECT_DATA_MAX)
		i++;
	assert_int_equal(dp_worker_inject(&f->w, &f->to4, buf, len), 0);
	assert_int_equal(dp_worker_poll_once(&f->w), 1);
	assert_int_equal(recv_dgram(f->rx4, f->k.port, 2000), (int)i);
	assert_int_equal(f->w.counters.injected, 1);
	assert_int_equal(f->w.counters.net_tx_packets, 1);
	assert_int_equal(f->w.counters.net_tx_bytes, DP_INJECT_DATA_MAX);
	assert_int_equal(f->w.pool.avail, f->w.pool.size);
}

/* A full ring refuses and counts; the worker sends at most
 * DP_INJECT_PER_LOOP per loop, in order, and the ring takes more again. */
static void test_ring_full(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[DP_INJECT_DATA_MAX];
	uint32_t n = 0;

	worker_init(f, DP_IDLE_ADAPTIVE, 0);
	for (;; n++) {
		size_t len = make_dgram(n, buf);
		int rc = dp_worker_inject(&f->w, n % 2 ? &f->to6 : &f->to4, buf, len);
		if (rc == -ENOBUFS)
			break;
		assert_int_equal(rc, 0);
		assert_true(n < 10000);
	}
	assert_int_equal(n, RING_CAPACITY);
	assert_int_equal(f->w.inject_full, 1);
	assert_int_equal(dp_worker_inject(&f->w, &f->to4, buf, 8), -ENOBUFS);
	assert_int_equal(f->w.inject_full, 2);
	/* Nobody slept: nobody was poked. */
	assert_int_equal(wake_count(&f->w), 0);

	assert_int_equal(dp_worker_poll_once(&f->w), DP_INJECT_PER_LOOP);
	assert_int_equal(f->w.counters.injected, DP_INJECT_PER_LOOP);
	assert_int_equal(rte_ring_count(f->w.inject_ring), RING_CAPACITY - DP_INJECT_PER_LOOP);
	while (dp_worker_poll_once(&f->w) != 0)
		;
	assert_int_equal(f->w.counters.injected, RING_CAPACITY);
	assert_int_equal(f->w.counters.net_tx_packets, RING_CAPACITY);
	assert_int_equal(f->w.counters.drops[DP_DROP_NET_TX], 0);
	/* FIFO per destination (one socket, loopback keeps order). */
	for (uint32_t i = 0; i < n; i += 2)
		assert_int_equal(recv_dgram(f->rx4, f->k.port, 2000), (int)i);
	for (uint32_t i = 1; i < n; i += 2)
		assert_int_equal(recv_dgram(f->rx6, f->k.port, 2000), (int)i);
	assert_int_equal(recv_dgram(f->rx4, f->k.port, 50), -1);

	size_t len = make_dgram(7777, buf);
	assert_int_equal(dp_worker_inject(&f->w, &f->to4, buf, len), 0);
	assert_int_equal(dp_worker_poll_once(&f->w), 1);
	assert_int_equal(recv_dgram(f->rx4, f->k.port, 2000), 7777);
	assert_int_equal(f->w.pool.avail, f->w.pool.size);
}

/* A pool with fewer buffers than queued injects: the rest wait in the ring,
 * nothing is dropped. */
static void test_pool_short(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[DP_INJECT_DATA_MAX];

	worker_init(f, DP_IDLE_ADAPTIVE, 8);
	for (uint32_t i = 0; i < 20; i++)
		assert_int_equal(dp_worker_inject(&f->w, &f->to4, buf, make_dgram(i, buf)), 0);
	assert_int_equal(dp_worker_poll_once(&f->w), 8);
	assert_int_equal(rte_ring_count(f->w.inject_ring), 12);
	assert_int_equal(dp_worker_poll_once(&f->w), 8);
	assert_int_equal(dp_worker_poll_once(&f->w), 4);
	for (int i = 0; i < 20; i++)
		assert_int_equal(recv_dgram(f->rx4, f->k.port, 2000), i);
	assert_int_equal(f->w.counters.injected, 20);
	for (unsigned d = DP_DROP_NONE + 1; d < DP_DROP__MAX; d++)
		assert_int_equal(f->w.counters.drops[d], 0);
	assert_int_equal(f->w.pool.avail, f->w.pool.size);
}

/* ---- real threads ------------------------------------------------------ */

struct injector {
	struct fixture *f;
	uint32_t n;
	bool wait_asleep; /* inject only while the worker sleeps, one at a time */
	uint64_t enobufs;
	uint64_t max_latency_ms, total_latency_ms;
	_Atomic bool gave_up; /* the receiver need not wait for the rest */
};

/* The control core's part: queue n datagrams, retrying while the ring is
 * full (each refusal is counted by the worker's inject_full). */
static void *inject_main(void *arg)
{
	struct injector *in = arg;
	struct fixture *f = in->f;
	uint8_t buf[DP_INJECT_DATA_MAX];

	for (uint32_t i = 0; i < in->n; i++) {
		size_t len = make_dgram(i, buf);
		const struct net_endpoint *to = i % 3 == 2 ? &f->to6 : &f->to4;
		int rc;

		if (in->wait_asleep) {
			/* Deep in its wait, not merely entering it. */
			uint64_t deadline = now_ms() + 10000;
			do {
				while (!atomic_load(&f->w.sleeping) && now_ms() < deadline)
					usleep(200);
				usleep(2000);
			} while (!atomic_load(&f->w.sleeping) && now_ms() < deadline);
			if (!atomic_load(&f->w.sleeping)) {
				atomic_store(&in->gave_up, true);
				return (void *)1;
			}
		}
		uint64_t t0 = now_ms();
		while ((rc = dp_worker_inject(&f->w, to, buf, len)) == -ENOBUFS) {
			in->enobufs++;
			sched_yield();
		}
		if (rc != 0) {
			atomic_store(&in->gave_up, true);
			return (void *)2;
		}
		if (in->wait_asleep) {
			/* Until the worker has sent it (and may sleep again). */
			while (load(&f->w.counters.injected) <= i && now_ms() - t0 < MISSED_MS)
				usleep(100);
			uint64_t dt = now_ms() - t0;
			in->total_latency_ms += dt;
			if (dt > in->max_latency_ms)
				in->max_latency_ms = dt;
			if (load(&f->w.counters.injected) <= i) {
				atomic_store(&in->gave_up, true);
				return (void *)3; /* a missed wake-up */
			}
		}
	}
	return NULL;
}

/* Receives n datagrams on both sockets; each index exactly once. */
static void receive_all(struct fixture *f, struct injector *in, uint32_t n)
{
	uint8_t *seen = calloc(n, 1);
	uint32_t got = 0;
	uint64_t deadline = now_ms() + 30000;

	assert_non_null(seen);
	while (got < n && now_ms() < deadline) {
		if (atomic_load(&in->gave_up)) {
			free(seen); /* run_threads reports why */
			return;
		}
		struct pollfd pfd[2] = {{.fd = f->rx4, .events = POLLIN},
					{.fd = f->rx6, .events = POLLIN}};
		if (poll(pfd, 2, 500) <= 0)
			continue;
		for (int s = 0; s < 2; s++) {
			if (!(pfd[s].revents & POLLIN))
				continue;
			int i = recv_dgram(pfd[s].fd, f->k.port, 0);
			assert_true(i >= 0 && (uint32_t)i < n);
			assert_int_equal(pfd[s].fd, i % 3 == 2 ? f->rx6 : f->rx4);
			assert_int_equal(seen[i], 0); /* exactly once */
			seen[i] = 1;
			got++;
		}
	}
	assert_int_equal(got, n);
	/* and nothing more */
	assert_int_equal(recv_dgram(f->rx4, f->k.port, 100), -1);
	assert_int_equal(recv_dgram(f->rx6, f->k.port, 0), -1);
	free(seen);
}

static void run_threads(struct fixture *f, struct injector *in)
{
	pthread_t t;
	void *ret = NULL;

	assert_int_equal(pthread_create(&t, NULL, inject_main, in), 0);
	receive_all(f, in, in->n);
	assert_int_equal(pthread_join(t, &ret), 0);
	if (ret == (void *)3)
		fail_msg("a datagram injected while the worker slept was not sent within %d ms: "
			 "the worker was not woken",
			 MISSED_MS);
	assert_null(ret);
	assert_false(atomic_load(&in->gave_up));
}

static void wait_first_sleep(struct fixture *f)
{
	uint64_t deadline = now_ms() + 10000;
	while (load(&f->w.counters.idle_sleeps) == 0 && now_ms() < deadline)
		usleep(1000);
	assert_true(load(&f->w.counters.idle_sleeps) > 0);
}

/* Each datagram finds the worker asleep: the producer sees `sleeping` and
 * pokes it, so each goes out at once and not when the wait times out. */
static void test_thread_asleep(void **state)
{
	struct fixture *f = *state;
	struct injector in = {.f = f, .n = 30, .wait_asleep = true};

	worker_init_long_wait(f);
	assert_int_equal(dp_worker_start(&f->w), 0);
	/* With the long wait no sleep ends on its own: wait for the first to
	 * begin. The injector then waits for each sleep again. */
	uint64_t deadline = now_ms() + 10000;
	while (!atomic_load(&f->w.sleeping) && now_ms() < deadline)
		usleep(1000);
	assert_true(atomic_load(&f->w.sleeping));
	uint64_t sleeps0 = load(&f->w.counters.idle_sleeps);

	run_threads(f, &in);
	dp_worker_stop(&f->w);
	/* Typically about a millisecond each; a missed wake-up would have
	 * cost MISSED_MS and failed run_threads. */
	print_message("asleep: %u injects, latency max %llu ms, total %llu ms\n", in.n,
		      (unsigned long long)in.max_latency_ms,
		      (unsigned long long)in.total_latency_ms);
	assert_true(in.max_latency_ms < MISSED_MS);
	/* Each inject ended a sleep of its own (the injector waited for the
	 * next one before the next inject). */
	assert_true(f->w.counters.idle_sleeps >= sleeps0 + in.n);
	assert_int_equal(f->w.counters.injected, in.n);
	assert_int_equal(f->w.counters.net_tx_packets, in.n);
	assert_int_equal(f->w.inject_full, 0);
	assert_int_equal(f->w.pool.avail, f->w.pool.size);
}

/* A busy-polling worker under a flood from the control side: every
 * datagram once, ring-full refusals counted, and never a wake-up syscall. */
/* idle_spin_us is the worker's: with 2 s of spin it has not slept 200 ms
 * into an idle spell (it can only sleep once 2 s have passed), with 1 us it
 * sleeps at once. */
static void test_spin_length(void **state)
{
	struct fixture *f = *state;
	struct dp_worker_config cfg = {
	    .id = 0, .idle = DP_IDLE_ADAPTIVE, .spin_us = 2000000, .cpu = -1};
	assert_int_equal(
	    dp_worker_init(&f->w, &cfg, &dp_kernel_ops, f->k.io[0], f->qsbr, f->notify), 0);
	assert_int_equal(f->w.spin_ns, 2000000000ull);
	uint64_t t0 = now_ms();
	assert_int_equal(dp_worker_start(&f->w), 0);
	usleep(200000);
	uint64_t sleeps = load(&f->w.counters.idle_sleeps);
	uint64_t waited = now_ms() - t0;
	dp_worker_stop(&f->w);
	if (waited < 2000) /* a machine that paused us 2 s proves nothing */
		assert_int_equal(sleeps, 0);
	assert_true(f->w.counters.loops > 0);
	dp_worker_fini(&f->w);

	cfg.spin_us = 1;
	assert_int_equal(
	    dp_worker_init(&f->w, &cfg, &dp_kernel_ops, f->k.io[0], f->qsbr, f->notify), 0);
	assert_int_equal(f->w.spin_ns, 1000);
	assert_int_equal(dp_worker_start(&f->w), 0);
	wait_first_sleep(f);
	dp_worker_stop(&f->w);

	cfg.spin_us = 0; /* the default */
	dp_worker_fini(&f->w);
	assert_int_equal(
	    dp_worker_init(&f->w, &cfg, &dp_kernel_ops, f->k.io[0], f->qsbr, f->notify), 0);
	assert_int_equal(f->w.spin_ns, DP_IDLE_SPIN_US_DEFAULT * 1000ull);
}

static void test_thread_busy(void **state)
{
	struct fixture *f = *state;
	struct injector in = {.f = f, .n = MANY};

	worker_init(f, DP_IDLE_BUSY, 0);
	assert_int_equal(dp_worker_start(&f->w), 0);
	run_threads(f, &in);
	dp_worker_stop(&f->w);
	assert_int_equal(f->w.counters.injected, MANY);
	assert_int_equal(f->w.counters.net_tx_packets, MANY);
	assert_int_equal(f->w.counters.idle_sleeps, 0);
	assert_int_equal(f->w.inject_full, in.enobufs);
	print_message("busy: %u injects, %llu refused (ring full)\n", MANY,
		      (unsigned long long)in.enobufs);
	/* The busy worker never sleeps, so the producer never poked it: the
	 * one poke pending is dp_worker_stop's. */
	assert_int_equal(wake_count(&f->w), 1);
	assert_int_equal(f->w.pool.avail, f->w.pool.size);
}

/* Adaptive idle under a flood: the worker alternates between spinning and
 * sleeping while datagrams keep coming; none is lost or doubled. */
static void test_thread_adaptive_flood(void **state)
{
	struct fixture *f = *state;
	struct injector in = {.f = f, .n = MANY};

	worker_init(f, DP_IDLE_ADAPTIVE, 0);
	assert_int_equal(dp_worker_start(&f->w), 0);
	wait_first_sleep(f);
	run_threads(f, &in);
	dp_worker_stop(&f->w);
	assert_int_equal(f->w.counters.injected, MANY);
	assert_int_equal(f->w.counters.net_tx_packets, MANY);
	assert_int_equal(f->w.inject_full, in.enobufs);
	assert_int_equal(f->w.pool.avail, f->w.pool.size);
}

/* ---- the control core's wrapper ---------------------------------------- */

static struct ctl c; /* static: big, and zero is "no workers" */

static void test_ctl_send_underlay(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[DP_INJECT_DATA_MAX + 1];

	worker_init(f, DP_IDLE_ADAPTIVE, 0);
	memset(&c, 0, sizeof(c));
	c.backend.ops = &dp_kernel_ops;
	c.backend.priv = &f->k;

	/* No workers at all: straight out of the data port. */
	assert_int_equal(ctl_send_underlay(&c, &f->to4, buf, make_dgram(1, buf)), 0);
	assert_int_equal(recv_dgram(f->rx4, f->k.port, 2000), 1);

	/* A worker that is not running (startup, shutdown): direct as well. */
	c.workers = &f->w;
	c.nworkers = c.nworkers_init = 1;
	assert_int_equal(ctl_send_underlay(&c, &f->to6, buf, make_dgram(2, buf)), 0);
	assert_int_equal(recv_dgram(f->rx6, f->k.port, 2000), 2);
	assert_int_equal(rte_ring_count(f->w.inject_ring), 0);

	/* Running: through the ring (the thread sends it). */
	assert_int_equal(dp_worker_start(&f->w), 0);
	assert_int_equal(ctl_send_underlay(&c, &f->to4, buf, make_dgram(3, buf)), 0);
	assert_int_equal(recv_dgram(f->rx4, f->k.port, 10000), 3);
	assert_int_equal(load(&f->w.counters.injected), 1);
	assert_int_equal(ctl_send_underlay(&c, &f->to4, buf, DP_INJECT_DATA_MAX + 1), -EMSGSIZE);
	dp_worker_stop(&f->w);

	/* Ring full while "running" (the thread held off): the overflow goes
	 * direct, is counted, and is not lost. */
	f->w.started = true;
	for (uint32_t i = 0; i < RING_CAPACITY + 1; i++)
		assert_int_equal(ctl_send_underlay(&c, &f->to4, buf, make_dgram(100 + i, buf)), 0);
	f->w.started = false;
	assert_int_equal(f->w.inject_full, 1);
	assert_int_equal(recv_dgram(f->rx4, f->k.port, 2000), 100 + RING_CAPACITY);
	while (dp_worker_poll_once(&f->w))
		;
	for (uint32_t i = 0; i < RING_CAPACITY; i++)
		assert_int_equal(recv_dgram(f->rx4, f->k.port, 2000), (int)(100 + i));
	assert_int_equal(f->w.counters.injected, 1 + RING_CAPACITY);

	/* ipopctl stats shows both counters. */
	const char *req = "{\"cmd\":\"stats\"}";
	char *s = ctl_mgmt_respond(&c, req, strlen(req));
	assert_non_null(s);
	json_t *o = json_loads(s, 0, NULL);
	free(s);
	assert_non_null(o);
	json_t *w0 = json_array_get(json_object_get(o, "workers"), 0);
	assert_int_equal(json_integer_value(json_object_get(w0, "injected")), 1 + RING_CAPACITY);
	assert_int_equal(json_integer_value(json_object_get(w0, "inject_full")), 1);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(o, "total"), "injected")),
	    1 + RING_CAPACITY);
	json_decref(o);
	memset(&c, 0, sizeof(c)); /* the fixture owns kernel and worker */
}

int main(void)
{
	int rc = test_enter_private_netns(false);
	if (rc)
		return rc;

	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_oversize, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ring_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pool_short, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_thread_asleep, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_spin_length, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_thread_busy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_thread_adaptive_flood, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ctl_send_underlay, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
