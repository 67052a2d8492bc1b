/* Private to the dpdk backend's files: the per-worker I/O state and the tie
 * between a packet descriptor and the mbuf that carries its bytes. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "dataplane/dpdk.h"

struct dp_dpdk_io {
	struct dp_dpdk *d;
	uint16_t q;	    /* the queue of every port this worker polls */
	bool registered;    /* the thread has an EAL lcore id */
	unsigned host_next; /* host port polled first next time (round robin) */
	uint16_t ip_id;
	uint64_t tsc_mark; /* start of the current loop */
	bool worked;	   /* the current loop received something */
	struct dp_dpdk_stats s;
} __attribute__((aligned(64)));

/* A descriptor's buffer is its mbuf's: the mbuf header sits right before the
 * buffer (no private area in our pool). */
static inline struct rte_mbuf *dp_dpdk_pkt_mbuf(const struct dp_pkt *p)
{
	return (struct rte_mbuf *)(void *)(p->buf - sizeof(struct rte_mbuf));
}

static inline void dp_dpdk_pkt_attach(struct dp_pkt *p, struct rte_mbuf *m)
{
	p->buf = m->buf_addr;
	p->buf_size = m->buf_len;
}

/* Makes m describe the descriptor's bytes (one segment) before a send. */
static inline struct rte_mbuf *dp_dpdk_pkt_to_mbuf(struct dp_pkt *p, uint8_t *start, uint16_t len)
{
	struct rte_mbuf *m = dp_dpdk_pkt_mbuf(p);
	m->data_off = (uint16_t)(start - (uint8_t *)m->buf_addr);
	m->data_len = len;
	m->pkt_len = len;
	m->nb_segs = 1;
	m->next = NULL;
	m->ol_flags = 0;
	return m;
}
