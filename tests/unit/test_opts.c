// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Command-line parsing (src/opts.c): every option that takes a value is fed
 * good and bad values, and each case checks what landed in struct tt_opts,
 * what was printed where, and the return code main() turns into the exit
 * status (0 run, 1 --help/--version, -EINVAL usage error).
 */
#include "opts_test_util.h"

static void test_defaults(void **state)
{
	struct res r;

	(void)state;
	PARSE0(&r);
	expect_ok(&r);
	assert_int_equal(r.o.family, 0);
	assert_int_equal(r.o.nports, 0);
	assert_int_equal(r.o.pid, 0);
	assert_int_equal(r.o.no_snapshot, 0);
	assert_int_equal(r.o.snapshot_only, 0);
	assert_int_equal(r.o.json, 0);
	assert_int_equal(r.o.wide, 0);
	assert_int_equal(r.o.verbose, 0);
	assert_int_equal(r.o.quiet, 0);
	assert_int_equal(r.o.listening, 0);
	assert_int_equal(r.o.all_netns, 0);
	assert_int_equal(r.o.fail_on_loss, 0);
	assert_int_equal(r.o.keep_caps, 0);
	assert_int_equal(r.o.stats, 0);
	assert_true(r.o.duration == 0.0);
	assert_null(r.o.output);
	assert_null(r.o.read);
	/* --help: "BPF ring buffer size ... (default 8M)", "--stats[=SECONDS] (default 1)" */
	assert_int_equal(r.o.ring_size, 8UL << 20);
	assert_true(r.o.stats_interval == 1.0);
	assert_int_equal(r.o.queue_threshold, 0);
	assert_int_equal(r.o.color, TT_COLOR_AUTO);
	assert_string_equal(r.o.cmdline, "tcptrail");
	res_free(&r);
}

static void test_flags(void **state)
{
	struct res r;

	(void)state;
	PARSE(&r, "-4", "-w", "-l", "-v", "--json", "--all-netns", "--fail-on-loss",
	      "--keep-caps", "--no-snapshot");
	expect_ok(&r);
	assert_int_equal(r.o.family, AF_INET);
	assert_int_equal(r.o.wide, 1);
	assert_int_equal(r.o.listening, 1);
	assert_int_equal(r.o.verbose, 1);
	assert_int_equal(r.o.json, 1);
	assert_int_equal(r.o.all_netns, 1);
	assert_int_equal(r.o.fail_on_loss, 1);
	assert_int_equal(r.o.keep_caps, 1);
	assert_int_equal(r.o.no_snapshot, 1);
	assert_int_equal(r.o.snapshot_only, 0);
	res_free(&r);

	PARSE(&r, "--ipv6", "--wide", "--listening", "--verbose", "--snapshot-only");
	expect_ok(&r);
	assert_int_equal(r.o.family, AF_INET6);
	assert_int_equal(r.o.wide, 1);
	assert_int_equal(r.o.listening, 1);
	assert_int_equal(r.o.verbose, 1);
	assert_int_equal(r.o.snapshot_only, 1);
	assert_int_equal(r.o.json, 0);
	res_free(&r);

	/* a cluster of short flags */
	PARSE(&r, "-6wl");
	expect_ok(&r);
	assert_int_equal(r.o.family, AF_INET6);
	assert_int_equal(r.o.wide, 1);
	assert_int_equal(r.o.listening, 1);
	res_free(&r);

	PARSE(&r, "--ipv4");
	expect_ok(&r);
	assert_int_equal(r.o.family, AF_INET);
	res_free(&r);
}

static void test_ports_valid(void **state)
{
	struct res r;

	(void)state;
	PARSE(&r, "-P", "1025");
	expect_ok(&r);
	assert_int_equal(r.o.nports, 1);
	assert_int_equal(r.o.ports[0], 1025);
	res_free(&r);

	PARSE(&r, "-P", "1", "--port", "65535", "-P80,443", "--port=22");
	expect_ok(&r);
	assert_int_equal(r.o.nports, 5);
	assert_int_equal(r.o.ports[0], 1);
	assert_int_equal(r.o.ports[1], 65535);
	assert_int_equal(r.o.ports[2], 80);
	assert_int_equal(r.o.ports[3], 443);
	assert_int_equal(r.o.ports[4], 22);
	res_free(&r);
}

