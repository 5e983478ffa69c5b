/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_SEQTRACK_H
#define TT_SEQTRACK_H

#include <linux/types.h>
#include "tcptrail.h"

/*
 * Puts events back in sequence order and finds the gaps. The BPF side takes
 * a sequence number before it reserves ring space, so two CPUs can commit
 * their events in the opposite order, and a failed reservation leaves a
 * number that never arrives. Events wait here only while a hole below them
 * may still fill (one poll round); a hole that stays is reported as lost.
 * Every number is delivered or reported in a gap exactly once, in order: an
 * event that arrives after its gap was reported (late) is counted, not
 * delivered.
 */
struct seqtrack;

struct seqtrack_cb {
	void (*deliver)(void *ctx, const struct tt_event *e);
	void (*gap)(void *ctx, unsigned long long from, unsigned long long to);
	/* optional: an event that arrived after its gap was reported (not
	 * delivered; --metrics' socket gauge still counts its change) */
	void (*late)(void *ctx, const struct tt_event *e);
	void *ctx;
};

int seqtrack_new(struct seqtrack **out, unsigned window, const struct seqtrack_cb *cb);
void seqtrack_free(struct seqtrack **st);
void seqtrack_push(struct seqtrack *st, const struct tt_event *e);
/* End of a poll round. Holes that already waited a whole round (or all of
 * them, with force) are reported and the events after them delivered. */
void seqtrack_settle(struct seqtrack *st, int force);
/* At exit: end_seq is the next number the BPF side would hand out, so
 * numbers up to it that never arrived were lost at the tail. */
void seqtrack_finish(struct seqtrack *st, unsigned long long end_seq);
/* Events that arrived after their gap was reported: the summary's seen
 * leaves them out (they are counted in the gap). */
unsigned long long seqtrack_late(const struct seqtrack *st);

#endif
