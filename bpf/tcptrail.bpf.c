// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tcptrail, kernel side: every TCP state change, with the socket's owner.
 * Every program of the object is here; the logic is in the headers:
 *
 *   tt_maps.bpf.h    settings, counters and maps: what the kernel side keeps
 *   tt_kread.bpf.h   reading sockets (direct loads, or CO-RE reads on 6.1)
 *   tt_cgroup.bpf.h  the socket's cgroup, and the --cgroup filter
 *   tt_owner.bpf.h   the owner rule: process context or softirq
 *   tt_lsn.bpf.h     listeners' owners: live holders, not dead processes
 *   tt_emit.bpf.h    the in-kernel filters, and events into the ring
 *   tt_taken.bpf.h   why inet_sock_set_state has three programs
 *   tt_state.bpf.h   full sockets: state changes, sends, buffer pressure
 *   tt_timers.bpf.h  request and timewait sockets, through their timers
 *   tt_snap.bpf.h    the snapshot's rows
 *
 * Hooks are tracepoints (tp_btf): kprobes and fentry are not assumed to
 * attach. The loader's table in src/loader.c says which program loads on
 * which kernel, and attaches each.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tcptrail.h"
#include "tt_maps.bpf.h"
#include "tt_kread.bpf.h"
#include "tt_cgroup.bpf.h"
#include "tt_owner.bpf.h"
#include "tt_lsn.bpf.h"
#include "tt_emit.bpf.h"
#include "tt_taken.bpf.h"
#include "tt_timers.bpf.h"
#include "tt_state.bpf.h"
#include "tt_snap.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* ---- the owner rule's softirq depth (not on PREEMPT_RT) --------------------- */

SEC("tp_btf/softirq_entry")
int BPF_PROG(tt_softirq_entry, unsigned int vec)
{
	softirq_enter();
	return 0;
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(tt_softirq_exit, unsigned int vec)
{
	softirq_leave();
	return 0;
}

/* ---- state changes of full sockets: three programs (tt_taken.bpf.h) --------- */

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tt_set_state, struct sock *sk, int oldstate, int newstate)
{
	int ok;
	__u64 ck = take_first(sk, oldstate, newstate, &ok);

	if (ok)
		on_set_state(sk, ck, oldstate, newstate);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tt_set_state_irq, struct sock *sk, int oldstate, int newstate)
{
	int ok;
	__u64 ck = take_nested(sk, oldstate, newstate, 1, &ok);

	if (ok)
		on_set_state(sk, ck, oldstate, newstate);
	return 0;
}

/* A third level: an event nested in the second program's run (seen under
 * heavy loopback churn, when a softirq lands inside it). */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tt_set_state_nest2, struct sock *sk, int oldstate, int newstate)
{
	int ok;
	__u64 ck = take_nested(sk, oldstate, newstate, 2, &ok);

	if (ok)
		on_set_state(sk, ck, oldstate, newstate);
	return 0;
}

/* ---- request and timewait sockets (tt_timers.bpf.h) -------------------------- */

/*
 * One program per timer hook, no twins: every timer in the system passes
 * here, and a twin would double the runs for a nested event that is almost
 * never a timewait or request timer. The kernel's skips are counted
 * instead (timer_hooks_missed).
 */
SEC("tp_btf/timer_start")
int BPF_PROG(tt_timer_start, struct timer_list *timer, unsigned long expires)
{
	if (timer_ours(timer))
		on_timer_start(timer);
	return 0;
}

SEC("tp_btf/timer_cancel")
int BPF_PROG(tt_timer_cancel, struct timer_list *timer)
{
	if (timer_ours(timer))
		on_timer_cancel(timer);
	return 0;
}

SEC("tp_btf/timer_expire_entry")
int BPF_PROG(tt_timer_expire_entry, struct timer_list *timer, unsigned long now)
{
	if (timer_ours(timer))
		on_timer_expire(timer);
	return 0;
}

/* A request handler that re-armed its timer has already unparked it. */
SEC("tp_btf/timer_expire_exit")
int BPF_PROG(tt_timer_expire_exit, struct timer_list *timer)
{
	settle_pending(FROM_HOOK, (__u64)timer, 1);
	return 0;
}

/* Run by the loader through BPF_PROG_TEST_RUN every 50 ms: args[0] = 1
 * checks the FIN_WAIT2 timewait sockets of every CPU, from whichever CPU it
 * runs on; each run also settles an old parked cancel of its own CPU, and
 * the loader runs it with args[0] = 0 on each other CPU that has one. */
SEC("raw_tp")
int tt_flush_pending(struct bpf_raw_tracepoint_args *ctx)
{
	if (ctx->args[0])
		check_fw2_all();
	settle_old_pending();
	return 0;
}

/* ---- sends, receives and buffer pressure (tt_state.bpf.h) --------------------- */

SEC("tp_btf/sock_send_length")
int BPF_PROG(tt_send_length, struct sock *sk, int ret, int flags)
{
	sock_op(sk);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(tt_recv_length, struct sock *sk, int ret, int flags)
{
	sock_op(sk);
	return 0;
}

SEC("tp_btf/sock_rcvqueue_full")
int BPF_PROG(tt_rcvqueue_full, struct sock *sk, struct sk_buff *skb)
{
	pressure(sk, TT_EV_RCVQ_FULL, skb->truesize);
	return 0;
}

/* kind is SK_MEM_SEND (0) or SK_MEM_RECV (1): since 6.x the tracepoint also
 * fires when memory for received data is refused (global tcp_mem or the
 * socket's memory cgroup), which is the receive side filling up. */
SEC("tp_btf/sock_exceed_buf_limit")
int BPF_PROG(tt_exceed_buf_limit, struct sock *sk, struct proto *prot, long allocated, int kind)
{
	pressure(sk, kind == 1 ? TT_EV_RCVQ_FULL : TT_EV_SNDBUF, allocated);
	return 0;
}

/* ---- listeners' owners (tt_lsn.bpf.h) ------------------------------------------ */

SEC("tp_btf/sched_process_exit")
int BPF_PROG(tt_proc_exit, struct task_struct *p)
{
	lsn_exit(p);
	return 0;
}

/* Run by user space (src/lsnown.c) when a listener's owner may have
 * changed. */
SEC("iter/task_file")
int tt_iter_listeners(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct tt_lsn_holder h = {};

	if (task && file && lsn_holder_row(task, file, &h))
		bpf_seq_write(ctx->meta->seq, &h, sizeof(h));
	return 0;
}

/* ---- the snapshot (tt_snap.bpf.h) ----------------------------------------------- */

SEC("iter/tcp")
int tt_iter_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tt_snap r = {};

	if (skc && snap_row(skc, &r))
		bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}
