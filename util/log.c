/* Logging: one line per message on stderr, with a monotonic-free wall clock
 * prefix and the level. */
#include "util/log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>

static _Atomic int current_level = LOG_INFO;

static const char *const names[] = {"ERROR", "WARNING", "INFO", "DEBUG"};

void log_set_level(enum log_level level)
{
	current_level = level;
}

enum log_level log_get_level(void)
{
	return (enum log_level)current_level;
}

const char *log_level_name(enum log_level level)
{
	return level <= LOG_DEBUG ? names[level] : "?";
}

int log_level_parse(const char *s, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level level;
	} map[] = {{"error", LOG_ERROR}, {"err", LOG_ERROR},     {"critical", LOG_ERROR},
		   {"warning", LOG_WARN}, {"warn", LOG_WARN},    {"info", LOG_INFO},
		   {"debug", LOG_DEBUG},  {"none", LOG_ERROR}};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcasecmp(s, map[i].name) == 0) {
			*out = map[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if ((int)level > current_level)
		return;
	struct timespec ts;
	struct tm tm;
	char stamp[32];
	char line[1024];
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One fprintf call so lines from several threads do not interleave. */
	fprintf(stderr, "%s.%03ld %-7s %s\n", stamp, ts.tv_nsec / 1000000, log_level_name(level),
		line);
}

int log_ratelimit_ok(_Atomic uint64_t *last_sec)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	uint64_t now = (uint64_t)ts.tv_sec;
	uint64_t last = atomic_load_explicit(last_sec, memory_order_relaxed);
	if (now == last)
		return 0;
	return atomic_compare_exchange_strong_explicit(last_sec, &last, now, memory_order_relaxed,
						       memory_order_relaxed);
}
