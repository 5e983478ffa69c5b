/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Records to lines. Each function appends exactly one line, '\n' included,
 * to an outbuf; every string that came from the kernel or /proc is escaped
 * (escape.h), so one record is always one line.
 */
#ifndef TT_FORMAT_H
#define TT_FORMAT_H

#include <linux/types.h>
#include "tcptrail.h"
#include "clock.h"
#include "outbuf.h"
#include "procnet.h"

struct fmt_opts {
	int wide;
	int color;
	int addr_width;     /* text address column width (23, or more when wide) */
	struct tt_clock *clock;
};

/* One existing socket. */
struct tt_snaprec {
	struct tt_sockrow row;
	unsigned long long sock_id;  /* 0: unknown */
	unsigned netns;
	unsigned flags;              /* TT_F_TW, TT_F_REQ */
	int owner_known;
	unsigned pid;
	const char *comm;            /* task comm, raw bytes */
	const char *owner;           /* netstat's "PID/Program name", raw bytes */
	int owner_derived;           /* rebuilt by replay: text only, not re-written */
	long long boot_ns;           /* when the snapshot was read */
};

struct tt_lost {
	unsigned long long from_seq, to_seq;   /* inclusive; from > to: no range */
	unsigned long long count;
	const char *reason;                    /* "ring_full", "recursion", "write_error" */
	long long boot_ns;
};

struct tt_meta {
	const char *version, *hostname, *kernel, *boot_id, *cmdline, *attach;
	const char *features, *features_missing;   /* comma-separated kfeat names */
	unsigned long ring_size;
	unsigned netns;
	int timers, ctx_owner;
	int snapshot;                          /* a snapshot section follows */
	long long boot_ns, real_ns;            /* the clock anchor */
};

struct tt_summary {
	unsigned long long seen, written, lost, filtered, lost_write, lost_ring, lost_recursion;
	unsigned long long snapshot;
	unsigned long long timer_misses;   /* skipped timer hooks: see loader.h */
	long long boot_ns;
};

void fmt_text_snapshot_header(struct outbuf *ob, int listening_only);
void fmt_text_snapshot(struct outbuf *ob, const struct tt_snaprec *r, const struct fmt_opts *fo);
void fmt_text_live_header(struct outbuf *ob, const struct fmt_opts *fo);
void fmt_text_event(struct outbuf *ob, const struct tt_event *e, const struct fmt_opts *fo);
void fmt_text_lost(struct outbuf *ob, const struct tt_lost *l);

void fmt_json_meta(struct outbuf *ob, const struct tt_meta *m, const struct fmt_opts *fo);
void fmt_json_snapshot(struct outbuf *ob, const struct tt_snaprec *r, const struct fmt_opts *fo);
void fmt_json_event(struct outbuf *ob, const struct tt_event *e, const struct fmt_opts *fo);
void fmt_json_lost(struct outbuf *ob, const struct tt_lost *l, const struct fmt_opts *fo);
void fmt_json_clock(struct outbuf *ob, const struct fmt_opts *fo);
void fmt_json_summary(struct outbuf *ob, const struct tt_summary *s, const struct fmt_opts *fo);

/* "tcp" or "tcp6", as netstat's Proto column. */
const char *fmt_proto(unsigned family);
/* Address text without port ("127.0.0.1", "::ffff:127.0.0.1"). */
void fmt_addr(char *buf, size_t size, unsigned family, const unsigned char *addr);

#endif
