/* The link manager: keyed links (peers configured by public key) that
 * negotiate their ESP SAs with the Noise IKpsk2 handshake (noise.h) carried
 * behind the non-ESP marker (hsmsg.h), install them through the normal table
 * handoff, rekey them hitlessly and retire them.
 *
 * Ownership. struct ctl_linkmgr (one per instance, inside struct ctl) owns the
 * node identity, its own ipsec-mb manager, our mac1/cookie keys, the cookie
 * secret, the per-source rate limiter, the handshake counters and a list of
 * SAs waiting to be retired. Each keyed peer's struct ctl_peer (peers.h) owns
 * a struct lm_link: the peer's public key and mac keys, its current endpoint
 * (roaming: the source of the last authenticated initiation or response),
 * up to three sessions (current, next, previous) and a pending initiation.
 * A reload keeps a peer's lm_link (and so its live sessions) when its
 * configuration is unchanged; the linkmgr finds its links through the peer
 * set it was given (ctl_linkmgr_use).
 *
 * Sessions. A session is one inbound SA (SPI chosen by us: random, top bit
 * set, unique among our inbound SPIs) and one outbound SA (SPI chosen by the
 * peer). Tables carry the current session's outbound SA (none while the link
 * is not up) and every live inbound SA (current, next, previous).
 *   - Initiator: the response completes the handshake; the new session
 *     becomes current at once (the responder installed its inbound SA before
 *     answering), the table is published immediately, and a keepalive goes
 *     out on the new outbound SA at once. That keepalive is the confirmation
 *     the responder waits for.
 *   - Responder: the new session is "next": its inbound SA is published
 *     (synchronously, through the publish callback) BEFORE the response is
 *     sent; outbound keeps using the current session until the first packet
 *     arrives on the new inbound SA (checked on every tick). An unconfirmed
 *     next session (e.g. the initiator had a wrong PSK and could not read the
 *     response) never carries traffic and expires after LM_UNCONFIRMED_MS.
 *   - The session replaced by a switch stays as "previous" (inbound accepted)
 *     for the overlap (max(LM_OVERLAP_MIN_MS, 2 × tick)), then its SAs are
 *     retired: removed from the link, a table without them is published, and
 *     they go to ctl_publish_defer_free (dp_sa_destroy wipes the keys).
 *
 * Handshake rules.
 *   - Initiations are retransmitted as fresh initiations (new ephemeral key
 *     and timestamp, same SPI) with exponential backoff from 1 s to 30 s,
 *     ±20 % jitter: the responder rejects an initiation whose TAI64N
 *     timestamp is not newer than the last one it accepted from that key, so
 *     a byte-identical retransmit would be refused (and so is a replay).
 *   - Responder checks, in order: header, mac1 (mac1_fail), per-source rate
 *     limit (ratelimited), under load (more than load_threshold initiations in
 *     the last second) a valid mac2 else a cookie reply (cookie_replies_sent),
 *     Noise msg1 (decrypt_fail), with trust by certificate the initiator's
 *     certificate (lm_cert.c: cert_* counters; an unknown key with a valid
 *     one binds a peer configured by endpoint only), the static key is a
 *     configured keyed peer's and in allowed_keys when that list is
 *     non-empty (unknown_key), the timestamp is newer (stale_timestamp;
 *     nothing else happens). docs/protocol.md section 14 has the
 *     certificate messages (types 4-7) and the fetch ahead of IK.
 *   - Simultaneous initiation: when we have a pending initiation to P and a
 *     valid initiation from P arrives, the side with the lower static public
 *     key (memcmp) keeps its own initiation and ignores P's (collisions; it
 *     retransmits its own at once, at most every LM_COLLISION_RETX_MS, since
 *     P is evidently reachable); the higher side abandons its own and
 *     answers. Exactly one session results. The lower side insists only
 *     while its pending initiation is younger than LM_COLLISION_WINDOW_MS:
 *     an initiation that went unanswered that long while P's get through was
 *     lost or is being filtered on the way, and insisting would keep the
 *     link down for good, so it is abandoned and P's is answered. (Should
 *     both sides' retransmissions cross within a round trip after that,
 *     both answer, neither response finds its initiation, and the
 *     unconfirmed sessions expire after LM_UNCONFIRMED_MS before a normal
 *     retry: slow, rare, never stuck.)
 *   - Replays of initiations the responder never processed (withheld by an
 *     on-path attacker, lost, or abandoned in a collision) carry a timestamp
 *     the responder cannot know to be old. Two rules make them harmless:
 *     a responder roams to a new endpoint and counts a handshake only when
 *     the session is confirmed (an attacker cannot confirm), and a side that
 *     abandoned a pending initiation owes its peer a newer one: once the link
 *     is up it initiates once more, so the peer records a timestamp newer
 *     than everything abandoned (which then counts as stale_timestamp).
 *     What remains: after the *peer* restarts it holds no timestamps of ours
 *     until it next accepts an initiation of ours, and a replay of an old one
 *     meanwhile gets a response and an unconfirmed session that expires.
 *   - Counting: `completed`/`handshakes` count sessions that came into use
 *     (initiator: on the response; responder: on confirmation), `rekeys`
 *     those of them that were scheduled rotations (LM_FLAG_REKEY).
 *   - Rekey: on time (rekey_interval after the current session was made; the
 *     side with the higher key waits a further rekey_interval/3 plus up to
 *     rekey_interval/6 of jitter, so usually only the lower side initiates)
 *     or volume (outbound sequence number >= rekey_packets).
 *   - Link state: connecting (no session yet) → up → down (nothing received
 *     on the link for link_timeout: its outbound SA leaves the table, packets
 *     to it are dropped as link_down, and initiations continue with backoff)
 *     → up again when a handshake completes. Start-up initiates to every
 *     keyed peer at once.
 *   - Better pair: a link that is up through a TURN relay (its endpoint is
 *     reached through our allocation, via != 0, or is one of the peer's
 *     relay candidates) while the peer advertised direct candidates probes
 *     those: LM_PROBE_FIRST_MS after it came up, then with the interval
 *     doubling up to LM_PROBE_MAX_MS (reset when the candidates change),
 *     on a schedule both ends share (no random jitter; an offset derived
 *     from both keys spreads a node's links), so that their probes cross
 *     and open two NATs at once.
 *     A probe IS the link's pending initiation (pend.probe), so at most one
 *     is in flight and none starts while another initiation is pending, a
 *     responder session waits for confirmation or a newer initiation is
 *     owed. It goes to the direct candidates only (never through the
 *     relay), LM_PROBE_TRIES fresh initiations LM_PROBE_RETX_MS apart;
 *     the relayed session carries the traffic meanwhile. If one is
 *     answered, the normal initiator rules switch the link: the response's
 *     source becomes the endpoint, the new session current, `why` says
 *     "upgraded: ..." and `upgrades` counts it; the peer follows when our
 *     first direct packet reaches it (roam, then confirmation). If none is
 *     answered the probe ends quietly: no state change, no retransmit or
 *     link_down counted, only `probes_unanswered`; like every abandoned
 *     initiation it leaves a newer one owed, sent over the relay, which
 *     makes its tries stale at the peer. A probe gives way to a due rekey
 *     and to any initiation of the peer that arrives over the relay; two
 *     probes that meet are simultaneous initiations (the lower key keeps
 *     its own). A direct link never goes back to a relay on its own:
 *     roaming never moves a direct endpoint to a relayed address (late
 *     relayed packets of the peer after an upgrade); a direct path that
 *     dies ends in link_timeout and the handshakes that follow.
 *   - Keepalives: every keepalive interval, a link that is up and sent
 *     nothing in that interval sends one ESP dummy packet (next header 59,
 *     empty payload) on its outbound SA. (Sending when nothing was *received*
 *     would let one side stay silent forever once the other keeps talking,
 *     and the silent side would then be timed out by its peer.)
 *
 * Secrets. Noise state and key material are wiped with explicit_bzero right
 * after use; a keymat copy is kept only when cfg.key_export is set (for
 * `ipopctl sas --export`). Keys are never logged.
 *
 * All functions run on the control core. Time is the caller's monotonic
 * milliseconds (clock_now_ms) so tests can drive it; only the TAI64N
 * timestamps read the wall clock.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <intel-ipsec-mb.h>

#include "control/config/config.h"
#include "control/link/cert.h"
#include "control/link/cert_fetch.h"
#include "control/link/hsmsg.h"
#include "control/link/identity.h"
#include "control/link/noise.h"
#include "dataplane/sa.h"
#include "dataplane/table.h"
#include "util/addr.h"

#define LM_LOAD_THRESHOLD      50 /* initiations per second above which mac2 is required */
#define LM_RETX_FIRST_MS       1000
#define LM_RETX_MAX_MS	       30000
#define LM_JITTER_PCT	       20
#define LM_OVERLAP_MIN_MS      5000
#define LM_COOKIE_TTL_MS       120000 /* a cookie from a responder is used this long */
#define LM_UNCONFIRMED_MS      10000  /* responder: a next session nobody uses expires */
#define LM_COLLISION_RETX_MS   200
#define LM_COLLISION_WINDOW_MS 1000  /* the lower key insists on its initiation this long */
#define LM_RELAY_DELAY_MS      800   /* relay candidates get initiations after this */
#define LM_PROBE_FIRST_MS      3000  /* a relayed link first probes direct pairs after this */
#define LM_PROBE_MAX_MS	       60000 /* ... then with backoff up to this between probes */
#define LM_PROBE_TRIES	       3     /* initiations per probe (fresh ones, like retransmits) */
#define LM_PROBE_RETX_MS       1000  /* between them; unanswered this long after the last: over */
#define LM_RL_SLOTS	       4096
#define LM_RL_RATE	       20 /* initiations per second per source address */
#define LM_RL_BURST	       20
#define LM_NH_KEEPALIVE	       59 /* RFC 4303 dummy packet: "no next header" */
#define LM_PROLOGUE	       "ipopd handshake v1"
/* hs_init_payload.flags: this handshake is a scheduled key rotation (time or
 * volume), so both sides count it in `rekeys`. Handshakes that replace a
 * session for other reasons (a restarted peer, a link coming back, a newer
 * timestamp owed after a collision) count only as handshakes. Peers that
 * send 0 are simply never counted as rekeying. */
