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

#include "capture_read.h"
#include "filter.h"
#include "lines.h"
#include "output.h"
#include "replay.h"

#define FLUSH_EVERY 1024

enum { SEC_NONE, SEC_SNAPSHOT, SEC_LIVE };

struct replay {
	const struct tt_opts *o;
	const char *path;
	struct tt_clock clock;      /* the capture's anchor: replayed times are the live ones */
	struct output *out;
	struct cr_parser *parser;
	struct lines in;
	int anchored, section, stats_header;
	/* the counts of the line on stderr at the end */
	unsigned long long records, unknown, rows, written, filtered, lost;
	struct cr_record rec;
};

/* A capture cut from its start (e.g. the file after a SIGHUP rotation) has
 * no meta record: until a clock record comes, anchor on the record's own
 * "time", which the writer computed from the anchor in force. */
static void ensure_anchor(struct replay *r)
{
	if (r->anchored)
		return;
	clock_set_anchor(&r->clock, r->rec.boot_ns, r->rec.time_real_ns);
	r->anchored = 1;
}

/* Text headers, where live mode prints them: netstat's above the snapshot,
 * the live one above the first event when there was no snapshot. */
static void enter_section(struct replay *r, int section)
{
	struct tt_record h = { .type = TT_REC_HEADER, .header.listening = r->o->listening };

	if (section == SEC_SNAPSHOT && r->section != SEC_SNAPSHOT)
		h.header.kind = TT_HEADER_SNAPSHOT;
	else if (section == SEC_LIVE && r->section == SEC_NONE)
		h.header.kind = TT_HEADER_LIVE;
	r->section = section;
	if (h.header.kind)
		output_record(r->out, &h);
}

/* The record's times are formatted with the capture's anchor. */
static void anchor(struct replay *r, const struct tt_record *rec)
{
	if (rec->type == TT_REC_META) {
		/* a new run begins (captures may be concatenated) */
		clock_set_anchor(&r->clock, rec->meta.boot_ns, rec->meta.real_ns);
		r->anchored = 1;
		r->section = SEC_NONE;
		r->stats_header = 1;
	} else if (rec->type == TT_REC_CLOCK) {
		clock_set_anchor(&r->clock, rec->clock.boot_ns, rec->clock.real_ns);
		r->anchored = 1;
	} else {
		ensure_anchor(r);
	}
}

/* The live run's filters and sections: 1 when rec is to be written. */
static int select_record(struct replay *r, struct tt_record *rec)
{
	switch (rec->type) {
	case TT_REC_SNAPSHOT:
		/* the header even when every row is filtered, as live mode does */
		enter_section(r, SEC_SNAPSHOT);
		if (filter_snapshot(r->o, &rec->snap) || filter_cgroup(r->o, &rec->cg)) {
			r->filtered++;
			return 0;
		}
		r->rows++;
		return 1;
	case TT_REC_EVENT:
		enter_section(r, SEC_LIVE);
		if (filter_event(r->o, &rec->ev) || filter_cgroup(r->o, &rec->cg)) {
			r->filtered++;
			return 0;
		}
		r->written++;
		return 1;
	case TT_REC_LOST:
		enter_section(r, SEC_LIVE);
		r->lost += rec->lost.count;
		return 1;
	case TT_REC_STATS:
		/* the text explains its columns once per run */
		enter_section(r, SEC_LIVE);
		rec->stats.header = r->stats_header;
		r->stats_header = 0;
		return 1;
	case TT_REC_STATS_FINAL:
		enter_section(r, SEC_LIVE);
		return 1;
	default:
		return 1;
	}
}

static void play(struct replay *r)
{
	struct tt_record *rec = &r->rec.r;

	if (rec->type == TT_REC_NONE) {
		r->unknown++;
		return;
	}
	if (rec->type == TT_REC_SNAPSHOT && r->o->no_snapshot)
		return;
	anchor(r, rec);
	if (select_record(r, rec))
		output_record(r->out, rec);
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
	int err;

	if (!r)
		return -ENOMEM;
	r->o = o;
	r->path = o->read;
	r->stats_header = 1;
	clock_anchor(&r->clock);
	/* | head closes stdout: end quietly, as live mode does */
	signal(SIGPIPE, SIG_IGN);
	err = lines_open(&r->in, o->read);
	if (err) {
		fprintf(stderr, "tcptrail: cannot open capture '%s': %s (check the path and "
			"the permissions)\n", o->read, strerror(-err));
		goto cleanup;
	}
	err = cr_parser_new(&r->parser);
	if (!err)
		err = output_open(&r->out, o, &r->clock, NULL);
	if (err)
		goto cleanup;
	err = replay_lines(r);
	fprintf(stderr, "tcptrail: replayed %llu records from %s: %llu snapshot rows, "
		"%llu events written, %llu filtered, %llu lost",
		r->records, o->read, r->rows, r->written, r->filtered, r->lost);
	if (r->unknown)
		fprintf(stderr, ", %llu records of unknown types skipped", r->unknown);
	fputc('\n', stderr);
	if (!err && r->lost && o->fail_on_loss)
		err = TT_EXIT_LOST;
cleanup:
	output_finish(&r->out, NULL);
	cr_parser_free(&r->parser);
	lines_close(&r->in);
	free(r);
	return err;
}
