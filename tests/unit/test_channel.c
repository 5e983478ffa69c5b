// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * One output (src/channel.c) over a sink that fails and recovers: a file
 * past RLIMIT_FSIZE (what a full disk does, without root), and a pipe whose
 * reader stops. What it writes is read back with the capture parser and
 * must keep the invariant: every seq in exactly one record, in order, each
 * lost record exact, and the counts adding up.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "file_test_util.h"

#include "capture_read.h"
#include "channel.h"
#include "format.h"

#define BOOT0 5000000000LL
#define REAL0 1700000000000000000LL

static struct rlimit fsize_limit;

struct ctx {
	char dir[64], path[128];
	struct tt_clock ck;
	struct fmt_opts fo;
	struct outbuf ob;
	struct channel *ch;
	unsigned long long next_seq;
	/* what the records read back say */
	unsigned long long events, write_lost, ring_lost, skipped, rows, rows_lost, other_lost;
	int nwrite, nring, nskipped;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c || getrlimit(RLIMIT_FSIZE, &fsize_limit))
		return -1;
	strcpy(c->dir, "/tmp/tt-chan-XXXXXX");
	if (!mkdtemp(c->dir) || ob_init(&c->ob, 4096))
		return -1;
	snprintf(c->path, sizeof(c->path), "%s/cap.jsonl", c->dir);
	clock_set_anchor(&c->ck, BOOT0, REAL0);
	c->fo.clock = &c->ck;
	c->fo.addr_width = 23;
	signal(SIGXFSZ, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	setrlimit(RLIMIT_FSIZE, &fsize_limit);
	signal(SIGXFSZ, SIG_DFL);
	chan_close(&c->ch, 0, NULL);
	tu_rm_tree(c->dir);
	ob_free(&c->ob);
	free(c);
	return 0;
}

static void fsize(rlim_t cur)
{
	struct rlimit rl = fsize_limit;

	rl.rlim_cur = cur;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

/* the next event, about 330 bytes of JSON */
static void put_event(struct ctx *c)
{
	struct tt_event e;

	memset(&e, 0, sizeof(e));
	e.seq = c->next_seq++;
	e.ts_ns = (unsigned long long)BOOT0 + e.seq;
	e.kind = TT_EV_STATE;
	e.old_state = TT_CLOSE;
	e.new_state = TT_SYN_SENT;
	e.family = AF_INET;
	e.rport = 1025;
	e.sock_id = 1 + e.seq;
	ob_reset(&c->ob);
	fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_EVENT, .ev = e }, &c->fo);
	chan_put(c->ch, CHAN_EVENT, e.seq, c->ob.buf, c->ob.len);
}

static void put_row(struct ctx *c)
{
	struct tt_snaprec r;

	memset(&r, 0, sizeof(r));
	r.row.family = AF_INET;
	r.row.state = TT_LISTEN;
	ob_reset(&c->ob);
	fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_SNAPSHOT, .snap = r }, &c->fo);
	chan_put(c->ch, CHAN_SNAPSHOT, 0, c->ob.buf, c->ob.len);
}

static void put_gap(struct ctx *c, unsigned long long n, int skipped)
{
	struct tt_lost l = { .from_seq = c->next_seq, .to_seq = c->next_seq + n - 1, .count = n,
			     .reason = skipped ? "snapshot" : "ring_full", .boot_ns = BOOT0 };

	c->next_seq += n;
	chan_mark(c->ch, &l, skipped);
}

/* Reads the output back: every seq 0..next_seq-1 in exactly one record, in
 * order; fills the counts. */
