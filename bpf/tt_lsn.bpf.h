/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Listeners' owners: a live holder, not whoever called listen().
 *
 * A passive connection takes its listener's owner until a process acts on
 * it. A daemon listens, forks and exits in the parent; the listener's
 * owner is then a dead process. The kernel side cannot find the live
 * holders of a socket (that is a walk of every process's files), so it
 * does the two cheap halves, and user space (src/lsnown.c) the walk:
 * - an exit of a listener's owner (the whole thread group) puts the tgid
 *   in lsn_gone and bumps lsn_gone_gen; user space then finds the live
 *   holders with tt_iter_listeners and writes one as the owner into the
 *   listener's entry in conns;
 * - meanwhile, and for connections made before that, an event whose owner
 *   was copied from the listener and is in lsn_gone carries
 *   TT_F_OWNER_GONE instead of the owner, and user space names the
 *   listener's holder;
 * - the first process that acts on a passive connection (the accepter,
 *   or one it handed the descriptor to) is noted per local port: user
 *   space prefers it among the holders.
 */
#ifndef TT_LSN_BPF_H
#define TT_LSN_BPF_H

/* A socket entered LISTEN, in the context of its owner pid (the current
 * process): watch that process's exit. A tgid reused since an older
 * owner's exit is alive again. */
static __always_inline void lsn_listen(__u32 pid)
{
	struct task_struct *leader = bpf_get_current_task_btf()->group_leader;
	__u8 *mark = bpf_task_storage_get(&lsn_owner_mark, leader, 0,
					  BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (mark)
		*mark = 1;
	if (lsn_gone_gen)
		bpf_map_delete_elem(&lsn_gone, &pid);
}

/* Is pid, a connection's owner copied from its listener, a process that
 * has exited? Costs one load until a listener's owner has exited. */
static __always_inline int lsn_owner_gone(const struct tt_conn *c)
{
	__u32 pid = c->owner.pid;

	return (c->flags & CONN_LSN_OWNER) && lsn_gone_gen && bpf_map_lookup_elem(&lsn_gone, &pid);
}

/* Process tgid acts on passive connection c (local port lport) for the
 * first time: the owner is its own from now on, and tgid is noted as the
 * port's accepter. Written only when it changes: workers accepting in
 * turn on one port would otherwise bounce its cache line. */
static __always_inline void lsn_took(struct tt_conn *c, __u32 lport, __u32 tgid)
{
	__u32 *a;

	c->flags &= ~CONN_LSN_OWNER;
	a = bpf_map_lookup_elem(&lsn_accepter, &lport);
	if (a && *a != tgid) {
		*a = tgid;
		__sync_fetch_and_add(&lsn_accept_gen, 1);
	}
}

/*
 * sched_process_exit, for every exiting thread. It fires after the thread
 * left signal->live and before exit_files(): live is 0 only for the last
 * thread of the group, whose files are still open (tt_iter_listeners marks
 * such a process). A thread of a living group costs two loads; the last
 * thread of a process that owns no listener, a look at its leader's task
 * storage.
 */
static __always_inline void lsn_exit(struct task_struct *p)
{
	__u32 tgid;
	__u64 now;

	if (p->signal->live.counter)
		return;
	if (!bpf_task_storage_get(&lsn_owner_mark, p->group_leader, 0, 0))
		return;
	tgid = p->tgid;
	bpf_task_storage_delete(&lsn_owner_mark, p->group_leader);
	now = bpf_ktime_get_boot_ns();
	bpf_map_update_elem(&lsn_gone, &tgid, &now, BPF_ANY);
	__sync_fetch_and_add(&lsn_gone_gen, 1);
}

/*
 * iter/task_file: every live process holding a TCP listener, with the
 * listener's cookie and address. Threads are visited when their file
 * table is not their leader's (the kernel skips the others), so a
 * process whose leader has exited is still seen; user space merges by
 * tgid. A process whose every thread is exiting holds its files only
 * until exit_files(): it is marked, so that user space knows the listener
 * but does not name it.
 */
static __always_inline int lsn_holder_row(struct task_struct *task, struct file *file,
					  struct tt_lsn_holder *h)
{
	struct tt_tuple t = {};
	struct socket *so;
	struct sock *sk;

	if (!task->signal)
		return 0;
	so = bpf_sock_from_file(file);
	if (!so)
		return 0;
	sk = so->sk;
	if (!sk || sk->__sk_common.skc_state != TT_LISTEN || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	read_tuple(&sk->__sk_common, &t);
	if (t.family != AF_INET && t.family != AF_INET6)
		return 0;
	h->cookie = sk->__sk_common.skc_cookie.counter;
	h->tgid = task->tgid;
	h->exiting = !task->signal->live.counter;
	h->netns = t.netns;
	h->family = t.family;
	h->lport = t.lport;
	__builtin_memcpy(h->laddr, t.laddr, 16);
	bpf_probe_read_kernel_str(h->comm, sizeof(h->comm), task->comm);
	return 1;
}

#endif
