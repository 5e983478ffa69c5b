/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What the sink tests share (test_sink.c: files, gzip, rotation;
 * test_sink_fail.c: full disks, stalled readers). Static inline so that a
 * test binary that does not use one does not warn.
 */
#ifndef TT_SINK_TEST_UTIL_H
#define TT_SINK_TEST_UTIL_H

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
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "sink.h"

struct ctx {
	char dir[64];
};

/* the disk-full tests lower it: a failed one must not leave it low */
static struct rlimit fsize_limit;

static inline int setup(void **state)
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
	if (getrlimit(RLIMIT_FSIZE, &fsize_limit))
		return -1;
	*state = c;
	return 0;
}

static inline int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(p);
}

static inline int teardown(void **state)
{
	struct ctx *c = *state;

	nftw(c->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(c);
	return 0;
}

/* After each disk-full test, even a failed one: the limit back as it was. */
static inline int restore_limits(void **state)
{
	(void)state;
	signal(SIGXFSZ, SIG_DFL);
	return setrlimit(RLIMIT_FSIZE, &fsize_limit);
}

static inline char *path_in(void **state, const char *name)
{
	struct ctx *c = *state;
	char *p;

	assert_true(asprintf(&p, "%s/%s", c->dir, name) > 0);
	return p;
}

static inline char *read_all(const char *path, size_t *len)
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

/* What zcat would recover: inflates member after member as far as the data
 * goes; *members counts them, *complete says whether the last one ended
 * properly (trailer present) with nothing after it. Corruption fails. */
static inline char *inflate_file_n(const char *path, size_t *len, int *complete, int *members)
{
	size_t zlen, cap = 1 << 20;
	char *z = read_all(path, &zlen), *out = malloc(cap + 1);
	z_stream zs = { 0 };
	int rc = Z_OK;

	assert_non_null(out);
	*members = 0;
	*len = 0;
	assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
	zs.next_in = (unsigned char *)z;
	zs.avail_in = (uInt)zlen;
	while (zs.avail_in) {
		(*members)++;
		do {
			if (*len == cap) {
				cap *= 2;
				out = realloc(out, cap + 1);
				assert_non_null(out);
			}
			zs.next_out = (unsigned char *)out + *len;
			zs.avail_out = (uInt)(cap - *len);
			rc = inflate(&zs, Z_NO_FLUSH);
			*len = (size_t)((char *)zs.next_out - out);
		} while (rc == Z_OK);
		/* Z_BUF_ERROR = input ended early: a missing trailer, not corruption. */
		if (rc != Z_STREAM_END && rc != Z_BUF_ERROR)
			fail_msg("corrupt gzip stream %s: %d %s", path, rc, zs.msg ? zs.msg : "");
		if (rc != Z_STREAM_END)
			break;
		assert_int_equal(inflateReset(&zs), Z_OK);
	}
	*complete = rc == Z_STREAM_END && zs.avail_in == 0;
	out[*len] = '\0';
	inflateEnd(&zs);
	free(z);
	return out;
}

static inline char *inflate_file(const char *path, size_t *len, int *complete)
{
	int members;

	return inflate_file_n(path, len, complete, &members);
}

/* n lines like "line 000042 <padding>\n", built with snprintf on purpose:
 * the sink must not care how lines were made. */
static inline char *make_lines(int first, int n, size_t *len)
{
	char *buf = malloc((size_t)n * 64 + 1), *p = buf;

	assert_non_null(buf);
	for (int i = first; i < first + n; i++)
		p += sprintf(p, "line %06d state=ESTABLISHED comm=curl\n", i);
	*len = (size_t)(p - buf);
	return buf;
}

/* Writes buf line by line, one record each; returns how many were taken. */
static inline int put_lines(struct sink *s, const char *buf, size_t len, unsigned tag, int *refused)
{
	int taken = 0;

	*refused = 0;
	for (size_t off = 0; off < len;) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t n = (size_t)(nl - (buf + off)) + 1;

		if (sink_write(s, buf + off, n, tag))
			(*refused)++;
		else
			taken++;
		off += n;
	}
	return taken;
}


#endif
