/* Cycles per packet of the whole pipeline (dp_pipeline_from_host: classify,
 * route, group by SA, ESP encrypt; dp_pipeline_from_net: demux, SPI lookup,
 * replay, decrypt, source check, Ethernet header) by burst and packet size,
 * next to the raw ipsec-mb cost of the same AES-256-GCM work measured in the
 * same run: the same buffers, lengths and burst through IMB_SUBMIT_BURST with
 * nothing around it. overhead = pipeline / raw - 1 (issue #9's target: at
 * most 50 % at 1400 bytes).
 *
 * TSC cycles around each call (no PMU in this VM); the figure is the median
 * over every call of REPS runs of PKTS packets, divided by the burst: a call
 * lasts microseconds, so the median ignores the calls a busy machine
 * preempted (a median of per-run totals would not). The packets are rebuilt
 * untimed before every call. Prints a markdown table. Not a test: exits 0
 * once the table is printed.
 *
 *   build/bench/bench_pipeline            (or: meson test -C build --benchmark pipeline)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <x86intrin.h>

#include "dataplane/esp.h"
#include "dataplane/l3.h"
#include "dataplane/pipeline.h"
#include "dataplane/sa.h"
#include "bench/bench_tsc.h"

#define REPS 9
#define PKTS 20000u

static const unsigned sizes[] = {64, 512, 1400};
static const unsigned bursts[] = {1, 8, 32};

static const uint8_t host_mac[6] = {2, 0, 0, 0, 0, 1}, router_mac[6] = {2, 0, 0, 0, 0, 0xfe};

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_pipeline: %s\n", what);
	exit(1);
}

static IMB_MGR *mgr;
static struct dp_pool pool;
static struct dp_counters counters;
static struct dp_sa *sa_out, *sa_in, *peer_out;
static struct dp_link link0 = {.id = 1};
static struct dp_table *table;

/* An Ethernet + IPv4/UDP frame of `ip_len` IP bytes from our host to 10.9.0.2. */
static void host_frame(struct dp_pkt *p, unsigned ip_len)
{
	uint8_t *f = p->data;
	memcpy(f, router_mac, 6);
	memcpy(f + 6, host_mac, 6);
	f[12] = 0x08, f[13] = 0;
	uint8_t *ip = f + 14;
	memset(ip, 0, 28);
	ip[0] = 0x45, ip[2] = (uint8_t)(ip_len >> 8), ip[3] = (uint8_t)ip_len, ip[8] = 64;
	ip[9] = 17;
	ip[12] = 10, ip[13] = 9, ip[14] = 0, ip[15] = 1;
	ip[16] = 10, ip[17] = 9, ip[18] = 0, ip[19] = 2;
	memset(ip + 28, 0x5a, ip_len - 28);
	p->len = (uint16_t)(14 + ip_len);
}

/* An ESP packet from the peer (10.9.0.2 -> 10.9.0.1 inside), sealed untimed. */
static void net_packet(struct dp_pkt *p, unsigned ip_len)
{
	host_frame(p, ip_len);
	uint8_t *ip = p->data + 14;
	ip[15] = 2, ip[19] = 1;
	p->data += 14;
	p->len -= 14;
	p->next_hdr = DP_ESP_NH_IPV4;
	p->sa = peer_out;
	dp_esp_encrypt_burst(mgr, &p, 1);
	if (p->drop)
		die("seal");
	p->sa = NULL;
	p->peer.family = AF_INET;
	p->peer.addr[10] = p->peer.addr[11] = 0xff;
	p->peer.addr[12] = 198, p->peer.addr[13] = 18, p->peer.addr[15] = 2;
	p->peer.port = 5800;
}

static void setup(void)
{
	uint8_t k1[DP_SA_KEYMAT_LEN], k2[DP_SA_KEYMAT_LEN];
	for (unsigned i = 0; i < DP_SA_KEYMAT_LEN; i++)
		k1[i] = (uint8_t)(i + 1), k2[i] = (uint8_t)(3 * i + 7);
	mgr = dp_crypto_mgr_create();
	if (!mgr || dp_pool_init(&pool, 1024) != 0)
		die("init");
	sa_out = dp_sa_create(mgr, 0x80000001u, k1, 1);
	sa_in = dp_sa_create(mgr, 0x80000002u, k2, 1);
	peer_out = dp_sa_create(mgr, 0x80000002u, k2, 99);
	if (!sa_out || !sa_in || !peer_out)
		die("sa");
	struct dp_table_params prm = {.mode = DP_MODE_L3, .mtu = DP_MTU_MAX};
	memcpy(prm.host_mac, host_mac, 6);
	memcpy(prm.router_mac, router_mac, 6);
	prm.vip4 = htonl(0x0a090001);
	table = dp_table_create(&prm, 1, 1, 1, 0);
	if (!table)
		die("table");
	struct net_endpoint ep = {
	    .addr = {[10] = 0xff, 0xff, 198, 18, 0, 2}, .port = 5800, .family = AF_INET};
	dp_table_set_link(table, 0, &link0, sa_out, &ep);
	if (dp_table_add_spi(table, sa_in, 0))
		die("spi");
	struct net_prefix r = {.family = AF_INET, .len = 32};
	r.addr[10] = r.addr[11] = 0xff, r.addr[12] = 10, r.addr[13] = 9, r.addr[15] = 2;
	if (dp_table_add_route(table, &r, 0))
		die("route");
	dp_table_seal(table);
}

