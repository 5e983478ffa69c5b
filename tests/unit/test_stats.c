// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * -s/--stats: exact per-state counts from snapshot rows and transitions,
 * rates, top owners, the exit table, and output safety. The expected counts
 * are worked out by hand from the sequences (or by a separate reference
 * model in the randomized test), never from the module's own output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "clock.h"
#include "format.h"
#include "stats.h"

struct fx {
	struct stats *s;
	struct outbuf ob;
	struct tt_clock clock;
	struct fmt_opts fo;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || stats_new(&f->s) || ob_init(&f->ob, 0))
		return -1;
	clock_anchor(&f->clock);
	f->fo.clock = &f->clock;
	f->fo.addr_width = 23;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	stats_free(&f->s);
	assert_null(f->s);
	stats_free(&f->s);   /* NULL-safe, idempotent */
	ob_free(&f->ob);
	free(f);
	return 0;
}

static void snap(struct stats *s, unsigned long long id, unsigned state, unsigned flags,
		 int owner_known, unsigned pid, const char *comm)
{
	struct tt_snaprec r;

	memset(&r, 0, sizeof(r));
	r.row.family = 2;
	r.row.state = state;
	r.row.lport = 1025;
	r.sock_id = id;
	r.flags = flags;
	r.owner_known = owner_known;
	r.pid = pid;
	r.comm = comm;
	stats_snapshot(s, &r);
}

static void ev(struct stats *s, unsigned long long id, unsigned old, unsigned st,
	       unsigned flags, unsigned pid, const char *comm)
{
	struct tt_event e;

	memset(&e, 0, sizeof(e));
	e.kind = TT_EV_STATE;
	e.sock_id = id;
	e.old_state = old;
	e.new_state = st;
	e.flags = flags;
	e.pid = pid;
	e.family = 2;
	if (comm)
		strncpy(e.comm, comm, TT_COMM_LEN);   /* not NUL-terminated at 16: as the kernel */
	stats_event(s, &e);
}

/* The -s records, formatted as the outputs format them, appended to f->ob. */
static void report(struct fx *f, int json, double elapsed_s)
{
	struct tt_record r;

	stats_report(f->s, elapsed_s, clock_boot_now(), &r);
	if (json)
		fmt_json(&f->ob, &r, &f->fo);
	else
		fmt_text(&f->ob, &r, &f->fo);
}

static void final(struct fx *f, int json)
{
	struct tt_record r;

	assert_int_equal(stats_final(f->s, clock_boot_now(), &r), 0);
	if (json)
		fmt_json(&f->ob, &r, &f->fo);
	else
		fmt_text(&f->ob, &r, &f->fo);
}

#define OWN TT_F_OWNER
#define CNT(s, st) stats_state_count((s), TT_##st)

/* counts[TT_STATE_MAX] must equal the module's, every state */
static void assert_counts(const struct stats *s, const unsigned long long *want)
{
	for (unsigned st = 0; st < TT_STATE_MAX; st++) {
		if (stats_state_count(s, st) != want[st])
			fail_msg("state %u: got %llu, want %llu", st, stats_state_count(s, st), want[st]);
	}
}

static json_object *parse_one(struct outbuf *ob)
{
	const char *txt = ob_cstr(ob);
	size_t len = strlen(txt);
	json_object *j;

	assert_false(ob->oom);
	assert_true(len > 1);
	assert_int_equal(txt[len - 1], '\n');
	assert_null(memchr(txt, '\n', len - 1));   /* one record, one line */
	j = json_tokener_parse(txt);
	assert_non_null(j);
	return j;
}

static long long jint(json_object *o, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v))
		fail_msg("no key %s", k);
	return json_object_get_int64(v);
}

static double jdouble(json_object *o, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v))
		fail_msg("no key %s", k);
	return json_object_get_double(v);
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v))
		fail_msg("no key %s", k);
	return json_object_get_string(v);
}

static json_object *jget(json_object *o, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v))
		fail_msg("no key %s", k);
	return v;
}

/* ---- exact counts ------------------------------------------------------ */

