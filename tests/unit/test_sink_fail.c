// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Sinks that fail: /dev/full, a closed or stalled pipe, stdout's reader,
 * a disk that fills and frees (RLIMIT_FSIZE, without root). What was taken
 * is written or counted, never half a record, never twice.
 */
#include "sink_test_util.h"

/* /dev/full: the buffer keeps what it took, refuses what does not fit,
 * retries only when asked, and gives up (counted per tag) at close. */
static void check_dev_full(int gzip)
{
	struct sink *s = NULL;
	struct sink_stats st;
	int fd = open("/dev/full", O_WRONLY | O_CLOEXEC), taken = 0, refused = 0;

	assert_true(fd >= 0);
	assert_int_equal(sink_open_fd(&s, fd, gzip), 0);
	assert_int_equal(sink_write(s, "a\nbb\n", 5, 1), 0);
	assert_int_equal(sink_flush(s), -ENOSPC);
	assert_int_equal(sink_error(s), -ENOSPC);
	sink_stats(s, &st);
	assert_int_equal(st.write_errors, 1);
	assert_int_equal(st.last_errno, ENOSPC);
	for (int i = 0; i < 100000; i++) {
		int err = sink_write(s, "0123456789\n", 11, 0);

		if (err) {
			assert_true(err == -ENOSPC || err == -EIO);
			refused++;
		} else {
			taken++;
		}
	}
	assert_int_equal(taken + refused, 100000);
	sink_stats(s, &st);
	/* a failing sink costs no write per record: only sink_flush retries */
	assert_true(st.write_errors <= 2);
	if (!gzip)
		assert_int_equal(taken, (65536 - 5) / 11);
	assert_int_equal(sink_close_wait(&s, 0, &st) != 0, 1);
	assert_null(s);
	assert_int_equal(st.bytes_written, 0);
	assert_int_equal(st.dropped[0], (unsigned long long)taken);
	assert_int_equal(st.dropped[1], 1);
	assert_int_equal(st.bytes_dropped, 5 + 11ULL * taken);
}

static void test_full_disk_plain(void **state)
{
	(void)state;
	check_dev_full(0);
}

static void test_full_disk_gzip(void **state)
{
	(void)state;
	check_dev_full(1);
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
	assert_int_equal(sink_write(s, "x\n", 2, 0), 0);
	assert_int_equal(sink_flush(s), -EPIPE);
	sink_stats(s, &st);
	assert_int_equal(st.last_errno, EPIPE);
	sink_close_wait(&s, 0, &st);
	assert_int_equal(st.dropped[0], 1);
}

/*
 * A reader that stops (a full non-blocking pipe): it never sees half a
 * line, a record that does not fit is refused whole, a flush says -EAGAIN
 * without waiting, and once the reader reads, every record that was taken
 * arrives whole and in order.
 */
