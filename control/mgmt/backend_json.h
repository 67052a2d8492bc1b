/* The backend part of the management socket's "status" answer: which
 * backend runs, its ports with their queues, mode and counters, and per
 * worker the packets handled and the TSC cycles they took (backend.h). */
#pragma once
#include <jansson.h>

struct ctl;

/* {"name", "mode", "ports": [{name, kind, queues, mode, counters{}}],
 *  "workers": [{id, packets, cycles, cycles_per_packet}]} or NULL. */
json_t *mgmt_backend_json(struct ctl *c);