/* The raw cost: the GCM jobs of n ESP packets of `text` bytes, nothing else. */
static void raw_burst(struct dp_pkt **v, unsigned n, unsigned text, IMB_CIPHER_DIRECTION dir)
{
	static uint8_t tags[64][16], ivs[64][12];
	IMB_JOB *jobs[64];
	const struct dp_sa *sa = dir == IMB_DIR_ENCRYPT ? sa_out : sa_in;
	unsigned got = IMB_GET_NEXT_BURST(mgr, n, jobs);
	if (got < n)
		die("burst");
	for (unsigned i = 0; i < n; i++) {
		IMB_JOB *j = jobs[i];
		memcpy(ivs[i], sa->salt, 4);
		memset(ivs[i] + 4, (int)i, 8);
		j->cipher_mode = IMB_CIPHER_GCM;
		j->hash_alg = IMB_AUTH_AES_GMAC;
		j->cipher_direction = dir;
		j->chain_order =
		    dir == IMB_DIR_ENCRYPT ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
		j->enc_keys = &sa->key;
		j->dec_keys = &sa->key;
		j->key_len_in_bytes = IMB_KEY_256_BYTES;
		j->src = v[i]->data;
		j->dst = v[i]->data + 16;
		j->cipher_start_src_offset_in_bytes = 16;
		j->hash_start_src_offset_in_bytes = 16;
		j->msg_len_to_cipher_in_bytes = text;
		j->msg_len_to_hash_in_bytes = text;
		j->iv = ivs[i];
		j->iv_len_in_bytes = 12;
		j->u.GCM.aad = v[i]->data;
		j->u.GCM.aad_len_in_bytes = 8;
		j->auth_tag_output = tags[i];
		j->auth_tag_output_len_in_bytes = 16;
	}
	unsigned c = IMB_SUBMIT_BURST_NOCHECK(mgr, n, jobs);
	if (c < n)
		IMB_FLUSH_BURST(mgr, n - c, jobs + c);
}

enum what { ENC_PIPE, ENC_RAW, DEC_PIPE, DEC_RAW };

static double run(enum what w, unsigned size, unsigned burst)
{
	static double per_call[REPS * PKTS];
	unsigned ncalls = 0;
	struct dp_pkt *v[64];
	static struct dp_burst out;
	struct dp_ctx ctx = {.table = table, .mgr = mgr, .pool = &pool, .counters = &counters};
	unsigned text = size + 2 + ((4 - ((size + 2) & 3)) & 3);

	for (unsigned r = 0; r < REPS; r++) {
		unsigned done = 0;
		while (done < PKTS) {
			for (unsigned i = 0; i < burst; i++) {
				v[i] = dp_pool_get(&pool);
				if (w == DEC_PIPE || w == DEC_RAW)
					net_packet(v[i], size);
				else
					host_frame(v[i], size);
			}
			dp_burst_clear(&out);
			uint64_t t0 = tsc_start();
			switch (w) {
			case ENC_PIPE:
				dp_pipeline_from_host(&ctx, v, burst, &out);
				break;
			case DEC_PIPE:
				dp_pipeline_from_net(&ctx, v, burst, &out);
				break;
			case ENC_RAW:
			case DEC_RAW:
				raw_burst(v, burst, text,
					  w == ENC_RAW ? IMB_DIR_ENCRYPT : IMB_DIR_DECRYPT);
				break;
			}
			per_call[ncalls++] = (double)(tsc_stop() - t0) / burst;
			if (w == ENC_PIPE || w == DEC_PIPE) {
				unsigned got = w == ENC_PIPE ? out.n_net : out.n_host;
				if (got != burst)
					die("packets dropped in the pipeline");
				dp_pool_put_bulk(&pool, w == ENC_PIPE ? out.net : out.host, got);
			} else {
				dp_pool_put_bulk(&pool, v, burst);
			}
			done += burst;
		}
	}
	return median(per_call, ncalls);
}

int main(void)
{
	setup();
	printf("| direction | bytes | burst | pipeline cycles/pkt | raw ipsec-mb cycles/pkt | "
	       "overhead |\n|---|---|---|---|---|---|\n");
	for (unsigned d = 0; d < 2; d++)
		for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
			for (unsigned b = 0; b < sizeof(bursts) / sizeof(bursts[0]); b++) {
				double pipe = run(d ? DEC_PIPE : ENC_PIPE, sizes[s], bursts[b]);
				double raw = run(d ? DEC_RAW : ENC_RAW, sizes[s], bursts[b]);
				printf("| %s | %u | %u | %.0f | %.0f | %+.0f %% |\n",
				       d ? "decrypt" : "encrypt", sizes[s], bursts[b], pipe, raw,
				       (pipe / raw - 1) * 100);
			}
	return 0;
}
