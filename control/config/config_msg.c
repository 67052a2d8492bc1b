/* Messages of the configuration loader (see config_internal.h): the line of a
 * key path from jsonpos, the first error ("FILE:LINE: PATH: MSG") and
 * warnings, and the small helpers that keep every message on one line
 * (printable paths, quoted user strings, JSON type names, joined paths).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "control/config/config_internal.h"
#include "control/config/jsonpos.h"
#include "util/log.h"

/* Line of path, else of its nearest present parent, else 1. */
unsigned cfg_line_of(const struct loader *ld, const char *path)
{
	char buf[PATH_STR];
	snprintf(buf, sizeof(buf), "%s", path);
	for (;;) {
		unsigned line = jsonpos_line(ld->text, ld->len, buf);
		if (line)
			return line;
		char *dot = strrchr(buf, '.'), *br = strrchr(buf, '[');
		char *cut = dot > br ? dot : br;
		if (!cut)
			return 1;
		*cut = 0;
	}
}

/* A path for a message: keys may hold control characters ("a\nb"), and an
 * error or warning must stay one line (found by fuzz_config). */
static const char *printable(const char *path, char *buf, size_t len)
{
	size_t n = 0;
	for (; path[n] && n + 1 < len; n++)
		buf[n] = (unsigned char)path[n] < 0x20 || path[n] == 0x7f ? '?' : path[n];
	buf[n] = 0;
	return buf;
}

int cfg_fail(struct loader *ld, const char *path, const char *fmt, ...)
{
	if (ld->failed || !ld->err || !ld->errlen)
		goto out;
	char msg[512], pbuf[PATH_STR];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (path)
		snprintf(ld->err, ld->errlen, "%s:%u: %s: %s", ld->name, cfg_line_of(ld, path),
			 printable(path, pbuf, sizeof(pbuf)), msg);
	else
		snprintf(ld->err, ld->errlen, "%s: %s", ld->name, msg);
out:
	ld->failed = true;
	return -1;
}

void cfg_warn(struct loader *ld, const char *path, const char *fmt, ...)
{
	char msg[512], pbuf[PATH_STR];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn("%s:%u: %s: %s", ld->name, cfg_line_of(ld, path),
		 printable(path, pbuf, sizeof(pbuf)), msg);
}

const char *cfg_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number with a fraction";
	case JSON_TRUE:
		return "true";
	case JSON_FALSE:
		return "false";
	default:
		return "null";
	}
}

/* A user string cfg_quoted for a one-line message: control bytes become '?',
 * long strings are cut. */
const char *cfg_quoted(const char *s, char *buf, size_t len)
{
	size_t n = 0, max = len < 48 ? len : 48;
	buf[n++] = '"';
	for (; *s && n + 5 < max; s++)
		buf[n++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
	if (*s) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n++] = '"';
	buf[n] = 0;
	return buf;
}

/* Paths longer than PATH_STR are cut; they then just find no line. */
void cfg_join(char *out, const char *parent, const char *key)
{
	if (snprintf(out, PATH_STR, "%s.%s", parent, key) >= PATH_STR)
		out[PATH_STR - 1] = 0;
}
