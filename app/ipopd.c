/* ipopd: one IP-over-P2P overlay instance.
 *
 *   ipopd -c CONFIG [--tap NAME] [--socket PATH] [--check | --show-pubkey] [-v]
 *
 * Runs in the foreground until SIGINT/SIGTERM; SIGHUP reloads the config.
 * After setup it drops to ipopd.user with CAP_NET_ADMIN only (privdrop.h)
 * and tells systemd it is ready (sdnotify.h; Type=notify units).
 * --check loads and validates the config, prints the effective settings and
 * exits without touching the system. --show-pubkey prints the node's public
 * key (creating node.key in the state directory on first use) and exits.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/config/config.h"
#include "control/core/ctl.h"
#include "control/link/identity.h"
#include "control/mgmt/http.h"
#include "control/mgmt/mgmt.h"
#include "control/mgmt/privdrop.h"
#include "control/mgmt/sdnotify.h"
#include "util/log.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: ipopd -c CONFIG [options]\n"
		   "\n"
		   "  -c, --config FILE   IPOP controller config (JSON)\n"
		   "  -t, --tap NAME      TAP interface name (overrides the config)\n"
		   "  -s, --socket PATH   management socket (overrides the config)\n"
		   "      --check         validate the config, print the effective settings, exit\n"
		   "      --show-pubkey   print this node's public key (base64) and exit; creates\n"
		   "                      the key pair in the state directory on first use\n"
		   "  -v, --verbose       debug logging\n"
		   "  -f, --foreground    run in the foreground (the default; accepted for\n"
		   "                      compatibility)\n"
		   "  -V, --version       print the version\n"
		   "  -h, --help          this text\n"
		   "\n"
		   "Signals: SIGINT/SIGTERM stop, SIGHUP reloads the config.\n");
}

/* The public key only: what the other sites put in their configs. */
static int show_public_key(const struct ipop_config_overrides *ov, const char *path)
{
	struct ipop_config cfg;
	struct ipop_identity id;
	char err[1024], b64[IPOP_KEY_B64_LEN + 1];
	int rc;

	if (ipop_config_load(path, ov, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	rc = ipop_identity_load(cfg.state_dir, &id, err, sizeof(err));
	ipop_config_free(&cfg);
	if (rc < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	ipop_key_to_base64(id.pub, b64);
	ipop_identity_wipe(&id);
	printf("%s\n", b64);
	return fflush(stdout) ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'}, {"tap", required_argument, NULL, 't'},
	    {"socket", required_argument, NULL, 's'}, {"check", no_argument, NULL, 'C'},
	    {"show-pubkey", no_argument, NULL, 'P'},  {"verbose", no_argument, NULL, 'v'},
	    {"foreground", no_argument, NULL, 'f'},   {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},	      {NULL, 0, NULL, 0},
	};
	struct ctl_options opt = {0};
	bool check = false, show_pubkey = false;
	int ch;
	while ((ch = getopt_long(argc, argv, "c:t:s:vfVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			opt.config_path = optarg;
			break;
		case 't':
			opt.ov.tap = optarg;
			break;
		case 's':
			opt.ov.mgmt_socket = optarg;
			break;
		case 'C':
			check = true;
			break;
		case 'P':
			show_pubkey = true;
			break;
		case 'v':
			opt.verbose = true;
			break;
		case 'f':
			break;
		case 'V':
			printf("ipopd %s\n", IPOPD_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ipopd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (!opt.config_path) {
		fprintf(stderr, "ipopd: a config file is required (-c CONFIG)\n");
		usage(stderr);
		return 2;
	}
	if (check && show_pubkey) {
		fprintf(stderr, "ipopd: --check and --show-pubkey exclude each other\n");
		return 2;
	}
	if (opt.verbose)
		log_set_level(LOG_DEBUG);

	char err[1024] = "";
	if (check) {
		struct ipop_config cfg;
		if (ipop_config_load(opt.config_path, &opt.ov, &cfg, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		ipop_config_print(&cfg, stdout);
		ipop_config_free(&cfg);
		return 0;
	}
	if (show_pubkey)
		return show_public_key(&opt.ov, opt.config_path);

	/* Before any thread exists, so every worker inherits the mask and the
	 * signals only ever arrive through the control core's signalfd. */
	ctl_block_signals(NULL);
	signal(SIGPIPE, SIG_IGN);

	static struct ctl c;
	static struct ctl_mgmt mgmt;
	static struct ctl_http http;
	static struct ctl_sd sd;
	opt.ext[0] = (struct ctl_ext){.ops = &ctl_mgmt_ext_ops, .obj = &mgmt};
	opt.ext[1] = (struct ctl_ext){.ops = &ctl_http_ext_ops, .obj = &http};
	opt.ext[2] = (struct ctl_ext){.ops = &ctl_sd_ext_ops, .obj = &sd};
	int rc = ctl_init(&c, &opt, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "%s\n", err[0] ? err : strerror(-rc));
		return 1;
	}
	/* Everything that needs privilege is done: TAP, sockets, bridge,
	 * first routes, the management socket and the HTTP listener. */
	rc = ctl_privdrop(&c, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "%s\n", err);
		ctl_fini(&c);
		return 1;
	}
	char status[160];
	snprintf(status, sizeof(status), "running: tap %s, port %u, %u link%s", c.backend.host_name,
		 c.cfg.port, c.peers.n, c.peers.n == 1 ? "" : "s");
	ctl_sd_ready(status);
	rc = ctl_run(&c);
	ctl_fini(&c);
	return rc < 0 ? 1 : 0;
}
