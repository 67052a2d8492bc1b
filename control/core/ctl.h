/* The control core: the root object that owns everything one ipopd instance
 * runs (config, TAP and sockets, workers, published tables, peers, FDB, the
 * link manager, discovery, TURN) and the epoll loop on the main thread, on
 * which extensions such as the management socket run (struct ctl_ext_ops).
 *
 * Startup order (ctl_init): config → discovery objects (XMPP context while
 * few fds are open) → log level → state and socket dirs →
 * backend (TAP, underlay sockets/queues; backend.h) → TAP configuration → control crypto
 * manager → node identity and link manager → publisher → workers → first
 * table → worker threads → extensions (the management socket) →
 * first initiations to keyed peers → STUN requests and XMPP login
 * (disc.h). ctl_fini undoes it in reverse.
 *
 * Punted control datagrams (first 4 bytes zero) go to the link manager
 * (linkmgr.h), which publishes through ctl_publish_current: at once when an
 * inbound SA must be out before a handshake answer leaves, otherwise from
 * the tick when it marked itself dirty.
 *
 * The caller must block SIGINT, SIGTERM and SIGHUP in every thread before
 * ctl_init (they arrive through a signalfd, and worker threads inherit the
 * mask).
 *
 * Log levels: Logger.controller_logging sets the control core's level and
 * CFx.tincan_logging (0..3 → ERROR, WARNING, INFO, DEBUG) the level of the
 * data plane's rate-limited messages. There is one process-wide threshold, so
 * the more verbose of the two wins.
 */
#pragma once
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <intel-ipsec-mb.h>

#include "control/config/config.h"
#include "control/core/netif.h"
#include "control/core/peers.h"
#include "control/link/linkmgr.h"
#include "control/nat/turn.h"
#include "control/signalling/disc.h"
#include "control/table/fdb.h"
#include "control/table/publish.h"
#include "dataplane/backend.h"
#include "dataplane/worker.h"
#include "util/clock.h"

#define CTL_TICK_MS 100

/* epoll tags of the loop (data.u64). Extensions (below) use tags from
 * CTL_TAG_EXT up, each a range of its own (mgmt.h: 0x100..0x2ff). */
enum {
	CTL_TAG_SIGNAL = 1,
	CTL_TAG_NOTIFY,
	CTL_TAG_TIMER,
	CTL_TAG_XMPP,
	CTL_TAG_BACKEND,
	CTL_TAG_EXT = 0x100
};

struct ctl;

/* A module above the core that runs on its loop, such as the management
 * socket (mgmt/mgmt.h): the core knows it only through this table. ctl_init
 * opens it once everything else runs, the loop offers it every epoll event
 * with a tag >= CTL_TAG_EXT (it returns whether the tag was its own), the
 * tick ticks it, ctl_fini closes it before anything else goes. */
struct ctl_ext_ops {
	int (*open)(void *obj, struct ctl *c, char *errbuf, size_t errlen);
	bool (*event)(void *obj, struct ctl *c, uint64_t tag, uint32_t events);
	void (*tick)(void *obj, uint64_t now_ms);
	void (*close)(void *obj);
	/* Optional: around a SIGHUP reload, before (done false) and after it
	 * (done true, whatever its outcome: c->reload_errors says). */
	void (*reload)(void *obj, struct ctl *c, bool done);
};

struct ctl_ext {
	const struct ctl_ext_ops *ops; /* NULL: an unused slot */
	void *obj;
};

#define CTL_EXT_MAX 4

struct ctl_options {
	const char *config_path;
	struct ipop_config_overrides ov;
	bool verbose; /* -v: debug level whatever the config says */
	struct ctl_ext ext[CTL_EXT_MAX];
};

struct ctl {
	int stage; /* how far ctl_init got (ctl.c) */
	struct ctl_options opt;
	char config_path[PATH_MAX]; /* as given: messages name the file the user named */
	char config_abs[PATH_MAX];  /* for status */
	char tap_override[IFNAMSIZ];
	char sock_override[PATH_MAX];
	struct ipop_config cfg;
	bool cfg_loaded;

	struct dp_backend backend; /* whichever runs: nothing here knows which */
	struct ctl_netif netif;
	IMB_MGR *mgr;
	struct ctl_publisher pub;
	bool pub_init;
	struct dp_worker *workers; /* nworkers, cache-aligned */
	struct dp_worker **wptr;
	unsigned nworkers, nworkers_init;
	int notify_fd;

	struct ctl_peers peers;
	struct ctl_linkmgr lm;
	uint32_t next_link_id;
	struct ctl_fdb fdb;
	struct dp_table_params params;
	bool table_dirty;

	struct ctl_disc disc; /* XMPP discovery, STUN */
	struct ctl_turn turn; /* TURN relays */
	unsigned next_open;   /* opt.ext[0..next_open) are open */
	int sig_fd, timer_fd, epfd;

	uint64_t start_ms;
	uint64_t punted;     /* punts received from workers */
	uint64_t stun_punts; /* of which STUN */
	uint64_t reloads, reload_errors;
};

/* Blocks the signals the control core takes through its signalfd (INT, TERM,
 * HUP) in the calling thread, and returns them in mask (may be NULL). Call
 * before any thread exists, so every worker inherits the mask. */
void ctl_block_signals(sigset_t *mask);
/* Sets everything up. 0 or -errno; on error everything made so far is undone
 * and the error has been logged (or, for a bad config, written to errbuf). */
int ctl_init(struct ctl *c, const struct ctl_options *opt, char *errbuf, size_t errlen);
/* Runs the loop until SIGINT/SIGTERM. 0 or -errno. */
int ctl_run(struct ctl *c);
void ctl_fini(struct ctl *c);

/* Sets the process-wide log threshold from cfg (and -v). */
void ctl_apply_log_level(const struct ctl *c, const struct ipop_config *cfg);

/* Re-reads the config from the same path with the same overrides and applies
 * what can change at run time (SIGHUP). 0 or -errno (old config kept). */
int ctl_reload(struct ctl *c);
/* A table from the peer set and the FDB, with TURN relaying applied
 * (ctl_turn_table). NULL + errno. */
struct dp_table *ctl_build_table(struct ctl *c, const struct ctl_peers *set);
/* Builds and publishes a table from the current peers and FDB. 0 or -errno. */
int ctl_publish_current(struct ctl *c);

/* Swaps in a new peer set: cfg's peers plus the discovered ones are diffed
 * against the running set, keyed peers get their links, a table built from
 * the new set is published and the old set's leftovers are retired. The one
 * sequence behind SIGHUP reloads and discovery (reload.c). On success
 * c->peers is the new set; *kept (may be NULL) counts the peers whose objects
 * carried over and *removed those retired. On error (-errno) nothing changed
 * and *stage says which step failed ("peers", "links", "table", "publish"). */
int ctl_peers_commit(struct ctl *c, const struct ipop_config *cfg, unsigned *kept,
		     unsigned *removed, const char **stage);

/* The ops tables through which the modules below reach the core (modules.c),
 * ctx being the struct ctl. ctl_init wires them; a test that builds a struct
 * ctl by hand can too. */
extern const struct ctl_turn_ops ctl_core_turn_ops;
/* Discovery's view of c: ops with ctx c and pointers into c. */
void ctl_core_disc_env(struct ctl *c, struct ctl_disc_env *env);
/* The link manager's send and publish (ctl_linkmgr_set_io). */
int ctl_core_lm_send(void *ctx, const struct net_endpoint *to, const void *buf, size_t len);
int ctl_core_lm_publish(void *ctx);
