/* ipopctl: asks a running ipopd over its management socket.
 *
 *   ipopctl [-s SOCKET | -i TAP] status|peers|stats|links|key|sas|xmpp [--json] [--export]
 *   ipopctl init NAME ...          (ipopctl_init.c)
 *
 * Without -s and -i it asks the one instance running (ipopctl_find.c).
 * Sends {"cmd":...} as one line, reads one JSON object back and prints it
 * verbatim (--json) or as a table. `sas --export` prints the live SAs in
 * tshark's esp_sa form (the daemon refuses unless its config allows it).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "app/ipopctl.h"

#define DEFAULT_RUN_DIR IPOPCTL_RUN_DIR
#define TIMEOUT_MS	5000
#define RESPONSE_MAX	(16u << 20)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ipopctl [-s SOCKET | -i TAP] COMMAND [--json]\n"
		"       ipopctl init NAME --xmpp-user JID --xmpp-server HOST --address A/LEN ...\n"
		"\n"
		"commands: status, peers, stats, links, key (our public key),\n"
		"          sas [--export] (live SAs; --export: tshark esp_sa lines with keys),\n"
		"          xmpp (signalling session, members, STUN, discovery counters)\n"
		"\n"
		"  -s, --socket PATH  management socket (default: the one instance running,\n"
		"                     found in " DEFAULT_RUN_DIR ")\n"
		"  -i, --interface T  the instance whose TAP is T (" DEFAULT_RUN_DIR "/T.sock)\n"
		"  -j, --json         print the daemon's JSON answer as it is\n"
		"  -e, --export       sas: include the keys (needs ipopd.key_export)\n"
		"  -V, --version      print the version\n"
		"  -h, --help         this text\n");
}

static long long remaining_ms(const struct timespec *deadline)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000LL +
	       (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

static int wait_fd(int fd, short events, const struct timespec *deadline)
{
	for (;;) {
		long long ms = remaining_ms(deadline);
		if (ms <= 0)
			return -ETIMEDOUT;
		struct pollfd p = {.fd = fd, .events = events};
		int n = poll(&p, 1, (int)ms);
		if (n > 0)
			return 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/* Returns the response (malloc'd, NUL-terminated) or NULL with a message on
 * stderr. */
static char *request(const char *path, const char *req_line)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "ipopctl: socket path too long: %s\n", path);
		return NULL;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("ipopctl: socket");
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;
		fprintf(stderr, "ipopctl: cannot connect to %s: %s%s\n", path, strerror(e),
			e == ENOENT || e == ECONNREFUSED ? " (is ipopd running? try -s or -i)"
							 : "");
		close(fd);
		return NULL;
	}
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += TIMEOUT_MS / 1000;

	char req[128];
	int rl = snprintf(req, sizeof(req), "%s\n", req_line);
	if (rl <= 0 || (size_t)rl >= sizeof(req) || send(fd, req, (size_t)rl, MSG_NOSIGNAL) != rl) {
		fprintf(stderr, "ipopctl: cannot send to %s: %s\n", path, strerror(errno));
		close(fd);
		return NULL;
	}
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	while (buf) {
		int err = wait_fd(fd, POLLIN, &deadline);
		if (err) {
			fprintf(stderr, "ipopctl: no answer from %s: %s\n", path, strerror(-err));
			goto fail;
		}
		if (len + 1 >= cap) {
			if (cap >= RESPONSE_MAX) {
				fprintf(stderr, "ipopctl: answer too long\n");
				goto fail;
			}
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				goto fail;
			buf = nb;
			cap *= 2;
		}
		ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "ipopctl: read from %s: %s\n", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (!buf) {
		fprintf(stderr, "ipopctl: out of memory\n");
		close(fd);
		return NULL;
	}
	close(fd);
	buf[len] = 0;
	if (len == 0) {
		fprintf(stderr, "ipopctl: %s closed the connection without an answer\n", path);
		free(buf);
		return NULL;
	}
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

/* ---- readable output ---------------------------------------------------- */

static void print_scalar(const json_t *v)
{
	if (json_is_string(v))
		fputs(json_string_value(v), stdout);
	else if (json_is_integer(v))
		printf("%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		printf("%g", json_real_value(v));
	else if (json_is_true(v))
		fputs("true", stdout);
	else if (json_is_false(v))
		fputs("false", stdout);
	else if (json_is_null(v))
		fputs("-", stdout);
	else {
		char *s = json_dumps(v, JSON_COMPACT);
		fputs(s ? s : "?", stdout);
		free(s);
	}
}

/* The backend's ports (one line each, counters as name=value) and the
 * workers' cycles per packet. */
static void print_backend(const json_t *b)
{
	size_t i;
	const json_t *p, *w;
	printf("backend mode: %s\n", json_string_value(json_object_get(b, "mode")));
	printf("%-12s %-7s %6s  %-22s %s\n", "PORT", "KIND", "QUEUES", "MODE", "COUNTERS");
	json_array_foreach(json_object_get(b, "ports"), i, p)
	{
		const char *key;
		const json_t *v;
		printf("%-12s %-7s %6lld  %-22s", json_string_value(json_object_get(p, "name")),
		       json_string_value(json_object_get(p, "kind")),
		       (long long)json_integer_value(json_object_get(p, "queues")),
		       json_string_value(json_object_get(p, "mode")));
		json_object_foreach((json_t *)json_object_get(p, "counters"), key, v)
		    printf(" %s=%lld", key, (long long)json_integer_value(v));
		putchar('\n');
	}
	printf("%-6s %14s %16s\n", "WORKER", "PACKETS", "CYCLES/PACKET");
	json_array_foreach(json_object_get(b, "workers"), i, w)
	{
		const json_t *cpp = json_object_get(w, "cycles_per_packet");
		printf("%-6lld %14lld ", (long long)json_integer_value(json_object_get(w, "id")),
		       (long long)json_integer_value(json_object_get(w, "packets")));
		if (json_is_integer(cpp))
			printf("%16lld\n", (long long)json_integer_value(cpp));
		else
			printf("%16s\n", "-");
	}
}

static void print_status(const json_t *o)
{
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)o, key, v)
	{
		if (!strcmp(key, "backend_status"))
			continue;
		printf("%s: ", key);
		print_scalar(v);
		putchar('\n');
	}
	const json_t *b = json_object_get(o, "backend_status");
	if (json_is_object(b))
		print_backend(b);
}

