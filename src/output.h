/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_OUTPUT_H
#define TT_OUTPUT_H

#include <signal.h>

#include "clock.h"
#include "opts.h"
#include "record.h"

/*
 * The outputs of a run: stdout (text, or JSON with --json; none with -q)
 * and the -o capture (always JSON), each a channel (channel.h) over a sink
 * (sink.h). Every record goes through output_record(), which formats it
 * once per format and hands it to each output. The producers (trace.c,
 * replay.c) decide what is written; the outputs count what they took.
 */
struct output;

/*
 * Opens stdout and the capture (a refused path fails here, before anything
 * is loaded). Times are formatted with clock, which the run owns and
 * re-anchors. stop is the run's exit flag: while the snapshot is written,
 * stdout waits for a slow reader until it is set (NULL: never waits).
 * Returns 0 or -errno, explained on stderr.
 */
int output_open(struct output **out, const struct tt_opts *o, struct tt_clock *clock,
		const volatile sig_atomic_t *stop);
void output_record(struct output *out, const struct tt_record *r);
/* An event -s counts instead of writing: only the metrics see it. */
void output_tally(struct output *out, const struct tt_record *r);
/* An event sent by the kernel but counted in a gap (seqtrack.h): for
 * --metrics' socket gauge only. */
void output_late(struct output *out, const struct tt_event *ev);
/* The transitions the kernel could not send, for --metrics' gauges (a
 * running total by kernel old and new state). */
void output_kernel_lost(struct output *out,
			const unsigned long long lost[TT_STATE_MAX][TT_STATE_MAX]);
/* --metrics: starts the HTTP server's thread (the socket was bound by
 * output_open). Call once the capabilities are dropped. 0 or -errno. */
int output_serve(struct output *out);
/* Pushes to the sinks: force, now; else on each output's schedule. With
 * --metrics, publishes the counters for the scrapers. */
void output_flush(struct output *out, int force);
/* SIGHUP: a new capture file (logrotate); the old one is kept on failure. */
void output_reopen(struct output *out);
/*
 * The end. With run (the run's own counts: seen, lost_ring, filtered...),
 * each output gets its summary record, completed with what it took and
 * lost, and stderr gets the summary line. Flushes and closes (stdout's
 * reader gets up to 0.6 s while it takes records, 0.2 s if it takes none;
 * what it did not take is counted as lost). Returns 1 if anything was
 * lost, 0 if not (always 0 without run). NULL-safe.
 */
int output_finish(struct output **out, const struct tt_summary *run);
/* Start-up failed: remove the capture file it created, so nothing is left half-done. */
void output_abandon(struct output *out);

/* For the event loop: the fd to poll for POLLOUT (stdout has records its
 * reader has not taken yet), or -1; one non-blocking push to that reader;
 * whether the reader closed stdout (| head: end quietly). */
int output_poll_fd(const struct output *out);
void output_pump(struct output *out);
int output_closed(const struct output *out);

#endif
