/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_FILTER_H
#define TT_FILTER_H

#include "opts.h"
#include "record.h"

/*
 * The filters of the command line (-4, -6, -P, -p, -l, --queue-threshold)
 * in user space: for the snapshot rows, which the kernel does not filter
 * (iter/tcp returns every socket, /proc/net/tcp too), and for a capture
 * read back with -r. The live events are filtered in the kernel, by the BPF
 * twins of these predicates (bpf/tt_emit.bpf.h); each names its twin.
 *
 * Each returns 1 when the options drop the record, 0 when they keep it,
 * the same sense as the BPF side's *_filtered().
 */

/* Family and ports. Twin: tuple_filtered() (which also drops other network
 * namespaces: a snapshot reads its own namespace, and a capture holds only
 * what was traced). */
int filter_tuple(const struct tt_opts *o, unsigned family, unsigned lport, unsigned rport);
/* -p PID: an unknown owner is dropped too. Twin: owner_filtered(). */
int filter_owner(const struct tt_opts *o, int known, unsigned pid);
/* --queue-threshold: both queues at or below it. Twin: queue_filtered(). */
int filter_queue(const struct tt_opts *o, unsigned long long recv_q, unsigned long long send_q);

/* --cgroup: the socket's cgroup path in none of the subtrees given (paths
 * relative to the cgroup2 root); a record whose path is not known, or an
 * older capture's without one, is dropped. Twin: cgroup_filtered(), which
 * compares ids in the kernel (bpf/tt_cgroup.bpf.h); a live run has
 * filtered already. */
int filter_cgroup(const struct tt_opts *o, const struct tt_cgref *cg);

/* A snapshot row, before its owner is known: family, ports, and -l as
 * netstat -l selects rows (remote port 0: netstat tests the port, not the
 * state). No BPF twin: the kernel filters no snapshot row. */
int filter_row(const struct tt_opts *o, const struct tt_sockrow *row);
/* A snapshot record: the row, and its owner. */
int filter_snapshot(const struct tt_opts *o, const struct tt_snaprec *r);
/* An event: the tuple; -l, only changes into or out of LISTEN (queue
 * pressure is neither; twin: listen_only in transition() and pressure());
 * the owner; the queues. */
int filter_event(const struct tt_opts *o, const struct tt_event *e);

#endif