static const char *str_or(const json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : dflt;
}

static long long int_of(const json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

static void print_peers(const json_t *o)
{
	const json_t *arr = json_object_get(o, "peers");
	printf("%-16s %-24s %-5s %-10s %-10s %12s %12s %9s %7s\n", "NAME", "ENDPOINT", "STATE",
	       "SPI_IN", "SPI_OUT", "TX", "RX", "AUTH_FAIL", "REPLAY");
	size_t i;
	const json_t *p;
	json_array_foreach(arr, i, p)
	{
		printf("%-16s %-24s %-5s %-10s %-10s %12lld %12lld %9lld %7lld\n",
		       str_or(p, "name", "?"), str_or(p, "endpoint", "-"), str_or(p, "state", "?"),
		       str_or(p, "spi_in", "-"), str_or(p, "spi_out", "-"), int_of(p, "tx_packets"),
		       int_of(p, "rx_packets"), int_of(p, "auth_fail"), int_of(p, "replay"));
	}
	if (json_array_size(arr) == 0)
		printf("(no peers)\n");
}

static void print_age(const json_t *v)
{
	if (json_is_integer(v))
		printf(" %9llds", (long long)json_integer_value(v));
	else
		printf(" %10s", "-");
}

static void print_links(const json_t *o)
{
	const json_t *arr = json_object_get(o, "links");
	printf("%-16s %-10s %-6s %-24s %-10s %-10s %10s %10s %10s %6s %6s %7s\n", "NAME", "STATE",
	       "KEYING", "ENDPOINT", "SPI_IN", "SPI_OUT", "KEY_AGE", "LAST_HS", "PACKETS", "HS",
	       "REKEYS", "SRTT");
	size_t i;
	const json_t *l;
	json_array_foreach(arr, i, l)
	{
		printf("%-16s %-10s %-6s %-24s %-10s %-10s", str_or(l, "name", "?"),
		       str_or(l, "state", "?"), str_or(l, "keying", "?"),
		       str_or(l, "endpoint", "-"), str_or(l, "spi_in", "-"),
		       str_or(l, "spi_out", "-"));
		print_age(json_object_get(l, "key_age_s"));
		print_age(json_object_get(l, "last_handshake_s"));
		printf(" %10lld %6lld %6lld", int_of(l, "packets_since_handshake"),
		       int_of(l, "handshakes"), int_of(l, "rekeys"));
		const json_t *srtt = json_object_get(l, "srtt_ms");
		if (json_is_integer(srtt))
			printf(" %5lldms\n", (long long)json_integer_value(srtt));
		else
			printf(" %7s\n", "-");
		const json_t *cert = json_object_get(l, "cert");
		if (json_is_object(cert)) {
			time_t na = (time_t)int_of(cert, "not_after");
			char exp[32];
			strftime(exp, sizeof(exp), "%Y-%m-%d %H:%M UTC", gmtime(&na));
			printf("  cert: %s, serial %s, expires %s%s\n",
			       str_or(cert, "subject", "?"), str_or(cert, "serial", "?"), exp,
			       json_is_true(json_object_get(cert, "expires_soon"))
				   ? " (EXPIRES SOON)"
				   : "");
		}
		const json_t *pair = json_object_get(l, "pair");
		if (!json_is_object(pair))
			continue;
		printf("  pair: local %s", str_or(pair, "local", "-"));
		if (json_is_string(json_object_get(pair, "local_mapped")))
			printf(" (mapped %s)", str_or(pair, "local_mapped", "-"));
		printf(" -> remote %s (%s): %s\n", str_or(pair, "remote", "-"),
		       str_or(pair, "remote_type", "?"), str_or(pair, "why", "?"));
		size_t k;
		const json_t *cd;
		json_array_foreach(json_object_get(l, "candidates"), k, cd) printf(
		    "  candidate: %-6s %s\n", str_or(cd, "type", "?"), str_or(cd, "addr", "-"));
	}
	if (json_array_size(arr) == 0)
		printf("(no links)\n");
}

static void print_counters(const json_t *o, const char *title)
{
	const char *key;
	const json_t *v;
	if (!json_is_object(o))
		return;
	printf("%s:", title);
	json_object_foreach((json_t *)o, key, v)
	    printf(" %s=%lld", key, (long long)json_integer_value(v));
	putchar('\n');
}

static void print_xmpp(const json_t *o)
{
	const json_t *x = json_object_get(o, "xmpp");
	size_t i;
	const json_t *m, *s;
	if (!json_is_true(json_object_get(x, "enabled")))
		printf("xmpp: off (no CFx.xmpp_host)\n");
	else {
		printf("state: %s%s\n", str_or(x, "state", "?"),
		       json_is_true(json_object_get(x, "secured")) ? " (TLS)" : "");
		printf("server: %s:%lld\naccount: %s\nbound_jid: %s\n", str_or(x, "server", "?"),
		       int_of(x, "port"), str_or(x, "account", "?"), str_or(x, "bound_jid", "-"));
		printf("group: %s %s%s\n", str_or(x, "group", "?"), str_or(x, "room", ""),
		       json_is_true(json_object_get(x, "in_group")) ? " (joined)" : "");
		printf("%-40s %-15s %-44s %-12s %s\n", "MEMBER", "IP4", "PUBLIC_KEY", "LINK",
		       "JID");
		json_array_foreach(json_object_get(x, "members"), i, m)
		    printf("%-40s %-15s %-44s %-12s %s\n", str_or(m, "node_id", "?"),
			   str_or(m, "ip4", "-"), str_or(m, "public_key", "?"),
			   str_or(m, "link", "?"), str_or(m, "jid", "?"));
		print_counters(json_object_get(x, "counters"), "xmpp");
	}
	json_array_foreach(json_object_get(x, "stun"), i, s)
	    printf("stun %s: mapped %s\n", str_or(s, "server", "?"), str_or(s, "mapped", "-"));
	print_counters(json_object_get(x, "discovery"), "discovery");
	const json_t *turn = json_object_get(x, "turn");
	json_array_foreach(json_object_get(turn, "servers"), i, s)
	{
		const json_t *ch;
		size_t k, bound = 0;
		json_array_foreach(json_object_get(s, "channels"), k, ch) bound +=
		    json_is_true(json_object_get(ch, "bound"));
		printf("turn %s: %s, relayed %s, %zu permission(s), %zu channel(s) bound\n",
		       str_or(s, "server", "?"), str_or(s, "state", "?"), str_or(s, "relayed", "-"),
		       json_array_size(json_object_get(s, "permissions")), bound);
	}
	if (json_array_size(json_object_get(turn, "servers")))
		print_counters(json_object_get(turn, "counters"), "turn");
}

static void print_sas(const json_t *o, bool export)
{
	size_t i;
	const json_t *v;
	if (export) {
		json_array_foreach(json_object_get(o, "esp_sa"), i, v) puts(json_string_value(v));
		return;
	}
	printf("%-16s %-8s %-3s %-10s %12s %14s\n", "LINK", "SESSION", "DIR", "SPI", "PACKETS",
	       "BYTES");
	json_array_foreach(json_object_get(o, "sas"), i, v)
	{
		printf("%-16s %-8s %-3s %-10s %12lld %14lld\n", str_or(v, "link", "?"),
		       str_or(v, "session", "?"), str_or(v, "dir", "?"), str_or(v, "spi", "?"),
		       int_of(v, "packets"), int_of(v, "bytes"));
	}
}

static void print_handshake(const json_t *h)
{
	if (!json_is_object(h))
		return;
	printf("handshake:\n");
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)h, key, v)
	    printf("  %-24s %lld\n", key, (long long)json_integer_value(v));
}

