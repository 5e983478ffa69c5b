/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Request (half-open) and timewait sockets, followed through the timer
 * tracepoints. Included once, by tcptrail.bpf.c. */
#ifndef TT_TIMERS_BPF_H
#define TT_TIMERS_BPF_H

/* ---- request (half-open) and timewait sockets ---------------------------- */

static __always_inline void *timer_owner_obj(struct timer_list *timer, int tw)
{
	if (tw)
		return (void *)timer - bpf_core_field_offset(struct inet_timewait_sock, tw_timer);
	return (void *)timer - bpf_core_field_offset(struct request_sock, rsk_timer);
}

/* The end of a timewait or request socket: TIME_WAIT -> CLOSE, or
 * SYN_RECV -> CLOSE for a request that never became a full socket. */
static __always_inline void obj_gone(__u32 slot, __u64 obj)
{
	struct tt_conn *c = bpf_map_lookup_elem(&conns, &obj);
	struct tuple t = {};

	if (!c)
		return;
	read_tuple((const struct sock_common *)obj, &t);
	if (c->flags & TT_F_REQ) {
		bpf_map_delete_elem(&req_by_tuple, &t);
		if (!tuple_filtered(&t))
			transition(slot, c, &t, TT_SYN_RECV, TT_CLOSE, TT_F_REQ, 0, 0, 1);
	} else if (!tuple_filtered(&t)) {
		transition(slot, c, &t, c->state ? c->state : TT_TIME_WAIT, TT_CLOSE,
			   TT_F_TW, 0, 0, 1);
	}
	bpf_map_delete_elem(&conns, &obj);
	fw2_del(obj);
}

/* Decides a parked cancel: called first thing by every hook on this CPU. */
static __always_inline void settle_pending(__u32 slot, __u64 timer, int at_exit)
{
	__u32 zero = 0;
	struct pending *p = bpf_map_lookup_elem(&pend, &zero);
	__u64 obj;

	if (!p || !p->timer || p->busy)
		return;
	if (p->timer == timer && !at_exit)   /* the same timer again: caller decides */
		return;
	/* While a request's handler runs, other timers may start inside it;
	 * only the end of that handler tells whether it re-armed. */
	if (p->expiring && !(at_exit && p->timer == timer))
		return;
	p->busy = 1;
	obj = p->obj;
	p->timer = 0;
	obj_gone(slot, obj);
	p->busy = 0;
}

static __always_inline void park_cancel(__u64 timer, __u64 obj, __u32 expiring)
{
	__u32 zero = 0;
	struct pending *p = bpf_map_lookup_elem(&pend, &zero);

	if (!p)
		return;
	p->busy = 1;
	p->timer = timer;
	p->obj = obj;
	p->expiring = expiring;
	p->ts = bpf_ktime_get_boot_ns();
	p->busy = 0;
}

/* Returns 1 when the parked cancel was for this timer (a reschedule). */
static __always_inline int unpark(__u64 timer)
{
	__u32 zero = 0;
	struct pending *p = bpf_map_lookup_elem(&pend, &zero);

	if (!p || p->timer != timer)
		return 0;
	p->timer = 0;
	return 1;
}

static __always_inline struct tt_conn *conn_of_listener(struct sock *lsk)
{
	__u64 key = (__u64)lsk;

	return bpf_map_lookup_elem(&conns, &key);
}

/* A request socket's timer is armed when the SYN is answered: the half-open
 * connection is born, as netstat shows it: SYN_RECV. */
