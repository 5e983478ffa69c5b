// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* --metrics: the HTTP server (metrics_http.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <microhttpd.h>

#include "metrics_http.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics_http {
	int fd;
	char spec[64];
	struct MHD_Daemon *d;
	struct metrics *m;
};

int metrics_http_bind(struct metrics_http **out, const char *spec)
{
	struct metrics_http *h;
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, err;

	*out = NULL;
	if (metrics_parse_listen(spec, &ss, &len))
		return -EINVAL;   /* the options parser checked it already */
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	snprintf(h->spec, sizeof(h->spec), "%s", spec);
	h->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (h->fd < 0 || setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(h->fd, (struct sockaddr *)&ss, len) || listen(h->fd, 16)) {
		err = -errno;
		fprintf(stderr, "tcptrail: --metrics: cannot listen on %s: %s%s\n", spec, strerror(-err),
			err == -EADDRINUSE ? " (another process has that port: choose another)" :
			err == -EADDRNOTAVAIL ? " (no interface has that address)" : "");
		metrics_http_stop(&h);
		return err;
	}
	*out = h;
	return 0;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
								 MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* GET (or HEAD) /metrics; 404 for any other path, 405 for other methods. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct metrics_http *h = cls;
	struct outbuf ob;
	struct MHD_Response *r;
	enum MHD_Result ret;

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)con_cls;
	if (strcmp(url, "/metrics"))
		return reply(c, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n");
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
	if (ob_init(&ob, 16384) || metrics_render(h->m, &ob)) {
		ob_free(&ob);
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	}
	/* the response frees the buffer */
	r = MHD_create_response_from_buffer(ob.len, ob.buf, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		ob_free(&ob);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

int metrics_http_start(struct metrics_http *h, struct metrics *m)
{
	sigset_t all, old;

	h->m = m;
	/* the server thread takes no signal: SIGINT, SIGTERM and SIGHUP are
	 * for the ring reader's poll, which they must interrupt */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	h->d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL, NULL, on_request, h,
				MHD_OPTION_LISTEN_SOCKET, h->fd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_HTTP_CONNS,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)METRICS_HTTP_PER_IP,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_HTTP_TIMEOUT_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_HTTP_MEM,
				MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!h->d) {
		fprintf(stderr, "tcptrail: --metrics: cannot start the HTTP server on %s "
			"(libmicrohttpd refused: out of memory or threads?)\n", h->spec);
		return -ENOMEM;
	}
	return 0;
}

void metrics_http_stop(struct metrics_http **ph)
{
	struct metrics_http *h = ph ? *ph : NULL;

	if (!h)
		return;
	if (h->d) {
		/* quiesced first, the listening socket stays ours to close */
		MHD_quiesce_daemon(h->d);
		MHD_stop_daemon(h->d);   /* joins the thread */
	}
	if (h->fd >= 0)
		close(h->fd);
	free(h);
	*ph = NULL;
}