static void test_stalled_pipe_whole_lines(void **state)
{
	char line[1000], got[128 * 1024];
	struct sink *s = NULL;
	struct sink_stats st;
	size_t glen = 0;
	ssize_t r;
	int pfd[2], taken = 0, err = 0;

	(void)state;
	assert_int_equal(pipe2(pfd, O_NONBLOCK), 0);
	assert_int_equal(fcntl(pfd[1], F_SETPIPE_SZ, 4096), 4096);
	assert_int_equal(sink_open_fd(&s, pfd[1], 0), 0);
	for (int i = 0; i < 70 && !err; i++) {
		memset(line, 'a' + i % 26, sizeof(line) - 1);
		line[sizeof(line) - 1] = '\n';
		err = sink_write(s, line, sizeof(line), 0);
		taken += !err;
	}
	/* 64 records fill the 64 KiB buffer; the 4 KiB pipe takes 4 of them */
	assert_int_equal(err, -EAGAIN);
	assert_true(taken >= 64 && taken <= 69);
	assert_int_equal(sink_flush(s), -EAGAIN);
	assert_int_equal(sink_write(s, line, sizeof(line), 0), -EAGAIN);
	while ((r = read(pfd[0], got + glen, sizeof(got) - glen)) > 0)
		glen += (size_t)r;
	assert_int_equal(glen % 1000, 0);   /* whole lines only */
	while (sink_flush(s) == -EAGAIN) {
		while ((r = read(pfd[0], got + glen, sizeof(got) - glen)) > 0)
			glen += (size_t)r;
		assert_true(glen % 1000 == 0 && glen <= sizeof(got));
	}
	while ((r = read(pfd[0], got + glen, sizeof(got) - glen)) > 0)
		glen += (size_t)r;
	assert_int_equal(glen, 1000 * (size_t)taken);
	for (int i = 0; i < taken; i++) {
		for (int k = 0; k < 999; k++)
			assert_int_equal(got[i * 1000 + k], 'a' + i % 26);
		assert_int_equal(got[i * 1000 + 999], '\n');
	}
	sink_close_wait(&s, 0, &st);
	assert_int_equal(st.dropped[0], 0);
	assert_int_equal(st.bytes_written, 1000 * (unsigned long long)taken);
	close(pfd[0]);
}

/*
 * A pipe of the default size: an empty one takes a big write, a full one
 * takes PIPE_BUF at most. Whichever it got, each time the reader stops,
 * what it has ends with a whole line, and all of it comes in order.
 */
static void test_pipe_writes_whole_records(void **state)
{
	char rec[4000], *got = malloc(16 << 20), *want = malloc(16 << 20);
	struct sink *s = NULL;
	size_t glen = 0, wlen = 0;
	int pfd[2], stops = 0;
	ssize_t r;

	(void)state;
	assert_non_null(got);
	assert_non_null(want);
	assert_int_equal(pipe2(pfd, O_NONBLOCK), 0);
	assert_int_equal(sink_open_fd(&s, pfd[1], 0), 0);
	for (int i = 0; i < 20000; i++) {
		/* records of 20 to 3019 bytes */
		int n = 20 + (i * 7919) % 3000;

		memset(rec, 'a' + i % 26, (size_t)n - 1);
		rec[n - 1] = '\n';
		if (!sink_write(s, rec, (size_t)n, 0)) {
			memcpy(want + wlen, rec, (size_t)n);
			wlen += (size_t)n;
		}
		if (i % 100 == 99 && sink_flush(s) == -EAGAIN) {
			size_t before = glen;

			/* now and then the reader takes 10 KB only: the pipe
			 * stays part full for the next write */
			if (i % 300 == 99) {
				r = read(pfd[0], got + glen, 10000);
				glen += r > 0 ? (size_t)r : 0;
				continue;
			}
			/* else all there is, then stops: a whole line */
			while ((r = read(pfd[0], got + glen, (16 << 20) - glen)) > 0)
				glen += (size_t)r;
			if (glen > before) {
				assert_int_equal(got[glen - 1], '\n');
				stops++;
			}
		}
	}
	for (;;) {
		int err = sink_flush(s);

		r = read(pfd[0], got + glen, (16 << 20) - glen);
		if (r > 0)
			glen += (size_t)r;
		if (!err && r <= 0)
			break;
	}
	assert_true(stops > 10);
	assert_int_equal(glen, wlen);
	assert_memory_equal(got, want, wlen);
	sink_close(&s);
	close(pfd[0]);
	free(got);
	free(want);
}

/* stdout goes through a descriptor of its own, non-blocking: a reader that
 * never reads costs what did not fit, counted at close, and close returns
 * when the time given is up. */
