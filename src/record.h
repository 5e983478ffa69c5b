/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The records of a run: one tagged union for everything tcptrail writes.
 *
 * The live run produces them (events from the ring, snapshot rows, -s
 * reports, its own lost, skipped, clock and summary records), a capture
 * reads back into them (capture_read.h), and the formatters (format.h) turn
 * each into its text and JSON line. A new record type is a member here, a
 * case in each formatter and a parser in capture_read.c.
 *
 * Strings are raw bytes as the kernel or /proc gave them: the formatters
 * escape them (escape.h). A record does not own its strings.
 */
#ifndef TT_RECORD_H
#define TT_RECORD_H

#include <stddef.h>
#include <linux/types.h>

#include "tcptrail.h"

/* One socket as /proc/net/tcp shows it (and as iter/tcp reads it). */
struct tt_sockrow {
	unsigned family;              /* AF_INET or AF_INET6 */
	unsigned char laddr[16];      /* network byte order, IPv4 in first 4 bytes */
	unsigned char raddr[16];
	unsigned lport, rport;        /* host order */
	unsigned state;               /* kernel TCP state number 1..12 */
	unsigned long long rxq, txq;  /* as printed in /proc (tx_queue:rx_queue hex) */
	unsigned long long inode;
	unsigned uid;
};

/* The socket's cgroup on a snapshot or event record (src/cgroup.h). */
struct tt_cgref {
	int present;                  /* the record has the fields (0: an older capture's) */
	unsigned long long id;        /* cgroup v2 id, 0: not known (JSON null) */
	const char *path;             /* relative to the cgroup2 root, raw bytes; NULL: not known */
	const char *container;        /* container id or systemd unit; NULL: none */
};

/* "snapshot": one existing socket. */
struct tt_snaprec {
	struct tt_sockrow row;
	unsigned long long sock_id;  /* 0: unknown */
	unsigned netns;
	unsigned flags;              /* TT_F_TW, TT_F_REQ */
	unsigned long long cgroup_id; /* as iter/tcp read it, 0: not known */
	int owner_known;
	unsigned pid;
	const char *comm;            /* task comm, raw bytes */
	const char *owner;           /* netstat's "PID/Program name", raw bytes */
	int owner_derived;           /* rebuilt by replay: text only, not re-written */
	long long boot_ns;           /* when the snapshot was read */
};

/*
 * "lost": events that are not in the output, and why. With reason "write"
 * (the output could not take them: a full disk, a stalled reader) it also
 * counts the snapshot rows and other records that were not written, and
 * names the error. Also "skipped": events left out on purpose because the
 * snapshot already shows them (reason "snapshot").
 */
struct tt_lost {
	unsigned long long from_seq, to_seq;   /* inclusive; from > to: no range */
	unsigned long long count;              /* events */
	unsigned long long snapshot, other;    /* "write": rows and other records */
	const char *reason;                    /* "ring_full", "recursion", "write"; skipped: "snapshot" */
	const char *error;                     /* "write": the errno name, or NULL */
	long long boot_ns;
};

/* "meta": the first record of a run. */
struct tt_meta {
	const char *version, *hostname, *kernel, *boot_id, *cmdline, *attach;
	const char *features, *features_missing;   /* comma-separated kfeat names */
	unsigned long ring_size;
	unsigned netns;
	int timers, ctx_owner;
	int snapshot;                          /* a snapshot section follows */
	long long boot_ns, real_ns;            /* the clock anchor */
	const char *cgroup_v2;                 /* cgroups_v2_name(); NULL: an older capture's */
};

/* "clock": a new anchor between CLOCK_BOOTTIME and the wall clock. */
struct tt_anchor {
	long long boot_ns, real_ns;
};

/* The text outputs' headers (JSON has none): netstat's two lines above the
 * snapshot, or the live columns when there is no snapshot. */
enum tt_header_kind { TT_HEADER_SNAPSHOT = 1, TT_HEADER_LIVE };

struct tt_header {
	enum tt_header_kind kind;
	int listening;                         /* netstat -l's first line */
};

