/* Persistent outbound sequence reservations for manually keyed SAs.
 *
 * With a static key the ESP sequence number is also the AES-GCM nonce, so a
 * gateway that restarts and counts from 1 again would reuse nonces under the
 * same key — fatal for GCM (keystream reuse, and the GHASH key can be
 * recovered) — and the peer would drop it all as replays anyway. So the control
 * core writes a mark into the state directory before the data plane may use
 * any sequence number up to it: the SA's seq_limit never exceeds what is on
 * disk. On start an SA continues from its stored mark. A clean shutdown stores
 * the exact counter so little is skipped; a crash skips at most one
 * reservation (CTL_SEQ_RESERVE numbers of 2^32).
 */
#pragma once
#include <stdint.h>

#define CTL_SEQ_RESERVE (1ull << 22)

/* Reads <dir>/seq-<spi as 8 hex digits>. *mark = 0 when there is no file.
 * -errno when the file exists but cannot be read or is not a number: the
 * caller must not use the SA then (fail closed). */
int ctl_seq_load(const char *dir, uint32_t spi, uint64_t *mark);
/* Writes the mark durably (temp file, fsync, rename, fsync of the dir). */
int ctl_seq_store(const char *dir, uint32_t spi, uint64_t mark);
