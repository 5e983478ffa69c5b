/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Files in the unit tests: a whole file read into memory, and a scratch
 * directory removed. Include after <cmocka.h> (its includes first). Static
 * inline so that a test binary that does not use one does not warn.
 */
#ifndef TT_FILE_TEST_UTIL_H
#define TT_FILE_TEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The file's bytes, NUL-terminated; *len (if len) its size. A missing
 * file fails the test: fixtures are read from the repository root. */
static inline char *tu_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t size = 0;
	FILE *m = open_memstream(&buf, &size);
	char tmp[65536];
	size_t n;

	if (!f)
		fail_msg("cannot open %s: %s (run the test from the repository root)",
			 path, strerror(errno));
	assert_non_null(m);
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		fwrite(tmp, 1, n, m);
	fclose(f);
	fclose(m);
	if (len)
		*len = size;
	return buf;
}

static inline int tu_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb; (void)flag; (void)f;
	return remove(p);
}

/* dir and everything below it, as rm -rf */
static inline void tu_rm_tree(const char *dir)
{
	nftw(dir, tu_rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* stdout and stderr of the code under test, into the files out and err */
struct tu_stdio {
	int out, err;
};

static inline void tu_stdio_to(struct tu_stdio *s, const char *out, const char *err)
{
	int fo, fe;

	fflush(stdout);
	fflush(stderr);
	fo = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	fe = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fo >= 0 && fe >= 0);
	s->out = dup(1);
	s->err = dup(2);
	dup2(fo, 1);
	dup2(fe, 2);
	close(fo);
	close(fe);
}

static inline void tu_stdio_back(struct tu_stdio *s)
{
	fflush(stdout);
	fflush(stderr);
	dup2(s->out, 1);
	dup2(s->err, 2);
	close(s->out);
	close(s->err);
}

#endif
