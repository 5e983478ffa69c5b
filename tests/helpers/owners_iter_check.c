// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * For the integration tests (it loads BPF: root only): the owner iterator
 * (bpf/owners.bpf.c, src/owners_iter.c) names this process as the owner of
 * a socket it holds, as the /proc scan (src/owners.c) does. Prints one
 * line and exits 0 when they agree, 1 when they do not.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "owners.h"
#include "owners_iter.h"

static int check(int s, const struct stat *st)
{
	struct owners_iter *it = NULL;
	struct owners *o = NULL, *scan = NULL;
	unsigned pid = 0;
	int err;

	err = owners_iter_open(&it);
	if (err) {
		printf("cannot load the owner iterator: %s\n", strerror(-err));
		goto cleanup;
	}
	err = owners_new("/proc", 1, &o);
	if (!err)
		err = owners_want(o, st->st_ino);
	if (!err)
		err = owners_iter_run(it, o);
	if (!err)
		err = owners_scan("/proc", &scan);
	if (err) {
		printf("owners: %s\n", strerror(-err));
		goto cleanup;
	}
	err = -EBADMSG;
	if (owners_lookup(o, st->st_ino, &pid, NULL) || pid != (unsigned)getpid())
		printf("the iterator does not name pid %d as the owner of socket %d\n", getpid(), s);
	else if (!owners_get(scan, st->st_ino) ||
		 strcmp(owners_get(o, st->st_ino), owners_get(scan, st->st_ino)))
		printf("the iterator names %s, the /proc scan %s\n", owners_get(o, st->st_ino),
		       owners_get(scan, st->st_ino) ? owners_get(scan, st->st_ino) : "nobody");
	else if (owners_count(o) != 1)
		printf("the iterator kept %lu owners, asked for 1\n", owners_count(o));
	else
		err = 0;
	if (!err)
		printf("ok: %s\n", owners_get(o, st->st_ino));
cleanup:
	owners_free(&scan);
	owners_free(&o);
	owners_iter_close(&it);
	owners_iter_close(&it);   /* NULL-safe */
	return err;
}

int main(void)
{
	struct stat st;
	int s, err;

	if (!owners_iter_usable("/proc")) {
		printf("not in the initial pid namespace: the iterator is not used here\n");
		return 77;
	}
	s = socket(AF_INET6, SOCK_STREAM, 0);
	if (s < 0 || fstat(s, &st)) {
		printf("socket: %s\n", strerror(errno));
		return 1;
	}
	err = check(s, &st);
	close(s);
	return err ? 1 : 0;
}
