/* Configuration: IPOP controller JSON (CFx, Logger, TincanSender,
 * BaseTopologyManager, LinkManager, StatReport, CentralVisualizer, ...) plus
 * ipopd's own section "ipopd". The seeds' configs load unchanged; keys that
 * mean nothing here are accepted with a warning (and nothing phones home).
 *
 * Errors are one line, "FILE:LINE: KEY: expected WHAT[, got WHAT]" (LINE is
 * where the key or the JSON syntax error is), and nothing starts.
 */
#pragma once
#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dataplane/sa.h"
#include "util/addr.h"
#include "util/log.h"

#define IPOP_NAME_MAX 32
#define IPOP_ADVERTISE_ROUTES_MAX 8 /* = SIG_MAX_ROUTES (signalling/sigmsg.h) */

enum ipop_mode { IPOP_MODE_L3 = 0, IPOP_MODE_SWITCH = 1 };

/* How the overlay's group is defined on the XMPP server. */
enum ipop_group { IPOP_GROUP_MUC = 0, IPOP_GROUP_ROSTER = 1 };

/* TincanSender.turn: [{"server": "ip:port", "user": "...", "pass": "..."}] */
struct ipop_turn_conf {
	struct net_endpoint server;
	char user[256];
	char pass[256];
};

struct ipop_sa_conf {
	uint32_t spi;
	uint8_t keymat[DP_SA_KEYMAT_LEN];
};

/* A statically configured peer: either keyed by its public key (the links
 * negotiate their SAs with the Noise handshake) or manually keyed (sa_in and
 * sa_out given). */
struct ipop_peer_conf {
	char name[IPOP_NAME_MAX];
	bool keyed;                 /* true: public_key set, sa_in/sa_out unused */
	uint8_t public_key[32];     /* X25519, base64 in the file (44 chars) */
	struct net_endpoint endpoint;
	uint32_t ip4;               /* peer's virtual IPv4 (network order), 0 = none */
	uint8_t ip6[16];            /* peer's ULA, derived from ip4 (zero if no ip4) */
	struct net_prefix *routes;  /* further subnets behind the peer (L3 mode) */
	unsigned nroutes;
	struct ipop_sa_conf sa_in;  /* we receive with this (SPI chosen by us) */
	struct ipop_sa_conf sa_out; /* we send with this (SPI chosen by the peer) */
	int line;                   /* where the peer starts in the file */
	bool cert_key;              /* keyed, key learned from its certificate (ipopd.trust "cert") */
};

/* "ipopd.dpdk" (docs/dpdk.md): the DPDK backend's EAL and ports. Flat
 * arrays, so the struct copies and frees with the config. */
#define IPOP_DPDK_ARGS_MAX  32
#define IPOP_DPDK_ARG_LEN   256
#define IPOP_DPDK_VHOST_MAX 8
#define IPOP_DPDK_PATH_LEN  108 /* sun_path */
struct ipop_dpdk_conf {
	bool set;                                             /* the section was given */
	char eal_args[IPOP_DPDK_ARGS_MAX][IPOP_DPDK_ARG_LEN]; /* argv[1..] of rte_eal_init */
	unsigned n_eal_args;
	char underlay_port[IPOP_DPDK_ARG_LEN]; /* devargs: "net_af_packet0,iface=eth1", PCI address */
	uint32_t underlay_ip;                  /* our underlay IPv4 (network order) */
	unsigned underlay_plen;                /* ... and its subnet's prefix length */
	uint32_t underlay_gateway;             /* network order; 0 = none (on-link peers only) */
	char host_port[IPOP_DPDK_ARG_LEN];     /* devargs of the host side; "" = none */
	bool host_port_set;                    /* given (else net_tap on ipopd.tap without vhost) */
	char vhost_ports[IPOP_DPDK_VHOST_MAX][IPOP_DPDK_PATH_LEN]; /* vhost-user socket paths */
	unsigned n_vhost_ports;
	unsigned queues; /* per port; 0 = one per worker */
	unsigned mbufs;	 /* mempool size; 0 = computed from workers, ports and rings */
};