static __always_inline void req_started(__u32 slot, struct timer_list *timer)
{
	__u64 req = (__u64)timer_owner_obj(timer, 0);
	struct request_sock *rs = (struct request_sock *)req;
	struct tt_conn c = {}, *lc;
	struct tuple t = {};
	struct sock *lsk;

	if (bpf_map_lookup_elem(&conns, &req))
		return;   /* SYN-ACK retransmission re-arms the timer */
	read_tuple((const struct sock_common *)req, &t);
	if (tuple_filtered(&t)) {
		count(TT_CNT_FILTERED);
		return;
	}
	lsk = BPF_CORE_READ(rs, __req_common.skc_listener);
	lc = conn_of_listener(lsk);
	if (lc)
		c.owner = lc->owner;
	/* Request sockets have no cookie of their own until someone asks;
	 * ids with the top bit set cannot collide with socket cookies. */
	c.id = TT_REQ_ID_BIT | __sync_fetch_and_add(&req_ids, 1);
	c.start_ns = bpf_ktime_get_boot_ns();
	c.flags = TT_F_REQ;
	transition(slot, &c, &t, TT_CLOSE, TT_SYN_RECV, TT_F_REQ, 0, 0, 0);
	bpf_map_update_elem(&conns, &req, &c, BPF_ANY);
	bpf_map_update_elem(&req_by_tuple, &t, &req, BPF_ANY);
}

static __always_inline void tw_started(__u32 slot, struct timer_list *timer)
{
	__u64 tw = (__u64)timer_owner_obj(timer, 1);
	struct inet_timewait_sock *tws = (struct inet_timewait_sock *)tw;
	__u32 zero = 0, sub = BPF_CORE_READ(tws, tw_substate);
	struct tt_conn *c = bpf_map_lookup_elem(&conns, &tw);
	struct newtw *n;
	struct tuple t = {};

	if (c) {
		/* Re-armed: a FIN_WAIT2 timewait socket that got its FIN moves on. */
		if (c->state != sub) {
			read_tuple((const struct sock_common *)tw, &t);
			if (!tuple_filtered(&t))
				transition(slot, c, &t, c->state, sub, TT_F_TW, 0, 0, 0);
			else
				c->state = sub;
		}
		return;
	}
	n = bpf_map_lookup_elem(&newtw, &zero);
	if (!n)
		return;
	n->tw = tw;
	n->substate = sub;
	read_tuple((const struct sock_common *)tw, &n->t);
}

/* A timewait socket's timer re-armed: a FIN_WAIT2 timewait socket that got
 * its FIN is now in TIME_WAIT (tcp_timewait_state_process()). */
static __always_inline void tw_rearmed(__u32 slot, struct timer_list *timer)
{
	__u64 tw = (__u64)timer_owner_obj(timer, 1);
	struct tt_conn *c = bpf_map_lookup_elem(&conns, &tw);
	__u32 sub;
	struct tuple t = {};

	if (!c)
		return;
	sub = BPF_CORE_READ((struct inet_timewait_sock *)tw, tw_substate);
	if (c->state == sub)
		return;
	read_tuple((const struct sock_common *)tw, &t);
	if (!tuple_filtered(&t))
		transition(slot, c, &t, c->state, sub, TT_F_TW, 0, 0, sub == TT_TIME_WAIT);
	else
		c->state = sub;
	fw2_del(tw);
}

static __always_inline void on_timer_start(__u32 slot, struct timer_list *timer)
{
	__u64 fn = (__u64)timer->function;

	/* every timer in the system passes here: dismiss the others first (a
	 * parked cancel is settled by the next state change or the flush) */
	if (fn != tw_timer_fn && fn != req_timer_fn)
		return;
	settle_pending(slot, (__u64)timer, 0);
	if (unpark((__u64)timer)) {
		/* mod_timer() of a pending timer: not an end */
		if (fn == tw_timer_fn)
			tw_rearmed(slot, timer);
		return;
	}
	if (fn == tw_timer_fn)
		tw_started(slot, timer);
	else
		req_started(slot, timer);
}

static __always_inline void on_timer_cancel(__u32 slot, struct timer_list *timer)
{
	__u64 fn = (__u64)timer->function;
	__u64 obj;

	if (fn != tw_timer_fn && fn != req_timer_fn)
		return;
	settle_pending(slot, (__u64)timer, 0);
	obj = (__u64)timer_owner_obj(timer, fn == tw_timer_fn);
	if (!bpf_map_lookup_elem(&conns, &obj))
		return;
	park_cancel((__u64)timer, obj, 0);
}

/*
 * One program per timer hook, no twins: every timer in the system passes
 * here, and a twin would double the runs for a nested event that is almost
 * never a timewait or request timer (measured: about 3 % of connection
 * throughput under churn). The kernel's skips are counted instead
 * (timer_hooks_missed).
 */
