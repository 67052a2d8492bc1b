/* Topology simulator (docs/topology.md): N gateways running the real
 * topology manager (control/topology/) over bench/topo_simnet.c's simulated
 * clock and network, through the phases the issue asks for:
 *
 *   bootstrap   N joins spread over the first minute, until the ring converges
 *   steady      links per node vs the caps, greedy routing between random
 *               pairs (delivery, median/p99 hops vs log2 N), bounded floods
 *   events      single joins, graceful leaves and crashes: time to reconverge
 *   on-demand   sustained traffic between unlinked pairs: the direct link,
 *               hops before/after, removal after ttl_on_demand idle
 *   churn       10 % of N joins/leaves/crashes per simulated minute, 10 min
 *   after churn reconvergence, routing and floods again (delivery must be 100 %)
 *   partition   the underlay cut in two halves for 2 min, then healed
 *
 * Usage: topo_sim -n NODES [-s SEED] [-o DIR] [-c CHURN_MINUTES] [-f SETUP_FAIL]
 * Writes DIR/result_N.tsv (metric, value), DIR/hops_N.dat (hop histogram)
 * and DIR/timeline_N.dat (time, members, ring violations, delivery %).
 * bench/topo_sim.sh runs 1,000 and 10,000 nodes and makes the table and plot.
 * Exit status 1 when a converged network does not deliver 100 % of probes or
 * a flood misses or duplicates.
 */
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/topo_simnet.h"

#define MAX_HOPS 64

struct ctx {
	struct topo_sim *s;
	struct ctl_topo_params tp;
	unsigned n;
	FILE *res, *tl;
	uint64_t next_sample;
	int failed;
};

struct probe {
	unsigned tries, delivered, no_route, dead, maxh;
	double median, p99;
	unsigned long hist[MAX_HOPS + 1];
};

static int cmp_u(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	return x < y ? -1 : x > y;
}

static void probe(struct topo_sim *s, unsigned tries, struct probe *p)
{
	unsigned *h = malloc(tries * sizeof(*h)), nh = 0;
	memset(p, 0, sizeof(*p));
	for (unsigned i = 0; i < tries; i++) {
		int a = topo_sim_random_member(s), b = topo_sim_random_member(s);
		unsigned hops;
		if (a < 0 || b < 0 || a == b)
			continue;
		p->tries++;
		switch (topo_sim_route(s, (unsigned)a, (unsigned)b, &hops)) {
		case TOPO_SIM_DELIVERED:
			p->delivered++;
			h[nh++] = hops;
			p->hist[hops > MAX_HOPS ? MAX_HOPS : hops]++;
			break;
		case TOPO_SIM_NO_ROUTE:
			p->no_route++;
			break;
		default:
			p->dead++;
			break;
		}
	}
	if (nh) {
		qsort(h, nh, sizeof(*h), cmp_u);
		p->median = h[nh / 2];
		p->p99 = h[(size_t)((nh - 1) * 0.99)];
		p->maxh = h[nh - 1];
	}
	free(h);
}

static double pct(unsigned a, unsigned b)
{
	return b ? 100.0 * a / b : 0;
}

/* Advances the clock, sampling the timeline every 10 s. */
static void advance(struct ctx *c, uint64_t until)
{
	while (c->next_sample <= until) {
		struct probe p;
		topo_sim_run_until(c->s, c->next_sample);
		probe(c->s, 200, &p);
		fprintf(c->tl, "%.0f %u %lu %.1f\n", c->next_sample / 1000.0,
			topo_sim_members(c->s), topo_sim_violations(c->s),
			pct(p.delivered, p.tries));
		c->next_sample += 10000;
	}
	topo_sim_run_until(c->s, until);
}

/* Seconds from now until no successor link is missing; -1 after limit_s. */
static double converge(struct ctx *c, unsigned limit_s)
{
	uint64_t t0 = topo_sim_now(c->s);
	for (unsigned i = 0; i <= limit_s; i++) {
		if (!topo_sim_violations(c->s))
			return (topo_sim_now(c->s) - t0) / 1000.0;
		if (getenv("TOPO_SIM_DEBUG") && i % 5 == 4) {
			fprintf(stderr, "+%us: %lu missing\n", i + 1, topo_sim_violations(c->s));
			if (i % 20 == 19)
				topo_sim_debug_violations(c->s, stderr, 3);
		}
		advance(c, topo_sim_now(c->s) + 1000);
	}
	return -1;
}

