/* The HTTP listener (see http.h): libmicrohttpd in "external epoll" mode
 * inside the control loop, routing GET requests to the metrics and page
 * renderers. */
#include "control/mgmt/http.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/core/ctl.h"
#include "control/mgmt/metrics.h"
#include "control/mgmt/page.h"
#include "util/log.h"

#define D3_MAX (4u << 20)

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];
	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = 0;
	log_debug("http: %s", msg);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
			     void *buf, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, buf, mode);
	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(buf);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'self'; style-src 'self'; img-src 'self' data:");
	enum MHD_Result rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result text(struct MHD_Connection *conn, unsigned status, const char *msg)
{
	return reply(conn, status, "text/plain; charset=utf-8", (void *)msg, strlen(msg),
		     MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct ctl_http *h = cls;
	struct ctl *c = h->c;
	(void)version;
	(void)upload_data;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "GET or HEAD only\n");
	if (*upload_data_size)
		return MHD_NO; /* a GET with a body: drop the connection */
	if (!*con_cls) {
		/* First call: headers only. Answer on the second. */
		*con_cls = (void *)1;
		return MHD_YES;
	}
	h->requests++;
	if (!strcmp(url, "/metrics")) {
		size_t len;
		char *m = ctl_metrics_render(c, h, &len);
		if (!m)
			return text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
		return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", m, len,
			     MHD_RESPMEM_MUST_FREE);
	}
	if (!strcmp(url, "/api/overlay")) {
		char *j = ctl_page_overlay_json(c);
		if (!j)
			return text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
		return reply(conn, MHD_HTTP_OK, "application/json", j, strlen(j),
			     MHD_RESPMEM_MUST_FREE);
	}
	if (!strcmp(url, "/d3.min.js")) {
		if (!h->d3)
			return text(conn, MHD_HTTP_NOT_FOUND,
				    "d3 not found at " IPOPD_D3_PATH " (install libjs-d3)\n");
		return reply(conn, MHD_HTTP_OK, "application/javascript", h->d3, h->d3_len,
			     MHD_RESPMEM_PERSISTENT);
	}
	const struct ctl_page_asset *a = ctl_page_asset_find(url);
	if (a)
		return reply(conn, MHD_HTTP_OK, a->type, (void *)a->data, a->len,
			     MHD_RESPMEM_PERSISTENT);
	h->not_found++;
	return text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

static void read_d3(struct ctl_http *h)
{
	int fd = open(IPOPD_D3_PATH, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    st.st_size > D3_MAX) {
		log_warn("http: %s not usable: the live page needs libjs-d3", IPOPD_D3_PATH);
		if (fd >= 0)
			close(fd);
		return;
	}
	h->d3 = malloc((size_t)st.st_size);
	size_t got = 0;
	while (h->d3 && got < (size_t)st.st_size) {
		ssize_t n = read(fd, h->d3 + got, (size_t)st.st_size - got);
		if (n <= 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got != (size_t)st.st_size) {
		free(h->d3);
		h->d3 = NULL;
		return;
	}
	h->d3_len = got;
}

int ctl_http_open(struct ctl_http *h, struct ctl *c, const struct net_endpoint *ep, int epfd)
{
	struct sockaddr_in6 sa6;
	struct sockaddr_in sa4;
	struct sockaddr *sa;
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	memset(h, 0, sizeof(*h));
	h->c = c;
	h->epfd = epfd;
	if (ep->family == AF_INET6) {
		net_endpoint_to_sin6(ep, &sa6);
		sa = (struct sockaddr *)&sa6;
		flags |= MHD_USE_IPv6;
	} else {
		struct sockaddr_in6 tmp;
		net_endpoint_to_sin6(ep, &tmp); /* v4-mapped */
		memset(&sa4, 0, sizeof(sa4));
		sa4.sin_family = AF_INET;
		sa4.sin_port = tmp.sin6_port;
		memcpy(&sa4.sin_addr, &tmp.sin6_addr.s6_addr[12], 4);
		sa = (struct sockaddr *)&sa4;
	}
	read_d3(h);
	h->d = MHD_start_daemon(flags, ep->port, NULL, NULL, handle, h, MHD_OPTION_SOCK_ADDR, sa,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)CTL_HTTP_MAX_CONN,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CTL_HTTP_TIMEOUT_S,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
	if (!h->d) {
		int err = errno ? -errno : -EADDRINUSE;
		free(h->d3);
		h->d3 = NULL;
		return err;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = CTL_HTTP_TAG};
	if (!info || epoll_ctl(epfd, EPOLL_CTL_ADD, info->epoll_fd, &ev) < 0) {
		int err = errno ? -errno : -EIO;
		ctl_http_close(h);
		return err;
	}
	char buf[NET_ENDPOINT_STRLEN];
	log_info("http: /metrics and the live page on http://%s/",
		 net_endpoint_format(ep, buf, sizeof(buf)));
	return 0;
}

void ctl_http_close(struct ctl_http *h)
{
	if (h->d) {
		const union MHD_DaemonInfo *info =
		    MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
		if (info)
			epoll_ctl(h->epfd, EPOLL_CTL_DEL, info->epoll_fd, NULL);
		MHD_stop_daemon(h->d);
		h->d = NULL;
	}
	free(h->d3);
	free(h->busy);
	h->d3 = NULL;
	h->busy = NULL;
	h->nbusy = 0;
}

void ctl_http_run(struct ctl_http *h)
{
	if (h->d)
		MHD_run(h->d);
}

/* ---- as an extension of the control loop ------------------------------ */

static int ext_open(void *obj, struct ctl *c, char *errbuf, size_t errlen)
{
	struct ctl_http *h = obj;
	memset(h, 0, sizeof(*h));
	if (!c->cfg.http_enabled)
		return 0;
	int err = ctl_http_open(h, c, &c->cfg.http_listen, c->epfd);
	if (err) {
		char ep[NET_ENDPOINT_STRLEN];
		snprintf(errbuf, errlen, "%s: ipopd.http_listen %s: %s", c->config_path,
			 net_endpoint_format(&c->cfg.http_listen, ep, sizeof(ep)), strerror(-err));
	}
	return err;
}

static bool ext_event(void *obj, struct ctl *c, uint64_t tag, uint32_t events)
{
	(void)c;
	(void)events;
	if (tag != CTL_HTTP_TAG)
		return false;
	ctl_http_run(obj);
	return true;
}

static void ext_tick(void *obj, uint64_t now_ms)
{
	(void)now_ms;
	ctl_http_run(obj);
}

static void ext_close(void *obj)
{
	ctl_http_close(obj);
}

const struct ctl_ext_ops ctl_http_ext_ops = {
    .open = ext_open,
    .event = ext_event,
    .tick = ext_tick,
    .close = ext_close,
};
