// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * owners from (pid, inode) pairs (owners_new/owners_want/owners_add_pair,
 * fed through owners_iter_feed) against fake proc trees. The expected names
 * follow netstat's rules, as in test_owners.c. The iterator itself loads
 * BPF: the integration tests run it (tests/helpers/owners_iter_check.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "owners.h"
#include "owners_iter.h"

#include "fake_proc.h"

/* root/pid with a cmdline of cmdlen bytes (none if NULL), a comm, no fds */
static void mk_pid(const struct tree *t, unsigned pid, const char *cmdline, size_t cmdlen,
		   const char *comm)
{
	char dir[16];

	snprintf(dir, sizeof(dir), "%u", pid);
	mk_proc(t, dir, cmdline, cmdlen, comm, NULL);
}

#define P(pid, ino) { .tgid = (pid), .fd = 3, .inode = (ino) }

static void test_names_and_first_wins(void **state)
{
	struct tree *t = *state;
	struct tt_owner_pair pairs[] = {
		P(100, 11), P(100, 12), P(200, 12), P(200, 21), P(300, 31), P(300, 11),
	};
	struct owners *o = NULL;
	const char *comm = NULL;
	unsigned pid = 0;

	mk_pid(t, 100, CMD("/usr/sbin/sshd\0-D\0"), "sshd");
	mk_pid(t, 200, CMD("./bin/tool\0x\0"), "tool");
	mk_pid(t, 300, CMD("/opt/x/a_really_long_program_name_here\0"), "a_really_long_p");
	assert_int_equal(owners_new(t->root, 4, &o), 0);
	assert_int_equal(owners_iter_feed(o, pairs, sizeof(pairs)), 0);
	assert_string_equal(owners_get(o, 11), "100/sshd");
	/* held by 100 and 200: the first pid met keeps it, as in netstat */
	assert_string_equal(owners_get(o, 12), "100/sshd");
	assert_string_equal(owners_get(o, 21), "200/./bin/tool");
	assert_string_equal(owners_get(o, 31), "300/a_really_long_p");
	assert_null(owners_get(o, 99));
	assert_int_equal(owners_lookup(o, 21, &pid, &comm), 0);
	assert_int_equal(pid, 200);
	assert_string_equal(comm, "tool");
	assert_int_equal(owners_count(o), 4);
	owners_free(&o);
	assert_null(o);
}

/* A pid whose cmdline cannot be read (gone) gives nobody its sockets: the
 * next holder takes them, as netstat would. */
static void test_gone_process_skipped(void **state)
{
	struct tree *t = *state;
	struct tt_owner_pair pairs[] = { P(100, 5), P(100, 6), P(150, 6), P(150, 7) };
	struct owners *o = NULL;

	mk_pid(t, 150, CMD("/bin/nc\0"), "nc");
	assert_int_equal(owners_new(t->root, 0, &o), 0);
	assert_int_equal(owners_iter_feed(o, pairs, sizeof(pairs)), 0);
	assert_null(owners_get(o, 5));
	assert_string_equal(owners_get(o, 6), "150/nc");
	assert_string_equal(owners_get(o, 7), "150/nc");
	assert_int_equal(owners_count(o), 2);
	owners_free(&o);
}

/* owners_want: only the rows' inodes are kept, and a process holding none
 * of them is never read (pid 400 has no directory at all). */
static void test_want_restricts(void **state)
{
	struct tree *t = *state;
	struct tt_owner_pair pairs[] = { P(400, 1), P(400, 2), P(500, 3), P(500, 4), P(600, 4) };
	struct owners *o = NULL;

	mk_pid(t, 500, CMD("/usr/bin/srv\0"), "srv");
	mk_pid(t, 600, CMD("/usr/bin/other\0"), "other");
	assert_int_equal(owners_new(t->root, 2, &o), 0);
	assert_int_equal(owners_want(o, 4), 0);
	assert_int_equal(owners_want(o, 4), 0);
	assert_int_equal(owners_want(o, 9), 0);
	assert_int_equal(owners_iter_feed(o, pairs, sizeof(pairs)), 0);
	assert_null(owners_get(o, 1));
	assert_null(owners_get(o, 3));
	assert_string_equal(owners_get(o, 4), "500/srv");
	/* wanted but held by nobody */
	assert_null(owners_get(o, 9));
	assert_int_equal(owners_lookup(o, 9, NULL, NULL), -ENOENT);
	assert_int_equal(owners_count(o), 1);
	owners_free(&o);

	/* inode 0 alone restricts: nothing is kept */
	assert_int_equal(owners_new(t->root, 0, &o), 0);
	assert_int_equal(owners_want(o, 0), 0);
	assert_int_equal(owners_iter_feed(o, pairs, sizeof(pairs)), 0);
	assert_int_equal(owners_count(o), 0);
	owners_free(&o);
}

/* Past the initial size and through several rehashes. */
static void test_many_pairs(void **state)
{
	struct tree *t = *state;
	enum { N = 50000 };
	struct tt_owner_pair *pairs = calloc(N, sizeof(*pairs));
	struct owners *o = NULL;
	char want[OWNERS_NAME_SIZE];

	assert_non_null(pairs);
	mk_pid(t, 7, CMD("/bin/a\0"), "a");
	mk_pid(t, 8, CMD("/bin/b\0"), "b");
	for (unsigned i = 0; i < N; i++) {
		pairs[i].tgid = i < N / 2 ? 7 : 8;
		pairs[i].inode = 1000 + (i % (N / 2) * 2) + (i >= N / 2 ? (i % 2) : 0);
	}
	assert_int_equal(owners_new(t->root, 0, &o), 0);
	assert_int_equal(owners_iter_feed(o, pairs, N * sizeof(*pairs)), 0);
	for (unsigned i = 0; i < N; i++) {
		/* pid 8 re-offers pid 7's inodes (even ones): 7 keeps them */
		int mine7 = i < N / 2 || pairs[i].inode % 2 == 0;

		snprintf(want, sizeof(want), "%s", mine7 ? "7/a" : "8/b");
		assert_string_equal(owners_get(o, pairs[i].inode), want);
	}
	assert_int_equal(owners_count(o), N / 2 + N / 4);
	owners_free(&o);
	free(pairs);
}

static void test_bad_input(void **state)
{
	struct tree *t = *state;
	struct tt_owner_pair p = P(1, 1);
	struct owners *o = NULL;

	assert_int_equal(owners_new("/nonexistent/tt", 0, &o), -ENOENT);
	assert_null(o);
	assert_int_equal(owners_new(t->root, 0, &o), 0);
	assert_int_equal(owners_iter_feed(o, &p, sizeof(p) - 1), -EINVAL);
	assert_int_equal(owners_add_pair(o, 0, 5), -EINVAL);
	owners_free(&o);
	owners_free(&o);
	assert_int_equal(owners_iter_usable("/nonexistent/tt"), 0);
	assert_int_equal(owners_iter_usable(t->root), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_names_and_first_wins, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_gone_process_skipped, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_want_restricts, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_many_pairs, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, tree_setup, tree_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
