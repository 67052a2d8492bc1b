/* TAP reads through io_uring (issue #9; docs/offloads.md): one multishot
 * read (Linux 6.7) with a ring of provided buffers, so one io_uring_enter()
 * reads every frame the TAP holds instead of one readv() each
 * (build/bench/bench_tap_read: 0.77x the CPU per frame).
 *
 * A reader belongs to the worker thread that created it (SINGLE_ISSUER,
 * DEFER_TASKRUN: the reads run inside that thread's io_uring_enter, never
 * in a kernel worker). Each frame read stays in its buffer, [virtio-net
 * header | frame], until the caller recycles the buffer id.
 *
 * Without liburing at build time every function reports -EOPNOTSUPP and the
 * TAP is read with readv as before.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dp_tap_uring;

/* Whether this kernel and process can run the reader: 0, or -errno with a
 * reason for `ipopctl status` in why. */
int dp_tap_uring_probe(char *why, size_t whylen);

/* In the worker thread. buf_size: the largest read (header + frame). NULL
 * with *err set when io_uring refuses. */
struct dp_tap_uring *dp_tap_uring_new(int fd, uint32_t buf_size, int *err);
void dp_tap_uring_free(struct dp_tap_uring *u);

/* The next frame read: 1 with data, len and bid set; 0 when the TAP had
 * nothing more (one io_uring_enter at most while entered is false, which it
 * then sets), or -errno when the
 * kernel refused the read before any frame ever came (no multishot read:
 * the caller falls back to readv). */
int dp_tap_uring_next(struct dp_tap_uring *u, bool *entered, uint8_t **data, uint32_t *len,
		      unsigned *bid);
/* Gives a buffer back to the kernel. */
void dp_tap_uring_recycle(struct dp_tap_uring *u, unsigned bid);
/* Frames already read and not yet taken (poll() cannot see them). */
bool dp_tap_uring_ready(const struct dp_tap_uring *u);