static void test_stdout_sink(void **state)
{
	struct sink *s = NULL;
	struct sink_stats st;
	char got[64];
	int pfd[2], saved, fl;
	ssize_t n;

	(void)state;
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(dup2(pfd[1], STDOUT_FILENO), STDOUT_FILENO);
	assert_int_equal(sink_open(&s, "-"), 0);
	assert_int_equal(sink_kind(s), SINK_STDOUT);
	assert_string_equal(sink_path(s), "-");
	assert_int_equal(sink_write(s, "hello\n", 6, 0), 0);
	assert_int_equal(sink_reopen(s), 0);  /* no path: just a flush */
	assert_int_equal(sink_close(&s), 0);
	/* fd 1 itself was left blocking, and survives sink_close */
	fl = fcntl(STDOUT_FILENO, F_GETFL);
	assert_true(fl >= 0 && !(fl & O_NONBLOCK));
	assert_int_equal(write(STDOUT_FILENO, "x", 1), 1);
	n = read(pfd[0], got, sizeof(got) - 1);
	assert_int_equal(n, 7);
	got[n] = '\0';
	assert_string_equal(got, "hello\nx");
	/* a reader that does not read: 64 KiB in the pipe, the rest given up */
	assert_int_equal(sink_open(&s, NULL), 0);
	for (int i = 0; i < 30000; i++)
		sink_write(s, "0123456789abcdefghijklmnopqrstu\n", 32, 0);
	{
		long long t0 = 0, t1;
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		t0 = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
		sink_close_wait(&s, 200, &st);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		t1 = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
		assert_true(t1 - t0 >= 150 && t1 - t0 < 2000);
	}
	assert_true(st.dropped[0] > 0);
	assert_int_equal(st.dropped[0] + st.bytes_written / 32, 30000);
	assert_int_equal(st.bytes_written % 32, 0);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(pfd[1]);
	close(pfd[0]);
	assert_int_equal(sink_open_fd(&s, -1, 0), -EBADF);
	assert_int_equal(sink_open_fd(&s, 987, 0), -EBADF);
}

/*
 * A big stdout buffer and a reader that takes a little now and then: the
 * records taken arrive whole, in order, none twice, whatever moves inside
 * the buffer to make room; the ones refused are exactly the ones missing.
 */
