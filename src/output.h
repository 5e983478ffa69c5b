/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_OUTPUT_H
#define TT_OUTPUT_H

#include <signal.h>

#include "format.h"
#include "opts.h"

struct output;
struct snapshot;

/*
 * The outputs of one run: stdout (text, or JSON with --json) and the -o
 * capture (always JSON). Formats each record once per format and counts
 * what was written, filtered and lost.
 */
int output_open(struct output **out, const struct tt_opts *o);
/* Start-up failed: remove the capture file it created, so nothing is left half-done. */
void output_abandon(struct output *out);
const struct tt_clock *output_clock(const struct output *out);

void output_meta(struct output *out, const struct tt_meta *m);
/* stdout waits for its reader while the rows are written, until *stop. */
void output_snapshot(struct output *out, const struct snapshot *s,
		     const volatile sig_atomic_t *stop);
void output_live_header(struct output *out);
void output_event(struct output *out, const struct tt_event *e);
/* A lost record; a skipped record (events the snapshot already shows). */
void output_lost(struct output *out, const struct tt_lost *l);
void output_skipped(struct output *out, const struct tt_lost *l);
void output_clock_record(struct output *out);
/* The summary record of each output, with that output's counts; s holds
 * the run's (seen, lost_ring, ...). output_finish() reports on stderr. */
void output_summary(struct output *out, const struct tt_summary *s);
struct stats;
/* -s: the periodic report (final = 0) or the exit table (final = 1). */
void output_stats(struct output *out, struct stats *st, double elapsed_s, int final);
void output_count_filtered(struct output *out);

void output_flush(struct output *out, int force);
void output_reopen(struct output *out);
/* stdout's reader may have made room: push to it now (one non-blocking
 * write), as the event loop does between batches of events. */
void output_pump(struct output *out);
/* The fd to watch for POLLOUT beside the ring (stdout has records its
 * reader has not taken yet), or -1. */
int output_poll_fd(const struct output *out);
/* stdout was closed by the reader (| head): end quietly. */
int output_closed(const struct output *out);
/* Flushes and closes (stdout's reader gets up to 0.6 s while it takes
 * records, 0.2 s if it takes none; what it did not take is counted as
 * lost); after output_summary(), prints the summary line on stderr.
 * Returns 1 if anything was lost, 0 if not. NULL-safe. */
int output_finish(struct output **out, const struct tt_opts *o);

/* Replay: records read back from a capture (see output.c). */
void output_snapshot_header(struct output *out);
void output_text_live_header(struct output *out);
void output_snaprec(struct output *out, const struct tt_snaprec *r);
void output_set_clock(struct output *out, long long boot_ns, long long real_ns);
void output_clock_record_at(struct output *out, long long boot_ns, long long real_ns);
void output_summary_record(struct output *out, const struct tt_summary *s);
void output_counts(const struct output *out, unsigned long long *written,
		   unsigned long long *filtered, unsigned long long *lost,
		   unsigned long long *snapshot_rows);

#endif
