// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Sinks that work: files created new, plain and gzip round trips, crash
 * safety of a flush, rotation. */
#include "sink_test_util.h"

static void test_refuses_existing_file(void **state)
{
	char *p = path_in(state, "exists.log");
	struct sink *s = (struct sink *)0x1;
	size_t len;
	char *content;
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep\n", 5), 5);
	close(fd);
	assert_int_equal(sink_open(&s, p), -EEXIST);
	assert_null(s);
	content = read_all(p, &len);
	assert_string_equal(content, "keep\n");
	free(content);
	free(p);
}

static void test_refuses_symlink(void **state)
{
	char *link = path_in(state, "link.log"), *target = path_in(state, "victim");
	char *dlink = path_in(state, "dangling.log.gz"), *dtarget = path_in(state, "created-by-attack");
	struct sink *s = NULL;
	struct stat st;
	int fd = open(target, O_WRONLY | O_CREAT | O_EXCL, 0644), err;

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(symlink(target, link), 0);
	err = sink_open(&s, link);
	assert_true(err == -EEXIST || err == -ELOOP);
	assert_null(s);
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(st.st_size, 0);
	/* A dangling link must not make us create its target. */
	assert_int_equal(symlink(dtarget, dlink), 0);
	err = sink_open(&s, dlink);
	assert_true(err == -EEXIST || err == -ELOOP);
	assert_int_equal(lstat(dtarget, &st), -1);
	assert_int_equal(errno, ENOENT);
	free(link);
	free(target);
	free(dlink);
	free(dtarget);
}