#define LM_FLAG_REKEY 0x01

struct ctl_peers;
struct ctl_publisher;

enum lm_state { LM_CONNECTING = 0, LM_UP, LM_DOWN };

/* Candidate endpoints of a peer learned through signalling (discovery).
 * While the link is not up, every initiation goes to all of them in
 * parallel (and to the current endpoint, if any): with both sides doing
 * this, the first initiation out of each NAT opens the mapping the other
 * side's next one comes in through. The first handshake that completes
 * decides: the source of the authenticated response (or of the confirmed
 * initiation) becomes the endpoint. While the link is up through a relay,
 * probes go to the direct ones (see "Better pair" above). */
#define LM_MAX_CAND 16
struct lm_cand {
	struct net_endpoint ep;
	uint8_t type; /* enum cand_type (candidates.h) */
};

struct lm_session {
	struct dp_sa *sa_in, *sa_out; /* both NULL: no session in this slot */
	uint64_t born_ms;	      /* when the handshake that made it completed */
	bool has_keymat;	      /* only with cfg.key_export */
	uint8_t keymat_in[DP_SA_KEYMAT_LEN], keymat_out[DP_SA_KEYMAT_LEN];
};

struct lm_pending {
	bool active;
	uint32_t spi; /* our inbound SPI for the session being negotiated */
	struct noise_hs hs;
	uint8_t msg[HS_MSG_MAX]; /* last initiation sent (cookie replies refer to it) */
	size_t msg_len;		 /* HS_INIT_LEN, or longer with our certificate */
	uint64_t first_ms;	 /* when this pending initiation was first sent */
	uint64_t sent_ms, next_ms;
	unsigned attempts;
	bool rekey; /* started by the rekey timer or volume (LM_FLAG_REKEY) */
	bool probe; /* a relayed link's check of its direct candidates (only to those) */
};

