// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The capture parser: every record type written by format_json.c reads
 * back to the struct it came from, and every kind of damage is refused
 * with a reason naming the field.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "capture_read.h"
#include "format.h"

#define BOOT0 5000000000LL                    /* 5 s after boot */
#define REAL0 1700000000000000000LL           /* 2023-11-14T22:13:20Z */

/* ESC, an OSC, a newline, a stray byte, a backslash that looks like an
 * escape, and a C1 CSI: everything esc_text has to encode */
static const char hostile[] = "\x1b]0;\n\xff\\x41\xc2\x9b";

struct ctx {
	struct cr_parser *p;
	struct cr_record rec;
	struct outbuf ob;
	struct tt_clock ck;
	struct fmt_opts fo;
	char err[CR_ERR_SIZE];
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c || cr_parser_new(&c->p) || ob_init(&c->ob, 4096))
		return -1;
	clock_set_anchor(&c->ck, BOOT0, REAL0);
	c->fo.clock = &c->ck;
	c->fo.addr_width = 23;
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	cr_parser_free(&c->p);
	ob_free(&c->ob);
	free(c);
	return 0;
}

/* The line just formatted, without its '\n' */
static const char *line(struct ctx *c)
{
	const char *s = ob_cstr(&c->ob);

	assert_true(c->ob.len > 0);
	assert_int_equal(s[c->ob.len - 1], '\n');
	c->ob.buf[--c->ob.len] = '\0';
	return s;
}

static int parse(struct ctx *c, const char *s)
{
	return cr_parse_line(c->p, s, strlen(s), &c->rec, c->err, sizeof(c->err));
}

static struct tt_event mk_event(void)
{
	struct tt_event e;

	memset(&e, 0, sizeof(e));
	e.ts_ns = BOOT0 + 1500000000ULL;
	e.seq = 42;
	e.sock_id = 0xdeadbeef12345678ULL;
	e.state_ns = 91234000;          /* microseconds: what the capture keeps */
	e.duration_ns = 1001000000;
	e.rx_bytes = 6;
	e.tx_bytes = 18446744073709551615ULL;
	e.kind = TT_EV_STATE;
	e.flags = TT_F_OWNER | TT_F_STATE_NS | TT_F_FINAL;
	e.old_state = TT_LAST_ACK;
	e.new_state = TT_CLOSE;
	e.family = AF_INET;
	e.lport = 1025;
	e.rport = 65535;
	e.netns = 4026531840u;
	e.pid = 7661;
	e.ctx_pid = 12;
	e.recv_q = 1;
	e.send_q = 4294967295u;
	inet_pton(AF_INET, "127.0.0.1", e.laddr);
	inet_pton(AF_INET, "10.1.2.3", e.raddr);
	memcpy(e.comm, hostile, strlen(hostile));
	memcpy(e.ctx_comm, "ksoftirqd/0", 11);
	return e;
}

/* The event line, with one substring replaced (which must be there) */
static char *event_with(struct ctx *c, const char *from, const char *to)
{
	struct tt_event e = mk_event();
	const char *s, *at;
	char *out;

	ob_reset(&c->ob);
	fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_EVENT, .ev = e }, &c->fo);
	s = line(c);
	at = strstr(s, from);
	assert_non_null(at);
	out = malloc(strlen(s) + strlen(to) + 1);
	assert_non_null(out);
	sprintf(out, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
	return out;
}

static void test_event_round_trip(void **state)
{
	struct ctx *c = *state;
	struct tt_event e = mk_event();

	ob_reset(&c->ob);
	fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_EVENT, .ev = e }, &c->fo);
	assert_int_equal(parse(c, line(c)), 0);
	assert_int_equal(c->rec.r.type, TT_REC_EVENT);
	assert_int_equal(c->rec.boot_ns, BOOT0 + 1500000000LL);
	assert_int_equal(c->rec.time_real_ns, REAL0 + 1500000000LL);
	/* every field, the hostile comm restored to its raw bytes */
	assert_memory_equal(&c->rec.r.ev, &e, sizeof(e));
}

