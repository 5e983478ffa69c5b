// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The user-space filters (src/filter.c), case by case as their BPF twins
 * in bpf/tt_emit.bpf.h decide them, and as netstat -l selects rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "filter.h"

static struct tt_event ev(unsigned family, unsigned lport, unsigned rport, unsigned old,
			  unsigned new_state)
{
	struct tt_event e;

	memset(&e, 0, sizeof(e));
	e.kind = TT_EV_STATE;
	e.family = family;
	e.lport = lport;
	e.rport = rport;
	e.old_state = old;
	e.new_state = new_state;
	return e;
}

/* No option: nothing is dropped. */
static void test_no_filter(void **state)
{
	struct tt_opts o = { 0 };
	struct tt_event e = ev(AF_INET6, 1, 2, TT_CLOSE, TT_SYN_SENT);
	struct tt_snaprec r;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(filter_event(&o, &e), 0);
	assert_int_equal(filter_snapshot(&o, &r), 0);
	assert_int_equal(filter_queue(&o, 0, 0), 0);
	assert_int_equal(filter_owner(&o, 0, 0), 0);
}

/* -4/-6 and -P: tuple_filtered's rules (either port matches). */
static void test_tuple(void **state)
{
	struct tt_opts o = { .family = AF_INET, .ports = { 22, 1025 }, .nports = 2 };

	(void)state;
	assert_int_equal(filter_tuple(&o, AF_INET, 22, 40000), 0);
	assert_int_equal(filter_tuple(&o, AF_INET, 40000, 1025), 0);
	assert_int_equal(filter_tuple(&o, AF_INET, 40000, 40001), 1);
	assert_int_equal(filter_tuple(&o, AF_INET6, 22, 40000), 1);
	o.nports = 0;
	assert_int_equal(filter_tuple(&o, AF_INET, 40000, 40001), 0);
}

/* -p: owner_filtered drops an unknown owner too. */
static void test_owner(void **state)
{
	struct tt_opts o = { .pid = 42 };
	struct tt_event e = ev(AF_INET, 1, 2, TT_CLOSE, TT_SYN_SENT);

	(void)state;
	assert_int_equal(filter_owner(&o, 1, 42), 0);
	assert_int_equal(filter_owner(&o, 1, 43), 1);
	assert_int_equal(filter_owner(&o, 0, 42), 1);
	assert_int_equal(filter_event(&o, &e), 1);
	e.flags = TT_F_OWNER;
	e.pid = 42;
	assert_int_equal(filter_event(&o, &e), 0);
}

/* --queue-threshold: queue_filtered keeps either queue above it. */
static void test_queue(void **state)
{
	struct tt_opts o = { .queue_threshold = 65536 };

	(void)state;
	assert_int_equal(filter_queue(&o, 65536, 65536), 1);
	assert_int_equal(filter_queue(&o, 65537, 0), 0);
	assert_int_equal(filter_queue(&o, 0, 65537), 0);
}

/* -l: events into or out of LISTEN (listen_only in transition()); queue
 * pressure is neither (pressure() stops); rows whose remote port is 0, as
 * netstat -l selects them, whatever their state. */
static void test_listening(void **state)
{
	struct tt_opts o = { .listening = 1 };
	struct tt_event e = ev(AF_INET, 1025, 0, TT_CLOSE, TT_LISTEN);
	struct tt_sockrow row;

	(void)state;
	assert_int_equal(filter_event(&o, &e), 0);
	e = ev(AF_INET, 1025, 0, TT_LISTEN, TT_CLOSE);
	assert_int_equal(filter_event(&o, &e), 0);
	e = ev(AF_INET, 1025, 40000, TT_SYN_RECV, TT_ESTABLISHED);
	assert_int_equal(filter_event(&o, &e), 1);
	e = ev(AF_INET, 1025, 0, TT_LISTEN, TT_LISTEN);
	e.kind = TT_EV_RCVQ_FULL;
	assert_int_equal(filter_event(&o, &e), 1);
	memset(&row, 0, sizeof(row));
	row.family = AF_INET;
	row.rport = 0;
	row.state = TT_ESTABLISHED;
	assert_int_equal(filter_row(&o, &row), 0);
	row.rport = 80;
	row.state = TT_LISTEN;
	assert_int_equal(filter_row(&o, &row), 1);
	o.listening = 0;
	assert_int_equal(filter_row(&o, &row), 0);
}

/* A snapshot record: the row's filters, then its owner's. */
static void test_snapshot(void **state)
{
	struct tt_opts o = { .family = AF_INET6, .pid = 7 };
	struct tt_snaprec r;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.row.family = AF_INET6;
	r.owner_known = 1;
	r.pid = 7;
	assert_int_equal(filter_snapshot(&o, &r), 0);
	r.pid = 8;
	assert_int_equal(filter_snapshot(&o, &r), 1);
	r.pid = 7;
	r.row.family = AF_INET;
	assert_int_equal(filter_snapshot(&o, &r), 1);
}

/* --cgroup in a replay: subtrees of the paths given; a record without a
 * path (not known, or an older capture's) is dropped. Twin: cgroup_filtered(). */
static void test_cgroup(void **state)
{
	struct tt_opts o = { 0 };
	struct tt_cgref in = { .present = 1, .id = 9, .path = "/kubepods.slice/pod1.slice/x.scope" };
	struct tt_cgref out = { .present = 1, .id = 8, .path = "/kubepods.slice-other/y.scope" };
	struct tt_cgref unknown = { .present = 1, .id = 7 }, old = { 0 };

	(void)state;
	assert_int_equal(filter_cgroup(&o, &unknown), 0);   /* no option: kept */
	o.cgroups[o.ncgroups++] = "/kubepods.slice";
	assert_int_equal(filter_cgroup(&o, &in), 0);
	assert_int_equal(filter_cgroup(&o, &out), 1);       /* a prefix of the name is not a parent */
	assert_int_equal(filter_cgroup(&o, &unknown), 1);
	assert_int_equal(filter_cgroup(&o, &old), 1);
	o.cgroups[o.ncgroups++] = "/kubepods.slice-other/y.scope/";
	assert_int_equal(filter_cgroup(&o, &out), 0);       /* the group itself, a second option */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_filter),
		cmocka_unit_test(test_tuple),
		cmocka_unit_test(test_owner),
		cmocka_unit_test(test_queue),
		cmocka_unit_test(test_listening),
		cmocka_unit_test(test_snapshot),
		cmocka_unit_test(test_cgroup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
