// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * -r FILE: a capture (plain or gzip, zlib tells them apart) read back
 * through the live filters and printed by the live output module, so that
 * a replay looks like the run it recorded: text as netstat rows and live
 * lines, or, with --json, the records re-formatted by the same functions
 * (an unfiltered replay with --json reproduces the capture byte for byte).
 *
 * Damage (a cut-off last line, a truncated gzip stream, a record that is
 * not valid) stops the replay there: what came before has been printed,
 * stderr names the file and line, and the exit status is 1. Records of a
 * type this version does not know are skipped and counted, not an error,
 * so that captures of newer versions stay readable.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "capture_read.h"
#include "lines.h"
#include "netstat_fmt.h"
#include "output.h"
#include "replay.h"
#include "trace.h"

#define FLUSH_EVERY 1024

enum { SEC_NONE, SEC_SNAPSHOT, SEC_LIVE };

struct replay {
	const struct tt_opts *o;
	const char *path;
	struct output *out;
	struct cr_parser *parser;
	struct lines in;
	int anchored, section;
	unsigned long long records, unknown, snap_filtered;
	struct cr_record rec;
};

/* The live filters, as snapshot.c applies them to the rows */
static int snap_selected(const struct tt_opts *o, const struct tt_snaprec *r)
{
	if (o->family && r->row.family != (unsigned)o->family)
		return 0;
	if (!opts_port_selected(o, r->row.lport, r->row.rport))
		return 0;
	if (o->listening && !netstat_row_selected(&r->row, 1))
		return 0;
	if (o->pid && (!r->owner_known || r->pid != o->pid))
		return 0;
	return 1;
}

/* ... and as the BPF program and trace.c's deliver() apply them to events */
static int event_selected(const struct tt_opts *o, const struct tt_event *e)
{
	if (o->family && e->family != (unsigned)o->family)
		return 0;
	if (!opts_port_selected(o, e->lport, e->rport))
		return 0;
	/* -l: changes into or out of LISTEN; queue pressure is neither */
	if (o->listening && (e->kind != TT_EV_STATE ||
			     (e->old_state != TT_LISTEN && e->new_state != TT_LISTEN)))
		return 0;
	if (o->pid && (!(e->flags & TT_F_OWNER) || e->pid != o->pid))
		return 0;
	if (o->queue_threshold && e->recv_q <= o->queue_threshold &&
	    e->send_q <= o->queue_threshold)
		return 0;
	return 1;
}

/* A capture cut from its start (e.g. the file after a SIGHUP rotation) has
 * no meta record: until a clock record comes, anchor on the record's own
 * "time", which the writer computed from the anchor in force. */
static void ensure_anchor(struct replay *r)
{
	if (r->anchored)
		return;
	output_set_clock(r->out, r->rec.boot_ns, r->rec.time_real_ns);
	r->anchored = 1;
}

/* Text headers, where live mode prints them: netstat's above the snapshot,
 * the live one above the first event when there was no snapshot. */
static void enter_section(struct replay *r, int section)
{
	if (section == SEC_SNAPSHOT && r->section != SEC_SNAPSHOT)
		output_snapshot_header(r->out);
	else if (section == SEC_LIVE && r->section == SEC_NONE)
		output_text_live_header(r->out);
	r->section = section;
}

static void play(struct replay *r)
{
	struct cr_record *c = &r->rec;

	switch (c->type) {
	case CR_META:
		/* a new run begins (captures may be concatenated) */
		output_set_clock(r->out, c->meta.boot_ns, c->meta.real_ns);
		r->anchored = 1;
		r->section = SEC_NONE;
		output_meta(r->out, &c->meta);
		break;
	case CR_CLOCK:
		output_clock_record_at(r->out, c->boot_ns, c->clock_real_ns);
		r->anchored = 1;
		break;
	case CR_SNAPSHOT:
		if (r->o->no_snapshot)
			break;
		ensure_anchor(r);
		/* the header even when every row is filtered, as live mode does */
		enter_section(r, SEC_SNAPSHOT);
		if (snap_selected(r->o, &c->snap))
			output_snaprec(r->out, &c->snap);
		else
			r->snap_filtered++;
		break;
	case CR_EVENT:
		ensure_anchor(r);
		enter_section(r, SEC_LIVE);
		if (event_selected(r->o, &c->ev))
			output_event(r->out, &c->ev);
		else
			output_count_filtered(r->out);
		break;
	case CR_LOST:
		ensure_anchor(r);
		enter_section(r, SEC_LIVE);
		output_lost(r->out, &c->lost);
		break;
	case CR_SKIPPED:
		ensure_anchor(r);
		output_skipped(r->out, &c->lost);
		break;
	case CR_SUMMARY:
		ensure_anchor(r);
		output_summary_record(r->out, &c->summary);
		break;
	case CR_UNKNOWN:
		r->unknown++;
		break;
	}
}