static void test_snapshot_counts(void **state)
{
	struct fx *f = *state;
	unsigned long long want[TT_STATE_MAX] = {0};

	snap(f->s, 1, TT_LISTEN, 0, 1, 10, "srv");
	snap(f->s, 2, TT_ESTABLISHED, 0, 1, 10, "srv");
	snap(f->s, 3, TT_ESTABLISHED, 0, 1, 11, "cli");
	snap(f->s, 4, TT_TIME_WAIT, TT_F_TW, 0, 0, NULL);
	snap(f->s, 5, TT_FIN_WAIT2, TT_F_TW, 0, 0, NULL);   /* FIN_WAIT2 timewait: as netstat */
	snap(f->s, 6, TT_SYN_RECV, TT_F_REQ, 1, 10, "srv");
	snap(f->s, 7, TT_NEW_SYN_RECV, TT_F_REQ, 1, 10, "srv");
	snap(f->s, 8, TT_CLOSE_WAIT, 0, 0, 0, NULL);
	snap(f->s, 9, TT_CLOSE, 0, 0, 0, NULL);              /* on its way out: not counted */
	snap(f->s, 10, 99, 0, 0, 0, NULL);                   /* garbage state: ignored */
	snap(f->s, 0, TT_ESTABLISHED, 0, 0, 0, NULL);        /* no id (/proc fallback) */
	want[TT_LISTEN] = 1;
	want[TT_ESTABLISHED] = 3;
	want[TT_TIME_WAIT] = 1;
	want[TT_FIN_WAIT2] = 1;
	want[TT_SYN_RECV] = 2;
	want[TT_CLOSE_WAIT] = 1;
	assert_counts(f->s, want);
	/* the same id twice: counted once, in the later row's state */
	snap(f->s, 2, TT_CLOSE_WAIT, 0, 1, 10, "srv");
	want[TT_ESTABLISHED]--;
	want[TT_CLOSE_WAIT]++;
	assert_counts(f->s, want);
}

static void test_active_close_lifecycle(void **state)
{
	struct fx *f = *state;
	struct stats *s = f->s;

	ev(s, 42, TT_CLOSE, TT_SYN_SENT, OWN, 7, "curl");
	assert_int_equal(CNT(s, SYN_SENT), 1);
	ev(s, 42, TT_SYN_SENT, TT_ESTABLISHED, OWN, 7, "curl");
	assert_int_equal(CNT(s, SYN_SENT), 0);
	assert_int_equal(CNT(s, ESTABLISHED), 1);
	ev(s, 42, TT_ESTABLISHED, TT_FIN_WAIT1, OWN, 7, "curl");
	ev(s, 42, TT_FIN_WAIT1, TT_FIN_WAIT2, OWN, 7, "curl");
	assert_int_equal(CNT(s, ESTABLISHED), 0);
	assert_int_equal(CNT(s, FIN_WAIT2), 1);
	ev(s, 42, TT_FIN_WAIT2, TT_TIME_WAIT, OWN | TT_F_TW | TT_F_FINAL, 7, "curl");
	assert_int_equal(CNT(s, FIN_WAIT2), 0);
	assert_int_equal(CNT(s, TIME_WAIT), 1);   /* until its TIME_WAIT -> CLOSE */
	ev(s, 42, TT_TIME_WAIT, TT_CLOSE, TT_F_TW | TT_F_FINAL, 0, NULL);
	assert_int_equal(CNT(s, TIME_WAIT), 0);
	assert_int_equal(CNT(s, CLOSE), 0);
	assert_int_equal(stats_transition_count(s, TT_TIME_WAIT, TT_CLOSE), 1);
	assert_int_equal(stats_transition_count(s, TT_SYN_SENT, TT_ESTABLISHED), 1);
	/* the id is free again: a reused id starts afresh */
	ev(s, 42, TT_CLOSE, TT_LISTEN, OWN, 8, "nc");
	assert_int_equal(CNT(s, LISTEN), 1);
	assert_int_equal(CNT(s, TIME_WAIT), 0);
}

