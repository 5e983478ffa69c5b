// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * --verify end to end: captures are written here with fmt_json() (what
 * live mode writes), then damaged one way at a time, and each damage must
 * be named with its file and line; the whole capture, and the same capture
 * split as a rotation would split it, must pass.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "file_test_util.h"

#include "format.h"
#include "opts.h"
#include "verify.h"

#define BOOT0 5000000000LL
#define REAL0 1700000000000000000LL
#define MAXL 64

struct ctx {
	char dir[64];
	char *line[MAXL];     /* the capture, one record per entry, '\n' included */
	int n;
	char *out, *err;
	struct tt_clock ck;
	struct fmt_opts fo;
	struct outbuf ob;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	strcpy(c->dir, "/tmp/tt-verify-XXXXXX");
	if (!mkdtemp(c->dir) || ob_init(&c->ob, 4096))
		return -1;
	clock_set_anchor(&c->ck, BOOT0, REAL0);
	c->fo.clock = &c->ck;
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	tu_rm_tree(c->dir);
	for (int i = 0; i < c->n; i++)
		free(c->line[i]);
	ob_free(&c->ob);
	free(c->out);
	free(c->err);
	free(c);
	return 0;
}

static void clear(struct ctx *c)
{
	for (int i = 0; i < c->n; i++)
		free(c->line[i]);
	c->n = 0;
}

static void add(struct ctx *c)
{
	assert_false(c->ob.oom);
	assert_true(c->n < MAXL);
	c->line[c->n++] = strdup(ob_cstr(&c->ob));
	ob_reset(&c->ob);
}

static void add_event(struct ctx *c, unsigned long long seq)
{
	struct tt_event e;

	memset(&e, 0, sizeof(e));
	e.ts_ns = (unsigned long long)BOOT0 + seq * 1000;
	e.seq = seq;
	e.sock_id = 0x100 + seq;
	e.kind = TT_EV_STATE;
	e.old_state = TT_CLOSE;
	e.new_state = TT_SYN_SENT;
	e.family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", e.laddr);
	inet_pton(AF_INET, "127.0.0.1", e.raddr);
	e.rport = 1025;
	fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_EVENT, .ev = e }, &c->fo);
	add(c);
}

static void add_lost(struct ctx *c, unsigned long long from, unsigned long long to,
		     unsigned long long count, const char *reason, int skipped)
{
	struct tt_lost l = { .from_seq = from, .to_seq = to, .count = count, .reason = reason,
			     .boot_ns = BOOT0 };

	if (!strcmp(reason, "write")) {
		l.snapshot = 1;
		l.error = "ENOSPC";
	}
	if (skipped)
		fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_SKIPPED, .lost = l }, &c->fo);
	else
		fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_LOST, .lost = l }, &c->fo);
	add(c);
}

/*
 * A run: meta, 2 snapshot rows (one more lost to the disk), a skipped seq
 * (0), events 1-3, a ring gap 4-5, events 6-7, a write loss 8-10 (with the
 * lost snapshot row), a recursion loss (no seq), event 11, the summary.
 */
static void build(struct ctx *c)
{
	struct tt_meta m = {
		.version = "0.1.0", .hostname = "h", .kernel = "6.18", .boot_id = "b",
		.cmdline = "tcptrail -o cap.jsonl", .attach = "tp_btf", .ring_size = 1 << 23,
		.netns = 1, .timers = 1, .ctx_owner = 1, .snapshot = 1, .boot_ns = BOOT0,
		.real_ns = REAL0,
	};
	struct tt_snaprec r;
	struct tt_summary s = {
		.seen = 10, .written = 6, .skipped = 1, .lost_ring = 2, .lost_recursion = 2,
		.lost_write = 3, .lost = 7, .snapshot = 2, .snapshot_lost = 1, .has_accounting = 1,
		.boot_ns = BOOT0 + 1000000,
	};

	clear(c);
	fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_META, .meta = m }, &c->fo);
	add(c);
	memset(&r, 0, sizeof(r));
	r.row.family = AF_INET;
	r.row.state = TT_LISTEN;
	r.row.lport = 1025;
	r.boot_ns = BOOT0;
	for (int i = 0; i < 2; i++) {
		fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_SNAPSHOT, .snap = r }, &c->fo);
		add(c);
	}
	add_lost(c, 0, 0, 1, "snapshot", 1);
	for (int q = 1; q <= 3; q++)
		add_event(c, q);
	add_lost(c, 4, 5, 2, "ring_full", 0);
	add_event(c, 6);
	add_event(c, 7);
	add_lost(c, 8, 10, 3, "write", 0);
	add_lost(c, 1, 0, 2, "recursion", 0);
	add_event(c, 11);
	fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_SUMMARY, .summary = s }, &c->fo);
	add(c);
}

/* lines [from, to) to path; gz: as two gzip members, as a capture that
 * survived a full disk is */