static void test_event_variants(void **state)
{
	struct ctx *c = *state;
	struct tt_event e = mk_event();

	/* a request socket, no owner, no timings, IPv6 */
	e.flags = TT_F_REQ;
	e.old_state = TT_CLOSE;
	e.new_state = TT_SYN_RECV;
	e.state_ns = e.duration_ns = e.rx_bytes = e.tx_bytes = 0;
	e.pid = 0;
	memset(e.comm, 0, sizeof(e.comm));
	memset(e.ctx_comm, 0, sizeof(e.ctx_comm));
	e.sock_id = 0;
	e.family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:127.0.0.1", e.laddr);
	inet_pton(AF_INET6, "2001:db8::1", e.raddr);
	ob_reset(&c->ob);
	fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_EVENT, .ev = e }, &c->fo);
	assert_int_equal(parse(c, line(c)), 0);
	assert_memory_equal(&c->rec.r.ev, &e, sizeof(e));

	/* queue pressure: no old_state, a size; a final record without duration */
	e = mk_event();
	e.kind = TT_EV_RCVQ_FULL;
	e.old_state = 0;
	e.extra = 65536;
	e.duration_ns = 0;
	e.flags = TT_F_OWNER | TT_F_TW | TT_F_FINAL;
	e.state_ns = 0;
	ob_reset(&c->ob);
	fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_EVENT, .ev = e }, &c->fo);
	assert_int_equal(parse(c, line(c)), 0);
	assert_memory_equal(&c->rec.r.ev, &e, sizeof(e));
}

static void test_snapshot(void **state)
{
	struct ctx *c = *state;
	struct tt_snaprec r;

	memset(&r, 0, sizeof(r));
	r.row.family = AF_INET6;
	inet_pton(AF_INET6, "::", r.row.laddr);
	inet_pton(AF_INET6, "::", r.row.raddr);
	r.row.lport = 22;
	r.row.state = TT_LISTEN;
	r.row.rxq = 0;
	r.row.txq = 128;
	r.row.inode = 123456789012ULL;
	r.row.uid = 1000;
	r.sock_id = 0x1234;
	r.netns = 4026531840u;
	r.owner_known = 1;
	r.pid = 4242;
	r.comm = hostile;
	r.boot_ns = BOOT0;
	ob_reset(&c->ob);
	fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_SNAPSHOT, .snap = r }, &c->fo);
	assert_int_equal(parse(c, line(c)), 0);
	assert_int_equal(c->rec.r.type, TT_REC_SNAPSHOT);
	assert_memory_equal(&c->rec.r.snap.row, &r.row, sizeof(r.row));
	assert_int_equal(c->rec.r.snap.sock_id, 0x1234);
	assert_int_equal(c->rec.r.snap.netns, 4026531840u);
	assert_int_equal(c->rec.r.snap.owner_known, 1);
	assert_int_equal(c->rec.r.snap.pid, 4242);
	assert_string_equal(c->rec.r.snap.comm, hostile);
	assert_int_equal(c->rec.r.snap.boot_ns, BOOT0);
	assert_int_equal(c->rec.r.snap.flags, 0);
	/* netstat's owner column is rebuilt as PID/comm, cut to 19 bytes */
	assert_string_equal(c->rec.r.snap.owner, "4242/\x1b]0;\n\xff\\x41\xc2\x9b");

	/* a timewait row has no owner */
	r.owner_known = 0;
	r.comm = NULL;
	r.flags = TT_F_TW;
	r.row.state = TT_TIME_WAIT;
	ob_reset(&c->ob);
	fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_SNAPSHOT, .snap = r }, &c->fo);
	assert_int_equal(parse(c, line(c)), 0);
	assert_int_equal(c->rec.r.snap.owner_known, 0);
	assert_null(c->rec.r.snap.owner);
	assert_null(c->rec.r.snap.comm);
	assert_int_equal(c->rec.r.snap.flags, TT_F_TW);
	assert_int_equal(c->rec.r.snap.row.state, TT_TIME_WAIT);
}

