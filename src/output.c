// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The outputs of a run (output.h): one path for every record. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "metrics.h"
#include "metrics_http.h"
#include "output.h"
#include "rotate.h"

/* At the end, stdout's reader gets at most this long to take what is left,
 * and a stalled one (nothing taken for 200 ms: chan_drain) much less: it
 * must not keep tcptrail from stopping within a second. */
#define FINISH_WAIT_NS 600000000LL

struct output {
	struct channel *out;      /* stdout, NULL with --quiet */
	int out_json;
	struct channel *cap;      /* -o capture, JSON */
	struct metrics *metrics;  /* --metrics: counters, fed every record */
	struct metrics_http *http;
	struct outbuf ob;
	struct fmt_opts fo;
	const struct tt_opts *o;
	const volatile sig_atomic_t *stop;
	int snapshot_wait;        /* stdout waits for its reader (the snapshot) */
	long long deadline;       /* for stdout's reader, at the end */
	int rot_err;              /* --rotate-to: the failure stderr was told of */
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

/* A replay has no kernel side to keep draining: it may wait. A live run
 * keeps draining the ring whatever stdout's reader does, so stdout holds
 * as much as the ring would have: a formatted record is about twice an
 * event's size in the ring. */
static int open_stdout(struct output *out)
{
	struct sink *s = NULL;
	int err = sink_open_stdout(&s, out->o->read != NULL, stdout_buffer(out->o));

	if (!err)
		err = open_channel(&out->out, s, out->o->json, &out->fo, "stdout");
	return err;
}

/* The capture is a new file: an existing one or a planted symlink is refused. */
static int open_capture(struct output *out)
{
	const char *path = out->o->output;
	struct sink *s = NULL;
	struct stat st;
	int err = sink_open(&s, path);

	/* O_EXCL says EEXIST for a symlink too: name the trap */
	if (err == -EEXIST && !lstat(path, &st) && S_ISLNK(st.st_mode))
		err = -ELOOP;
	if (err == -EEXIST || err == -ELOOP)
		fprintf(stderr, "tcptrail: refusing to write to '%s': %s "
			"(a capture is always a new file; choose a new name)\n",
			path, err == -ELOOP ? "it is a symbolic link" : "it exists");
	else if (err)
		fprintf(stderr, "tcptrail: cannot create '%s': %s\n", path, strerror(-err));
	if (err)
		return err;
	return open_channel(&out->cap, s, 1, &out->fo, path);
}

void output_abandon(struct output *out)
{
	if (out && out->cap)
		unlink(chan_label(out->cap));
}

int output_open(struct output **pout, const struct tt_opts *o, struct tt_clock *clock,
		const volatile sig_atomic_t *stop)
{
	struct output *out = calloc(1, sizeof(*out));
	int err;

	*pout = NULL;
	if (!out)
		return -ENOMEM;
	out->o = o;
	out->stop = stop;
	out->out_json = o->json;
	out->fo.clock = clock;
	out->fo.wide = o->wide;
	out->fo.addr_width = live_addr_width(o);
	out->fo.cgroup_column = o->cgroup_column;
	out->fo.color = !o->json && color_wanted(o->color);
	err = ob_init(&out->ob, 1 << 16);
	if (!err && !o->quiet)
		err = open_stdout(out);
	if (!err && o->output)
		err = open_capture(out);
	/* a run that sees part of some sockets' lives (sockgauge.h) */
	if (!err && o->metrics)
		err = metrics_new(&out->metrics, o->no_snapshot || o->pid || o->queue_threshold);
	if (!err && o->metrics)
		err = metrics_http_bind(&out->http, o->metrics);
	if (err) {
		output_abandon(out);
		chan_close(&out->cap, 0, NULL);
		metrics_http_stop(&out->http);
		metrics_free(&out->metrics);
		chan_close(&out->out, 0, NULL);
		ob_free(&out->ob);
		free(out);
		return err;
	}
	*pout = out;
	return 0;
}

static void put(struct output *out, struct channel *c, unsigned tag, unsigned long long seq)
{
	if (c)
		chan_put(c, tag, seq, out->ob.oom ? NULL : out->ob.buf, out->ob.len);
}

/*
 * Nothing drains the ring while the snapshot is written: stdout's reader
 * may take its time (a pager), until a signal ends the run; in a live run,
 * while it takes a record a second, so that -d still holds. The wait ends
 * with the first record after the snapshot (or at the end), except with
 * --snapshot-only, where it lasts to the end.
 */
static void snapshot_wait(struct output *out, const struct tt_record *r)
{
	if (r->type == TT_REC_HEADER && r->header.kind == TT_HEADER_SNAPSHOT && out->stop) {
		chan_patience(out->out, out->stop, out->o->snapshot_only ? 0 : 1000);
		out->snapshot_wait = 1;
	} else if (out->snapshot_wait && r->type != TT_REC_SNAPSHOT && !out->o->snapshot_only) {
		chan_patience(out->out, NULL, 0);
		out->snapshot_wait = 0;
	}
}

void output_record(struct output *out, const struct tt_record *r)
{
	unsigned tag = r->type == TT_REC_EVENT ? CHAN_EVENT :
		       r->type == TT_REC_SNAPSHOT ? CHAN_SNAPSHOT : CHAN_OTHER;
	unsigned long long seq = r->type == TT_REC_EVENT ? r->ev.seq : 0;

	snapshot_wait(out, r);
	if (out->metrics)
		metrics_record(out->metrics, r);
	/* lost and skipped records wait in each channel for their place */
	if (r->type == TT_REC_LOST || r->type == TT_REC_SKIPPED) {
		chan_mark(out->out, &r->lost, r->type == TT_REC_SKIPPED);
		chan_mark(out->cap, &r->lost, r->type == TT_REC_SKIPPED);
		return;
	}
	/* each format at most once; a record without a form in one is empty */
	if (out->out && !out->out_json) {
		ob_reset(&out->ob);
		fmt_text(&out->ob, r, &out->fo);
		put(out, out->out, tag, seq);
	}
	if (out->cap || (out->out && out->out_json)) {
		ob_reset(&out->ob);
		fmt_json(&out->ob, r, &out->fo);
		if (out->out && out->out_json)
			put(out, out->out, tag, seq);
		put(out, out->cap, tag, seq);
	}
}

/* One output's summary: the run's counts, and what this output took. The
 * record and the stderr line are both made here. */
static void summary_of(struct tt_summary *s, const struct tt_summary *run,
		       const struct chan_counts *cc)
{
	*s = *run;
	s->written = cc->written;
	s->snapshot = cc->snapshot;
	s->snapshot_lost = cc->snapshot_lost;
	s->lost_write = cc->lost_write;
	s->lost = s->lost_ring + s->lost_recursion + s->lost_write;
	s->has_accounting = 1;
}

/* The summary record of one output describes that output: what reached it. */
static void summary_to(struct output *out, struct channel *c, const struct tt_summary *run)
{
	struct tt_record r = { .type = TT_REC_SUMMARY };
	struct chan_counts cc;

	if (!c)
		return;
	/* a stalled reader is waited for once */
	if (chan_drain(c, c == out->out ? out->deadline : 0) == -EAGAIN && c == out->out)
		out->deadline = 0;
	if (!chan_json(c))
		return;
	chan_counts(c, &cc);
	summary_of(&r.summary, run, &cc);
	ob_reset(&out->ob);
	fmt_json(&out->ob, &r, &out->fo);
	put(out, c, CHAN_OTHER, 0);
}

/* The stderr lines at the end: the capture's counts with -o, else stdout's. */
static int report(struct output *out, const struct tt_summary *run, const struct chan_counts *oc,
		  const struct chan_counts *cc)
{
	const struct chan_counts *p = out->o->output ? cc : oc;
	const char *name = out->o->output ? out->o->output : "stdout";
	struct tt_summary s;

	summary_of(&s, run, p);
	fprintf(stderr, "tcptrail: %llu events seen, %llu written, %llu lost, %llu filtered",
		s.seen, s.written, s.lost, s.filtered);
	if (s.lost)
		fprintf(stderr, " (ring full: %llu, nested hooks: %llu, not written: %llu)",
			s.lost_ring, s.lost_recursion, s.lost_write);
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
	if (s.timer_misses)
		fprintf(stderr, "tcptrail: %llu timer hook runs were skipped by the kernel (nested in an "
			"interrupt) or request and timewait sockets could not be followed (table full); a TIME_WAIT "
			"or half-open transition may be among them\n", s.timer_misses);
	return s.lost || oc->lost_write || oc->snapshot_lost || cc->snapshot_lost;
}

void output_tally(struct output *out, const struct tt_record *r)
{
	if (out->metrics)
		metrics_record(out->metrics, r);
}

void output_late(struct output *out, const struct tt_event *ev)
{
	if (out->metrics)
		metrics_late(out->metrics, ev);
}

void output_kernel_lost(struct output *out,
			const unsigned long long lost[TT_STATE_MAX][TT_STATE_MAX])
{
	if (out->metrics)
		metrics_kernel_lost(out->metrics, lost);
}

/* The events an output could not take, for the metrics: the capture's with
 * -o, else stdout's (as the summary line on stderr). */
static void metrics_update(struct output *out, int force)
{
	struct channel *c = out->cap ? out->cap : out->out;
	struct chan_counts cc;

	if (c) {
		chan_counts(c, &cc);
		metrics_write_lost(out->metrics, cc.lost_write);
	}
	metrics_publish(out->metrics, clock_boot_now(), force);
}

void output_flush(struct output *out, int force)
{
	chan_flush(out->out, force);
	chan_flush(out->cap, force);
	if (out->metrics)
		metrics_update(out, force);
}

int output_serve(struct output *out)
{
	if (!out->http)
		return 0;
	metrics_update(out, 1);
	return metrics_http_start(out->http, out->metrics);
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

static void reopen_capture(struct output *out)
{
	int err = chan_reopen(out->cap);

	if (err)
		fprintf(stderr, "tcptrail: cannot reopen '%s': %s (still writing the old file; "
			"move it away before sending SIGHUP)\n", out->o->output, strerror(-err));
}

/* A failure is told once (until a rotation works, or the cause changes):
 * logrotate may send SIGHUP every hour to a directory that stays full. */
static void rotate_failed(struct output *out, const char *still, int err)
{
	if (err == out->rot_err)
		return;
	out->rot_err = err;
	fprintf(stderr, "tcptrail: cannot rotate '%s' to --rotate-to '%s': %s; still writing "
		"'%s', nothing lost (%s, then send SIGHUP again)\n", out->o->output,
		out->o->rotate_to, strerror(-err), still, rot_fix(err));
}

/*
 * --rotate-to: the file is whole before its name changes, so a reader that
 * follows the name (rsyslog's imfile) has read everything once the name is
 * gone. On any failure the records go on into the file tcptrail holds.
 */
static void rotate_capture(struct output *out)
{
	const char *path = out->o->output;
	char to[PATH_MAX];
	struct timespec now;
	int err = chan_seal(out->cap);

	if (!err)
		err = chan_check_path(out->cap);
	if (err == -ENOENT) {
		/* moved away by hand, the way without --rotate-to */
		reopen_capture(out);
		return;
	}
	/* not time(): glibc reads a clock that lags up to a tick behind */
	clock_gettime(CLOCK_REALTIME, &now);
	if (!err)
		err = rot_move(path, out->o->rotate_to, now.tv_sec, to, sizeof(to));
	if (err) {
		rotate_failed(out, path, err);
		return;
	}
	err = chan_reopen(out->cap);
	if (err) {
		/* someone made path in the instant it was free: the records go
		 * on into the renamed file until a SIGHUP finds path free */
		rotate_failed(out, to, err == -EEXIST || err == -ELOOP ? -ESTALE : err);
		return;
	}
	out->rot_err = 0;
}

void output_reopen(struct output *out)
{
	if (!out->cap)
		return;
	if (out->o->rotate_to)
		rotate_capture(out);
	else
		reopen_capture(out);
}

int output_closed(const struct output *out)
{
	return chan_closed(out->out);
}

int output_finish(struct output **pout, const struct tt_summary *run)
{
	struct output *out = pout ? *pout : NULL;
	struct chan_counts oc, cc;
	int lost = 0;

	if (!out)
		return 0;
	if (out->snapshot_wait && !out->o->snapshot_only)
		chan_patience(out->out, NULL, 0);
	out->deadline = clock_boot_now() + FINISH_WAIT_NS;
	if (run) {
		summary_to(out, out->out, run);
		summary_to(out, out->cap, run);
	}
	chan_drain(out->cap, 0);
	chan_close(&out->cap, 0, &cc);
	chan_drain(out->out, out->deadline);
	chan_close(&out->out, 0, &oc);
	metrics_http_stop(&out->http);
	metrics_free(&out->metrics);
	if (run)
		lost = report(out, run, &oc, &cc);
	ob_free(&out->ob);
	free(out);
	*pout = NULL;
	return lost;
}
