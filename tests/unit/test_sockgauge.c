// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The socket gauges (sockgauge.h): sockets per state from the snapshot,
 * the transitions and the kernel's lost transitions; ESTABLISHED sockets
 * per owner and per container, and how a missed exit from ESTABLISHED is
 * found. Expected values are worked out by hand from the records fed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sockgauge.h"

struct fx {
	struct sockgauge *g;
	unsigned long long trans[TT_STATE_MAX][TT_STATE_MAX];
	unsigned long long lost[TT_STATE_MAX][TT_STATE_MAX];
	unsigned long long states[TT_STATE_MAX];
	long long now;
	/* what sg_each_*() reported */
	char names[256][SG_NAME_MAX];
	unsigned long long counts[256];
	int n;
};

static int setup_mode(void **state, int partial)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || sg_new(&f->g, partial))
		return -1;
	f->now = 1000000000LL;
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_mode(state, 0);
}

static int setup_partial(void **state)
{
	return setup_mode(state, 1);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	sg_free(&f->g);
	assert_null(f->g);
	sg_free(&f->g);
	free(f);
	return 0;
}

static void ev_cg(struct fx *f, unsigned long long id, unsigned old, unsigned st, unsigned pid,
		  const char *comm, const struct tt_cgref *cg)
{
	struct tt_event e = { .kind = TT_EV_STATE, .sock_id = id, .old_state = old, .new_state = st };
	unsigned o = sg_norm_state(old), s = sg_norm_state(st);

	f->now += 1000;
	e.ts_ns = (__u64)f->now;
	if (comm) {
		e.flags = TT_F_OWNER;
		e.pid = pid;
		memcpy(e.comm, comm, strnlen(comm, TT_COMM_LEN));
	}
	f->trans[o][s]++;   /* what metrics.c counts */
	sg_event(f->g, &e, o, s, o == TT_ESTABLISHED || s == TT_ESTABLISHED, cg);
}

static void ev(struct fx *f, unsigned long long id, unsigned old, unsigned st, unsigned pid,
	       const char *comm)
{
	ev_cg(f, id, old, st, pid, comm, NULL);
}

static void snap(struct fx *f, unsigned long long id, unsigned st, unsigned flags, unsigned pid,
		 const char *comm)
{
	struct tt_snaprec r = { .sock_id = id, .flags = flags, .pid = pid, .comm = comm };

	r.row.state = st;
	r.owner_known = comm != NULL;
	sg_snapshot(f->g, &r, NULL);
}

static unsigned long long count(struct fx *f, unsigned st)
{
	sg_states(f->g, f->trans, f->lost, f->states);
	return f->states[st];
}

static void collect(void *ctx, const char *name, unsigned long long n)
{
	struct fx *f = ctx;

	assert_true(f->n < 256);
	snprintf(f->names[f->n], SG_NAME_MAX, "%s", name);
	f->counts[f->n++] = n;
}

/* The count reported for name (summed over entries), or -1 if none. */
static long long reported(struct fx *f, int containers, const char *name)
{
	long long sum = -1;

	f->n = 0;
	if (containers)
		sg_each_container(f->g, collect, f);
	else
		sg_each_owner(f->g, collect, f);
	for (int i = 0; i < f->n; i++)
		if (!strcmp(f->names[i], name))
			sum = (sum < 0 ? 0 : sum) + (long long)f->counts[i];
	return sum;
}

static void test_states_from_snapshot_and_transitions(void **state)
{
	struct fx *f = *state;

	snap(f, 100, TT_LISTEN, 0, 1, "nginx");
	snap(f, 101, TT_ESTABLISHED, 0, 1, "nginx");
	snap(f, 102, TT_TIME_WAIT, TT_F_TW, 0, NULL);
	snap(f, 103, TT_NEW_SYN_RECV, TT_F_REQ, 0, NULL);
	snap(f, 104, TT_CLOSE, 0, 0, NULL);   /* on its way out: not counted */
	assert_int_equal(count(f, TT_LISTEN), 1);
	assert_int_equal(count(f, TT_ESTABLISHED), 1);
	assert_int_equal(count(f, TT_TIME_WAIT), 1);
	assert_int_equal(count(f, TT_SYN_RECV), 1);
	assert_int_equal(count(f, TT_CLOSE), 0);
	/* the request completes, the established one closes, TIME_WAIT ends */
	ev(f, 105, TT_NEW_SYN_RECV, TT_ESTABLISHED, 1, "nginx");
	ev(f, 101, TT_ESTABLISHED, TT_CLOSE_WAIT, 1, "nginx");
	ev(f, 102, TT_TIME_WAIT, TT_CLOSE, 0, NULL);
	ev(f, 106, TT_CLOSE, TT_SYN_SENT, 2, "curl");
	ev(f, 107, TT_TIME_WAIT, TT_TIME_WAIT, 0, NULL);   /* a change within: no move */
	ev(f, 108, TT_FIN_WAIT2, TT_CLOSE, 0, NULL);   /* a socket never counted */
	assert_int_equal(count(f, TT_SYN_RECV), 0);
	assert_int_equal(count(f, TT_ESTABLISHED), 1);
	assert_int_equal(count(f, TT_CLOSE_WAIT), 1);
	assert_int_equal(count(f, TT_TIME_WAIT), 0);
	assert_int_equal(count(f, TT_SYN_SENT), 1);
	assert_int_equal(count(f, TT_FIN_WAIT2), 0);   /* -1 shows as 0 */
	assert_int_equal(count(f, TT_LISTEN), 1);
}

