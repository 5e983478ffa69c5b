// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * --metrics: the counters fed records, their exposition, label escaping,
 * the per-owner bound and [ADDR:]PORT. Expected values are worked out by
 * hand from the records fed, and the samples are read back by a small
 * parser of the exposition format written here, not by the module.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics.h"

struct fx {
	struct metrics *m;
	struct outbuf ob;
	long long now;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || metrics_new(&f->m, 0) || ob_init(&f->ob, 0))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	metrics_free(&f->m);
	assert_null(f->m);
	metrics_free(&f->m);
	ob_free(&f->ob);
	free(f);
	return 0;
}

static void ev(struct fx *f, unsigned long long id, unsigned old, unsigned st, unsigned pid,
	       const char *comm, unsigned long long duration_ns)
{
	struct tt_record r = { .type = TT_REC_EVENT };

	r.ev.kind = TT_EV_STATE;
	r.ev.sock_id = id;
	r.ev.old_state = old;
	r.ev.new_state = st;
	if (comm) {
		r.ev.flags |= TT_F_OWNER;
		r.ev.pid = pid;
		memcpy(r.ev.comm, comm, strnlen(comm, TT_COMM_LEN));
	}
	if (st == TT_CLOSE || st == TT_TIME_WAIT) {
		r.ev.flags |= TT_F_FINAL;
		r.ev.duration_ns = duration_ns;
	}
	metrics_record(f->m, &r);
}

static void scrape(struct fx *f)
{
	f->now += METRICS_PUBLISH_NS;
	metrics_publish(f->m, f->now, 0);
	ob_reset(&f->ob);
	assert_int_equal(metrics_render(f->m, &f->ob), 0);
}

/* The value of the sample whose name and labels are exactly series
 * ("name" or "name{a=\"b\"}"); -1 when there is none. */
static double value(struct fx *f, const char *series)
{
	const char *text = ob_cstr(&f->ob), *p = text;
	size_t n = strlen(series);

	while ((p = strstr(p, series))) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	return -1;
}

static void client_connection(struct fx *f, unsigned long long id, unsigned long long dur)
{
	ev(f, id, TT_CLOSE, TT_SYN_SENT, 10, "curl", 0);
	ev(f, id, TT_SYN_SENT, TT_ESTABLISHED, 10, "curl", 0);
	ev(f, id, TT_ESTABLISHED, TT_FIN_WAIT1, 10, "curl", 0);
	ev(f, id, TT_FIN_WAIT1, TT_FIN_WAIT2, 10, "curl", 0);
	ev(f, id, TT_FIN_WAIT2, TT_TIME_WAIT, 10, "curl", dur);
}

static void server_connection(struct fx *f, unsigned long long id, unsigned long long dur)
{
	ev(f, id, TT_CLOSE, TT_NEW_SYN_RECV, 20, "nginx", 0);
	ev(f, id, TT_NEW_SYN_RECV, TT_ESTABLISHED, 20, "nginx", 0);
	ev(f, id, TT_ESTABLISHED, TT_CLOSE_WAIT, 20, "nginx", 0);
	ev(f, id, TT_CLOSE_WAIT, TT_LAST_ACK, 20, "nginx", 0);
	ev(f, id, TT_LAST_ACK, TT_CLOSE, 20, "nginx", dur);
}

