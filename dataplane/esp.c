/* ESP encapsulation and decapsulation with AES-256-GCM, in place, on bursts.
 *
 * Both directions work in three steps: a cheap per-packet pass that validates
 * lengths and builds headers (encrypt: one atomic sequence allocation per run
 * of packets sharing an SA; decrypt: replay pre-check), one hand-over of up to
 * GCM_BATCH jobs to ipsec-mb's burst API, and a pass that finishes each packet
 * in order (decrypt: ICV compare, replay update, trailer) and adds to the SA
 * counters once per run. Nothing here allocates, locks or logs.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "dataplane/esp.h"
#include "dataplane/sa.h"

#define ESP_PREFIX_LEN (DP_ESP_HDR_LEN + DP_ESP_IV_LEN)
#define GCM_NONCE_LEN  (DP_SA_SALT_LEN + DP_ESP_IV_LEN)
#define GCM_AAD_LEN    DP_ESP_HDR_LEN /* SPI || seq, 32-bit sequence numbers */
/* Jobs handed to ipsec-mb at once; the library takes up to IMB_MAX_BURST_SIZE. */
#define GCM_BATCH 64

_Static_assert(GCM_BATCH <= IMB_MAX_BURST_SIZE, "ipsec-mb burst limit");

/* One burst worth of GCM work. Lives on the worker's stack (~3.5 KiB). */
struct gcm_batch {
	unsigned n;
	struct dp_pkt *pkt[GCM_BATCH];
	uint8_t *tag[GCM_BATCH]; /* where the library writes the tag */
	uint16_t text_len[GCM_BATCH];
	bool ok[GCM_BATCH];
	uint8_t nonce[GCM_BATCH][GCM_NONCE_LEN];
	uint8_t tag_out[GCM_BATCH][DP_ESP_ICV_LEN] __attribute__((aligned(16)));
};

/* Per-run accumulator so SA counters see one atomic add per run, not per packet. */
struct sa_tally {
	struct dp_sa *sa;
	uint64_t packets, bytes;
};

static inline void tally_flush(struct sa_tally *t)
{
	if (t->sa && t->packets) {
		atomic_fetch_add_explicit(&t->sa->packets, t->packets, memory_order_relaxed);
		atomic_fetch_add_explicit(&t->sa->bytes, t->bytes, memory_order_relaxed);
	}
	t->packets = t->bytes = 0;
}

static inline void tally_add(struct sa_tally *t, struct dp_sa *sa, uint64_t bytes)
{
	if (t->sa != sa) {
		tally_flush(t);
		t->sa = sa;
	}
	t->packets++;
	t->bytes += bytes;
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, v >> 32);
	put_be32(p + 4, (uint32_t)v);
}

