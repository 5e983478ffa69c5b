/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Socket owners from the iter/task_file program bpf/owners.bpf.c: the same
 * table as owners_scan (owners.h), without one readlink per open fd.
 */
#ifndef TT_OWNERS_ITER_H
#define TT_OWNERS_ITER_H

#include <stddef.h>
#include <linux/types.h>
#include "tcptrail.h"

struct owners;
struct owners_iter;


/*
 * Feeds len bytes of pairs (as read from the iterator, in its order) to o
 * (made by owners_new). Returns 0 or -errno; -EINVAL when len is not a
 * whole number of pairs.
 */
int owners_iter_feed(struct owners *o, const void *buf, size_t len);

/*
 * 1 when pids read by BPF (the initial pid namespace's) are the names of
 * procdir's entries: this process is in the initial pid namespace and
 * procdir is a proc mounted for it. 0 otherwise: use owners_scan.
 */
int owners_iter_usable(const char *procdir);

/*
 * Loads the program (before the rows are read: loading parses the kernel's
 * BTF, a transient ~10 MB best spent while little else is held). Returns 0
 * or -errno; on failure nothing stays loaded and the caller falls back to
 * owners_scan.
 */
int owners_iter_open(struct owners_iter **out);
/*
 * Runs the iterator and adds its pairs to o (made by owners_new, usually
 * restricted with owners_want). Returns 0 or -errno; o may then hold part
 * of the pairs: discard it.
 */
int owners_iter_run(struct owners_iter *it, struct owners *o);
void owners_iter_close(struct owners_iter **it);   /* NULL-safe */

#endif