static void test_connections(void **state)
{
	struct fx *f = *state;

	client_connection(f, 1, 500000);          /* 0.5 ms */
	server_connection(f, 2, 2500000000ULL);   /* 2.5 s */
	/* refused: no duration observed */
	ev(f, 3, TT_CLOSE, TT_SYN_SENT, 10, "curl", 0);
	ev(f, 3, TT_SYN_SENT, TT_CLOSE, 10, "curl", 7000);
	/* a connection from before tracing: no start known, not observed */
	ev(f, 4, TT_ESTABLISHED, TT_CLOSE, 0, NULL, 0);
	/* the client's TIME_WAIT ends: not a second observation */
	ev(f, 1, TT_TIME_WAIT, TT_CLOSE, 10, "curl", 60000000000ULL);
	scrape(f);
	assert_true(value(f, "tcptrail_connections_opened_total{side=\"active\"}") == 1);
	assert_true(value(f, "tcptrail_connections_opened_total{side=\"passive\"}") == 1);
	assert_true(value(f, "tcptrail_connections_refused_total") == 1);
	assert_true(value(f, "tcptrail_transitions_total{from=\"SYN_RECV\",to=\"ESTABLISHED\"}") == 1);
	assert_true(value(f, "tcptrail_transitions_total{from=\"CLOSE\",to=\"SYN_RECV\"}") == 1);
	assert_true(value(f, "tcptrail_transitions_total{from=\"CLOSE\",to=\"SYN_SENT\"}") == 2);
	assert_true(value(f, "tcptrail_transitions_total{from=\"TIME_WAIT\",to=\"CLOSE\"}") == 1);
	/* never seen: no series */
	assert_true(value(f, "tcptrail_transitions_total{from=\"LISTEN\",to=\"CLOSE\"}") == -1);
	assert_true(value(f, "tcptrail_connection_duration_seconds_count") == 2);
	assert_non_null(strstr(ob_cstr(&f->ob),
			       "\ntcptrail_connection_duration_seconds_sum 2.500500000\n"));
	/* cumulative buckets */
	assert_true(value(f, "tcptrail_connection_duration_seconds_bucket{le=\"0.001\"}") == 1);
	assert_true(value(f, "tcptrail_connection_duration_seconds_bucket{le=\"1\"}") == 1);
	assert_true(value(f, "tcptrail_connection_duration_seconds_bucket{le=\"10\"}") == 2);
	assert_true(value(f, "tcptrail_connection_duration_seconds_bucket{le=\"+Inf\"}") == 2);
	assert_true(value(f, "tcptrail_events_total") == 14);
	/* every socket has ended */
	assert_true(value(f, "tcptrail_sockets{state=\"TIME_WAIT\"}") == 0);
	assert_true(value(f, "tcptrail_sockets{state=\"ESTABLISHED\"}") == 0);
}

static void test_sockets_from_snapshot_and_events(void **state)
{
	struct fx *f = *state;
	struct tt_record r = { .type = TT_REC_SNAPSHOT };

	r.snap.row.state = TT_LISTEN;
	r.snap.sock_id = 100;
	metrics_record(f->m, &r);
	r.snap.row.state = TT_ESTABLISHED;
	r.snap.sock_id = 101;
	metrics_record(f->m, &r);
	ev(f, 5, TT_CLOSE, TT_SYN_SENT, 1, "a", 0);
	ev(f, 5, TT_SYN_SENT, TT_ESTABLISHED, 1, "a", 0);
	ev(f, 101, TT_ESTABLISHED, TT_FIN_WAIT1, 1, "a", 0);
	scrape(f);
	assert_true(value(f, "tcptrail_sockets{state=\"LISTEN\"}") == 1);
	assert_true(value(f, "tcptrail_sockets{state=\"ESTABLISHED\"}") == 1);
	assert_true(value(f, "tcptrail_sockets{state=\"FIN_WAIT1\"}") == 1);
	assert_true(value(f, "tcptrail_sockets{state=\"SYN_SENT\"}") == 0);
	/* snapshot rows are not events */
	assert_true(value(f, "tcptrail_events_total") == 3);
}