static void test_ports_invalid(void **state)
{
	static const char *const bad[] = {
		"0", "65536", "", "80,", ",80", "80,,443", ",", "1e3", "-1", "+80",
		" 80", "80 ", "80x", "0x50", "abc", "99999999999999999999", "80, 443",
		"\t80", "\n80",
	};
	struct res r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		PARSE(&r, "-P", (char *)bad[i]);
		if (r.rc != -EINVAL)
			fail_msg("-P '%s' was accepted (%d ports, first %u)", bad[i],
				 r.o.nports, r.o.ports[0]);
		expect_usage_error(&r, "port");
	}
	/* a missing value */
	PARSE(&r, "-P");
	expect_usage_error(&r, "-P");
	PARSE(&r, "--port");
	expect_usage_error(&r, "--port");
}

/* Up to 64 ports in all, whether in one list or over repeated -P. */
static void test_ports_limit(void **state)
{
	char list[64 * 6 + 8], *argv[TT_MAX_PORTS + 3];
	size_t off = 0;
	struct res r;

	(void)state;
	for (int i = 0; i < TT_MAX_PORTS; i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%d", i ? "," : "", 2000 + i);
	PARSE(&r, "-P", list);
	expect_ok(&r);
	assert_int_equal(r.o.nports, 64);
	assert_int_equal(r.o.ports[0], 2000);
	assert_int_equal(r.o.ports[63], 2063);
	res_free(&r);

	snprintf(list + off, sizeof(list) - off, ",3000");
	PARSE(&r, "-P", list);
	expect_usage_error(&r, "port");

	/* 64 in one list, then a 65th with a second -P */
	list[off] = '\0';
	PARSE(&r, "-P", list, "-P", "3000");
	expect_usage_error(&r, "3000");

	/* 65 separate -P options */
	argv[0] = "tcptrail";
	for (int i = 0; i <= TT_MAX_PORTS; i++)
		argv[1 + i] = "-P7";
	argv[TT_MAX_PORTS + 2] = NULL;
	parse_v(&r, argv, 1);
	expect_usage_error(&r, "port");
	argv[TT_MAX_PORTS + 1] = NULL;   /* exactly 64 */
	parse_v(&r, argv, 1);
	expect_ok(&r);
	assert_int_equal(r.o.nports, 64);
	assert_int_equal(r.o.ports[63], 7);
	res_free(&r);
}

/* The list parser on its own: it appends to *n and never writes past max. */
static void test_port_list_parser(void **state)
{
	unsigned ports[4] = { 0 };
	int n = 0;

	(void)state;
	assert_int_equal(opts_parse_port_list("80,443", ports, &n, 4), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ports[0], 80);
	assert_int_equal(ports[1], 443);
	assert_int_equal(opts_parse_port_list("8080,9090", ports, &n, 4), 0);
	assert_int_equal(n, 4);
	assert_int_equal(ports[3], 9090);
	assert_int_equal(opts_parse_port_list("1", ports, &n, 4), -E2BIG);
	assert_int_equal(n, 4);
	n = 0;
	assert_int_equal(opts_parse_port_list(NULL, ports, &n, 4), -EINVAL);
	assert_int_equal(opts_parse_port_list("", ports, &n, 4), -EINVAL);
	assert_int_equal(opts_parse_port_list("65536", ports, &n, 4), -EINVAL);
	assert_int_equal(n, 0);
	/* a number longer than any port fits in no buffer: refused, not cut */
	assert_int_equal(opts_parse_port_list(
		"0000000000000000000000000000000000000000000000000000000000000000000080",
		ports, &n, 4), -EINVAL);
	assert_int_equal(n, 0);
}

static void test_pid(void **state)
{
	static const char *const bad[] = {
		"0", "-1", "+1", "", "abc", "12a", " 12", "\t12", "1.5", "4194305",
		"99999999999999999999",
	};
	struct res r;

	(void)state;
	PARSE(&r, "-p", "1");
	expect_ok(&r);
	assert_int_equal(r.o.pid, 1);
	res_free(&r);
	/* PID_MAX_LIMIT on 64-bit kernels */
	PARSE(&r, "--pid", "4194304");
	expect_ok(&r);
	assert_int_equal(r.o.pid, 4194304);
	res_free(&r);
	PARSE(&r, "--pid=7661");
	expect_ok(&r);
	assert_int_equal(r.o.pid, 7661);
	res_free(&r);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		PARSE(&r, "-p", (char *)bad[i]);
		if (r.rc != -EINVAL)
			fail_msg("-p '%s' was accepted as %u", bad[i], r.o.pid);
		expect_usage_error(&r, "pid");
	}
	PARSE(&r, "-p");
	expect_usage_error(&r, "-p");
}

