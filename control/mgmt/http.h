/* The HTTP listener of one instance (ipopd.http_listen): Prometheus
 * /metrics (metrics.h), the live overlay page and its JSON (page.h), built
 * on libmicrohttpd; an extension of the control loop (ctl.h, struct
 * ctl_ext), registered by ipopd's main.
 *
 * Concurrency: the daemon runs without a thread of its own. Its epoll fd is
 * one more source in the control loop's epoll (CTL_HTTP_TAG), and MHD_run
 * is called from the control loop only (on that event and on every tick for
 * its timeouts), so every request handler runs on the control core: it
 * reads the overlay state between two updates, never during one, and needs
 * no lock. The only state the data plane writes (counters, SA packet
 * counts) is read with relaxed atomic loads, as for the management socket.
 * Bounded: at most CTL_HTTP_MAX_CONN connections, CTL_HTTP_TIMEOUT_S idle
 * timeout, GET/HEAD only, no request bodies.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"

#define CTL_HTTP_TAG	   0x400
#define CTL_HTTP_MAX_CONN  32
#define CTL_HTTP_TIMEOUT_S 10
#ifndef IPOPD_D3_PATH
#define IPOPD_D3_PATH "/usr/share/javascript/d3/d3.min.js"
#endif

struct ctl;
struct MHD_Daemon;

struct ctl_http_busy {
	uint64_t cpu_ns, wall_ns; /* at the previous scrape */
	double ratio;		  /* CPU time / wall time between the last two scrapes */
};

struct ctl_http {
	struct ctl *c; /* the instance whose state the handlers read */
	struct MHD_Daemon *d;
	int epfd;
	char *d3; /* d3.min.js, read at open (before any privilege drop) */
	size_t d3_len;
	uint64_t requests, not_found;
	struct ctl_http_busy *busy; /* per worker */
	unsigned nbusy;
};

struct ctl_ext_ops;

/* Starts listening on ep and registers with the control loop's epfd. Reads
 * d3 from IPOPD_D3_PATH (the page says so when it is missing). 0 or -errno. */
int ctl_http_open(struct ctl_http *h, struct ctl *c, const struct net_endpoint *ep, int epfd);
void ctl_http_close(struct ctl_http *h);
/* The epoll source fired, or the tick: let libmicrohttpd do its work. */
void ctl_http_run(struct ctl_http *h);

/* As an extension: opens when the config sets http_listen, else stays idle. */
extern const struct ctl_ext_ops ctl_http_ext_ops;
