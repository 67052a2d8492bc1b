/* `ipopctl topology`: the structured overlay as this node sees it
 * (control/mgmt/topology.h): a table, or with --svg FILE a drawing of the
 * ring — members as points on a circle at the angle of their node id, ours
 * highlighted, our links as chords coloured by kind. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/ipopctl.h"

static const char *s_or(const json_t *o, const char *k, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : dflt;
}

static long long i_of(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* "successor+chord" into buf. */
static const char *kinds_str(const json_t *l, char *buf, size_t len)
{
	size_t i, n = 0;
	json_t *k;
	buf[0] = 0;
	json_array_foreach(json_object_get(l, "kinds"), i, k)
	{
		int w = snprintf(buf + n, len - n, "%s%s", i ? "+" : "", json_string_value(k));
		if (w < 0 || (size_t)w >= len - n)
			break;
		n += (size_t)w;
	}
	return buf;
}

static void short_id(const char *hex, char *out)
{
	snprintf(out, 9, "%s", hex ? hex : "-");
}

void ipopctl_print_topology(const json_t *o)
{
	const json_t *t = json_object_get(o, "topology");
	if (!json_is_true(json_object_get(t, "enabled"))) {
		printf("topology: off (no CFx.xmpp_host: configured peers only)\n");
		return;
	}
	const json_t *pred = json_object_get(t, "predecessor");
	const json_t *succ = json_object_get(t, "successor");
	const json_t *caps = json_object_get(t, "caps");
	const json_t *cnt = json_object_get(t, "counts");
	printf("node %s  %s  multihop %s\n", s_or(t, "node_id", "?"), s_or(t, "ip4", "-"),
	       json_is_true(json_object_get(t, "multihop")) ? "on" : "off");
	printf("ring: %lld other members, predecessor %s (%.8s), successor %s (%.8s)\n",
	       i_of(t, "members_n"), s_or(pred, "ip4", "-"), s_or(pred, "node_id", "-"),
	       s_or(succ, "ip4", "-"), s_or(succ, "node_id", "-"));
	printf("links up: %lld successor/%lld, %lld chord/%lld, %lld on-demand/%lld, %lld "
	       "inbound/%lld; %lld up, %lld pending\n",
	       i_of(cnt, "successor"), i_of(caps, "num_successors"), i_of(cnt, "chord"),
	       i_of(caps, "num_chords"), i_of(cnt, "on_demand"), i_of(caps, "num_on_demand"),
	       i_of(cnt, "inbound"), i_of(caps, "num_inbound"), i_of(cnt, "up"),
	       i_of(cnt, "pending"));
	printf("\n%-20s %-16s %-9s %-26s %-8s %8s %10s %10s\n", "PEER", "ADDRESS", "NODE", "KINDS",
	       "STATE", "AGE", "PACKETS", "RX");
	size_t i;
	json_t *l;
	json_array_foreach(json_object_get(t, "links"), i, l)
	{
		char kinds[96], id[9];
		short_id(json_string_value(json_object_get(l, "node_id")), id);
		printf("%-20s %-16s %-9s %-26s %-8s %7llds %10lld %10lld\n", s_or(l, "peer", "-"),
		       s_or(l, "ip4", "-"), id, kinds_str(l, kinds, sizeof(kinds)),
		       s_or(l, "state", "?"), i_of(l, "age_s"), i_of(l, "packets"),
		       i_of(l, "rx_packets"));
	}
	const json_t *c = json_object_get(t, "counters");
	const char *k;
	json_t *v;
	printf("\ncounters:");
	json_object_foreach((json_t *)c, k, v) printf(" %s %lld", k, json_integer_value(v));
	printf("\n");
}

/* The angle of a node id on the ring: its top 48 bits as a fraction of a turn. */
static double angle_of(const char *hex)
{
	char top[13];
	if (!hex || strlen(hex) < 12)
		return 0;
	memcpy(top, hex, 12);
	top[12] = 0;
	return (double)strtoull(top, NULL, 16) / 281474976710656.0 * 2 * M_PI;
}