/* "trust": what vouches for a peer's static key (docs/configuration.md) */
enum ipop_trust {
	IPOP_TRUST_XMPP = 0, /* "xmpp" (default): a configured key or the XMPP group's word */
	IPOP_TRUST_CERT,     /* "cert": a certificate from ca_file, nothing else needed */
	IPOP_TRUST_BOTH,     /* "both": a configured/XMPP key and a certificate */
};

struct ipop_config {
	char path[PATH_MAX];

	/* CFx */
	char xmpp_username[256], xmpp_password[256], xmpp_host[256];
	uint16_t xmpp_port;
	int tincan_logging; /* 0..3, mapped to the data-plane log level */
	char vpn_type[32];  /* "GroupVPN" */
	unsigned ip4_mask;
	char (*network_ignore_list)[IFNAMSIZ];
	unsigned n_ignore;
	uint16_t contr_port; /* accepted; no controller socket here */

	/* Logger */
	enum log_level log_level;

	/* TincanSender */
	enum ipop_mode mode;
	uint16_t port; /* svpn_port: the underlay UDP port */
	struct net_endpoint *stun;
	unsigned nstun;

	/* BaseTopologyManager */
	uint32_t ip4;         /* network order; required in L3 mode */
	uint8_t ip6[16];      /* fd50:0dbc:41f2:4a3c::/64 + first 64 bits of node_id */
	uint8_t node_id[20];  /* SHA-1 of the dotted-quad ip4 string (IPOP compatible) */
	bool multihop;
	unsigned num_successors, num_chords, num_on_demand, num_inbound;
	unsigned ttl_link_initial, ttl_link_pulse, ttl_chord, ttl_on_demand;
	unsigned threshold_on_demand, interval_management, num_pings, interval_ping;

	/* ipopd */
	char backend[16];     /* "kernel", "af_xdp", "dpdk" */
	char underlay_interface[IFNAMSIZ]; /* af_xdp: where the XDP program goes */
	int xdp_mode;         /* af_xdp: 0 auto, 1 native, 2 generic (xdp_prog.h) */
	unsigned workers;     /* default: CPUs - 1, at least 1 */
	int idle;             /* enum dp_idle */
	unsigned burst;       /* 1..64, default 32 */
	unsigned idle_spin_us; /* 1..10000, default DP_IDLE_SPIN_US_DEFAULT */
	char tap[IFNAMSIZ];   /* default "ipop" */
	unsigned mtu;         /* 0 = computed from underlay_mtu and the overhead */
	unsigned underlay_mtu;/* 0 = found at start (netif.h) */
	char bridge[IFNAMSIZ];/* switch mode: enslave the TAP to this bridge ("" = don't) */
	char state_dir[PATH_MAX];
	char mgmt_socket[PATH_MAX]; /* default /run/ipopd/<tap>.sock */
	bool pin_workers;
	struct ipop_peer_conf *peers;
	unsigned npeers;
	unsigned fdb_max_age; /* seconds a learned MAC stays without traffic */
	struct ipop_dpdk_conf dpdk; /* "dpdk" (backend "dpdk") */
	/* "offload_*" (docs/offloads.md): each on by default, used when the kernel has it */
	bool offload_tso, offload_uso, offload_gro, offload_udp_gso, offload_udp_gro;

