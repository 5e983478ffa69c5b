// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Golden captures (tests/fixtures/capture/README.md): for every record type
 * the JSON writer knows, TYPE.jsonl, written by an earlier build, must
 * replay (-r) to TYPE.txt on stdout and TYPE.err on stderr, and with --json
 * to itself. A field renamed in the writer and the reader alike breaks
 * them; a new record type without a golden capture fails here.
 *
 * The files are read relative to the current directory: run from the
 * repository root (make unit does).
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "file_test_util.h"

#include "format.h"
#include "opts.h"
#include "replay.h"

#define DIR "tests/fixtures/capture/"

/* replay_run on path (with up to 4 more options), stdout and stderr into
 * out and err. */
static int replay_with(const char *path, const char *const *more, const char *out,
		       const char *err)
{
	struct tt_opts o;
	char *argv[8] = { "tcptrail", "-r", (char *)path };
	struct tu_stdio std;
	int argc = 3, ret;

	for (int i = 0; more && more[i] && argc < 7; i++)
		argv[argc++] = (char *)more[i];
	assert_int_equal(opts_parse(argc, argv, &o, stdout, stderr), 0);
	tu_stdio_to(&std, out, err);
	ret = replay_run(&o);
	tu_stdio_back(&std);
	return ret;
}

static int replay(const char *path, int json, const char *out, const char *err)
{
	static const char *const js[] = { "--json", NULL };

	return replay_with(path, json ? js : NULL, out, err);
}

static void expect_same(const char *got_path, const char *want_path, const char *what)
{
	size_t glen, wlen;
	char *got = tu_slurp(got_path, &glen), *want = tu_slurp(want_path, &wlen);

	if (glen != wlen || memcmp(got, want, wlen)) {
		size_t i = 0;

		while (i < glen && i < wlen && got[i] == want[i])
			i++;
		fail_msg("%s differs from %s at byte %zu:\n--- got:\n%.*s\n--- want:\n%.*s", what,
			 want_path, i, (int)(glen - i < 300 ? glen - i : 300), got + i,
			 (int)(wlen - i < 300 ? wlen - i : 300), want + i);
	}
	free(got);
	free(want);
}

static void check_type(const char *type)
{
	char cap[128], txt[128], err[128], out[64], errout[64];

	snprintf(cap, sizeof(cap), DIR "%s.jsonl", type);
	snprintf(txt, sizeof(txt), DIR "%s.txt", type);
	snprintf(err, sizeof(err), DIR "%s.err", type);
	strcpy(out, "/tmp/tt-golden-out-XXXXXX");
	strcpy(errout, "/tmp/tt-golden-err-XXXXXX");
	close(mkstemp(out));
	close(mkstemp(errout));
	assert_int_equal(replay(cap, 0, out, errout), 0);
	expect_same(out, txt, "the text replay");
	expect_same(errout, err, "the replay's stderr");
	assert_int_equal(replay(cap, 1, out, errout), 0);
	expect_same(out, cap, "the JSON replay");
	unlink(out);
	unlink(errout);
}

/* Every record type and event kind that has a JSON form has its golden
 * capture, and replays to it. */
static void test_every_type(void **state)
{
	struct tt_record r;
	int checked = 0;

	(void)state;
	for (int t = TT_REC_META; t < TT_REC_MAX; t++) {
		for (unsigned kind = TT_EV_STATE; kind <= (t == TT_REC_EVENT ? TT_EV_SNDBUF : TT_EV_STATE);
		     kind++) {
			memset(&r, 0, sizeof(r));
			r.type = t;
			r.ev.kind = kind;
			if (!fmt_json_type(&r))
				continue;   /* a text header */
			check_type(fmt_json_type(&r));
			checked++;
		}
	}
	assert_int_equal(checked, 11);
}

/*
 * A capture of this version with the socket's cgroup (a Docker scope
 * serves, a Kubernetes pod's container connects; written by tcptrail -o
 * around real cgroup v2 groups): it replays to itself and to its text;
 * --cgroup keeps the pod's side only, and -C shows its container.
 */
static void test_cgroup_capture(void **state)
{
	static const char *const more[] = { "-C", "--cgroup", "/kubepods.slice", NULL };
	char out[64], errout[64];

	(void)state;
	check_type("cgroup");
	strcpy(out, "/tmp/tt-golden-out-XXXXXX");
	strcpy(errout, "/tmp/tt-golden-err-XXXXXX");
	close(mkstemp(out));
	close(mkstemp(errout));
	assert_int_equal(replay_with(DIR "cgroup.jsonl", more, out, errout), 0);
	expect_same(out, DIR "cgroup_filtered.txt", "the filtered text replay");
	expect_same(errout, DIR "cgroup_filtered.err", "the filtered replay's stderr");
	unlink(out);
	unlink(errout);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_type),
		cmocka_unit_test(test_cgroup_capture),
	};

	/* text times are local: the golden outputs were printed in UTC */
	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
