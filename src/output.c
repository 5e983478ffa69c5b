// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "netstat_fmt.h"
#include "output.h"
#include "sink.h"
#include "snapshot.h"
#include "stats.h"

/* gzip's sync flush costs compression: bound it to about once a second,
 * which is also the most a crash may lose. Plain outputs flush each round. */
#define GZIP_FLUSH_NS 1000000000LL
#define FILE_FLUSH_NS 100000000LL

struct output {
	struct sink *out;         /* stdout, NULL with --quiet */
	int out_json;
	struct sink *cap;         /* -o capture, JSON */
	struct outbuf ob;
	struct fmt_opts fo;
	struct tt_clock clock;
	const struct tt_opts *o;
	int dirty_out, dirty_cap, closed;
	long long cap_flushed;
	unsigned long long written, filtered, joined, lost, snapshot_rows;
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

int output_open(struct output **pout, const struct tt_opts *o)
{
	struct output *out = calloc(1, sizeof(*out));
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
		err = sink_open(&out->out, "-");
		if (err)
			goto cleanup;
	}
	if (o->output) {
		err = sink_open(&out->cap, o->output);
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
	}
	*pout = out;
	return 0;
cleanup:
	sink_close(&out->out);
	ob_free(&out->ob);
	free(out);
	return err;
}

void output_abandon(struct output *out)
{
	if (out && out->cap && sink_kind(out->cap) != SINK_STDOUT)
		unlink(sink_path(out->cap));
}

const struct tt_clock *output_clock(const struct output *out)
{
	return &out->clock;
}

static void put(struct output *out, struct sink *s, int *dirty)
{
	int err;

	if (!s || out->ob.oom)
		return;
	err = sink_write(s, out->ob.buf, out->ob.len);
	*dirty = 1;
	if (err == -EPIPE && s == out->out)
		out->closed = 1;
}

/* One record: text and JSON are each formatted at most once. */
#define EMIT(out, text_stmt, json_stmt)                                   \
	do {                                                              \
		if ((out)->out && !(out)->out_json) {                     \
			ob_reset(&(out)->ob);                             \
			text_stmt;                                        \
			put(out, (out)->out, &(out)->dirty_out);          \
		}                                                         \
		if ((out)->cap || ((out)->out && (out)->out_json)) {      \
			ob_reset(&(out)->ob);                             \
			json_stmt;                                        \
			if ((out)->out && (out)->out_json)                \
				put(out, (out)->out, &(out)->dirty_out);  \
			put(out, (out)->cap, &(out)->dirty_cap);          \
		}                                                         \
	} while (0)

void output_meta(struct output *out, const struct tt_meta *m)
{
	EMIT(out, (void)0, fmt_json_meta(&out->ob, m, &out->fo));
}

void output_snapshot(struct output *out, const struct snapshot *s)
{
	EMIT(out, fmt_text_snapshot_header(&out->ob, out->o->listening), (void)0);
	for (size_t i = 0; i < s->n; i++) {
		EMIT(out, fmt_text_snapshot(&out->ob, &s->recs[i], &out->fo),
		     fmt_json_snapshot(&out->ob, &s->recs[i], &out->fo));
		out->snapshot_rows++;
	}
	output_flush(out, 1);
}

void output_live_header(struct output *out)
{
	if (out->o->no_snapshot)
		EMIT(out, fmt_text_live_header(&out->ob, &out->fo), (void)0);
}

void output_event(struct output *out, const struct tt_event *e)
{
	EMIT(out, fmt_text_event(&out->ob, e, &out->fo), fmt_json_event(&out->ob, e, &out->fo));
	out->written++;
}

void output_lost(struct output *out, const struct tt_lost *l)
{
	out->lost += l->count;
	EMIT(out, fmt_text_lost(&out->ob, l), fmt_json_lost(&out->ob, l, &out->fo));
	/* a rate-limited notice on stderr too, when stdout is not a terminal */
}

void output_clock_record(struct output *out)
{
	clock_anchor(&out->clock);
	EMIT(out, (void)0, fmt_json_clock(&out->ob, &out->fo));
}