static void test_requests(void **state)
{
	struct fx *f = *state;
	struct stats *s = f->s;
	unsigned long long r1 = TT_REQ_ID_BIT | 1, r2 = TT_REQ_ID_BIT | 2;

	ev(s, 5, TT_CLOSE, TT_LISTEN, OWN, 10, "srv");
	ev(s, r1, TT_CLOSE, TT_SYN_RECV, OWN | TT_F_REQ, 10, "srv");
	ev(s, r2, TT_CLOSE, TT_SYN_RECV, OWN | TT_F_REQ, 10, "srv");
	assert_int_equal(CNT(s, SYN_RECV), 2);
	/* the accepted child shares the request's id */
	ev(s, r1, TT_SYN_RECV, TT_ESTABLISHED, OWN, 10, "srv");
	assert_int_equal(CNT(s, SYN_RECV), 1);
	assert_int_equal(CNT(s, ESTABLISHED), 1);
	/* a request that never completed */
	ev(s, r2, TT_SYN_RECV, TT_CLOSE, OWN | TT_F_REQ | TT_F_FINAL, 10, "srv");
	assert_int_equal(CNT(s, SYN_RECV), 0);
	assert_int_equal(CNT(s, LISTEN), 1);
	assert_int_equal(CNT(s, ESTABLISHED), 1);
	/* a request from the snapshot completes */
	snap(s, 77, TT_SYN_RECV, TT_F_REQ, 1, 10, "srv");
	ev(s, 77, TT_SYN_RECV, TT_ESTABLISHED, OWN, 10, "srv");
	assert_int_equal(CNT(s, SYN_RECV), 0);
	assert_int_equal(CNT(s, ESTABLISHED), 2);
}

static void test_unknown_sockets(void **state)
{
	struct fx *f = *state;
	struct stats *s = f->s;

	/* first seen mid-life: placed in the new state */
	ev(s, 100, TT_ESTABLISHED, TT_CLOSE_WAIT, OWN, 3, "x");
	assert_int_equal(CNT(s, CLOSE_WAIT), 1);
	assert_int_equal(CNT(s, ESTABLISHED), 0);
	ev(s, 100, TT_CLOSE_WAIT, TT_LAST_ACK, OWN, 3, "x");
	ev(s, 100, TT_LAST_ACK, TT_CLOSE, OWN, 3, "x");
	assert_int_equal(CNT(s, CLOSE_WAIT), 0);
	assert_int_equal(CNT(s, LAST_ACK), 0);
	/* first seen at its end: nothing to count, nothing goes negative */
	ev(s, 101, TT_TIME_WAIT, TT_CLOSE, TT_F_TW, 0, NULL);
	assert_int_equal(CNT(s, TIME_WAIT), 0);
	assert_int_equal(stats_transition_count(s, TT_TIME_WAIT, TT_CLOSE), 1);
	/* a known socket whose event disagrees (an event was lost): the socket
	 * moves from where it was counted, so the total stays right */
	ev(s, 102, TT_CLOSE, TT_SYN_SENT, OWN, 3, "x");
	ev(s, 102, TT_ESTABLISHED, TT_FIN_WAIT1, OWN, 3, "x");
	assert_int_equal(CNT(s, SYN_SENT), 0);
	assert_int_equal(CNT(s, ESTABLISHED), 0);
	assert_int_equal(CNT(s, FIN_WAIT1), 1);
	/* snapshot rows with no id: an unknown socket leaving that state is
	 * taken to be one of them, not counted twice */
	snap(s, 0, TT_ESTABLISHED, 0, 1, 9, "old");
	snap(s, 0, TT_ESTABLISHED, 0, 1, 9, "old");
	assert_int_equal(CNT(s, ESTABLISHED), 2);
	ev(s, 200, TT_ESTABLISHED, TT_FIN_WAIT1, OWN, 9, "old");
	assert_int_equal(CNT(s, ESTABLISHED), 1);
	assert_int_equal(CNT(s, FIN_WAIT1), 2);
	ev(s, 201, TT_ESTABLISHED, TT_CLOSE, OWN, 9, "old");   /* RST */
	assert_int_equal(CNT(s, ESTABLISHED), 0);
	/* none left: the next one is simply placed */
	ev(s, 202, TT_ESTABLISHED, TT_CLOSE_WAIT, OWN, 9, "old");
	assert_int_equal(CNT(s, ESTABLISHED), 0);
	assert_int_equal(CNT(s, CLOSE_WAIT), 1);
	/* events without an id: counted, not tracked */
	ev(s, 0, TT_CLOSE, TT_SYN_SENT, 0, 0, NULL);
	assert_int_equal(CNT(s, SYN_SENT), 1);
	/* other event kinds and bad states change nothing */
	{
		struct tt_event e;

		memset(&e, 0, sizeof(e));
		e.kind = TT_EV_RCVQ_FULL;
		e.sock_id = 202;
		e.new_state = TT_CLOSE;
		stats_event(s, &e);
		assert_int_equal(CNT(s, CLOSE_WAIT), 1);
		ev(s, 202, TT_CLOSE_WAIT, 0, 0, 0, NULL);
		ev(s, 202, 200, TT_CLOSE, 0, 0, NULL);
		assert_int_equal(CNT(s, CLOSE_WAIT), 1);
	}
}