static void test_mode_0600_and_kinds(void **state)
{
	char *p = path_in(state, "mode.log"), *pz = path_in(state, "mode.log.gz");
	struct sink *s = NULL, *sz = NULL;
	struct stat st;

	assert_int_equal(sink_open(&s, p), 0);
	assert_int_equal(sink_open(&sz, pz), 0);
	assert_int_equal(sink_kind(s), SINK_FILE);
	assert_int_equal(sink_kind(sz), SINK_GZIP);
	assert_string_equal(sink_path(s), p);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(pz, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(sink_close(&s), 0);
	assert_null(s);
	assert_int_equal(sink_close(&sz), 0);
	assert_int_equal(sink_close(NULL), 0);
	assert_int_equal(sink_close(&s), 0);
	assert_int_equal(sink_open(&s, ""), -ENOENT);
	free(p);
	free(pz);
}

static void test_plain_roundtrip(void **state)
{
	char *p = path_in(state, "plain.log"), *want, *got;
	struct sink *s = NULL;
	struct sink_stats st;
	size_t wlen, glen;
	int refused;

	want = make_lines(0, 5000, &wlen);  /* > 64 KiB: several drains */
	assert_true(wlen > 3 * 65536);
	assert_int_equal(sink_open(&s, p), 0);
	assert_int_equal(put_lines(s, want, wlen, 0, &refused), 5000);
	assert_int_equal(sink_flush(s), 0);
	assert_int_equal(sink_pending(s), 0);
	got = read_all(p, &glen);
	assert_int_equal(glen, wlen);
	assert_memory_equal(got, want, wlen);
	free(got);
	sink_stats(s, &st);
	assert_int_equal(st.bytes_written, wlen);
	assert_int_equal(st.bytes_dropped, 0);
	assert_int_equal(st.write_errors, 0);
	/* a record is at most the buffer: a larger one is refused whole */
	assert_int_equal(sink_write(s, want, wlen, 0), -EMSGSIZE);
	assert_int_equal(sink_close(&s), 0);
	free(want);
	free(p);
}

static void test_gzip_roundtrip(void **state)
{
	char *p = path_in(state, "events.jsonl.gz"), *want, buf[4096];
	struct sink *s = NULL;
	size_t wlen, glen = 0, ilen;
	gzFile gz;
	char *got, *inflated;
	int n, complete, refused;

	want = make_lines(0, 20000, &wlen);
	assert_int_equal(wlen % 20000, 0);
	assert_int_equal(sink_open(&s, p), 0);
	assert_int_equal(put_lines(s, want, wlen / 2, 0, &refused), 10000);
	assert_int_equal(sink_flush(s), 0);
	assert_int_equal(put_lines(s, want + wlen / 2, wlen - wlen / 2, 0, &refused), 10000);
	assert_int_equal(sink_close(&s), 0);

	got = malloc(wlen + 1);
	assert_non_null(got);
	gz = gzopen(p, "rb");
	assert_non_null(gz);
	while ((n = gzread(gz, buf, sizeof(buf))) > 0) {
		assert_true(glen + (size_t)n <= wlen);
		memcpy(got + glen, buf, (size_t)n);
		glen += (size_t)n;
	}
	assert_int_equal(n, 0);
	assert_int_equal(gzclose(gz), Z_OK);
	assert_int_equal(glen, wlen);
	assert_memory_equal(got, want, wlen);

	inflated = inflate_file(p, &ilen, &complete);
	assert_true(complete);  /* trailer written at close */
	assert_int_equal(ilen, wlen);
	free(inflated);
	free(got);
	free(want);
	free(p);
}

/* The promise behind sink_flush(): what was flushed survives a SIGKILL. */
static void test_gzip_survives_crash_after_flush(void **state)
{
	char *p = path_in(state, "crash.log.gz"), *flushed, *got;
	size_t flen, glen;
	int status, complete;
	pid_t pid;

	flushed = make_lines(0, 1000, &flen);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sink *s = NULL;
		int refused;

		if (sink_open(&s, p) || put_lines(s, flushed, flen, 0, &refused) != 1000 ||
		    sink_flush(s))
			_exit(2);
		/* Written but never flushed: lost with the process. */
		sink_write(s, "unflushed\n", 10, 0);
		_exit(1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	got = inflate_file(p, &glen, &complete);
	assert_false(complete);
	assert_int_equal(glen, flen);
	assert_memory_equal(got, flushed, flen);
	free(got);
	free(flushed);
	free(p);
}

static void check_reopen(void **state, const char *name, int gz)
{
	char *p = path_in(state, name), *rotated, *a, *b;
	struct sink *s = NULL;
	size_t alen, blen;
	int ca = 1, cb = 1;

	assert_true(asprintf(&rotated, "%s.1", p) > 0);
	assert_int_equal(sink_open(&s, p), 0);
	assert_int_equal(sink_write(s, "one\n", 4, 0), 0);
	assert_int_equal(rename(p, rotated), 0);
	assert_int_equal(sink_reopen(s), 0);
	assert_int_equal(sink_write(s, "two\n", 4, 0), 0);
	assert_int_equal(sink_close(&s), 0);
	if (gz) {
		a = inflate_file(rotated, &alen, &ca);
		b = inflate_file(p, &blen, &cb);
	} else {
		a = read_all(rotated, &alen);
		b = read_all(p, &blen);
	}
	assert_true(ca && cb);  /* both gzip members finished */
	assert_string_equal(a, "one\n");
	assert_string_equal(b, "two\n");
	free(a);
	free(b);
	free(rotated);
	free(p);
}

static void test_reopen_plain(void **state)
{
	check_reopen(state, "rot.log", 0);
}

static void test_reopen_gzip(void **state)
{
	check_reopen(state, "rot.log.gz", 1);
}

/* copytruncate-style rotation leaves the file in place: reopen must refuse
 * (O_EXCL) and keep writing to the old file. */
static void test_reopen_refused_keeps_old(void **state)
{
	char *p = path_in(state, "stay.log"), *got;
	struct sink *s = NULL;
	size_t len;

	assert_int_equal(sink_open(&s, p), 0);
	assert_int_equal(sink_write(s, "one\n", 4, 0), 0);
	assert_int_equal(sink_reopen(s), -EEXIST);
	assert_int_equal(sink_write(s, "two\n", 4, 0), 0);
	assert_int_equal(sink_close(&s), 0);
	got = read_all(p, &len);
	assert_string_equal(got, "one\ntwo\n");
	free(got);
	free(p);
}

/* --rotate-to: sealed, the file is whole before it is renamed (read here
 * while the sink still holds it open), and the reopen adds nothing to it. */
static void check_seal(void **state, const char *name, int gz)
{
	char *p = path_in(state, name), *rotated, *a, *b;
	struct sink *s = NULL;
	size_t alen, blen;
	int ca = 1, cb = 1, ma = 1, mb = 1;

	assert_true(asprintf(&rotated, "%s.1", p) > 0);
	assert_int_equal(sink_open(&s, p), 0);
	assert_int_equal(sink_write(s, "one\n", 4, 0), 0);
	assert_int_equal(sink_check_path(s), 0);
	assert_int_equal(sink_seal(s), 0);
	assert_int_equal(rename(p, rotated), 0);
	assert_int_equal(sink_check_path(s), -ENOENT);
	a = gz ? inflate_file_n(rotated, &alen, &ca, &ma) : read_all(rotated, &alen);
	assert_true(ca);
	assert_string_equal(a, "one\n");
	free(a);
	assert_int_equal(sink_reopen(s), 0);
	assert_int_equal(sink_write(s, "two\n", 4, 0), 0);
	assert_int_equal(sink_close(&s), 0);
	if (gz) {
		a = inflate_file_n(rotated, &alen, &ca, &ma);
		b = inflate_file_n(p, &blen, &cb, &mb);
	} else {
		a = read_all(rotated, &alen);
		b = read_all(p, &blen);
	}
	assert_true(ca && cb);
	assert_int_equal(ma, 1);   /* no empty member after the sealed one */
	assert_int_equal(mb, 1);
	assert_string_equal(a, "one\n");
	assert_string_equal(b, "two\n");
	free(a);
	free(b);
	free(rotated);
	free(p);
}

static void test_seal_plain(void **state)
{
	check_seal(state, "seal.log", 0);
}

static void test_seal_gzip(void **state)
{
	check_seal(state, "seal.log.gz", 1);
}

/* A rename that failed: the records go on into the sealed file, a gzip
 * one in a second member; another file at the path is not ours. */
static void test_seal_then_keep_writing(void **state)
{
	char *p = path_in(state, "keep.log.gz"), *other = path_in(state, "keep.other"), *got;
	struct sink *s = NULL;
	size_t len;
	int complete = 0, members = 0;

	assert_int_equal(sink_open(&s, p), 0);
	assert_int_equal(sink_write(s, "one\n", 4, 0), 0);
	assert_int_equal(sink_seal(s), 0);
	assert_int_equal(sink_write(s, "two\n", 4, 0), 0);
	assert_int_equal(sink_flush(s), 0);
	assert_int_equal(rename(p, other), 0);
	assert_int_equal(symlink(other, p), 0);
	assert_int_equal(sink_check_path(s), -ESTALE);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(rename(other, p), 0);
	assert_int_equal(sink_close(&s), 0);
	got = inflate_file_n(p, &len, &complete, &members);
	assert_true(complete);
	assert_int_equal(members, 2);
	assert_string_equal(got, "one\ntwo\n");
	free(got);
	free(other);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refuses_existing_file),
		cmocka_unit_test(test_refuses_symlink),
		cmocka_unit_test(test_mode_0600_and_kinds),
		cmocka_unit_test(test_plain_roundtrip),
		cmocka_unit_test(test_gzip_roundtrip),
		cmocka_unit_test(test_gzip_survives_crash_after_flush),
		cmocka_unit_test(test_reopen_plain),
		cmocka_unit_test(test_reopen_gzip),
		cmocka_unit_test(test_reopen_refused_keeps_old),
		cmocka_unit_test(test_seal_plain),
		cmocka_unit_test(test_seal_gzip),
		cmocka_unit_test(test_seal_then_keep_writing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
