/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_SNAPSHOT_H
#define TT_SNAPSHOT_H

#include <stddef.h>
#include "format.h"
#include "opts.h"

struct tt_bpf;
struct model;
struct owners;

/* The sockets that existed when tracing began, with their owners. */
struct snapshot {
	struct tt_snaprec *recs;
	size_t n;
	struct owners *owners;
	__u64 *sk;           /* kernel address per rec (iter only), for seeding */
	__u64 *seq;          /* tt_seq when each row was read */
	long long boot_ns;
	int from_iter;       /* 0: read from /proc/net/tcp{,6} */
};

/*
 * Reads every TCP socket of this network namespace (iter/tcp when b is
 * given, else /proc/net/tcp and tcp6), in netstat's order (IPv4 first),
 * keeps those the options select and names their owners from /proc.
 */
int snapshot_take(struct snapshot **out, struct tt_bpf *b, const struct tt_opts *o);
/* Seeds the BPF owner table and the user-space join model. */
int snapshot_seed(struct snapshot *s, struct tt_bpf *b, struct model *m);
void snapshot_free(struct snapshot **s);

#endif