/* 1000 loopback connections: both ends, handshake, 400 closed by the
 * client (client in TIME_WAIT, server gone), then the TIME_WAITs end. */
static void test_burst_1000(void **state)
{
	struct fx *f = *state;
	struct stats *s = f->s;
	json_object *j;
	unsigned long long c, srv;

	ev(s, 1, TT_CLOSE, TT_LISTEN, OWN, 500, "srv");
	for (c = 0; c < 1000; c++) {
		unsigned long long cli = 1000 + c;

		srv = TT_REQ_ID_BIT | c;
		ev(s, cli, TT_CLOSE, TT_SYN_SENT, OWN, 600, "cli");
		ev(s, srv, TT_CLOSE, TT_SYN_RECV, OWN | TT_F_REQ, 500, "srv");
		ev(s, cli, TT_SYN_SENT, TT_ESTABLISHED, OWN, 600, "cli");
		ev(s, srv, TT_SYN_RECV, TT_ESTABLISHED, OWN, 500, "srv");
	}
	assert_int_equal(CNT(s, ESTABLISHED), 2000);
	assert_int_equal(CNT(s, SYN_SENT), 0);
	assert_int_equal(CNT(s, SYN_RECV), 0);
	for (c = 0; c < 1000; c += 5) {   /* 2 of every 5: spread over the table */
		for (unsigned long long k = c; k < c + 2; k++) {
			unsigned long long cli = 1000 + k;

			srv = TT_REQ_ID_BIT | k;
			ev(s, cli, TT_ESTABLISHED, TT_FIN_WAIT1, OWN, 600, "cli");
			ev(s, srv, TT_ESTABLISHED, TT_CLOSE_WAIT, OWN, 500, "srv");
			ev(s, srv, TT_CLOSE_WAIT, TT_LAST_ACK, OWN, 500, "srv");
			ev(s, cli, TT_FIN_WAIT1, TT_FIN_WAIT2, OWN, 600, "cli");
			ev(s, cli, TT_FIN_WAIT2, TT_TIME_WAIT, OWN | TT_F_TW, 600, "cli");
			ev(s, srv, TT_LAST_ACK, TT_CLOSE, OWN, 500, "srv");
		}
	}
	assert_int_equal(CNT(s, ESTABLISHED), 1200);
	assert_int_equal(CNT(s, TIME_WAIT), 400);
	assert_int_equal(CNT(s, LAST_ACK), 0);
	assert_int_equal(CNT(s, LISTEN), 1);
	report(f, 1, 1.0);
	j = parse_one(&f->ob);
	assert_int_equal(jint(j, "new"), 2000);
	assert_int_equal(jint(j, "closes"), 400);
	assert_int_equal(jint(j, "sockets"), 1601);
	assert_int_equal(jint(jget(j, "states"), "TIME_WAIT"), 400);
	/* top: the two owners, most ESTABLISHED first */
	{
		json_object *top = jget(j, "top");

		assert_int_equal(json_object_array_length(top), 2);
		assert_int_equal(jint(json_object_array_get_idx(top, 0), "pid"), 500);
		assert_int_equal(jint(json_object_array_get_idx(top, 0), "established"), 600);
		assert_int_equal(jint(json_object_array_get_idx(top, 1), "pid"), 600);
		assert_int_equal(jint(json_object_array_get_idx(top, 1), "established"), 600);
	}
	json_object_put(j);
	for (c = 0; c < 1000; c += 5)
		for (unsigned long long k = c; k < c + 2; k++)
			ev(s, 1000 + k, TT_TIME_WAIT, TT_CLOSE, TT_F_TW, 0, NULL);
	assert_int_equal(CNT(s, TIME_WAIT), 0);
	/* every survivor is still found after all those deletions: moving it
	 * must not add a socket */
	for (c = 0; c < 1000; c++) {
		if (c % 5 < 2)
			continue;
		ev(s, 1000 + c, TT_ESTABLISHED, TT_CLOSE, OWN, 600, "cli");
		ev(s, TT_REQ_ID_BIT | c, TT_ESTABLISHED, TT_CLOSE, OWN, 500, "srv");
	}
	assert_int_equal(CNT(s, ESTABLISHED), 0);
	assert_int_equal(CNT(s, LISTEN), 1);
}

