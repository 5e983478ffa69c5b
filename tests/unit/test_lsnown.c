// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Listeners' owners, the pure part: which holder of a listener to name
 * (lsnown_choose), and which listener a passive connection whose owner
 * died came to (lsnown_match). The passes themselves load BPF: the
 * integration tests 60-62 run them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "lsnown.h"

static struct tt_lsn_holder holder(unsigned long long cookie, unsigned tgid, int exiting)
{
	struct tt_lsn_holder h;

	memset(&h, 0, sizeof(h));
	h.cookie = cookie;
	h.tgid = tgid;
	h.exiting = exiting;
	return h;
}

static struct tt_owner owner(unsigned pid)
{
	struct tt_owner o = { .pid = pid, .known = 1 };

	return o;
}

/* Daemon: the owner (100) exited; its child is the only live holder. */
static void test_choose_dead_owner_gives_holder(void **state)
{
	struct tt_lsn_holder h[] = { holder(1, 100, 1), holder(1, 101, 0) };
	struct tt_owner cur = owner(100);

	(void)state;
	assert_int_equal(lsnown_choose(h, 2, 0, &cur, 0), 1);
}

/* The port's accepter is preferred when it holds the listener, even over a
 * live owner (socket activation: the manager keeps its copy). */
static void test_choose_accepter_first(void **state)
{
	struct tt_lsn_holder h[] = { holder(1, 1, 0), holder(1, 300, 0), holder(1, 301, 0) };
	struct tt_owner cur = owner(1);

	(void)state;
	assert_int_equal(lsnown_choose(h, 3, 301, &cur, 0), 2);
	/* an accepter that does not hold it (a descriptor passed to it) is not */
	assert_int_equal(lsnown_choose(h, 3, 999, &cur, 0), 0);
}

/* A live owner that still holds it stays: no flapping between workers. */
static void test_choose_keeps_live_owner(void **state)
{
	struct tt_lsn_holder h[] = { holder(1, 200, 0), holder(1, 201, 0), holder(1, 202, 0) };
	struct tt_owner cur = owner(202);

	(void)state;
	assert_int_equal(lsnown_choose(h, 3, 0, &cur, 0), 2);
	/* the owner closed its descriptor: the lowest pid */
	cur = owner(150);
	assert_int_equal(lsnown_choose(h, 3, 0, &cur, 0), 0);
	/* unknown owner */
	memset(&cur, 0, sizeof(cur));
	assert_int_equal(lsnown_choose(h, 3, 0, &cur, 0), 0);
	assert_int_equal(lsnown_choose(h, 3, 0, NULL, 0), 0);
}

/* An owner that holds the listener and accepts stays, whoever accepted
 * last: pre-fork workers accepting in turn do not move it each pass. */
static void test_choose_accepting_owner_stays(void **state)
{
	struct tt_lsn_holder h[] = { holder(1, 300, 0), holder(1, 301, 0), holder(1, 302, 0) };
	struct tt_owner cur = owner(300);

	(void)state;
	assert_int_equal(lsnown_choose(h, 3, 302, &cur, 1), 0);
	assert_int_equal(lsnown_choose(h, 3, 302, &cur, 0), 2);
	/* gone from the holders: the accepter, accepting or not */
	cur = owner(299);
	assert_int_equal(lsnown_choose(h, 3, 302, &cur, 1), 2);
}

/* Every holder exiting, or an exiting accepter: no live holder to name. */
static void test_choose_exiting(void **state)
{
	struct tt_lsn_holder h[] = { holder(1, 100, 1), holder(1, 101, 1) };
	struct tt_lsn_holder g[] = { holder(1, 100, 1), holder(1, 101, 0) };
	struct tt_owner cur = owner(100);

	(void)state;
	assert_int_equal(lsnown_choose(h, 2, 0, &cur, 0), -1);
	assert_int_equal(lsnown_choose(h, 2, 101, &cur, 0), -1);
	assert_int_equal(lsnown_choose(g, 2, 100, &cur, 0), 1);
	assert_int_equal(lsnown_choose(h, 0, 0, &cur, 0), -1);
}

static void test_cmp_orders_by_cookie_then_tgid(void **state)
{
	struct tt_lsn_holder h[] = { holder(2, 5, 0), holder(1, 9, 0), holder(2, 3, 0), holder(1, 1, 0) };

	(void)state;
	qsort(h, 4, sizeof(h[0]), lsnown_cmp);
	assert_int_equal(h[0].cookie, 1);
	assert_int_equal(h[0].tgid, 1);
	assert_int_equal(h[1].tgid, 9);
	assert_int_equal(h[2].cookie, 2);
	assert_int_equal(h[2].tgid, 3);
	assert_int_equal(h[3].tgid, 5);
}

