// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * -r FILE end to end: captures are written here with fmt_json() (what
 * live mode writes), replayed with replay_run() and the
 * output read back from the redirected stdout and stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "file_test_util.h"

#include "format.h"
#include "opts.h"
#include "replay.h"

#define BOOT0 5000000000LL                    /* 5 s after boot */
#define REAL0 1700000000000000000LL           /* 2023-11-14T22:13:20Z */
#define SEC 1000000000LL

static const char hostile[] = "\x1b]0;\n\xff\\x41\xc2\x9b";

struct ctx {
	char dir[64], path[128], gzpath[128];
	struct outbuf cap;          /* the capture, as written */
	char *out, *err;            /* what the last replay printed */
	int nlines;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	strcpy(c->dir, "/tmp/tt-replay-XXXXXX");
	if (!mkdtemp(c->dir) || ob_init(&c->cap, 1 << 16))
		return -1;
	snprintf(c->path, sizeof(c->path), "%s/cap.jsonl", c->dir);
	snprintf(c->gzpath, sizeof(c->gzpath), "%s/cap.jsonl.gz", c->dir);
	/* text times are local: pin the zone so they can be written down here */
	setenv("TZ", "UTC", 1);
	tzset();
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	tu_rm_tree(c->dir);
	ob_free(&c->cap);
	free(c->out);
	free(c->err);
	free(c);
	return 0;
}

static struct tt_event ev(unsigned long long seq, long long ts, unsigned family,
			  const char *la, unsigned lp, const char *ra, unsigned rp,
			  unsigned old, unsigned new, unsigned pid, const char *comm)
{
	struct tt_event e;

	memset(&e, 0, sizeof(e));
	e.ts_ns = (unsigned long long)ts;
	e.seq = seq;
	e.sock_id = 0x1000 + seq;
	e.kind = TT_EV_STATE;
	e.old_state = old;
	e.new_state = new;
	e.family = family;
	inet_pton(family, la, e.laddr);
	inet_pton(family, ra, e.raddr);
	e.lport = lp;
	e.rport = rp;
	e.netns = 4026531840u;
	if (comm) {
		e.flags |= TT_F_OWNER;
		e.pid = pid;
		memcpy(e.comm, comm, strnlen(comm, TT_COMM_LEN));
	}
	e.state_ns = 226000;
	e.flags |= TT_F_STATE_NS;
	return e;
}

static struct tt_snaprec snap(unsigned family, const char *la, unsigned lp, const char *ra,
			      unsigned rp, unsigned state, unsigned pid, const char *comm)
{
	struct tt_snaprec r;

	memset(&r, 0, sizeof(r));
	r.row.family = family;
	inet_pton(family, la, r.row.laddr);
	inet_pton(family, ra, r.row.raddr);
	r.row.lport = lp;
	r.row.rport = rp;
	r.row.state = state;
	r.row.inode = 1000 + lp;
	r.sock_id = 0x500 + lp;
	r.netns = 4026531840u;
	r.boot_ns = BOOT0;
	if (comm) {
		r.owner_known = 1;
		r.pid = pid;
		r.comm = comm;
	}
	return r;
}

/*
 * The capture of a run: meta, 3 snapshot rows, 3 transitions, a loss, a
 * clock record after the wall clock was stepped one hour forward, one more
 * transition, the summary. Hostile names in snapshot and transitions.
 */