static void check_output(struct ctx *c, const char *data, size_t len)
{
	struct cr_parser *p = NULL;
	struct cr_record *rec = calloc(1, sizeof(*rec));
	char err[CR_ERR_SIZE];
	unsigned long long want = 0;
	const char *l = data, *end = data + len;
	int lineno = 0;

	assert_non_null(rec);
	assert_int_equal(cr_parser_new(&p), 0);
	while (l < end) {
		const char *nl = memchr(l, '\n', (size_t)(end - l));
		unsigned long long from = 1, to = 0;

		assert_non_null(nl);   /* whole lines only */
		lineno++;
		if (cr_parse_line(p, l, (size_t)(nl - l), rec, err, sizeof(err)))
			fail_msg("line %d: %s", lineno, err);
		switch (rec->r.type) {
		case TT_REC_EVENT:
			from = to = rec->r.ev.seq;
			c->events++;
			break;
		case TT_REC_SNAPSHOT:
			c->rows++;
			break;
		case TT_REC_LOST:
			from = rec->r.lost.from_seq;
			to = rec->r.lost.to_seq;
			assert_int_equal(rec->r.lost.count, to - from + 1);
			if (!strcmp(rec->r.lost.reason, "write")) {
				c->nwrite++;
				c->write_lost += rec->r.lost.count;
				c->rows_lost += rec->r.lost.snapshot;
				c->other_lost += rec->r.lost.other;
				assert_non_null(rec->r.lost.error);
			} else {
				c->nring++;
				c->ring_lost += rec->r.lost.count;
			}
			break;
		case TT_REC_SKIPPED:
			from = rec->r.lost.from_seq;
			to = rec->r.lost.to_seq;
			c->nskipped++;
			c->skipped += rec->r.lost.count;
			break;
		default:
			break;
		}
		if (from <= to) {
			if (from != want)
				fail_msg("line %d: seq %llu-%llu, the next seq was %llu", lineno, from, to, want);
			want = to + 1;
		}
		l = nl + 1;
	}
	assert_int_equal(want, c->next_seq);
	cr_parser_free(&p);
	free(rec);
}

/*
 * The disk fills while rows and events are written, a ring gap and a
 * skipped run happen during the outage, the disk frees: one write loss per
 * run of refused seqs (the ring gap splits it), each exact, the rows
 * counted apart, and the counts equal to what the channel says.
 */
static void test_disk_full_then_free(void **state)
{
	struct ctx *c = *state;
	struct sink *s = NULL;
	struct chan_counts n;
	size_t len;
	char *data;

	assert_int_equal(sink_open(&s, c->path), 0);
	assert_int_equal(chan_new(&c->ch, s, 1, &c->fo, c->path), 0);
	for (int i = 0; i < 5; i++)
		put_row(c);
	for (int i = 0; i < 100; i++)
		put_event(c);
	chan_flush(c->ch, 1);
	fsize(40000);   /* the disk fills */
	for (int i = 0; i < 1000; i++)
		put_event(c);
	for (int i = 0; i < 3; i++)
		put_row(c);
	chan_flush(c->ch, 1);
	put_gap(c, 7, 0);
	for (int i = 0; i < 500; i++)
		put_event(c);
	put_gap(c, 3, 1);
	for (int i = 0; i < 500; i++)
		put_event(c);
	chan_flush(c->ch, 1);
	chan_counts(c->ch, &n);
	assert_true(n.lost_write > 0);
	assert_int_equal(n.error, EFBIG);
	fsize(fsize_limit.rlim_cur);   /* space again */
	chan_flush(c->ch, 1);
	for (int i = 0; i < 100; i++)
		put_event(c);
	chan_close(&c->ch, 0, &n);
	data = tu_slurp(c->path, &len);
	check_output(c, data, len);
	/* the outage: a write loss before the ring gap, one between the gap
	 * and the skipped run, one after it */
	assert_int_equal(c->nwrite, 3);
	assert_int_equal(c->nring, 1);
	assert_int_equal(c->ring_lost, 7);
	assert_int_equal(c->nskipped, 1);
	assert_int_equal(c->skipped, 3);
	/* the channel's counts are the records' */
	assert_int_equal(n.written, c->events);
	assert_int_equal(n.lost_write, c->write_lost);
	assert_int_equal(n.written + n.lost_write, 2200);
	assert_int_equal(n.snapshot, c->rows);
	assert_int_equal(n.snapshot_lost, c->rows_lost);
	assert_int_equal(c->rows + c->rows_lost, 8);
	assert_true(c->rows_lost > 0);
	assert_int_equal(n.cut, 0);
	free(data);
}

