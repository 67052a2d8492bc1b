/* Counter structs as JSON objects for the management socket: one table of
 * field names and offsets per struct, instead of a json_pack() format string
 * whose count of "s:I" has to follow every counter added. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <jansson.h>

struct json_counter {
	const char *name;
	size_t off; /* of a uint64_t field */
};

#define JSON_COUNTER(type, field)                                                                  \
	{                                                                                          \
#field, offsetof(type, field)                                                      \
	}
#define JSON_COUNTERS_N(table) (sizeof(table) / sizeof((table)[0]))

/* {"name": value, ...} in table order, from the uint64_t fields of base.
 * NULL when out of memory. */
static inline json_t *json_counters(const void *base, const struct json_counter *t, size_t n)
{
	json_t *o = json_object();
	for (size_t i = 0; o && i < n; i++) {
		uint64_t v;
		memcpy(&v, (const char *)base + t[i].off, sizeof(v));
		if (json_object_set_new(o, t[i].name, json_integer((json_int_t)v)) < 0) {
			json_decref(o);
			o = NULL;
		}
	}
	return o;
}