static void build_capture(struct ctx *c)
{
	struct tt_clock ck;
	struct fmt_opts fo = { .clock = &ck, .addr_width = 23 };
	struct tt_meta m = {
		.version = "0.1.0", .hostname = "h\x1bst", .kernel = "6.18", .boot_id = "b",
		.cmdline = "tcptrail -o cap.jsonl", .attach = "tp_btf", .ring_size = 1 << 23,
		.netns = 4026531840u, .timers = 1, .ctx_owner = 1, .boot_ns = BOOT0, .real_ns = REAL0,
	};
	struct tt_snaprec s1 = snap(AF_INET, "0.0.0.0", 1025, "0.0.0.0", 0, TT_LISTEN, 100, hostile);
	struct tt_snaprec s2 = snap(AF_INET, "127.0.0.1", 1025, "127.0.0.1", 2000, TT_ESTABLISHED, 200, "nc");
	struct tt_snaprec s3 = snap(AF_INET6, "::1", 1030, "::1", 3000, TT_TIME_WAIT, 0, NULL);
	struct tt_event e1 = ev(1, BOOT0 + SEC + SEC / 2, AF_INET, "0.0.0.0", 1026, "0.0.0.0", 0,
				TT_CLOSE, TT_LISTEN, 100, hostile);
	struct tt_event e2 = ev(2, BOOT0 + 2 * SEC, AF_INET6, "::1", 0, "::1", 1025,
				TT_CLOSE, TT_SYN_SENT, 300, "curl");
	struct tt_event e3 = ev(3, BOOT0 + 3 * SEC, AF_INET, "127.0.0.1", 1025, "127.0.0.1", 2000,
				TT_LAST_ACK, TT_CLOSE, 200, "nc\\x1b");
	struct tt_event e4 = ev(7, BOOT0 + 61 * SEC + SEC / 2, AF_INET, "127.0.0.1", 2001,
				"127.0.0.1", 1026, TT_SYN_SENT, TT_ESTABLISHED, 0, NULL);
	struct tt_lost l = { .from_seq = 4, .to_seq = 6, .count = 3, .reason = "ring_full",
			     .boot_ns = BOOT0 + 4 * SEC };
	struct tt_summary sum = { .seen = 7, .written = 4, .lost = 3, .lost_ring = 3,
				  .snapshot = 3, .boot_ns = BOOT0 + 62 * SEC };

	s3.flags = TT_F_TW;
	e3.flags |= TT_F_FINAL;
	e3.rx_bytes = 6;
	e3.duration_ns = 1001000000;
	e3.recv_q = 1;
	memcpy(e3.ctx_comm, hostile, 12);
	e3.ctx_pid = 9;
	e4.recv_q = 5000;

	ob_reset(&c->cap);
	clock_set_anchor(&ck, BOOT0, REAL0);
	fmt_json(&c->cap, &(struct tt_record){ .type = TT_REC_META, .meta = m }, &fo);
	fmt_json(&c->cap, &(struct tt_record){ .type = TT_REC_SNAPSHOT, .snap = s1 }, &fo);
	fmt_json(&c->cap, &(struct tt_record){ .type = TT_REC_SNAPSHOT, .snap = s2 }, &fo);
	fmt_json(&c->cap, &(struct tt_record){ .type = TT_REC_SNAPSHOT, .snap = s3 }, &fo);
	fmt_json(&c->cap, &(struct tt_record){ .type = TT_REC_EVENT, .ev = e1 }, &fo);
	fmt_json(&c->cap, &(struct tt_record){ .type = TT_REC_EVENT, .ev = e2 }, &fo);
	fmt_json(&c->cap, &(struct tt_record){ .type = TT_REC_EVENT, .ev = e3 }, &fo);
	fmt_json(&c->cap, &(struct tt_record){ .type = TT_REC_LOST, .lost = l }, &fo);
	clock_set_anchor(&ck, BOOT0 + 60 * SEC, REAL0 + 3660 * SEC);
	fmt_json(&c->cap, &(struct tt_record){ .type = TT_REC_CLOCK,
					      .clock = { BOOT0 + 60 * SEC, REAL0 + 3660 * SEC } }, &fo);
	fmt_json(&c->cap, &(struct tt_record){ .type = TT_REC_EVENT, .ev = e4 }, &fo);
	fmt_json(&c->cap, &(struct tt_record){ .type = TT_REC_SUMMARY, .summary = sum }, &fo);
	assert_false(c->cap.oom);
	c->nlines = 11;
}

