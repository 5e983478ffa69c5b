/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Files in the unit tests: a whole file read into memory, and a scratch
 * directory removed. Include after <cmocka.h> (its includes first). Static
 * inline so that a test binary that does not use one does not warn.
 */
#ifndef TT_FILE_TEST_UTIL_H
#define TT_FILE_TEST_UTIL_H

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#endif