struct lm_link {
	char name[IPOP_NAME_MAX];
	uint8_t pub[NOISE_KEY_LEN];
	struct hs_mac_keys keys; /* derived from the peer's public key */
	struct dp_link *link;	 /* the peer's link (owned by its struct ctl_peer) */
	struct net_endpoint endpoint;
	enum lm_state state;
	struct lm_session cur, next, prev;
	/* where next's initiation came from: roam there on confirmation */
	struct net_endpoint next_ep;
	bool next_rekey; /* next's initiation carried LM_FLAG_REKEY */
	uint64_t prev_retire_ms;
	bool owe_init; /* we abandoned an initiation the peer may hold: send it a newer one */
	struct lm_pending pend;
	bool has_ts;
	uint8_t last_ts[12]; /* greatest TAI64N accepted from the peer */
	bool has_cookie;
	uint8_t cookie[HS_COOKIE_LEN];
	uint64_t cookie_ms;
	uint64_t rekey_at_ms;
	uint64_t rekey_iv_ms; /* the interval rekey_at_ms was set from */
	uint64_t last_rx_packets, last_rx_ms;
	uint64_t ka_tx_packets, ka_check_ms;
	uint64_t keepalives; /* sent on this link (counted in its tx_packets too) */
	/* Structured overlay: neither asked for nor accepted by the topology
	 * manager (discovery sets it): the peer's initiations are not answered. */
	bool passive;
	uint64_t last_handshake_ms; /* 0: never */
	uint64_t handshakes, rekeys;
	/* Round-trip time: from sending the initiation that was answered to its
	 * authenticated response (control clock, ms). srtt8: smoothed as RFC
	 * 6298's SRTT (alpha 1/8), in 1/8 ms. Valid once has_rtt. */
	bool has_rtt;
	uint32_t rtt_ms, srtt8;
	/* discovery: the peer's advertised candidates and how the endpoint was chosen */
	struct lm_cand cand[LM_MAX_CAND];
	unsigned ncand;
	int ep_cand; /* index in cand[] the endpoint matched, -1: none (static or peer-reflexive) */
	char why[96]; /* why the endpoint is what it is ("" = configured) */
	/* relayed while up: when the next probe of the direct candidates is
	 * due (0: not scheduled) and the current interval between probes */
	uint64_t probe_at_ms, probe_iv_ms;
	/* trust by certificate (lm_cert.c) */
	bool cert_key;	/* configured without a key: learned from its certificate */
	bool key_known; /* false: pub is not known yet (cert_key before a fetch) */
	bool has_cert;	/* the peer's certificate was verified (cert below) */
	struct cert_info cert;
	uint8_t *cert_payload; /* the chain as received, checked again on SIGHUP */
	size_t cert_payload_len;
	bool fetch_active; /* a certificate request is out (fetch) */
	struct cert_fetch fetch;
	uint64_t fetch_next_ms;
	unsigned fetch_attempts;
};