/* Random churn against a plain array model written here: the hash table's
 * growth and backward-shift deletion must never lose or duplicate a socket. */
static void test_random_vs_reference(void **state)
{
	struct fx *f = *state;
	enum { IDS = 5000, STEPS = 200000 };
	static unsigned char ref[IDS];   /* 0: no socket, else its state */
	unsigned long long want[TT_STATE_MAX];
	unsigned rnd = 12345;

	memset(ref, 0, sizeof(ref));
	for (int i = 0; i < STEPS; i++) {
		unsigned id, st;

		rnd = rnd * 1103515245u + 12345u;
		id = (rnd >> 8) % IDS;
		rnd = rnd * 1103515245u + 12345u;
		st = 1 + (rnd >> 8) % (TT_STATE_MAX - 2);   /* 1..11, CLOSE included */
		if (!ref[id] && st == TT_CLOSE)
			continue;
		/* ids spread like cookies: consecutive, with some request ids */
		ev(f->s, (id % 7 ? 1 + id : TT_REQ_ID_BIT | id),
		   ref[id] ? ref[id] : TT_CLOSE, st, 0, 0, NULL);
		ref[id] = st == TT_CLOSE ? 0 : (unsigned char)st;
		if (i % 20000 == 0 || i == STEPS - 1) {
			memset(want, 0, sizeof(want));
			for (unsigned k = 0; k < IDS; k++)
				if (ref[k])
					want[ref[k]]++;
			assert_counts(f->s, want);
		}
	}
}

/* ---- report ------------------------------------------------------------ */

static void test_rates(void **state)
{
	struct fx *f = *state;
	struct stats *s = f->s;
	json_object *j;

	for (unsigned long long i = 1; i <= 10; i++) {
		ev(s, i, TT_CLOSE, TT_SYN_SENT, 0, 0, NULL);
		ev(s, i, TT_SYN_SENT, TT_ESTABLISHED, 0, 0, NULL);
	}
	for (unsigned long long i = 1; i <= 4; i++)
		ev(s, i, TT_ESTABLISHED, TT_CLOSE, 0, 0, NULL);
	ev(s, 50, TT_CLOSE, TT_LISTEN, 0, 0, NULL);
	ev(s, 50, TT_LISTEN, TT_CLOSE, 0, 0, NULL);   /* not a close */
	report(f, 1, 2.0);
	j = parse_one(&f->ob);
	assert_string_equal(jstr(j, "type"), "stats");
	assert_int_equal(jint(j, "new"), 10);
	assert_int_equal(jint(j, "closes"), 4);
	assert_true(jdouble(j, "new_per_s") == 5.0);
	assert_true(jdouble(j, "closes_per_s") == 2.0);
	assert_true(jdouble(j, "interval_s") == 2.0);
	assert_int_equal(jint(jget(j, "states"), "ESTABLISHED"), 6);
	assert_int_equal(json_object_object_length(jget(j, "states")), 10);
	json_object_put(j);
	/* formatting again (text for stdout, JSON for -o) gives the same counts */
	ob_reset(&f->ob);
	report(f, 1, 2.0);
	j = parse_one(&f->ob);
	assert_int_equal(jint(j, "new"), 10);
	assert_int_equal(jint(j, "closes"), 4);
	json_object_put(j);
	/* the interval counters restart; the state counts do not */
	stats_interval_end(s);
	ob_reset(&f->ob);
	report(f, 1, 0.5);
	j = parse_one(&f->ob);
	assert_int_equal(jint(j, "new"), 0);
	assert_true(jdouble(j, "new_per_s") == 0.0);
	assert_int_equal(jint(jget(j, "states"), "ESTABLISHED"), 6);
	json_object_put(j);
	/* a zero or absurd interval: rates 0, still valid JSON */
	ev(s, 60, TT_CLOSE, TT_SYN_SENT, 0, 0, NULL);
	ev(s, 60, TT_SYN_SENT, TT_ESTABLISHED, 0, 0, NULL);
	ob_reset(&f->ob);
	report(f, 1, 0.0);
	j = parse_one(&f->ob);
	assert_int_equal(jint(j, "new"), 1);
	assert_true(jdouble(j, "new_per_s") == 0.0);
	json_object_put(j);
	stats_interval_end(s);
	ev(s, 61, TT_CLOSE, TT_SYN_SENT, 0, 0, NULL);
	ev(s, 61, TT_SYN_SENT, TT_ESTABLISHED, 0, 0, NULL);
	ob_reset(&f->ob);
	report(f, 0, 0.25);
	assert_non_null(strstr(ob_cstr(&f->ob), "| new/s 4.0  closes/s 0.0 |"));
	assert_non_null(strstr(ob_cstr(&f->ob), "  ESTABLISHED 8  SYN_SENT 0  SYN_RECV 0  "));
}

