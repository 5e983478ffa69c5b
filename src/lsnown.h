/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_LSNOWN_H
#define TT_LSNOWN_H

#include <stddef.h>
#include <linux/types.h>
#include "tcptrail.h"

/*
 * Listeners' owners: a live holder of the listener, preferably the one
 * that accepts (the BPF half is bpf/tt_lsn.bpf.h). A pass runs the
 * tt_iter_listeners iterator, which lists every process holding a TCP
 * listener, and, for each listener the BPF side follows whose owner no
 * longer holds it (exited, or closed its descriptor), writes a holder as
 * its owner: new connections then carry that process. A pass runs when a
 * listener's owner exits, when a process other than a listener's owner
 * takes its connections over (at most once a second), and every 10 s
 * while passive connections arrive (a close of the owner's descriptor
 * leaves no trace otherwise).
 */
struct lsnown;
struct tt_bpf;

/* Before capabilities are dropped (the iterator's link is made here).
 * *out is NULL, and 0 returned, when the BPF side does not follow
 * listeners' owners (no request sockets traced). 0 or -errno. */
int lsnown_new(struct lsnown **out, struct tt_bpf *b);
void lsnown_free(struct lsnown **l);   /* NULL-safe, sets *l = NULL */
/* The poll loop: runs a pass when one is due. NULL-safe. */
void lsnown_tick(struct lsnown *l, long long now);
/* Each event, in seq order, before it is written: one flagged
 * TT_F_OWNER_GONE gets its listener's live holder, or no owner. NULL-safe
 * (the flag is cleared either way). */
void lsnown_event(struct lsnown *l, struct tt_event *e);

/* ---- the pure part (tests/unit/test_lsnown.c) ------------------------------ */

#define LSN_HIST 4

/* A listener as the passes saw it. */
struct lsn_entry {
	__u64 cookie;
	__u32 netns, family, lport;
	__u8 laddr[16];
	struct tt_owner owner;   /* known = 0: no live holder at the last pass */
	int owner_accepts;       /* the owner was seen taking a connection over */
	__u32 hist[LSN_HIST];    /* its owners, latest first: the dead one an event names */
	unsigned long long pass; /* the last pass that saw it */
};

/* Orders holder rows by cookie, then tgid (qsort). */
int lsnown_cmp(const void *a, const void *b);
/*
 * Which of the n holders of one listener (sorted by tgid, the exiting
 * ones included) to name: the current owner if it holds it and accepts
 * (cur_accepts: no flapping between workers), else the port's latest
 * accepter if it holds it, else the current owner if it holds it, else
 * the lowest pid. Returns its index, or -1 when every holder is exiting.
 */
long lsnown_choose(const struct tt_lsn_holder *h, size_t n, __u32 accepter,
		   const struct tt_owner *cur, int cur_accepts);
/*
 * The listener a passive connection came to, from its local address and
 * the dead owner it carries (pid): among the listeners of its namespace
 * and port, the exact address before a wildcard; among those, the ones
 * that pid owned, if any. Returns an index in l[0..n), or -1 when none
 * matches or the matches name different owners.
 */
long lsnown_match(const struct lsn_entry *l, size_t n, __u32 netns, __u32 family,
		  __u32 lport, const __u8 laddr[16], __u32 pid);
/* Adds pid at the head of an entry's owner history (no repeat). */
void lsnown_hist_add(struct lsn_entry *e, __u32 pid);

#endif
