/* The operational keys of the "ipopd" section: the account ipopd drops to
 * after setup ("user"), the HTTP listener of /metrics and the live page
 * ("http_listen"), and the XMPP password kept in a file of its own
 * ("xmpp_password_file", so the JSON itself holds no secret).
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/config/config_internal.h"

#define USER_EXPECTED "an account name (letters, digits, '.', '_', '-')"
#define HTTP_EXPECTED "\"ADDRESS:PORT\" like \"127.0.0.1:9474\" or \"[::1]:9474\""

int cfg_key_user(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
		 json_t *v)
{
	struct ipop_config *c = base;
	const char *s;
	char q[64];
	(void)ks;
	if (cfg_get_string(ld, path, v, USER_EXPECTED, &s))
		return -1;
	size_t n = strlen(s);
	bool ok = n > 0 && n < sizeof(c->user) && s[0] != '-';
	for (size_t i = 0; ok && i < n; i++)
		ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		     (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-';
	if (!ok)
		return cfg_fail(ld, path, "expected " USER_EXPECTED ", got %s",
				cfg_quoted(s, q, sizeof(q)));
	snprintf(c->user, sizeof(c->user), "%s", s);
	return 0;
}

int cfg_key_http_listen(struct loader *ld, const struct key_spec *ks, void *base, const char *path,
			json_t *v)
{
	struct ipop_config *c = base;
	const char *s;
	char q[64];
	(void)ks;
	if (cfg_get_string(ld, path, v, HTTP_EXPECTED " or \"\" (off)", &s))
		return -1;
	if (!*s) {
		c->http_enabled = false;
		return 0;
	}
	if (net_endpoint_parse(s, &c->http_listen) || !c->http_listen.port)
		return cfg_fail(ld, path, "expected " HTTP_EXPECTED ", got %s",
				cfg_quoted(s, q, sizeof(q)));
	c->http_enabled = true;
	return 0;
}

/* One line of text: regular file, mode 0600 or stricter (like psk_file),
 * relative to the config file; a trailing newline is not part of it. */
int cfg_key_xmpp_password_file(struct loader *ld, const struct key_spec *ks, void *base,
			       const char *path, json_t *v)
{
	struct ipop_config *c = base;
	char buf[sizeof(c->xmpp_password) + 2], q[64];
	const char *s;
	struct stat st;
	size_t got = 0;
	ssize_t n;
	int rc = -1;
	(void)ks;
	if (c->xmpp_password[0])
		return cfg_fail(
		    ld, path, "expected either CFx.xmpp_password or xmpp_password_file, not both");
	if (cfg_get_string(ld, path, v, "a path", &s))
		return -1;
	if (!*s)
		return cfg_fail(ld, path, "expected a path, got an empty string");
	if (cfg_resolve(ld, path, s, c->xmpp_password_file, sizeof(c->xmpp_password_file)))
		return -1;
	const char *file = c->xmpp_password_file;
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return cfg_fail(ld, path, "expected a readable password file, got %s: %s",
				cfg_quoted(file, q, sizeof(q)), strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		cfg_fail(ld, path, "expected a regular password file, got %s",
			 cfg_quoted(file, q, sizeof(q)));
		goto out;
	}
	if (st.st_mode & 077) {
		cfg_fail(ld, path, "expected mode 0600 or stricter, got %04o (chmod 600 %s)",
			 (unsigned)(st.st_mode & 07777), cfg_quoted(file, q, sizeof(q)));
		goto out;
	}
	while (got < sizeof(buf) - 1 && (n = read(fd, buf + got, sizeof(buf) - 1 - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cfg_fail(ld, path, "expected a readable password file, got %s: %s",
				 cfg_quoted(file, q, sizeof(q)), strerror(errno));
			goto out;
		}
		got += (size_t)n;
	}
	buf[got] = 0;
	while (got && (buf[got - 1] == '\n' || buf[got - 1] == '\r'))
		buf[--got] = 0;
	if (!got || got >= sizeof(c->xmpp_password) || strlen(buf) != got ||
	    memchr(buf, '\n', got)) {
		cfg_fail(ld, path, "expected %s to hold one line of 1..%zu bytes",
			 cfg_quoted(file, q, sizeof(q)), sizeof(c->xmpp_password) - 1);
		goto out;
	}
	memcpy(c->xmpp_password, buf, got + 1);
	rc = cfg_note_secret_file(ld, path, file);
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return rc;
}

int cfg_note_secret_file(struct loader *ld, const char *path, const char *file)
{
	struct ipop_config *c = ld->c;
	for (unsigned i = 0; i < c->nsecret_files; i++)
		if (!strcmp(c->secret_files[i], file))
			return 0;
	void *n = realloc(c->secret_files, (c->nsecret_files + 1) * sizeof(*c->secret_files));
	if (!n)
		return cfg_fail(ld, path, "expected a config that fits in memory");
	c->secret_files = n;
	snprintf(c->secret_files[c->nsecret_files++], sizeof(*c->secret_files), "%s", file);
	return 0;
}

void cfg_ops_print(const struct ipop_config *c, FILE *f)
{
	char ep[NET_ENDPOINT_STRLEN];
	fprintf(f, "user: %s\n", c->user[0] ? c->user : "(none: keeps the starting account)");
	fprintf(f, "http_listen: %s\n",
		c->http_enabled ? net_endpoint_format(&c->http_listen, ep, sizeof(ep)) : "(off)");
	if (c->xmpp_password_file[0])
		fprintf(f, "xmpp_password_file: %s\n", c->xmpp_password_file);
}