/* A socket read twice by the snapshot counts once, in its later row. */
static void test_snapshot_twice(void **state)
{
	struct fx *f = *state;

	snap(f, 7, TT_ESTABLISHED, 0, 3, "sshd");
	snap(f, 7, TT_FIN_WAIT1, 0, 3, "sshd");
	snap(f, 0, TT_ESTABLISHED, 0, 0, NULL);   /* no id (/proc): each row counts */
	snap(f, 0, TT_ESTABLISHED, 0, 0, NULL);
	assert_int_equal(count(f, TT_ESTABLISHED), 2);
	assert_int_equal(count(f, TT_FIN_WAIT1), 1);
	assert_int_equal(reported(f, 0, "sshd"), -1);
}

/* Transitions the kernel could not send count as if seen: the socket's
 * next event moves it on from where the lost one put it. */
static void test_kernel_lost(void **state)
{
	struct fx *f = *state;

	snap(f, 1, TT_ESTABLISHED, 0, 5, "app");
	ev(f, 2, TT_CLOSE, TT_SYN_SENT, 5, "app");
	/* lost: 1 ESTABLISHED -> FIN_WAIT1, 2 SYN_SENT -> ESTABLISHED */
	f->lost[TT_ESTABLISHED][TT_FIN_WAIT1]++;
	f->lost[TT_SYN_SENT][TT_ESTABLISHED]++;
	ev(f, 1, TT_FIN_WAIT1, TT_FIN_WAIT2, 5, "app");
	assert_int_equal(count(f, TT_ESTABLISHED), 1);
	assert_int_equal(count(f, TT_SYN_SENT), 0);
	assert_int_equal(count(f, TT_FIN_WAIT1), 0);
	assert_int_equal(count(f, TT_FIN_WAIT2), 1);
	/* without the kernel's counts the gauge would be off by the loss */
	sg_states(f->g, f->trans, NULL, f->states);
	assert_int_equal(f->states[TT_SYN_SENT], 1);
}

static void test_owners(void **state)
{
	struct fx *f = *state;

	snap(f, 50, TT_ESTABLISHED, 0, 9, "sshd-long-name-cut-here");
	ev(f, 1, TT_CLOSE, TT_SYN_SENT, 10, "curl");
	ev(f, 1, TT_SYN_SENT, TT_ESTABLISHED, 10, "curl");
	ev(f, 2, TT_NEW_SYN_RECV, TT_ESTABLISHED, 11, "curl");
	ev(f, 3, TT_NEW_SYN_RECV, TT_ESTABLISHED, 0, NULL);   /* no owner: not per owner */
	assert_int_equal(reported(f, 0, "curl"), 2);
	assert_int_equal(reported(f, 0, "sshd-long-name-"), 1);   /* cut at 15, as comms are */
	ev(f, 1, TT_ESTABLISHED, TT_FIN_WAIT1, 10, "curl");
	ev(f, 3, TT_ESTABLISHED, TT_CLOSE_WAIT, 0, NULL);
	assert_int_equal(reported(f, 0, "curl"), 1);
	ev(f, 2, TT_ESTABLISHED, TT_CLOSE, 11, "curl");
	assert_int_equal(reported(f, 0, "curl"), -1);
	assert_int_equal(count(f, TT_ESTABLISHED), 1);
}

/* A lost exit from ESTABLISHED: for SG_CHECK_NS after the loss, any event
 * of the socket in another state takes it out of its owner's count. */