static void test_meta_clock_lost_summary(void **state)
{
	struct ctx *c = *state;
	struct tt_meta m = {
		.version = "0.1.0", .hostname = "h\x1bst", .kernel = "6.18", .boot_id = NULL,
		.cmdline = "tcptrail -o 'a\\b'", .attach = "tp_btf", .ring_size = 8 << 20,
		.netns = 0, .timers = 1, .ctx_owner = 0, .boot_ns = BOOT0, .real_ns = REAL0,
	};
	struct tt_lost l = { .from_seq = 7, .to_seq = 9, .count = 3, .reason = "ring_full",
			     .boot_ns = BOOT0 + 1 };
	struct tt_summary s = { .seen = 1, .written = 2, .lost = 3, .filtered = 4, .lost_write = 5,
				.lost_ring = 6, .lost_recursion = 7, .snapshot = 8, .boot_ns = BOOT0 + 2 };

	ob_reset(&c->ob);
	fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_META, .meta = m }, &c->fo);
	assert_int_equal(parse(c, line(c)), 0);
	assert_int_equal(c->rec.r.type, TT_REC_META);
	assert_string_equal(c->rec.r.meta.version, "0.1.0");
	assert_string_equal(c->rec.r.meta.hostname, "h\x1bst");
	assert_null(c->rec.r.meta.boot_id);
	assert_string_equal(c->rec.r.meta.cmdline, "tcptrail -o 'a\\b'");
	assert_int_equal(c->rec.r.meta.ring_size, 8 << 20);
	assert_int_equal(c->rec.r.meta.netns, 0);    /* "all" */
	assert_int_equal(c->rec.r.meta.timers, 1);
	assert_int_equal(c->rec.r.meta.ctx_owner, 0);
	assert_int_equal(c->rec.r.meta.boot_ns, BOOT0);
	assert_int_equal(c->rec.r.meta.real_ns, REAL0);

	clock_set_anchor(&c->ck, BOOT0 + 60000000000LL, REAL0 + 3600000000000LL);
	ob_reset(&c->ob);
	fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_CLOCK,
					     .clock = { BOOT0 + 60000000000LL, REAL0 + 3600000000000LL } },
		 &c->fo);
	assert_int_equal(parse(c, line(c)), 0);
	assert_int_equal(c->rec.r.type, TT_REC_CLOCK);
	assert_int_equal(c->rec.boot_ns, BOOT0 + 60000000000LL);
	assert_int_equal(c->rec.r.clock.real_ns, REAL0 + 3600000000000LL);
	assert_int_equal(c->rec.time_real_ns, REAL0 + 3600000000000LL);

	ob_reset(&c->ob);
	fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_LOST, .lost = l }, &c->fo);
	assert_int_equal(parse(c, line(c)), 0);
	assert_int_equal(c->rec.r.type, TT_REC_LOST);
	assert_int_equal(c->rec.r.lost.from_seq, 7);
	assert_int_equal(c->rec.r.lost.to_seq, 9);
	assert_int_equal(c->rec.r.lost.count, 3);
	assert_string_equal(c->rec.r.lost.reason, "ring_full");
	/* no range: from > to, as the writer encodes it */
	l.from_seq = 1;
	l.to_seq = 0;
	l.reason = "recursion";
	ob_reset(&c->ob);
	fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_LOST, .lost = l }, &c->fo);
	assert_int_equal(parse(c, line(c)), 0);
	assert_true(c->rec.r.lost.from_seq > c->rec.r.lost.to_seq);
	assert_string_equal(c->rec.r.lost.reason, "recursion");

	ob_reset(&c->ob);
	fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_SUMMARY, .summary = s }, &c->fo);
	assert_int_equal(parse(c, line(c)), 0);
	assert_int_equal(c->rec.r.type, TT_REC_SUMMARY);
	assert_int_equal(c->rec.r.summary.seen, 1);
	assert_int_equal(c->rec.r.summary.filtered, 4);
	assert_int_equal(c->rec.r.summary.lost_recursion, 7);
	assert_int_equal(c->rec.r.summary.lost_write, 5);
	assert_int_equal(c->rec.r.summary.snapshot, 8);
}

/* Each broken line must be refused, with a reason containing the hint. */
static void refuse(struct ctx *c, const char *s, size_t len, const char *hint)
{
	int err = cr_parse_line(c->p, s, len, &c->rec, c->err, sizeof(c->err));

	if (err != -EINVAL || !strstr(c->err, hint))
		fail_msg("accepted or wrong reason for [%.*s]: %d \"%s\" (want \"%s\")",
			 (int)len, s, err, c->err, hint);
}

