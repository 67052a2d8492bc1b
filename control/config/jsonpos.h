/* Line numbers for JSON keys.
 *
 * jansson reports positions only for syntax errors; a config error about a
 * well-formed value ("ipopd.peers[1].sa_out.key: expected 72 hex digits")
 * should still point at its line. This is a small, separate scanner over the
 * raw text that walks a key path and reports where it is. It never allocates,
 * never reads outside [text, text + len) and tolerates any malformed input
 * (it then just finds less).
 */
#pragma once
#include <stddef.h>

/* Path syntax: object keys separated by '.', array elements as "[i]"
 * ("TincanSender.svpn_port", "ipopd.peers[1].sa_out.key", "[0]"). Keys
 * containing '.' or '[' cannot be named.
 *
 * Returns the 1-based line of the last path element: the line of its key for
 * an object member, of its value for an array element. Returns 0 when the path
 * is empty, not present, or the text is malformed before it is reached. With
 * duplicate keys the first one is reported. */
unsigned jsonpos_line(const char *text, size_t len, const char *path);
