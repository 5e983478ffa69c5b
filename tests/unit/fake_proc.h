/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Fake /proc trees in a temp dir, for the owner tests (owners_scan takes its
 * proc directory for this reason). Include after <cmocka.h>.
 */
#ifndef TT_TEST_FAKE_PROC_H
#define TT_TEST_FAKE_PROC_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct tree {
	char root[64];
};

static inline int tree_setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	/* tmpfs when there is one: symlink() on a disk can be slow */
	strcpy(t->root, access("/dev/shm", W_OK) == 0 ? "/dev/shm/tt_fakeproc_XXXXXX"
						       : "/tmp/tt_fakeproc_XXXXXX");
	if (!mkdtemp(t->root)) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static inline int tree_teardown(void **state)
{
	struct tree *t = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->root);
	if (system(cmd) != 0)
		return -1;
	free(t);
	return 0;
}

/* Creates root/dir with a cmdline of cmdlen bytes (or none if NULL), a comm
 * file and fd/N symlinks given as "N=target" strings, NULL-terminated. */
static inline void mk_proc(const struct tree *t, const char *dir, const char *cmdline,
		    size_t cmdlen, const char *comm, const char *const *fds)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", t->root, dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/%s/fd", t->root, dir);
	assert_int_equal(mkdir(path, 0755), 0);
	if (cmdline) {
		snprintf(path, sizeof(path), "%s/%s/cmdline", t->root, dir);
		f = fopen(path, "w");
		assert_non_null(f);
		assert_int_equal(fwrite(cmdline, 1, cmdlen, f), cmdlen);
		fclose(f);
	}
	if (comm) {
		snprintf(path, sizeof(path), "%s/%s/comm", t->root, dir);
		f = fopen(path, "w");
		assert_non_null(f);
		fprintf(f, "%s\n", comm);
		fclose(f);
	}
	for (; fds && *fds; fds++) {
		const char *eq = strchr(*fds, '=');

		assert_non_null(eq);
		snprintf(path, sizeof(path), "%s/%s/fd/%.*s", t->root, dir,
			 (int)(eq - *fds), *fds);
		assert_int_equal(symlink(eq + 1, path), 0);
	}
}

#define CMD(s) s, sizeof(s) - 1
#define FDS(...) ((const char *const[]){ __VA_ARGS__, NULL })

#endif