static __always_inline int ours(struct timer_list *timer)
{
	__u64 fn = (__u64)timer->function;

	return fn == tw_timer_fn || fn == req_timer_fn;
}

SEC("tp_btf/timer_start")
int BPF_PROG(tt_timer_start, struct timer_list *timer, unsigned long expires)
{
	if (ours(timer))
		on_timer_start(SLOT_TIMER, timer);
	return 0;
}

SEC("tp_btf/timer_cancel")
int BPF_PROG(tt_timer_cancel, struct timer_list *timer)
{
	if (ours(timer))
		on_timer_cancel(SLOT_TIMER, timer);
	return 0;
}

/* The timer fires: a timewait socket expires for good; a request socket's
 * handler either re-arms it (SYN-ACK retransmit) or drops the request,
 * which timer_expire_exit settles. */
SEC("tp_btf/timer_expire_entry")
int BPF_PROG(tt_timer_expire_entry, struct timer_list *timer, unsigned long now)
{
	__u64 fn = (__u64)timer->function;
	__u64 obj;

	if (fn != tw_timer_fn && fn != req_timer_fn)
		return 0;
	unpark((__u64)timer);   /* expiry detaches the timer: not a delete */
	settle_pending(SLOT_TIMER_IRQ, (__u64)timer, 0);
	obj = (__u64)timer_owner_obj(timer, fn == tw_timer_fn);
	if (!bpf_map_lookup_elem(&conns, &obj))
		return 0;
	if (fn == tw_timer_fn)
		obj_gone(SLOT_TIMER_IRQ, obj);
	else
		park_cancel((__u64)timer, obj, 1);
	return 0;
}

SEC("tp_btf/timer_expire_exit")
int BPF_PROG(tt_timer_expire_exit, struct timer_list *timer)
{
	/* A request handler that re-armed its timer has already unparked it. */
	settle_pending(SLOT_TIMER_IRQ, (__u64)timer, 1);
	return 0;
}

static long check_fw2(struct bpf_map *map, __u64 *key, __u32 *val, void *data)
{
	__u64 tw = *key;
	struct tt_conn *c = bpf_map_lookup_elem(&conns, &tw);
	const struct sock_common *skc = (const struct sock_common *)tw;
	struct tuple t = {};
	__u8 sub = 0, state = 0;

	if (!c) {
		fw2_del(tw);
		return 0;
	}
	/* the memory is still this timewait socket: same port, timewait state */
	bpf_core_read(&state, sizeof(state), &skc->skc_state);
	read_tuple(skc, &t);
	if (state != TT_TIME_WAIT || t.lport != c->lport) {
		fw2_del(tw);
		return 0;
	}
	bpf_core_read(&sub, sizeof(sub), &((struct inet_timewait_sock *)tw)->tw_substate);
	if (sub != TT_TIME_WAIT || c->state != TT_FIN_WAIT2)
		return 0;
	c->flags |= CONN_FIN_RCVD;
	if (!tuple_filtered(&t))
		transition(SLOT_FLUSH, c, &t, TT_FIN_WAIT2, TT_TIME_WAIT, TT_F_TW, 0, 0, 1);
	else
		c->state = TT_TIME_WAIT;
	fw2_del(tw);
	return 0;
}

/* Run by the loader through BPF_PROG_TEST_RUN, on each CPU with a parked
 * cancel and every 50 ms on one CPU for the FIN_WAIT2 timewait sockets. */
SEC("raw_tp")
int tt_flush_pending(void *ctx)
{
	__u32 zero = 0;
	struct pending *p = bpf_map_lookup_elem(&pend, &zero);

	bpf_for_each_map_elem(&fw2, check_fw2, NULL, 0);
	if (!p || !p->timer || p->busy)
		return 0;
	/* A reschedule completes within microseconds: only settle old ones. */
	if (p->expiring || bpf_ktime_get_boot_ns() - p->ts < 2000000)
		return 0;
	settle_pending(SLOT_FLUSH, 0, 0);
	return 0;
}

#endif
