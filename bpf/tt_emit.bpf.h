/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The in-kernel filters, and events into the ring. */
#ifndef TT_EMIT_BPF_H
#define TT_EMIT_BPF_H

/* ---- filters: each has its user-space twin in src/filter.c ---------------- */

static __always_inline int port_match(__u32 port)
{
	return (port_bitmap[(port >> 6) & 1023] >> (port & 63)) & 1;
}

/* Family, namespace and port filters: cheap, run before any map work. */
static __always_inline int tuple_filtered(const struct tt_tuple *t)
{
	if (filter_family && t->family != filter_family)
		return 1;
	if (filter_netns && t->netns != filter_netns)
		return 1;
	if (filter_ports_on && !port_match(t->lport) && !port_match(t->rport))
		return 1;
	return 0;
}

static __always_inline int owner_filtered(const struct tt_conn *c)
{
	return filter_pid && (!c->owner.known || c->owner.pid != filter_pid);
}

static __always_inline int queue_filtered(__u32 rq, __u32 sq)
{
	return queue_threshold && rq <= queue_threshold && sq <= queue_threshold;
}

/* ---- events ------------------------------------------------------------------ */

/*
 * Reserves the next event in the ring, with its sequence number. The
 * number is taken first: a failed reservation leaves it unused, a gap that
 * user space reports as lost. The event is written in place, no copy.
 */
static __always_inline struct tt_event *ev_reserve(void)
{
	__u64 seq = __sync_fetch_and_add(&tt_seq, 1);
	struct tt_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count(TT_CNT_LOST);
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->seq = seq;
	return e;
}

static __always_inline void lost_transition(__u32 old_state, __u32 new_state)
{
	__u32 i;

	if (old_state >= TT_STATE_MAX || new_state >= TT_STATE_MAX)
		return;
	i = old_state * TT_STATE_MAX + new_state;
	barrier_var(i);   /* the 6.1 verifier: see CPU_IDX() */
	if (i < TT_STATE_MAX * TT_STATE_MAX)
		__sync_fetch_and_add(&tt_lost_trans[i], 1);
}

/* Events go without a wakeup: user space polls on a short timer. A wakeup
 * is forced only when a quarter of the ring is used. */
static __always_inline void ev_submit(struct tt_event *e)
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (wakeup_bytes && bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(e, flags);
}

static __always_inline void fill_tuple(struct tt_event *e, const struct tt_tuple *t)
{
	e->family = t->family;
	e->lport = t->lport;
	e->rport = t->rport;
	e->netns = t->netns;
	__builtin_memcpy(e->laddr, t->laddr, 16);
	__builtin_memcpy(e->raddr, t->raddr, 16);
}

/* The task running when the event fired (ctx_pid, ctx_comm): cur when the
 * caller read it already (the owner rule did, in process context). */
static __always_inline void fill_ctx(struct tt_event *e, const struct tt_owner *cur)
{
	struct task_struct *task;

	if (cur) {
		e->ctx_pid = cur->pid;
		__builtin_memcpy(e->ctx_comm, cur->comm, TT_COMM_LEN);
		return;
	}
	task = bpf_get_current_task_btf();

	/* pid 0 is the idle task: no task context worth naming */
	e->ctx_pid = bpf_get_current_pid_tgid() >> 32;
	if (e->ctx_pid || !(task->flags & PF_KTHREAD))
		bpf_get_current_comm(e->ctx_comm, sizeof(e->ctx_comm));
}

static __always_inline void fill_conn(struct tt_event *e, const struct tt_conn *c, __u64 now)
{
	e->sock_id = c->id;
	e->cgroup_id = c->cgroup_id;
	if (c->owner.known) {
		/* a dead listener owner: pid is for user space, not shown */
		e->flags |= lsn_owner_gone(c) ? TT_F_OWNER_GONE : TT_F_OWNER;
		e->pid = c->owner.pid;
		__builtin_memcpy(e->comm, c->owner.comm, TT_COMM_LEN);
	}
	/* a transition timed before the state began (a parked timer event
	 * flushed late, clocks of two CPUs): no time rather than 2^64 ns,
	 * which --verify rejects (seen on 6.1 under qemu, test 54) */
	if (c->state_ns && now >= c->state_ns) {
		e->flags |= TT_F_STATE_NS;
		e->state_ns = now - c->state_ns;
	}
}

static __always_inline void fill_final(struct tt_event *e, const struct tt_conn *c, __u64 now)
{
	e->flags |= TT_F_FINAL;
	e->rx_bytes = c->rx_bytes;
	e->tx_bytes = c->tx_bytes;
	if (c->start_ns && now >= c->start_ns)
		e->duration_ns = now - c->start_ns;
}

/* Where a transition comes from: the flush runs in the loader's own
 * context, with no task worth naming. */
enum { FROM_HOOK = 0, FROM_FLUSH = 1 };

/* Sends one transition of connection c and moves c to new_state. */
static __always_inline void transition(struct tt_conn *c, const struct tt_tuple *t,
				       __u32 old_state, __u32 new_state, __u32 obj_flags,
				       __u32 rq, __u32 sq, int final, int from, __u64 now,
				       const struct tt_owner *cur)
{
	struct tt_event *e;

	if (listen_only && old_state != TT_LISTEN && new_state != TT_LISTEN)
		goto update;
	if (queue_filtered(rq, sq) || owner_filtered(c)) {
		count(TT_CNT_FILTERED);
		goto update;
	}
	e = ev_reserve();
	if (!e) {
		lost_transition(old_state, new_state);
		goto update;
	}
	e->ts_ns = now;
	e->kind = TT_EV_STATE;
	e->flags = obj_flags;
	e->old_state = old_state;
	e->new_state = new_state;
	e->recv_q = rq;
	e->send_q = sq;
	fill_tuple(e, t);
	fill_conn(e, c, now);
	if (from != FROM_FLUSH)
		fill_ctx(e, cur);
	if (final)
		fill_final(e, c, now);
	ev_submit(e);
update:
	c->state = new_state;
	c->state_ns = now;
}

#endif
