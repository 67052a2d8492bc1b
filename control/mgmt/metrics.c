/* Prometheus metrics (see metrics.h): JSON answers of the management socket
 * rendered family by family. Families are written whole (all samples of a
 * name together), as the exposition format requires. */
#include "control/mgmt/metrics.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/core/ctl.h"
#include "control/mgmt/http.h"
#include "control/mgmt/mgmt.h"

struct out {
	FILE *f;
};

static json_t *ask(struct ctl *c, const char *cmd)
{
	char req[64];
	int n = snprintf(req, sizeof(req), "{\"cmd\":\"%s\"}", cmd);
	char *s = ctl_mgmt_respond(c, req, (size_t)n);
	if (!s)
		return NULL;
	json_t *o = json_loads(s, 0, NULL);
	free(s);
	if (o && json_object_get(o, "error")) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Label values: backslash, double quote and newline escaped. */
static void label_value(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{k1="v1",k2="v2"} value; labels: NULL-terminated key, value pairs. */
static void sample(FILE *f, const char *name, const char *const *labels, double v)
{
	fputs(name, f);
	if (labels && labels[0]) {
		fputc('{', f);
		for (unsigned i = 0; labels[i]; i += 2) {
			fprintf(f, "%s%s=", i ? "," : "", labels[i]);
			label_value(f, labels[i + 1]);
		}
		fputc('}', f);
	}
	if (v == (double)(long long)v)
		fprintf(f, " %lld\n", (long long)v);
	else
		fprintf(f, " %.6g\n", v);
}

static double num(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : 0;
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* ---- status ------------------------------------------------------------ */

static void status_metrics(FILE *f, struct ctl *c, struct ctl_http *h, const json_t *st,
			   const json_t *stats)
{
	family(f, "ipopd_info", "gauge",
	       "Always 1; the instance's version, mode, TAP and node id.");
	const char *const l[] = {"version", str(st, "version"), "mode",	   str(st, "mode"),
				 "tap",	    str(st, "tap"),	"backend", str(st, "backend"),
				 "node_id", str(st, "node_id"), NULL};
	sample(f, "ipopd_info", l, 1);
	family(f, "ipopd_uptime_seconds", "gauge", "Seconds since the instance started.");
	sample(f, "ipopd_uptime_seconds", NULL, num(st, "uptime_s"));
	family(f, "ipopd_mtu_bytes", "gauge", "MTU of the TAP.");
	sample(f, "ipopd_mtu_bytes", NULL, num(st, "mtu"));
	family(f, "ipopd_table_version", "gauge", "Forwarding tables published so far.");
	sample(f, "ipopd_table_version", NULL, num(st, "table_version"));
	family(f, "ipopd_links", "gauge", "Links (static and discovered peers).");
	sample(f, "ipopd_links", NULL, num(st, "links"));
	family(f, "ipopd_reloads_total", "counter", "Configuration reloads (SIGHUP).");
	sample(f, "ipopd_reloads_total", NULL, num(st, "reloads"));
	family(f, "ipopd_reload_errors_total", "counter", "Reloads refused (old config kept).");
	sample(f, "ipopd_reload_errors_total", NULL, (double)c->reload_errors);
	family(f, "ipopd_fdb_entries", "gauge", "Learned MAC addresses (switch mode).");
	sample(f, "ipopd_fdb_entries", NULL, num(stats, "fdb_entries"));
	family(f, "ipopd_punted_total", "counter",
	       "Control and STUN datagrams handed from the workers to the control core.");
	sample(f, "ipopd_punted_total", NULL, num(stats, "punted"));
	family(f, "ipopd_http_requests_total", "counter", "Requests served by this listener.");
	sample(f, "ipopd_http_requests_total", NULL, (double)h->requests);
}

/* ---- links ------------------------------------------------------------- */

struct link_field {
	const char *json, *name, *type, *help;
	bool from_links; /* the "links" answer (else "peers") */
};

static const struct link_field link_fields[] = {
    {"tx_packets", "ipopd_link_tx_packets_total", "counter", "Packets sent on the link.", 0},
    {"tx_bytes", "ipopd_link_tx_bytes_total", "counter", "Bytes sent on the link (inner).", 0},
    {"rx_packets", "ipopd_link_rx_packets_total", "counter", "Packets received on the link.", 0},
    {"rx_bytes", "ipopd_link_rx_bytes_total", "counter", "Bytes received on the link (inner).", 0},
    {"auth_fail", "ipopd_link_auth_failures_total", "counter",
     "ESP packets of the link whose ICV did not verify.", 0},
    {"replay", "ipopd_link_replays_total", "counter",
     "ESP packets of the link refused by the anti-replay window.", 0},
    {"src_check", "ipopd_link_source_check_drops_total", "counter",
     "Decrypted packets whose inner source the peer may not use.", 0},
    {"last_rx_s", "ipopd_link_last_rx_age_seconds", "gauge",
     "Seconds since the link last received a packet.", 0},
    {"handshakes", "ipopd_link_handshakes_total", "counter", "Completed Noise handshakes.", 1},
    {"rekeys", "ipopd_link_rekeys_total", "counter", "Rekeys (handshakes replacing a key).", 1},
    {"key_age_s", "ipopd_link_key_age_seconds", "gauge", "Age of the current key.", 1},
    {"last_handshake_s", "ipopd_link_last_handshake_age_seconds", "gauge",
     "Seconds since the last completed handshake.", 1},
};

static json_t *link_named(const json_t *links, const char *name)
{
	size_t i;
	json_t *l;
	json_array_foreach(json_object_get(links, "links"), i,
			   l) if (!strcmp(str(l, "name"), name)) return l;
	return NULL;
}

static void link_metrics(FILE *f, const json_t *peers, const json_t *links)
{
	static const char *const states[] = {"up", "connecting", "down"};
	json_t *arr = json_object_get(peers, "peers");
	size_t i;
	json_t *p;

	family(f, "ipopd_link_up", "gauge", "1 when the link is up (keyed and passing traffic).");
	json_array_foreach(arr, i, p)
	{
		const char *const l[] = {"peer", str(p, "name"), NULL};
		sample(f, "ipopd_link_up", l, !strcmp(str(p, "state"), "up"));
	}
	family(f, "ipopd_link_state", "gauge", "The link's state: 1 for the current one.");
	json_array_foreach(arr, i, p)
	{
		for (unsigned s = 0; s < 3; s++) {
			const char *const l[] = {"peer", str(p, "name"), "state", states[s], NULL};
			sample(f, "ipopd_link_state", l, !strcmp(str(p, "state"), states[s]));
		}
	}
	family(f, "ipopd_link_relayed", "gauge", "1 when the link goes through a TURN relay.");
	json_array_foreach(arr, i, p)
	{
		json_t *lk = link_named(links, str(p, "name"));
		const char *rt = str(json_object_get(lk, "pair"), "remote_type");
		const char *const l[] = {"peer", str(p, "name"), NULL};
		sample(f, "ipopd_link_relayed", l, !strcmp(rt, "relayed"));
	}
	for (size_t k = 0; k < sizeof(link_fields) / sizeof(link_fields[0]); k++) {
		const struct link_field *lf = &link_fields[k];
		family(f, lf->name, lf->type, lf->help);
		json_array_foreach(arr, i, p)
		{
			const json_t *src = lf->from_links ? link_named(links, str(p, "name")) : p;
			json_t *v = json_object_get(src, lf->json);
			if (!json_is_number(v))
				continue; /* unknown (never received, never keyed) */
			const char *const l[] = {"peer", str(p, "name"), NULL};
			sample(f, lf->name, l, json_number_value(v));
		}
	}
	/* measured in ms (the links answer's srtt_ms), absent until measured */
	family(f, "ipopd_link_rtt_seconds", "gauge",
	       "Smoothed round-trip time from our Noise initiation to its response.");
	json_array_foreach(arr, i, p)
	{
		json_t *v = json_object_get(link_named(links, str(p, "name")), "srtt_ms");
		if (!json_is_number(v))
			continue;
		const char *const l[] = {"peer", str(p, "name"), NULL};
		sample(f, "ipopd_link_rtt_seconds", l, json_number_value(v) / 1000);
	}
}

/* ---- workers and drops --------------------------------------------------- */

static void busy_update(struct ctl *c, struct ctl_http *h)
{
	if (h->nbusy != c->nworkers) {
		free(h->busy);
		h->busy = calloc(c->nworkers, sizeof(*h->busy));
		h->nbusy = h->busy ? c->nworkers : 0;
	}
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	uint64_t wall = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	for (unsigned i = 0; i < h->nbusy; i++) {
		clockid_t cid;
		struct timespec ts;
		if (!c->workers[i].started || pthread_getcpuclockid(c->workers[i].thread, &cid) ||
		    clock_gettime(cid, &ts))
			continue;
		uint64_t cpu = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		struct ctl_http_busy *b = &h->busy[i];
		if (b->wall_ns && wall > b->wall_ns)
			b->ratio = (double)(cpu - b->cpu_ns) / (double)(wall - b->wall_ns);
		else
			b->ratio = (double)cpu / (double)(wall - c->start_ms * 1000000ull);
		if (b->ratio > 1)
			b->ratio = 1;
		b->cpu_ns = cpu;
		b->wall_ns = wall;
	}
}

static void worker_metrics(FILE *f, struct ctl *c, struct ctl_http *h, const json_t *stats)
{
	static const char *const dirs[] = {"host_rx", "host_tx", "net_rx", "net_tx"};
	json_t *ws = json_object_get(stats, "workers");
	size_t i;
	json_t *w;
	char id[24], key[32];

	family(f, "ipopd_worker_packets_total", "counter",
	       "Packets per worker and direction (host = TAP side, net = underlay side).");
	json_array_foreach(ws, i, w) for (unsigned d = 0; d < 4; d++)
	{
		snprintf(id, sizeof(id), "%zu", i);
		snprintf(key, sizeof(key), "%s_packets", dirs[d]);
		const char *const l[] = {"worker", id, "direction", dirs[d], NULL};
		sample(f, "ipopd_worker_packets_total", l, num(w, key));
	}
	family(f, "ipopd_worker_bytes_total", "counter", "Bytes per worker and direction.");
	json_array_foreach(ws, i, w) for (unsigned d = 0; d < 4; d++)
	{
		snprintf(id, sizeof(id), "%zu", i);
		snprintf(key, sizeof(key), "%s_bytes", dirs[d]);
		const char *const l[] = {"worker", id, "direction", dirs[d], NULL};
		sample(f, "ipopd_worker_bytes_total", l, num(w, key));
	}
	static const struct {
		const char *json, *name, *help;
	} wf[] = {
	    {"loops", "ipopd_worker_bursts_total",
	     "Poll iterations (one host and one net burst each)."},
	    {"idle_sleeps", "ipopd_worker_idle_sleeps_total",
	     "Times the worker slept (adaptive idle)."},
	    {"punted", "ipopd_worker_punted_total", "Datagrams handed to the control core."},
	    {"tables", "ipopd_worker_tables_total", "Forwarding tables adopted."},
	    {"flooded", "ipopd_worker_flooded_total", "Copies sent for broadcast/unknown unicast."},
	    {"injected", "ipopd_worker_injected_total",
	     "Control datagrams sent for the control core."},
	    {"forwarded", "ipopd_worker_forwarded_total",
	     "Packets from a peer re-encrypted to another peer (multihop)."},
	    {"flood_relayed", "ipopd_worker_flood_relayed_total",
	     "Ring-flood copies relayed for another origin (switch mode)."},
	    {"staged", "ipopd_worker_staged_total", "Packets held until their link is up."},
	    {"stage_flushed", "ipopd_worker_stage_flushed_total",
	     "Staged packets sent once their link was up."},
	};
	for (size_t k = 0; k < sizeof(wf) / sizeof(wf[0]); k++) {
		family(f, wf[k].name, "counter", wf[k].help);
		json_array_foreach(ws, i, w)
		{
			snprintf(id, sizeof(id), "%zu", i);
			const char *const l[] = {"worker", id, NULL};
			sample(f, wf[k].name, l, num(w, wf[k].json));
		}
	}
	busy_update(c, h);
	family(f, "ipopd_worker_cpu_seconds_total", "counter", "CPU time of the worker thread.");
	for (unsigned k = 0; k < h->nbusy; k++) {
		snprintf(id, sizeof(id), "%u", k);
		const char *const l[] = {"worker", id, NULL};
		sample(f, "ipopd_worker_cpu_seconds_total", l, (double)h->busy[k].cpu_ns / 1e9);
	}
	family(f, "ipopd_worker_busy_ratio", "gauge",
	       "Share of wall time the worker thread was on a CPU since the previous scrape.");
	for (unsigned k = 0; k < h->nbusy; k++) {
		snprintf(id, sizeof(id), "%u", k);
		const char *const l[] = {"worker", id, NULL};
		sample(f, "ipopd_worker_busy_ratio", l, h->busy[k].ratio);
	}
	family(f, "ipopd_drops_total", "counter", "Packets dropped, by reason (all workers).");
	const char *r;
	json_t *v;
	json_object_foreach(json_object_get(json_object_get(stats, "total"), "drops"), r, v)
	{
		const char *const l[] = {"reason", r, NULL};
		sample(f, "ipopd_drops_total", l, json_number_value(v));
	}
	family(f, "ipopd_worker_drops_total", "counter", "Packets dropped, by worker and reason.");
	json_array_foreach(ws, i, w)
	{
		snprintf(id, sizeof(id), "%zu", i);
		json_object_foreach(json_object_get(w, "drops"), r, v)
		{
			const char *const l[] = {"worker", id, "reason", r, NULL};
			sample(f, "ipopd_worker_drops_total", l, json_number_value(v));
		}
	}
}

/* Every numeric member of obj as its own counter: PREFIX_<member>_total. */
static void counter_object(FILE *f, const char *prefix, const char *what, const json_t *obj)
{
	const char *k;
	json_t *v;
	char name[128], help[192];
	json_object_foreach((json_t *)obj, k, v)
	{
		if (!json_is_number(v))
			continue;
		snprintf(name, sizeof(name), "%s_%s_total", prefix, k);
		snprintf(help, sizeof(help), "%s: %s.", what, k);
		for (char *p = help; *p; p++)
			if (*p == '_')
				*p = ' ';
		family(f, name, "counter", help);
		sample(f, name, NULL, json_number_value(v));
	}
}

/* ---- signalling, STUN, TURN --------------------------------------------- */

static void disc_metrics(FILE *f, const json_t *x)
{
	static const char *const xs[] = {"disconnected", "connecting", "online", "backoff"};
	bool on = json_is_true(json_object_get(x, "enabled"));
	family(f, "ipopd_xmpp_enabled", "gauge", "1 when XMPP discovery is configured.");
	sample(f, "ipopd_xmpp_enabled", NULL, on);
	if (on) {
		family(f, "ipopd_xmpp_state", "gauge",
		       "The XMPP session's state: 1 for the current one.");
		for (unsigned s = 0; s < 4; s++) {
			const char *const l[] = {"state", xs[s], NULL};
			sample(f, "ipopd_xmpp_state", l, !strcmp(str(x, "state"), xs[s]));
		}
		family(f, "ipopd_xmpp_in_group", "gauge", "1 when joined to the overlay's group.");
		sample(f, "ipopd_xmpp_in_group", NULL,
		       json_is_true(json_object_get(x, "in_group")));
		family(f, "ipopd_xmpp_members", "gauge",
		       "Members of the group seen (this node excluded).");
		sample(f, "ipopd_xmpp_members", NULL,
		       (double)json_array_size(json_object_get(x, "members")));
		counter_object(f, "ipopd_xmpp", "XMPP", json_object_get(x, "counters"));
	}
	counter_object(f, "ipopd_discovery", "Discovery", json_object_get(x, "discovery"));

	size_t i;
	json_t *s;
	family(f, "ipopd_stun_mapped", "gauge", "1 when the STUN server gave us a mapped address.");
	json_array_foreach(json_object_get(x, "stun"), i, s)
	{
		const char *const l[] = {"server", str(s, "server"), NULL};
		sample(f, "ipopd_stun_mapped", l, json_is_string(json_object_get(s, "mapped")));
	}
	family(f, "ipopd_turn_allocation_ready", "gauge", "1 when the TURN allocation is ready.");
	json_array_foreach(json_object_get(x, "turn"), i, s)
	{
		const char *const l[] = {"server", str(s, "server"), NULL};
		sample(f, "ipopd_turn_allocation_ready", l, !strcmp(str(s, "state"), "ready"));
	}
	family(f, "ipopd_turn_permissions", "gauge", "Permissions on the TURN allocation.");
	json_array_foreach(json_object_get(x, "turn"), i, s)
	{
		const char *const l[] = {"server", str(s, "server"), NULL};
		sample(f, "ipopd_turn_permissions", l,
		       (double)json_array_size(json_object_get(s, "permissions")));
	}
	family(f, "ipopd_turn_channels", "gauge", "Channels bound on the TURN allocation.");
	json_array_foreach(json_object_get(x, "turn"), i, s)
	{
		const char *const l[] = {"server", str(s, "server"), NULL};
		sample(f, "ipopd_turn_channels", l,
		       (double)json_array_size(json_object_get(s, "channels")));
	}
}

char *ctl_metrics_render(struct ctl *c, struct ctl_http *h, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	if (!f)
		return NULL;
	json_t *st = ask(c, "status"), *peers = ask(c, "peers"), *links = ask(c, "links");
	json_t *stats = ask(c, "stats"), *x = ask(c, "xmpp");
	status_metrics(f, c, h, st, stats);
	link_metrics(f, peers, links);
	worker_metrics(f, c, h, stats);
	counter_object(f, "ipopd_handshake", "Noise handshakes",
		       json_object_get(stats, "handshake"));
	disc_metrics(f, json_object_get(x, "xmpp"));
	json_decref(st);
	json_decref(peers);
	json_decref(links);
	json_decref(stats);
	json_decref(x);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}