/* a literal may hold a NUL byte: its length is sizeof - 1 */
#define REFUSE_LIT(c, lit, hint) refuse(c, lit, sizeof(lit) - 1, hint)

static void refuse_sub(struct ctx *c, const char *from, const char *to, const char *hint)
{
	char *s = event_with(c, from, to);

	refuse(c, s, strlen(s), hint);
	free(s);
}

static void test_invalid_json(void **state)
{
	struct ctx *c = *state;
	char *s = event_with(c, "\"seq\":42", "\"seq\":42");
	size_t n = strlen(s);

	refuse(c, s, n - 1, "incomplete JSON");          /* the closing brace cut off */
	refuse(c, s, n / 2, "incomplete JSON");          /* cut in the middle */
	REFUSE_LIT(c, "", "empty line");
	REFUSE_LIT(c, "{\"type\":\"clock\",}", "invalid JSON");
	REFUSE_LIT(c, "{\"type\":'clock'}", "invalid JSON");
	REFUSE_LIT(c, "[1,2]", "not a JSON object");
	REFUSE_LIT(c, "42", "incomplete JSON");
	REFUSE_LIT(c, "{\"a\":1}{\"a\":1}", "JSON");
	REFUSE_LIT(c, "{\"a\":\"\xff\"}", "invalid JSON");   /* not UTF-8 */
	REFUSE_LIT(c, "{\"type\":\0\"clock\"}", "NUL byte");
	REFUSE_LIT(c, "{\"time\":1}", "field \"type\" is missing");
	free(s);
}

static void test_wrong_types(void **state)
{
	struct ctx *c = *state;

	refuse_sub(c, "\"lport\":1025", "\"lport\":\"1025\"", "\"lport\" is not an integer");
	refuse_sub(c, "\"lport\":1025", "\"lport\":1025.0", "\"lport\" is not an integer");
	refuse_sub(c, "\"lport\":1025", "\"lport\":65536", "\"lport\" is out of range");
	refuse_sub(c, "\"rport\":65535", "\"rport\":-1", "\"rport\" is negative");
	refuse_sub(c, "\"seq\":42", "\"seq\":-42", "\"seq\" is negative");
	refuse_sub(c, "\"seq\":42", "\"seq\":null", "\"seq\" is not an integer");
	refuse_sub(c, "\"seq\":42", "\"seq\":true", "\"seq\" is not an integer");
	refuse_sub(c, "\"seq\":42,", "", "\"seq\" is missing");
	refuse_sub(c, "\"boot_ns\":6500000000", "\"boot_ns\":-1", "\"boot_ns\" is negative");
	refuse_sub(c, "\"boot_ns\":6500000000", "\"boot_ns\":4611686018427387904",
		   "\"boot_ns\" is out of range");
	refuse_sub(c, "\"pid\":7661", "\"pid\":\"7661\"", "\"pid\" is not an integer");
	refuse_sub(c, "\"pid\":7661", "\"pid\":4294967296", "\"pid\" is out of range");
	refuse_sub(c, "\"comm\":\"", "\"comm\":17,\"x\":\"", "\"comm\" is not a string");
	refuse_sub(c, "\"comm\":\"", "\"comm\":\"0123456789abcdef", "\"comm\" is too long");
	refuse_sub(c, "\"comm\":\"", "\"comm\":\"\\u0000", "\"comm\" contains a NUL");
	refuse_sub(c, "\"comm\":\"", "\"comm\":\"\\\\x00", "\"comm\" decodes to a NUL");
	refuse_sub(c, "\"state\":\"CLOSE\"", "\"state\":\"CLOSED\"", "\"state\" is not a known TCP state");
	refuse_sub(c, "\"old_state\":\"LAST_ACK\"", "\"old_state\":\"UNKNOWN\"",
		   "\"old_state\" is not a known TCP state");
	refuse_sub(c, "\"state\":\"CLOSE\"", "\"state\":7", "\"state\" is not a string");
	refuse_sub(c, "\"proto\":\"tcp\"", "\"proto\":\"udp\"", "\"proto\" is neither");
	refuse_sub(c, "\"laddr\":\"127.0.0.1\"", "\"laddr\":\"::1\"", "\"laddr\" is not an IPv4");
	refuse_sub(c, "\"raddr\":\"10.1.2.3\"", "\"raddr\":\"10.1.2.300\"", "\"raddr\" is not an IPv4");
	refuse_sub(c, "\"sock\":\"deadbeef12345678\"", "\"sock\":\"xyz\"", "\"sock\" is not a lower-case hex");
	refuse_sub(c, "\"sock\":\"deadbeef12345678\"", "\"sock\":\"deadbeef123456789\"", "\"sock\" is not a hex id");
	refuse_sub(c, "\"sock\":\"deadbeef12345678\"", "\"sock\":3", "\"sock\" is not a string");
	refuse_sub(c, "\"state_ms\":91.234", "\"state_ms\":\"91.234\"", "\"state_ms\" is not a number");
	refuse_sub(c, "\"state_ms\":91.234", "\"state_ms\":-1.5", "\"state_ms\" is out of range");
	refuse_sub(c, "\"rx_bytes\":6,", "", "\"rx_bytes\" is missing");
	refuse_sub(c, "\"tx_bytes\":18446744073709551615,", "", "\"tx_bytes\" is missing");
	refuse_sub(c, "\"type\":\"transition\"", "\"type\":7", "\"type\" is not a string");
	refuse_sub(c, "\"time\":\"2023-11-14T22:13:21.500000000Z\"",
		   "\"time\":\"2023-11-14 22:13:21\"", "\"time\" is not a time");
	refuse_sub(c, "\"time\":\"2023-11-14T22:13:21.500000000Z\"",
		   "\"time\":\"2023-02-31T22:13:21.500000000Z\"", "\"time\" is not a time");
	refuse_sub(c, "\"recv_q\":1", "\"recv_q\":1e3", "\"recv_q\" is not an integer");
}

