/* Fixtures for the ESP/AES-256-GCM tests (dataplane/esp.c, dataplane/sa.c):
 * the crypto manager, a key, and packet and SA helpers. */
#pragma once
/* Shared by test_esp.c and test_esp_vectors.c. */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-variable"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dataplane/esp.h"
#include "dataplane/sa.h"

#define SPI_A 0x80001234u
#define SPI_B 0x8000beefu
#define SPI_C 0xfffffffeu

static IMB_MGR *mgr;

static const uint8_t keymat_a[DP_SA_KEYMAT_LEN] = {
    0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b,
    0x4c, 0x4d, 0x4e, 0x4f, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57,
    0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f, 0xca, 0xfe, 0xba, 0xbe,
};

/* ---- packets ---- */
static struct dp_pkt *pkts_alloc(unsigned n)
{
	/* One allocation: descriptors, then their buffers (freed together). */
	struct dp_pkt *p = aligned_alloc(64, n * (sizeof(*p) + DP_BUF_SIZE));
	assert_non_null(p);
	uint8_t *bufs = (uint8_t *)(p + n);
	for (unsigned i = 0; i < n; i++)
		dp_pkt_attach(&p[i], bufs + (size_t)i * DP_BUF_SIZE, DP_BUF_SIZE);
	return p;
}

static void pkt_set(struct dp_pkt *p, struct dp_sa *sa, const uint8_t *d, unsigned len, uint8_t nh)
{
	dp_pkt_reset(p);
	memcpy(p->data, d, len);
	p->len = (uint16_t)len;
	p->sa = sa;
	p->next_hdr = nh;
}

static struct dp_sa *sa_new(uint32_t spi, const uint8_t *keymat)
{
	struct dp_sa *sa = dp_sa_create(mgr, spi, keymat, 7);
	assert_non_null(sa);
	return sa;
}

static int setup(void **state)
{
	(void)state;
	mgr = dp_crypto_mgr_create();
	return mgr ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	dp_crypto_mgr_destroy(mgr);
	return 0;
}
