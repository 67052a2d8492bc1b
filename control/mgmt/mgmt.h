/* The management socket: a unix stream socket per instance speaking one line
 * of JSON each way ({"cmd":"status"|"peers"|"stats"|"links"|"key"|"sas"} in,
 * {"cmd":"sas","export":true} for tshark esp_sa lines when key_export is on;
 * one object out, then the server closes). Clients are served from the control loop without ever
 * blocking it: non-blocking fds, a bounded request buffer, a bounded number of
 * clients and a deadline per client.
 */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#define CTL_MGMT_MAX_CLIENTS 16
#define CTL_MGMT_REQ_MAX     4096
#define CTL_MGMT_TIMEOUT_MS  2000

/* epoll tags: the listen socket and clients (tag base + slot), in the
 * extensions' range of the control loop (ctl.h, CTL_TAG_EXT). */
#define CTL_MGMT_TAG_LISTEN 0x100
#define CTL_MGMT_TAG_CLIENT 0x200

struct ctl;
struct ctl_ext_ops;

struct ctl_mgmt_client {
	int fd; /* -1: free slot */
	uint64_t deadline_ms;
	size_t inlen;
	char in[CTL_MGMT_REQ_MAX];
	char *out; /* response being written */
	size_t outlen, outoff;
	bool draining; /* answered: discarding input until the client hangs up */
};

struct ctl_mgmt {
	int listen_fd;
	int epfd;
	char path[PATH_MAX];
	struct ctl_mgmt_client clients[CTL_MGMT_MAX_CLIENTS];
	uint64_t served, rejected;
};

/* Creates the parent directory, removes a stale socket (refuses a live one:
 * -EADDRINUSE), binds with mode 0660 and adds it to epfd. 0 or -errno. */
int ctl_mgmt_open(struct ctl_mgmt *m, const char *path, int epfd);
/* Closes clients and the socket and unlinks it. */
void ctl_mgmt_close(struct ctl_mgmt *m);
/* Handles an epoll event whose tag is a CTL_MGMT_TAG_*; false (and nothing
 * done) for any other tag. */
bool ctl_mgmt_event(struct ctl_mgmt *m, struct ctl *c, uint64_t tag, uint32_t events);
/* Drops clients past their deadline. */
void ctl_mgmt_tick(struct ctl_mgmt *m, uint64_t now_ms);

/* The socket as an extension of the control loop (ctl.h, struct ctl_ext):
 * obj is a struct ctl_mgmt, opened on the config's mgmt_socket. */
extern const struct ctl_ext_ops ctl_mgmt_ext_ops;

/* The response to one request line, as a malloc'd JSON string (no newline).
 * Exposed for tests. */
char *ctl_mgmt_respond(struct ctl *c, const char *line, size_t len);
