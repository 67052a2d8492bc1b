/* The operations pieces that run without a network: the config keys user,
 * http_listen and xmpp_password_file (values, and every rejection naming
 * file, line, key and what was expected), the Prometheus rendering of an
 * idle instance (every sample under a HELP and a TYPE of its family, names
 * ipopd_*, counters end in _total), and the live page's routes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/config/config.h"
#include "control/core/ctl.h"
#include "control/mgmt/http.h"
#include "control/mgmt/metrics.h"
#include "control/mgmt/page.h"

#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		if (!strstr((hay), (needle)))                                                      \
			fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));               \
	} while (0)

static char dir[64];

static int make_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_ops.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *name, const char *text, mode_t mode)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

/* Loads {"CFx": {...cfx}, "BaseTopologyManager": {"ip4": ...}, "ipopd": {ipopd}}
 * from DIR/c.json. Returns the loader's result; err holds the message. */
static int load(const char *cfx, const char *ipopd, struct ipop_config *c, char *err, size_t len)
{
	char text[2048], path[256];
	snprintf(text, sizeof(text),
		 "{\"CFx\": {\"ip4_mask\": 24%s%s},\n"
		 " \"BaseTopologyManager\": {\"ip4\": \"10.254.0.1\"},\n"
		 " \"ipopd\": {\"tap\": \"ops0\",\n  %s}}\n",
		 cfx[0] ? ", " : "", cfx, ipopd);
	write_file("c.json", text, 0644);
	snprintf(path, sizeof(path), "%s/c.json", dir);
	return ipop_config_load(path, NULL, c, err, len);
}

#define XMPP "\"xmpp_host\": \"127.0.0.1\", \"xmpp_username\": \"gw@example.test\""

static void expect_error(const char *cfx, const char *ipopd, const char *want)
{
	struct ipop_config c;
	char err[512] = "";
	if (load(cfx, ipopd, &c, err, sizeof(err)) == 0) {
		ipop_config_free(&c);
		fail_msg("loaded, expected an error containing \"%s\"", want);
	}
	assert_contains(err, "c.json:");
	assert_contains(err, want);
}

