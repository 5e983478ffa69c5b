// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Socket owners from iter/task_file (bpf/owners.bpf.c).
 *
 * owners_scan names owners as netstat -p does, at the price of one
 * readlinkat per open fd of every process (BENCHMARKS.md, "Snapshot").
 * The iterator finds the same (tgid, socket inode) pairs in the
 * kernel in one pass, in the same order (ascending pid, then fd), and
 * owners_add_pair applies the same naming rules to them, reading cmdline
 * and comm once per process that holds an inet socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "owners.h"
#include "loader.h"
#include "owners_iter.h"
#include "owners.skel.h"

/* /proc/self/ns/pid of the initial pid namespace (PROC_PID_INIT_INO, a
 * fixed number in include/linux/proc_ns.h). */
#define PID_INIT_INO 0xEFFFFFFCU

/* Read size: a few thousand pairs per read(), small enough to stay in cache. */
#define READ_CHUNK 65536

struct owners_iter {
	struct owners_bpf *skel;
};

int owners_iter_feed(struct owners *o, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	int err;

	if (len % sizeof(struct tt_owner_pair))
		return -EINVAL;
	for (size_t off = 0; off < len; off += sizeof(struct tt_owner_pair)) {
		struct tt_owner_pair pr;

		memcpy(&pr, p + off, sizeof(pr));   /* buf need not be aligned */
		err = owners_add_pair(o, pr.tgid, pr.inode);
		if (err)
			return err;
	}
	return 0;
}

int owners_iter_usable(const char *procdir)
{
	char path[PATH_MAX], self[32];
	struct stat st;
	ssize_t n;

	if (snprintf(path, sizeof(path), "%s/self/ns/pid", procdir) >= (int)sizeof(path))
		return 0;
	if (stat(path, &st) || st.st_ino != PID_INIT_INO)
		return 0;
	/* a proc mounted for another pid namespace has no (or another) self */
	snprintf(path, sizeof(path), "%s/self", procdir);
	n = readlink(path, self, sizeof(self) - 1);
	if (n <= 0)
		return 0;
	self[n] = '\0';
	return strtol(self, NULL, 10) == (long)getpid();
}

int owners_iter_open(struct owners_iter **out)
{
	struct owners_iter *it = NULL;
	int err;

	*out = NULL;
	it = calloc(1, sizeof(*it));
	if (!it)
		return -ENOMEM;
	it->skel = owners_bpf__open();
	if (!it->skel) {
		err = -errno;
		goto cleanup;
	}
	err = owners_bpf__load(it->skel);
	if (err)
		goto cleanup;
	*out = it;
	return 0;
cleanup:
	owners_iter_close(&it);
	return err;
}

int owners_iter_run(struct owners_iter *it, struct owners *o)
{
	struct bpf_link *link = NULL;
	char *buf = NULL;
	size_t have = 0;
	int fd = -1, err = 0;
	ssize_t r;

	if (!it || !o)
		return -EINVAL;
	buf = malloc(READ_CHUNK);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	fd = loader_iter_open(it->skel->progs.tt_iter_owners, &link);
	if (fd < 0) {
		err = fd;
		goto cleanup;
	}
	/* streamed: the pairs are never all held at once */
	for (;;) {
		size_t whole;

		r = read(fd, buf + have, READ_CHUNK - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			goto cleanup;
		}
		if (r == 0)
			break;
		have += (size_t)r;
		whole = have - have % sizeof(struct tt_owner_pair);
		err = owners_iter_feed(o, buf, whole);
		if (err)
			goto cleanup;
		/* a read may end inside a pair: keep the piece for the next */
		memmove(buf, buf + whole, have - whole);
		have -= whole;
	}
	if (have)
		err = -EIO;
cleanup:
	if (fd >= 0)
		close(fd);
	bpf_link__destroy(link);
	free(buf);
	return err;
}

void owners_iter_close(struct owners_iter **pit)
{
	struct owners_iter *it = pit ? *pit : NULL;

	if (!it)
		return;
	owners_bpf__destroy(it->skel);
	free(it);
	*pit = NULL;
}
