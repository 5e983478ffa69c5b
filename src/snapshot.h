/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_SNAPSHOT_H
#define TT_SNAPSHOT_H

#include <stddef.h>
#include <linux/types.h>

#include "opts.h"
#include "record.h"

struct tt_bpf;
struct join;
struct owners;

/* The sockets that existed when tracing began, with their owners. */
struct snapshot {
	struct tt_snaprec *recs;
	size_t n;
	struct owners *owners;   /* the recs' owner and comm strings live here */
	__u64 *sk;               /* kernel address per rec (iter/tcp only), for seeding */
	__u64 *seq;              /* tt_seq when each row was read */
	long long boot_ns;
};

/*
 * Reads every TCP socket of this network namespace (iter/tcp when b is
 * given, else procdir/net/tcp and tcp6), in netstat's order (IPv4 first),
 * keeps those the options select (filter.h) and names their owners from
 * procdir ("/proc"; tests give a fake one). Returns 0 or -errno.
 */
int snapshot_take(struct snapshot **out, struct tt_bpf *b, const struct tt_opts *o,
		  const char *procdir);
/* Seeds the BPF owner table (b may be NULL) and the join (j may be NULL). */
int snapshot_seed(struct snapshot *s, struct tt_bpf *b, struct join *j);
void snapshot_free(struct snapshot **s);

#endif