static void test_wrong_types_other_records(void **state)
{
	struct ctx *c = *state;
	const char *t = "\"time\":\"2023-11-14T22:13:20.000000000Z\",\"boot_ns\":5000000000";
	char buf[512];

	snprintf(buf, sizeof(buf), "{\"type\":\"lost\",%s,\"count\":3,\"from_seq\":7,\"reason\":\"ring_full\"}", t);
	refuse(c, buf, strlen(buf), "\"to_seq\" is missing");
	snprintf(buf, sizeof(buf), "{\"type\":\"lost\",%s,\"count\":3,\"from_seq\":9,\"to_seq\":7,\"reason\":\"ring_full\"}", t);
	refuse(c, buf, strlen(buf), "\"from_seq\" is greater");
	snprintf(buf, sizeof(buf), "{\"type\":\"lost\",%s,\"count\":3,\"reason\":\"\\u001b[2J\"}", t);
	refuse(c, buf, strlen(buf), "\"reason\" is not a word");
	snprintf(buf, sizeof(buf), "{\"type\":\"clock\",%s,\"real_ns\":\"1\"}", t);
	refuse(c, buf, strlen(buf), "\"real_ns\" is not an integer");
	snprintf(buf, sizeof(buf), "{\"type\":\"summary\",%s,\"seen\":1}", t);
	refuse(c, buf, strlen(buf), "is missing");
	snprintf(buf, sizeof(buf), "{\"type\":\"snapshot\",%s,\"proto\":\"tcp\",\"laddr\":\"1.2.3.4\","
		 "\"lport\":1,\"raddr\":\"1.2.3.4\",\"rport\":2,\"state\":\"LISTEN\",\"pid\":null,"
		 "\"comm\":null,\"recv_q\":0,\"send_q\":0,\"sock\":null,\"netns\":1,\"uid\":-1,\"inode\":0}", t);
	refuse(c, buf, strlen(buf), "\"uid\" is negative");
	snprintf(buf, sizeof(buf), "{\"type\":\"meta\",%s,\"version\":1}", t);
	refuse(c, buf, strlen(buf), "\"version\" is not a string");
}