/* The "handshake" object of `ipopctl stats`. */
struct lm_counters {
	uint64_t initiations_sent, initiations_received, responses_sent, responses_received;
	uint64_t completed, rekeys, retransmits;
	uint64_t mac1_fail, stale_timestamp, unknown_key, decrypt_fail, cookie_replies_sent;
	uint64_t ratelimited, links_down;
	/* beyond the fixed list */
	uint64_t malformed, collisions, cookie_replies_received, keepalives_sent;
	uint64_t roams; /* endpoints moved by authenticated data (ctl_linkmgr_roam) */
	/* relayed links checking for a direct pair: probes started, probes
	 * that nothing answered, links moved from a relayed to a direct path */
	uint64_t probes, probes_unanswered, upgrades;
	/* initiations of a member whose link the topology manager did not
	 * ask for or accept (lm_link.passive) */
	uint64_t passive_refused;
	/* trust by certificate: refusals by reason (cert_verdict_name), a
	 * handshake without the certificate the policy requires, links taken
	 * down because a certificate was revoked or expired, the fetch */
	uint64_t cert_other_ca, cert_expired, cert_not_yet_valid, cert_revoked, cert_other_key;
	uint64_t cert_addr_not_covered, cert_invalid, cert_malformed, cert_missing;
	uint64_t cert_links_dropped;
	uint64_t cert_requests_sent, cert_requests_received, cert_replies_sent,
	    cert_replies_received;
};

typedef int (*lm_send_fn)(void *ctx, const struct net_endpoint *to, const void *buf, size_t len);
/* Builds and publishes a table from the current peer set, then calls
 * ctl_linkmgr_published. 0 or -errno. */
typedef int (*lm_publish_fn)(void *ctx);

struct ctl_linkmgr {
	const struct ipop_config *cfg; /* the running config (reloads replace its content) */
	struct ctl_peers *peers;       /* the running peer set */
	bool have_id;
	struct ipop_identity id;
	struct hs_mac_keys own_keys;
	IMB_MGR *mgr;
	struct hs_cookie_gen cookie_gen;
	struct hs_ratelimit *rl;
	unsigned load_threshold; /* LM_LOAD_THRESHOLD; tests lower it */
	uint64_t load_window_ms;
	unsigned load_cur, load_prev;
	struct dp_pkt *ka_pkt; /* scratch buffer for keepalives */
	struct lm_counters hs;
	uint8_t last_ts_sent[12]; /* our TAI64N stays increasing if the wall clock steps back */
	bool dirty;		  /* the table must be rebuilt (SAs or endpoints changed) */
	struct dp_sa **dead;	  /* removed from links, waiting for a table without them */
	unsigned ndead, cap_dead;
	lm_send_fn send;
	lm_publish_fn publish;
	void *cb_ctx;
	/* trust by certificate: the policy in force since init (trust changes
	 * need a restart), the CA/CRL store and our own chain */
	enum ipop_trust trust;
	struct cert_trust *ca;
	struct cert_own own;
};

