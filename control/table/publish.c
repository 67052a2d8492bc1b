/* Table publication and deferred reclamation (QSBR) on the control core.
 *
 * Owns the QSBR variable the workers report to, the table currently
 * published and the list of retired objects waiting for their grace period.
 * Retired objects are kept in retirement order; their tokens only grow, so
 * reclamation stops at the first object some worker may still see.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "control/table/publish.h"
#include "util/log.h"

int ctl_publish_init(struct ctl_publisher *p, unsigned nworkers)
{
	/* QSBR refuses zero threads; a publisher without workers still
	 * retires through it (every check then succeeds at once). */
	unsigned n = nworkers ? nworkers : 1;
	size_t sz = rte_rcu_qsbr_get_memsize(n);

	memset(p, 0, sizeof(*p));
	if (sz <= 1)
		return -EINVAL;
	sz = (sz + RTE_CACHE_LINE_SIZE - 1) & ~(size_t)(RTE_CACHE_LINE_SIZE - 1);
	p->qsbr = aligned_alloc(RTE_CACHE_LINE_SIZE, sz);
	if (!p->qsbr)
		return -ENOMEM;
	if (rte_rcu_qsbr_init(p->qsbr, n) != 0) {
		free(p->qsbr);
		p->qsbr = NULL;
		return -EINVAL;
	}
	return 0;
}

void ctl_publish_attach(struct ctl_publisher *p, struct dp_worker **workers, unsigned n)
{
	p->workers = workers;
	p->nworkers = n;
}

static void table_free(void *obj)
{
	dp_table_free(obj);
}

static int reserve(struct ctl_publisher *p, unsigned n)
{
	if (n <= p->cap_retired)
		return 0;
	unsigned cap = p->cap_retired ? p->cap_retired * 2 : 16;
	while (cap < n)
		cap *= 2;
	struct ctl_retired *r = realloc(p->retired, cap * sizeof(*r));
	if (!r)
		return -ENOMEM;
	p->retired = r;
	p->cap_retired = cap;
	return 0;
}

int ctl_publish_defer_free(struct ctl_publisher *p, void *obj, void (*free_fn)(void *obj))
{
	if (!obj)
		return 0;
	int ret = reserve(p, p->nretired + 1);
	if (ret < 0)
		return ret;
	/* The token is taken after obj was unlinked from what workers can
	 * reach: a worker that acknowledges it has dropped every reference. */
	p->retired[p->nretired++] = (struct ctl_retired){
	    .obj = obj,
	    .free_fn = free_fn,
	    .token = rte_rcu_qsbr_start(p->qsbr),
	};
	return 0;
}

int ctl_publish_table(struct ctl_publisher *p, struct dp_table *t)
{
	int ret;

	if (!t)
		return -EINVAL;
	if (!p->qsbr) { /* not initialised (a management command before start) */
		dp_table_free(t);
		return -ENODEV;
	}
	/* Decide everything that can fail before the first push, so a table is
	 * either published to every worker or to none. The control core is the
	 * only producer of each table ring, so free space can only grow until
	 * we enqueue. */
	ret = reserve(p, p->nretired + 1);
	if (ret < 0)
		goto fail;
	for (unsigned i = 0; i < p->nworkers; i++) {
		if (rte_ring_free_count(p->workers[i]->table_ring) == 0) {
			ret = -ENOBUFS;
			goto fail;
		}
	}

	t->version = ++p->version;
	for (unsigned i = 0; i < p->nworkers; i++) {
		ret = dp_worker_push_table(p->workers[i], t);
		if (ret < 0) /* not reachable: space was checked above */
			log_err("publish: worker %u refused table %llu", i,
				(unsigned long long)t->version);
	}

	struct dp_table *old = p->current;
	p->current = t;
	if (old)
		ctl_publish_defer_free(p, old, table_free); /* space reserved above */
	return 0;

fail:
	/* A worker that lags 63 tables behind is stuck or starved; the caller
	 * retries on its next tick, so say it once in a while only. */
	log_ratelimited(LOG_WARN, "publish: table not published: %s", strerror(-ret));
	dp_table_free(t);
	return ret;
}

unsigned ctl_publish_reclaim(struct ctl_publisher *p)
{
	unsigned done = 0;

	while (done < p->nretired &&
	       rte_rcu_qsbr_check(p->qsbr, p->retired[done].token, false) == 1)
		done++;
	for (unsigned i = 0; i < done; i++)
		p->retired[i].free_fn(p->retired[i].obj);
	if (done) {
		memmove(p->retired, p->retired + done, (p->nretired - done) * sizeof(*p->retired));
		p->nretired -= done;
	}
	return done;
}

void ctl_publish_fini(struct ctl_publisher *p)
{
	for (unsigned i = 0; i < p->nretired; i++)
		p->retired[i].free_fn(p->retired[i].obj);
	free(p->retired);
	if (p->current)
		dp_table_free(p->current);
	free(p->qsbr);
	memset(p, 0, sizeof(*p));
}