static void put(struct ctx *c, const char *metric, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void put(struct ctx *c, const char *metric, const char *fmt, ...)
{
	va_list ap;
	fprintf(c->res, "%s\t", metric);
	va_start(ap, fmt);
	vfprintf(c->res, fmt, ap);
	va_end(ap);
	fputc('\n', c->res);
	fflush(c->res);
	printf("%-48s ", metric);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void routing(struct ctx *c, const char *when, unsigned tries, bool must)
{
	struct probe p;
	char m[96];
	probe(c->s, tries, &p);
	snprintf(m, sizeof(m), "%s: greedy delivery", when);
	put(c, m, "%.2f %% of %u (no route %u, dead link %u)", pct(p.delivered, p.tries), p.tries,
	    p.no_route, p.dead);
	snprintf(m, sizeof(m), "%s: hops median / p99 / max", when);
	put(c, m, "%.0f / %.0f / %u (log2 N = %.1f)", p.median, p.p99, p.maxh,
	    log2((double)topo_sim_members(c->s)));
	if (must && (p.delivered != p.tries || p.p99 > log2((double)topo_sim_members(c->s))))
		c->failed = 1;
}

static void floods(struct ctx *c, const char *when, unsigned count, bool must)
{
	unsigned min_cov = ~0u, dups = 0, depth = 0, members = topo_sim_members(c->s);
	double sends = 0;
	char m[96];
	for (unsigned i = 0; i < count; i++) {
		struct topo_sim_flood f;
		int src = topo_sim_random_member(c->s);
		if (src < 0)
			break;
		topo_sim_flood(c->s, (unsigned)src, &f);
		if (f.reached < min_cov)
			min_cov = f.reached;
		dups += f.duplicates;
		if (f.depth > depth)
			depth = f.depth;
		sends += f.sends;
	}
	snprintf(m, sizeof(m), "%s: flood coverage (worst of %u)", when, count);
	put(c, m, "%u / %u", min_cov, members);
	snprintf(m, sizeof(m), "%s: flood duplicates / max depth", when);
	put(c, m, "%u / %u (log2 N = %.1f)", dups, depth, log2((double)members));
	if (must && (min_cov != members || dups))
		c->failed = 1;
}

static void links(struct ctx *c, const char *when)
{
	const struct ctl_topo_params *tp = &c->tp;
	unsigned cap = tp->num_successors + tp->num_chords + tp->num_on_demand + tp->num_inbound;
	struct topo_sim_links l;
	char m[96];
	topo_sim_link_stats(c->s, &l);
	snprintf(m, sizeof(m), "%s: up links per node mean / max (cap)", when);
	put(c, m, "%.1f / %u (%u)", l.mean_total, l.max_total, cap);
	snprintf(m, sizeof(m), "%s: max successor / chord / on-demand / inbound", when);
	put(c, m, "%u / %u / %u / %u (caps %u / %u / %u / %u)", l.max_succ, l.max_chord,
	    l.max_on_demand, l.max_inbound, tp->num_successors, tp->num_chords, tp->num_on_demand,
	    tp->num_inbound);
	if (l.max_total > cap || l.max_chord > tp->num_chords ||
	    l.max_on_demand > tp->num_on_demand)
		c->failed = 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Median and max of reconvergence times; a -1 (no convergence) fails. */
static void put_times(struct ctx *c, const char *metric, double *v, unsigned n)
{
	unsigned bad = 0;
	for (unsigned i = 0; i < n; i++)
		bad += v[i] < 0;
	qsort(v, n, sizeof(*v), cmp_d);
	put(c, metric, "median %.0f s, max %.0f s (%u events%s)", v[bad + (n - bad) / 2], v[n - 1],
	    n, bad ? ", some never converged" : "");
	if (bad)
		c->failed = 1;
}

static void events(struct ctx *c)
{
	enum { EVENTS = 10 };
	double t[EVENTS];
	for (unsigned i = 0; i < EVENTS; i++) {
		topo_sim_join(c->s);
		t[i] = converge(c, 600);
		advance(c, topo_sim_now(c->s) + 5000);
	}
	put_times(c, "reconvergence after a join", t, EVENTS);
	for (unsigned i = 0; i < EVENTS; i++) {
		topo_sim_leave(c->s, (unsigned)topo_sim_random_member(c->s), false);
		t[i] = converge(c, 600);
		advance(c, topo_sim_now(c->s) + 5000);
	}
	put_times(c, "reconvergence after a graceful leave", t, EVENTS);
	for (unsigned i = 0; i < EVENTS; i++) {
		topo_sim_leave(c->s, (unsigned)topo_sim_random_member(c->s), true);
		t[i] = converge(c, 600);
		advance(c, topo_sim_now(c->s) + 5000);
	}
	put_times(c, "reconvergence after a crash", t, EVENTS);
}

/* Sustained traffic between unlinked pairs: 20 packets/s each. */
static void on_demand(struct ctx *c)
{
	enum { PAIRS = 10 };
	unsigned a[PAIRS], b[PAIRS], before[PAIRS], np = 0;
	double up_s[PAIRS], gone_s[PAIRS];
	unsigned hops_after = 0, maxh_after = 0;
	uint64_t t0 = topo_sim_now(c->s), stop;
	while (np < PAIRS) {
		int x = topo_sim_random_member(c->s), y = topo_sim_random_member(c->s);
		unsigned h;
		if (x < 0 || y < 0 || x == y || topo_sim_link_up(c->s, (unsigned)x, (unsigned)y))
			continue;
		if (topo_sim_route(c->s, (unsigned)x, (unsigned)y, &h) != TOPO_SIM_DELIVERED ||
		    h < 2)
			continue;
		a[np] = (unsigned)x, b[np] = (unsigned)y, before[np] = h;
		up_s[np] = gone_s[np] = -1;
		np++;
	}
	for (unsigned sec = 1; sec <= 60; sec++) {
		for (unsigned i = 0; i < np; i++)
			topo_sim_traffic(c->s, a[i], b[i], 20);
		advance(c, t0 + sec * 1000);
		for (unsigned i = 0; i < np; i++)
			if (up_s[i] < 0 && topo_sim_link_up(c->s, a[i], b[i]))
				up_s[i] = sec;
	}
	for (unsigned i = 0; i < np; i++) {
		unsigned h = 0;
		topo_sim_route(c->s, a[i], b[i], &h);
		hops_after += h;
		if (h > maxh_after)
			maxh_after = h;
	}
	unsigned sum_before = 0;
	for (unsigned i = 0; i < np; i++)
		sum_before += before[i];
	put_times(c, "on-demand link up after traffic starts", up_s, np);
	put(c, "on-demand: mean hops before -> after", "%.1f -> %.1f (max after %u)",
	    (double)sum_before / np, (double)hops_after / np, maxh_after);
	stop = topo_sim_now(c->s);
	for (unsigned sec = 1; sec <= 600; sec++) {
		advance(c, stop + sec * 1000);
		for (unsigned i = 0; i < np; i++) {
			const struct ctl_topo *t = topo_sim_manager(c->s, a[i]);
			const struct ctl_topo_link *l =
			    t ? ctl_topo_link_find(t, &topo_sim_manager(c->s, b[i])->self) : NULL;
			if (gone_s[i] < 0 && (!l || !(l->roles & CTL_TOPO_ON_DEMAND)))
				gone_s[i] = sec;
		}
		bool all = true;
		for (unsigned i = 0; i < np; i++)
			all = all && gone_s[i] >= 0;
		if (all)
			break;
	}
	put_times(c, "on-demand role dropped after traffic stops", gone_s, np);
}

static void churn(struct ctx *c, unsigned minutes)
{
	unsigned per_min = c->n / 10, joins = 0, leaves = 0, crashes = 0;
	for (unsigned m = 0; m < minutes; m++) {
		uint64_t base = topo_sim_now(c->s);
		uint64_t *at = malloc(per_min * sizeof(*at));
		for (unsigned i = 0; i < per_min; i++)
			at[i] = base + topo_sim_rand(c->s) % 60000;
		for (unsigned i = 0; i < per_min; i++)
			for (unsigned j = i + 1; j < per_min; j++)
				if (at[j] < at[i]) {
					uint64_t x = at[i];
					at[i] = at[j], at[j] = x;
				}
		for (unsigned i = 0; i < per_min; i++) {
			uint64_t r = topo_sim_rand(c->s) % 4;
			advance(c, at[i]);
			if (r < 2) {
				topo_sim_join(c->s), joins++;
			} else {
				int v = topo_sim_random_member(c->s);
				if (v >= 0)
					topo_sim_leave(c->s, (unsigned)v, r == 3),
					    r == 3 ? crashes++ : leaves++;
			}
		}
		free(at);
		advance(c, base + 60000);
		struct probe p;
		probe(c->s, 2000, &p);
		printf("  churn minute %u: %u members, delivery %.2f %%, violations %lu\n", m + 1,
		       topo_sim_members(c->s), pct(p.delivered, p.tries),
		       topo_sim_violations(c->s));
	}
	put(c, "churn: events (joins / leaves / crashes)", "%u / %u / %u over %u min", joins,
	    leaves, crashes, minutes);
}

int main(int argc, char **argv)
{
	struct ctx c = {0};
	struct topo_sim_params p;
	const char *dir = ".";
	unsigned churn_min = 10, seed = 1;
	char path[512];
	int opt;
	double t;

	double fail = -1;
	while ((opt = getopt(argc, argv, "n:s:o:c:f:")) != -1) {
		switch (opt) {
		case 'n':
			c.n = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 's':
			seed = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'o':
			dir = optarg;
			break;
		case 'c':
			churn_min = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'f':
			fail = strtod(optarg, NULL);
			break;
		default:
			fprintf(stderr,
				"usage: %s -n NODES [-s SEED] [-o DIR] [-c CHURN_MINUTES] [-f "
				"SETUP_FAIL]\n",
				argv[0]);
			return 2;
		}
	}
	if (c.n < 8) {
		fprintf(stderr, "%s: -n NODES (at least 8) is required\n", argv[0]);
		return 2;
	}
	topo_sim_params_default(&p, 2 * c.n + 64);
	p.seed = seed;
	if (fail >= 0 && fail < 1)
		p.setup_fail = fail;
	c.tp = p.tp;
	c.s = topo_sim_create(&p);
	snprintf(path, sizeof(path), "%s/result_%u.tsv", dir, c.n);
	c.res = fopen(path, "w");
	snprintf(path, sizeof(path), "%s/timeline_%u.dat", dir, c.n);
	c.tl = fopen(path, "w");
	if (!c.s || !c.res || !c.tl) {
		fprintf(stderr, "%s: %s: %s\n", argv[0], path, strerror(errno));
		return 2;
	}
	c.next_sample = 10000;
	fprintf(c.tl, "# time_s members missing_successor_links delivery_pct\n");

	/* bootstrap: N joins at random times over the first minute */
	{
		uint64_t *at = malloc(c.n * sizeof(*at));
		for (unsigned i = 0; i < c.n; i++)
			at[i] = topo_sim_rand(c.s) % 60000;
		qsort(at, c.n, sizeof(*at), cmp_u64);
		for (unsigned i = 0; i < c.n; i++) {
			advance(&c, at[i]);
			topo_sim_join(c.s);
		}
		free(at);
	}
	put(&c, "nodes", "%u", c.n);
	put(&c, "model: signalling / link setup / setup failures",
	    "%llu ms / %llu-%llu ms / %.0f %% (retried after backoff)",
	    (unsigned long long)p.signal_ms, (unsigned long long)p.setup_min_ms,
	    (unsigned long long)p.setup_max_ms, 100 * p.setup_fail);
	t = converge(&c, 900);
	put(&c, "bootstrap: converged after the last join", "%.0f s", t);
	if (t < 0)
		c.failed = 1;
	advance(&c, topo_sim_now(c.s) + 60000);
	links(&c, "steady");
	routing(&c, "steady", 10000, true);
	floods(&c, "steady", 50, true);
	events(&c);
	on_demand(&c);
	churn(&c, churn_min);
	routing(&c, "end of churn (not converged)", 10000, false);
	t = converge(&c, 900);
	put(&c, "after churn: converged", "%.0f s after the last event", t);
	if (t < 0)
		c.failed = 1;
	links(&c, "after churn");
	routing(&c, "after churn", 10000, true);
	floods(&c, "after churn", 50, true);
	topo_sim_partition(c.s, true);
	advance(&c, topo_sim_now(c.s) + 120000);
	topo_sim_partition(c.s, false);
	t = converge(&c, 900);
	put(&c, "partition of 2 min healed: converged", "%.0f s after the heal", t);
	if (t < 0)
		c.failed = 1;
	routing(&c, "after the partition", 10000, true);

	/* the hop histogram of a last, converged probe */
	{
		struct probe pr;
		FILE *h;
		snprintf(path, sizeof(path), "%s/hops_%u.dat", dir, c.n);
		h = fopen(path, "w");
		probe(c.s, 20000, &pr);
		for (unsigned i = 0; h && i <= MAX_HOPS; i++)
			if (pr.hist[i])
				fprintf(h, "%u %.4f\n", i, 100.0 * pr.hist[i] / pr.delivered);
		if (h)
			fclose(h);
	}
	put(&c, "simulated time", "%.0f s", topo_sim_now(c.s) / 1000.0);
	put(&c, "verdict", "%s", c.failed ? "FAIL" : "pass");
	fclose(c.res);
	fclose(c.tl);
	topo_sim_destroy(c.s);
	return c.failed;
}
