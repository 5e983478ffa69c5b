// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "channel.h"
#include "clock.h"
#include "netstat_fmt.h"
#include "output.h"
#include "snapshot.h"
#include "stats.h"

/* At the end, stdout's reader gets at most this long to take what is left,
 * and a stalled one (nothing taken for 200 ms: chan_drain) much less: it
 * must not keep tcptrail from stopping within a second. */
#define FINISH_WAIT_NS 600000000LL

struct output {
	struct channel *out;      /* stdout, NULL with --quiet */
	int out_json;
	struct channel *cap;      /* -o capture, JSON */
	struct outbuf ob;
	struct fmt_opts fo;
	struct tt_clock clock;
	const struct tt_opts *o;
	int has_sum;              /* output_summary ran: output_finish reports */
	struct tt_summary sum;
	long long deadline;
	/* what went through output_* (replay reports these) */
	unsigned long long written, filtered, lost, snapshot_rows;
};

static int color_wanted(enum tt_color c)
{
	const char *nc = getenv("NO_COLOR");

	if (c == TT_COLOR_ALWAYS)
		return 1;
	if (c == TT_COLOR_NEVER || (nc && *nc))
		return 0;
	return isatty(STDOUT_FILENO);
}

/*
 * With --wide on a terminal, the live lines' address columns grow to use the
 * width there is (the snapshot stays netstat's). The rest of a live line
 * takes about 82 columns; an address never needs more than 47
 * ("[ffff:...:ffff]:65535" without brackets plus the port).
 */
static int live_addr_width(const struct tt_opts *o)
{
	struct winsize ws;
	int w;

	if (!o->wide || o->json || !isatty(STDOUT_FILENO) ||
	    ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) || !ws.ws_col)
		return 23;
	w = ((int)ws.ws_col - 82) / 2;
	return w < 23 ? 23 : w > 47 ? 47 : w;
}

static int open_channel(struct channel **c, struct sink *s, int json,
			const struct fmt_opts *fo, const char *label)
{
	int err = chan_new(c, s, json, fo, label);

	if (err)
		sink_close(&s);
	return err;
}

#define STDOUT_BUF_MAX (256UL << 20)

static size_t stdout_buffer(const struct tt_opts *o)
{
	return o->ring_size > STDOUT_BUF_MAX / 2 ? STDOUT_BUF_MAX : 2 * o->ring_size;
}

int output_open(struct output **pout, const struct tt_opts *o)
{
	struct output *out = calloc(1, sizeof(*out));
	struct sink *s = NULL;
	int err;

	*pout = NULL;
	if (!out)
		return -ENOMEM;
	out->o = o;
	out->out_json = o->json;
	clock_anchor(&out->clock);
	out->fo.clock = &out->clock;
	out->fo.wide = o->wide;
	out->fo.addr_width = live_addr_width(o);
	out->fo.color = !o->json && color_wanted(o->color);
	err = ob_init(&out->ob, 1 << 16);
	if (err)
		goto cleanup;
	if (!o->quiet) {
		/* A replay has no kernel side to keep draining: it may wait. A
		 * live run keeps draining the ring whatever stdout's reader does,
		 * so stdout holds as much as the ring would have: a formatted
		 * record is about twice an event's size in the ring. */
		err = sink_open_stdout(&s, o->read != NULL, stdout_buffer(o));
		if (!err)
			err = open_channel(&out->out, s, o->json, &out->fo, "stdout");
		if (err)
			goto cleanup;
	}
	if (o->output) {
		err = sink_open(&s, o->output);
		if (err == -EEXIST) {
			struct stat st;

			/* O_EXCL says EEXIST for a symlink too: name the trap */
			if (!lstat(o->output, &st) && S_ISLNK(st.st_mode))
				err = -ELOOP;
		}
		if (err) {
			if (err == -EEXIST || err == -ELOOP)
				fprintf(stderr, "tcptrail: refusing to write to '%s': %s "
					"(a capture is always a new file; choose a new name)\n",
					o->output, err == -ELOOP ? "it is a symbolic link" : "it exists");
			else
				fprintf(stderr, "tcptrail: cannot create '%s': %s\n", o->output,
					strerror(-err));
			goto cleanup;
		}
		err = open_channel(&out->cap, s, 1, &out->fo, o->output);
		if (err)
			goto cleanup;
	}
	*pout = out;
	return 0;
cleanup:
	chan_close(&out->out, 0, NULL);
	ob_free(&out->ob);
	free(out);
	return err;
}

void output_abandon(struct output *out)
{
	if (out && out->cap)
		unlink(chan_label(out->cap));
}

const struct tt_clock *output_clock(const struct output *out)
{
	return &out->clock;
}

static void put(struct output *out, struct channel *c, unsigned tag, unsigned long long seq)
{
	if (c)
		chan_put(c, tag, seq, out->ob.oom ? NULL : out->ob.buf, out->ob.len);
}