static void test_duration(void **state)
{
	static const char *const bad[] = {
		"0", "-1", "-0", "", "abc", "1s", "1 ", " 1", "\t1", "inf", "nan", "1e10", "1,5",
	};
	struct res r;

	(void)state;
	PARSE(&r, "-d", "10");
	expect_ok(&r);
	assert_true(r.o.duration == 10.0);
	res_free(&r);
	PARSE(&r, "--duration", "0.25");
	expect_ok(&r);
	assert_true(r.o.duration == 0.25);
	res_free(&r);
	PARSE(&r, "--duration=1e9");
	expect_ok(&r);
	assert_true(r.o.duration == 1e9);
	res_free(&r);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		PARSE(&r, "-d", (char *)bad[i]);
		if (r.rc != -EINVAL)
			fail_msg("-d '%s' was accepted as %g", bad[i], r.o.duration);
		expect_usage_error(&r, "duration");
	}
	PARSE(&r, "--duration");
	expect_usage_error(&r, "--duration");
}

static void test_ring_size(void **state)
{
	static const struct { const char *arg; unsigned long bytes; } good[] = {
		{ "4096", 4096 }, { "4K", 4096 }, { "4k", 4096 }, { "64K", 65536 },
		{ "8M", 8UL << 20 }, { "8m", 8UL << 20 }, { "16777216", 16UL << 20 },
		{ "1G", 1UL << 30 }, { "1g", 1UL << 30 }, { "1024M", 1UL << 30 },
	};
	static const char *const bad[] = {
		"2048", "2K", "0", "", "K", "12K", "3M", "2G", "1T", "4KB", "4 K", " 4K",
		"-4K", "+4K", "4097", "1.5M", "99999999999999999999", "18014398509481984K",
	};
	struct res r;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		PARSE(&r, "--ring-size", (char *)good[i].arg);
		expect_ok(&r);
		if (r.o.ring_size != good[i].bytes)
			fail_msg("--ring-size %s gave %lu, not %lu", good[i].arg,
				 r.o.ring_size, good[i].bytes);
		res_free(&r);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		PARSE(&r, "--ring-size", (char *)bad[i]);
		if (r.rc != -EINVAL)
			fail_msg("--ring-size '%s' was accepted as %lu", bad[i], r.o.ring_size);
		expect_usage_error(&r, "ring size");
	}
}

static void test_size_parser(void **state)
{
	unsigned long v = 12345;

	(void)state;
	assert_int_equal(opts_parse_size("1", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(opts_parse_size("3k", &v), 0);
	assert_int_equal(v, 3072);
	assert_int_equal(opts_parse_size("5M", &v), 0);
	assert_int_equal(v, 5UL << 20);
	assert_int_equal(opts_parse_size("2G", &v), 0);
	assert_int_equal(v, 2UL << 30);
	v = 12345;
	assert_int_equal(opts_parse_size("0", &v), -EINVAL);
	assert_int_equal(opts_parse_size("G", &v), -EINVAL);
	assert_int_equal(opts_parse_size(NULL, &v), -EINVAL);
	/* K would overflow an unsigned long: refused rather than wrapped */
	assert_int_equal(opts_parse_size("18014398509481984K", &v), -EINVAL);
	assert_int_equal(v, 12345);   /* untouched on failure */
}

static void test_queue_threshold(void **state)
{
	static const char *const bad[] = { "0", "", "-1", "x", "1.5K", "10 " };
	struct res r;

	(void)state;
	PARSE(&r, "--queue-threshold", "1000");
	expect_ok(&r);
	assert_int_equal(r.o.queue_threshold, 1000);
	res_free(&r);
	PARSE(&r, "--queue-threshold=64K");
	expect_ok(&r);
	assert_int_equal(r.o.queue_threshold, 65536);
	res_free(&r);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		PARSE(&r, "--queue-threshold", (char *)bad[i]);
		if (r.rc != -EINVAL)
			fail_msg("--queue-threshold '%s' was accepted as %lu", bad[i],
				 r.o.queue_threshold);
		expect_usage_error(&r, "queue threshold");
	}
}

static void test_color(void **state)
{
	static const char *const bad[] = {
		"--color=yes", "--color=no", "--color=", "--color=ALWAYS", "--color=always ",
	};
	struct res r;

	(void)state;
	PARSE(&r, "--color=always");
	expect_ok(&r);
	assert_int_equal(r.o.color, TT_COLOR_ALWAYS);
	res_free(&r);
	PARSE(&r, "--color=never");
	expect_ok(&r);
	assert_int_equal(r.o.color, TT_COLOR_NEVER);
	res_free(&r);
	/* the last one wins; a bare --color means auto */
	PARSE(&r, "--color=never", "--color=auto");
	expect_ok(&r);
	assert_int_equal(r.o.color, TT_COLOR_AUTO);
	res_free(&r);
	PARSE(&r, "--color=always", "--color");
	expect_ok(&r);
	assert_int_equal(r.o.color, TT_COLOR_AUTO);
	res_free(&r);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		PARSE(&r, (char *)bad[i]);
		if (r.rc != -EINVAL)
			fail_msg("'%s' was accepted as %d", bad[i], (int)r.o.color);
		expect_usage_error(&r, "color");
	}
	/* the value is optional, so it must be attached: "--color always"
	 * leaves "always" as a stray argument */
	PARSE(&r, "--color", "always");
	expect_usage_error(&r, "always");
}

