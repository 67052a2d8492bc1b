/* Static peers: the links and SAs the control core creates from the config's
 * peer list, and the forwarding tables built from them.
 *
 * Each peer owns one struct dp_link (stable id). A manually keyed peer owns
 * two SAs from the config: sa_in (we verify with it, looked up by SPI) and
 * sa_out (we encrypt with it). A keyed peer (public key) owns instead an
 * lm_link (linkmgr.h) whose sessions hold the negotiated SAs; the diff leaves
 * it NULL and ctl_linkmgr_attach() fills it in. A reload diffs the new peer
 * list against the running one: a peer whose name, endpoint, virtual address,
 * routes and both SAs (keyed: public key) are unchanged keeps the very same
 * objects (keyed: its lm_link and live sessions), so its sequence numbers,
 * replay windows and counters carry on and its traffic is not disturbed;
 * everything else gets fresh objects, and the objects of removed or changed
 * peers are retired through the publisher once a table without them is out.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <intel-ipsec-mb.h>

#include "control/config/config.h"
#include "control/table/fdb.h"
#include "control/table/peerset.h"
#include "control/table/publish.h"
#include "dataplane/table.h"

/* Builds `out` for cfg's peers, reusing the objects of unchanged peers in
 * `old` (may be NULL or empty) and marking them kept there. New link ids come
 * from *next_link_id. On error (-errno) only objects created here are freed
 * and `old` is left as it was. */
int ctl_peers_diff(struct ctl_peers *old, const struct ipop_config *cfg, IMB_MGR *mgr,
		   uint32_t *next_link_id, struct ctl_peers *out);
/* The same with further peers after cfg's (discovered ones: their confs
 * must outlive the set built from them). */
int ctl_peers_diff_ext(struct ctl_peers *old, const struct ipop_config *cfg,
		       const struct ipop_peer_conf *const *extra, unsigned nextra, IMB_MGR *mgr,
		       uint32_t *next_link_id, struct ctl_peers *out);
/* Undoes a diff that was not published: frees the fresh objects of `set`,
 * clears the kept marks of `old`, frees the array. */
void ctl_peers_abort(struct ctl_peers *set, struct ctl_peers *old);
/* After a table built from the new set is published: hands the objects of
 * `old` that were not kept to the publisher, drops their MACs from fdb (may be
 * NULL), frees the array. */
void ctl_peers_retire(struct ctl_peers *old, struct ctl_publisher *pub, struct ctl_fdb *fdb);
/* Frees every object at once (workers stopped). */
void ctl_peers_free(struct ctl_peers *set);

/* From the control tick: extends each outbound SA's durable sequence
 * reservation before the data plane can reach it (seqstore.h). */
void ctl_peers_seq_extend(struct ctl_peers *set, const char *state_dir);
/* At shutdown, workers stopped: stores each outbound SA's exact counter. */
void ctl_peers_seq_final(const struct ctl_peers *set, const char *state_dir);

/* A sealed table with one link per peer (sa_out, endpoint), each peer's
 * inbound SPI (keyed peers: their live sessions' SPIs, the current outbound
 * SA only while the link is up, and the endpoint it last roamed to), the host routes of its virtual
 * IPv4 and ULA and its routed subnets, and (switch mode) the FDB. NULL + errno. */
struct dp_table *ctl_peers_build_table(const struct ctl_peers *set,
				       const struct dp_table_params *params,
				       const struct ctl_fdb *fdb);
