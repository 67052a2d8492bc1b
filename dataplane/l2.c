/* Switch mode: deciding when a received frame teaches the control core where
 * a MAC lives (see l2.h). The FDB itself is built by the control core. */
#include "dataplane/l2.h"

bool dp_l2_needs_learn(const struct dp_table *t, const uint8_t src[6], uint16_t link)
{
	static const uint8_t zero[6];

	/* Group addresses never appear as a source on a well-formed frame, and an
	 * all-zero MAC would poison the FDB: neither is ever learned. */
	if (dp_mac_is_multicast(src) || memcmp(src, zero, 6) == 0)
		return false;
	if (link >= t->nlinks)
		return false;
	return dp_table_fdb_lookup(t, src) != link;
}
