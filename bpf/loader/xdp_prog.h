/* Loader of the XDP steering program (bpf/xdp_steer.bpf.c) for the af_xdp
 * backend: opens the object with libbpf, writes the settings into its
 * `const volatile` configuration, loads it, attaches it to one interface
 * through a BPF link (so a crashed daemon leaves nothing attached), keeps the
 * XSK map's socket slots and reads the per-CPU counters.
 *
 * Every failure returns -errno and, when `err` is given, one line saying what
 * to fix ("interface eth9 does not exist", "BPF not permitted: ..."); after a
 * failure nothing stays loaded or attached.
 */
#pragma once
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "bpf/xdp_steer_abi.h"

/* Where meson installs the object (next to the daemon). */
#ifndef XDP_PROG_DEFAULT_PATH
#define XDP_PROG_DEFAULT_PATH "/usr/lib/ipopd/xdp_steer.bpf.o"
#endif

enum xdp_prog_mode {
	XDP_PROG_MODE_AUTO = 0, /* native where the driver has it, else generic */
	XDP_PROG_MODE_NATIVE,	/* driver mode or fail */
	XDP_PROG_MODE_GENERIC,	/* SKB mode (any interface, copies) */
};

struct xdp_prog_cfg {
	const char *obj_path; /* NULL: XDP_PROG_DEFAULT_PATH */
	uint16_t port;	      /* the instance's UDP port, host order */
	bool any_addr;	      /* steer the port on every local address */
	struct in_addr v4[XDP_STEER_MAX_ADDRS];
	unsigned n_v4;
	struct in6_addr v6[XDP_STEER_MAX_ADDRS];
	unsigned n_v6;
	unsigned n_queues; /* receive queues with a socket slot, 1..64 */
};

struct xdp_prog;

/* Opens, configures and loads the program (not attached yet). NULL with
 * errno: ENOENT object missing, EPERM BPF not permitted, EINVAL bad cfg. */
struct xdp_prog *xdp_prog_load(const struct xdp_prog_cfg *cfg, char *err, size_t errlen);

/* Attaches to `ifname`. One program per interface: an interface that has
 * one already gives -EBUSY. Returns 0 or -errno. */
int xdp_prog_attach(struct xdp_prog *p, const char *ifname, enum xdp_prog_mode mode, char *err,
		    size_t errlen);

/* The mode the kernel attached in (NATIVE or GENERIC); AUTO when detached. */
enum xdp_prog_mode xdp_prog_mode_get(const struct xdp_prog *p);

/* Detaches (no-op when not attached). Returns 0 or -errno. */
int xdp_prog_detach(struct xdp_prog *p);

/* Puts the AF_XDP socket `xsk_fd` into queue `queue`'s slot, or empties it. */
int xdp_prog_xsk_set(struct xdp_prog *p, unsigned queue, int xsk_fd);
int xdp_prog_xsk_clear(struct xdp_prog *p, unsigned queue);

/* Sums the per-CPU counters into out[XDP_STEER_COUNTERS]. 0 or -errno. */
int xdp_prog_counters_read(const struct xdp_prog *p, uint64_t out[XDP_STEER_COUNTERS]);

/* "steered", "pass_not_ip", ... (the enum's names without the prefix). */
const char *xdp_prog_counter_name(unsigned idx);

/* The program's fd (for bpf_prog_test_run) and the XSK map's fd. */
int xdp_prog_fd(const struct xdp_prog *p);
int xdp_prog_xsks_fd(const struct xdp_prog *p);

/* Detaches and unloads; NULL is fine. */
void xdp_prog_close(struct xdp_prog *p);
