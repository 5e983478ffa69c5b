// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * seqtrack: events back in sequence order, holes reported as gaps, late
 * events counted and not delivered. The expected deliveries and gaps are
 * worked out by hand from each sequence, or (in the random test) checked
 * against the rule itself: every number 0..end-1 in exactly one delivery
 * or gap, in increasing order, and every pushed number delivered unless it
 * came after its gap was reported.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "seqtrack.h"

#define MAXLOG 4096

/* What seqtrack reported, in order: a delivery of seq, or a gap from-to. */
struct step {
	int gap;
	unsigned long long from, to;
};

struct fx {
	struct seqtrack *st;
	struct step log[MAXLOG];
	int n;
	unsigned long long late_seqs[8];   /* the first the late callback was given */
	unsigned long long nlate;          /* its calls */
};

static void deliver(void *ctx, const struct tt_event *e)
{
	struct fx *f = ctx;

	assert_true(f->n < MAXLOG);
	f->log[f->n++] = (struct step){ 0, e->seq, e->seq };
}

static void gap(void *ctx, unsigned long long from, unsigned long long to)
{
	struct fx *f = ctx;

	assert_true(from <= to);
	assert_true(f->n < MAXLOG);
	f->log[f->n++] = (struct step){ 1, from, to };
}

static void late(void *ctx, const struct tt_event *e)
{
	struct fx *f = ctx;

	if (f->nlate < 8)
		f->late_seqs[f->nlate] = e->seq;
	f->nlate++;
}

static struct fx *fx_new(unsigned window)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct seqtrack_cb cb = { .deliver = deliver, .gap = gap, .late = late };

	assert_non_null(f);
	cb.ctx = f;
	assert_int_equal(seqtrack_new(&f->st, window, &cb), 0);
	return f;
}

static void fx_free(struct fx *f)
{
	seqtrack_free(&f->st);
	assert_null(f->st);
	seqtrack_free(&f->st);   /* NULL-safe */
	free(f);
}

static void push(struct fx *f, unsigned long long seq)
{
	struct tt_event e;

	memset(&e, 0, sizeof(e));
	e.seq = seq;
	e.sock_id = 1000 + seq;   /* the event travels whole */
	seqtrack_push(f->st, &e);
}

/* The log so far, as "d0 d1 g2-3 ...", for readable failures. */
static void expect_log(struct fx *f, const char *want)
{
	char got[1024] = "";
	size_t off = 0;

	for (int i = 0; i < f->n && off < sizeof(got); i++) {
		if (f->log[i].gap)
			off += (size_t)snprintf(got + off, sizeof(got) - off, "%sg%llu-%llu",
						i ? " " : "", f->log[i].from, f->log[i].to);
		else
			off += (size_t)snprintf(got + off, sizeof(got) - off, "%sd%llu", i ? " " : "",
						f->log[i].from);
	}
	if (strcmp(got, want))
		fail_msg("seqtrack reported \"%s\", expected \"%s\"", got, want);
}

static void test_bad_window(void **state)
{
	struct seqtrack *st = NULL;
	struct seqtrack_cb cb = { .deliver = deliver, .gap = gap };

	(void)state;
	assert_int_equal(seqtrack_new(&st, 0, &cb), -EINVAL);
	assert_int_equal(seqtrack_new(&st, 100, &cb), -EINVAL);   /* not a power of two */
	assert_null(st);
}

static void test_in_order(void **state)
{
	struct fx *f = fx_new(16);

	(void)state;
	for (int i = 0; i < 5; i++)
		push(f, (unsigned long long)i);
	/* in order: each delivered at once, nothing waits for a settle */
	expect_log(f, "d0 d1 d2 d3 d4");
	seqtrack_finish(f->st, 5);
	expect_log(f, "d0 d1 d2 d3 d4");
	assert_int_equal(seqtrack_late(f->st), 0);
	fx_free(f);
}

/* Two CPUs commit in the opposite order: the later one waits, no gap. */
static void test_reordering(void **state)
{
	struct fx *f = fx_new(16);

	(void)state;
	push(f, 1);
	push(f, 3);
	expect_log(f, "");
	push(f, 0);
	expect_log(f, "d0 d1");
	seqtrack_settle(f->st, 0);
	push(f, 2);
	expect_log(f, "d0 d1 d2 d3");
	seqtrack_settle(f->st, 0);
	seqtrack_settle(f->st, 0);
	seqtrack_finish(f->st, 4);
	expect_log(f, "d0 d1 d2 d3");
	assert_int_equal(seqtrack_late(f->st), 0);
	fx_free(f);
}

/* A hole waits one whole round (two settles) before it is a gap. */
static void test_gap_after_two_settles(void **state)
{
	struct fx *f = fx_new(16);

	(void)state;
	push(f, 0);
	push(f, 3);
	push(f, 5);
	expect_log(f, "d0");
	seqtrack_settle(f->st, 0);
	expect_log(f, "d0");
	seqtrack_settle(f->st, 0);
	/* every hole below the highest is given up at once, in order */
	expect_log(f, "d0 g1-2 d3 g4-4 d5");
	push(f, 6);
	expect_log(f, "d0 g1-2 d3 g4-4 d5 d6");
	fx_free(f);
}

