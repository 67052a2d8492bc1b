/* What batching the TAP reads through io_uring would save (issue #9).
 *
 * The sending gateway of a 64-byte flood spends most of its time in one
 * readv() per frame on the TAP. io_uring's multishot read (Linux 6.7) with a
 * ring of provided buffers reads every queued frame in one io_uring_enter():
 * no syscall, fd lookup or iovec import per frame. This measures both on the
 * same TAP in the same run: the reader CPU time per frame while draining a
 * full TAP queue, frames of 64-byte UDP datagrams a second thread sends.
 *
 * Runs in a network namespace of its own (unshare), so nothing touches the
 * host's interfaces. Built only when liburing is found:
 *   apt-get install liburing-dev && meson setup build && build/bench/bench_tap_read
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* liburing 2.3 (Debian 12) predates the opcode; the kernel's value. */
#ifndef IORING_OP_READ_MULTISHOT
#define IORING_OP_READ_MULTISHOT 49
#endif

#define NBUF	 1024 /* a power of two, more than the TAP queue holds */
#define BUFSZ	 2048
#define ROUNDS	 7
#define ROUND_S	 2
#define PAUSE_US 3000 /* lets the TAP queue fill between drains */
#define VNET_LEN 12

static atomic_bool stop;

static void *sender(void *arg)
{
	(void)arg;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9)};
	char payload[64] = {0};

	inet_pton(AF_INET, "10.9.0.2", &to.sin_addr);
	while (!atomic_load(&stop))
		(void)sendto(s, payload, sizeof(payload), 0, (struct sockaddr *)&to, sizeof(to));
	close(s);
	return NULL;
}

static double now(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct uring_rx {
	struct io_uring ring;
	struct io_uring_buf_ring *br;
	char *bufs;
	bool armed;
};

static int uring_init(struct uring_rx *u)
{
	struct io_uring_params p = {.flags = IORING_SETUP_SINGLE_ISSUER |
					     IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE,
				    .cq_entries = 4 * NBUF};
	int r = io_uring_queue_init_params(8, &u->ring, &p);
	if (r < 0)
		return r;
	u->bufs = aligned_alloc(4096, (size_t)NBUF * BUFSZ);
	u->br = aligned_alloc(4096, NBUF * sizeof(struct io_uring_buf));
	if (!u->bufs || !u->br)
		return -ENOMEM;
	io_uring_buf_ring_init(u->br);
	struct io_uring_buf_reg reg = {.ring_addr = (unsigned long)u->br, .ring_entries = NBUF};
	r = io_uring_register_buf_ring(&u->ring, &reg, 0);
	if (r < 0)
		return r;
	for (int i = 0; i < NBUF; i++)
		io_uring_buf_ring_add(u->br, u->bufs + (size_t)i * BUFSZ, BUFSZ, (unsigned short)i,
				      io_uring_buf_ring_mask(NBUF), i);
	io_uring_buf_ring_advance(u->br, NBUF);
	return 0;
}

/* Drains the TAP: frames read, or a negative errno from the first CQE. */
static long uring_drain(struct uring_rx *u, int fd)
{
	long frames = 0;

	for (;;) {
		if (!u->armed) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
			io_uring_prep_rw(IORING_OP_READ_MULTISHOT, sqe, fd, NULL, 0, 0);
			sqe->flags |= IOSQE_BUFFER_SELECT;
			sqe->buf_group = 0;
			u->armed = true;
		}
		io_uring_submit_and_get_events(&u->ring);
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		io_uring_for_each_cqe(&u->ring, head, cqe)
		{
			n++;
			if (!(cqe->flags & IORING_CQE_F_MORE))
				u->armed = false;
			if (cqe->res <= 0) {
				if (cqe->res != -ENOBUFS && frames == 0)
					return cqe->res;
				continue;
			}
			frames++;
			unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
			io_uring_buf_ring_add(u->br, u->bufs + (size_t)bid * BUFSZ, BUFSZ,
					      (unsigned short)bid, io_uring_buf_ring_mask(NBUF), 0);
			io_uring_buf_ring_advance(u->br, 1);
		}
		io_uring_cq_advance(&u->ring, n);
		if (n == 0)
			return frames;
	}
}

static long readv_drain(int fd, char *buf)
{
	long frames = 0;
	for (;;) {
		/* As the kernel backend reads: virtio-net header, then the frame. */
		char vh[VNET_LEN];
		struct iovec iov[2] = {{vh, sizeof(vh)}, {buf, BUFSZ}};
		if (readv(fd, iov, 2) <= 0)
			return frames;
		frames++;
	}
}

/* Reader CPU nanoseconds per frame over one round. */
static double round_ns(int fd, struct uring_rx *u, char *buf, long *frames_out)
{
	long frames = 0;
	double c0 = now(CLOCK_THREAD_CPUTIME_ID), end = now(CLOCK_MONOTONIC) + ROUND_S;
	while (now(CLOCK_MONOTONIC) < end) {
		usleep(PAUSE_US);
		long f = u ? uring_drain(u, fd) : readv_drain(fd, buf);
		if (f < 0) {
			fprintf(stderr, "bench_tap_read: multishot read: %s\n", strerror((int)-f));
			exit(77);
		}
		frames += f;
	}
	*frames_out = frames;
	return frames ? (now(CLOCK_THREAD_CPUTIME_ID) - c0) * 1e9 / (double)frames : 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(void)
{
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "bench_tap_read: unshare(CLONE_NEWNET): %s (needs root)\n",
			strerror(errno));
		return 77;
	}
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	struct ifreq ifr = {.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "bt0");
	if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0) {
		fprintf(stderr, "bench_tap_read: TUN: %s\n", strerror(errno));
		return 77;
	}
	if (system("ip link set lo up && ip link set bt0 up && ip addr add 10.9.0.1/24 dev bt0") !=
	    0)
		return 77;

	struct uring_rx u = {0};
	int r = uring_init(&u);
	if (r < 0) {
		fprintf(stderr, "bench_tap_read: io_uring: %s\n", strerror(-r));
		return 77;
	}
	char *buf = malloc(BUFSZ);
	pthread_t t;
	pthread_create(&t, NULL, sender, NULL);

	double rv[ROUNDS], ur[ROUNDS];
	long frv = 0, fur = 0, f;
	for (int i = 0; i < ROUNDS; i++) { /* interleaved */
		rv[i] = round_ns(fd, NULL, buf, &f);
		frv += f;
		ur[i] = round_ns(fd, &u, buf, &f);
		fur += f;
	}
	atomic_store(&stop, true);
	pthread_join(t, NULL);
	qsort(rv, ROUNDS, sizeof(rv[0]), cmp);
	qsort(ur, ROUNDS, sizeof(ur[0]), cmp);
	printf("| TAP read, 64-byte UDP frames | reader CPU ns/frame (median of %d) | frames |\n",
	       ROUNDS);
	printf("|---|---|---|\n");
	printf("| readv, one per frame | %.0f | %ld |\n", rv[ROUNDS / 2], frv);
	printf("| io_uring multishot read, provided buffers | %.0f | %ld |\n", ur[ROUNDS / 2], fur);
	printf("\nio_uring / readv: %.2f\n", ur[ROUNDS / 2] / rv[ROUNDS / 2]);
	return 0;
}
