/* Prometheus text exposition (format 0.0.4) of one instance: every family
 * with HELP and TYPE, names ipopd_<object>_<what>[_unit][_total].
 *
 * The values come from the same JSON answers the management socket gives
 * (ctl_mgmt_respond "status", "peers", "links", "stats", "xmpp"), so
 * /metrics and `ipopctl ... --json` can never disagree about a counter and
 * the metrics need no second walk over the control core's structures. Runs
 * on the control core (http.h).
 */
#pragma once
#include <stddef.h>

struct ctl;
struct ctl_http;

/* The exposition as a malloc'd string (length in *len), NULL on ENOMEM. h
 * holds the listener's own counters and the workers' previous CPU samples
 * (the busy ratio is measured between two scrapes). */
char *ctl_metrics_render(struct ctl *c, struct ctl_http *h, size_t *len);