static void test_text_line(void **state)
{
	struct fx *f = *state;
	struct stats *s = f->s;
	const char *txt, *line2;
	int hh, mm, ss, n = 0;
	char rest[512];

	snap(s, 1, TT_LISTEN, 0, 1, 4242, "nginx");
	for (unsigned long long i = 2; i < 12; i++)
		snap(s, i, TT_ESTABLISHED, 0, 1, 4242, "nginx");
	snap(s, 20, TT_ESTABLISHED, 0, 1, 77, "sshd");
	snap(s, 21, TT_ESTABLISHED, 0, 1, 77, "sshd");
	snap(s, 22, TT_TIME_WAIT, TT_F_TW, 0, 0, NULL);
	report(f, 0, 1.0);
	report(f, 0, 1.0);
	txt = ob_cstr(&f->ob);
	assert_true(strncmp(txt, "# stats: ", 9) == 0);
	line2 = strchr(txt, '\n') + 1;
	assert_int_equal(sscanf(line2, "--- %2d:%2d:%2d%n", &hh, &mm, &ss, &n), 3);
	assert_true(n > 0);
	snprintf(rest, sizeof(rest), "%s", line2 + n);
	rest[strcspn(rest, "\n")] = '\0';
	assert_string_equal(rest, "  ESTABLISHED 12  SYN_SENT 0  SYN_RECV 0  FIN_WAIT1 0  FIN_WAIT2 0  "
			    "TIME_WAIT 1  CLOSE_WAIT 0  LAST_ACK 0  LISTEN 1  CLOSING 0 | new/s 0.0  "
			    "closes/s 0.0 | top: 4242/nginx 10, 77/sshd 2");
	/* the header once; one line per report */
	assert_null(strstr(line2, "# stats"));
	assert_int_equal(strchr(strchr(line2, '\n') + 1, '\n')[1], '\0');
}

