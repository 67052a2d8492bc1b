/* Loader of the XDP steering program (see xdp_prog.h). */
#include "bpf/loader/xdp_prog.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

struct xdp_prog {
	struct bpf_object *obj;
	int prog_fd;
	int xsks_fd;
	int counters_fd;
	unsigned n_queues;
	int link_fd; /* -1 when detached */
	enum xdp_prog_mode mode;
};

static const char *const counter_names[XDP_STEER_COUNTERS] = {
    [XDP_STEER_STEERED] = "steered",
    [XDP_STEER_PASS_NOT_IP] = "pass_not_ip",
    [XDP_STEER_PASS_VLAN] = "pass_vlan",
    [XDP_STEER_PASS_TRUNCATED] = "pass_truncated",
    [XDP_STEER_PASS_BAD_IP] = "pass_bad_ip",
    [XDP_STEER_PASS_FRAGMENT] = "pass_fragment",
    [XDP_STEER_PASS_IPV6_EXT] = "pass_ipv6_ext",
    [XDP_STEER_PASS_NOT_UDP] = "pass_not_udp",
    [XDP_STEER_PASS_OTHER_PORT] = "pass_other_port",
    [XDP_STEER_PASS_OTHER_ADDR] = "pass_other_addr",
    [XDP_STEER_PASS_QUEUE_RANGE] = "pass_queue_range",
    [XDP_STEER_PASS_NO_SOCKET] = "pass_no_socket",
};

const char *xdp_prog_counter_name(unsigned idx)
{
	return idx < XDP_STEER_COUNTERS ? counter_names[idx] : NULL;
}

/* Writes the one-line explanation; returns `r` (a -errno). */
__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t errlen, int r,
						      const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* libbpf's own messages (verifier log included) go to the debug log: the
 * caller prints the one line that matters. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[512];

	if (level == LIBBPF_DEBUG && log_get_level() < LOG_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = 0;
	log_debug("libbpf: %s", line);
	return 0;
}

static int cfg_check(const struct xdp_prog_cfg *cfg, char *err, size_t errlen)
{
	if (cfg->port == 0)
		return fail(err, errlen, -EINVAL, "xdp: the UDP port must not be 0");
	if (cfg->n_v4 > XDP_STEER_MAX_ADDRS || cfg->n_v6 > XDP_STEER_MAX_ADDRS)
		return fail(err, errlen, -EINVAL, "xdp: at most %d addresses per family",
			    XDP_STEER_MAX_ADDRS);
	if (!cfg->any_addr && cfg->n_v4 + cfg->n_v6 == 0)
		return fail(err, errlen, -EINVAL,
			    "xdp: no address to steer (give one or any_addr)");
	if (cfg->n_queues < 1 || cfg->n_queues > XDP_STEER_MAX_QUEUES)
		return fail(err, errlen, -EINVAL, "xdp: queue count %u outside 1..%d",
			    cfg->n_queues, XDP_STEER_MAX_QUEUES);
	return 0;
}

/* The settings object is the only variable in .rodata (checked by size). */
static int rodata_write(struct bpf_object *obj, const struct xdp_prog_cfg *cfg, char *err,
			size_t errlen)
{
	struct xdp_steer_cfg ro = {0};
	struct bpf_map *map, *rodata = NULL;
	size_t size = 0;

	bpf_object__for_each_map(map, obj)
	{
		const char *name = bpf_map__name(map);
		size_t n = strlen(name);

		if (bpf_map__is_internal(map) && n >= 7 && !strcmp(name + n - 7, ".rodata"))
			rodata = map;
	}
	if (rodata)
		bpf_map__initial_value(rodata, &size);
	if (!rodata || size != sizeof(ro))
		return fail(err, errlen, -EINVAL,
			    "xdp: %s has no settings object of %zu bytes in .rodata (found %zu)",
			    cfg->obj_path ? cfg->obj_path : XDP_PROG_DEFAULT_PATH, sizeof(ro),
			    size);
	for (unsigned i = 0; i < cfg->n_v4; i++)
		ro.v4[i] = cfg->v4[i].s_addr;
	for (unsigned i = 0; i < cfg->n_v6; i++)
		memcpy(ro.v6[i], &cfg->v6[i], 16);
	ro.n_v4 = cfg->n_v4;
	ro.n_v6 = cfg->n_v6;
	ro.n_queues = cfg->n_queues;
	ro.port = htons(cfg->port);
	ro.any_addr = cfg->any_addr;
	return bpf_map__set_initial_value(rodata, &ro, sizeof(ro));
}

struct xdp_prog *xdp_prog_load(const struct xdp_prog_cfg *cfg, char *err, size_t errlen)
{
	const char *path = cfg->obj_path ? cfg->obj_path : XDP_PROG_DEFAULT_PATH;
	struct xdp_prog *p;
	struct bpf_map *xsks;
	struct bpf_program *prog;
	int r;

