// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Socket inode -> owner, built the way net-tools 2.10 netstat -p builds it
 * (prg_cache_load/prg_cache_add in netstat.c), so that the snapshot prints
 * the same "PID/Program name" column:
 *
 * - every all-digit entry of /proc, in directory order, and its fd/ links;
 * - a link names a socket when it reads (into a 29-byte buffer, so longer
 *   targets never match) as "socket:[N]" with at least two characters
 *   between the brackets, or as the ancient "[0000]:N"; N is taken with
 *   strtoul base 0 and must be all of the rest and not ULONG_MAX;
 * - the name comes from the first 511 bytes of /proc/PID/cmdline, read once
 *   per process: argv[0], reduced to what follows its last '/' only when it
 *   starts with '/' (so "./bin/x" stays whole, and a retitled
 *   "/usr/sbin/sshd: root@pts/0" becomes "0"); an empty cmdline gives "";
 * - "PID/name" is cut to 19 bytes (netstat's 20-byte buffer);
 * - when several processes hold one inode the first one found wins.
 *
 * Unlike netstat, the scan is relative to directory fds (openat/readlinkat)
 * and the table is a socket table (socktab.h), sized for 100k+ sockets.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "owners.h"
#include "socktab.h"

#define CMDLINE_MAX 511		/* netstat reads cmdline into char[512] */
#define LINK_MAX_LEN 29		/* netstat's readlink buffer is char[30] */
#define COMM_SIZE 16

struct owner_proc {
	unsigned pid;
	char name[OWNERS_NAME_SIZE];
	char comm[COMM_SIZE];
};

/* The proc of an inode owners_want asked for and no pair gave yet. */
#define PROC_NONE UINT32_MAX
/* owners_scan's first table: 8k sockets before it grows */
#define SCAN_EXPECTED 8192

struct owners {
	struct socktab *inodes;		/* inode -> uint32_t index into procs, or PROC_NONE */
	size_t owned;			/* inodes with an owner */
	int wanted_only;		/* owners_want was called: add no new inode */
	struct owner_proc *procs;
	size_t nprocs, procs_cap;
	/* owners_add_pair's state: the /proc dir and the process last seen */
	int procfd;			/* -1 when not built from pairs */
	unsigned cur_pid;		/* 0: none yet */
	int cur_ok;			/* cur_pid's cmdline was read: cur_idx is valid */
	uint32_t cur_idx;
};

/* The owner of inode, or NULL. */
static const struct owner_proc *find_owner(const struct owners *o, unsigned long long inode)
{
	const uint32_t *proc = o ? socktab_find(o->inodes, inode) : NULL;

	return proc && *proc != PROC_NONE ? &o->procs[*proc] : NULL;
}

/* First holder wins, as in netstat's prg_cache_add. proc may be PROC_NONE
 * (owners_want). With wanted_only, inodes nobody asked for are dropped. */
static int add_inode(struct owners *o, unsigned long long inode, uint32_t proc)
{
	uint32_t *sl = socktab_find(o->inodes, inode);
	int created;

	if (!inode)
		return 0;
	if (!sl && o->wanted_only && proc != PROC_NONE)
		return 0;
	if (!sl) {
		sl = socktab_insert(o->inodes, inode, &created);
		if (!sl)
			return -ENOMEM;
		*sl = PROC_NONE;
	}
	if (*sl == PROC_NONE && proc != PROC_NONE) {
		*sl = proc;
		o->owned++;
	}
	return 0;
}

/* Whether a pair for inode would be kept (owners_add_pair's early test). */
static int inode_wanted(struct owners *o, unsigned long long inode)
{
	const uint32_t *sl;

	if (!inode)
		return 0;
	if (!o->wanted_only)
		return 1;
	sl = socktab_find(o->inodes, inode);
	return sl && *sl == PROC_NONE;
}

static int parse_inode_number(const char *s, unsigned long long *inode)
{
	char *end;
	unsigned long v;

	v = strtoul(s, &end, 0);
	if (*end || v == ULONG_MAX)
		return -EINVAL;
	*inode = v;
	return 0;
}

/* netstat's two accepted link forms; see the comment at the top. */
static int link_to_inode(const char *lname, size_t len, unsigned long long *inode)
{
	static const char pfx1[] = "socket:[";
	static const char pfx2[] = "[0000]:";
	char num[LINK_MAX_LEN + 1];

	if (len >= sizeof(pfx1) - 1 + 3 && !memcmp(lname, pfx1, sizeof(pfx1) - 1) &&
	    lname[len - 1] == ']') {
		size_t n = len - (sizeof(pfx1) - 1) - 1;

		memcpy(num, lname + sizeof(pfx1) - 1, n);
		num[n] = '\0';
		if (!parse_inode_number(num, inode))
			return 0;
	}
	if (len >= sizeof(pfx2) - 1 + 1 && !memcmp(lname, pfx2, sizeof(pfx2) - 1))
		return parse_inode_number(lname + sizeof(pfx2) - 1, inode);
	return -EINVAL;
}

/* Reads at most size-1 bytes of dirfd/path into buf, NUL-terminated. */
static ssize_t read_small(int dirfd, const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, size - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* Appends the process record for pid directory `name`; returns its index. */
static int add_proc(struct owners *o, int procfd, const char *name, uint32_t *idx)
{
	char path[NAME_MAX + 16];
	char cmdline[CMDLINE_MAX + 1];
	char comm[COMM_SIZE + 1];
	struct owner_proc *p;
	const char *prog;
	ssize_t n;

	if (snprintf(path, sizeof(path), "%s/cmdline", name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	n = read_small(procfd, path, cmdline, sizeof(cmdline));
	if (n < 0)
		return (int)n;
	prog = cmdline;
	if (cmdline[0] == '/')
		prog = strrchr(cmdline, '/') + 1;

	if (o->nprocs == o->procs_cap) {
		size_t ncap = o->procs_cap ? o->procs_cap * 2 : 256;
		struct owner_proc *np = realloc(o->procs, ncap * sizeof(*np));

		if (!np)
			return -ENOMEM;
		o->procs = np;
		o->procs_cap = ncap;
	}
	p = &o->procs[o->nprocs];
	memset(p, 0, sizeof(*p));
	p->pid = (unsigned)strtoul(name, NULL, 10);
	/* netstat prints the directory name; truncation is netstat's too */
	if (snprintf(p->name, sizeof(p->name), "%s/%s", name, prog) < 0)
		p->name[0] = '\0';

	if (snprintf(path, sizeof(path), "%s/comm", name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	n = read_small(procfd, path, comm, sizeof(comm));
	if (n > 0) {
		/* only the kernel's final newline: a name may hold newlines itself */
		if (comm[n - 1] == '\n')
			comm[n - 1] = '\0';
		if (snprintf(p->comm, sizeof(p->comm), "%s", comm) < 0)
			p->comm[0] = '\0';
	}
	*idx = (uint32_t)o->nprocs++;
	return 0;
}

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

static int scan_process(struct owners *o, int procfd, const char *name)
{
	char path[NAME_MAX + 16];
	char lname[LINK_MAX_LEN + 1];
	unsigned long long inode;
	struct dirent *de;
	DIR *fds = NULL;
	uint32_t idx = 0;
	int have_proc = 0;
	int err = 0;
	int fd;

	if (snprintf(path, sizeof(path), "%s/fd", name) >= (int)sizeof(path))
		return 0;
	fd = openat(procfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;	/* gone, a kernel thread's, or not ours to read */
	fds = fdopendir(fd);
	if (!fds) {
		close(fd);
		return 0;
	}
	while ((de = readdir(fds))) {
		ssize_t n;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		n = readlinkat(dirfd(fds), de->d_name, lname, LINK_MAX_LEN);
		if (n < 0)
			continue;
		lname[n] = '\0';
		if (link_to_inode(lname, (size_t)n, &inode))
			continue;
		if (!have_proc) {
			/* netstat also retries the cmdline at the next socket */
			err = add_proc(o, procfd, name, &idx);
			if (err == -ENOMEM)
				goto cleanup;
			if (err) {
				err = 0;
				continue;
			}
			have_proc = 1;
		}
		err = add_inode(o, inode, idx);
		if (err)
			goto cleanup;
	}

cleanup:
	closedir(fds);
	return err;
}

int owners_scan(const char *procdir, struct owners **out)
{
	struct owners *o = NULL;
	struct dirent *de;
	DIR *proc = NULL;
	int err = 0;

	if (!procdir || !out)
		return -EINVAL;
	*out = NULL;
	o = calloc(1, sizeof(*o));
	if (!o) {
		err = -ENOMEM;
		goto cleanup;
	}
	o->procfd = -1;
	err = socktab_new(&o->inodes, sizeof(uint32_t), SCAN_EXPECTED);
	if (err)
		goto cleanup;
	proc = opendir(procdir);
	if (!proc) {
		err = -errno;
		goto cleanup;
	}
	while ((de = readdir(proc))) {
		if (!all_digits(de->d_name))
			continue;
		err = scan_process(o, dirfd(proc), de->d_name);
		if (err)
			goto cleanup;
	}
	*out = o;
	o = NULL;

cleanup:
	if (proc)
		closedir(proc);
	owners_free(&o);
	return err;
}

const char *owners_get(const struct owners *o, unsigned long long inode)
{
	const struct owner_proc *p = find_owner(o, inode);

	return p ? p->name : NULL;
}

int owners_lookup(const struct owners *o, unsigned long long inode,
		  unsigned *pid, const char **comm)
{
	const struct owner_proc *p = find_owner(o, inode);

	if (!p)
		return -ENOENT;
	if (pid)
		*pid = p->pid;
	if (comm)
		*comm = p->comm;
	return 0;
}

unsigned long owners_count(const struct owners *o)
{
	return o ? (unsigned long)o->owned : 0;
}

int owners_new(const char *procdir, size_t expected, struct owners **out)
{
	struct owners *o = NULL;
	int err = 0;

	if (!procdir || !out)
		return -EINVAL;
	*out = NULL;
	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->procfd = open(procdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (o->procfd < 0) {
		err = -errno;
		goto cleanup;
	}
	/* sized once for the expected count: the rehash of a growing table
	 * would hold two tables at once */
	err = socktab_new(&o->inodes, sizeof(uint32_t), expected);
	if (err)
		goto cleanup;
	*out = o;
	o = NULL;
cleanup:
	owners_free(&o);
	return err;
}

int owners_add_pair(struct owners *o, unsigned pid, unsigned long long inode)
{
	char name[16];
	int err;

	if (!o || o->procfd < 0 || !pid)
		return -EINVAL;
	/* the name is read at the pid's first kept inode: with owners_want,
	 * processes holding none of the rows' sockets cost nothing */
	if (!inode_wanted(o, inode))
		return 0;
	if (pid != o->cur_pid) {
		o->cur_pid = pid;
		o->cur_ok = 0;
		snprintf(name, sizeof(name), "%u", pid);
		err = add_proc(o, o->procfd, name, &o->cur_idx);
		if (err == -ENOMEM)
			return err;
		/* Unreadable cmdline: the process is gone (cmdline is readable by
		 * all), so netstat would not have found its fds either. netstat
		 * retries at each later socket; that could only fail again, so
		 * the rest of this pid's pairs are skipped instead. */
		o->cur_ok = !err;
	}
	return o->cur_ok ? add_inode(o, inode, o->cur_idx) : 0;
}

int owners_want(struct owners *o, unsigned long long inode)
{
	if (!o)
		return -EINVAL;
	o->wanted_only = 1;
	return add_inode(o, inode, PROC_NONE);
}

void owners_free(struct owners **o)
{
	if (!o || !*o)
		return;
	if ((*o)->procfd >= 0)
		close((*o)->procfd);
	socktab_free(&(*o)->inodes);
	free((*o)->procs);
	free(*o);
	*o = NULL;
}