static void print_drops(const json_t *drops, const char *indent)
{
	const char *key;
	const json_t *v;
	bool any = false;
	json_object_foreach((json_t *)drops, key, v)
	{
		if (json_integer_value(v) == 0)
			continue;
		printf("%s%-20s %lld\n", indent, key, (long long)json_integer_value(v));
		any = true;
	}
	if (!any)
		printf("%s(none)\n", indent);
}

static void print_stats(const json_t *o)
{
	const json_t *t = json_object_get(o, "total");
	printf("total:\n");
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)t, key, v)
	{
		if (json_is_object(v))
			continue;
		printf("  %-18s %lld\n", key, (long long)json_integer_value(v));
	}
	printf("  drops:\n");
	print_drops(json_object_get(t, "drops"), "    ");
	printf("fdb_entries: %lld\npunted: %lld\n", int_of(o, "fdb_entries"), int_of(o, "punted"));
	print_handshake(json_object_get(o, "handshake"));
	size_t i;
	const json_t *w;
	json_array_foreach(json_object_get(o, "workers"), i, w)
	{
		const json_t *d = json_object_get(w, "drops");
		long long ndrops = 0;
		json_object_foreach((json_t *)d, key, v) ndrops += json_integer_value(v);
		printf("worker %lld: host rx %lld tx %lld, net rx %lld tx %lld, punted %lld, "
		       "tables %lld, drops %lld\n",
		       int_of(w, "id"), int_of(w, "host_rx_packets"), int_of(w, "host_tx_packets"),
		       int_of(w, "net_rx_packets"), int_of(w, "net_tx_packets"),
		       int_of(w, "punted"), int_of(w, "tables"), ndrops);
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"interface", required_argument, NULL, 'i'},
	    {"json", no_argument, NULL, 'j'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {"export", no_argument, NULL, 'e'},
	    {NULL, 0, NULL, 0},
	};
	const char *sock = NULL, *tap = NULL;
	bool json = false, export = false;
	int ch;
	if (argc > 1 && !strcmp(argv[1], "init"))
		return ipopctl_init_main(argc - 1, argv + 1);
	while ((ch = getopt_long(argc, argv, "s:i:jeVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			sock = optarg;
			break;
		case 'i':
			tap = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'e':
			export = true;
			break;
		case 'V':
			printf("ipopctl %s\n", IPOPD_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[optind];
	static const char *const cmds[] = {"status", "peers", "stats", "links",
					   "key",    "sas",   "xmpp"};
	bool known = false;
	for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++)
		known |= strcmp(cmd, cmds[k]) == 0;
	if (!known) {
		fprintf(stderr,
			"ipopctl: unknown command '%s' (status, peers, stats, links, key, sas, "
			"xmpp)\n",
			cmd);
		return 2;
	}
	if (export && strcmp(cmd, "sas") != 0) {
		fprintf(stderr, "ipopctl: --export goes with sas\n");
		return 2;
	}
	if (sock && tap) {
		fprintf(stderr, "ipopctl: -s and -i are exclusive\n");
		return 2;
	}
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 64];
	if (tap) {
		if (!tap[0] || strchr(tap, '/')) {
			fprintf(stderr, "ipopctl: bad interface name '%s'\n", tap);
			return 2;
		}
		snprintf(path, sizeof(path), DEFAULT_RUN_DIR "/%s.sock", tap);
		sock = path;
	}
	if (!sock) {
		int err = ipopctl_find_instance(path, sizeof(path));
		if (err)
			return err == -EEXIST ? 2 : 1;
		sock = path;
	}

	char line[96];
	snprintf(line, sizeof(line), "{\"cmd\":\"%s\"%s}", cmd, export ? ",\"export\":true" : "");
	char *res = request(sock, line);
	if (!res)
		return 1;
	json_error_t jerr;
	json_t *o = json_loads(res, 0, &jerr);
	if (!json_is_object(o)) {
		fprintf(stderr, "ipopctl: malformed answer from %s: %s\n", sock,
			o ? "not an object" : jerr.text);
		json_decref(o);
		free(res);
		return 1;
	}
	const char *error = json_string_value(json_object_get(o, "error"));
	if (error) {
		fprintf(stderr, "ipopctl: ipopd says: %s\n", error);
		json_decref(o);
		free(res);
		return 1;
	}
	if (json)
		fputs(res, stdout);
	else if (strcmp(cmd, "status") == 0)
		print_status(o);
	else if (strcmp(cmd, "peers") == 0)
		print_peers(o);
	else if (strcmp(cmd, "links") == 0)
		print_links(o);
	else if (strcmp(cmd, "key") == 0)
		printf("%s\n", str_or(o, "public_key", "?"));
	else if (strcmp(cmd, "sas") == 0)
		print_sas(o, export);
	else if (strcmp(cmd, "xmpp") == 0)
		print_xmpp(o);
	else
		print_stats(o);
	json_decref(o);
	free(res);
	return 0;
}