void output_stats(struct output *out, struct stats *st, double elapsed_s, int final)
{
	if (final)
		EMIT(out, stats_final(st, &out->ob, 0, &out->fo),
		     stats_final(st, &out->ob, 1, &out->fo));
	else
		EMIT(out, stats_report(st, &out->ob, 0, elapsed_s, &out->fo),
		     stats_report(st, &out->ob, 1, elapsed_s, &out->fo));
}

void output_count_filtered(struct output *out)
{
	out->filtered++;
}

void output_count_joined(struct output *out)
{
	out->joined++;
}

static unsigned long long dropped_lines(const struct output *out)
{
	struct sink_stats st;
	unsigned long long n = 0;

	if (out->cap) {
		sink_stats(out->cap, &st);
		n += st.lines_dropped;
	}
	return n;
}

void output_summary(struct output *out, struct tt_summary *s)
{
	output_flush(out, 1);
	s->snapshot = out->snapshot_rows;
	s->written = out->written;
	s->filtered += out->filtered;
	s->lost_write = dropped_lines(out);
	s->lost = out->lost + s->lost_write;
	EMIT(out, (void)0, fmt_json_summary(&out->ob, s, &out->fo));
	fprintf(stderr, "tcptrail: %llu events seen, %llu written, %llu lost, %llu filtered",
		s->seen, s->written, s->lost, s->filtered);
	if (s->lost)
		fprintf(stderr, " (ring full: %llu, nested hooks: %llu, write errors: %llu lines)",
			s->lost_ring, s->lost_recursion, s->lost_write);
	fputc('\n', stderr);
	if (s->timer_misses)
		fprintf(stderr, "tcptrail: %llu timer hook runs were skipped by the kernel (nested in an "
			"interrupt) or request and timewait sockets could not be followed (table full); a TIME_WAIT "
			"or half-open transition may be among them\n", s->timer_misses);
	out->lost = s->lost;
}

void output_flush(struct output *out, int force)
{
	long long now;

	if (out->out && out->dirty_out) {
		if (sink_flush(out->out) == -EPIPE)
			out->closed = 1;
		out->dirty_out = 0;
	}
	if (!out->cap || !out->dirty_cap)
		return;
	now = clock_boot_now();
	if (!force && now - out->cap_flushed <
	    (sink_kind(out->cap) == SINK_GZIP ? GZIP_FLUSH_NS : FILE_FLUSH_NS))
		return;
	sink_flush(out->cap);
	out->cap_flushed = now;
	out->dirty_cap = 0;
}

void output_reopen(struct output *out)
{
	int err;

	if (!out->cap)
		return;
	err = sink_reopen(out->cap);
	if (err)
		fprintf(stderr, "tcptrail: cannot reopen '%s': %s (still writing the old file; "
			"move it away before sending SIGHUP)\n", sink_path(out->cap), strerror(-err));
}

int output_closed(const struct output *out)
{
	return out->closed;
}

int output_finish(struct output **pout, const struct tt_opts *o)
{
	struct output *out = pout ? *pout : NULL;
	int lost;

	(void)o;
	if (!out)
		return 0;
	output_flush(out, 1);
	if (out->cap && sink_close(&out->cap))
		out->lost++;
	sink_close(&out->out);
	lost = out->lost > 0;
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
	EMIT(out, fmt_text_snapshot_header(&out->ob, out->o->listening), (void)0);
}

/* The live header whatever the options: a capture without snapshot rows. */
void output_text_live_header(struct output *out)
{
	EMIT(out, fmt_text_live_header(&out->ob, &out->fo), (void)0);
}

void output_snaprec(struct output *out, const struct tt_snaprec *r)
{
	EMIT(out, fmt_text_snapshot(&out->ob, r, &out->fo),
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
	EMIT(out, (void)0, fmt_json_clock(&out->ob, &out->fo));
}

/* The capture's own summary, as written: no counting, nothing on stderr. */
void output_summary_record(struct output *out, const struct tt_summary *s)
{
	EMIT(out, (void)0, fmt_json_summary(&out->ob, s, &out->fo));
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