static void test_stdout_big_buffer_slow_reader(void **state)
{
	struct sink *s = NULL;
	struct sink_stats st;
	char rec[64], *got = malloc(8 << 20);
	size_t glen = 0;
	ssize_t r;
	int pfd[2], saved, fl;
	unsigned char *taken = calloc(100000, 1);
	int ntaken = 0;

	(void)state;
	assert_non_null(got);
	assert_non_null(taken);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(dup2(pfd[1], STDOUT_FILENO), STDOUT_FILENO);
	close(pfd[1]);
	fl = fcntl(pfd[0], F_GETFL);
	assert_int_equal(fcntl(pfd[0], F_SETFL, fl | O_NONBLOCK), 0);
	assert_int_equal(sink_open_stdout(&s, 0, 1 << 20), 0);
	for (int i = 0; i < 100000; i++) {
		int n = snprintf(rec, sizeof(rec), "record %06d %.*s\n", i, i % 40, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");

		if (!sink_write(s, rec, (size_t)n, 0)) {
			taken[i] = 1;
			ntaken++;
		}
		if (i % 1000 == 999) {
			sink_flush(s);
			/* the reader takes 32 KiB, now and then: the buffer
			 * fills, and room is made a little at a time */
			if (i % 2000 == 1999 && (r = read(pfd[0], got + glen, 32768)) > 0)
				glen += (size_t)r;
		}
	}
	for (;;) {
		int err = sink_flush(s);

		r = read(pfd[0], got + glen, (8 << 20) - glen);
		if (r > 0)
			glen += (size_t)r;
		if (!err && r <= 0)
			break;
	}
	assert_int_equal(sink_close_wait(&s, 0, &st), 0);
	while ((r = read(pfd[0], got + glen, (8 << 20) - glen)) > 0)
		glen += (size_t)r;
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(pfd[0]);
	assert_true(ntaken > 10000 && ntaken < 100000);
	assert_true(st.bytes_written > (3u << 19));   /* more than the buffer went through it */
	assert_int_equal(st.bytes_written, glen);
	assert_int_equal(st.dropped[0], 0);
	/* line by line: the records taken, in order */
	{
		char *p = got, *end = got + glen;
		int i = -1;

		for (int k = 0; k < ntaken; k++) {
			char *nl = memchr(p, '\n', (size_t)(end - p));
			int want;

			assert_non_null(nl);
			do
				i++;
			while (!taken[i]);
			want = snprintf(rec, sizeof(rec), "record %06d %.*s\n", i, i % 40,
					"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
			assert_int_equal(nl + 1 - p, want);
			assert_memory_equal(p, rec, (size_t)want);
			p = nl + 1;
		}
		assert_true(p == end);
	}
	free(got);
	free(taken);
}

/*
 * A disk that fills and frees again, without root: RLIMIT_FSIZE makes a
 * write past the limit fail (EFBIG) as ENOSPC would. The file must end on
 * a whole record (plain) or a complete gzip flush while it fails, keep no
 * record twice, and hold every record taken once the limit is raised.
 */
static void check_disk_fills_and_frees(void **state, const char *name, int gz)
{
	char *p = path_in(state, name), *want, *got;
	struct rlimit rl, low;
	struct sink *s = NULL;
	struct sink_stats st;
	size_t wlen, glen, off = 0, kept = 0;
	int taken = 0, refused = 0, complete, members, err = 0;
	char *keep;

	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &rl), 0);
	want = make_lines(0, 20000, &wlen);
	keep = malloc(wlen + 1);
	assert_non_null(keep);
	assert_int_equal(sink_open(&s, p), 0);
	low = rl;
	low.rlim_cur = gz ? 30000 : 100000;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &low), 0);
	/* write until the sink refuses: the disk is full and the buffer too */
	while (off < wlen && !err) {
		const char *nl = memchr(want + off, '\n', wlen - off);
		size_t n = (size_t)(nl - (want + off)) + 1;

		err = sink_write(s, want + off, n, 0);
		if (!err) {
			memcpy(keep + kept, want + off, n);
			kept += n;
			taken++;
		}
		off += n;
	}
	assert_int_equal(err, -EFBIG);
	assert_int_equal(sink_flush(s), -EFBIG);
	/* the disk took what fitted: a few more records may fit the buffer */
	for (int i = 0; i < 100; i++) {
		if (sink_write(s, "later\n", 6, 0)) {
			refused++;
			continue;
		}
		memcpy(keep + kept, "later\n", 6);
		kept += 6;
	}
	assert_true(refused >= 90);
	/* meanwhile the file is whole up to where it stops */
	if (gz) {
		/* the member the failure cut is already ended, when 10 bytes fit */
		got = inflate_file_n(p, &glen, &complete, &members);
		assert_int_equal(members, 1);
	} else {
		got = read_all(p, &glen);
	}
	assert_true(glen > 0 && glen < kept);
	assert_int_equal(got[glen - 1], '\n');
	assert_memory_equal(got, keep, glen);
	free(got);
	/* space again: the records kept go out, then new ones */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
	assert_int_equal(sink_flush(s), 0);
	assert_int_equal(sink_write(s, "after\n", 6, 0), 0);
	memcpy(keep + kept, "after\n", 6);
	kept += 6;
	assert_int_equal(sink_close_wait(&s, 0, &st), 0);
	assert_int_equal(st.dropped[0], 0);
	assert_true(st.write_errors >= 1);
	if (gz) {
		got = inflate_file_n(p, &glen, &complete, &members);
		assert_true(complete);
		assert_true(members >= 2);   /* the cut one, ended, and a new one */
	} else {
		got = read_all(p, &glen);
	}
	assert_int_equal(glen, kept);
	assert_memory_equal(got, keep, kept);
	free(got);
	free(keep);
	free(want);
	free(p);
	signal(SIGXFSZ, SIG_DFL);
}