static void test_stats(void **state)
{
	/* the minimum interval is 0.1 s: 1e-9 printed 200 reports a second */
	static const char *const bad[] = { "--stats=0", "--stats=-1", "--stats=x", "-s0", "--stats=",
					   "--stats=1e-9", "-s0.09", "--stats=0.0999" };
	struct res r;

	(void)state;
	PARSE(&r, "-s");
	expect_ok(&r);
	assert_int_equal(r.o.stats, 1);
	assert_true(r.o.stats_interval == 1.0);
	res_free(&r);
	PARSE(&r, "--stats");
	expect_ok(&r);
	assert_int_equal(r.o.stats, 1);
	assert_true(r.o.stats_interval == 1.0);
	res_free(&r);
	PARSE(&r, "--stats=2.5");
	expect_ok(&r);
	assert_int_equal(r.o.stats, 1);
	assert_true(r.o.stats_interval == 2.5);
	res_free(&r);
	PARSE(&r, "-s0.5");
	expect_ok(&r);
	assert_true(r.o.stats_interval == 0.5);
	res_free(&r);
	PARSE(&r, "--stats=0.1");
	expect_ok(&r);
	assert_true(r.o.stats_interval == TT_MIN_STATS_INTERVAL);
	res_free(&r);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		PARSE(&r, (char *)bad[i]);
		if (r.rc != -EINVAL)
			fail_msg("'%s' was accepted (interval %g)", bad[i], r.o.stats_interval);
		expect_usage_error(&r, "stats interval");
	}
	/* optional value: "-s 2" is -s then a stray "2" */
	PARSE(&r, "-s", "2");
	expect_usage_error(&r, "'2'");
}

static void test_files(void **state)
{
	struct res r;

	(void)state;
	PARSE(&r, "-o", "/tmp/cap.jsonl.gz");
	expect_ok(&r);
	assert_string_equal(r.o.output, "/tmp/cap.jsonl.gz");
	assert_null(r.o.read);
	res_free(&r);
	PARSE(&r, "-q", "--output=cap.jsonl");
	expect_ok(&r);
	assert_int_equal(r.o.quiet, 1);
	assert_string_equal(r.o.output, "cap.jsonl");
	res_free(&r);
	PARSE(&r, "--read", "old.jsonl.gz", "-P", "22");
	expect_ok(&r);
	assert_string_equal(r.o.read, "old.jsonl.gz");
	assert_null(r.o.output);
	assert_int_equal(r.o.nports, 1);
	assert_int_equal(r.o.ports[0], 22);
	res_free(&r);
	PARSE(&r, "-o", "");
	expect_usage_error(&r, "output file");
	PARSE(&r, "--read=");
	expect_usage_error(&r, "capture file");
	PARSE(&r, "-o");
	expect_usage_error(&r, "-o");
	PARSE(&r, "-r");
	expect_usage_error(&r, "-r");
}

static void test_conflicts(void **state)
{
	struct res r;

	(void)state;
	PARSE(&r, "--no-snapshot", "--snapshot-only");
	expect_usage_error(&r, "--snapshot-only");
	PARSE(&r, "--snapshot-only", "--no-snapshot");
	expect_usage_error(&r, "--no-snapshot");
	PARSE(&r, "-q");
	expect_usage_error(&r, "--quiet");
	PARSE(&r, "--quiet", "--json");
	expect_usage_error(&r, "--output");
	PARSE(&r, "-r", "a.jsonl", "-o", "b.jsonl");
	expect_usage_error(&r, "--read");
	PARSE(&r, "-r", "a.jsonl", "--snapshot-only");
	expect_usage_error(&r, "--read");
}

