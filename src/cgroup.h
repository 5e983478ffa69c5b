/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Sockets' cgroups: ids to paths, paths to container ids and units.
 *
 * The kernel side reads each socket's cgroup v2 id (bpf/tt_cgroup.bpf.h):
 * the kernfs node id of the group, which is also the inode number of its
 * directory in the cgroup2 file system. A path is found by walking that
 * file system (it needs no privilege, so it keeps working after tcptrail
 * drops its capabilities) and kept: every id is walked for at most once
 * after the first walk, and a path once found stays, even after its group
 * is removed (the socket was in it). A group removed before its id was
 * first seen cannot be found: its records carry the id, with a null path.
 * Without a cgroup2 mount nothing resolves; on a cgroup v1-only host the
 * ids are not shown either: every socket holds the v2 root there.
 */
#ifndef TT_CGROUP_H
#define TT_CGROUP_H

#include <stddef.h>

#include "record.h"

/* A container id is 64 hex digits; the text column shows the first 12,
 * as docker ps and crictl do. */
#define CG_ID_LEN 64
#define CG_SHORT_LEN 12
/* the longest unit or container name kept */
#define CG_NAME_MAX 256

/*
 * The container id, or the systemd unit, a cgroup path names, into buf:
 * the deepest component that matches the pattern table (cgroup.c), a
 * container before a unit. Returns buf, or NULL when nothing matches.
 */
const char *cgroup_container(const char *path, char *buf, size_t size);

/* What the text column shows of a container: its first 12 digits, or the
 * unit's name. */
const char *cgroup_short(const char *container);

/*
 * The cgroup2 mount point in a mountinfo text (/proc/self/mountinfo), into
 * dir. Returns 0, or -ENOENT when there is none (cgroup v1 only).
 */
int cgroup_find_mount(const char *mountinfo, char *dir, size_t size);

struct cgroups;

/* Finds the cgroup2 mount in mountinfo_path (NULL: /proc/self/mountinfo),
 * and in proc_cgroup (NULL: /proc/self/cgroup) whether cgroup v2 is in use
 * at all; without a mount, every lookup gives no path. 0 or -ENOMEM. */
int cgroups_open(struct cgroups **out, const char *mountinfo_path, const char *proc_cgroup);

/* Where cgroup v2 stands for this process. */
enum {
	CG_V2_NONE = 0,     /* never mounted: a cgroup v1-only host; ids are not shown */
	CG_V2_MOUNTED,      /* mounted here: ids and paths */
	CG_V2_HIDDEN,       /* mounted, not in this mount namespace (ip netns exec
			     * remounts /sys): ids, no paths */
};
int cgroups_v2(const struct cgroups *c);
/* Its name in the meta record: "mounted", "not_visible", "not_in_use". */
const char *cgroups_v2_name(const struct cgroups *c);
/* Opens on an explicit root (tests: any directory tree). */
int cgroups_open_at(struct cgroups **out, const char *root);
void cgroups_free(struct cgroups **c);
/* The mount point, or NULL without cgroup v2. */
const char *cgroups_root(const struct cgroups *c);

/*
 * The record's cgroup of id: id, path (relative to the cgroup2 root, "/"
 * for the root itself; NULL when not found) and container. The strings
 * live as long as c. id 0 (not known) gives a reference with no fields.
 */
void cgroups_ref(struct cgroups *c, unsigned long long id, struct tt_cgref *out);

/*
 * --cgroup PATH: the id and level (0: the root) of the group PATH names:
 * a path below the cgroup2 root ("/system.slice/x.service"), or the same
 * under the mount point ("/sys/fs/cgroup/system.slice/x.service").
 * Returns 0, -ENOENT (no such group), -ENOTDIR or -EOPNOTSUPP (no cgroup2).
 * canon gets the path relative to the root.
 */
int cgroups_resolve(struct cgroups *c, const char *path, unsigned long long *id,
		    unsigned *level, char *canon, size_t size);

/* Is path (relative to the root) sub or below it? Paths as cgroups_ref
 * gives them. */
int cgroup_path_within(const char *path, const char *sub);

#endif
