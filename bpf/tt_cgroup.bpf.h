/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The socket's own cgroup, and the --cgroup filter.
 *
 * The kernel stores the creating task's cgroup v2 group in the socket at
 * sk_alloc() (sk->sk_cgrp_data.cgroup), and a child socket copies its
 * listener's (sk_clone_lock()). That group, not the task on the CPU, is the
 * socket's: it is exact in softirq, and it stays when the process that
 * made the socket moves to another group. Timewait and request sockets
 * have none: they keep their connection's, carried in struct tt_conn (a
 * request's is its listener's, which its child socket has too).
 *
 * The id is the group's kernfs node id, which is also the inode number of
 * its directory in the cgroup2 file system: user space resolves it to a
 * path (src/cgroup.c). On a host with cgroup v1 only the socket holds the
 * v2 root, whose id is 1.
 */
#ifndef TT_CGROUP_BPF_H
#define TT_CGROUP_BPF_H

/*
 * The ancestors of a group, indexed by level (0: the root). Linux
 * 6.1 and later keep pointers (commit 7f203bc89eb6 "cgroup: Replace
 * cgroup->ancestor_ids[] with ->ancestors[]"); earlier kernels kept the
 * ids. Both are asked for through CO-RE.
 */
struct cgroup___ids {
	int level;
	__u64 ancestor_ids[];
} __attribute__((preserve_access_index));

struct cgroup___ptrs {
	int level;
	struct cgroup *ancestors[];
} __attribute__((preserve_access_index));

/* The socket's group, as an address (0: the kernel keeps none). */
static __always_inline __u64 sk_cgroup(__u64 sk)
{
	struct sock *s = (void *)sk;

	if (!cgroup_on || !bpf_core_field_exists(s->sk_cgrp_data))
		return 0;
	return (__u64)KREAD(struct sock, sk, sk_cgrp_data.cgroup);
}

static __always_inline __u64 cgroup_id_of(__u64 cg)
{
	return cg ? KREAD(struct cgroup, cg, kn, id) : 0;
}

/*
 * The id of cg's ancestor at level (its own id at its own level), in one
 * function per layout. Not inlined: a relocation the kernel cannot resolve
 * (the other layout's field) must stay behind its branch, which the
 * verifier never takes, where inlined code would let the compiler hoist it
 * out of the caller's loop.
 */
static __noinline __u64 ancestor_id_ids(__u64 cg, __u32 level)
{
	struct cgroup___ids *g = (void *)cg;
	__u64 id = 0;

	bpf_core_read(&id, sizeof(id), &g->ancestor_ids[level & TT_MAX_CGROUP_LEVEL]);
	return id;
}

static __noinline __u64 ancestor_id_ptrs(__u64 cg, __u32 level)
{
	struct cgroup___ptrs *g = (void *)cg;
	__u64 a = 0;

	bpf_core_read(&a, sizeof(a), &g->ancestors[level & TT_MAX_CGROUP_LEVEL]);
	return a ? BPF_CORE_READ((struct cgroup *)a, kn, id) : 0;
}

static __always_inline __u64 cgroup_ancestor_id(__u64 cg, __u32 level)
{
	if (bpf_core_field_exists(struct cgroup___ids, ancestor_ids))
		return ancestor_id_ids(cg, level);
	return ancestor_id_ptrs(cg, level);
}

/*
 * --cgroup: 1 when the group cg is in none of the subtrees. The loader
 * sets each subtree's root id and level (filter_cg_*): cg is in it when
 * its ancestor at that level is that root, one read per subtree whatever
 * the depth. A socket whose group is not known (cg 0) is dropped.
 * Twin: filter_cgroup() in src/filter.c.
 */
static __always_inline int cgroup_filtered(__u64 cg)
{
	int level;

	if (!filter_ncg)
		return 0;
	if (!cg)
		return 1;
	level = KREAD(struct cgroup, cg, level);
	for (__u32 i = 0; i < TT_MAX_CGROUPS && i < filter_ncg; i++) {
		__u32 want = filter_cg_level[i];

		if ((int)want <= level && cgroup_ancestor_id(cg, want) == filter_cg_id[i])
			return 0;
	}
	return 1;
}

#endif
