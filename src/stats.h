/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * -s/--stats: instead of one line per transition, a periodic report of how
 * many sockets are in each state, the rates of new connections and closes,
 * and the processes owning the most ESTABLISHED sockets; at exit, a table of
 * every transition seen, by old -> new state and by process.
 *
 * The counts are exact, not sampled: the module keeps each socket's current
 * state (keyed by sock_id; a socket that enters TIME_WAIT is only counted,
 * until its end), seeded from the snapshot and moved by every transition,
 * so the report equals what netstat -antp would count for the same
 * sockets, as long as no event was lost (see stats_lost()).
 *
 * Usage from the run loop: stats_snapshot() per snapshot row, stats_event()
 * per delivered event (after the snapshot join has dropped duplicates),
 * stats_report() every interval, stats_final() once at exit. The reports
 * are records (record.h): the formatters write them.
 */
#ifndef TT_STATS_H
#define TT_STATS_H

#include "record.h"

struct stats;

/* 0 or -ENOMEM. */
int stats_new(struct stats **out);
/* NULL-safe; sets *s to NULL. */
void stats_free(struct stats **s);

/* One socket that existed when tracing began. A request socket (TT_F_REQ)
 * counts as SYN_RECV, a timewait socket as the state netstat shows for it
 * (its substate: TIME_WAIT, or FIN_WAIT2 before the peer's FIN). */
void stats_snapshot(struct stats *s, const struct tt_snaprec *r);

/* One delivered event; kinds other than TT_EV_STATE are ignored. */
void stats_event(struct stats *s, const struct tt_event *e);

/* A hint before a run of stats_event() calls: the socket sock_id will be
 * looked up (see socktab_prefetch()). */
void stats_prefetch(const struct stats *s, __u64 sock_id);

/* count events were lost (ring full, nested hooks): from now on the state
 * counts may be off, and the reports say so. */
void stats_lost(struct stats *s, unsigned long long count);

/*
 * The periodic report, as a "stats" record at boot_ns. elapsed_s is the
 * time since the previous interval ended (or since tracing began), for the
 * rates. The first report is marked for the text header that explains the
 * columns. Making the record does not end the interval: call
 * stats_interval_end() once it is written.
 */
void stats_report(struct stats *s, double elapsed_s, long long boot_ns, struct tt_record *r);
/* Restarts the per-interval counters (new, closes). */
void stats_interval_end(struct stats *s);

/* The exit table as a "stats_final" record: every old -> new transition
 * with its count, and the transitions per owning process. Its arrays
 * belong to s until the next call or stats_free(). 0 or -ENOMEM. */
int stats_final(struct stats *s, long long boot_ns, struct tt_record *r);

/*
 * --stats-by cgroup: the top owners and the exit table count groups (the
 * container, else the systemd unit, else the cgroup path) instead of
 * processes. The caller passes each snapshot row and event through these
 * before stats_snapshot() and stats_event(): they replace the owner with
 * the socket's group (a socket whose cgroup is not known has no owner).
 * The group outlives s's reports: free it after s.
 */
struct stats_groups;
int stats_groups_new(struct stats_groups **out, struct stats *s);   /* 0 or -ENOMEM */
void stats_groups_free(struct stats_groups **g);
void stats_group_event(struct stats_groups *g, struct tt_event *e, const struct tt_cgref *cg);
void stats_group_snapshot(struct stats_groups *g, struct tt_snaprec *r, const struct tt_cgref *cg);

/* For tests and callers that want the numbers without parsing: the current
 * count of sockets in a kernel state (TT_ESTABLISHED...), 0 for CLOSE and
 * out-of-range values; the number of old -> new transitions seen so far. */
unsigned long long stats_state_count(const struct stats *s, unsigned state);
unsigned long long stats_transition_count(const struct stats *s, unsigned old_state,
					  unsigned new_state);

/* Every known owner of ESTABLISHED sockets now, one call per process: its
 * comm (raw bytes, NUL-terminated) and how many it owns. In no order. */
typedef void (*stats_owner_fn)(void *ctx, const char *comm, unsigned long long established);
void stats_each_owner(const struct stats *s, stats_owner_fn fn, void *ctx);

#endif /* TT_STATS_H */
