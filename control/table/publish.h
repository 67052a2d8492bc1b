/* Table publication and deferred reclamation on the control core.
 *
 * ctl_publish_table() pushes a sealed table to every worker and retires the
 * previous one; objects the new table no longer references (SAs, links) are
 * handed to ctl_publish_defer_free() after the publish. Both are freed when
 * rte_rcu_qsbr_check() says every worker has passed a quiescent state since
 * the token taken at retirement. ctl_publish_reclaim() is called from the
 * control loop's tick; nothing here blocks.
 */
#pragma once
#include <stdint.h>

#include "dataplane/table.h"
#include "dataplane/worker.h"

struct rte_rcu_qsbr;

struct ctl_retired {
	void *obj;
	void (*free_fn)(void *obj);
	uint64_t token;
};

struct ctl_publisher {
	struct rte_rcu_qsbr *qsbr; /* sized for nworkers threads */
	struct dp_worker **workers;
	unsigned nworkers;
	struct dp_table *current;
	uint64_t version; /* last version published */
	struct ctl_retired *retired;
	unsigned nretired, cap_retired;
};

/* Allocates the QSBR variable for nworkers threads. Workers are attached later
 * (ctl_publish_attach) because dp_worker_init needs the qsbr pointer. */
int ctl_publish_init(struct ctl_publisher *p, unsigned nworkers);
void ctl_publish_attach(struct ctl_publisher *p, struct dp_worker **workers, unsigned n);
/* Takes ownership of t; sets t->version. 0 or -errno (t is then freed). */
int ctl_publish_table(struct ctl_publisher *p, struct dp_table *t);
/* obj stops being referenced by tables published from now on. */
int ctl_publish_defer_free(struct ctl_publisher *p, void *obj, void (*free_fn)(void *obj));
/* Frees what every worker has moved past. Returns the number freed. */
unsigned ctl_publish_reclaim(struct ctl_publisher *p);
/* Workers must be stopped: frees everything, current table included. */
void ctl_publish_fini(struct ctl_publisher *p);
