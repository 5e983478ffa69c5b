// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * --verify FILE...: is a capture, or a rotated series read in order, whole?
 * The invariants (README, "Losing nothing silently") as a reader can check
 * them from the files alone:
 *   - every line is a valid record (the parser of -r);
 *   - meta is the first record and summary the last, nothing after it; a
 *     series without them is cut, and said to be;
 *   - the records that carry seqs (events, and lost and skipped records
 *     with a range) follow each other without a gap or an overlap: every
 *     seq is in exactly one record, and a lost record's count is its range;
 *   - the summary's counts are those of the records, and add up.
 * The seq check is void when the series holds no event at all (--stats
 * writes counts, not events). One pass, constant memory.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture_read.h"
#include "lines.h"
#include "verify.h"

#define MSG_SIZE 512

struct verify {
	struct cr_parser *parser;
	struct cr_record rec;
	struct lines in;
	int nfiles;
	unsigned long long records, events, rows, unknown;
	unsigned long long ring, recursion, write, write_rows, other_reason, skipped;
	unsigned long long nlost, nskipped;
	int have_seq, meta_first, saw_summary;
	unsigned long long first_seq, next_seq;
	struct tt_summary sum;
	char sum_at[64];              /* "FILE:LINE" of the summary */
	char seq_bad[MSG_SIZE];       /* the first seq violation, kept until events are seen */
};

__attribute__((format(printf, 2, 3)))
static int violation(struct verify *v, const char *fmt, ...)
{
	char msg[MSG_SIZE];
	va_list ap;

	/* a seq violation came first, and counts: the series has events */
	if (v->seq_bad[0] && v->events) {
		fprintf(stderr, "%s\n", v->seq_bad);
		return -EBADMSG;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "tcptrail: verify: %s:%lu: %s\n", v->in.path, v->in.lineno, msg);
	return -EBADMSG;
}

/* The records with seqs cover from..to; the next must begin at to + 1. */
static void seqs(struct verify *v, unsigned long long from, unsigned long long to)
{
	const char *why = NULL;
	unsigned long long want = v->next_seq;

	if (!v->have_seq) {
		v->have_seq = 1;
		v->first_seq = from;
		v->next_seq = to + 1;
		/* a whole run's seqs begin at 0, when the programs are attached */
		if (v->meta_first && from)
			why = "is the first, but";
		else
			return;
		want = 0;
	} else if (from == v->next_seq) {
		v->next_seq = to + 1;
		return;
	} else if (from > v->next_seq) {
		why = "follows a gap:";
	}
	if (!v->seq_bad[0]) {
		if (why)
			snprintf(v->seq_bad, sizeof(v->seq_bad), "tcptrail: verify: %s:%lu: seq %llu %s "
				 "seqs %llu-%llu are in no record (a gap without a lost record)",
				 v->in.path, v->in.lineno, from, why, want, from - 1);
		else
			snprintf(v->seq_bad, sizeof(v->seq_bad), "tcptrail: verify: %s:%lu: seq %llu is "
				 "in an earlier record too (the records so far cover up to %llu)",
				 v->in.path, v->in.lineno, from, v->next_seq - 1);
	}
	if (to + 1 > v->next_seq)
		v->next_seq = to + 1;
}

static int range_count(struct verify *v, const struct tt_lost *l, const char *type)
{
	if (l->from_seq <= l->to_seq && l->count != l->to_seq - l->from_seq + 1)
		return violation(v, "%s record: count %llu, but its range %llu-%llu holds %llu seqs",
				 type, l->count, l->from_seq, l->to_seq, l->to_seq - l->from_seq + 1);
	return 0;
}

/* A lost record: counted by reason; its seqs, when it has a range. */
static int check_lost(struct verify *v, const struct tt_lost *l)
{
	int err = range_count(v, l, "lost");

	v->nlost++;
	if (!strcmp(l->reason, "ring_full")) {
		v->ring += l->count;
	} else if (!strcmp(l->reason, "recursion")) {
		v->recursion += l->count;
	} else if (!strcmp(l->reason, "write")) {
		v->write += l->count;
		v->write_rows += l->snapshot;
	} else {
		v->other_reason += l->count;
	}
	if (l->from_seq <= l->to_seq)
		seqs(v, l->from_seq, l->to_seq);
	else if (strcmp(l->reason, "recursion") && l->count)
		return violation(v, "a lost record of %llu events (%s) without their seqs",
				 l->count, l->reason);
	return err;
}

static int check_record(struct verify *v)
{
	const struct tt_record *c = &v->rec.r;
	int err = 0;

	if (v->saw_summary)
		return violation(v, "a record after the summary (at %s): the summary must be the last",
				 v->sum_at);
	switch (c->type) {
	case TT_REC_META:
		if (v->records)
			return violation(v, "a second meta record: a new run begins here (verify "
					 "each run's files apart)");
		v->meta_first = 1;
		break;
	case TT_REC_SNAPSHOT:
		v->rows++;
		break;
	case TT_REC_EVENT:
		v->events++;
		seqs(v, c->ev.seq, c->ev.seq);
		break;
	case TT_REC_LOST:
		err = check_lost(v, &c->lost);
		break;
	case TT_REC_SKIPPED:
		v->nskipped++;
		err = range_count(v, &c->lost, "skipped");
		v->skipped += c->lost.count;
		seqs(v, c->lost.from_seq, c->lost.to_seq);
		break;
	case TT_REC_SUMMARY:
		v->saw_summary = 1;
		v->sum = c->summary;
		snprintf(v->sum_at, sizeof(v->sum_at), "line %lu", v->in.lineno);
		break;
	case TT_REC_NONE:
		v->unknown++;
		break;
	default:   /* clock, -s reports: no seq, no count */
		break;
	}
	v->records++;
	return err;
}