static char *write_part(struct ctx *c, const char *name, int from, int to, int gz)
{
	char *path;
	FILE *f;

	assert_true(asprintf(&path, "%s/%s", c->dir, name) > 0);
	if (!gz) {
		f = fopen(path, "w");
		assert_non_null(f);
		for (int i = from; i < to; i++)
			if (c->line[i])
				fputs(c->line[i], f);
		assert_int_equal(fclose(f), 0);
		return path;
	}
	for (int half = 0; half < 2; half++) {
		gzFile z = gzopen(path, half ? "ab" : "wb");
		int mid = from + (to - from) / 2;

		assert_non_null(z);
		for (int i = half ? mid : from; i < (half ? to : mid); i++)
			if (c->line[i])
				gzputs(z, c->line[i]);
		assert_int_equal(gzclose(z), Z_OK);
	}
	return path;
}

/* verify_run on files, stdout and stderr captured */
static int verify(struct ctx *c, int n, const char **files)
{
	struct tt_opts o = { .verify = 1, .files = files, .nfiles = n };
	char outp[128], errp[128];
	struct tu_stdio std;
	int ret;

	snprintf(outp, sizeof(outp), "%s/stdout", c->dir);
	snprintf(errp, sizeof(errp), "%s/stderr", c->dir);
	tu_stdio_to(&std, outp, errp);
	ret = verify_run(&o);
	tu_stdio_back(&std);
	free(c->out);
	free(c->err);
	c->out = tu_slurp(outp, NULL);
	c->err = tu_slurp(errp, NULL);
	return ret;
}

static void expect_whole(struct ctx *c, int n, const char **files)
{
	int ret = verify(c, n, files);

	if (ret || !strstr(c->out, "whole") || strchr(c->out, '\n') != c->out + strlen(c->out) - 1 ||
	    *c->err)
		fail_msg("rc %d, stdout '%s', stderr '%s'", ret, c->out, c->err);
}

/* The one line on stderr names file:line and says why */
static void expect_bad(struct ctx *c, int n, const char **files, const char *where, const char *why)
{
	int ret = verify(c, n, files);

	if (ret != -EBADMSG || *c->out || !strstr(c->err, where) || !strstr(c->err, why) ||
	    strchr(c->err, '\n') != c->err + strlen(c->err) - 1)
		fail_msg("rc %d, stdout '%s', stderr '%s' (want '%s' and '%s')", ret, c->out, c->err,
			 where, why);
}

static void test_whole(void **state)
{
	struct ctx *c = *state;
	const char *f[1];

	build(c);
	f[0] = write_part(c, "cap.jsonl", 0, c->n, 0);
	expect_whole(c, 1, f);
	assert_non_null(strstr(c->out, "seq 0-11 contiguous"));
	free((char *)f[0]);
	f[0] = write_part(c, "cap.jsonl.gz", 0, c->n, 1);
	expect_whole(c, 1, f);
	free((char *)f[0]);
}

/* a rotation: the second file has neither meta nor a gap at the boundary */
static void test_rotated_series(void **state)
{
	struct ctx *c = *state;
	const char *f[3];

	build(c);
	f[0] = write_part(c, "cap.jsonl.2", 0, 5, 0);
	f[1] = write_part(c, "cap.jsonl.1.gz", 5, 10, 1);
	f[2] = write_part(c, "cap.jsonl", 10, c->n, 0);
	expect_whole(c, 3, f);
	assert_non_null(strstr(c->out, "3 files"));
	/* out of order: the newer file's seqs come before the older one's */
	{
		const char *g[3] = { f[0], f[2], f[1] };

		expect_bad(c, 3, g, "cap.jsonl:1:", "seq 8 follows a gap: seqs 2-7");
	}
	/* the first file missing: cut at the start */
	expect_bad(c, 2, f + 1, "cap.jsonl:", "does not begin with a meta");
	/* the last missing: cut at the end, named as such */
	expect_bad(c, 2, f, "cap.jsonl.1.gz:", "cut: the series ends without a summary");
	for (int i = 0; i < 3; i++)
		free((char *)f[i]);
}

static void drop_line(struct ctx *c, int i)
{
	free(c->line[i]);
	c->line[i] = NULL;
}

static void replace_line(struct ctx *c, int i)
{
	free(c->line[i]);
	c->line[i] = strdup(ob_cstr(&c->ob));
	ob_reset(&c->ob);
}

/* the record just added takes the place of line i */
static void move_last_to(struct ctx *c, int i)
{
	free(c->line[i]);
	c->line[i] = c->line[--c->n];
}

static void test_gap_and_overlap(void **state)
{
	struct ctx *c = *state;
	const char *f[1];

	build(c);
	drop_line(c, 5);   /* event 2: line 6 of the file is now event 3 */
	f[0] = write_part(c, "gap.jsonl", 0, c->n, 0);
	expect_bad(c, 1, f, "gap.jsonl:6:", "seq 3 follows a gap: seqs 2-2 are in no record");
	free((char *)f[0]);
	build(c);
	add_event(c, 3);   /* event 3 again, in place of event 6 */
	move_last_to(c, 8);
	f[0] = write_part(c, "dup.jsonl", 0, c->n, 0);
	expect_bad(c, 1, f, "dup.jsonl:9:", "seq 3 is in an earlier record too");
	free((char *)f[0]);
}

