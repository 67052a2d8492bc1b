/* ipopctl init: a new overlay member in one command.
 *
 *   ipopctl init NAME --xmpp-user USER@DOMAIN --xmpp-server HOST[:PORT]
 *                --address A.B.C.D/LEN [--mode l3|switch] [--bridge BR] ...
 *
 * Writes DIR/NAME.json (0640, group of --user so the daemon can re-read it
 * on reload) with no secret in it, and the XMPP password, read from stdin
 * (prompted without echo on a terminal), to DIR/NAME.xmpp-password (0600,
 * owned by --user), which the config names as ipopd.xmpp_password_file.
 * Refuses to replace existing files without --force. Prints the next
 * command. DIR is /etc/ipopd unless --dir says otherwise (tests).
 */
#include "app/ipopctl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <jansson.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

struct init_opts {
	const char *name, *xmpp_user, *xmpp_server, *address, *mode, *bridge, *dir, *state_base,
	    *user, *http, *stun, *ca_file, *tap;
	unsigned port, xmpp_port;
	bool force;
};

static void init_usage(FILE *f)
{
	fprintf(
	    f, "usage: ipopctl init NAME --xmpp-user USER@DOMAIN --xmpp-server HOST[:PORT]\n"
	       "                    --address A.B.C.D/LEN [options]\n"
	       "\n"
	       "Writes DIR/NAME.json and DIR/NAME.xmpp-password (the password is read from\n"
	       "stdin, or prompted for on a terminal) and prints the command that starts it.\n"
	       "\n"
	       "  -u, --xmpp-user JID      the overlay's XMPP account (user@domain)\n"
	       "  -x, --xmpp-server HOST   XMPP server, HOST or HOST:PORT (default port 5222)\n"
	       "  -a, --address A/LEN      this member's overlay address and mask (10.254.0.1/24)\n"
	       "  -m, --mode MODE          l3 (default) or switch\n"
	       "  -b, --bridge BR          switch mode: bridge the TAP into BR (e.g. lxcbr0)\n"
	       "  -p, --port PORT          underlay UDP port (default 5800)\n"
	       "  -t, --tap NAME           TAP name (default: NAME)\n"
	       "      --stun HOST:PORT     a STUN server (IP:PORT)\n"
	       "      --ca-file PEM        CA of the XMPP server's certificate\n"
	       "      --http ADDR:PORT     /metrics and live page listener (default\n"
	       "                           127.0.0.1:9474; \"\" for none)\n"
	       "      --user ACCOUNT       account ipopd runs as (default ipopd)\n"
	       "  -d, --dir DIR            where the files go (default /etc/ipopd)\n"
	       "      --state-base DIR     state directories live in DIR/NAME (default\n"
	       "                           /var/lib/ipopd)\n"
	       "  -f, --force              replace existing files\n");
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 15 || s[0] == '-' || s[0] == '.')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return false;
	return true;
}