static int check_file(struct verify *v, const char *path)
{
	char why[CR_ERR_SIZE + 96];
	const char *line, *bad;
	size_t len;
	int ret;

	ret = lines_open(&v->in, path);
	if (ret) {
		fprintf(stderr, "tcptrail: verify: cannot open '%s': %s\n", path, strerror(-ret));
		return ret;
	}
	while ((ret = lines_next(&v->in, CR_LINE_MAX, &line, &len)) == 1) {
		if (cr_parse_line(v->parser, line, len, &v->rec, why, sizeof(why)))
			return violation(v, "%s", why);
		ret = check_record(v);
		if (ret)
			return ret;
	}
	if (ret == -ENOMEM || ret == -E2BIG)
		return violation(v, "%s", ret == -E2BIG ? "a line longer than 1 MiB" : "out of memory");
	bad = lines_damage(&v->in, ret, why, sizeof(why));
	if (bad)
		return violation(v, "%s", bad);
	if (ret == 2)
		return violation(v, "the last line is cut short (no newline at the end)");
	return 0;
}

/* The summary against the records, and against itself. */
static int check_counts(struct verify *v)
{
	const struct tt_summary *s = &v->sum;
	struct { const char *what; unsigned long long said, seen; } f[] = {
		{ "written", s->written, v->events },
		{ "snapshot", s->snapshot, v->rows },
		{ "lost_ring", s->lost_ring, v->ring },
		{ "lost_recursion", s->lost_recursion, v->recursion },
		{ "lost_write", s->lost_write, v->write },
		{ "lost", s->lost, v->ring + v->recursion + v->write + v->other_reason },
		{ "skipped", s->skipped, v->skipped },
		{ "snapshot_lost", s->snapshot_lost, v->write_rows },
	};
	size_t n = sizeof(f) / sizeof(f[0]);

	if (!s->has_accounting)
		n -= 2;   /* written by a version that did not count them */
	for (size_t i = 0; i < n; i++)
		if (f[i].said != f[i].seen)
			return violation(v, "the summary (%s) says %s %llu, the records add up to %llu",
					 v->sum_at, f[i].what, f[i].said, f[i].seen);
	if (s->lost != s->lost_ring + s->lost_recursion + s->lost_write + v->other_reason)
		return violation(v, "the summary's lost %llu is not lost_ring + lost_recursion + "
				 "lost_write (%llu)", s->lost,
				 s->lost_ring + s->lost_recursion + s->lost_write);
	if (!s->has_accounting)
		return 0;
	/* with the seqs contiguous from 0 and the counts those of the records,
	 * this also makes the records cover exactly seqs 0 to seen + lost_ring - 1 */
	if (s->seen != s->written + s->skipped + s->summarized + s->lost_write)
		return violation(v, "the summary's seen %llu is not written + skipped + summarized + "
				 "lost_write (%llu)", s->seen,
				 s->written + s->skipped + s->summarized + s->lost_write);
	return 0;
}

int verify_run(const struct tt_opts *o)
{
	struct verify *v = calloc(1, sizeof(*v));
	char span[96] = "no seqs";
	int err;

	if (!v)
		return -ENOMEM;
	err = cr_parser_new(&v->parser);
	for (int i = 0; !err && i < o->nfiles; i++) {
		err = check_file(v, o->files[i]);
		if (i + 1 < o->nfiles || err)
			lines_close(&v->in);
	}
	if (!err && v->seq_bad[0] && v->events) {
		fprintf(stderr, "%s\n", v->seq_bad);
		err = -EBADMSG;
	}
	if (!err && !v->records)
		err = violation(v, "no record at all");
	if (!err && !v->saw_summary)
		err = violation(v, "cut: the series ends without a summary record (the writer was "
				"killed, is still running, or its disk never recovered); the %llu "
				"records before are consistent", v->records);
	if (!err && !v->meta_first)
		err = violation(v, "cut: the series does not begin with a meta record (give its "
				"first file too); the summary's counts cannot be checked");
	if (!err)
		err = check_counts(v);
	if (!err) {
		if (v->have_seq && v->events)
			snprintf(span, sizeof(span), "seq %llu-%llu contiguous", v->first_seq,
				 v->next_seq - 1);
		else if (v->events || v->have_seq)
			snprintf(span, sizeof(span), "no event records: seqs not checked");
		printf("tcptrail: verify: whole: %d file%s, %llu records from meta to summary; %s: "
		       "%llu events, %llu lost records (%llu events), %llu skipped records (%llu "
		       "events); the summary's counts match\n", o->nfiles, o->nfiles == 1 ? "" : "s",
		       v->records, span, v->events, v->nlost, v->ring + v->recursion + v->write +
		       v->other_reason, v->nskipped, v->skipped);
	}
	lines_close(&v->in);
	cr_parser_free(&v->parser);
	free(v);
	return err;
}
