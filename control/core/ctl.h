/* The control core: the root object that owns everything one ipopd instance
 * runs (config, TAP and sockets, workers, published tables, peers, FDB,
 * management socket) and the epoll loop on the main thread.
 *
 * Startup order (ctl_init): config → discovery objects (XMPP context while
 * few fds are open) → log level → state and socket dirs →
 * kernel backend (TAP + UDP sockets) → TAP configuration → control crypto
 * manager → node identity and link manager → publisher → workers → first
 * table → worker threads → management socket → signalfd/timerfd/epoll →
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
#include "control/signalling/disc.h"
#include "control/core/fdb.h"
#include "control/link/linkmgr.h"
#include "control/mgmt/http.h"
#include "control/mgmt/mgmt.h"
#include "control/mgmt/sdnotify.h"
#include "control/core/netif.h"
#include "control/core/peers.h"
#include "control/core/publish.h"
#include "control/nat/turn.h"
#include "dataplane/kernel.h"
#include "dataplane/worker.h"

#define CTL_TICK_MS 100

struct ctl_options {
	const char *config_path;
	struct ipop_config_overrides ov;
	bool verbose; /* -v: debug level whatever the config says */
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

	struct dp_kernel kernel;
	bool kernel_open;
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
	struct ctl_mgmt mgmt;
	struct ctl_http http; /* ipopd.http_listen: /metrics, live page */
	struct ctl_sd sd;     /* systemd readiness and watchdog */
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

/* Re-reads the config from the same path with the same overrides and applies
 * what can change at run time (SIGHUP). 0 or -errno (old config kept). */
int ctl_reload(struct ctl *c);
/* A table from the peer set and the FDB, with TURN relaying applied
 * (ctl_turn_table). NULL + errno. */
struct dp_table *ctl_build_table(struct ctl *c, const struct ctl_peers *set);
/* Builds and publishes a table from the current peers and FDB. 0 or -errno. */
int ctl_publish_current(struct ctl *c);

uint64_t ctl_now_ms(void);
