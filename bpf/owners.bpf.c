// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Socket owners for the snapshot, without readlink()ing every
 * /proc/PID/fd entry: one iter/task_file pass emits a (tgid, inode) pair
 * per open socket file, in the order netstat -p would find them.
 *
 * Order: the task iterator walks tids in ascending order (find_ge_pid), as
 * readdir of /proc walks tgids, and a task's files in ascending fd order, as
 * readdir of /proc/PID/fd does. Only thread-group leaders are emitted:
 * netstat reads /proc/PID/fd, which is the leader's fd table (the kernel
 * already skips threads sharing their leader's table; a thread that
 * unshared it is not in /proc/PID/fd either).
 *
 * Every socket is emitted, whatever its family or namespace: reading the
 * struct sock too costs one more cache miss per file (a third of the pass);
 * user space keeps only the inodes of the rows it shows (owners_want).
 *
 * The pair is struct tt_owner_pair (include/tcptrail.h).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "tcptrail.h"

#define S_IFMT 00170000
#define S_IFSOCK 0140000

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * ctx->task and ctx->file are trusted BTF pointers: fields are read with
 * direct loads, not bpf_probe_read_kernel() calls, which made up most of
 * the cost of a pass over 100k files.
 */
SEC("iter/task_file")
int tt_iter_owners(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct tt_owner_pair p = {};
	struct inode *inode;
	struct socket *sock;

	if (!task || !file)
		return 0;
	if (task->pid != task->tgid)
		return 0;
	inode = file->f_inode;
	if (!inode || (inode->i_mode & S_IFMT) != S_IFSOCK)
		return 0;
	/* An O_PATH fd on a bound unix socket's path is S_IFSOCK too, but its
	 * inode belongs to a disk filesystem and readlink shows the path, not
	 * "socket:[N]": only sockfs inodes are what netstat matches.
	 * bpf_sock_from_file() checks the file operations, which only sockfs
	 * files have. */
	sock = bpf_sock_from_file(file);
	if (!sock)
		return 0;
	p.tgid = task->tgid;
	p.fd = ctx->fd;
	p.inode = inode->i_ino;
	bpf_seq_write(ctx->meta->seq, &p, sizeof(p));
	return 0;
}