	r = cfg_check(cfg, err, errlen);
	if (r < 0)
		goto out;
	/* No setrlimit(RLIMIT_MEMLOCK) here: it cannot be raised on every
	 * machine, and kernels >= 5.11 account BPF memory to the cgroup (libbpf
	 * 1.x probes that and only raises the limit on older kernels). */
	libbpf_set_print(libbpf_print);
	p = calloc(1, sizeof(*p));
	if (!p) {
		r = -ENOMEM;
		goto out;
	}
	p->link_fd = -1;
	p->n_queues = cfg->n_queues;
	p->obj = bpf_object__open_file(path, NULL);
	if (!p->obj) {
		r = -errno;
		fail(err, errlen, r, "xdp: cannot open BPF object %s: %s", path, strerror(-r));
		goto err_free;
	}
	r = rodata_write(p->obj, cfg, err, errlen);
	if (r < 0)
		goto err_close;
	xsks = bpf_object__find_map_by_name(p->obj, "xsks");
	prog = bpf_object__find_program_by_name(p->obj, "xdp_steer");
	if (!xsks || !prog || !bpf_object__find_map_by_name(p->obj, "counters")) {
		r = -EINVAL;
		fail(err, errlen, r, "xdp: %s is not the steering program (maps xsks, counters)",
		     path);
		goto err_close;
	}
	bpf_map__set_max_entries(xsks, cfg->n_queues);
	r = bpf_object__load(p->obj);
	if (r < 0) {
		if (r == -EPERM || r == -EACCES)
			fail(err, errlen, r,
			     "xdp: BPF not permitted (%s): run as root or with CAP_BPF and "
			     "CAP_NET_ADMIN",
			     strerror(-r));
		else
			fail(err, errlen, r,
			     "xdp: loading %s failed: %s (verifier log at debug level)", path,
			     strerror(-r));
		goto err_close;
	}
	p->prog_fd = bpf_program__fd(prog);
	p->xsks_fd = bpf_map__fd(xsks);
	p->counters_fd = bpf_object__find_map_fd_by_name(p->obj, "counters");
	return p;

err_close:
	bpf_object__close(p->obj);
err_free:
	free(p);
out:
	errno = -r;
	return NULL;
}

static int link_create(struct xdp_prog *p, int ifindex, __u32 flags)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);
	int fd = bpf_link_create(p->prog_fd, ifindex, BPF_XDP, &opts);

	return fd < 0 ? -errno : fd;
}

int xdp_prog_attach(struct xdp_prog *p, const char *ifname, enum xdp_prog_mode mode, char *err,
		    size_t errlen)
{
	int ifindex = (int)if_nametoindex(ifname);
	int fd;

	if (p->link_fd >= 0)
		return fail(err, errlen, -EALREADY, "xdp: already attached");
	if (!ifindex)
		return fail(err, errlen, -ENODEV, "xdp: interface %s does not exist", ifname);
	fd = link_create(p, ifindex,
			 mode == XDP_PROG_MODE_GENERIC ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE);
	if (fd < 0 && mode == XDP_PROG_MODE_AUTO && fd != -EBUSY && fd != -EEXIST && fd != -EPERM) {
		log_info("xdp: %s refuses native XDP (%s); using generic mode", ifname,
			 strerror(-fd));
		mode = XDP_PROG_MODE_GENERIC;
		fd = link_create(p, ifindex, XDP_FLAGS_SKB_MODE);
	}
	if (fd < 0) {
		if (fd == -EBUSY || fd == -EEXIST)
			fail(err, errlen, -EBUSY,
			     "xdp: %s already has an XDP program (one per interface; "
			     "remove it with: ip link set dev %s xdp off)",
			     ifname, ifname);
		else if (fd == -EPERM)
			fail(err, errlen, fd,
			     "xdp: attaching to %s not permitted (needs CAP_NET_ADMIN)", ifname);
		else
			fail(err, errlen, fd, "xdp: %s refused the XDP program in %s mode: %s",
			     ifname, mode == XDP_PROG_MODE_GENERIC ? "generic" : "native",
			     strerror(-fd));
		return fd == -EEXIST ? -EBUSY : fd;
	}
	p->link_fd = fd;
	p->mode = mode == XDP_PROG_MODE_GENERIC ? XDP_PROG_MODE_GENERIC : XDP_PROG_MODE_NATIVE;
	return 0;
}

enum xdp_prog_mode xdp_prog_mode_get(const struct xdp_prog *p)
{
	return p->link_fd >= 0 ? p->mode : XDP_PROG_MODE_AUTO;
}

int xdp_prog_detach(struct xdp_prog *p)
{
	int r = 0;

	if (p->link_fd < 0)
		return 0;
	/* Closing our only reference to the link detaches the program. */
	if (bpf_link_detach(p->link_fd) < 0 && errno != EINVAL)
		r = -errno;
	close(p->link_fd);
	p->link_fd = -1;
	p->mode = XDP_PROG_MODE_AUTO;
	return r;
}

int xdp_prog_xsk_set(struct xdp_prog *p, unsigned queue, int xsk_fd)
{
	__u32 key = queue;
	__u32 val = (__u32)xsk_fd;

	if (queue >= p->n_queues || xsk_fd < 0)
		return -EINVAL;
	return bpf_map_update_elem(p->xsks_fd, &key, &val, BPF_ANY) < 0 ? -errno : 0;
}

int xdp_prog_xsk_clear(struct xdp_prog *p, unsigned queue)
{
	__u32 key = queue;

	if (queue >= p->n_queues)
		return -EINVAL;
	if (bpf_map_delete_elem(p->xsks_fd, &key) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int xdp_prog_counters_read(const struct xdp_prog *p, uint64_t out[XDP_STEER_COUNTERS])
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;
	int r = 0;

	if (ncpu < 0)
		return ncpu;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (__u32 i = 0; i < XDP_STEER_COUNTERS; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(p->counters_fd, &i, vals) < 0) {
			r = -errno;
			break;
		}
		for (int c = 0; c < ncpu; c++)
			out[i] += vals[c];
	}
	free(vals);
	return r;
}

int xdp_prog_fd(const struct xdp_prog *p)
{
	return p->prog_fd;
}

int xdp_prog_xsks_fd(const struct xdp_prog *p)
{
	return p->xsks_fd;
}

void xdp_prog_close(struct xdp_prog *p)
{
	if (!p)
		return;
	xdp_prog_detach(p);
	bpf_object__close(p->obj);
	free(p);
}