/* An event that arrives after its gap was reported is late: counted, not
 * delivered, so that its seq is in one record only. */
static void test_late(void **state)
{
	struct fx *f = fx_new(16);

	(void)state;
	push(f, 0);
	push(f, 2);
	seqtrack_settle(f->st, 0);
	seqtrack_settle(f->st, 0);
	expect_log(f, "d0 g1-1 d2");
	push(f, 1);
	expect_log(f, "d0 g1-1 d2");
	assert_int_equal(seqtrack_late(f->st), 1);
	/* the late callback gets it (--metrics' socket gauge counts it) */
	assert_int_equal(f->nlate, 1);
	assert_int_equal(f->late_seqs[0], 1);
	push(f, 0);   /* long delivered */
	assert_int_equal(seqtrack_late(f->st), 2);
	assert_int_equal(f->nlate, 2);
	push(f, 3);
	expect_log(f, "d0 g1-1 d2 d3");
	fx_free(f);
}

/* Forced settles give up every hole at once; finish reports the tail:
 * numbers the BPF side handed out that never arrived. */
static void test_force_and_finish(void **state)
{
	struct fx *f = fx_new(16);

	(void)state;
	push(f, 2);
	seqtrack_settle(f->st, 1);
	expect_log(f, "g0-1 d2");
	push(f, 4);
	seqtrack_finish(f->st, 9);
	expect_log(f, "g0-1 d2 g3-3 d4 g5-8");
	/* nothing more to report: finishing again at the same end adds nothing */
	seqtrack_finish(f->st, 9);
	expect_log(f, "g0-1 d2 g3-3 d4 g5-8");
	fx_free(f);
}

/* An event too far ahead for the window: the holes below can no longer
 * wait, and what is buffered below it is delivered first. */
static void test_window_overflow(void **state)
{
	struct fx *f = fx_new(4);

	(void)state;
	push(f, 0);
	push(f, 2);
	push(f, 10);
	/* 10 - next must fit the window (mask 3): next moves to 7, giving
	 * up 1, delivering 2, giving up 3-6 */
	expect_log(f, "d0 g1-1 d2 g3-6");
	seqtrack_settle(f->st, 0);
	seqtrack_settle(f->st, 0);
	expect_log(f, "d0 g1-1 d2 g3-6 g7-9 d10");
	fx_free(f);
}

/* Random arrival orders and losses against the rule itself. */
static void test_random(void **state)
{
	enum { N = 3000, WINDOW = 64 };
	static unsigned long long order[N];
	static unsigned char pushed[N], seen[N];
	unsigned rnd = 2024;
	int n = 0;

	(void)state;
	for (int round = 0; round < 20; round++) {
		struct fx *f = fx_new(WINDOW);
		unsigned long long want = 0, late = 0;

		n = 0;
		memset(pushed, 0, sizeof(pushed));
		memset(seen, 0, sizeof(seen));
		for (unsigned long long s = 0; s < N; s++) {
			rnd = rnd * 1103515245u + 12345u;
			if ((rnd >> 16) % 10 == 0)
				continue;   /* lost in the kernel: never arrives */
			order[n++] = s;
		}
		/* local reordering: swap neighbours up to 8 apart */
		for (int i = 0; i + 8 < n; i++) {
			rnd = rnd * 1103515245u + 12345u;
			if ((rnd >> 16) % 3 == 0) {
				int j = i + 1 + (int)((rnd >> 8) % 8);
				unsigned long long t = order[i];

				order[i] = order[j];
				order[j] = t;
			}
		}
		for (int i = 0; i < n; i++) {
			push(f, order[i]);
			pushed[order[i]] = 1;
			if (i % 7 == 6)
				seqtrack_settle(f->st, 0);
			if (f->n > MAXLOG - 100) {   /* check and empty the log as it fills */
				for (int k = 0; k < f->n; k++) {
					assert_int_equal(f->log[k].from, want);
					for (unsigned long long s = f->log[k].from; s <= f->log[k].to; s++)
						seen[s] = f->log[k].gap ? 2 : 1;
					want = f->log[k].to + 1;
				}
				f->n = 0;
			}
		}
		seqtrack_finish(f->st, N);
		for (int k = 0; k < f->n; k++) {
			if (f->log[k].from != want)
				fail_msg("round %d: reported %llu-%llu, expected %llu next", round,
					 f->log[k].from, f->log[k].to, want);
			for (unsigned long long s = f->log[k].from; s <= f->log[k].to; s++)
				seen[s] = f->log[k].gap ? 2 : 1;
			want = f->log[k].to + 1;
		}
		assert_int_equal(want, N);
		/* never arrived: in a gap; arrived: delivered, or late in a gap */
		for (unsigned long long s = 0; s < N; s++) {
			if (!pushed[s])
				assert_int_equal(seen[s], 2);
			else if (seen[s] == 2)
				late++;
		}
		assert_int_equal(seqtrack_late(f->st), late);
		assert_int_equal(f->nlate, late);   /* each late one given to the callback */
		fx_free(f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_window),
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_reordering),
		cmocka_unit_test(test_gap_after_two_settles),
		cmocka_unit_test(test_late),
		cmocka_unit_test(test_force_and_finish),
		cmocka_unit_test(test_window_overflow),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