/* One record: text and JSON are each formatted at most once. */
#define EMIT(out, tag, seq, text_stmt, json_stmt)                         \
	do {                                                              \
		if ((out)->out && !(out)->out_json) {                     \
			ob_reset(&(out)->ob);                             \
			text_stmt;                                        \
			put(out, (out)->out, tag, seq);                   \
		}                                                         \
		if ((out)->cap || ((out)->out && (out)->out_json)) {      \
			ob_reset(&(out)->ob);                             \
			json_stmt;                                        \
			if ((out)->out && (out)->out_json)                \
				put(out, (out)->out, tag, seq);           \
			put(out, (out)->cap, tag, seq);                   \
		}                                                         \
	} while (0)

void output_meta(struct output *out, const struct tt_meta *m)
{
	EMIT(out, CHAN_OTHER, 0, (void)0, fmt_json_meta(&out->ob, m, &out->fo));
}

void output_snapshot(struct output *out, const struct snapshot *s,
		     const volatile sig_atomic_t *stop)
{
	/* Nothing drains the ring while the rows are written: stdout's reader
	 * may take its time (a pager), until a signal ends the run; in a live
	 * run, while it takes a record a second, so that -d still holds. */
	chan_patience(out->out, stop, out->o->snapshot_only ? 0 : 1000);
	EMIT(out, CHAN_OTHER, 0, fmt_text_snapshot_header(&out->ob, out->o->listening), (void)0);
	for (size_t i = 0; i < s->n; i++) {
		EMIT(out, CHAN_SNAPSHOT, 0, fmt_text_snapshot(&out->ob, &s->recs[i], &out->fo),
		     fmt_json_snapshot(&out->ob, &s->recs[i], &out->fo));
		out->snapshot_rows++;
	}
	output_flush(out, 1);
	if (!out->o->snapshot_only)
		chan_patience(out->out, NULL, 0);
}

void output_live_header(struct output *out)
{
	if (out->o->no_snapshot)
		EMIT(out, CHAN_OTHER, 0, fmt_text_live_header(&out->ob, &out->fo), (void)0);
}

void output_event(struct output *out, const struct tt_event *e)
{
	EMIT(out, CHAN_EVENT, e->seq, fmt_text_event(&out->ob, e, &out->fo),
	     fmt_json_event(&out->ob, e, &out->fo));
	out->written++;
}

void output_lost(struct output *out, const struct tt_lost *l)
{
	out->lost += l->count;
	chan_mark(out->out, l, 0);
	chan_mark(out->cap, l, 0);
}

void output_skipped(struct output *out, const struct tt_lost *l)
{
	chan_mark(out->out, l, 1);
	chan_mark(out->cap, l, 1);
}

void output_clock_record(struct output *out)
{
	clock_anchor(&out->clock);
	EMIT(out, CHAN_OTHER, 0, (void)0, fmt_json_clock(&out->ob, &out->fo));
}

void output_stats(struct output *out, struct stats *st, double elapsed_s, int final)
{
	if (final)
		EMIT(out, CHAN_OTHER, 0, stats_final(st, &out->ob, 0, &out->fo),
		     stats_final(st, &out->ob, 1, &out->fo));
	else
		EMIT(out, CHAN_OTHER, 0, stats_report(st, &out->ob, 0, elapsed_s, &out->fo),
		     stats_report(st, &out->ob, 1, elapsed_s, &out->fo));
}

void output_count_filtered(struct output *out)
{
	out->filtered++;
}

/* The summary record of one output describes that output: what reached it. */
static void summary_to(struct output *out, struct channel *c, struct tt_summary *s)
{
	struct chan_counts cc;

	if (!c)
		return;
	/* a stalled reader is waited for once */
	if (chan_drain(c, c == out->out ? out->deadline : 0) == -EAGAIN && c == out->out)
		out->deadline = 0;
	if (!chan_json(c))
		return;
	chan_counts(c, &cc);
	s->written = cc.written;
	s->snapshot = cc.snapshot;
	s->snapshot_lost = cc.snapshot_lost;
	s->lost_write = cc.lost_write;
	s->lost = s->lost_ring + s->lost_recursion + s->lost_write;
	ob_reset(&out->ob);
	fmt_json_summary(&out->ob, s, &out->fo);
	put(out, c, CHAN_OTHER, 0);
}

void output_summary(struct output *out, const struct tt_summary *s)
{
	struct tt_summary one = *s;

	out->deadline = clock_boot_now() + FINISH_WAIT_NS;
	out->sum = *s;
	out->has_sum = 1;
	one.has_accounting = 1;
	summary_to(out, out->out, &one);
	one = *s;
	one.has_accounting = 1;
	summary_to(out, out->cap, &one);
}

