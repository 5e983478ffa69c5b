/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The socket gauges of --metrics (metrics.c): sockets per state, and
 * ESTABLISHED sockets per owner and per container, kept at a cost per
 * event of a few array increments.
 *
 * Sockets per state are not followed socket by socket: each state's count
 * is its snapshot rows plus the transitions into it minus those out of it
 * (sg_states()). That is exact when tracing started from a snapshot and
 * every transition of a socket's life is seen or known lost: the kernel
 * counts the transitions it could not put in the ring, by old and new
 * state (tt_lost_trans in the BPF program's .bss), and they count as if
 * seen. A run that sees only part of some sockets' lives (--no-snapshot,
 * -p, --queue-threshold) keeps the -s model's table instead (metrics.c).
 *
 * The owner and container gauges need to know, when a socket leaves
 * ESTABLISHED, whom it was counted for: a table of the ESTABLISHED
 * sockets (sock id -> pid and cgroup) is looked up only by events into or
 * out of ESTABLISHED. After a loss (an exit from ESTABLISHED may be among
 * the lost), and always in a partial run, every event is looked up for
 * SG_CHECK_NS, so that a socket counted as ESTABLISHED but now seen in
 * another state is taken out.
 */
#ifndef TT_SOCKGAUGE_H
#define TT_SOCKGAUGE_H

#include "record.h"

/* How long every event is checked against the ESTABLISHED table after a
 * loss: longer than a connection normally stays in a closing state. */
#define SG_CHECK_NS (120 * 1000000000LL)
/* The longest container or unit name kept for a label (longer ones are
 * cut; cgroup.h keeps up to CG_NAME_MAX). */
#define SG_NAME_MAX 128

struct sockgauge;

/* A name and a count, for the owner and container gauges. */
typedef void (*sg_each_fn)(void *ctx, const char *name, unsigned long long n);

/* partial: the run sees only part of some sockets' lives (the table is
 * checked by every event). 0 or -ENOMEM. */
int sg_new(struct sockgauge **g, int partial);
void sg_free(struct sockgauge **g);   /* NULL-safe, sets *g = NULL */

/* A snapshot row (the same socket twice: the later row counts). */
void sg_snapshot(struct sockgauge *g, const struct tt_snaprec *r, const struct tt_cgref *cg);
/* What the inline part of sg_event() reads: the first member of struct
 * sockgauge. */
struct sg_hot {
	long long check_until;   /* boot ns; 0: never checked; LLONG_MAX: partial */
};

void sg_event_table(struct sockgauge *g, const struct tt_event *e, unsigned old, unsigned st,
		    const struct tt_cgref *cg);

/* A state transition, normalized states old and st (1..TT_STATE_MAX-1);
 * est: old or st is ESTABLISHED. Most events leave the table alone:
 * decided inline, in one branch. */
static inline void sg_event(struct sockgauge *g, const struct tt_event *e, unsigned old,
			    unsigned st, int est, const struct tt_cgref *cg)
{
	const struct sg_hot *h = (const struct sg_hot *)g;

	if (est | ((long long)e->ts_ns < h->check_until))
		sg_event_table(g, e, old, st, cg);
}
/* Events were lost at boot time now_ns: the table is checked for a while. */
void sg_lost(struct sockgauge *g, long long now_ns);

/*
 * Sockets per state: the snapshot's rows plus trans (the transitions
 * seen) plus lost (the transitions the kernel could not send; may be
 * NULL), by normalized old and new state. A count below zero (a run that
 * saw part of a life) shows as 0.
 */
void sg_states(const struct sockgauge *g,
	       const unsigned long long trans[TT_STATE_MAX][TT_STATE_MAX],
	       const unsigned long long lost[TT_STATE_MAX][TT_STATE_MAX],
	       unsigned long long out[TT_STATE_MAX]);

/* ESTABLISHED sockets by owner pid (its latest comm as name), and by
 * container or unit; only those with some. */
void sg_each_owner(struct sockgauge *g, sg_each_fn fn, void *ctx);
void sg_each_container(struct sockgauge *g, sg_each_fn fn, void *ctx);

/* Kernel state -> the state counted (a request socket is SYN_RECV); 0 for
 * a value with no meaning. Inline, from a table: two per event. */
static inline unsigned sg_norm_state(unsigned st)
{
	static const unsigned char norm[16] = {
		0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, TT_SYN_RECV, 0, 0, 0,
	};

	return st < 16 ? norm[st] : 0;
}

#endif /* TT_SOCKGAUGE_H */