static void test_lost_and_skipped(void **state)
{
	struct fx *f = *state;
	struct tt_record r = { .type = TT_REC_LOST };

	r.lost = (struct tt_lost){ .from_seq = 0, .to_seq = 6, .count = 7, .reason = "ring_full" };
	metrics_record(f->m, &r);
	r.lost = (struct tt_lost){ .from_seq = 1, .to_seq = 0, .count = 2, .reason = "recursion" };
	metrics_record(f->m, &r);
	r.type = TT_REC_SKIPPED;
	r.lost = (struct tt_lost){ .from_seq = 7, .to_seq = 9, .count = 3, .reason = "snapshot" };
	metrics_record(f->m, &r);
	metrics_write_lost(f->m, 5);
	scrape(f);
	assert_true(value(f, "tcptrail_events_lost_total{reason=\"ring_full\"}") == 7);
	assert_true(value(f, "tcptrail_events_lost_total{reason=\"recursion\"}") == 2);
	assert_true(value(f, "tcptrail_events_lost_total{reason=\"write\"}") == 5);
	assert_true(value(f, "tcptrail_events_total") == 3);
	/* a reopened output counts from 0 again: the counter does not go back */
	metrics_write_lost(f->m, 1);
	scrape(f);
	assert_true(value(f, "tcptrail_events_lost_total{reason=\"write\"}") == 5);
}

/* The reader publishes at most every METRICS_PUBLISH_NS; scrapes in
 * between see the last publication, whole. */
static void test_publication(void **state)
{
	struct fx *f = *state;

	scrape(f);
	assert_true(value(f, "tcptrail_events_total") == 0);
	client_connection(f, 1, 1000);
	metrics_publish(f->m, f->now + METRICS_PUBLISH_NS / 2, 0);
	ob_reset(&f->ob);
	assert_int_equal(metrics_render(f->m, &f->ob), 0);
	assert_true(value(f, "tcptrail_events_total") == 0);
	metrics_publish(f->m, f->now + 1, 1);
	ob_reset(&f->ob);
	assert_int_equal(metrics_render(f->m, &f->ob), 0);
	assert_true(value(f, "tcptrail_events_total") == 5);
	assert_true(value(f, "tcptrail_connections_opened_total{side=\"active\"}") == 1);
}

static void test_build_info(void **state)
{
	struct fx *f = *state;
	struct tt_record r = { .type = TT_REC_META };
	char want[128];

	r.meta.kernel = "6.1.0-\"x\"\n";
	r.meta.ring_size = 1 << 20;
	metrics_record(f->m, &r);
	scrape(f);
	snprintf(want, sizeof(want), "tcptrail_build_info{version=\"%s\",kernel=\"6.1.0-\\\"x\\\"\\\\x0a\"} 1\n",
		 TT_VERSION);
	assert_non_null(strstr(ob_cstr(&f->ob), want));
	assert_true(value(f, "tcptrail_ring_buffer_bytes") == 1 << 20);
}

static void label(const char *in, size_t len, const char *want)
{
	struct outbuf ob;

	assert_int_equal(ob_init(&ob, 0), 0);
	metrics_label_value(&ob, in, len);
	assert_string_equal(ob_cstr(&ob), want);
	ob_free(&ob);
}

static void test_label_escaping(void **state)
{
	(void)state;
	label("nginx", 5, "nginx");
	label("a\"b", 3, "a\\\"b");
	/* the text-safe form first (backslash -> \x5c), then the format's own escapes */
	label("a\\b", 3, "a\\\\x5cb");
	label("a\nb", 3, "a\\\\x0ab");
	label("\xff\x1b[2J", 5, "\\\\xff\\\\x1b[2J");
	label("caf\xc3\xa9", 5, "caf\xc3\xa9");
	label("} 1\n# x", 7, "} 1\\\\x0a# x");
}

/* Many comms: only the top METRICS_TOP_OWNERS, most first; pids of one
 * comm summed. */
