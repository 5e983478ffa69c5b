/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_JOIN_H
#define TT_JOIN_H

#include <stddef.h>
#include <linux/types.h>

#include "record.h"

/*
 * The snapshot/stream join: what the snapshot learnt about each socket,
 * keyed by socket id. The BPF side is attached before the snapshot is
 * read, so the first events can be ones the snapshot rows already show:
 *   - an event that a row read after it reflects is dropped (the run marks
 *     it with a "skipped" record), so nothing is shown twice;
 *   - an event that reached the ring before the snapshot seeded the BPF
 *     owner table gets the owner the snapshot found.
 */
struct join;

/* expected: the number of rows. 0 or -ENOMEM. */
int join_new(struct join **out, size_t expected);
void join_free(struct join **j);   /* NULL-safe, sets *j = NULL */
/* Row r, read when the BPF side's sequence was at seq (a row without a
 * socket id joins nothing). 0 or -ENOMEM. */
int join_add(struct join *j, const struct tt_snaprec *r, __u64 seq);
/* 1 when e is already reflected by the snapshot and must be dropped, 0
 * otherwise (e may have its owner filled in). NULL-safe. */
int join_apply(const struct join *j, struct tt_event *e);

#endif
