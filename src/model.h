/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_MODEL_H
#define TT_MODEL_H

#include <linux/types.h>
#include "tcptrail.h"

/*
 * The user-space side of the owner and state model: what the snapshot
 * learnt about each socket, keyed by socket id. It joins the snapshot to
 * the stream: an event that the snapshot row already reflects is dropped
 * (no duplicate), and an event that reached the ring before the snapshot
 * seeded the BPF owner table gets the owner the /proc scan found.
 */
struct model;

int model_new(struct model **out, unsigned long expected);
void model_free(struct model **m);
int model_add_snapshot(struct model *m, __u64 sock_id, __u64 seq, unsigned state,
		       int owner_known, unsigned pid, const char *comm);
/* Returns 1 when e is already reflected by the snapshot and must be
 * dropped, 0 otherwise (e may have its owner filled in). */
int model_apply(struct model *m, struct tt_event *e);

#endif