static void test_user_and_http(void **state)
{
	struct ipop_config c;
	char err[512] = "", ep[NET_ENDPOINT_STRLEN];
	(void)state;
	assert_int_equal(load("", "\"user\": \"ipopd\", \"http_listen\": \"127.0.0.1:9474\"", &c,
			      err, sizeof(err)),
			 0);
	assert_string_equal(c.user, "ipopd");
	assert_true(c.http_enabled);
	assert_string_equal(net_endpoint_format(&c.http_listen, ep, sizeof(ep)), "127.0.0.1:9474");
	ipop_config_free(&c);
	assert_int_equal(load("", "\"http_listen\": \"[::1]:9000\"", &c, err, sizeof(err)), 0);
	assert_true(c.http_enabled);
	assert_int_equal(c.http_listen.port, 9000);
	ipop_config_free(&c);
	assert_int_equal(load("", "\"http_listen\": \"\"", &c, err, sizeof(err)), 0);
	assert_false(c.http_enabled);
	assert_string_equal(c.user, "");
	ipop_config_free(&c);

	expect_error("", "\"user\": \"root; rm -rf /\"", "ipopd.user: expected an account name");
	expect_error("", "\"user\": \"-x\"", "ipopd.user: expected an account name");
	expect_error("", "\"user\": \"\"", "ipopd.user: expected an account name");
	expect_error("", "\"user\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"", "ipopd.user");
	expect_error("", "\"user\": 7", "ipopd.user: expected an account name");
	expect_error("", "\"http_listen\": \"localhost:80\"",
		     "ipopd.http_listen: expected \"ADDRESS:PORT\"");
	expect_error("", "\"http_listen\": \"127.0.0.1\"", "ipopd.http_listen: expected");
	expect_error("", "\"http_listen\": \"127.0.0.1:0\"", "ipopd.http_listen: expected");
	expect_error("", "\"http_listen\": 9474", "ipopd.http_listen: expected");
}

static void test_password_file(void **state)
{
	struct ipop_config c;
	char err[512] = "", want[300];
	(void)state;
	write_file("pw", "s3cret pass\n", 0600);
	assert_int_equal(load(XMPP, "\"xmpp_password_file\": \"pw\"", &c, err, sizeof(err)), 0);
	assert_string_equal(c.xmpp_password,
			    "s3cret pass"); /* relative to the config, newline cut */
	snprintf(want, sizeof(want), "%s/pw", dir);
	assert_string_equal(c.xmpp_password_file, want);
	assert_int_equal(c.nsecret_files, 1); /* handed to ipopd.user at a privilege drop */
	assert_string_equal(c.secret_files[0], want);
	ipop_config_free(&c);

	write_file("pw-open", "x\n", 0644);
	expect_error(XMPP, "\"xmpp_password_file\": \"pw-open\"",
		     "ipopd.xmpp_password_file: expected mode 0600 or stricter, got 0644");
	expect_error(XMPP, "\"xmpp_password_file\": \"missing\"",
		     "ipopd.xmpp_password_file: expected a readable password file");
	write_file("pw-empty", "\n", 0600);
	expect_error(XMPP, "\"xmpp_password_file\": \"pw-empty\"", "to hold one line");
	write_file("pw-two", "a\nb\n", 0600);
	expect_error(XMPP, "\"xmpp_password_file\": \"pw-two\"", "to hold one line");
	char big[400];
	memset(big, 'x', sizeof(big) - 2);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = 0;
	write_file("pw-big", big, 0600);
	expect_error(XMPP, "\"xmpp_password_file\": \"pw-big\"",
		     "to hold one line of 1..255 bytes");
	expect_error(XMPP ", \"xmpp_password\": \"inline\"", "\"xmpp_password_file\": \"pw\"",
		     "expected either CFx.xmpp_password or xmpp_password_file, not both");
	expect_error(XMPP, "\"xmpp_password_file\": \".\"",
		     "ipopd.xmpp_password_file: expected a regular password file");
	expect_error(XMPP, "\"user\": \"ipopd\"", "xmpp_password_file");
}

static struct ctl c; /* zeroed: an idle instance with no workers and no peers */

static void idle_instance(void)
{
	memset(&c, 0, sizeof(c));
	ctl_core_disc_env(&c, &c.disc.env); /* what ctl_init wires */
}

static void test_metrics_format(void **state)
{
	(void)state;
	idle_instance();
	snprintf(c.backend.host_name, sizeof(c.backend.host_name), "ipop\"7");
	size_t len = 0;
	struct ctl_http h = {.c = &c};
	char *m = ctl_metrics_render(&c, &h, &len);
	assert_non_null(m);
	assert_int_equal(strlen(m), len);
	/* the quote in the TAP name is escaped in the label */
	assert_contains(m, "tap=\"ipop\\\"7\"");
	assert_contains(m, "ipopd_xmpp_enabled 0\n");
	assert_contains(m, "# TYPE ipopd_drops_total counter\n");
	char typed[128] = "", helped[128] = "";
	unsigned samples = 0, families = 0;
	for (char *line = strtok(m, "\n"); line; line = strtok(NULL, "\n")) {
		char name[128];
		if (sscanf(line, "# HELP %127s", name) == 1) {
			snprintf(helped, sizeof(helped), "%s", name);
			continue;
		}
		if (sscanf(line, "# TYPE %127s", name) == 1) {
			if (strcmp(name, helped))
				fail_msg("TYPE %s without its HELP", name);
			snprintf(typed, sizeof(typed), "%s", name);
			families++;
			if (strstr(line, " counter") && !strstr(name, "_total"))
				fail_msg("counter %s does not end in _total", name);
			continue;
		}
		size_t n = strcspn(line, "{ ");
		if (strncmp(line, "ipopd_", 6) || strlen(typed) != n || strncmp(line, typed, n))
			fail_msg("sample outside its family (%s): %s", typed, line);
		samples++;
	}
	assert_true(families > 30);
	assert_true(samples > 10);
	free(m);
	free(h.busy);
}

static void test_page_routes(void **state)
{
	(void)state;
	const struct ctl_page_asset *a = ctl_page_asset_find("/");
	assert_non_null(a);
	assert_string_equal(a->path, "/index.html");
	assert_contains(a->type, "text/html");
	assert_true(a->len > 100);
	assert_non_null(ctl_page_asset_find("/index.html"));
	a = ctl_page_asset_find("/overlay.js");
	assert_non_null(a);
	assert_contains(a->type, "javascript");
	assert_non_null(ctl_page_asset_find("/overlay.css"));
	assert_null(ctl_page_asset_find("/../etc/passwd"));
	assert_null(ctl_page_asset_find("/index.html/"));
	assert_null(ctl_page_asset_find(""));

	idle_instance();
	char *s = ctl_page_overlay_json(&c);
	assert_non_null(s);
	json_t *o = json_loads(s, 0, NULL);
	free(s);
	assert_non_null(o);
	const char *keys[] = {"status", "peers", "links", "stats", "xmpp"};
	for (size_t i = 0; i < 5; i++)
		if (!json_object_get(o, keys[i]) || json_is_null(json_object_get(o, keys[i])))
			fail_msg("overlay JSON lacks %s", keys[i]);
	assert_true(json_is_array(json_object_get(o, "peers")));
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_user_and_http),
	    cmocka_unit_test(test_password_file),
	    cmocka_unit_test(test_metrics_format),
	    cmocka_unit_test(test_page_routes),
	};
	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