static void test_owners_bounded(void **state)
{
	struct fx *f = *state;
	unsigned long long id = 1000;
	char comm[TT_COMM_LEN], series[128];

	for (unsigned c = 0; c < 30; c++) {
		snprintf(comm, sizeof(comm), "p%02u", c);
		/* comm pNN owns NN+1 established sockets, split over two pids */
		for (unsigned k = 0; k <= c; k++) {
			ev(f, id, TT_CLOSE, TT_SYN_SENT, 100 + 2 * c + (k & 1), comm, 0);
			ev(f, id, TT_SYN_SENT, TT_ESTABLISHED, 100 + 2 * c + (k & 1), comm, 0);
			id++;
		}
	}
	ev(f, 1, TT_CLOSE, TT_SYN_SENT, 7, "ev\"il\n", 0);
	ev(f, 1, TT_SYN_SENT, TT_ESTABLISHED, 7, "ev\"il\n", 0);
	scrape(f);
	for (unsigned c = 0; c < 30; c++) {
		snprintf(series, sizeof(series), "tcptrail_owner_established_sockets{comm=\"p%02u\"}", c);
		assert_true(value(f, series) == (c >= 20 ? (double)c + 1 : -1));
	}
	assert_true(value(f, "tcptrail_owner_established_sockets{comm=\"ev\\\"il\\\\x0a\"}") == -1);
	assert_non_null(strstr(ob_cstr(&f->ob), "{comm=\"p29\"} 30\ntcptrail_owner_established_sockets{comm=\"p28\"} 29\n"));
}

/* The transitions the kernel could not send (kernel states, unnormalized)
 * move the socket gauge as if seen; the transition counters stay what was
 * seen, as the JSON stream shows. */
static void test_kernel_lost_moves_gauge(void **state)
{
	struct fx *f = *state;
	unsigned long long lost[TT_STATE_MAX][TT_STATE_MAX] = { 0 };
	struct tt_record r = { .type = TT_REC_SNAPSHOT };

	r.snap.row.state = TT_ESTABLISHED;
	r.snap.sock_id = 101;
	metrics_record(f->m, &r);
	lost[TT_ESTABLISHED][TT_FIN_WAIT1] = 1;
	lost[TT_CLOSE][TT_NEW_SYN_RECV] = 1;   /* a request socket, still half-open */
	metrics_kernel_lost(f->m, lost);
	ev(f, 101, TT_FIN_WAIT1, TT_FIN_WAIT2, 1, "a", 0);
	scrape(f);
	assert_true(value(f, "tcptrail_sockets{state=\"ESTABLISHED\"}") == 0);
	assert_true(value(f, "tcptrail_sockets{state=\"FIN_WAIT1\"}") == 0);
	assert_true(value(f, "tcptrail_sockets{state=\"FIN_WAIT2\"}") == 1);
	assert_true(value(f, "tcptrail_sockets{state=\"SYN_RECV\"}") == 1);
	assert_true(value(f, "tcptrail_transitions_total{from=\"ESTABLISHED\",to=\"FIN_WAIT1\"}") == -1);
	assert_true(value(f, "tcptrail_transitions_total{from=\"FIN_WAIT1\",to=\"FIN_WAIT2\"}") == 1);
}

/* An event its gap already counted (seqtrack's late one) moves the socket
 * gauge, and no counter: the JSON stream does not show it. */
static void test_late_moves_gauge(void **state)
{
	struct fx *f = *state;
	struct tt_event e = { .kind = TT_EV_STATE, .sock_id = 9, .old_state = TT_FIN_WAIT1,
			      .new_state = TT_FIN_WAIT2 };

	ev(f, 9, TT_ESTABLISHED, TT_FIN_WAIT1, 1, "a", 0);
	metrics_late(f->m, &e);
	scrape(f);
	assert_true(value(f, "tcptrail_sockets{state=\"FIN_WAIT1\"}") == 0);
	assert_true(value(f, "tcptrail_sockets{state=\"FIN_WAIT2\"}") == 1);
	assert_true(value(f, "tcptrail_transitions_total{from=\"FIN_WAIT1\",to=\"FIN_WAIT2\"}") == -1);
	assert_true(value(f, "tcptrail_events_total") == 1);
}

/* --no-snapshot: a socket first seen mid-life is placed where it goes (the
 * -s model), not taken from a count it was never in. */
