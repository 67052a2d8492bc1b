/* Security association objects and the per-thread ipsec-mb manager.
 *
 * Owns the lifetime of key material: the AES-256 schedule and GHASH tables are
 * expanded once here so the packet path only hands pointers to ipsec-mb, and
 * they are wiped before the memory goes back to the allocator.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/sa.h"

struct dp_sa *dp_sa_create(IMB_MGR *mgr, uint32_t spi, const uint8_t keymat[DP_SA_KEYMAT_LEN],
			   uint32_t link_id)
{
	struct dp_sa *sa;

	/* Receivers choose SPIs >= 2^31 so ESP never looks like the RFC 3948
	 * non-ESP marker or STUN on the shared port (DESIGN.md). */
	if (!mgr || !keymat || !(spi & 0x80000000u)) {
		errno = EINVAL;
		return NULL;
	}
	sa = aligned_alloc(64, sizeof(*sa));
	if (!sa) {
		errno = ENOMEM;
		return NULL;
	}
	memset(sa, 0, sizeof(*sa));

	IMB_AES256_GCM_PRE(mgr, keymat, &sa->key);
	if (imb_get_errno(mgr) != 0) {
		explicit_bzero(sa, sizeof(*sa));
		free(sa);
		errno = EINVAL;
		return NULL;
	}
	memcpy(sa->salt, keymat + DP_SA_KEY_LEN, DP_SA_SALT_LEN);
	sa->spi = spi;
	sa->link_id = link_id;
	atomic_init(&sa->seq, 0);
	atomic_init(&sa->seq_limit, DP_SA_SEQ_LIMIT);
	dp_replay_init(&sa->replay);
	atomic_init(&sa->packets, 0);
	atomic_init(&sa->bytes, 0);
	atomic_init(&sa->auth_fail, 0);
	atomic_init(&sa->replays, 0);
	return sa;
}

void dp_sa_destroy(struct dp_sa *sa)
{
	if (!sa)
		return;
	explicit_bzero(sa, sizeof(*sa));
	free(sa);
}

IMB_MGR *dp_crypto_mgr_create(void)
{
	IMB_MGR *mgr = alloc_mb_mgr(0);
	IMB_ARCH arch = IMB_ARCH_NONE;

	if (!mgr) {
		errno = ENOMEM;
		return NULL;
	}
	init_mb_mgr_auto(mgr, &arch);
	if (imb_get_errno(mgr) != 0 || arch == IMB_ARCH_NONE) {
		free_mb_mgr(mgr);
		errno = ENOTSUP;
		return NULL;
	}
	return mgr;
}

void dp_crypto_mgr_destroy(IMB_MGR *mgr)
{
	if (mgr)
		free_mb_mgr(mgr);
}