/* Unknown types are skipped, not errors: newer captures stay readable */
static void test_unknown_type(void **state)
{
	struct ctx *c = *state;
	const char *s = "{\"type\":\"retransmit\",\"whatever\":[1,2,{\"x\":null}]}";

	assert_int_equal(parse(c, s), 0);
	assert_int_equal(c->rec.r.type, TT_REC_NONE);
	assert_string_equal(c->rec.type_name, "retransmit");
	/* unknown fields of a known type are ignored too */
	{
		char *e = event_with(c, "\"seq\":42", "\"seq\":42,\"future\":{\"a\":[]}");

		assert_int_equal(parse(c, e), 0);
		assert_int_equal(c->rec.r.type, TT_REC_EVENT);
		assert_int_equal(c->rec.r.ev.seq, 42);
		free(e);
	}
}

/*
 * Numbers beyond what the field holds: json-c parses an integer literal
 * beyond 64 bits as the nearest limit without a word, so without a check
 * "seq":1000000000000000000000 replayed as 18446744073709551615. An integer
 * field written with a fraction or an exponent is not an integer either.
 */
static void test_number_ranges(void **state)
{
	struct ctx *c = *state;
	char *s;

	refuse_sub(c, "\"seq\":42", "\"seq\":1e40", "\"seq\" is not an integer");
	refuse_sub(c, "\"seq\":42", "\"seq\":42.0", "\"seq\" is not an integer");
	refuse_sub(c, "\"seq\":42", "\"seq\":4.2E1", "\"seq\" is not an integer");
	refuse_sub(c, "\"seq\":42", "\"seq\":18446744073709551616",
		   "\"seq\" is out of range (more than 64 bits)");
	refuse_sub(c, "\"seq\":42", "\"seq\":1000000000000000000000000000000000000000",
		   "\"seq\" is out of range (more than 64 bits)");
	refuse_sub(c, "\"seq\":42", "\"seq\":-9223372036854775809",
		   "\"seq\" is out of range (more than 64 bits)");
	refuse_sub(c, "\"lport\":1025", "\"lport\":80.5", "\"lport\" is not an integer");
	refuse_sub(c, "\"rport\":65535", "\"rport\":1e2", "\"rport\" is not an integer");
	refuse_sub(c, "\"tx_bytes\":18446744073709551615", "\"tx_bytes\":99999999999999999999",
		   "\"tx_bytes\" is out of range");
	/* an unknown field's number is checked too: it is in a known record */
	refuse_sub(c, "\"seq\":42", "\"seq\":42,\"future\":[1,123456789012345678901]",
		   "\"future\" is out of range");
	/* a key that is not a plain word is not quoted back */
	refuse_sub(c, "\"seq\":42", "\"seq\":42,\"\\u001b\":123456789012345678901",
		   "an integer is out of range");
	/* the limits themselves, and numbers inside strings, are fine */
	s = event_with(c, "\"seq\":42", "\"seq\":18446744073709551615,\"note\":\"99999999999999999999999\"");
	assert_int_equal(parse(c, s), 0);
	assert_true(c->rec.r.ev.seq == 18446744073709551615ULL);
	free(s);
	s = event_with(c, "\"seq\":42", "\"seq\":42,\"x\":-9223372036854775808");
	assert_int_equal(parse(c, s), 0);
	free(s);
}