static void test_top_five(void **state)
{
	struct fx *f = *state;
	struct stats *s = f->s;
	unsigned long long id = 1;
	json_object *j, *top;
	/* pid -> ESTABLISHED sockets: 7 owners, two ties */
	static const unsigned pids[] = { 31, 32, 33, 34, 35, 36, 37 };
	static const unsigned n[] = { 1, 5, 3, 5, 2, 7, 3 };
	static const unsigned want_pid[] = { 36, 32, 34, 33, 37 };
	static const unsigned want_n[] = { 7, 5, 5, 3, 3 };

	for (unsigned i = 0; i < 7; i++)
		for (unsigned k = 0; k < n[i]; k++, id++) {
			ev(s, id, TT_CLOSE, TT_SYN_SENT, OWN, pids[i], "p");
			ev(s, id, TT_SYN_SENT, TT_ESTABLISHED, OWN, pids[i], "p");
		}
	ev(s, 900, TT_CLOSE, TT_LISTEN, OWN, 99, "listener");   /* not ESTABLISHED */
	report(f, 1, 1.0);
	j = parse_one(&f->ob);
	top = jget(j, "top");
	assert_int_equal(json_object_array_length(top), STATS_TOP);
	for (int i = 0; i < STATS_TOP; i++) {
		json_object *o = json_object_array_get_idx(top, i);

		assert_int_equal(jint(o, "pid"), want_pid[i]);
		assert_int_equal(jint(o, "established"), want_n[i]);
		assert_string_equal(jstr(o, "comm"), "p");
	}
	json_object_put(j);
	/* a socket changes hands (fd passed, fork): it counts for its new owner;
	 * one leaving ESTABLISHED stops counting */
	ev(s, 1, TT_ESTABLISHED, TT_ESTABLISHED, OWN, 35, "p");   /* pid 31 -> 35: 3 */
	for (unsigned long long k = 0; k < 7; k++)                  /* pid 36's, ids 17..23 */
		ev(s, 17 + k, TT_ESTABLISHED, TT_FIN_WAIT1, OWN, 36, "p");
	ob_reset(&f->ob);
	report(f, 1, 1.0);
	j = parse_one(&f->ob);
	top = jget(j, "top");
	{
		static const unsigned want2_pid[] = { 32, 34, 33, 35, 37 };
		static const unsigned want2_n[] = { 5, 5, 3, 3, 3 };

		for (int i = 0; i < STATS_TOP; i++) {
			json_object *o = json_object_array_get_idx(top, i);

			assert_int_equal(jint(o, "pid"), want2_pid[i]);
			assert_int_equal(jint(o, "established"), want2_n[i]);
		}
	}
	json_object_put(j);
}

static void test_hostile_comm(void **state)
{
	struct fx *f = *state;
	struct stats *s = f->s;
	static const char evil[] = "\x1b[2J\n\r\"\\\x7f\xff\x01z";   /* 12 bytes */
	json_object *j, *top;
	const char *txt;

	snap(s, 1, TT_ESTABLISHED, 0, 1, 66, evil);
	ev(s, 2, TT_CLOSE, TT_SYN_SENT, OWN, 66, evil);
	ev(s, 2, TT_SYN_SENT, TT_ESTABLISHED, OWN, 66, evil);
	ev(s, 3, TT_CLOSE, TT_SYN_SENT, OWN, 67, "\xe2\x80\xae" "evil\x1b]0;x\x07");
	ev(s, 3, TT_SYN_SENT, TT_ESTABLISHED, OWN, 67, "\xe2\x80\xae" "evil\x1b]0;x\x07");
	report(f, 0, 1.0);
	final(f, 0);
	txt = ob_cstr(&f->ob);
	for (const unsigned char *p = (const unsigned char *)txt; *p; p++)
		if ((*p < 0x20 && *p != '\n') || *p == 0x7f)
			fail_msg("raw control byte 0x%02x at offset %ld", *p, (long)(p - (const unsigned char *)txt));
	assert_non_null(strstr(txt, "66/\\x1b[2J\\x0a\\x0d\"\\x5c\\x7f\\xff\\x01z 2"));
	ob_reset(&f->ob);
	report(f, 1, 1.0);
	j = parse_one(&f->ob);
	top = jget(j, "top");
	assert_string_equal(jstr(json_object_array_get_idx(top, 0), "comm"),
			    "\\x1b[2J\\x0a\\x0d\"\\x5c\\x7f\\xff\\x01z");
	json_object_put(j);
	ob_reset(&f->ob);
	final(f, 1);
	j = parse_one(&f->ob);
	json_object_put(j);
}

/* ---- exit table -------------------------------------------------------- */