static struct lsn_entry entry(unsigned family, const char *addr, unsigned port, unsigned netns,
			      unsigned pid, unsigned dead)
{
	struct lsn_entry e;

	memset(&e, 0, sizeof(e));
	e.family = family;
	e.lport = port;
	e.netns = netns;
	inet_pton(family == 2 ? AF_INET : AF_INET6, addr, e.laddr);
	if (pid) {
		e.owner = owner(pid);
		lsnown_hist_add(&e, dead);
		lsnown_hist_add(&e, pid);
	}
	return e;
}

static long match(const struct lsn_entry *l, size_t n, unsigned family, const char *addr,
		  unsigned port, unsigned pid)
{
	__u8 a[16] = { 0 };

	inet_pton(family == 2 ? AF_INET : AF_INET6, addr, a);
	return lsnown_match(l, n, 7, family, port, a, pid);
}

/* The exact address wins over a wildcard on the same port. */
static void test_match_exact_before_wildcard(void **state)
{
	struct lsn_entry l[] = {
		entry(2, "0.0.0.0", 80, 7, 500, 0),
		entry(2, "127.0.0.1", 80, 7, 600, 100),
	};

	(void)state;
	assert_int_equal(match(l, 2, 2, "127.0.0.1", 80, 100), 1);
	assert_int_equal(match(l, 2, 2, "10.0.0.1", 80, 100), 0);
	/* another port, another namespace: nothing */
	assert_int_equal(match(l, 2, 2, "127.0.0.1", 81, 100), -1);
	assert_int_equal(lsnown_match(l, 2, 8, 2, 80, l[1].laddr, 100), -1);
}

/* An IPv6 wildcard takes IPv4 connections; a v4-mapped bind is exact. */
static void test_match_ipv6_listeners(void **state)
{
	struct lsn_entry l[] = {
		entry(10, "::", 443, 7, 500, 0),
		entry(10, "::ffff:127.0.0.1", 8443, 7, 600, 0),
	};

	(void)state;
	assert_int_equal(match(l, 2, 2, "192.0.2.1", 443, 1), 0);
	assert_int_equal(match(l, 2, 10, "::1", 443, 1), 0);
	assert_int_equal(match(l, 2, 2, "127.0.0.1", 8443, 1), 1);
	/* an IPv4 wildcard does not take IPv6 */
	l[0] = entry(2, "0.0.0.0", 443, 7, 500, 0);
	assert_int_equal(match(l, 2, 10, "::1", 443, 1), -1);
}

/* Two listeners alike for the connection (SO_REUSEPORT): the one the dead
 * pid owned; if none or both, only when they agree on the owner. */
static void test_match_reuseport_by_dead_owner(void **state)
{
	struct lsn_entry l[] = {
		entry(2, "0.0.0.0", 80, 7, 700, 100),
		entry(2, "0.0.0.0", 80, 7, 701, 101),
	};

	(void)state;
	assert_int_equal(match(l, 2, 2, "127.0.0.1", 80, 101), 1);
	assert_int_equal(match(l, 2, 2, "127.0.0.1", 80, 100), 0);
	assert_int_equal(match(l, 2, 2, "127.0.0.1", 80, 555), -1);
	l[1].owner = owner(700);
	assert_int_equal(match(l, 2, 2, "127.0.0.1", 80, 555), 0);
}

/* A listener whose last holder was exiting is known, with no owner: its
 * connections are not given to a wildcard listener of another process. */
static void test_match_closed_listener_is_not_replaced(void **state)
{
	struct lsn_entry l[] = {
		entry(2, "0.0.0.0", 80, 7, 500, 0),
		entry(2, "127.0.0.1", 80, 7, 0, 0),
	};

	(void)state;
	lsnown_hist_add(&l[1], 100);
	assert_int_equal(match(l, 2, 2, "127.0.0.1", 80, 100), 1);
	assert_int_equal(l[1].owner.known, 0);
}

static void test_hist_latest_first_no_repeat(void **state)
{
	struct lsn_entry e;

	(void)state;
	memset(&e, 0, sizeof(e));
	lsnown_hist_add(&e, 1);
	lsnown_hist_add(&e, 1);
	lsnown_hist_add(&e, 0);
	lsnown_hist_add(&e, 2);
	for (unsigned p = 3; p <= 6; p++)
		lsnown_hist_add(&e, p);
	assert_int_equal(e.hist[0], 6);
	assert_int_equal(e.hist[1], 5);
	assert_int_equal(e.hist[2], 4);
	assert_int_equal(e.hist[3], 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_choose_dead_owner_gives_holder),
		cmocka_unit_test(test_choose_accepter_first),
		cmocka_unit_test(test_choose_keeps_live_owner),
		cmocka_unit_test(test_choose_accepting_owner_stays),
		cmocka_unit_test(test_choose_exiting),
		cmocka_unit_test(test_cmp_orders_by_cookie_then_tgid),
		cmocka_unit_test(test_match_exact_before_wildcard),
		cmocka_unit_test(test_match_ipv6_listeners),
		cmocka_unit_test(test_match_reuseport_by_dead_owner),
		cmocka_unit_test(test_match_closed_listener_is_not_replaced),
		cmocka_unit_test(test_hist_latest_first_no_repeat),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
