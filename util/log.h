/* Logging shared by the control core and the workers.
 *
 * One process-wide level, set once at start (and on reload) by the control
 * core. Workers only log through the rate-limited macro: a drop storm must
 * never turn into a syscall storm.
 */
#pragma once
#include <stdarg.h>
#include <stdint.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* "ERROR", "WARNING", "INFO", "DEBUG" (IPOP's Logger.controller_logging
 * spellings, case-insensitive; also "WARN", "ERR"). Returns 0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* At most one line per second per call site; usable from worker threads. */
#define log_ratelimited(level, ...)                                                                \
	do {                                                                                       \
		static _Atomic uint64_t log_rl_last_;                                              \
		if (log_ratelimit_ok(&log_rl_last_))                                               \
			log_msg(level, __VA_ARGS__);                                               \
	} while (0)
int log_ratelimit_ok(_Atomic uint64_t *last_sec);