static void test_partial_run(void **state)
{
	struct fx *f = *state;

	metrics_free(&f->m);
	assert_int_equal(metrics_new(&f->m, 1), 0);
	ev(f, 7, TT_ESTABLISHED, TT_FIN_WAIT1, 1, "a", 0);
	ev(f, 8, TT_CLOSE, TT_SYN_SENT, 1, "a", 0);
	ev(f, 8, TT_SYN_SENT, TT_ESTABLISHED, 1, "a", 0);
	scrape(f);
	assert_true(value(f, "tcptrail_sockets{state=\"FIN_WAIT1\"}") == 1);
	assert_true(value(f, "tcptrail_sockets{state=\"ESTABLISHED\"}") == 1);
	assert_true(value(f, "tcptrail_owner_established_sockets{comm=\"a\"}") == 1);
}

/* Containers and units: summed over their cgroups, the top N, escaped. */
static void test_containers(void **state)
{
	struct fx *f = *state;
	struct tt_record r = { .type = TT_REC_EVENT };
	char name[64], series[160];
	unsigned long long id = 1;

	r.ev.kind = TT_EV_STATE;
	r.ev.old_state = TT_SYN_SENT;
	r.ev.new_state = TT_ESTABLISHED;
	r.cg.present = 1;
	for (unsigned c = 0; c < 14; c++) {
		snprintf(name, sizeof(name), "c%02u", c);
		r.cg.container = name;
		/* container cNN has NN+1 sockets, over two cgroups */
		for (unsigned k = 0; k <= c; k++) {
			r.cg.id = 1000 + 2 * c + (k & 1);
			r.ev.sock_id = id++;
			metrics_record(f->m, &r);
		}
	}
	r.cg.container = "x\"} 99\n";
	r.cg.id = 5;
	for (int k = 0; k < 20; k++) {
		r.ev.sock_id = id++;
		metrics_record(f->m, &r);
	}
	scrape(f);
	for (unsigned c = 0; c < 14; c++) {
		snprintf(series, sizeof(series),
			 "tcptrail_container_established_sockets{container=\"c%02u\"}", c);
		assert_true(value(f, series) == (c >= 5 ? (double)c + 1 : -1));
	}
	assert_true(value(f, "tcptrail_container_established_sockets{container=\"x\\\"} 99\\\\x0a\"}") == 20);
}

static void listen_ok(const char *s, int family, const char *addr, unsigned port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[64];

	assert_int_equal(metrics_parse_listen(s, &ss, &len), 0);
	assert_int_equal(ss.ss_family, family);
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		assert_int_equal(len, sizeof(*in));
		assert_int_equal(ntohs(in->sin_port), port);
		inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		assert_int_equal(len, sizeof(*in6));
		assert_int_equal(ntohs(in6->sin6_port), port);
		inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
	}
	assert_string_equal(buf, addr);
}

static void test_parse_listen(void **state)
{
	static const char *const bad[] = {
		"", "0", "65536", "-1", "9100x", " 9100", ":9100", "localhost:9100", "1.2.3:9100",
		"::1:9100", "[::1]", "[::1]:", "[1.2.3.4]:9100", "1.2.3.4:", "1.2.3.4:0",
		"[::1]:99999", "99999999999999999999",
	};
	struct sockaddr_storage ss;
	socklen_t len;

	(void)state;
	listen_ok("9100", AF_INET, "127.0.0.1", 9100);
	listen_ok("0.0.0.0:1", AF_INET, "0.0.0.0", 1);
	listen_ok("10.1.2.3:65535", AF_INET, "10.1.2.3", 65535);
	listen_ok("[::1]:9100", AF_INET6, "::1", 9100);
	listen_ok("[::]:20001", AF_INET6, "::", 20001);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!metrics_parse_listen(bad[i], &ss, &len))
			fail_msg("'%s' was accepted", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_connections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sockets_from_snapshot_and_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_and_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_publication, setup, teardown),
		cmocka_unit_test_setup_teardown(test_build_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owners_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_lost_moves_gauge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_moves_gauge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_containers, setup, teardown),
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_parse_listen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
