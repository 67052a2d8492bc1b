/* Service manager notifications (sd_notify(3) from libsystemd): READY=1 once
 * the data plane is up, RELOADING=1 / READY=1 around a SIGHUP reload,
 * STOPPING=1, a STATUS= line, and WATCHDOG=1 from the control loop's tick
 * at half the WatchdogSec= interval, so a wedged control core is restarted.
 * All of it is a no-op when NOTIFY_SOCKET is unset (not under systemd).
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct ctl_sd {
	uint64_t wd_interval_ms; /* 0: no watchdog */
	uint64_t wd_last_ms;
	uint64_t watchdogs; /* WATCHDOG=1 sent */
};

struct ctl_ext_ops;

/* Reads WATCHDOG_USEC/WATCHDOG_PID. */
void ctl_sd_init(struct ctl_sd *sd);
/* READY=1 with a STATUS= line. */
void ctl_sd_ready(const char *status);
void ctl_sd_reloading(void);
void ctl_sd_stopping(void);
/* From the tick: WATCHDOG=1 when due. */
void ctl_sd_tick(struct ctl_sd *sd, uint64_t now_ms);

/* As an extension of the control loop (ctl.h): the watchdog from the tick,
 * RELOADING=1/READY=1 around reloads, STOPPING=1 when the loop closes it
 * (first thing on the way out). READY=1 at start is ipopd's main's: it is
 * sent after the privilege drop, when setup is complete. */
extern const struct ctl_ext_ops ctl_sd_ext_ops;