/* write losses and skipped records, and the summary's full accounting */
static void test_write_loss_skipped_accounting(void **state)
{
	struct ctx *c = *state;
	struct tt_lost l = { .from_seq = 10, .to_seq = 19, .count = 10, .snapshot = 3, .other = 2,
			     .reason = "write", .error = "ENOSPC", .boot_ns = BOOT0 + 1 };
	struct tt_summary s = { .seen = 40, .written = 20, .lost = 10, .lost_write = 10,
				.skipped = 7, .summarized = 3, .snapshot = 5, .snapshot_lost = 3,
				.has_accounting = 1, .timer_misses = 9, .boot_ns = BOOT0 + 2 };
	const char *t = "\"time\":\"2023-11-14T22:13:20.000000000Z\",\"boot_ns\":5000000000";
	char buf[512];

	ob_reset(&c->ob);
	fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_LOST, .lost = l }, &c->fo);
	assert_int_equal(parse(c, line(c)), 0);
	assert_int_equal(c->rec.r.type, TT_REC_LOST);
	assert_string_equal(c->rec.r.lost.reason, "write");
	assert_string_equal(c->rec.r.lost.error, "ENOSPC");
	assert_int_equal(c->rec.r.lost.snapshot, 3);
	assert_int_equal(c->rec.r.lost.other, 2);
	assert_int_equal(c->rec.r.lost.count, 10);

	ob_reset(&c->ob);
	fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_SKIPPED, .lost = l }, &c->fo);
	assert_int_equal(parse(c, line(c)), 0);
	assert_int_equal(c->rec.r.type, TT_REC_SKIPPED);
	assert_int_equal(c->rec.r.lost.from_seq, 10);
	assert_int_equal(c->rec.r.lost.to_seq, 19);
	assert_int_equal(c->rec.r.lost.count, 10);

	ob_reset(&c->ob);
	fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_SUMMARY, .summary = s }, &c->fo);
	assert_int_equal(parse(c, line(c)), 0);
	assert_int_equal(c->rec.r.summary.has_accounting, 1);
	assert_int_equal(c->rec.r.summary.skipped, 7);
	assert_int_equal(c->rec.r.summary.summarized, 3);
	assert_int_equal(c->rec.r.summary.snapshot_lost, 3);
	assert_int_equal(c->rec.r.summary.timer_misses, 9);
	/* a summary of an earlier version: no accounting, read as such */
	s.has_accounting = 0;
	ob_reset(&c->ob);
	fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_SUMMARY, .summary = s }, &c->fo);
	assert_null(strstr(ob_cstr(&c->ob), "skipped"));
	assert_int_equal(parse(c, line(c)), 0);
	assert_int_equal(c->rec.r.summary.has_accounting, 0);

	snprintf(buf, sizeof(buf), "{\"type\":\"skipped\",%s,\"count\":3,\"reason\":\"snapshot\"}", t);
	refuse(c, buf, strlen(buf), "\"from_seq\" is missing");
	snprintf(buf, sizeof(buf), "{\"type\":\"lost\",%s,\"count\":3,\"reason\":\"write\","
		 "\"error\":\"\\u001b\"}", t);
	refuse(c, buf, strlen(buf), "\"error\" is not a word");
	snprintf(buf, sizeof(buf), "{\"type\":\"lost\",%s,\"count\":3,\"reason\":\"write\","
		 "\"snapshot\":-1}", t);
	refuse(c, buf, strlen(buf), "\"snapshot\" is negative");
	snprintf(buf, sizeof(buf), "{\"type\":\"summary\",%s,\"snapshot\":0,\"seen\":0,"
		 "\"written\":0,\"lost\":0,\"lost_ring\":0,\"lost_recursion\":0,\"lost_write\":0,"
		 "\"filtered\":0,\"skipped\":0}", t);
	refuse(c, buf, strlen(buf), "come together");
}

static void test_rfc3339(void **state)
{
	long long ns = 0;

	(void)state;
	assert_int_equal(cr_parse_rfc3339("2023-11-14T22:13:20.000000001Z", 30, &ns), 0);
	assert_int_equal(ns, REAL0 + 1);
	assert_int_equal(cr_parse_rfc3339("1970-01-01T00:00:00.000000000Z", 30, &ns), 0);
	assert_int_equal(ns, 0);
	assert_int_equal(cr_parse_rfc3339("1969-12-31T23:59:59.500000000Z", 30, &ns), 0);
	assert_int_equal(ns, -500000000LL);
	assert_int_equal(cr_parse_rfc3339("2023-11-14T22:13:20.00000000Z", 29, &ns), -EINVAL);
	assert_int_equal(cr_parse_rfc3339("2023-11-14T24:13:20.000000000Z", 30, &ns), -EINVAL);
	assert_int_equal(cr_parse_rfc3339("2023-11-14T22:13:20.000000000+", 30, &ns), -EINVAL);
	assert_int_equal(cr_parse_rfc3339("9999-11-14T22:13:20.000000000Z", 30, &ns), -EINVAL);
}

/* The socket's cgroup: written and read back, hostile bytes included;
 * null values; absent from an older capture (and not added by a replay);
 * partial or wrong fields refused. */