static void test_final(void **state)
{
	struct fx *f = *state;
	struct stats *s = f->s;
	json_object *j, *tr, *bp;
	const char *txt;

	snap(s, 1, TT_ESTABLISHED, 0, 1, 20, "snapowner");
	ev(s, 1, TT_ESTABLISHED, TT_FIN_WAIT1, 0, 0, NULL);   /* owner from the snapshot */
	ev(s, 10, TT_CLOSE, TT_LISTEN, OWN, 30, "srv");
	for (unsigned long long i = 0; i < 3; i++) {
		ev(s, 100 + i, TT_CLOSE, TT_SYN_SENT, OWN, 40, "cli");
		ev(s, 100 + i, TT_SYN_SENT, TT_ESTABLISHED, OWN, 40, "cli");
	}
	ev(s, 200, TT_TIME_WAIT, TT_CLOSE, TT_F_TW, 0, NULL);  /* no owner known anywhere */
	ev(s, 10, TT_LISTEN, TT_CLOSE, OWN, 30, "srv");
	final(f, 1);
	j = parse_one(&f->ob);
	assert_string_equal(jstr(j, "type"), "stats_final");
	assert_int_equal(jint(j, "new"), 3);
	assert_int_equal(jint(j, "closes"), 1);   /* TIME_WAIT -> CLOSE; not LISTEN -> CLOSE */
	tr = jget(j, "transitions");
	assert_int_equal(json_object_array_length(tr), 6);
	/* most frequent first, then by old and new state number */
	{
		static const char *const want[][2] = {
			{ "SYN_SENT", "ESTABLISHED" }, { "CLOSE", "SYN_SENT" },
			{ "ESTABLISHED", "FIN_WAIT1" }, { "TIME_WAIT", "CLOSE" },
			{ "CLOSE", "LISTEN" }, { "LISTEN", "CLOSE" },
		};
		static const int wantn[] = { 3, 3, 1, 1, 1, 1 };

		for (int i = 0; i < 6; i++) {
			json_object *o = json_object_array_get_idx(tr, i);

			assert_string_equal(jstr(o, "old"), want[i][0]);
			assert_string_equal(jstr(o, "new"), want[i][1]);
			assert_int_equal(jint(o, "count"), wantn[i]);
		}
	}
	bp = jget(j, "by_process");
	assert_int_equal(json_object_array_length(bp), 4);
	assert_int_equal(jint(json_object_array_get_idx(bp, 0), "pid"), 40);
	assert_int_equal(jint(json_object_array_get_idx(bp, 0), "transitions"), 6);
	assert_string_equal(jstr(json_object_array_get_idx(bp, 0), "comm"), "cli");
	assert_int_equal(jint(json_object_array_get_idx(bp, 1), "pid"), 30);
	assert_int_equal(jint(json_object_array_get_idx(bp, 1), "transitions"), 2);
	assert_int_equal(jint(json_object_array_get_idx(bp, 2), "pid"), 20);
	assert_string_equal(jstr(json_object_array_get_idx(bp, 2), "comm"), "snapowner");
	assert_int_equal(jint(json_object_array_get_idx(bp, 2), "transitions"), 1);
	assert_true(json_object_is_type(jget(json_object_array_get_idx(bp, 3), "pid"), json_type_null));
	assert_int_equal(jint(json_object_array_get_idx(bp, 3), "transitions"), 1);
	json_object_put(j);
	ob_reset(&f->ob);
	final(f, 0);
	txt = ob_cstr(&f->ob);
	assert_non_null(strstr(txt, "--- transitions by state (new: 3 into ESTABLISHED, closes: 1)\n"));
	assert_non_null(strstr(txt, "\nSYN_SENT -> ESTABLISHED            3\n"));
	assert_non_null(strstr(txt, "\n40/cli                             6\n"));
	assert_non_null(strstr(txt, "\n(owner unknown)                    1\n"));
}

static void test_empty_and_lost(void **state)
{
	struct fx *f = *state;
	json_object *j;

	final(f, 1);
	j = parse_one(&f->ob);
	assert_int_equal(json_object_array_length(jget(j, "transitions")), 0);
	assert_int_equal(json_object_array_length(jget(j, "by_process")), 0);
	assert_false(json_object_object_get_ex(j, "lost", NULL));
	json_object_put(j);
	stats_lost(f->s, 12);
	ob_reset(&f->ob);
	report(f, 1, 1.0);
	j = parse_one(&f->ob);
	assert_int_equal(jint(j, "lost"), 12);
	assert_int_equal(json_object_array_length(jget(j, "top")), 0);
	json_object_put(j);
	ob_reset(&f->ob);
	report(f, 0, 1.0);
	assert_non_null(strstr(ob_cstr(&f->ob), "| top: - | lost 12 events: counts approximate\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_snapshot_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_active_close_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_sockets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_burst_1000, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_vs_reference, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_top_five, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_comm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_final, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_and_lost, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
