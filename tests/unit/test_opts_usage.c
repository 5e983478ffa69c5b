// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Usage errors (src/opts.c): one line naming the error, then GNU's pointer
 * to --help; options that may be given once; --verify and its files.
 */
#include <limits.h>

#include "opts_test_util.h"

/* Every usage error: exactly one line naming it, then GNU's pointer to
 * --help, and nothing on stdout (main() turns -EINVAL into exit 2). */
static void check_hint(struct res *r, const char *args)
{
	const char *hint = "Try 'tcptrail --help' for more information.\n";
	const char *nl = strchr(r->err, '\n');

	if (r->rc != -EINVAL || *r->out || !nl || strcmp(nl + 1, hint))
		fail_msg("%s: rc %d, stdout '%s', stderr:\n%s", args, r->rc, r->out, r->err);
	if (strstr(r->err, "Usage:"))
		fail_msg("%s: the whole usage was printed:\n%s", args, r->err);
	res_free(r);
}

static void test_usage_errors_are_two_lines(void **state)
{
	struct res r;

	(void)state;
	PARSE(&r, "--bogus");
	check_hint(&r, "--bogus");
	PARSE(&r, "-x");
	check_hint(&r, "-x");
	PARSE(&r, "-P");
	check_hint(&r, "-P");
	PARSE(&r, "-P", "0");
	check_hint(&r, "-P 0");
	PARSE(&r, "-4", "extra");
	check_hint(&r, "-4 extra");
	PARSE(&r, "--no-snapshot", "--snapshot-only");
	check_hint(&r, "--no-snapshot --snapshot-only");
	PARSE(&r, "-q");
	check_hint(&r, "-q");
	PARSE(&r, "-r", "a", "-o", "b");
	check_hint(&r, "-r a -o b");
	PARSE(&r, "-o", "a.gz", "-o", "b.gz");
	check_hint(&r, "-o a.gz -o b.gz");
	PARSE(&r, "--stats=1e-9");
	check_hint(&r, "--stats=1e-9");
	PARSE(&r, "--verify");
	check_hint(&r, "--verify");
	PARSE(&r, "--rotate-to", "/d/c.%Y");
	check_hint(&r, "--rotate-to without -o");
	PARSE(&r, "-r", "a", "--rotate-to", "/d/c.%Y");
	check_hint(&r, "--rotate-to with -r");
	PARSE(&r, "-o", "a", "--rotate-to", "");
	check_hint(&r, "--rotate-to ''");
	PARSE(&r, "-o", "a", "--rotate-to", "/d/c.%n");
	check_hint(&r, "--rotate-to /d/c.%n");
}

/* --rotate-to: needs -o, excludes -r, and its expansion now must be a
 * name (the same check as at each rotation: tests/unit/test_rotate.c). */
static void test_rotate_to(void **state)
{
	char long_name[PATH_MAX + 8];
	struct res r;

	(void)state;
	PARSE(&r, "-o", "/d/c.jsonl", "--rotate-to", "/d/c.%Y%m%dT%H%M%SZ.jsonl");
	expect_ok(&r);
	assert_string_equal(r.o.rotate_to, "/d/c.%Y%m%dT%H%M%SZ.jsonl");
	res_free(&r);
	PARSE(&r, "-o", "/d/c.jsonl");
	expect_ok(&r);
	assert_null(r.o.rotate_to);
	res_free(&r);
	PARSE(&r, "--rotate-to", "/d/c.%Y");
	expect_usage_error(&r, "-o FILE");
	PARSE(&r, "-r", "a", "--rotate-to", "/d/c.%Y");
	expect_usage_error(&r, "--read");
	PARSE(&r, "-o", "a", "--rotate-to", "");
	expect_usage_error(&r, "--rotate-to");
	PARSE(&r, "-o", "a", "--rotate-to", "/d/c.%");
	expect_usage_error(&r, "unfinished");
	PARSE(&r, "-o", "a", "--rotate-to", "/d/");
	expect_usage_error(&r, "nothing");
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	for (size_t i = 100; i < sizeof(long_name) - 1; i += 100)
		long_name[i] = '/';
	PARSE(&r, "-o", "a", "--rotate-to", long_name);
	expect_usage_error(&r, "PATH_MAX");
	PARSE(&r, "-o", "a", "--rotate-to", "x", "--rotate-to", "y");
	expect_usage_error(&r, "twice");
}

/* -o twice: the first would be dropped without a word. -r too. */
static void test_file_options_once(void **state)
{
	struct res r;

	(void)state;
	PARSE(&r, "-o", "a.gz", "-o", "b.gz");
	expect_usage_error(&r, "twice");
	PARSE(&r, "-o", "a.gz", "--output=b.gz");
	expect_usage_error(&r, "'a.gz'");
	PARSE(&r, "-r", "a.gz", "-r", "b.gz");
	expect_usage_error(&r, "twice");
	PARSE(&r, "-o", "a.gz", "-q");
	expect_ok(&r);
	assert_string_equal(r.o.output, "a.gz");
	res_free(&r);
}

static void test_verify_args(void **state)
{
	struct res r;

	(void)state;
	PARSE(&r, "--verify", "a.jsonl.gz", "b.jsonl");
	expect_ok(&r);
	assert_int_equal(r.o.verify, 1);
	assert_int_equal(r.o.nfiles, 2);
	assert_string_equal(r.o.files[0], "a.jsonl.gz");
	assert_string_equal(r.o.files[1], "b.jsonl");
	res_free(&r);
	/* getopt permutes: the files may come first */
	PARSE(&r, "a.jsonl", "--verify");
	expect_ok(&r);
	assert_int_equal(r.o.nfiles, 1);
	res_free(&r);
	PARSE(&r, "--verify");
	expect_usage_error(&r, "at least one");
	PARSE(&r, "--verify", "-P", "22", "a.jsonl");
	expect_usage_error(&r, "only capture files");
	PARSE(&r, "--verify", "-o", "x", "a.jsonl");
	expect_usage_error(&r, "only capture files");
	/* without --verify, a file operand is still a stray argument */
	PARSE(&r, "a.jsonl");
	expect_usage_error(&r, "'a.jsonl'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usage_errors_are_two_lines),
		cmocka_unit_test(test_file_options_once),
		cmocka_unit_test(test_rotate_to),
		cmocka_unit_test(test_verify_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
