/* The backends this build has, and the calls the control core makes on
 * whichever one runs (backend.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dataplane/backend.h"
#include "dataplane/dpdk.h"
#include "dataplane/kernel.h"
#ifdef IPOP_HAVE_XDP
#include "dataplane/xsk.h"
#endif

static const struct dp_backend_ops *const backends[] = {
    &dp_kernel_ops,
    &dp_dpdk_ops,
#ifdef IPOP_HAVE_XDP
    &dp_xsk_ops,
#endif
};

#define N_BACKENDS (sizeof(backends) / sizeof(backends[0]))

const struct dp_backend_ops *dp_backend_find(const char *name)
{
	for (size_t i = 0; name && i < N_BACKENDS; i++)
		if (!strcmp(backends[i]->name, name))
			return backends[i];
	return NULL;
}

const char *dp_backend_names(void)
{
	static char names[64];
	size_t off = 0;

	names[0] = 0;
	for (size_t i = 0; i < N_BACKENDS && off < sizeof(names); i++)
		off += (size_t)snprintf(names + off, sizeof(names) - off, "%s%s", i ? ", " : "",
					backends[i]->name);
	return names;
}

int dp_backend_open(struct dp_backend *b, const struct dp_backend_config *cfg, char *err,
		    size_t errlen)
{
	memset(b, 0, sizeof(*b));
	const struct dp_backend_ops *ops = dp_backend_find(cfg->backend);
	if (!ops) {
		snprintf(err, errlen, "backend \"%s\" is not available in this build (it has: %s)",
			 cfg->backend ? cfg->backend : "", dp_backend_names());
		return -ENOTSUP;
	}
	int ret = ops->open(b, cfg, err, errlen);
	if (ret < 0) {
		memset(b, 0, sizeof(*b));
		return ret;
	}
	b->ops = ops;
	return 0;
}

void dp_backend_close(struct dp_backend *b)
{
	if (b->ops)
		b->ops->close(b);
	memset(b, 0, sizeof(*b));
}

int dp_backend_send_control(struct dp_backend *b, const struct net_endpoint *to, const void *buf,
			    size_t len)
{
	if (!b->ops)
		return -ENOTCONN;
	if (!b->ops->send_control)
		return -ENOTSUP;
	return b->ops->send_control(b, to, buf, len);
}

void dp_backend_status(struct dp_backend *b, const struct dp_counters *sum,
		       struct dp_backend_status *st)
{
	memset(st, 0, sizeof(*st));
	if (b->ops && b->ops->status)
		b->ops->status(b, sum, st);
}

struct dp_backend_port *dp_backend_port_add(struct dp_backend_status *st, const char *name,
					    const char *kind, unsigned queues, const char *mode)
{
	if (st->n_ports >= DP_BACKEND_PORTS_MAX)
		return NULL;
	struct dp_backend_port *p = &st->ports[st->n_ports++];
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->kind, sizeof(p->kind), "%s", kind);
	snprintf(p->mode, sizeof(p->mode), "%s", mode ? mode : "");
	p->queues = queues;
	return p;
}

void dp_backend_port_stat(struct dp_backend_port *p, const char *name, uint64_t value)
{
	if (!p || p->n_stats >= DP_BACKEND_STATS_MAX)
		return;
	snprintf(p->stats[p->n_stats].name, sizeof(p->stats[0].name), "%s", name);
	p->stats[p->n_stats++].value = value;
}
