/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_CHANNEL_H
#define TT_CHANNEL_H

#include <signal.h>

#include "format.h"
#include "sink.h"

/*
 * One output of a run (stdout, or the -o capture): its sink, the counts of
 * what reached it and what did not, and the lost records it still owes.
 *
 * A record the sink refuses (full disk, stalled reader) is counted: an
 * event joins the open "write" loss, a run of consecutive seqs; a snapshot
 * row or another record is counted in it apart. lost and skipped records
 * (marks) are never dropped: they wait, in order, with the write losses
 * between them. Before the next record it takes, the channel writes what
 * it owes, in seq order: so in every output each seq is in exactly one
 * record, and each lost record sits at its gap.
 *
 * On stderr, even with -q: a notice when a loss begins (a write error, or
 * a reader that stops taking records), one when writing works again with
 * what it cost; at most one a second per output, merged.
 */
enum chan_tag { CHAN_EVENT, CHAN_SNAPSHOT, CHAN_MARK, CHAN_OTHER };

struct chan_counts {
	unsigned long long written;        /* events the output took (and kept) */
	unsigned long long snapshot;       /* snapshot rows, likewise */
	unsigned long long lost_write;     /* events it could not take */
	unsigned long long snapshot_lost, other_lost;
	unsigned long long cut;            /* records given up at the end: the output is cut */
	int error;                         /* positive errno of the last failure, or 0 */
};

struct channel;

/* label: what stderr notices call it ("stdout" or the path). Takes s. */
int chan_new(struct channel **out, struct sink *s, int json, const struct fmt_opts *fo,
	     const char *label);
/* One formatted record (rec NULL: it could not be formatted, a loss). seq
 * matters for CHAN_EVENT only. */
void chan_put(struct channel *c, unsigned tag, unsigned long long seq, const char *rec, size_t len);
/* A lost record, or (skipped != 0) a skipped record, which a text output
 * does not show. Written at once, or as soon as the output takes records. */
void chan_mark(struct channel *c, const struct tt_lost *l, int skipped);
/* Pushes to the sink on the output's schedule (force: now), retries a
 * failing one, writes what it owes when it can. */
void chan_flush(struct channel *c, int force);
/* At the end: pushes and writes what is owed, waiting for a slow reader
 * until deadline (CLOCK_BOOTTIME ns) as long as it takes records (200 ms
 * without one is a stalled reader), never for a failing disk; a patient
 * output without an idle limit waits until told to stop. 0 when all of it
 * was written. */
int chan_drain(struct channel *c, long long deadline_ns);
int chan_reopen(struct channel *c);
/* --rotate-to: pushes everything, owed records included, and ends the
 * file (sink_seal). 0 or -errno. */
int chan_seal(struct channel *c);
/* sink_check_path() of the output's sink. */
int chan_check_path(const struct channel *c);
/* The fd that becomes writable when a slow reader made room, or -1. */
int chan_poll_fd(const struct channel *c);
/* stop != NULL: records wait for a slow reader (never for a failing disk)
 * until *stop is set and, with idle_ms, while it takes a record at least
 * every idle_ms, instead of being refused at once; NULL: never wait. */
void chan_patience(struct channel *c, const volatile sig_atomic_t *stop, int idle_ms);
/* stdout's reader went away (EPIPE): nothing more is written or counted. */
int chan_closed(const struct channel *c);
int chan_json(const struct channel *c);
const char *chan_label(const struct channel *c);
void chan_counts(const struct channel *c, struct chan_counts *cc);
/* The last push (waiting up to wait_ms for a slow reader), then closes and
 * frees; cc receives the final counts. NULL-safe. */
void chan_close(struct channel **c, int wait_ms, struct chan_counts *cc);

#endif
