/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The owner rule: when the task on the CPU is the socket's owner. */
#ifndef TT_OWNER_BPF_H
#define TT_OWNER_BPF_H

/*
 * Process context or not? The kernel's answer, preempt_count, lives in a
 * per-CPU variable that kallsyms does not list without CONFIG_KALLSYMS_ALL,
 * so a program cannot address it; and the stack is no answer either, since
 * softirqs run at the end of an interrupt taken in user mode stay on the
 * task's stack. So the softirq_entry/softirq_exit programs keep a per-CPU
 * depth: inside it the task on the CPU is unrelated to the socket. TCP
 * state never changes in hardirq context, and ksoftirqd, threaded NAPI and
 * workqueues are kernel threads, which current_owner() rejects.
 *
 * PREEMPT_RT keeps the softirq state in the task instead (softirqs run in
 * threads, or in the task that enabled them, and can be preempted), where
 * a per-CPU depth would be wrong; the loader then attaches no depth
 * programs. The field exists only on RT kernels: a CO-RE flavour of
 * task_struct asks for it.
 */
struct task_struct___rt {
	int softirq_disable_cnt;
} __attribute__((preserve_access_index));

#define SOFTIRQ_OFFSET (1U << 8)   /* in_serving_softirq(): include/linux/preempt.h */

static __always_inline __u64 *depth_slot(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	if (cpu >= TT_MAX_CPUS)
		return 0;
	return &softirq_depth[CPU_IDX(cpu) * TT_CPU_STRIDE];
}

static __always_inline int in_task(void)
{
	struct task_struct___rt *t = (void *)bpf_get_current_task_btf();
	__u64 *d;

	if (bpf_core_field_exists(t->softirq_disable_cnt))
		return !(t->softirq_disable_cnt & SOFTIRQ_OFFSET);
	d = depth_slot();
	return d && *d == 0;
}

static __always_inline void softirq_enter(void)
{
	__u64 *d = depth_slot();

	if (d)
		*d += 1;
}

/* stops at 0: a softirq running when the programs were attached ends
 * without having been counted in */
static __always_inline void softirq_leave(void)
{
	__u64 *d = depth_slot();

	if (d && *d)
		*d -= 1;
}

/* The task on the CPU is the socket's owner only when it is a user process
 * acting in its own context (a system call on the socket, or the socket's
 * backlog processed at release_sock()). In softirq the task is unrelated. */
static __always_inline int current_owner(int task_ctx, struct tt_owner *o)
{
	struct task_struct *task;

	if (!task_ctx)
		return 0;
	task = bpf_get_current_task_btf();
	if (task->flags & PF_KTHREAD)
		return 0;
	o->pid = bpf_get_current_pid_tgid() >> 32;
	o->known = 1;
	bpf_get_current_comm(o->comm, sizeof(o->comm));
	return 1;
}

/*
 * tcptrail's own iterators (the snapshot's owners, the listeners' holder
 * passes) hold a reference to every open file for an instant: a close()
 * that another process makes meanwhile completes in tcptrail, which must
 * not take the socket over. It owns only the sockets it makes itself (the
 * --metrics server): those have no owner before its first change.
 */
static __always_inline int self_acting(const struct tt_owner *prev, const struct tt_owner *cur)
{
	return self_tgid && cur->pid == self_tgid && prev->known;
}

/* This context's hand-off slot (struct handoff); task_ctx: in_task(). */
static __always_inline struct handoff *handoff_slot(int task_ctx)
{
	__u32 key = task_ctx ? 0 : 1;

	return bpf_map_lookup_elem(&handoff, &key);
}

#endif
