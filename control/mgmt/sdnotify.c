/* sd_notify(3) for the control core (see sdnotify.h). */
#include "control/mgmt/sdnotify.h"

#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "control/core/ctl.h"
#include "util/log.h"

void ctl_sd_init(struct ctl_sd *sd)
{
	uint64_t usec = 0;
	memset(sd, 0, sizeof(*sd));
	if (sd_watchdog_enabled(0, &usec) > 0 && usec) {
		sd->wd_interval_ms =
		    usec / 2000; /* half the timeout, as sd_watchdog_enabled(3) advises */
		if (!sd->wd_interval_ms)
			sd->wd_interval_ms = 1;
		log_info("systemd watchdog: %llu ms, fed every %llu ms from the control loop",
			 (unsigned long long)(usec / 1000), (unsigned long long)sd->wd_interval_ms);
	}
}

void ctl_sd_ready(const char *status)
{
	char msg[320];
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
	sd_notify(0, msg);
}

void ctl_sd_reloading(void)
{
	struct timespec ts;
	char msg[96];
	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* MONOTONIC_USEC lets systemd >= 253 match the reload; older ones ignore it. */
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ull +
		     (unsigned long long)ts.tv_nsec / 1000);
	sd_notify(0, msg);
}

void ctl_sd_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

void ctl_sd_tick(struct ctl_sd *sd, uint64_t now_ms)
{
	if (!sd->wd_interval_ms || now_ms - sd->wd_last_ms < sd->wd_interval_ms)
		return;
	sd->wd_last_ms = now_ms;
	sd->watchdogs++;
	sd_notify(0, "WATCHDOG=1");
}

/* ---- as an extension of the control loop ------------------------------ */

static int ext_open(void *obj, struct ctl *c, char *errbuf, size_t errlen)
{
	(void)c;
	(void)errbuf;
	(void)errlen;
	ctl_sd_init(obj);
	return 0;
}

static bool ext_event(void *obj, struct ctl *c, uint64_t tag, uint32_t events)
{
	(void)obj;
	(void)c;
	(void)tag;
	(void)events;
	return false; /* no fd of its own */
}

static void ext_tick(void *obj, uint64_t now_ms)
{
	ctl_sd_tick(obj, now_ms);
}

static void ext_close(void *obj)
{
	(void)obj;
	ctl_sd_stopping();
}

static void ext_reload(void *obj, struct ctl *c, bool done)
{
	(void)obj;
	if (!done) {
		ctl_sd_reloading();
		return;
	}
	ctl_sd_ready(c->reload_errors ? "running (a reload failed: see the log)" : "running");
}

const struct ctl_ext_ops ctl_sd_ext_ops = {
    .open = ext_open,
    .event = ext_event,
    .tick = ext_tick,
    .close = ext_close,
    .reload = ext_reload,
};
