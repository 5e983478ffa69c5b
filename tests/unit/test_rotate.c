// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* --rotate-to (src/rotate.c): the template's expansion, hostile templates,
 * and the rename that never replaces nor follows what is at the target. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <time.h>
#include <cmocka.h>

#include "file_test_util.h"
#include "rotate.h"

/* 2023-11-14T22:13:20Z: a time whose UTC fields are known by heart */
#define T0 ((time_t)1700000000)

struct ctx {
	char dir[64];
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	strcpy(c->dir, "/tmp/tt-rotate-XXXXXX");
	if (!mkdtemp(c->dir))
		return -1;
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	tu_rm_tree(c->dir);
	free(c);
	return 0;
}

static char *path_in(void **state, const char *name)
{
	struct ctx *c = *state;
	char *p;

	assert_true(asprintf(&p, "%s/%s", c->dir, name) > 0);
	return p;
}

static void put_file(const char *p, const char *text)
{
	FILE *f = fopen(p, "we");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* A refused template: the error, a reason for the usage error, and
 * nothing written past what the caller gave. */
static void expect_refused(const char *tmpl, int err)
{
	char buf[PATH_MAX];
	const char *why = NULL;
	int got = rot_name(buf, sizeof(buf), tmpl, T0, 0, &why);

	if (got != err)
		fail_msg("'%.60s': %d, expected %d", tmpl, got, err);
	assert_non_null(why);
	assert_true(strlen(why) > 0);
}

static void test_expands_in_utc(void **state)
{
	char buf[PATH_MAX];

	(void)state;
	/* a zone far from UTC: a local time would show 03:43 */
	setenv("TZ", "Asia/Kolkata", 1);
	tzset();
	assert_int_equal(rot_name(buf, sizeof(buf), "/var/log/cap.%Y%m%dT%H%M%SZ.jsonl", T0, 0,
				  NULL), 0);
	assert_string_equal(buf, "/var/log/cap.20231114T221320Z.jsonl");
	assert_int_equal(rot_name(buf, sizeof(buf), "cap.%F.jsonl.gz", T0, 0, NULL), 0);
	assert_string_equal(buf, "cap.2023-11-14.jsonl.gz");
	/* a literal percent, and no conversion at all */
	assert_int_equal(rot_name(buf, sizeof(buf), "/d/100%%.jsonl", T0, 0, NULL), 0);
	assert_string_equal(buf, "/d/100%.jsonl");
	assert_int_equal(rot_name(buf, sizeof(buf), "/d/old.jsonl", T0, 0, NULL), 0);
	assert_string_equal(buf, "/d/old.jsonl");
	unsetenv("TZ");
	tzset();
}

static void test_suffix(void **state)
{
	char buf[PATH_MAX];

	(void)state;
	assert_int_equal(rot_name(buf, sizeof(buf), "/d/c.%Y", T0, 1, NULL), 0);
	assert_string_equal(buf, "/d/c.2023.1");
	assert_int_equal(rot_name(buf, sizeof(buf), "/d/c.%Y", T0, 999, NULL), 0);
	assert_string_equal(buf, "/d/c.2023.999");
	assert_int_equal(rot_name(buf, sizeof(buf), "/d/c.%Y", T0, UINT_MAX, NULL), 0);
	assert_string_equal(buf, "/d/c.2023.4294967295");
}

static void test_hostile_templates(void **state)
{
	char buf[PATH_MAX];

	(void)state;
	expect_refused("", -EINVAL);
	expect_refused("/d/cap%n.jsonl", -EINVAL);      /* a newline in the name */
	expect_refused("/d/cap%t", -EINVAL);
	expect_refused("/d/cap.%", -EINVAL);            /* a '%' at the end */
	expect_refused("/d/cap.%%%", -EINVAL);
	expect_refused("/d/cap.%-", -EINVAL);           /* a flag, then nothing */
	expect_refused("/d/cap.%10E", -EINVAL);
	expect_refused("/d/cap.%D", -EINVAL);           /* 11/14/23: two more directories */
	expect_refused("/d/%Y/cap", -EINVAL);           /* a dated directory */
	expect_refused("/d/%Y/../cap", -EINVAL);
	expect_refused("/d/", -EINVAL);                 /* no file name */
	expect_refused("/d/..", -EINVAL);
	expect_refused(".", -EINVAL);
	/* "../" is a directory the operator wrote: taken as written */
	assert_int_equal(rot_name(buf, sizeof(buf), "../cap.%Y", T0, 0, NULL), 0);
	assert_string_equal(buf, "../cap.2023");
	assert_int_equal(rot_name(buf, sizeof(buf), "/d/../e/cap.%Y", T0, 0, NULL), 0);
	assert_string_equal(buf, "/d/../e/cap.2023");
}

static void test_too_long(void **state)
{
	char tmpl[3 * PATH_MAX], buf[PATH_MAX], small[8];
	size_t n;

	(void)state;
	/* a file name over NAME_MAX, as written and once expanded */
	memset(tmpl, 'a', NAME_MAX + 1);
	tmpl[NAME_MAX + 1] = '\0';
	expect_refused(tmpl, -ENAMETOOLONG);
	memset(tmpl, 'a', NAME_MAX);
	tmpl[NAME_MAX] = '\0';
	assert_int_equal(rot_name(buf, sizeof(buf), tmpl, T0, 0, NULL), 0);
	/* the suffix counts too */
	assert_int_equal(rot_name(buf, sizeof(buf), tmpl, T0, 1, NULL), -ENAMETOOLONG);
	for (n = 0; n + 2 < 200; n += 2)
		memcpy(tmpl + n, "%Y", 2);      /* 200 bytes that expand to 400 */
	tmpl[n] = '\0';
	expect_refused(tmpl, -ENAMETOOLONG);
	/* an expansion far past PATH_MAX: refused, never truncated */
	for (n = 0; n + 2 < sizeof(tmpl) - 1; n += 2)
		memcpy(tmpl + n, "%c", 2);
	tmpl[n] = '\0';
	expect_refused(tmpl, -ENAMETOOLONG);
	/* a directory that leaves no room */
	memset(tmpl, 'd', PATH_MAX);
	tmpl[PATH_MAX - 4] = '/';
	memcpy(tmpl + PATH_MAX - 3, "%Y", 3);
	expect_refused(tmpl, -ENAMETOOLONG);
	/* the caller's buffer */
	assert_int_equal(rot_name(small, sizeof(small), "/d/c.%Y", T0, 0, NULL), -ENAMETOOLONG);
	assert_int_equal(rot_name(small, sizeof(small), "c.%Y", T0, 0, NULL), 0);
	assert_string_equal(small, "c.2023");
}

static char *file_text(const char *p)
{
	return tu_slurp(p, NULL);
}

/* The first name a planted symlink, the second an older capture: the
 * file takes the third, and neither the link nor what it points to moves. */
static void test_move_never_replaces(void **state)
{
	char *from = path_in(state, "cap.jsonl"), *victim = path_in(state, "victim");
	char *tmpl = path_in(state, "cap.%Y.jsonl"), *n0 = path_in(state, "cap.2023.jsonl");
	char *n1 = path_in(state, "cap.2023.jsonl.1"), *n2 = path_in(state, "cap.2023.jsonl.2");
	char to[PATH_MAX], link[PATH_MAX], *text;
	struct stat st;
	ssize_t len;

	put_file(from, "records\n");
	put_file(victim, "precious\n");
	put_file(n1, "older capture\n");
	assert_int_equal(symlink(victim, n0), 0);
	assert_int_equal(rot_move(from, tmpl, T0, to, sizeof(to)), 0);
	assert_string_equal(to, n2);
	assert_int_equal(lstat(from, &st), -1);
	text = file_text(n2);
	assert_string_equal(text, "records\n");
	free(text);
	text = file_text(victim);
	assert_string_equal(text, "precious\n");
	free(text);
	text = file_text(n1);
	assert_string_equal(text, "older capture\n");
	free(text);
	len = readlink(n0, link, sizeof(link) - 1);
	assert_true(len > 0);
	link[len] = '\0';
	assert_string_equal(link, victim);
	free(from);
	free(victim);
	free(tmpl);
	free(n0);
	free(n1);
	free(n2);
}

/* Every name taken: EEXIST, and the file stays where it was. */
static void test_move_all_taken(void **state)
{
	char *from = path_in(state, "cap.jsonl"), *tmpl = path_in(state, "full");
	char name[PATH_MAX], to[PATH_MAX], *text;

	put_file(from, "records\n");
	for (unsigned n = 0; n < ROT_TRIES; n++) {
		assert_int_equal(rot_name(name, sizeof(name), tmpl, T0, n, NULL), 0);
		put_file(name, "taken\n");
	}
	assert_int_equal(rot_move(from, tmpl, T0, to, sizeof(to)), -EEXIST);
	text = file_text(from);
	assert_string_equal(text, "records\n");
	free(text);
	free(from);
	free(tmpl);
}

static void test_move_errors_leave_file(void **state)
{
	char *from = path_in(state, "cap.jsonl"), *tmpl = path_in(state, "no-dir/cap.%Y");
	char to[PATH_MAX], *text;

	put_file(from, "records\n");
	assert_int_equal(rot_move(from, tmpl, T0, to, sizeof(to)), -ENOENT);
	assert_int_equal(rot_move(from, "/d/%n", T0, to, sizeof(to)), -EINVAL);
	text = file_text(from);
	assert_string_equal(text, "records\n");
	free(text);
	free(from);
	free(tmpl);
}

/* Each cause the stderr line names has its own fix. */
static void test_fix_per_cause(void **state)
{
	const int errs[] = { -EXDEV, -EEXIST, -EACCES, -EROFS, -ENOENT, -ENAMETOOLONG,
			     -ESTALE, -ENOSPC };
	const char *fallback = rot_fix(-EBADMSG);

	(void)state;
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		assert_non_null(rot_fix(errs[i]));
		assert_string_not_equal(rot_fix(errs[i]), fallback);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(rot_fix(errs[i]), rot_fix(errs[j]));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expands_in_utc),
		cmocka_unit_test(test_suffix),
		cmocka_unit_test(test_hostile_templates),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_move_never_replaces),
		cmocka_unit_test(test_move_all_taken),
		cmocka_unit_test(test_move_errors_leave_file),
		cmocka_unit_test(test_fix_per_cause),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
