// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "sink.h"

struct ctx {
	char dir[64];
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	strcpy(c->dir, "/tmp/tt-sink-XXXXXX");
	if (!mkdtemp(c->dir))
		return -1;
	/* The process ignores SIGPIPE in production; EPIPE tests rely on it. */
	signal(SIGPIPE, SIG_IGN);
	umask(022);
	*state = c;
	return 0;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(p);
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	nftw(c->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
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

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	assert_non_null(f);
	do {
		if (cap - n < 4096) {
			cap = cap ? 2 * cap : 65536;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* What "gzip -t" / zcat would recover: inflates as far as the data goes and
 * reports whether the member ended properly (trailer present). */
static char *inflate_file(const char *path, size_t *len, int *complete)
{
	size_t zlen, cap = 1 << 20;
	char *z = read_all(path, &zlen), *out = malloc(cap + 1);
	z_stream zs = { 0 };
	int rc;

	assert_non_null(out);
	assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
	zs.next_in = (unsigned char *)z;
	zs.avail_in = (uInt)zlen;
	do {
		if (zs.total_out == cap) {
			cap *= 2;
			out = realloc(out, cap + 1);
			assert_non_null(out);
		}
		zs.next_out = (unsigned char *)out + zs.total_out;
		zs.avail_out = (uInt)(cap - zs.total_out);
		rc = inflate(&zs, Z_NO_FLUSH);
	} while (rc == Z_OK);
	/* Z_BUF_ERROR = input ended early: a missing trailer, not corruption. */
	if (rc != Z_STREAM_END && rc != Z_BUF_ERROR)
		fail_msg("corrupt gzip stream %s: %d %s", path, rc, zs.msg ? zs.msg : "");
	*complete = rc == Z_STREAM_END && zs.avail_in == 0;
	*len = zs.total_out;
	out[*len] = '\0';
	inflateEnd(&zs);
	free(z);
	return out;
}

/* n lines like "line 000042 <padding>\n", built with snprintf on purpose:
 * the sink must not care how lines were made. */
static char *make_lines(int first, int n, size_t *len)
{
	char *buf = malloc((size_t)n * 64 + 1), *p = buf;

	assert_non_null(buf);
	for (int i = first; i < first + n; i++)
		p += sprintf(p, "line %06d state=ESTABLISHED comm=curl\n", i);
	*len = (size_t)(p - buf);
	return buf;
}

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

	want = make_lines(0, 5000, &wlen);  /* > 64 KiB: several drains */
	assert_true(wlen > 3 * 65536);
	assert_int_equal(sink_open(&s, p), 0);
	for (size_t off = 0; off < wlen;) {
		const char *nl = memchr(want + off, '\n', wlen - off);
		size_t n = (size_t)(nl - (want + off)) + 1;

		assert_int_equal(sink_write(s, want + off, n), 0);
		off += n;
	}
	assert_int_equal(sink_flush(s), 0);
	got = read_all(p, &glen);
	assert_int_equal(glen, wlen);
	assert_memory_equal(got, want, wlen);
	free(got);
	sink_stats(s, &st);
	assert_int_equal(st.bytes_written, wlen);
	assert_int_equal(st.bytes_dropped, 0);
	assert_int_equal(st.write_errors, 0);
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
	int n, complete;

	want = make_lines(0, 20000, &wlen);
	assert_int_equal(sink_open(&s, p), 0);
	assert_int_equal(sink_write(s, want, wlen / 2), 0);
	assert_int_equal(sink_flush(s), 0);
	assert_int_equal(sink_write(s, want + wlen / 2, wlen - wlen / 2), 0);
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

	flushed = make_lines(0, 3000, &flen);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sink *s = NULL;

		if (sink_open(&s, p) || sink_write(s, flushed, flen) || sink_flush(s))
			_exit(2);
		/* Written but never flushed: lost with the process. */
		sink_write(s, "unflushed\n", 10);
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
	assert_int_equal(sink_write(s, "one\n", 4), 0);
	assert_int_equal(rename(p, rotated), 0);
	assert_int_equal(sink_reopen(s), 0);
	assert_int_equal(sink_write(s, "two\n", 4), 0);
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
	assert_int_equal(sink_write(s, "one\n", 4), 0);
	assert_int_equal(sink_reopen(s), -EEXIST);
	assert_int_equal(sink_write(s, "two\n", 4), 0);
	assert_int_equal(sink_close(&s), 0);
	got = read_all(p, &len);
	assert_string_equal(got, "one\ntwo\n");
	free(got);
	free(p);
}

static void test_full_disk_plain(void **state)
{
	struct sink *s = NULL;
	char name[32];
	struct sink_stats st;
	int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(sink_open_fd(&s, fd, 0), 0);
	snprintf(name, sizeof(name), "fd:%d", fd);
	assert_string_equal(sink_path(s), name);
	assert_int_equal(sink_write(s, "a\nbb\nccc\n", 9), 0);
	assert_int_equal(sink_flush(s), -ENOSPC);
	sink_stats(s, &st);
	assert_int_equal(st.bytes_written, 0);
	assert_int_equal(st.bytes_dropped, 9);
	assert_int_equal(st.lines_dropped, 3);
	assert_int_equal(st.write_errors, 1);
	assert_int_equal(st.last_errno, ENOSPC);
	/* Sticky, and every later line is counted, not retried forever. */
	assert_int_equal(sink_write(s, "d\n", 2), -ENOSPC);
	for (int i = 0; i < 100000; i++)
		sink_write(s, "0123456789\n", 11);
	assert_int_equal(sink_close(&s), -ENOSPC);
	assert_null(s);
	/* The counters of a closed sink are gone; re-run to read them. */
	fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
	assert_int_equal(sink_open_fd(&s, fd, 0), 0);
	for (int i = 0; i < 100000; i++)
		sink_write(s, "0123456789\n", 11);
	sink_flush(s);
	sink_stats(s, &st);
	assert_int_equal(st.bytes_dropped, 1100000);
	assert_int_equal(st.lines_dropped, 100000);
	/* One failed write per 64 KiB buffer, not one per line or a loop. */
	assert_true(st.write_errors >= 16 && st.write_errors <= 18);
	sink_close(&s);
}

static void test_full_disk_gzip_stops(void **state)
{
	struct sink *s = NULL;
	struct sink_stats st;
	int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(sink_open_fd(&s, fd, 1), 0);
	assert_int_equal(sink_kind(s), SINK_GZIP);
	assert_int_equal(sink_write(s, "a\nb\n", 4), 0);
	assert_int_equal(sink_flush(s), -ENOSPC);
	for (int i = 0; i < 100000; i++)
		assert_int_equal(sink_write(s, "0123456789\n", 11), -ENOSPC);
	assert_int_equal(sink_flush(s), -ENOSPC);
	sink_stats(s, &st);
	assert_int_equal(st.bytes_written, 0);
	assert_int_equal(st.lines_dropped, 100002);
	assert_int_equal(st.bytes_dropped, 4 + 1100000);
	/* After the first failure nothing more is written at all. */
	assert_int_equal(st.write_errors, 1);
	assert_int_equal(st.last_errno, ENOSPC);
	assert_int_equal(sink_close(&s), -ENOSPC);
}

static void test_epipe_reported(void **state)
{
	struct sink *s = NULL;
	struct sink_stats st;
	int pfd[2];

	(void)state;
	assert_int_equal(pipe(pfd), 0);
	close(pfd[0]);
	assert_int_equal(sink_open_fd(&s, pfd[1], 0), 0);
	assert_int_equal(sink_write(s, "x\n", 2), 0);
	assert_int_equal(sink_flush(s), -EPIPE);
	assert_int_equal(sink_write(s, "y\n", 2), -EPIPE);
	sink_stats(s, &st);
	assert_int_equal(st.last_errno, EPIPE);
	assert_int_equal(st.lines_dropped, 1);
	sink_close(&s);
}

/* A write cut mid-line (here: a full non-blocking pipe) must not leave a
 * half record glued to the next one: the rest of the cut line is kept and
 * completed by the next flush, the lines after it are dropped and counted. */
static void test_cut_line_is_completed(void **state)
{
	char line[1000], got[8192];
	struct sink *s = NULL;
	struct sink_stats st;
	size_t glen = 0;
	ssize_t r;
	int pfd[2];

	(void)state;
	assert_int_equal(pipe2(pfd, O_NONBLOCK), 0);
	assert_int_equal(fcntl(pfd[1], F_SETPIPE_SZ, 4096), 4096);
	assert_int_equal(sink_open_fd(&s, pfd[1], 0), 0);
	for (int i = 0; i < 6; i++) {
		memset(line, 'a' + i, sizeof(line) - 1);
		line[sizeof(line) - 1] = '\n';
		assert_int_equal(sink_write(s, line, sizeof(line)), 0);
	}
	assert_int_equal(sink_flush(s), -EAGAIN);
	sink_stats(s, &st);
	assert_int_equal(st.bytes_written, 4096);
	assert_int_equal(st.lines_dropped, 1);     /* the 6th line */
	assert_int_equal(st.bytes_dropped, 1000);
	while ((r = read(pfd[0], got + glen, sizeof(got) - glen)) > 0)
		glen += (size_t)r;
	assert_int_equal(sink_flush(s), 0);       /* completes line 5 */
	while ((r = read(pfd[0], got + glen, sizeof(got) - glen)) > 0)
		glen += (size_t)r;
	assert_int_equal(glen, 5000);
	for (int i = 0; i < 5; i++) {
		for (int k = 0; k < 999; k++)
			assert_int_equal(got[i * 1000 + k], 'a' + i);
		assert_int_equal(got[i * 1000 + 999], '\n');
	}
	sink_stats(s, &st);
	assert_int_equal(st.bytes_written, 5000);
	assert_int_equal(st.lines_dropped, 1);
	assert_int_equal(sink_write(s, "z\n", 2), -EAGAIN);  /* still sticky */
	sink_close(&s);
	close(pfd[0]);
}

static void test_stdout_sink(void **state)
{
	struct sink *s = NULL;
	char got[64];
	int pfd[2], saved;
	ssize_t n;

	(void)state;
	assert_int_equal(sink_open(&s, "-"), 0);
	assert_int_equal(sink_kind(s), SINK_STDOUT);
	assert_string_equal(sink_path(s), "-");
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(dup2(pfd[1], STDOUT_FILENO), STDOUT_FILENO);
	assert_int_equal(sink_write(s, "hello\n", 6), 0);
	assert_int_equal(sink_reopen(s), 0);  /* no path: just a flush */
	assert_int_equal(sink_close(&s), 0);
	/* stdout must survive sink_close. */
	assert_int_equal(write(STDOUT_FILENO, "x", 1), 1);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(pfd[1]);
	n = read(pfd[0], got, sizeof(got) - 1);
	close(pfd[0]);
	assert_int_equal(n, 7);
	got[n] = '\0';
	assert_string_equal(got, "hello\nx");
	assert_int_equal(sink_open(&s, NULL), 0);
	assert_int_equal(sink_kind(s), SINK_STDOUT);
	sink_close(&s);
	assert_int_equal(sink_open_fd(&s, -1, 0), -EBADF);
	assert_int_equal(sink_open_fd(&s, 987, 0), -EBADF);
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
		cmocka_unit_test(test_full_disk_plain),
		cmocka_unit_test(test_full_disk_gzip_stops),
		cmocka_unit_test(test_epipe_reported),
		cmocka_unit_test(test_cut_line_is_completed),
		cmocka_unit_test(test_stdout_sink),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