	/* Keys and links (Noise handshake) */
	bool has_psk;
	uint8_t psk[32];            /* overlay-wide pre-shared key: "psk" (64 hex) or "psk_file" */
	uint8_t (*allowed_keys)[32];/* optional pin list: if non-empty, only these keys may link */
	unsigned n_allowed_keys;
	unsigned rekey_interval_ms; /* "rekey_interval" seconds (float allowed, >= 1), default 120 */
	uint64_t rekey_packets;     /* rekey an outbound SA after this many packets, default 2^31 */
	unsigned keepalive_ms;      /* "keepalive_interval" seconds, default 10 */
	unsigned link_timeout_ms;   /* "link_timeout" seconds without any packet: link down, default 30 */
	bool key_export;            /* "key_export": allow `ipopctl sas --export` (tshark esp_sa) */
	enum ipop_trust trust;      /* "trust": "xmpp", "cert" or "both" */
	char ca_file[PATH_MAX];     /* "ca_file": PEM, the overlay's CA (trust cert/both) */
	char cert_file[PATH_MAX];   /* "cert_file": PEM, our certificate (+ intermediates) */
	char crl_file[PATH_MAX];    /* "crl_file": PEM CRLs, reloaded on SIGHUP ("" = none) */

	/* Discovery (XMPP signalling, NAT traversal); active when xmpp_host is set */
	char xmpp_ca_file[PATH_MAX]; /* "xmpp_ca_file": PEM CA for the server's certificate */
	bool xmpp_allow_plaintext;   /* "xmpp_allow_plaintext": STARTTLS optional (default false) */
	unsigned xmpp_keepalive_ms;  /* "xmpp_keepalive" seconds: XEP-0199 ping when idle; 0 = 30 */
	enum ipop_group group;       /* "group": "muc" (default) or "roster" */
	char muc_room[512];          /* "muc_room"; default derived (docs/configuration.md) */
	struct net_endpoint *static_candidates; /* "static_candidates": ["ip:port", ...] */
	unsigned nstatic_candidates;
	struct ipop_turn_conf *turn; /* TincanSender.turn */
	unsigned nturn;
	/* "advertise_routes" (L3 mode): subnets behind us, sent in our presence;
	 * the other gateways route them to us (docs/signalling.md) */
	struct net_prefix advertise_routes[IPOP_ADVERTISE_ROUTES_MAX];
	unsigned n_advertise_routes;

	/* Operations (config_ops.c) */
	char user[33];                       /* "user": drop to this account after setup */
	bool http_enabled;                   /* "http_listen" set: /metrics and the live page */
	struct net_endpoint http_listen;
	char xmpp_password_file[PATH_MAX];   /* where xmpp_password came from ("" = inline) */
	/* Every secret file read (key_file, psk_file, xmpp_password_file): a
	 * privilege drop hands them to ipopd.user so reloads can read them. */
	char (*secret_files)[PATH_MAX];
	unsigned nsecret_files;
};

/* Command-line overrides applied before validation. */
struct ipop_config_overrides {
	const char *tap;         /* --tap NAME */
	const char *mgmt_socket; /* --socket PATH */
};

/* Loads and validates. On error returns -1 with one line in err. Warnings
 * (keys with no meaning here) are written with log_warn. */
int ipop_config_load(const char *path, const struct ipop_config_overrides *ov,
		     struct ipop_config *out, char *err, size_t errlen);
/* Same from a string (fuzzing, tests); `name` is used in messages. */
int ipop_config_load_string(const char *name, const char *text,
			    const struct ipop_config_overrides *ov, struct ipop_config *out,
			    char *err, size_t errlen);
void ipop_config_free(struct ipop_config *c);
/* The effective settings, as `ipopd --check` prints them (no secrets). */
void ipop_config_print(const struct ipop_config *c, FILE *f);

/* Node id and ULA from a virtual IPv4 (network order), as IPOP derived them. */
void ipop_node_id(uint32_t ip4_be, uint8_t id[20]);
void ipop_ula_from_id(const uint8_t id[20], uint8_t ip6[16]);
/* Why a prefix may not be routed into the overlay behind a gateway, or NULL:
 * host bits set, /0, IPv4 written as v4-mapped IPv6, or overlapping
 * 0.0.0.0/8, 127.0.0.0/8, 224.0.0.0/3, ::/8, fe80::/10, ff00::/8 or the
 * overlay's ULA prefix fd50:dbc:41f2:4a3c::/64. Used for the config's
 * advertise_routes and for the routes in members' presences (sigmsg.h). */
const char *ipop_route_invalid(const struct net_prefix *p);
