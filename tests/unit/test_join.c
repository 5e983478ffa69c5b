// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The snapshot/stream join: which events a snapshot row already shows
 * (dropped, so that nothing is shown twice), which it does not, and the
 * owners it gives to events that have none. Each case is a row read at a
 * known sequence number and an event before or after it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "join.h"

static struct tt_snaprec row(unsigned long long id, unsigned state, unsigned pid, const char *comm)
{
	struct tt_snaprec r;

	memset(&r, 0, sizeof(r));
	r.sock_id = id;
	r.row.state = state;
	if (comm) {
		r.owner_known = 1;
		r.pid = pid;
		r.comm = comm;
	}
	return r;
}

static struct tt_event ev(unsigned long long id, unsigned long long seq, unsigned old,
			  unsigned new_state)
{
	struct tt_event e;

	memset(&e, 0, sizeof(e));
	e.kind = TT_EV_STATE;
	e.sock_id = id;
	e.seq = seq;
	e.old_state = old;
	e.new_state = new_state;
	return e;
}

/* The row was read after the event and shows its outcome: dropped. */
static void test_row_shows_event(void **state)
{
	struct join *j = NULL;
	struct tt_snaprec r = row(7, TT_ESTABLISHED, 0, NULL);
	struct tt_event e = ev(7, 10, TT_SYN_SENT, TT_ESTABLISHED);

	(void)state;
	assert_int_equal(join_new(&j, 1), 0);
	assert_int_equal(join_add(j, &r, 11), 0);
	assert_int_equal(join_apply(j, &e), 1);
	/* an earlier transition of the same socket is shown by the row too */
	e = ev(7, 3, TT_CLOSE, TT_SYN_SENT);
	assert_int_equal(join_apply(j, &e), 1);
	/* at or after the row's seq: the row cannot show it */
	e = ev(7, 11, TT_ESTABLISHED, TT_FIN_WAIT1);
	assert_int_equal(join_apply(j, &e), 0);
	e = ev(7, 12, TT_FIN_WAIT1, TT_FIN_WAIT2);
	assert_int_equal(join_apply(j, &e), 0);
	join_free(&j);
	assert_null(j);
	join_free(&j);   /* NULL-safe */
}

/* The tracepoint fires before the kernel stores the new state: a row read
 * in that instant still shows the old state, and the event is kept. */
static void test_row_read_mid_change(void **state)
{
	struct join *j = NULL;
	struct tt_snaprec r = row(8, TT_ESTABLISHED, 0, NULL);
	struct tt_event e = ev(8, 10, TT_ESTABLISHED, TT_CLOSE_WAIT);

	(void)state;
	assert_int_equal(join_new(&j, 1), 0);
	assert_int_equal(join_add(j, &r, 11), 0);
	assert_int_equal(join_apply(j, &e), 0);
	/* the same event with the row showing its new state: dropped */
	r.row.state = TT_CLOSE_WAIT;
	assert_int_equal(join_add(j, &r, 11), 0);   /* the later row replaces it */
	assert_int_equal(join_apply(j, &e), 1);
	join_free(&j);
}

/* Events the snapshot has no row for, or no id for, are left alone. */
static void test_unknown_sockets(void **state)
{
	struct join *j = NULL;
	struct tt_snaprec r = row(0, TT_ESTABLISHED, 5, "nc");   /* /proc row: no id */
	struct tt_event e = ev(9, 1, TT_SYN_SENT, TT_ESTABLISHED), before = e;

	(void)state;
	assert_int_equal(join_new(&j, 0), 0);
	assert_int_equal(join_add(j, &r, 100), 0);
	assert_int_equal(join_apply(j, &e), 0);
	e.sock_id = 0;
	assert_int_equal(join_apply(j, &e), 0);
	e.sock_id = 9;
	assert_memory_equal(&e, &before, sizeof(e));
	/* no join at all (--no-snapshot) */
	assert_int_equal(join_apply(NULL, &e), 0);
	join_free(&j);
}

/* An event from before the BPF owner table was seeded has no owner: it
 * takes the one the snapshot found; an event with an owner keeps its own. */
static void test_owner_from_row(void **state)
{
	struct join *j = NULL;
	struct tt_snaprec r = row(20, TT_LISTEN, 4242, "a_sixteen_chars_");
	struct tt_event e = ev(20, 30, TT_LISTEN, TT_CLOSE);

	(void)state;
	assert_int_equal(join_new(&j, 1), 0);
	assert_int_equal(join_add(j, &r, 25), 0);
	assert_int_equal(join_apply(j, &e), 0);
	assert_true(e.flags & TT_F_OWNER);
	assert_int_equal(e.pid, 4242);
	/* a comm is at most 15 bytes and NUL-terminated, as the kernel's */
	assert_string_equal(e.comm, "a_sixteen_chars");
	e = ev(20, 31, TT_LISTEN, TT_CLOSE);
	e.flags = TT_F_OWNER;
	e.pid = 77;
	memcpy(e.comm, "own", 4);
	assert_int_equal(join_apply(j, &e), 0);
	assert_int_equal(e.pid, 77);
	assert_string_equal(e.comm, "own");
	/* a row without an owner gives none */
	r = row(21, TT_LISTEN, 0, NULL);
	assert_int_equal(join_add(j, &r, 25), 0);
	e = ev(21, 30, TT_LISTEN, TT_CLOSE);
	assert_int_equal(join_apply(j, &e), 0);
	assert_false(e.flags & TT_F_OWNER);
	join_free(&j);
}

/* Sized for one row, given 20000: every row is still found. */
static void test_many_rows(void **state)
{
	struct join *j = NULL;

	(void)state;
	assert_int_equal(join_new(&j, 1), 0);
	for (unsigned long long id = 1; id <= 20000; id++) {
		struct tt_snaprec r = row(id % 3 ? id : TT_REQ_ID_BIT | id, TT_ESTABLISHED, 0, NULL);

		assert_int_equal(join_add(j, &r, 1000 + id), 0);
	}
	for (unsigned long long id = 1; id <= 20000; id++) {
		struct tt_event e = ev(id % 3 ? id : TT_REQ_ID_BIT | id, 999 + id, TT_SYN_SENT,
				       TT_ESTABLISHED);

		assert_int_equal(join_apply(j, &e), 1);
		e.seq = 1000 + id;
		assert_int_equal(join_apply(j, &e), 0);
	}
	join_free(&j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_row_shows_event),
		cmocka_unit_test(test_row_read_mid_change),
		cmocka_unit_test(test_unknown_sockets),
		cmocka_unit_test(test_owner_from_row),
		cmocka_unit_test(test_many_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