/* How many processes a "stats" report lists. */
#define STATS_TOP 5
/* The states a "stats" report counts, in report order: the kernel's
 * numbering without CLOSE (a socket that reaches CLOSE is gone). */
#define STATS_STATES { TT_ESTABLISHED, TT_SYN_SENT, TT_SYN_RECV, TT_FIN_WAIT1, \
		       TT_FIN_WAIT2, TT_TIME_WAIT, TT_CLOSE_WAIT, TT_LAST_ACK, TT_LISTEN, TT_CLOSING }
#define STATS_NSTATES 10

/* --stats-by cgroup: the longest group name kept (a container id, a unit,
 * or a cgroup path) */
#define TT_GROUP_LEN 128

/* A process in a "stats" or "stats_final" record, with its count; with
 * --stats-by cgroup, a group (a container, a unit or a cgroup) instead. */
struct tt_proc_count {
	int known;                             /* 0: the owner is unknown */
	unsigned pid;
	char comm[TT_COMM_LEN];                /* "" when not known; not NUL-terminated at 16 */
	int by_group;                          /* group names it, not pid and comm */
	char group[TT_GROUP_LEN];              /* NUL-terminated, raw bytes */
	unsigned long long n;                  /* ESTABLISHED sockets, or transitions */
};

/* "stats": -s, one periodic report. */
struct tt_stats {
	long long boot_ns;
	double interval_s;
	unsigned long long states[TT_STATE_MAX];   /* sockets per state, now */
	unsigned long long sockets;                /* their sum over STATS_STATES */
	unsigned long long new_conns, closes;      /* in the interval */
	double new_per_s, closes_per_s;
	struct tt_proc_count top[STATS_TOP];       /* owners of the most ESTABLISHED sockets */
	int ntop;
	unsigned long long lost;                   /* events lost so far: counts approximate */
	int header;                                /* the first: text explains the columns */
};

/* One old -> new transition and how often it was seen. */
struct tt_trans_count {
	unsigned old_state, new_state;
	unsigned long long n;
};

/* "stats_final": -s, the table at exit. */
struct tt_stats_final {
	long long boot_ns;
	unsigned long long new_conns, closes, lost;
	const struct tt_trans_count *trans;    /* most frequent first */
	size_t ntrans;
	const struct tt_proc_count *procs;     /* most transitions first; an unknown owner last */
	size_t nprocs;
};

/* "summary": one output's counts, the last record; the invariants it
 * keeps are in the README ("Losing nothing silently"). */
struct tt_summary {
	unsigned long long seen, written, lost, filtered, lost_write, lost_ring, lost_recursion;
	unsigned long long skipped;        /* events the snapshot already showed */
	unsigned long long summarized;     /* events only counted by --stats */
	unsigned long long snapshot, snapshot_lost;
	int has_accounting;                /* skipped, summarized, snapshot_lost are known */
	unsigned long long timer_misses;   /* skipped timer hooks: see loader.h */
	long long boot_ns;
};

enum tt_rec_type {
	TT_REC_NONE = 0,       /* a capture record of a type this version does not know */
	TT_REC_META,
	TT_REC_HEADER,         /* text only */
	TT_REC_SNAPSHOT,
	TT_REC_EVENT,          /* "transition", "rcvq_full", "sndbuf_full": ev.kind */
	TT_REC_LOST,
	TT_REC_SKIPPED,        /* in lost */
	TT_REC_CLOCK,
	TT_REC_STATS,
	TT_REC_STATS_FINAL,
	TT_REC_SUMMARY,
	TT_REC_MAX,
};

struct tt_record {
	enum tt_rec_type type;
	/* TT_REC_SNAPSHOT, TT_REC_EVENT: the socket's cgroup, resolved by the
	 * producer (the formatters only format) */
	struct tt_cgref cg;
	union {
		struct tt_meta meta;
		struct tt_header header;
		struct tt_snaprec snap;
		struct tt_event ev;
		struct tt_lost lost;
		struct tt_anchor clock;
		struct tt_stats stats;
		struct tt_stats_final final;
		struct tt_summary summary;
	};
};

#endif /* TT_RECORD_H */