/* No early exit: the time taken must not tell how many tag bytes matched. */
static inline bool tag_equal(const uint8_t *a, const uint8_t *b)
{
	uint8_t diff = 0;

	for (unsigned i = 0; i < DP_ESP_ICV_LEN; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

static inline void fill_job(IMB_JOB *job, const struct gcm_batch *b, unsigned i,
			    IMB_CIPHER_DIRECTION dir)
{
	struct dp_pkt *p = b->pkt[i];
	const struct dp_sa *sa = p->sa;

	job->cipher_mode = IMB_CIPHER_GCM;
	job->hash_alg = IMB_AUTH_AES_GMAC;
	job->cipher_direction = dir;
	job->chain_order = dir == IMB_DIR_ENCRYPT ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
	job->enc_keys = &sa->key;
	job->dec_keys = &sa->key;
	job->key_len_in_bytes = IMB_KEY_256_BYTES;
	job->src = p->data + ESP_PREFIX_LEN;
	job->dst = p->data + ESP_PREFIX_LEN;
	job->cipher_start_src_offset_in_bytes = 0;
	job->msg_len_to_cipher_in_bytes = b->text_len[i];
	job->hash_start_src_offset_in_bytes = 0;
	job->msg_len_to_hash_in_bytes = b->text_len[i];
	job->iv = b->nonce[i];
	job->iv_len_in_bytes = GCM_NONCE_LEN;
	job->u.GCM.aad = p->data; /* SPI || seq as they sit on the wire */
	job->u.GCM.aad_len_in_bytes = GCM_AAD_LEN;
	job->auth_tag_output = b->tag[i];
	job->auth_tag_output_len_in_bytes = DP_ESP_ICV_LEN;
	job->user_data2 = (void *)(uintptr_t)i;
}

static inline void mark_done(struct gcm_batch *b, IMB_JOB **jobs, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		unsigned i = (unsigned)(uintptr_t)jobs[k]->user_data2;
		b->ok[i] = jobs[k]->status == IMB_STATUS_COMPLETED;
	}
}

/* Hands the whole batch to ipsec-mb and waits for every job. Jobs the
 * library did not complete stay ok = false. */
static void gcm_batch_run(IMB_MGR *mgr, struct gcm_batch *b, IMB_CIPHER_DIRECTION dir)
{
	IMB_JOB *jobs[GCM_BATCH];
	unsigned done = 0, stalls = 0;

	memset(b->ok, 0, sizeof(b->ok[0]) * b->n);
	while (done < b->n) {
		unsigned got = IMB_GET_NEXT_BURST(mgr, b->n - done, jobs);
		if (unlikely(got == 0)) {
			/* Queue still holds jobs of an earlier caller: complete them
			 * to make room (their owner already gave up on them). */
			IMB_JOB *old[GCM_BATCH];
			if (IMB_FLUSH_BURST(mgr, GCM_BATCH, old) == 0 && ++stalls > 2)
				return;
			continue;
		}
		for (unsigned k = 0; k < got; k++)
			fill_job(jobs[k], b, done + k, dir);
		unsigned c = IMB_SUBMIT_BURST_NOCHECK(mgr, got, jobs);
		mark_done(b, jobs, c);
		while (c < got) {
			unsigned f = IMB_FLUSH_BURST(mgr, got - c, jobs + c);
			if (unlikely(f == 0))
				break;
			mark_done(b, jobs + c, f);
			c += f;
		}
		done += got;
	}
}

/* Builds header, IV, padding and trailer around the inner packet. */
static inline void encap_one(struct dp_pkt *p, uint64_t seq, struct gcm_batch *b)
{
	struct dp_sa *sa = p->sa;
	unsigned inner = p->len;
	unsigned pad = (4 - ((inner + DP_ESP_TRL_LEN) & 3)) & 3;
	unsigned text = inner + pad + DP_ESP_TRL_LEN;
	uint8_t *tail = p->data + inner;
	unsigned i = b->n++;

	for (unsigned k = 0; k < pad; k++)
		tail[k] = (uint8_t)(k + 1);
	tail[pad] = (uint8_t)pad;
	tail[pad + 1] = p->next_hdr;

	p->data -= ESP_PREFIX_LEN;
	put_be32(p->data, sa->spi);
	put_be32(p->data + 4, (uint32_t)seq);
	put_be64(p->data + DP_ESP_HDR_LEN, seq);
	p->len = (uint16_t)(ESP_PREFIX_LEN + text + DP_ESP_ICV_LEN);

	b->pkt[i] = p;
	b->text_len[i] = (uint16_t)text;
	b->tag[i] = p->data + ESP_PREFIX_LEN + text;
	memcpy(b->nonce[i], sa->salt, DP_SA_SALT_LEN);
	memcpy(b->nonce[i] + DP_SA_SALT_LEN, p->data + DP_ESP_HDR_LEN, DP_ESP_IV_LEN);
}

static inline bool encap_fits(const struct dp_pkt *p)
{
	unsigned pad = (4 - ((p->len + DP_ESP_TRL_LEN) & 3)) & 3;
	return dp_pkt_headroom(p) >= ESP_PREFIX_LEN &&
	       dp_pkt_tailroom(p) >= pad + DP_ESP_TRL_LEN + DP_ESP_ICV_LEN;
}

static void encrypt_finish(struct gcm_batch *b)
{
	for (unsigned i = 0; i < b->n; i++)
		if (unlikely(!b->ok[i]))
			b->pkt[i]->drop = DP_DROP_AUTH; /* library refused the job */
	b->n = 0;
}

void dp_esp_encrypt_burst(IMB_MGR *mgr, struct dp_pkt **pkts, unsigned n)
{
	struct gcm_batch b;
	unsigned i = 0;

	b.n = 0;
	while (i < n) {
		struct dp_pkt *first = pkts[i];
		struct dp_sa *sa = first->sa;
		unsigned end = i, want = 0;
		uint64_t bytes = 0;

		if (first->drop != DP_DROP_NONE) {
			i++;
			continue;
		}
		if (unlikely(!sa)) {
			first->drop = DP_DROP_LINK_DOWN;
			i++;
			continue;
		}
		/* The run: following packets with the same SA; packets dropped
		 * earlier neither end it nor take a sequence number. */
		for (; end < n && (pkts[end]->sa == sa || pkts[end]->drop != DP_DROP_NONE); end++) {
			struct dp_pkt *p = pkts[end];
			if (p->drop != DP_DROP_NONE)
				continue;
			if (unlikely(!encap_fits(p))) {
				p->drop = DP_DROP_TOO_BIG;
				continue;
			}
			want++;
		}

		uint64_t seq = 0;
		uint64_t limit = atomic_load_explicit(&sa->seq_limit, memory_order_acquire);
		if (want)
			seq = atomic_fetch_add_explicit(&sa->seq, want, memory_order_relaxed);
		unsigned packets = 0;
		for (unsigned k = i; k < end; k++) {
			struct dp_pkt *p = pkts[k];
			if (p->drop != DP_DROP_NONE)
				continue;
			if (unlikely(++seq > limit)) {
				p->drop = DP_DROP_SEQ_EXHAUSTED;
				continue;
			}
			packets++;
			bytes += p->len;
			encap_one(p, seq, &b);
			if (b.n == GCM_BATCH) {
				gcm_batch_run(mgr, &b, IMB_DIR_ENCRYPT);
				encrypt_finish(&b);
			}
		}
		if (packets) {
			atomic_fetch_add_explicit(&sa->packets, packets, memory_order_relaxed);
			atomic_fetch_add_explicit(&sa->bytes, bytes, memory_order_relaxed);
		}
		i = end;
	}
	if (b.n) {
		gcm_batch_run(mgr, &b, IMB_DIR_ENCRYPT);
		encrypt_finish(&b);
	}
}

/* After the library ran: authenticate, update the window, strip the trailer. */
static void decrypt_finish(struct gcm_batch *b, struct sa_tally *t)
{
	for (unsigned i = 0; i < b->n; i++) {
		struct dp_pkt *p = b->pkt[i];
		struct dp_sa *sa = p->sa;
		unsigned text = b->text_len[i];
		uint8_t *plain = p->data + ESP_PREFIX_LEN;

		if (unlikely(!b->ok[i] || !tag_equal(b->tag_out[i], plain + text))) {
			p->drop = DP_DROP_AUTH;
			atomic_fetch_add_explicit(&sa->auth_fail, 1, memory_order_relaxed);
			continue;
		}
		if (unlikely(dp_replay_update(&sa->replay, dp_esp_seq(p->data)) != 0)) {
			p->drop = DP_DROP_REPLAY;
			atomic_fetch_add_explicit(&sa->replays, 1, memory_order_relaxed);
			continue;
		}

		unsigned pad = plain[text - 2];
		if (unlikely(pad > text - DP_ESP_TRL_LEN)) {
			p->drop = DP_DROP_BAD_TRAILER;
			continue;
		}
		unsigned inner = text - DP_ESP_TRL_LEN - pad;
		uint8_t bad = 0;
		for (unsigned k = 0; k < pad; k++)
			bad |= plain[inner + k] ^ (uint8_t)(k + 1);
		if (unlikely(bad)) {
			p->drop = DP_DROP_BAD_TRAILER;
			continue;
		}

		p->next_hdr = plain[text - 1];
		p->data = plain;
		p->len = (uint16_t)inner;
		tally_add(t, sa, inner);
	}
	b->n = 0;
}

void dp_esp_decrypt_burst(IMB_MGR *mgr, struct dp_pkt **pkts, unsigned n)
{
	struct gcm_batch b;
	struct sa_tally t = {0};

	b.n = 0;
	for (unsigned i = 0; i < n; i++) {
		struct dp_pkt *p = pkts[i];
		struct dp_sa *sa = p->sa;

		if (p->drop != DP_DROP_NONE)
			continue;
		if (unlikely(!sa)) {
			p->drop = DP_DROP_UNKNOWN_SPI;
			continue;
		}
		if (unlikely(p->len < DP_ESP_MIN_LEN ||
			     ((p->len - ESP_PREFIX_LEN - DP_ESP_ICV_LEN) & 3))) {
			p->drop = DP_DROP_SHORT;
			continue;
		}
		if (unlikely(!dp_replay_check(&sa->replay, dp_esp_seq(p->data)))) {
			p->drop = DP_DROP_REPLAY;
			atomic_fetch_add_explicit(&sa->replays, 1, memory_order_relaxed);
			continue;
		}

		unsigned k = b.n++;
		b.pkt[k] = p;
		b.text_len[k] = (uint16_t)(p->len - ESP_PREFIX_LEN - DP_ESP_ICV_LEN);
		b.tag[k] = b.tag_out[k];
		memcpy(b.nonce[k], sa->salt, DP_SA_SALT_LEN);
		memcpy(b.nonce[k] + DP_SA_SALT_LEN, p->data + DP_ESP_HDR_LEN, DP_ESP_IV_LEN);
		if (b.n == GCM_BATCH) {
			gcm_batch_run(mgr, &b, IMB_DIR_DECRYPT);
			decrypt_finish(&b, &t);
		}
	}
	if (b.n) {
		gcm_batch_run(mgr, &b, IMB_DIR_DECRYPT);
		decrypt_finish(&b, &t);
	}
	tally_flush(&t);
}