static void test_cgroup_fields(void **state)
{
	struct ctx *c = *state;
	struct tt_event e = mk_event();
	char path[64], *bad;
	const char *s;

	snprintf(path, sizeof(path), "/system.slice/%s.service", hostile);
	e.cgroup_id = 12345;
	ob_reset(&c->ob);
	fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_EVENT, .ev = e,
		 .cg = { .present = 1, .id = 12345, .path = path, .container = "x.service" } },
		 &c->fo);
	s = line(c);
	assert_non_null(strstr(s, "\"cgroup_id\":12345,\"cgroup\":\"/system.slice/\\\\x1b]0;"));
	assert_int_equal(parse(c, s), 0);
	assert_int_equal(c->rec.r.cg.present, 1);
	assert_int_equal(c->rec.r.cg.id, 12345);
	assert_int_equal(c->rec.r.ev.cgroup_id, 12345);
	assert_string_equal(c->rec.r.cg.path, path);
	assert_string_equal(c->rec.r.cg.container, "x.service");
	/* written again, byte for byte */
	{
		char *again = strdup(s);

		assert_non_null(again);
		ob_reset(&c->ob);
		fmt_json(&c->ob, &c->rec.r, &c->fo);
		assert_string_equal(line(c), again);
		free(again);
	}

	/* nulls: an id not known, a path not found, no container */
	ob_reset(&c->ob);
	fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_EVENT, .ev = mk_event(),
		 .cg = { .present = 1 } }, &c->fo);
	s = line(c);
	assert_non_null(strstr(s, "\"cgroup_id\":null,\"cgroup\":null,\"container\":null}"));
	assert_int_equal(parse(c, s), 0);
	assert_int_equal(c->rec.r.cg.present, 1);
	assert_int_equal(c->rec.r.cg.id, 0);
	assert_null(c->rec.r.cg.path);
	assert_null(c->rec.r.cg.container);

	/* an older capture: none of them, and none written back */
	ob_reset(&c->ob);
	fmt_json(&c->ob, &(struct tt_record){ .type = TT_REC_EVENT, .ev = mk_event() }, &c->fo);
	s = line(c);
	assert_null(strstr(s, "cgroup"));
	assert_int_equal(parse(c, s), 0);
	assert_int_equal(c->rec.r.cg.present, 0);

	/* a path without its id; an id of the wrong type; a container without a path field */
	bad = event_with(c, "\"netns\"", "\"cgroup\":\"/a\",\"netns\"");
	refuse(c, bad, strlen(bad), "cgroup_id");
	free(bad);
	bad = event_with(c, "\"netns\"", "\"cgroup_id\":\"7\",\"cgroup\":null,\"container\":null,"
			 "\"netns\"");
	refuse(c, bad, strlen(bad), "cgroup_id");
	free(bad);
	bad = event_with(c, "\"netns\"", "\"cgroup_id\":7,\"container\":null,\"netns\"");
	refuse(c, bad, strlen(bad), "cgroup");
	free(bad);
}

/* --stats-by cgroup: groups instead of processes, read back. */
static void test_stats_groups(void **state)
{
	struct ctx *c = *state;
	struct tt_record r = { .type = TT_REC_STATS };
	const char *s;

	r.stats.ntop = 2;
	r.stats.top[0] = (struct tt_proc_count){ .known = 1, .by_group = 1, .group = "nginx.service",
						 .n = 4 };
	r.stats.top[1] = (struct tt_proc_count){ .known = 0, .by_group = 1, .n = 1 };
	ob_reset(&c->ob);
	fmt_json(&c->ob, &r, &c->fo);
	s = line(c);
	assert_non_null(strstr(s, "\"top\":[{\"group\":\"nginx.service\",\"established\":4},"
			       "{\"group\":null,\"established\":1}]"));
	assert_int_equal(parse(c, s), 0);
	assert_int_equal(c->rec.r.stats.ntop, 2);
	assert_int_equal(c->rec.r.stats.top[0].by_group, 1);
	assert_int_equal(c->rec.r.stats.top[0].known, 1);
	assert_string_equal(c->rec.r.stats.top[0].group, "nginx.service");
	assert_int_equal(c->rec.r.stats.top[0].n, 4);
	assert_int_equal(c->rec.r.stats.top[1].by_group, 1);
	assert_int_equal(c->rec.r.stats.top[1].known, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_event_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_variants, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta_clock_lost_summary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_types_other_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_type, setup, teardown),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test_setup_teardown(test_number_ranges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_loss_skipped_accounting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cgroup_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_groups, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
