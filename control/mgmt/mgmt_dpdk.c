/* The `dpdk` backend in `ipopctl status`: ports (role, driver, MAC, link,
 * ethdev counters), queues, the underlay's address and resolved neighbours,
 * the backend's own counters and cycles per packet. */
#include <arpa/inet.h>
#include <stdio.h>

#include <string.h>

#include "control/core/ctl.h"
#include "control/mgmt/mgmt_dpdk.h"

static const char *role(enum dp_dpdk_kind k)
{
	return k == DP_DPDK_UNDERLAY ? "underlay" : k == DP_DPDK_TAP ? "host-tap" : "host-vhost";
}

static json_t *mac_json(const uint8_t m[6])
{
	char s[18];
	snprintf(s, sizeof(s), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return json_string(s);
}

static json_t *port_json(const struct dp_dpdk_port *pt)
{
	struct dp_dpdk_port_counters pc;
	int err = dp_dpdk_port_counters(pt, &pc);
	json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:i}", "name", pt->name, "role", role(pt->kind),
			      "driver", pt->driver ? pt->driver : "?", "mac", mac_json(pt->mac),
			      "port_id", (int)pt->id);
	if (!o || err)
		return o;
	json_object_set_new(o, "link", json_string(pc.link_up ? "up" : "down"));
	json_object_set_new(o, "rx_packets", json_integer((json_int_t)pc.ipackets));
	json_object_set_new(o, "tx_packets", json_integer((json_int_t)pc.opackets));
	json_object_set_new(o, "rx_bytes", json_integer((json_int_t)pc.ibytes));
	json_object_set_new(o, "tx_bytes", json_integer((json_int_t)pc.obytes));
	json_object_set_new(o, "rx_missed", json_integer((json_int_t)pc.imissed));
	json_object_set_new(o, "rx_errors", json_integer((json_int_t)pc.ierrors));
	json_object_set_new(o, "tx_errors", json_integer((json_int_t)pc.oerrors));
	json_object_set_new(o, "rx_nombuf", json_integer((json_int_t)pc.rx_nombuf));
	return o;
}

json_t *ctl_mgmt_dpdk_json(struct ctl *c)
{
	const struct dp_dpdk *d = &c->dpdk;
	struct dp_dpdk_stats s;
	char a[INET_ADDRSTRLEN + 4];

	if (!c->dpdk_open)
		return json_null();
	dp_dpdk_stats_read(d, &s);
	json_t *ports = json_array(), *neigh = json_array();
	json_array_append_new(ports, port_json(&d->net));
	for (unsigned i = 0; i < d->nhost; i++)
		json_array_append_new(ports, port_json(&d->host[i]));
	for (unsigned i = 0; i < DP_DPDK_NEIGH_MAX; i++) {
		uint32_t ip = __atomic_load_n(&d->neigh[i].ip, __ATOMIC_RELAXED);
		uint64_t mac = __atomic_load_n(&d->neigh[i].mac, __ATOMIC_RELAXED);
		uint8_t m[6];
		if (!ip)
			continue;
		for (int k = 5; k >= 0; k--, mac >>= 8)
			m[k] = (uint8_t)mac;
		inet_ntop(AF_INET, &ip, a, sizeof(a));
		json_array_append_new(
		    neigh,
		    json_pack("{s:s, s:o}", "ip", a, "mac",
			      (d->neigh[i].mac >> 63) ? mac_json(m) : json_string("resolving")));
	}
	inet_ntop(AF_INET, &d->ip4, a, sizeof(a));
	snprintf(a + strlen(a), 4, "/%d", __builtin_popcount(d->mask));
	json_t *counters = json_pack(
	    "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "arp_requests_in",
	    (json_int_t)s.arp_requests_in, "arp_replies_out", (json_int_t)s.arp_replies_out,
	    "arp_requests_out", (json_int_t)s.arp_requests_out, "arp_replies_in",
	    (json_int_t)s.arp_replies_in, "neigh_miss", (json_int_t)s.neigh_miss, "not_ours",
	    (json_int_t)s.not_ours, "fragments", (json_int_t)s.fragments, "icmp_echo",
	    (json_int_t)s.icmp_echo, "local_switched", (json_int_t)s.local_switched, "host_copies",
	    (json_int_t)s.host_copies, "multiseg", (json_int_t)s.multiseg, "tx_full",
	    (json_int_t)s.tx_full);
	return json_pack("{s:i, s:b, s:s, s:o, s:o, s:o, s:I, s:I}", "queues", (int)d->nqueues,
			 "zero_copy", 1, "underlay_address", a, "ports", ports, "neighbours", neigh,
			 "counters", counters, "busy_packets", (json_int_t)s.busy_packets,
			 "cycles_per_packet",
			 (json_int_t)(s.busy_packets ? s.busy_cycles / s.busy_packets : 0));
}
