/* Line numbers for JSON keys (see jsonpos.h).
 *
 * The scanner does not validate: it only needs to step over values well enough
 * to find members of the objects on the path. Containers are skipped by
 * counting brackets outside strings, so there is no recursion and no depth
 * limit to worry about. Every read is checked against the end pointer; the
 * text need not be NUL-terminated.
 */
#include "control/config/jsonpos.h"

#include <stdbool.h>
#include <string.h>

/* Longer keys cannot match a path segment (see seg_len's cap). */
#define JP_KEY_MAX 256

struct jp_cursor {
	const char *p;
	const char *end;
	unsigned line;
};

static void skip_ws(struct jp_cursor *c)
{
	while (c->p < c->end) {
		char ch = *c->p;
		if (ch == '\n')
			c->line++;
		else if (ch != ' ' && ch != '\t' && ch != '\r')
			break;
		c->p++;
	}
}

/* At the opening quote. Leaves the cursor after the closing quote. */
static bool skip_string(struct jp_cursor *c)
{
	c->p++;
	while (c->p < c->end) {
		char ch = *c->p++;
		if (ch == '"')
			return true;
		if (ch == '\n')
			c->line++;
		if (ch == '\\' && c->p < c->end) {
			if (*c->p == '\n')
				c->line++;
			c->p++;
		}
	}
	return false;
}

static int hexdigit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* At the opening quote: decodes the key into buf (escapes of ASCII characters
 * resolved; anything else becomes 0xff, which no path segment contains) and
 * returns its length, or -1 if the string is unterminated. A key longer than
 * the buffer reports JP_KEY_MAX + 1 so it never matches. */
static int read_key(struct jp_cursor *c, char *buf)
{
	size_t n = 0;
	bool too_long = false;
	c->p++;
	while (c->p < c->end) {
		char ch = *c->p++;
		if (ch == '"')
			return too_long ? JP_KEY_MAX + 1 : (int)n;
		if (ch == '\n')
			c->line++;
		if (ch == '\\') {
			if (c->p >= c->end)
				return -1;
			char e = *c->p++;
			switch (e) {
			case 'b':
				ch = '\b';
				break;
			case 'f':
				ch = '\f';
				break;
			case 'n':
				ch = '\n';
				break;
			case 'r':
				ch = '\r';
				break;
			case 't':
				ch = '\t';
				break;
			case 'u': {
				unsigned v = 0;
				int i;
				for (i = 0; i < 4 && c->p < c->end; i++) {
					int d = hexdigit(*c->p);
					if (d < 0)
						break;
					v = v << 4 | (unsigned)d;
					c->p++;
				}
				ch = (i == 4 && v > 0 && v < 0x80) ? (char)v : (char)0xff;
				break;
			}
			default:
				if (e == '\n')
					c->line++;
				ch = e; /* \" \\ \/ and anything jansson would reject */
				break;
			}
		}
		if (n < JP_KEY_MAX)
			buf[n++] = ch;
		else
			too_long = true;
	}
	return -1;
}

/* Steps over one value of any kind. Returns false at the end of the text or
 * when there is no value here at all. */
static bool skip_value(struct jp_cursor *c)
{
	skip_ws(c);
	if (c->p >= c->end)
		return false;
	char ch = *c->p;
	if (ch == '"')
		return skip_string(c);
	if (ch == '{' || ch == '[') {
		size_t depth = 0;
		while (c->p < c->end) {
			ch = *c->p;
			if (ch == '"') {
				if (!skip_string(c))
					return false;
				continue;
			}
			c->p++;
			if (ch == '\n')
				c->line++;
			else if (ch == '{' || ch == '[')
				depth++;
			else if (ch == '}' || ch == ']') {
				if (--depth == 0)
					return true;
			}
		}
		return false;
	}
	const char *start = c->p;
	while (c->p < c->end) {
		ch = *c->p;
		if (ch == ',' || ch == '}' || ch == ']' || ch == ':' || ch == ' ' || ch == '\t' ||
		    ch == '\r' || ch == '\n' || ch == '"' || ch == '{' || ch == '[')
			break;
		c->p++;
	}
	return c->p > start;
}

static bool expect(struct jp_cursor *c, char ch)
{
	skip_ws(c);
	if (c->p >= c->end || *c->p != ch)
		return false;
	c->p++;
	return true;
}

/* Moves the cursor to the value of member `seg` of the object at the cursor;
 * *line gets the key's line. */
static bool find_member(struct jp_cursor *c, const char *seg, size_t seglen, unsigned *line)
{
	char key[JP_KEY_MAX];
	if (!expect(c, '{'))
		return false;
	skip_ws(c);
	if (c->p < c->end && *c->p == '}')
		return false;
	for (;;) {
		skip_ws(c);
		if (c->p >= c->end || *c->p != '"')
			return false;
		unsigned key_line = c->line;
		int n = read_key(c, key);
		if (n < 0 || !expect(c, ':'))
			return false;
		if ((size_t)n == seglen && memcmp(key, seg, seglen) == 0) {
			*line = key_line;
			skip_ws(c);
			return true;
		}
		if (!skip_value(c) || !expect(c, ','))
			return false;
	}
}

/* Moves the cursor to element `index` of the array at the cursor. */
static bool find_element(struct jp_cursor *c, unsigned long index, unsigned *line)
{
	if (!expect(c, '['))
		return false;
	for (unsigned long i = 0;; i++) {
		skip_ws(c);
		if (c->p >= c->end || *c->p == ']')
			return false;
		if (i == index) {
			*line = c->line;
			return true;
		}
		if (!skip_value(c) || !expect(c, ','))
			return false;
	}
}

unsigned jsonpos_line(const char *text, size_t len, const char *path)
{
	struct jp_cursor c = {text, text + len, 1};
	unsigned line = 0;

	if (!text || !path || !*path)
		return 0;
	while (*path) {
		if (*path == '[') {
			unsigned long index = 0;
			path++;
			if (*path < '0' || *path > '9')
				return 0;
			while (*path >= '0' && *path <= '9') {
				if (index > 100000000ul)
					return 0;
				index = index * 10 + (unsigned long)(*path++ - '0');
			}
			if (*path++ != ']')
				return 0;
			if (!find_element(&c, index, &line))
				return 0;
		} else {
			size_t seglen = strcspn(path, ".[");
			if (seglen == 0 || seglen > JP_KEY_MAX)
				return 0;
			if (!find_member(&c, path, seglen, &line))
				return 0;
			path += seglen;
		}
		if (*path == '.')
			path++;
	}
	return line;
}