static void point(const char *hex, double *x, double *y)
{
	double a = angle_of(hex);
	*x = 300 + 240 * sin(a); /* 0 at the top, clockwise: increasing id */
	*y = 300 - 240 * cos(a);
}

static const char *colour(const json_t *l)
{
	char kinds[96];
	kinds_str(l, kinds, sizeof(kinds));
	if (strstr(kinds, "successor"))
		return "#1f77b4";
	if (strstr(kinds, "chord"))
		return "#2ca02c";
	if (strstr(kinds, "on-demand"))
		return "#d62728";
	if (strstr(kinds, "inbound"))
		return "#9467bd";
	return "#7f7f7f";
}

int ipopctl_write_topology_svg(const json_t *o, const char *path)
{
	const json_t *t = json_object_get(o, "topology");
	if (!json_is_true(json_object_get(t, "enabled"))) {
		fprintf(stderr, "ipopctl: no topology manager runs in this instance\n");
		return -ENOENT;
	}
	FILE *f = fopen(path, "w");
	if (!f) {
		int e = errno;
		fprintf(stderr, "ipopctl: %s: %s\n", path, strerror(e));
		return -e;
	}
	const char *self = s_or(t, "node_id", "");
	double sx, sy, x, y;
	size_t i;
	json_t *m, *l;
	point(self, &sx, &sy);
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" height=\"640\" "
		   "font-family=\"sans-serif\" font-size=\"10\">\n");
	fprintf(f, "<rect width=\"600\" height=\"640\" fill=\"white\"/>\n");
	fprintf(f, "<circle cx=\"300\" cy=\"300\" r=\"240\" fill=\"none\" stroke=\"#ccc\"/>\n");
	json_array_foreach(json_object_get(t, "links"), i, l)
	{
		const char *id = json_string_value(json_object_get(l, "node_id"));
		if (!id)
			continue; /* static peers have no place on the ring */
		point(id, &x, &y);
		fprintf(f,
			"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
			"stroke-width=\"2\"%s/>\n",
			sx, sy, x, y, colour(l),
			strcmp(s_or(l, "state", ""), "up") ? " stroke-dasharray=\"4 3\"" : "");
	}
	json_array_foreach(json_object_get(t, "members"), i, m)
	{
		const char *id = s_or(m, "node_id", "");
		bool me = strcmp(id, self) == 0;
		point(id, &x, &y);
		fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%d\" fill=\"%s\"/>\n", x, y,
			me ? 7 : 4, me ? "#ff7f0e" : "#333");
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
			300 + 262 * (x - 300) / 240, 303 + 262 * (y - 300) / 240,
			s_or(m, "ip4", ""));
	}
	static const char *const legend[][2] = {{"successor", "#1f77b4"},
						{"chord", "#2ca02c"},
						{"on-demand", "#d62728"},
						{"inbound", "#9467bd"}};
	for (unsigned k = 0; k < 4; k++)
		fprintf(f,
			"<line x1=\"%u\" y1=\"615\" x2=\"%u\" y2=\"615\" stroke=\"%s\" "
			"stroke-width=\"3\"/><text x=\"%u\" y=\"619\">%s</text>\n",
			20 + 140 * k, 45 + 140 * k, legend[k][1], 50 + 140 * k, legend[k][0]);
	fprintf(f, "<text x=\"20\" y=\"595\">%s %s: %lld members; dashed: not up</text>\n",
		s_or(t, "ip4", ""), self, i_of(t, "members_n") + 1);
	fprintf(f, "</svg>\n");
	if (fclose(f)) {
		int e = errno;
		fprintf(stderr, "ipopctl: %s: %s\n", path, strerror(e));
		return -e;
	}
	return 0;
}
