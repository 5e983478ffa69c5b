/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * --metrics: the HTTP server (libmicrohttpd) that serves GET /metrics from
 * its own thread. The listening socket is made at start-up, before the BPF
 * programs load (a taken port fails there, and a port under 1024 is bound
 * while tcptrail still has its capabilities); the server thread starts
 * once they are dropped, so that it never holds them.
 *
 * A scraper gets the last counters the ring reader published
 * (metrics.h): nothing it does can make the reader wait. Connections are
 * limited in number (METRICS_HTTP_CONNS, per address METRICS_HTTP_PER_IP),
 * in time (METRICS_HTTP_TIMEOUT_S without traffic) and in request size
 * (METRICS_HTTP_MEM per connection).
 */
#ifndef TT_METRICS_HTTP_H
#define TT_METRICS_HTTP_H

#include "metrics.h"

#define METRICS_HTTP_CONNS 16
#define METRICS_HTTP_PER_IP 8
#define METRICS_HTTP_TIMEOUT_S 10
#define METRICS_HTTP_MEM (32 * 1024)

struct metrics_http;

/* Binds and listens on spec ("[ADDR:]PORT"). 0 or -errno, explained on stderr. */
int metrics_http_bind(struct metrics_http **h, const char *spec);
/* Starts the server thread, serving m. 0 or -errno, explained on stderr. */
int metrics_http_start(struct metrics_http *h, struct metrics *m);
/* Stops the thread (if started), closes the socket, frees. NULL-safe. */
void metrics_http_stop(struct metrics_http **h);

#endif /* TT_METRICS_HTTP_H */
