/* The live overlay page: static assets compiled into the binary
 * (control/mgmt/www/, embedded at build time by embed.py) and the JSON the
 * page polls (/api/overlay), built from the management socket's answers on
 * the control core (http.h). */
#pragma once
#include <stddef.h>

struct ctl;

struct ctl_page_asset {
	const char *path; /* URL path, "/" for index.html */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
};

/* NULL when url names no embedded asset. */
const struct ctl_page_asset *ctl_page_asset_find(const char *url);
/* {"status":..., "peers":[...], "links":[...], "stats":{...}, "xmpp":{...}}
 * as a malloc'd string; NULL on ENOMEM. */
char *ctl_page_overlay_json(struct ctl *c);
