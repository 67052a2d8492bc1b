/* The backend's status as JSON (backend_json.h). */
#include "control/mgmt/backend_json.h"

#include <string.h>

#include "control/core/ctl.h"

static json_t *port_json(const struct dp_backend_port *p)
{
	json_t *stats = json_object();
	for (unsigned i = 0; stats && i < p->n_stats; i++)
		json_object_set_new(stats, p->stats[i].name,
				    json_integer((json_int_t)p->stats[i].value));
	return json_pack("{s:s, s:s, s:i, s:s, s:o}", "name", p->name, "kind", p->kind, "queues",
			 (int)p->queues, "mode", p->mode, "counters",
			 stats ? stats : json_object());
}

static json_t *worker_json(unsigned id, const struct dp_counters *k)
{
	uint64_t pkts = k->host_rx_packets + k->net_rx_packets + k->injected;
	json_t *cpp = pkts ? json_integer((json_int_t)(k->busy_cycles / pkts)) : json_null();
	return json_pack("{s:i, s:I, s:I, s:o}", "id", (int)id, "packets", (json_int_t)pkts,
			 "cycles", (json_int_t)k->busy_cycles, "cycles_per_packet", cpp);
}

json_t *mgmt_backend_json(struct ctl *c)
{
	static struct dp_counters sum, one; /* 64-byte aligned, large */
	static struct dp_backend_status st;
	json_t *workers = json_array();

	memset(&sum, 0, sizeof(sum));
	for (unsigned i = 0; workers && i < c->nworkers_init; i++) {
		memset(&one, 0, sizeof(one));
		dp_counters_add_into(&one, &c->workers[i].counters);
		dp_counters_add_into(&sum, &c->workers[i].counters);
		json_array_append_new(workers, worker_json(i, &one));
	}
	dp_backend_status(&c->backend, &sum, &st);
	json_t *ports = json_array();
	for (unsigned i = 0; ports && i < st.n_ports; i++)
		json_array_append_new(ports, port_json(&st.ports[i]));
	return json_pack("{s:s, s:s, s:o, s:o}", "name",
			 c->backend.ops ? c->backend.ops->name : "none", "mode", st.mode, "ports",
			 ports ? ports : json_array(), "workers", workers ? workers : json_array());
}