/* Many ring gaps while the disk is full: every one kept, in order, each
 * between two exact write losses, however long the list of what is owed. */
static void test_many_gaps_while_full(void **state)
{
	struct ctx *c = *state;
	struct sink *s = NULL;
	struct chan_counts n;
	size_t len;
	char *data;

	assert_int_equal(sink_open(&s, c->path), 0);
	assert_int_equal(chan_new(&c->ch, s, 1, &c->fo, c->path), 0);
	fsize(20000);
	for (int i = 0; i < 500; i++)
		put_event(c);
	chan_flush(c->ch, 1);
	for (int g = 0; g < 100; g++) {
		put_gap(c, 1 + g % 5, 0);
		for (int i = 0; i < 3; i++)
			put_event(c);
	}
	fsize(fsize_limit.rlim_cur);
	chan_flush(c->ch, 1);
	chan_flush(c->ch, 1);
	for (int i = 0; i < 10; i++)
		put_event(c);
	chan_close(&c->ch, 0, &n);
	data = tu_slurp(c->path, &len);
	check_output(c, data, len);
	assert_int_equal(c->nring, 100);
	assert_int_equal(c->nwrite, 101);
	assert_int_equal(n.written + n.lost_write, 810);
	assert_int_equal(n.written, c->events);
	free(data);
}

/* The disk never frees: what the output took but could not write is given
 * up at close, counted, and the file still ends on a whole record. */
static void test_disk_never_frees(void **state)
{
	struct ctx *c = *state;
	struct sink *s = NULL;
	struct chan_counts n;
	size_t len;
	char *data;

	assert_int_equal(sink_open(&s, c->path), 0);
	assert_int_equal(chan_new(&c->ch, s, 1, &c->fo, c->path), 0);
	fsize(20000);
	for (int i = 0; i < 1000; i++)
		put_event(c);
	chan_close(&c->ch, 0, &n);
	assert_true(n.cut > 0);
	assert_int_equal(n.written + n.lost_write, 1000);
	data = tu_slurp(c->path, &len);
	assert_true(len > 0 && len <= 20000 && data[len - 1] == '\n');
	/* the file is the first records, whole; the rest is not marked (cut) */
	c->next_seq = n.written;
	check_output(c, data, len);
	assert_int_equal(c->events, n.written);
	free(data);
}

/* A reader that stops, then reads: no half line, one lost record at the
 * gap (error EAGAIN), then the records again. */
static void test_stalled_reader(void **state)
{
	struct ctx *c = *state;
	struct sink *s = NULL;
	struct chan_counts n;
	char *data = malloc(64 << 20);
	size_t len = 0;
	ssize_t r;
	int pfd[2];

	assert_non_null(data);
	assert_int_equal(pipe2(pfd, O_NONBLOCK), 0);
	assert_int_equal(sink_open_fd(&s, pfd[1], 0), 0);
	assert_int_equal(chan_new(&c->ch, s, 1, &c->fo, "stdout"), 0);
	for (int i = 0; i < 2000; i++)
		put_event(c);
	chan_flush(c->ch, 1);
	chan_counts(c->ch, &n);
	assert_true(n.lost_write > 0);
	while ((r = read(pfd[0], data + len, (64 << 20) - len)) > 0)
		len += (size_t)r;
	chan_flush(c->ch, 1);
	while ((r = read(pfd[0], data + len, (64 << 20) - len)) > 0)
		len += (size_t)r;
	for (int i = 0; i < 10; i++)
		put_event(c);
	chan_flush(c->ch, 1);
	while ((r = read(pfd[0], data + len, (64 << 20) - len)) > 0)
		len += (size_t)r;
	chan_close(&c->ch, 0, &n);
	close(pfd[0]);
	check_output(c, data, len);
	assert_int_equal(c->nwrite, 1);
	assert_int_equal(n.written, c->events);
	assert_int_equal(n.lost_write, c->write_lost);
	assert_int_equal(n.written + n.lost_write, 2010);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_disk_full_then_free, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_gaps_while_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_never_frees, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stalled_reader, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