/* --metrics: [ADDR:]PORT checked at parse time; -q alone is fine with it */
static void test_metrics(void **state)
{
	struct res r;

	(void)state;
	PARSE(&r, "-q", "--metrics", "9479");
	expect_ok(&r);
	assert_string_equal(r.o.metrics, "9479");
	res_free(&r);
	PARSE(&r, "-q", "-o", "c.jsonl", "--metrics=[::1]:9479", "-s");
	expect_ok(&r);
	assert_string_equal(r.o.metrics, "[::1]:9479");
	res_free(&r);
	PARSE(&r, "--metrics", "localhost:9479");
	expect_usage_error(&r, "--metrics address");
	PARSE(&r, "--metrics", "65536");
	expect_usage_error(&r, "--metrics address");
	PARSE(&r, "--metrics", "9479", "--metrics", "9480");
	expect_usage_error(&r, "--metrics given twice");
	PARSE(&r, "--metrics", "9479", "-r", "a.jsonl");
	expect_usage_error(&r, "--read");
	PARSE(&r, "--snapshot-only", "--metrics", "9479");
	expect_usage_error(&r, "--snapshot-only");
	PARSE(&r, "--metrics");
	expect_usage_error(&r, "--metrics");
}

static void test_unknown_and_stray(void **state)
{
	struct res r;

	(void)state;
	PARSE(&r, "--bogus");
	expect_usage_error(&r, "--bogus");
	PARSE(&r, "-x");
	expect_usage_error(&r, "-x");
	/* an option that takes no value, given one */
	PARSE(&r, "--json=1");
	expect_usage_error(&r, "--json");
	PARSE(&r, "-4", "extra");
	expect_usage_error(&r, "'extra'");
	/* no longer the whole usage: test_usage_errors_are_two_lines */
	PARSE(&r, "--bogus");
	assert_int_equal(r.rc, -EINVAL);
	assert_null(strstr(r.err, "--ring-size"));
	res_free(&r);
}

/* The message must name the bad option even inside a cluster of short
 * options: "tcptrail -x4" should not blame "tcptrail". */
static void test_unknown_in_cluster(void **state)
{
	struct res r;

	(void)state;
	PARSE(&r, "-4x");
	expect_usage_error(&r, "x");
	PARSE(&r, "-x4");
	assert_int_equal(r.rc, -EINVAL);
	if (strstr(r.err, "unknown option 'tcptrail'") || !strstr(r.err, "x"))
		fail_msg("the error does not name -x:\n%.200s", r.err);
	res_free(&r);
}

/*
 * opts_parse documents no "call once" rule, and the replay filters reuse
 * these parsers: a parse that stopped inside a short-option cluster must
 * not leak into the next parse. No reset_getopt() here on purpose.
 */
static void test_reparse_after_error(void **state)
{
	struct res r;

	(void)state;
	parse_v(&r, (char *[]){ "tcptrail", "-x4", NULL }, 1);
	assert_int_equal(r.rc, -EINVAL);
	res_free(&r);
	parse_v(&r, (char *[]){ "tcptrail", NULL }, 0);
	if (r.rc != 0 || r.o.family != 0)
		fail_msg("an empty command line after a failed '-x4' gave rc %d, family %d:\n%s",
			 r.rc, r.o.family, r.err);
	res_free(&r);
	/* a completed parse leaves nothing behind either */
	parse_v(&r, (char *[]){ "tcptrail", "-6w", NULL }, 0);
	expect_ok(&r);
	parse_v(&r, (char *[]){ "tcptrail", "-P", "9", NULL }, 0);
	expect_ok(&r);
	assert_int_equal(r.o.family, 0);
	assert_int_equal(r.o.wide, 0);
	assert_int_equal(r.o.nports, 1);
	res_free(&r);
}