static void damaged(struct replay *r, const char *why)
{
	fprintf(stderr, "tcptrail: %s:%lu: %s; the capture is damaged there "
		"(replayed the %llu records before it)\n",
		r->path, r->in.lineno, why, r->records);
}

/* Reads every line; returns 0, or -EBADMSG after reporting damage. */
static int replay_lines(struct replay *r)
{
	char why[CR_ERR_SIZE + 96], perr[CR_ERR_SIZE];
	const char *line, *bad;
	size_t len;
	int ret;

	while (!output_closed(r->out)) {
		ret = lines_next(&r->in, CR_LINE_MAX, &line, &len);
		if (ret == 1) {
			if (cr_parse_line(r->parser, line, len, &r->rec, perr, sizeof(perr))) {
				damaged(r, perr);
				return -EBADMSG;
			}
			play(r);
			if (++r->records % FLUSH_EVERY == 0)
				output_flush(r->out, 0);
			continue;
		}
		if (ret == -ENOMEM) {
			fprintf(stderr, "tcptrail: %s: out of memory reading the capture\n", r->path);
			return ret;
		}
		if (ret == -E2BIG) {
			snprintf(why, sizeof(why), "line longer than %d bytes", CR_LINE_MAX);
			damaged(r, why);
			return -EBADMSG;
		}
		/* the end, clean or not: zlib knows whether the stream was whole */
		bad = lines_damage(&r->in, ret, why, sizeof(why));
		if (bad) {
			damaged(r, bad);
			return -EBADMSG;
		}
		if (ret == 2) {
			damaged(r, "the last line is cut short (no newline at the end of the file: "
				"the writer was stopped or the disk filled)");
			return -EBADMSG;
		}
		return 0;
	}
	return 0;
}

int replay_run(const struct tt_opts *o)
{
	struct replay *r = calloc(1, sizeof(*r));
	unsigned long long written = 0, filtered = 0, lost = 0, rows = 0;
	int err, lost_any;

	if (!r)
		return -ENOMEM;
	r->o = o;
	r->path = o->read;
	/* | head closes stdout: end quietly, as live mode does */
	signal(SIGPIPE, SIG_IGN);
	err = lines_open(&r->in, o->read);
	if (err) {
		fprintf(stderr, "tcptrail: cannot open capture '%s': %s (check the path and "
			"the permissions)\n", o->read, strerror(-err));
		goto cleanup;
	}
	err = cr_parser_new(&r->parser);
	if (err)
		goto cleanup;
	err = output_open(&r->out, o);
	if (err)
		goto cleanup;
	err = replay_lines(r);
	output_counts(r->out, &written, &filtered, &lost, &rows);
	fprintf(stderr, "tcptrail: replayed %llu records from %s: %llu snapshot rows, "
		"%llu events written, %llu filtered, %llu lost",
		r->records, o->read, rows, written, filtered + r->snap_filtered, lost);
	if (r->unknown)
		fprintf(stderr, ", %llu records of unknown types skipped", r->unknown);
	fputc('\n', stderr);
cleanup:
	lost_any = output_finish(&r->out, o);
	cr_parser_free(&r->parser);
	lines_close(&r->in);
	free(r);
	if (!err && lost_any && o->fail_on_loss)
		return TT_EXIT_LOST;
	return err;
}