static void test_missed_exit(void **state)
{
	struct fx *f = *state;

	ev(f, 1, TT_SYN_SENT, TT_ESTABLISHED, 10, "curl");
	ev(f, 2, TT_SYN_SENT, TT_ESTABLISHED, 10, "curl");
	/* 1's ESTABLISHED -> FIN_WAIT1 was not seen, and nothing was lost: the
	 * next event is not looked up (the cheap path) */
	ev(f, 1, TT_FIN_WAIT1, TT_FIN_WAIT2, 10, "curl");
	assert_int_equal(reported(f, 0, "curl"), 2);
	/* after a loss it is */
	sg_lost(f->g, f->now);
	ev(f, 1, TT_FIN_WAIT2, TT_TIME_WAIT, 10, "curl");
	assert_int_equal(reported(f, 0, "curl"), 1);
	/* and no longer once SG_CHECK_NS passed */
	f->now += SG_CHECK_NS;
	ev(f, 2, TT_FIN_WAIT1, TT_FIN_WAIT2, 10, "curl");
	assert_int_equal(reported(f, 0, "curl"), 1);
}

/* A run that sees part of lives always checks. */
static void test_partial_checks(void **state)
{
	struct fx *f = *state;

	ev(f, 1, TT_SYN_SENT, TT_ESTABLISHED, 10, "curl");
	ev(f, 1, TT_FIN_WAIT1, TT_FIN_WAIT2, 10, "curl");
	assert_int_equal(reported(f, 0, "curl"), -1);
	/* a socket first seen leaving ESTABLISHED was never counted */
	ev(f, 9, TT_ESTABLISHED, TT_CLOSE_WAIT, 10, "curl");
	assert_int_equal(reported(f, 0, "curl"), -1);
}

static void test_containers(void **state)
{
	struct fx *f = *state;
	struct tt_cgref web1 = { .present = 1, .id = 11, .path = "/system.slice/docker-ab.scope",
				 .container = "ab" };
	struct tt_cgref web2 = { .present = 1, .id = 12, .path = "/system.slice/docker-ab.scope/x",
				 .container = "ab" };
	struct tt_cgref unit = { .present = 1, .id = 13, .path = "/system.slice/ev\"il.service",
				 .container = "ev\"il\n.service" };
	struct tt_cgref bare = { .present = 1, .id = 14, .path = "/user.slice", .container = NULL };

	ev_cg(f, 1, TT_SYN_SENT, TT_ESTABLISHED, 1, "a", &web1);
	ev_cg(f, 2, TT_SYN_SENT, TT_ESTABLISHED, 1, "a", &web2);
	ev_cg(f, 3, TT_SYN_SENT, TT_ESTABLISHED, 1, "a", &unit);
	ev_cg(f, 4, TT_SYN_SENT, TT_ESTABLISHED, 1, "a", &bare);
	ev_cg(f, 5, TT_SYN_SENT, TT_ESTABLISHED, 1, "a", NULL);
	/* two cgroups of one container: reported apart, summed by metrics.c */
	assert_int_equal(reported(f, 1, "ab"), 2);
	assert_int_equal(reported(f, 1, "ev\"il\n.service"), 1);
	assert_int_equal(f->n, 3);
	assert_int_equal(reported(f, 0, "a"), 5);
	ev_cg(f, 2, TT_ESTABLISHED, TT_FIN_WAIT1, 1, "a", &web2);
	ev_cg(f, 3, TT_ESTABLISHED, TT_FIN_WAIT1, 1, "a", &unit);
	assert_int_equal(reported(f, 1, "ab"), 1);
	assert_int_equal(reported(f, 1, "ev\"il\n.service"), -1);
}

/* Under churn entries with no socket left pile up; they are dropped
 * without changing a count. */
static void test_many_processes(void **state)
{
	struct fx *f = *state;
	char comm[TT_COMM_LEN];

	for (unsigned pid = 1; pid <= 2000; pid++) {
		snprintf(comm, sizeof(comm), "job%u", pid % 7);
		ev(f, pid, TT_SYN_SENT, TT_ESTABLISHED, pid, comm);
		if (pid % 10)
			ev(f, pid, TT_ESTABLISHED, TT_FIN_WAIT1, pid, comm);
	}
	/* 200 left: pids 10, 20, ..., 2000; comm job(pid % 7) */
	for (unsigned c = 0; c < 7; c++) {
		long long want = 0;

		for (unsigned pid = 10; pid <= 2000; pid += 10)
			want += pid % 7 == c;
		snprintf(comm, sizeof(comm), "job%u", c);
		assert_int_equal(reported(f, 0, comm), want);
	}
	assert_int_equal(f->n, 200);
	assert_int_equal(count(f, TT_ESTABLISHED), 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_states_from_snapshot_and_transitions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owners, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missed_exit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_checks, setup_partial, teardown),
		cmocka_unit_test_setup_teardown(test_containers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_processes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