static void test_lost_count_and_start(void **state)
{
	struct ctx *c = *state;
	const char *f[1];

	build(c);
	add_lost(c, 4, 5, 3, "ring_full", 0);   /* count 3 for a range of 2 */
	move_last_to(c, 7);
	f[0] = write_part(c, "count.jsonl", 0, c->n, 0);
	expect_bad(c, 1, f, "count.jsonl:8:", "count 3, but its range 4-5 holds 2");
	free((char *)f[0]);
	/* a whole run's seqs begin at 0 */
	build(c);
	drop_line(c, 3);
	f[0] = write_part(c, "start.jsonl", 0, c->n, 0);
	expect_bad(c, 1, f, "start.jsonl:4:", "seq 1 is the first, but seqs 0-0 are in no record");
	free((char *)f[0]);
}

static void test_summary_counts(void **state)
{
	struct ctx *c = *state;
	struct tt_summary s = {
		.seen = 10, .written = 6, .skipped = 1, .lost_ring = 2, .lost_recursion = 2,
		.lost_write = 3, .lost = 7, .snapshot = 2, .snapshot_lost = 1, .has_accounting = 1,
	};
	struct { const char *field; unsigned long long *v, bad; const char *why; } cases[] = {
		{ "written", &s.written, 7, "says written 7, the records add up to 6" },
		{ "snapshot", &s.snapshot, 3, "says snapshot 3" },
		{ "lost_ring", &s.lost_ring, 1, "says lost_ring 1" },
		{ "lost_write", &s.lost_write, 4, "says lost_write 4" },
		{ "skipped", &s.skipped, 0, "says skipped 0" },
		{ "snapshot_lost", &s.snapshot_lost, 0, "says snapshot_lost 0" },
		{ "lost", &s.lost, 8, "says lost 8" },
		{ "seen", &s.seen, 11, "seen 11 is not written + skipped" },
	};
	const char *f[1];

	build(c);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned long long keep = *cases[i].v;

		*cases[i].v = cases[i].bad;
		fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_SUMMARY, .summary = s }, &c->fo);
		replace_line(c, c->n - 1);
		f[0] = write_part(c, "sum.jsonl", 0, c->n, 0);
		expect_bad(c, 1, f, "sum.jsonl:", cases[i].why);
		free((char *)f[0]);
		*cases[i].v = keep;
	}
}

static void test_structure(void **state)
{
	struct ctx *c = *state;
	const char *f[1];
	char *p;

	build(c);
	add_event(c, 12);   /* after the summary */
	f[0] = write_part(c, "after.jsonl", 0, c->n, 0);
	expect_bad(c, 1, f, "after.jsonl:15:", "a record after the summary");
	free((char *)f[0]);
	free(c->line[--c->n]);
	/* a damaged record, with its line */
	p = c->line[6];
	p[10] = '\0';
	p[9] = '\n';
	f[0] = write_part(c, "bad.jsonl", 0, c->n, 0);
	expect_bad(c, 1, f, "bad.jsonl:7:", "JSON");
	free((char *)f[0]);
	/* a second meta: a new run */
	free(c->line[6]);
	c->line[6] = strdup(c->line[0]);
	f[0] = write_part(c, "meta.jsonl", 0, c->n, 0);
	expect_bad(c, 1, f, "meta.jsonl:7:", "a second meta record");
	free((char *)f[0]);
	/* nothing at all, and a file that is not there */
	f[0] = write_part(c, "empty.jsonl", 0, 0, 0);
	expect_bad(c, 1, f, "empty.jsonl:0:", "no record");
	free((char *)f[0]);
	f[0] = "/nonexistent/cap.jsonl";
	assert_int_equal(verify(c, 1, f), -ENOENT);
	assert_non_null(strstr(c->err, "cannot open '/nonexistent/cap.jsonl'"));
}

/* -s writes counts, not events: the seq check has nothing to hold to */
static void test_stats_capture(void **state)
{
	struct ctx *c = *state;
	struct tt_meta m = {
		.version = "0.1.0", .hostname = "h", .kernel = "6.18", .boot_id = "b",
		.cmdline = "tcptrail -s -o cap.jsonl", .attach = "tp_btf", .ring_size = 1 << 23,
		.boot_ns = BOOT0, .real_ns = REAL0,
	};
	struct tt_summary s = { .seen = 100, .summarized = 100, .lost_ring = 5, .lost = 5,
				.has_accounting = 1 };
	const char *f[1];

	fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_META, .meta = m }, &c->fo);
	add(c);
	add_lost(c, 40, 44, 5, "ring_full", 0);
	fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_SUMMARY, .summary = s }, &c->fo);
	add(c);
	f[0] = write_part(c, "stats.jsonl", 0, c->n, 0);
	expect_whole(c, 1, f);
	assert_non_null(strstr(c->out, "no event records: seqs not checked"));
	free((char *)f[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotated_series, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_and_overlap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_count_and_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_summary_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_structure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_capture, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
