/* The control core's sends on the underlay: through worker 0's inject ring,
 * directly on its socket when the worker cannot take them (see underlay.h). */
#include "control/core/underlay.h"

#include <errno.h>

#include "control/core/ctl.h"

int ctl_send_underlay(struct ctl *c, const struct net_endpoint *to, const void *buf, size_t len)
{
	if (c->nworkers_init > 0 && c->workers[0].started) {
		int err = dp_worker_inject(&c->workers[0], to, buf, len);
		if (err != -ENOBUFS)
			return err;
	}
	return dp_backend_send_control(&c->backend, to, buf, len);
}