static void test_disk_fills_and_frees_plain(void **state)
{
	check_disk_fills_and_frees(state, "fill.jsonl", 0);
}

static void test_disk_fills_and_frees_gzip(void **state)
{
	check_disk_fills_and_frees(state, "fill.jsonl.gz", 1);
}

/* Rotation while the disk is full: the records the old file could not
 * take go to the new one, and the old one still ends whole. */
static void test_reopen_moves_kept_records(void **state)
{
	char *p = path_in(state, "rotfull.jsonl"), *rotated, *a, *b, *want;
	struct rlimit rl, low;
	struct sink *s = NULL;
	size_t alen, blen, wlen;
	int refused, taken;

	signal(SIGXFSZ, SIG_IGN);
	assert_true(asprintf(&rotated, "%s.1", p) > 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &rl), 0);
	want = make_lines(0, 3000, &wlen);
	assert_int_equal(sink_open(&s, p), 0);
	low = rl;
	low.rlim_cur = 50000;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &low), 0);
	taken = put_lines(s, want, wlen, 0, &refused);
	assert_true(refused > 0);
	assert_int_equal(sink_flush(s), -EFBIG);
	assert_int_equal(rename(p, rotated), 0);
	assert_int_equal(sink_reopen(s), 0);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
	assert_int_equal(sink_close(&s), 0);
	a = read_all(rotated, &alen);
	b = read_all(p, &blen);
	assert_true(alen > 0 && blen > 0);
	assert_int_equal(a[alen - 1], '\n');
	assert_int_equal(alen + blen, (size_t)taken * (wlen / 3000));
	assert_memory_equal(a, want, alen);
	assert_memory_equal(b, want + alen, blen);
	free(a);
	free(b);
	free(want);
	free(rotated);
	free(p);
	signal(SIGXFSZ, SIG_DFL);
}

/* --rotate-to on a full disk: the seal fails and keeps every record (the
 * file is not renamed then); once there is room it seals the whole file. */
static void test_seal_on_full_disk(void **state)
{
	char *p = path_in(state, "sealfull.jsonl"), *a, *want;
	struct rlimit rl, low;
	struct sink *s = NULL;
	size_t alen, wlen;
	int refused, taken;

	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &rl), 0);
	want = make_lines(0, 3000, &wlen);
	assert_int_equal(sink_open(&s, p), 0);
	low = rl;
	low.rlim_cur = 50000;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &low), 0);
	taken = put_lines(s, want, wlen, 0, &refused);
	assert_true(refused > 0);
	assert_int_equal(sink_seal(s), -EFBIG);
	assert_true(sink_pending(s) > 0);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
	assert_int_equal(sink_seal(s), 0);
	assert_int_equal(sink_pending(s), 0);
	a = read_all(p, &alen);
	assert_int_equal(alen, (size_t)taken * (wlen / 3000));
	assert_memory_equal(a, want, alen);
	assert_int_equal(sink_close(&s), 0);
	free(a);
	free(want);
	free(p);
	signal(SIGXFSZ, SIG_DFL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_disk_plain),
		cmocka_unit_test(test_full_disk_gzip),
		cmocka_unit_test(test_epipe_reported),
		cmocka_unit_test(test_stalled_pipe_whole_lines),
		cmocka_unit_test(test_pipe_writes_whole_records),
		cmocka_unit_test(test_stdout_sink),
		cmocka_unit_test(test_stdout_big_buffer_slow_reader),
		cmocka_unit_test_teardown(test_disk_fills_and_frees_plain, restore_limits),
		cmocka_unit_test_teardown(test_disk_fills_and_frees_gzip, restore_limits),
		cmocka_unit_test_teardown(test_reopen_moves_kept_records, restore_limits),
		cmocka_unit_test_teardown(test_seal_on_full_disk, restore_limits),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