/* Sets up with a copy of the identity (NULL: none; keyed peers then never
 * link and `key` has nothing to show). 0 or -errno. */
int ctl_linkmgr_init(struct ctl_linkmgr *lm, const struct ipop_config *cfg,
		     const struct ipop_identity *id, uint64_t now_ms);
/* Wipes the identity and destroys what is left (workers stopped). */
void ctl_linkmgr_fini(struct ctl_linkmgr *lm);
void ctl_linkmgr_set_io(struct ctl_linkmgr *lm, lm_send_fn send, lm_publish_fn publish, void *ctx);

/* Gives every keyed peer of set that has no lm_link yet a fresh one
 * (connecting, initiation due now). Nothing is sent. 0 or -ENOMEM (links
 * made so far stay attached; ctl_peers_abort frees them). */
int ctl_linkmgr_attach(struct ctl_linkmgr *lm, struct ctl_peers *set, uint64_t now_ms);
/* The peer set the link manager works on from now on. */
void ctl_linkmgr_use(struct ctl_linkmgr *lm, struct ctl_peers *set);

/* A control datagram (first 4 bytes zero) received on the data port. */
void ctl_linkmgr_input(struct ctl_linkmgr *lm, const uint8_t *data, size_t len,
		       const struct net_endpoint *from, uint64_t now_ms);
/* Timers: retransmissions, rekeys, keepalives, link timeouts, switching a
 * confirmed next session in, retiring previous sessions. Sets lm->dirty when
 * the table must change (the caller publishes). */
void ctl_linkmgr_tick(struct ctl_linkmgr *lm, uint64_t now_ms);
/* A worker saw authenticated, fresh packets of link link_id arrive from
 * `from` (struct dp_roam_event): the peer moved (NAT remap, new address).
 * Moves the keyed link's endpoint there and sets lm->dirty. Returns whether
 * the endpoint moved (false: unknown or unkeyed link, stale report, or a
 * relayed source while the link is direct). The tick re-arms the link's
 * report. */
bool ctl_linkmgr_roam(struct ctl_linkmgr *lm, uint32_t link_id, const struct net_endpoint *from);
/* After a table built from the current state was published: hands the SAs
 * removed since to the publisher and clears dirty. */
void ctl_linkmgr_published(struct ctl_linkmgr *lm, struct ctl_publisher *pub);

/* For the table builder: the outbound SA (NULL unless up) and the live
 * inbound SAs (returns how many, at most 3). */
struct dp_sa *ctl_linkmgr_link_sa_out(const struct lm_link *lk);
unsigned ctl_linkmgr_link_sa_in(const struct lm_link *lk, struct dp_sa *out[3]);
/* A retired peer's link, after a table without it is out: every SA to the
 * publisher, then the link is wiped and freed. */
void ctl_linkmgr_link_retire(struct lm_link *lk, struct ctl_publisher *pub);
/* Never published (abort) or workers stopped: destroys at once. */
void ctl_linkmgr_link_destroy(struct lm_link *lk);

/* The topology manager closed the link (docs/topology.md): its sessions
 * are retired (lm->dirty: a table without them goes out, then they are
 * freed), a pending initiation is abandoned, and the candidates and
 * endpoint are forgotten, so nothing is sent to the peer until discovery
 * hands new candidates. The link stays (connecting) and can still answer
 * an initiation of the peer. */
void ctl_linkmgr_link_reset(struct ctl_linkmgr *lm, struct lm_link *lk);
const char *ctl_linkmgr_state_name(enum lm_state s);

/* SIGHUP: reads the CRL file again and checks every link's certificate
 * anew; a link whose certificate is now revoked (or expired) loses its
 * sessions at once (cert_links_dropped). 0 or -errno (the old CRL stays). */
int ctl_linkmgr_trust_reload(struct ctl_linkmgr *lm);

/* Discovery learned (new) candidates of the peer. Stored; a link that is
 * not up sends a fresh initiation to all of them at once (the peer does the
 * same on its side: simultaneous open). n > LM_MAX_CAND keeps the first. */
void ctl_linkmgr_set_candidates(struct ctl_linkmgr *lm, struct lm_link *lk,
				const struct lm_cand *cand, unsigned n, uint64_t now_ms);