static void test_help_version(void **state)
{
	struct res r;

	(void)state;
	PARSE(&r, "--help");
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.err, "");
	assert_non_null(strstr(r.out, "Usage: tcptrail"));
	res_free(&r);
	/* help wins over options parsed before it, and over bad ones after it */
	PARSE(&r, "-4", "-h", "--pid=0");
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.err, "");
	assert_non_null(strstr(r.out, "Usage: tcptrail"));
	res_free(&r);
	PARSE(&r, "--version");
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.err, "");
	assert_string_equal(r.out, "tcptrail " TT_VERSION "\n");
	res_free(&r);
	PARSE(&r, "-V");
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.out, "tcptrail " TT_VERSION "\n");
	res_free(&r);
	/* the usage error comes first when it comes first */
	PARSE(&r, "--pid=0", "--help");
	expect_usage_error(&r, "pid");
}

/* Every long option of the parser's table is accepted as --NAME (with a
 * value where one is needed): none is in the table without a handler. */
static void test_long_names_parse(void **state)
{
	static const struct { const char *name, *value; } need[] = {
		{ "port", "80" }, { "pid", "1" }, { "duration", "1" }, { "output", "x.jsonl" },
		{ "read", "x.jsonl" }, { "ring-size", "4K" }, { "queue-threshold", "1" },
		{ "cgroup", "/system.slice" }, { "stats-by", "comm" },
		{ "metrics", "9100" }, { "rotate-to", "x.%Y.jsonl" },
	};
	char arg[64];
	int n = 0;

	(void)state;
	for (const struct option *opt = opts_getopt_long(); opt->name; opt++, n++) {
		const char *const *p = &opt->name;
		const char *value = NULL;
		struct res r;

		for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
			if (!strcmp(need[i].name, *p))
				value = need[i].value;
		snprintf(arg, sizeof(arg), "--%s%s%s", *p, value ? "=" : "", value ? value : "");
		/* --quiet and --rotate-to need -o, --verify a file; --snapshot-only and
		 * --no-snapshot are fine alone */
		if (!strcmp(*p, "quiet") || !strcmp(*p, "rotate-to"))
			parse_v(&r, (char *[]){ "tcptrail", arg, "-o", "x.jsonl", NULL }, 1);
		else if (!strcmp(*p, "verify"))
			parse_v(&r, (char *[]){ "tcptrail", arg, "x.jsonl", NULL }, 1);
		else
			parse_v(&r, (char *[]){ "tcptrail", arg, NULL }, 1);
		if (r.rc < 0)
			fail_msg("--%s is in the options table but was refused:\n%s", *p, r.err);
		res_free(&r);
	}
	/* 30 names: the options --help documents */
	assert_int_equal(n, 30);
}

static void test_state_only(void **state)
{
	struct res r;

	(void)state;
	PARSE(&r, "--state-only", "-P", "80");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.o.state_only, 1);
	assert_int_equal(r.o.nports, 1);
	res_free(&r);
	PARSE(&r, "-P", "80");
	assert_int_equal(r.o.state_only, 0);
	res_free(&r);
}

static void test_cmdline(void **state)
{
	char *argv[600];
	struct res r;

	(void)state;
	PARSE(&r, "-4", "-P", "1025", "--json");
	expect_ok(&r);
	assert_string_equal(r.o.cmdline, "tcptrail -4 -P 1025 --json");
	res_free(&r);
	/* longer than the field: cut, still NUL-terminated */
	argv[0] = "tcptrail";
	for (int i = 1; i < 599; i += 2) {
		argv[i] = "-P";
		argv[i + 1] = "1";
	}
	argv[599] = NULL;
	parse_v(&r, argv, 1);
	/* 299 ports exceed the limit: a usage error, but the line was built first */
	assert_int_equal(r.rc, -EINVAL);
	assert_int_equal(strlen(r.o.cmdline), sizeof(r.o.cmdline) - 1);
	assert_memory_equal(r.o.cmdline, "tcptrail -P 1 -P 1", 18);
	res_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_ports_valid),
		cmocka_unit_test(test_ports_invalid),
		cmocka_unit_test(test_ports_limit),
		cmocka_unit_test(test_port_list_parser),
		cmocka_unit_test(test_pid),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_ring_size),
		cmocka_unit_test(test_size_parser),
		cmocka_unit_test(test_queue_threshold),
		cmocka_unit_test(test_color),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_conflicts),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_unknown_and_stray),
		cmocka_unit_test(test_unknown_in_cluster),
		cmocka_unit_test(test_reparse_after_error),
		cmocka_unit_test(test_help_version),
		cmocka_unit_test(test_long_names_parse),
		cmocka_unit_test(test_state_only),
		cmocka_unit_test(test_cmdline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
