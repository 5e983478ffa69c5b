/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * --metrics: the counters a Prometheus server scrapes, and their text
 * exposition (format version 0.0.4). The names are a contract, as the JSON
 * fields are: the man page's METRICS section lists them.
 *
 * Two sides, two threads:
 *   the ring reader feeds every record it outputs (metrics_record(), from
 *   output.c) and, now and then, publishes a copy of the counters
 *   (metrics_publish()): a trylock, so it never waits for a scraper;
 *   the HTTP thread (metrics_http.c) renders the last published copy
 *   (metrics_render()), holding the lock only to copy it.
 *
 * The socket gauges come from sockgauge.h: per state from the snapshot
 * and the transitions (the -s model's table, stats.h, in a run that sees
 * part of some sockets' lives), per owner and container from a table of
 * the ESTABLISHED sockets. Counters only grow: nothing resets them, SIGHUP
 * included.
 */
#ifndef TT_METRICS_H
#define TT_METRICS_H

#include <stddef.h>
#include <sys/socket.h>

#include "outbuf.h"
#include "record.h"

/* How many comms the per-owner gauge lists, and how many containers the
 * per-container one (those owning the most ESTABLISHED sockets):
 * Prometheus keeps every label value it is shown. */
#define METRICS_TOP_OWNERS 10
/* The duration histogram's upper bounds (+Inf is added), in ns: 0.001,
 * 0.01, 0.1, 1, 10, 60, 300, 3600 s. Integers: compared at every end of a
 * connection. */
#define METRICS_BUCKETS_NS { 1000000ULL, 10000000ULL, 100000000ULL, 1000000000ULL, \
			     10000000000ULL, 60000000000ULL, 300000000000ULL, 3600000000000ULL }
#define METRICS_NBUCKETS 8
/* The reader publishes at most this often (and at the end). */
#define METRICS_PUBLISH_NS 250000000LL

struct metrics;

/* partial: the run sees part of some sockets' lives (--no-snapshot, -p,
 * --queue-threshold; sockgauge.h). 0 or -ENOMEM. */
int metrics_new(struct metrics **m, int partial);
/* NULL-safe; sets *m to NULL. */
void metrics_free(struct metrics **m);

/* Ring reader: one record of the run (meta, snapshot rows, events,
 * lost and skipped records; the rest is ignored). */
void metrics_record(struct metrics *m, const struct tt_record *r);
/* Ring reader: the events the outputs could not take (a full disk, a
 * stalled reader), as counted so far (a running total). */
void metrics_write_lost(struct metrics *m, unsigned long long total);
/* Ring reader: an event the kernel sent but a gap already counted (it came
 * after its seq was given up on, seqtrack.h): its change moves the socket
 * gauge, and nothing else. */
void metrics_late(struct metrics *m, const struct tt_event *e);
/* Ring reader: the transitions the kernel could not put in the ring, by
 * kernel old and new state, as counted so far (loader_lost_trans()). */
void metrics_kernel_lost(struct metrics *m,
			 const unsigned long long lost[TT_STATE_MAX][TT_STATE_MAX]);
/* Ring reader: publishes the counters if METRICS_PUBLISH_NS passed since
 * the last time (force: now) and no scraper holds the copy; never waits. */
void metrics_publish(struct metrics *m, long long now_ns, int force);

/* HTTP thread: the last published counters, in the exposition format.
 * 0, or -ENOMEM (ob->oom). */
int metrics_render(struct metrics *m, struct outbuf *ob);

/* A label value: the text-safe form of raw bytes (escape.h), then the
 * exposition format's escapes (backslash, double quote, newline). */
void metrics_label_value(struct outbuf *ob, const char *s, size_t len);

/* "[ADDR:]PORT": an IPv4 address, or an IPv6 one in brackets; no address
 * is 127.0.0.1. Port 1-65535. 0 or -EINVAL. */
int metrics_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len);

#endif /* TT_METRICS_H */