/* The stderr lines at the end: the capture's counts with -o, else stdout's. */
static int report(struct output *out, const struct chan_counts *oc, const struct chan_counts *cc)
{
	const struct tt_summary *s = &out->sum;
	const struct chan_counts *p = out->o->output ? cc : oc;
	const char *name = out->o->output ? out->o->output : "stdout";
	unsigned long long lost = s->lost_ring + s->lost_recursion + p->lost_write;

	fprintf(stderr, "tcptrail: %llu events seen, %llu written, %llu lost, %llu filtered",
		s->seen, p->written, lost, s->filtered);
	if (lost)
		fprintf(stderr, " (ring full: %llu, nested hooks: %llu, not written: %llu)",
			s->lost_ring, s->lost_recursion, p->lost_write);
	fputc('\n', stderr);
	if (p->snapshot_lost || p->other_lost)
		fprintf(stderr, "tcptrail: %s: %llu snapshot rows and %llu other records could not be "
			"written\n", name, p->snapshot_lost, p->other_lost);
	if (p->cut)
		fprintf(stderr, "tcptrail: %s is cut short: its last %llu records could not be written "
			"(%s)\n", name, p->cut, p->error ? strerror(p->error) : "the reader did not take them");
	if (out->o->output && !out->o->quiet && (oc->lost_write || oc->snapshot_lost || oc->other_lost))
		fprintf(stderr, "tcptrail: stdout: %llu events, %llu snapshot rows and %llu other records "
			"were not delivered: the reader did not take them\n",
			oc->lost_write, oc->snapshot_lost, oc->other_lost);
	if (s->timer_misses)
		fprintf(stderr, "tcptrail: %llu timer hook runs were skipped by the kernel (nested in an "
			"interrupt) or request and timewait sockets could not be followed (table full); a TIME_WAIT "
			"or half-open transition may be among them\n", s->timer_misses);
	return lost || oc->lost_write || oc->snapshot_lost || cc->snapshot_lost;
}

void output_flush(struct output *out, int force)
{
	chan_flush(out->out, force);
	chan_flush(out->cap, force);
}

void output_pump(struct output *out)
{
	if (chan_poll_fd(out->out) >= 0)
		chan_flush(out->out, 1);
}

int output_poll_fd(const struct output *out)
{
	return chan_poll_fd(out->out);
}

void output_reopen(struct output *out)
{
	int err;

	if (!out->cap)
		return;
	err = chan_reopen(out->cap);
	if (err)
		fprintf(stderr, "tcptrail: cannot reopen '%s': %s (still writing the old file; "
			"move it away before sending SIGHUP)\n", out->o->output, strerror(-err));
}

int output_closed(const struct output *out)
{
	return chan_closed(out->out);
}

int output_finish(struct output **pout, const struct tt_opts *o)
{
	struct output *out = pout ? *pout : NULL;
	struct chan_counts oc, cc;
	int lost;

	(void)o;
	if (!out)
		return 0;
	if (!out->has_sum)
		out->deadline = clock_boot_now() + FINISH_WAIT_NS;
	chan_drain(out->cap, 0);
	chan_close(&out->cap, 0, &cc);
	chan_drain(out->out, out->deadline);
	chan_close(&out->out, 0, &oc);
	lost = out->has_sum ? report(out, &oc, &cc) : out->lost > 0;
	ob_free(&out->ob);
	free(out);
	*pout = NULL;
	return lost;
}

/*
 * Replay (replay.c): records read back from a capture go through the same
 * formatters and sinks as live ones, so the output is the same bytes.
 */
void output_snapshot_header(struct output *out)
{
	EMIT(out, CHAN_OTHER, 0, fmt_text_snapshot_header(&out->ob, out->o->listening), (void)0);
}

/* The live header whatever the options: a capture without snapshot rows. */
void output_text_live_header(struct output *out)
{
	EMIT(out, CHAN_OTHER, 0, fmt_text_live_header(&out->ob, &out->fo), (void)0);
}

void output_snaprec(struct output *out, const struct tt_snaprec *r)
{
	EMIT(out, CHAN_SNAPSHOT, 0, fmt_text_snapshot(&out->ob, r, &out->fo),
	     fmt_json_snapshot(&out->ob, r, &out->fo));
	out->snapshot_rows++;
}

/* The capture's anchor instead of this host's clocks: replayed times are the live ones. */
void output_set_clock(struct output *out, long long boot_ns, long long real_ns)
{
	clock_set_anchor(&out->clock, boot_ns, real_ns);
}

void output_clock_record_at(struct output *out, long long boot_ns, long long real_ns)
{
	clock_set_anchor(&out->clock, boot_ns, real_ns);
	EMIT(out, CHAN_OTHER, 0, (void)0, fmt_json_clock(&out->ob, &out->fo));
}

/* The capture's own summary, as written: no counting, nothing on stderr. */
void output_summary_record(struct output *out, const struct tt_summary *s)
{
	EMIT(out, CHAN_OTHER, 0, (void)0, fmt_json_summary(&out->ob, s, &out->fo));
}

void output_counts(const struct output *out, unsigned long long *written,
		   unsigned long long *filtered, unsigned long long *lost,
		   unsigned long long *snapshot_rows)
{
	*written = out->written;
	*filtered = out->filtered;
	*lost = out->lost;
	*snapshot_rows = out->snapshot_rows;
}
