/* io_uring multishot TAP reads (see tap_uring.h). liburing does the ring
 * setup and the provided-buffer ring; Debian 12's liburing 2.3 predates the
 * multishot read opcode, so its number (the kernel's ABI) is defined here. */
#include "dataplane/tap_uring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_LIBURING
#include <liburing.h>

#ifndef IORING_OP_READ_MULTISHOT
#define IORING_OP_READ_MULTISHOT 49 /* Linux 6.7 */
#endif

#define NBUF 64 /* a power of two: 64 frames per enter, 64 super-frames of memory */

struct dp_tap_uring {
	struct io_uring ring;
	struct io_uring_buf_ring *br;
	uint8_t *bufs;
	uint32_t buf_size;
	int fd;
	bool armed;   /* the multishot read is in place */
	bool working; /* a frame came through at least once */
};

int dp_tap_uring_probe(char *why, size_t whylen)
{
	struct io_uring ring;
	struct io_uring_params p = {.flags =
					IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN};
	int r = io_uring_queue_init_params(2, &ring, &p);
	if (r < 0) {
		snprintf(why, whylen, "io_uring refused: %s", strerror(-r));
		return r;
	}
	struct io_uring_probe *pr = io_uring_get_probe_ring(&ring);
	bool ok = pr && io_uring_opcode_supported(pr, IORING_OP_READ_MULTISHOT);
	if (pr)
		io_uring_free_probe(pr);
	io_uring_queue_exit(&ring);
	if (!ok) {
		snprintf(why, whylen, "kernel lacks io_uring multishot read (Linux 6.7)");
		return -EOPNOTSUPP;
	}
	return 0;
}

struct dp_tap_uring *dp_tap_uring_new(int fd, uint32_t buf_size, int *err)
{
	struct dp_tap_uring *u = calloc(1, sizeof(*u));
	if (!u) {
		*err = -ENOMEM;
		return NULL;
	}
	u->fd = fd;
	u->buf_size = (buf_size + 63) & ~63u;
	/* CQ room for every buffer at once, so a full drain never overflows. */
	struct io_uring_params p = {.flags = IORING_SETUP_SINGLE_ISSUER |
					     IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE,
				    .cq_entries = 2 * NBUF};
	int r = io_uring_queue_init_params(4, &u->ring, &p);
	if (r < 0) {
		free(u);
		*err = r;
		return NULL;
	}
	u->bufs = aligned_alloc(4096, (size_t)NBUF * u->buf_size);
	u->br = aligned_alloc(4096, NBUF * sizeof(struct io_uring_buf));
	if (!u->bufs || !u->br) {
		r = -ENOMEM;
		goto fail;
	}
	io_uring_buf_ring_init(u->br);
	struct io_uring_buf_reg reg = {.ring_addr = (uintptr_t)u->br, .ring_entries = NBUF};
	r = io_uring_register_buf_ring(&u->ring, &reg, 0);
	if (r < 0)
		goto fail;
	for (unsigned i = 0; i < NBUF; i++)
		io_uring_buf_ring_add(u->br, u->bufs + (size_t)i * u->buf_size, u->buf_size,
				      (unsigned short)i, io_uring_buf_ring_mask(NBUF), (int)i);
	io_uring_buf_ring_advance(u->br, NBUF);
	return u;
fail:
	io_uring_queue_exit(&u->ring);
	free(u->bufs);
	free(u->br);
	free(u);
	*err = r;
	return NULL;
}

void dp_tap_uring_free(struct dp_tap_uring *u)
{
	if (!u)
		return;
	io_uring_queue_exit(&u->ring);
	free(u->bufs);
	free(u->br);
	free(u);
}

static void arm(struct dp_tap_uring *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	if (!sqe)
		return;
	io_uring_prep_rw(IORING_OP_READ_MULTISHOT, sqe, u->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = 0;
	u->armed = true;
}

int dp_tap_uring_next(struct dp_tap_uring *u, bool *entered, uint8_t **data, uint32_t *len,
		      unsigned *bid)
{
	for (;;) {
		struct io_uring_cqe *cqe;
		if (io_uring_peek_cqe(&u->ring, &cqe) == 0) {
			int res = cqe->res;
			unsigned flags = cqe->flags;
			io_uring_cqe_seen(&u->ring, cqe);
			if (!(flags & IORING_CQE_F_MORE))
				u->armed = false; /* re-armed at the next enter */
			if (res > 0 && (flags & IORING_CQE_F_BUFFER)) {
				u->working = true;
				*bid = flags >> IORING_CQE_BUFFER_SHIFT;
				*data = u->bufs + (size_t)*bid * u->buf_size;
				*len = (uint32_t)res;
				return 1;
			}
			/* The opcode refused before any frame: this kernel has
			 * no multishot read for the TAP. Anything else (-ENOBUFS:
			 * every buffer is still with the caller) ends this shot;
			 * the next enter re-arms. */
			if (!u->working && (res == -EINVAL || res == -EOPNOTSUPP))
				return res;
			continue;
		}
		if (*entered)
			return 0;
		if (!u->armed)
			arm(u);
		*entered = true;
		/* Runs the deferred reads: every queued frame into a buffer. */
		int r = io_uring_submit_and_get_events(&u->ring);
		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY)
			return u->working ? 0 : r;
	}
}

void dp_tap_uring_recycle(struct dp_tap_uring *u, unsigned bid)
{
	io_uring_buf_ring_add(u->br, u->bufs + (size_t)bid * u->buf_size, u->buf_size,
			      (unsigned short)bid, io_uring_buf_ring_mask(NBUF), 0);
	io_uring_buf_ring_advance(u->br, 1);
}

bool dp_tap_uring_ready(const struct dp_tap_uring *u)
{
	return io_uring_cq_ready(&u->ring) > 0;
}

#else /* !HAVE_LIBURING */

int dp_tap_uring_probe(char *why, size_t whylen)
{
	snprintf(why, whylen, "built without liburing");
	return -EOPNOTSUPP;
}

struct dp_tap_uring *dp_tap_uring_new(int fd, uint32_t buf_size, int *err)
{
	(void)fd;
	(void)buf_size;
	*err = -EOPNOTSUPP;
	return NULL;
}

void dp_tap_uring_free(struct dp_tap_uring *u)
{
	(void)u;
}

int dp_tap_uring_next(struct dp_tap_uring *u, bool *entered, uint8_t **data, uint32_t *len,
		      unsigned *bid)
{
	(void)u;
	(void)entered;
	(void)data;
	(void)len;
	(void)bid;
	return -EOPNOTSUPP;
}

void dp_tap_uring_recycle(struct dp_tap_uring *u, unsigned bid)
{
	(void)u;
	(void)bid;
}

bool dp_tap_uring_ready(const struct dp_tap_uring *u)
{
	(void)u;
	return false;
}
#endif