/* One line from stdin; without echo when it is a terminal. */
static int read_password(char *buf, size_t len)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	if (tty) {
		fprintf(stderr, "XMPP password: ");
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	char *r = fgets(buf, (int)len, stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (!r)
		return -EIO;
	buf[strcspn(buf, "\r\n")] = 0;
	return buf[0] ? 0 : -EINVAL;
}

/* Writes data to path through a temporary file: mode, owner, then rename. */
static int write_file(const char *path, const char *data, size_t len, mode_t mode, uid_t uid,
		      gid_t gid, bool force)
{
	char tmp[PATH_MAX];
	struct stat st;
	if (!force && lstat(path, &st) == 0) {
		fprintf(stderr, "ipopctl init: %s exists (--force replaces it)\n", path);
		return -EEXIST;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		fprintf(stderr, "ipopctl init: cannot create %s: %s\n", tmp, strerror(errno));
		return -errno;
	}
	int rc = 0;
	if (fchmod(fd, mode) < 0 || (uid != (uid_t)-1 && fchown(fd, uid, gid) < 0) ||
	    write(fd, data, len) != (ssize_t)len || fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc) {
		fprintf(stderr, "ipopctl init: cannot write %s: %s\n", path, strerror(-rc));
		unlink(tmp);
	}
	return rc;
}

static int parse_address(const char *s, char *ip, size_t iplen, unsigned *mask)
{
	const char *slash = strchr(s, '/');
	struct in_addr a;
	char buf[INET_ADDRSTRLEN];
	if (!slash || (size_t)(slash - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = 0;
	char *end;
	unsigned long m = strtoul(slash + 1, &end, 10);
	if (inet_pton(AF_INET, buf, &a) != 1 || *end || m < 8 || m > 30)
		return -EINVAL;
	snprintf(ip, iplen, "%s", buf);
	*mask = (unsigned)m;
	return 0;
}

static json_t *build_config(const struct init_opts *o, const char *ip, unsigned mask,
			    const char *host, const char *pass_file)
{
	bool sw = !strcmp(o->mode, "switch");
	char state[PATH_MAX];
	snprintf(state, sizeof(state), "%s/%s", o->state_base, o->name);
	json_t *ts = json_pack("{s:i, s:i}", "switchmode", sw, "svpn_port", (int)o->port);
	if (ts && o->stun)
		json_object_set_new(ts, "stun", json_pack("[s]", o->stun));
	json_t *ip_sec = json_pack("{s:s, s:s, s:s, s:s}", "tap", o->tap ? o->tap : o->name, "user",
				   o->user, "state_dir", state, "xmpp_password_file", pass_file);
	if (ip_sec && o->bridge)
		json_object_set_new(ip_sec, "bridge", json_string(o->bridge));
	if (ip_sec && o->http[0])
		json_object_set_new(ip_sec, "http_listen", json_string(o->http));
	if (ip_sec && o->ca_file)
		json_object_set_new(ip_sec, "xmpp_ca_file", json_string(o->ca_file));
	return json_pack("{s:{s:s, s:i, s:s, s:s, s:i}, s:{s:s}, s:o, s:{s:s}, s:o}", "CFx",
			 "vpn_type", "GroupVPN", "ip4_mask", (int)mask, "xmpp_username",
			 o->xmpp_user, "xmpp_host", host, "xmpp_port", (int)o->xmpp_port, "Logger",
			 "controller_logging", "INFO", "TincanSender", ts, "BaseTopologyManager",
			 "ip4", ip, "ipopd", ip_sec);
}

static int parse_opts(int argc, char **argv, struct init_opts *o)
{
	static const struct option lo[] = {
	    {"xmpp-user", required_argument, NULL, 'u'},
	    {"xmpp-server", required_argument, NULL, 'x'},
	    {"address", required_argument, NULL, 'a'},
	    {"mode", required_argument, NULL, 'm'},
	    {"bridge", required_argument, NULL, 'b'},
	    {"port", required_argument, NULL, 'p'},
	    {"tap", required_argument, NULL, 't'},
	    {"stun", required_argument, NULL, 'S'},
	    {"ca-file", required_argument, NULL, 'C'},
	    {"http", required_argument, NULL, 'H'},
	    {"user", required_argument, NULL, 'U'},
	    {"dir", required_argument, NULL, 'd'},
	    {"state-base", required_argument, NULL, 'B'},
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "u:x:a:m:b:p:t:d:fh", lo, NULL)) != -1) {
		switch (ch) {
		case 'u':
			o->xmpp_user = optarg;
			break;
		case 'x':
			o->xmpp_server = optarg;
			break;
		case 'a':
			o->address = optarg;
			break;
		case 'm':
			o->mode = optarg;
			break;
		case 'b':
			o->bridge = optarg;
			break;
		case 'p':
			o->port = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 't':
			o->tap = optarg;
			break;
		case 'S':
			o->stun = optarg;
			break;
		case 'C':
			o->ca_file = optarg;
			break;
		case 'H':
			o->http = optarg;
			break;
		case 'U':
			o->user = optarg;
			break;
		case 'd':
			o->dir = optarg;
			break;
		case 'B':
			o->state_base = optarg;
			break;
		case 'f':
			o->force = true;
			break;
		case 'h':
			init_usage(stdout);
			exit(0);
		default:
			init_usage(stderr);
			return -EINVAL;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "ipopctl init: one NAME expected\n");
		init_usage(stderr);
		return -EINVAL;
	}
	o->name = argv[optind];
	const char *missing = !o->xmpp_user	? "--xmpp-user"
			      : !o->xmpp_server ? "--xmpp-server"
			      : !o->address	? "--address"
						: NULL;
	if (missing) {
		fprintf(stderr, "ipopctl init: %s is required\n", missing);
		return -EINVAL;
	}
	if (!name_ok(o->name) || (o->tap && !name_ok(o->tap))) {
		fprintf(stderr,
			"ipopctl init: NAME and --tap: 1..15 of [A-Za-z0-9_-] (a TAP name)\n");
		return -EINVAL;
	}
	if (strcmp(o->mode, "l3") && strcmp(o->mode, "switch")) {
		fprintf(stderr, "ipopctl init: --mode is l3 or switch, not '%s'\n", o->mode);
		return -EINVAL;
	}
	if (o->bridge && strcmp(o->mode, "switch")) {
		fprintf(stderr, "ipopctl init: --bridge goes with --mode switch\n");
		return -EINVAL;
	}
	if (!o->port || o->port > 65535 || !strchr(o->xmpp_user, '@')) {
		fprintf(stderr, "ipopctl init: --port 1..65535, --xmpp-user user@domain\n");
		return -EINVAL;
	}
	return 0;
}

int ipopctl_init_main(int argc, char **argv)
{
	struct init_opts o = {.mode = "l3",
			      .dir = "/etc/ipopd",
			      .state_base = "/var/lib/ipopd",
			      .user = "ipopd",
			      .http = "127.0.0.1:9474",
			      .port = 5800,
			      .xmpp_port = 5222};
	if (parse_opts(argc, argv, &o))
		return 2;
	char ip[INET_ADDRSTRLEN], host[256];
	unsigned mask;
	if (parse_address(o.address, ip, sizeof(ip), &mask)) {
		fprintf(stderr, "ipopctl init: --address A.B.C.D/LEN (LEN 8..30), not '%s'\n",
			o.address);
		return 2;
	}
	snprintf(host, sizeof(host), "%s", o.xmpp_server);
	char *colon = strrchr(host, ':');
	if (colon && !strchr(colon + 1, ']')) {
		char *end;
		unsigned long p = strtoul(colon + 1, &end, 10);
		if (*end || !p || p > 65535) {
			fprintf(stderr, "ipopctl init: --xmpp-server HOST[:PORT], not '%s'\n",
				o.xmpp_server);
			return 2;
		}
		o.xmpp_port = (unsigned)p;
		*colon = 0;
	}
	/* The account the daemon runs as owns the password; root keeps the
	 * config, readable by the account's group. */
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	struct passwd *pw = getpwnam(o.user);
	if (pw) {
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	} else {
		fprintf(stderr,
			"ipopctl init: warning: no account '%s' yet: the files stay owned by "
			"you (create it, then chown the password file to it)\n",
			o.user);
	}
	if (mkdir(o.dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "ipopctl init: cannot create %s: %s\n", o.dir, strerror(errno));
		return 1;
	}
	char cfg_path[PATH_MAX], pass_path[PATH_MAX], pass_name[64], pass[260];
	snprintf(cfg_path, sizeof(cfg_path), "%s/%s.json", o.dir, o.name);
	snprintf(pass_name, sizeof(pass_name), "%s.xmpp-password", o.name);
	snprintf(pass_path, sizeof(pass_path), "%s/%s", o.dir, pass_name);
	struct stat st;
	if (!o.force && (lstat(cfg_path, &st) == 0 || lstat(pass_path, &st) == 0)) {
		fprintf(stderr, "ipopctl init: %s or %s exists (--force replaces them)\n", cfg_path,
			pass_path);
		return 1;
	}
	if (read_password(pass, sizeof(pass) - 1)) {
		fprintf(stderr, "ipopctl init: no password on stdin\n");
		return 1;
	}
	size_t pl = strlen(pass);
	pass[pl] = '\n';
	int rc = write_file(pass_path, pass, pl + 1, 0600, uid, gid, o.force);
	explicit_bzero(pass, sizeof(pass));
	if (rc)
		return 1;
	json_t *cfg = build_config(&o, ip, mask, host, pass_name);
	char *text = cfg ? json_dumps(cfg, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(cfg);
	if (!text) {
		fprintf(stderr, "ipopctl init: out of memory\n");
		return 1;
	}
	size_t tl = strlen(text);
	char *withnl = realloc(text, tl + 2);
	if (!withnl) {
		free(text);
		return 1;
	}
	withnl[tl] = '\n';
	withnl[tl + 1] = 0;
	rc = write_file(cfg_path, withnl, tl + 1, 0640, uid == (uid_t)-1 ? (uid_t)-1 : 0, gid,
			o.force);
	free(withnl);
	if (rc)
		return 1;
	printf("wrote %s (0640) and %s (0600)\n", cfg_path, pass_path);
	printf("check it:  ipopd -c %s --check\n", cfg_path);
	if (!strcmp(o.dir, "/etc/ipopd"))
		printf("start it:  systemctl enable --now ipopd@%s\n", o.name);
	else
		printf("start it:  ipopd -c %s\n", cfg_path);
	return 0;
}