static void write_file(const char *path, const char *buf, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void write_gz(const char *path, const char *buf, size_t len)
{
	gzFile f = gzopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(gzwrite(f, buf, (unsigned)len), (int)len);
	assert_int_equal(gzclose(f), Z_OK);
}

/* replay_run with stdout and stderr captured into c->out and c->err */
static int replay(struct ctx *c, const char *path, struct tt_opts *o)
{
	char outp[160], errp[160];
	struct tu_stdio std;
	int ret;

	o->read = path;
	o->color = TT_COLOR_NEVER;
	snprintf(outp, sizeof(outp), "%s/stdout", c->dir);
	snprintf(errp, sizeof(errp), "%s/stderr", c->dir);
	tu_stdio_to(&std, outp, errp);
	ret = replay_run(o);
	tu_stdio_back(&std);
	free(c->out);
	free(c->err);
	c->out = tu_slurp(outp, NULL);
	c->err = tu_slurp(errp, NULL);
	return ret;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* The first n lines of the capture */
static char *first_lines(struct ctx *c, int n)
{
	const char *s = ob_cstr(&c->cap), *p = s;

	for (int i = 0; i < n; i++) {
		p = strchr(p, '\n');
		assert_non_null(p);
		p++;
	}
	return strndup(s, (size_t)(p - s));
}

static void test_json_identity(void **state)
{
	struct ctx *c = *state;
	struct tt_opts o = { .json = 1 };

	build_capture(c);
	write_file(c->path, c->cap.buf, c->cap.len);
	assert_int_equal(replay(c, c->path, &o), 0);
	/* byte for byte: hostile names, times across the clock step, everything */
	assert_string_equal(c->out, ob_cstr(&c->cap));
	assert_non_null(strstr(c->err, "replayed 11 records"));

	write_gz(c->gzpath, c->cap.buf, c->cap.len);
	assert_int_equal(replay(c, c->gzpath, &o), 0);
	assert_string_equal(c->out, ob_cstr(&c->cap));
}

static void test_text(void **state)
{
	struct ctx *c = *state;
	struct tt_opts o = { 0 };
	const char *row1 =
		"tcp        0      0 0.0.0.0:1025            0.0.0.0:*               LISTEN      "
		"100/\\x1b]0;\\x0a\\xff\\x5cx41\\xc2\\x9b\n";
	const char *row3 =
		"tcp6       0      0 ::1:1030                ::1:3000                TIME_WAIT   "
		"-                   \n";
	const char *head = "Active Internet connections (servers and established)\n"
			   "Proto Recv-Q Send-Q Local Address";

	build_capture(c);
	write_file(c->path, c->cap.buf, c->cap.len);
	assert_int_equal(replay(c, c->path, &o), 0);
	assert_true(!strncmp(c->out, head, strlen(head)));
	assert_non_null(strstr(c->out, row1));
	assert_non_null(strstr(c->out, row3));
	/* the snapshot header once, no live header after a snapshot */
	assert_int_equal(count(c->out, "Active Internet"), 1);
	assert_int_equal(count(c->out, "Old -> New"), 0);
	/* times from the meta anchor, then from the clock record (+1 h step) */
	assert_non_null(strstr(c->out, "CLOSE -> LISTEN           100/\\x1b]0;\\x0a\\xff\\x5cx41\\xc2\\x9b "
			       "22:13:21.500000 after 226.0us\n"));
	assert_non_null(strstr(c->out, "LAST_ACK -> CLOSE         200/nc\\x5cx1b        22:13:23.000000 "
			       "after 226.0us rx=6B tx=0B life=1.001s\n"));
	assert_non_null(strstr(c->out, "SYN_SENT -> ESTABLISHED   -                    23:14:21.500000"));
	assert_non_null(strstr(c->out, "--- lost 3 events (seq 4-6): ring_full ---\n"));
	/* 2 header lines, 3 rows, 4 transitions, 1 loss; nothing raw from the names */
	assert_int_equal(count(c->out, "\n"), 10);
	assert_null(strchr(c->out, '\x1b'));
}

static void test_filters(void **state)
{
	struct ctx *c = *state;
	struct tt_opts o = { .json = 1 };

	build_capture(c);
	write_file(c->path, c->cap.buf, c->cap.len);

	o.nports = 1;
	o.ports[0] = 1026;
	assert_int_equal(replay(c, c->path, &o), 0);
	assert_int_equal(count(c->out, "\"type\":\"snapshot\""), 0);
	assert_int_equal(count(c->out, "\"type\":\"transition\""), 2);
	assert_non_null(strstr(c->out, "\"seq\":1,"));
	assert_non_null(strstr(c->out, "\"seq\":7,"));
	/* what is not about sockets passes every filter */
	assert_int_equal(count(c->out, "\"type\":\"lost\""), 1);
	assert_int_equal(count(c->out, "\"type\":\"clock\""), 1);
	assert_int_equal(count(c->out, "\"type\":\"meta\""), 1);
	assert_non_null(strstr(c->err, "2 events written, 5 filtered"));

	memset(&o, 0, sizeof(o));
	o.json = 1;
	o.family = AF_INET6;
	assert_int_equal(replay(c, c->path, &o), 0);
	assert_int_equal(count(c->out, "\"proto\":\"tcp\""), 0);
	assert_int_equal(count(c->out, "\"proto\":\"tcp6\""), 2);

	memset(&o, 0, sizeof(o));
	o.json = 1;
	o.pid = 200;
	assert_int_equal(replay(c, c->path, &o), 0);
	assert_int_equal(count(c->out, "\"pid\":200,"), 2);
	assert_int_equal(count(c->out, "\"pid\":"), 2);

	memset(&o, 0, sizeof(o));
	o.json = 1;
	o.listening = 1;
	assert_int_equal(replay(c, c->path, &o), 0);
	assert_int_equal(count(c->out, "\"type\":\"snapshot\""), 1);     /* rport 0 only */
	assert_int_equal(count(c->out, "\"type\":\"transition\""), 1);   /* into LISTEN */
	assert_non_null(strstr(c->out, "\"state\":\"LISTEN\""));

	memset(&o, 0, sizeof(o));
	o.json = 1;
	o.queue_threshold = 4096;
	assert_int_equal(replay(c, c->path, &o), 0);
	assert_int_equal(count(c->out, "\"type\":\"transition\""), 1);
	assert_non_null(strstr(c->out, "\"recv_q\":5000"));

	memset(&o, 0, sizeof(o));
	o.json = 1;
	o.no_snapshot = 1;
	assert_int_equal(replay(c, c->path, &o), 0);
	assert_int_equal(count(c->out, "\"type\":\"snapshot\""), 0);
	assert_int_equal(count(c->out, "\"type\":\"transition\""), 4);
}

static void test_truncated_last_line(void **state)
{
	struct ctx *c = *state;
	struct tt_opts o = { .json = 1 };
	char *want, where[200];
	size_t cut;

	build_capture(c);
	want = first_lines(c, 6);
	/* cut line 7 in its middle: tcptrail killed while writing */
	cut = strlen(want) + 40;
	write_file(c->path, c->cap.buf, cut);
	assert_int_not_equal(replay(c, c->path, &o), 0);
	assert_string_equal(c->out, want);
	snprintf(where, sizeof(where), "%s:7: the last line is cut short", c->path);
	assert_non_null(strstr(c->err, where));

	/* only the final newline missing: still cut short */
	write_file(c->path, c->cap.buf, c->cap.len - 1);
	assert_int_not_equal(replay(c, c->path, &o), 0);
	snprintf(where, sizeof(where), "%s:%d: the last line is cut short", c->path, c->nlines);
	assert_non_null(strstr(c->err, where));
	free(want);
}

static void test_corrupt_record(void **state)
{
	struct ctx *c = *state;
	struct tt_opts o = { .json = 1 };
	char *head, *s, where[200];
	const char *rest;

	build_capture(c);
	head = first_lines(c, 4);
	rest = ob_cstr(&c->cap) + strlen(head);
	rest = strchr(rest, '\n') + 1;
	/* line 5 with a port out of range */
	assert_true(asprintf(&s, "%s{\"type\":\"transition\",\"time\":\"2023-11-14T22:13:21.500000000Z\","
			     "\"boot_ns\":6500000000,\"seq\":1,\"proto\":\"tcp\",\"laddr\":\"1.2.3.4\","
			     "\"raddr\":\"1.2.3.4\",\"lport\":70000}\n%s", head, rest) > 0);
	write_file(c->path, s, strlen(s));
	assert_int_not_equal(replay(c, c->path, &o), 0);
	assert_string_equal(c->out, head);
	snprintf(where, sizeof(where), "%s:5: field \"lport\" is out of range (0..65535)", c->path);
	assert_non_null(strstr(c->err, where));
	free(s);

	/* line 2 not JSON at all */
	free(head);
	head = first_lines(c, 1);
	assert_true(asprintf(&s, "%s\x1b[2Jrm -rf\n", head) > 0);
	write_file(c->path, s, strlen(s));
	assert_int_not_equal(replay(c, c->path, &o), 0);
	snprintf(where, sizeof(where), "%s:2: invalid JSON", c->path);
	assert_non_null(strstr(c->err, where));
	/* the message quotes nothing from the line */
	assert_null(strchr(c->err, '\x1b'));
	free(s);
	free(head);
}

/* A number beyond 64 bits, or with a fraction where an integer belongs:
 * damage at its line, like a negative port, never a clamped value. */
static void test_number_out_of_range(void **state)
{
	struct ctx *c = *state;
	struct tt_opts o = { .json = 1 };
	static const struct { const char *from, *to, *why; } cases[] = {
		{ "\"seq\":2,", "\"seq\":100000000000000000000,", "field \"seq\" is out of range" },
		{ "\"seq\":2,", "\"seq\":1e40,", "field \"seq\" is not an integer" },
		{ "\"rport\":1025", "\"rport\":1025.5", "field \"rport\" is not an integer" },
	};
	char where[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *cap, *at;

		build_capture(c);
		cap = strdup(ob_cstr(&c->cap));
		at = strstr(cap, cases[i].from);   /* line 6: the second transition */
		assert_non_null(at);
		assert_true(asprintf(&at, "%.*s%s%s", (int)(at - cap), cap, cases[i].to,
				     at + strlen(cases[i].from)) > 0);
		write_file(c->path, at, strlen(at));
		assert_int_not_equal(replay(c, c->path, &o), 0);
		snprintf(where, sizeof(where), "%s:6: %s", c->path, cases[i].why);
		if (!strstr(c->err, where))
			fail_msg("want '%s' in:\n%s", where, c->err);
		/* the five records before it were replayed, nothing after */
		assert_int_equal(count(c->out, "\n"), 5);
		free(at);
		free(cap);
	}
}

/*
 * A capture that survived a full disk: the stream in two gzip members, a
 * write loss (with the snapshot row it cost) and a skipped run. Replay
 * reads all of it, reproduces it byte for byte, and reports the loss the
 * summary reports.
 */
static void test_full_disk_capture(void **state)
{
	struct ctx *c = *state;
	struct tt_opts o = { .json = 1 };
	struct tt_clock ck;
	struct fmt_opts fo = { .clock = &ck, .addr_width = 23 };
	struct tt_lost skip = { .from_seq = 8, .to_seq = 9, .count = 2, .reason = "snapshot",
				.boot_ns = BOOT0 + 62 * SEC };
	struct tt_lost w = { .from_seq = 10, .to_seq = 109, .count = 100, .snapshot = 1, .other = 1,
			     .reason = "write", .error = "ENOSPC", .boot_ns = BOOT0 + 63 * SEC };
	struct tt_summary sum = { .seen = 107, .written = 4, .skipped = 2, .lost = 103,
				  .lost_ring = 3, .lost_write = 100, .snapshot = 3, .snapshot_lost = 1,
				  .has_accounting = 1, .boot_ns = BOOT0 + 64 * SEC };
	char *all, *cut;
	gzFile z;

	build_capture(c);
	/* drop the summary: the capture goes on with the new records */
	all = strdup(ob_cstr(&c->cap));
	cut = strstr(all, "{\"type\":\"summary\"");
	assert_non_null(cut);
	*cut = '\0';
	ob_reset(&c->cap);
	clock_set_anchor(&ck, BOOT0 + 60 * SEC, REAL0 + 3660 * SEC);
	fmt_json(&c->cap, &(struct tt_record){ .type = TT_REC_SKIPPED, .lost = skip }, &fo);
	fmt_json(&c->cap, &(struct tt_record){ .type = TT_REC_LOST, .lost = w }, &fo);
	fmt_json(&c->cap, &(struct tt_record){ .type = TT_REC_SUMMARY, .summary = sum }, &fo);
	z = gzopen(c->gzpath, "wb");
	assert_non_null(z);
	gzputs(z, all);
	assert_int_equal(gzclose(z), Z_OK);
	z = gzopen(c->gzpath, "ab");   /* a second member, as after the disk recovered */
	assert_non_null(z);
	gzputs(z, ob_cstr(&c->cap));
	assert_int_equal(gzclose(z), Z_OK);
	assert_int_equal(replay(c, c->gzpath, &o), 0);
	assert_int_equal(strncmp(c->out, all, strlen(all)), 0);
	assert_string_equal(c->out + strlen(all), ob_cstr(&c->cap));
	/* ring 3 + write 100: the summary's lost */
	if (!strstr(c->err, "4 events written, 0 filtered, 103 lost"))
		fail_msg("stderr: %s", c->err);
	assert_int_equal(sum.lost_ring + sum.lost_write, 103);
	/* as text: the write loss line, the skipped record not shown */
	o.json = 0;
	assert_int_equal(replay(c, c->gzpath, &o), 0);
	if (!strstr(c->out, "--- lost 100 events (seq 10-109), 1 snapshot row, 1 other record: "
		    "write (ENOSPC) ---\n"))
		fail_msg("stdout: %s", c->out);
	assert_null(strstr(c->out, "skipped"));
	free(all);
}

static void test_gzip_truncated(void **state)
{
	struct ctx *c = *state;
	struct tt_opts o = { .json = 1 };
	struct tt_clock ck;
	struct fmt_opts fo = { .clock = &ck, .addr_width = 23 };
	char where[200], *full;
	struct stat st;
	int lines = 0;

	/* enough varied records for a compressed file of many blocks */
	clock_set_anchor(&ck, BOOT0, REAL0);
	ob_reset(&c->cap);
	for (unsigned i = 0; i < 20000; i++) {
		char comm[16];
		struct tt_event e;

		snprintf(comm, sizeof(comm), "p%u\x1b", i * 2654435761u);
		e = ev(i, BOOT0 + i * 7919LL, AF_INET, "10.0.0.1", 1024 + i % 5000, "10.0.0.2",
		       (i * 40503u) % 65536, TT_SYN_SENT, TT_ESTABLISHED, i * 31, comm);
		fmt_json(&c->cap, &(struct tt_record){ .type = TT_REC_EVENT, .ev = e }, &fo);
	}
	full = strndup(c->cap.buf, c->cap.len);
	write_gz(c->gzpath, c->cap.buf, c->cap.len);
	assert_int_equal(stat(c->gzpath, &st), 0);
	assert_true(st.st_size > 100000);
	assert_int_equal(truncate(c->gzpath, st.st_size / 2), 0);

	assert_int_not_equal(replay(c, c->gzpath, &o), 0);
	/* a whole number of lines, the start of the capture, far from all of it */
	lines = count(c->out, "\n");
	assert_true(lines > 1000 && lines < 20000);
	assert_int_equal(strncmp(c->out, full, strlen(c->out)), 0);
	assert_int_equal(c->out[strlen(c->out) - 1], '\n');
	snprintf(where, sizeof(where), "%s:%d: compressed data is truncated or corrupted",
		 c->gzpath, lines + 1);
	assert_non_null(strstr(c->err, where));
	free(full);
}

static void test_empty_and_missing(void **state)
{
	struct ctx *c = *state;
	struct tt_opts o = { 0 };
	char p[200];

	write_file(c->path, "", 0);
	assert_int_equal(replay(c, c->path, &o), 0);
	assert_string_equal(c->out, "");
	assert_non_null(strstr(c->err, "replayed 0 records"));

	/* an empty gzip file (header and trailer, no data) is fine too */
	write_gz(c->gzpath, "", 0);
	assert_int_equal(replay(c, c->gzpath, &o), 0);
	assert_string_equal(c->out, "");

	snprintf(p, sizeof(p), "%s/nope.jsonl", c->dir);
	assert_int_equal(replay(c, p, &o), -ENOENT);
	assert_non_null(strstr(c->err, "cannot open capture"));
}

static void test_unknown_type_skipped(void **state)
{
	struct ctx *c = *state;
	struct tt_opts o = { .json = 1 };
	char *head, *s;
	const char *rest;

	build_capture(c);
	head = first_lines(c, 3);
	rest = ob_cstr(&c->cap) + strlen(head);
	assert_true(asprintf(&s, "%s{\"type\":\"from_the_future\",\"x\":1}\n%s", head, rest) > 0);
	write_file(c->path, s, strlen(s));
	assert_int_equal(replay(c, c->path, &o), 0);
	assert_string_equal(c->out, ob_cstr(&c->cap));
	assert_non_null(strstr(c->err, "1 records of unknown types skipped"));
	free(s);
	free(head);
}

/* A capture that starts after its meta record (a rotated file): times come
 * from the records' own "time" until a clock record re-anchors */
static void test_no_meta(void **state)
{
	struct ctx *c = *state;
	struct tt_opts o = { 0 };
	const char *s;

	build_capture(c);
	s = ob_cstr(&c->cap);
	for (int i = 0; i < 4; i++)
		s = strchr(s, '\n') + 1;
	write_file(c->path, s, strlen(s));
	assert_int_equal(replay(c, c->path, &o), 0);
	/* no snapshot: the live header first */
	assert_true(!strncmp(c->out, "Proto Recv-Q Send-Q Local Address", 33));
	assert_non_null(strstr(c->out, " 22:13:21.500000 "));
	assert_non_null(strstr(c->out, " 23:14:21.500000"));
}

static void test_fail_on_loss(void **state)
{
	struct ctx *c = *state;
	struct tt_opts o = { .json = 1, .fail_on_loss = 1 };

	build_capture(c);
	write_file(c->path, c->cap.buf, c->cap.len);
	assert_int_equal(replay(c, c->path, &o), TT_EXIT_LOST);
	o.fail_on_loss = 0;
	assert_int_equal(replay(c, c->path, &o), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_json_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_last_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gzip_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_and_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_type_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_meta, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fail_on_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_number_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_disk_capture, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
