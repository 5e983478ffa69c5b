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

/* Request sockets made on each CPU, and the request whose child socket
 * last took over on it: [cpu * 8], [cpu * 8 + 1], one cache line per CPU.
 * Per-CPU ids need no shared counter; the CPU is in bits 48-56. */
__u64 req_local[TT_MAX_CPUS * 8] = {};

static __always_inline __u64 *req_local_slot(__u32 i)
{
	__u32 cpu = bpf_get_smp_processor_id();

	if (cpu >= TT_MAX_CPUS)
		return 0;
	return &req_local[CPU_IDX(cpu) * 8 + (i & 7)];
}

/* A timewait socket's cookie is its full socket's (inet_twsk_alloc()): its
 * connection's key in conns. */
static __always_inline __u64 tw_cookie(__u64 tw)
{
	return KREAD(struct sock_common, tw, skc_cookie.counter);
}

/* The connection of a timewait socket, once handed over to it. */
static __always_inline struct tt_conn *tw_conn_by(__u64 cookie)
{
	struct tt_conn *c = bpf_map_lookup_elem(&conns, &cookie);

	return c && (c->flags & CONN_TW) ? c : 0;
}

static __always_inline struct tt_conn *tw_conn(__u64 tw)
{
	return tw_conn_by(tw_cookie(tw));
}

/* Was the request with tuple t just cloned into a child, on a kernel that
 * reported the clone before setting its addresses (see struct newtw)? The
 * note is used up by the first request timer deleted after it. */
static __always_inline int clone_took(const struct tt_tuple *t)
{
	struct newtw *n = newtw_slot(0);
	struct tt_tuple ct = {};
	const __u64 *a = (const void *)&ct, *b = (const void *)t;
	__u64 child;

	if (!n || !n->clone)
		return 0;
	child = n->clone;
	n->clone = 0;
	read_tuple_at(child, &ct);
	for (int i = 0; i < (int)(sizeof(ct) / 8); i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

/* A request that never became a full socket: SYN_RECV -> CLOSE. */
static __always_inline void req_gone(__u32 slot, struct tt_pending *p)
{
	struct tt_req *v = bpf_map_lookup_elem(&req_by_tuple, &p->t);

	/* gone from the map: a child took it over, or its end was reported */
	if (!v || v->req != p->obj)
		return;
	if (!tuple_filtered(&p->t))
		transition(slot, &v->c, &p->t, TT_SYN_RECV, TT_CLOSE, TT_F_REQ, 0, 0, 1);
	bpf_map_delete_elem(&req_by_tuple, &p->t);
}

/* The end of a timewait socket: TIME_WAIT -> CLOSE. c is its entry in
 * conns, under cookie. */
static __always_inline void tw_end(__u32 slot, __u64 tw, __u64 cookie, struct tt_conn *c,
				   const struct tt_tuple *t)
{
	if (!tuple_filtered(t))
		transition(slot, c, t, c->state ? c->state : TT_TIME_WAIT, TT_CLOSE,
			   TT_F_TW, 0, 0, 1);
	bpf_map_delete_elem(&conns, &cookie);
}

/* A parked cancel turned out to be an end. */
static __always_inline void parked_gone(__u32 slot, struct tt_pending *p)
{
	struct tt_conn *c;

	if (p->is_req) {
		req_gone(slot, p);
		return;
	}
	c = tw_conn_by(p->cookie);
	if (!c)
		return;   /* reported already (expiry) */
	tw_end(slot, p->obj, p->cookie, c, &p->t);
}

/* Decides a parked cancel: called first thing by every hook on this CPU. */
static __always_inline void settle_pending(__u32 slot, __u64 timer, int at_exit)
{
	__u32 zero = 0;
	struct tt_pending *p = bpf_map_lookup_elem(&pend, &zero);

	if (!p || !p->timer || p->busy)
		return;
	if (p->timer == timer && !at_exit)   /* the same timer again: caller decides */
		return;
	/* While a request's handler runs, other timers may start inside it;
	 * only the end of that handler tells whether it re-armed. */
	if (p->expiring && !(at_exit && p->timer == timer))
		return;
	p->busy = 1;
	p->timer = 0;
	parked_gone(slot, p);
	p->busy = 0;
}

/* Parks the cancel of a timer of ours if we follow its socket. */
static __always_inline void park_if_known(struct timer_list *timer, __u64 fn, __u32 expiring)
{
	__u32 zero = 0;
	struct tt_pending *p = bpf_map_lookup_elem(&pend, &zero);
	struct tt_tuple t = {};
	struct tt_req *v;
	__u64 obj, *adopted, cookie = 0;

	if (!p)
		return;
	if (fn == tw_timer_fn) {
		obj = (__u64)timer_owner_obj(timer, 1);
		cookie = tw_cookie(obj);
		if (!tw_conn_by(cookie))
			return;
		read_tuple_at(obj, &t);
	} else {
		obj = (__u64)timer_owner_obj(timer, 0);
		/* the handshake completed: the child took the request over just
		 * now, on this CPU, and the request's timer is being deleted */
		adopted = req_local_slot(1);
		if (adopted && *adopted == obj) {
			*adopted = 0;
			return;
		}
		read_tuple_at(obj, &t);
		v = bpf_map_lookup_elem(&req_by_tuple, &t);
		if (!v || v->req != obj)
			return;
		/* handed to its child, which takes the entry over at its next
		 * change: not an end */
		if (clone_took(&t))
			return;
	}
	p->busy = 1;
	p->timer = (__u64)timer;
	p->obj = obj;
	p->cookie = cookie;
	p->is_req = fn != tw_timer_fn;
	p->expiring = expiring;
	p->ts = bpf_ktime_get_boot_ns();
	p->t = t;
	p->busy = 0;
}

/* Returns 1 when the parked cancel was for this timer of this socket: a
 * reschedule (mod_timer()), not an end. A timewait socket freed and another
 * made at the same address has the same timer but another cookie. */
static __always_inline int unpark(__u64 timer, __u64 fn)
{
	__u32 zero = 0;
	struct tt_pending *p = bpf_map_lookup_elem(&pend, &zero);

	if (!p || p->timer != timer)
		return 0;
	if (fn == tw_timer_fn && p->cookie != tw_cookie(p->obj))
		return 0;
	p->timer = 0;
	return 1;
}

/* A request socket's timer is armed when the SYN is answered: the half-open
 * connection is born, as netstat shows it: SYN_RECV. */
static __always_inline void req_started(__u32 slot, struct timer_list *timer)
{
	__u64 req = (__u64)timer_owner_obj(timer, 0);
	struct tt_req v = {};
	struct tt_conn *lc;
	struct tt_tuple t = {};
	__u64 lsk, lkey, *ids;
	long err;

	read_tuple_at(req, &t);   /* __req_common is the request's first member */
	if (tuple_filtered(&t)) {
		count(TT_CNT_FILTERED);
		return;
	}
	/* the listener's cookie was made at its first state change */
	lsk = (__u64)KREAD(struct request_sock, req, __req_common.skc_listener);
	lkey = KREAD(struct sock_common, lsk, skc_cookie.counter);
	lc = lkey ? bpf_map_lookup_elem(&conns, &lkey) : 0;
	if (lc)
		v.c.owner = lc->owner;
	ids = req_local_slot(0);
	if (!ids)
		return;
	/* Request sockets have no cookie of their own until someone asks;
	 * ids with the top bit set cannot collide with socket cookies. */
	v.req = req;
	v.c.id = TT_REQ_ID_BIT | ((__u64)bpf_get_smp_processor_id() << 48) | ++*ids;
	v.c.start_ns = bpf_ktime_get_boot_ns();
	v.c.flags = TT_F_REQ;
	v.c.state = TT_SYN_RECV;
	v.c.state_ns = v.c.start_ns;
	/* A full table still shows the request's start; its end will be
	 * missed (counted). */
	err = bpf_map_update_elem(&req_by_tuple, &t, &v, BPF_NOEXIST);
	if (err == -17) {
		struct tt_req *ex = bpf_map_lookup_elem(&req_by_tuple, &t);

		/* the same request's timer armed again: not a new one */
		if (!ex || ex->req == req)
			return;
		/* an older request at this tuple whose end was never seen
		 * must not hide this one */
		err = bpf_map_update_elem(&req_by_tuple, &t, &v, BPF_EXIST);
	}
	if (err)
		count(TT_CNT_UNTRACKED);
	v.c.state = TT_CLOSE;
	v.c.state_ns = 0;
	transition(slot, &v.c, &t, TT_CLOSE, TT_SYN_RECV, TT_F_REQ, 0, 0, 0);
}

/* A timewait socket's timer armed for the first time (a re-arm is a
 * cancel and a start, which unpark() tells): the full socket it replaces
 * is closed next, on this CPU, and picks it up from newtw by its cookie.
 * No lookup here: once per connection closed first, it would only find a
 * socket whose cancel was missed, whose FIN_WAIT2 -> TIME_WAIT the flush's
 * FIN_WAIT2 check still sees. */
static __always_inline void tw_started(__u32 slot, struct timer_list *timer)
{
	__u64 tw = (__u64)timer_owner_obj(timer, 1);
	struct newtw *n = newtw_slot(0);

	if (!n)
		return;
	n->tw = tw;
	n->cookie = tw_cookie(tw);
	n->substate = KREAD(struct inet_timewait_sock, tw, tw_substate);
}

/* A timewait socket's timer re-armed: a FIN_WAIT2 timewait socket that got
 * its FIN is now in TIME_WAIT (tcp_timewait_state_process()). */
static __always_inline void tw_rearmed(__u32 slot, struct timer_list *timer)
{
	__u64 tw = (__u64)timer_owner_obj(timer, 1);
	struct tt_conn *c = tw_conn(tw);
	__u32 sub;
	struct tt_tuple t = {};

	if (!c)
		return;
	sub = KREAD(struct inet_timewait_sock, tw, tw_substate);
	if (c->state == sub)
		return;
	read_tuple_at(tw, &t);
	if (!tuple_filtered(&t))
		transition(slot, c, &t, c->state, sub, TT_F_TW, 0, 0, sub == TT_TIME_WAIT);
	else
		c->state = sub;
}

static __always_inline void on_timer_start(__u32 slot, struct timer_list *timer)
{
	__u64 fn = (__u64)timer->function;

	/* every timer in the system passes here: dismiss the others first (a
	 * parked cancel is settled by the next state change or the flush) */
	if (fn != tw_timer_fn && fn != req_timer_fn)
		return;
	settle_pending(slot, (__u64)timer, 0);
	if (unpark((__u64)timer, fn)) {
		/* mod_timer() of a pending timer: not an end */
		if (fn == tw_timer_fn)
			tw_rearmed(slot, timer);
		return;
	}
	/* a cancel parked for this timer, of a socket freed since */
	settle_pending(slot, 0, 0);
	if (fn == tw_timer_fn)
		tw_started(slot, timer);
	else
		req_started(slot, timer);
}

static __always_inline void on_timer_cancel(__u32 slot, struct timer_list *timer)
{
	__u64 fn = (__u64)timer->function;

	if (fn != tw_timer_fn && fn != req_timer_fn)
		return;
	settle_pending(slot, (__u64)timer, 0);
	park_if_known(timer, fn, 0);
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

	if (fn != tw_timer_fn && fn != req_timer_fn)
		return 0;
	unpark((__u64)timer, fn);   /* expiry detaches the timer: not a delete */
	settle_pending(SLOT_TIMER_IRQ, (__u64)timer, 0);
	if (fn == tw_timer_fn) {
		struct tt_tuple t = {};
		__u64 tw = (__u64)timer_owner_obj(timer, 1);
		__u64 cookie = tw_cookie(tw);
		struct tt_conn *c = tw_conn_by(cookie);

		if (!c)
			return 0;
		read_tuple_at(tw, &t);
		tw_end(SLOT_TIMER_IRQ, tw, cookie, c, &t);
	} else {
		park_if_known(timer, fn, 1);
	}
	return 0;
}

SEC("tp_btf/timer_expire_exit")
int BPF_PROG(tt_timer_expire_exit, struct timer_list *timer)
{
	/* A request handler that re-armed its timer has already unparked it. */
	settle_pending(SLOT_TIMER_IRQ, (__u64)timer, 1);
	return 0;
}

/*
 * One FIN_WAIT2 timewait socket: has the peer's FIN moved it to TIME_WAIT?
 * Returns 1 while it still waits. One that is gone, already reported by a
 * timer hook, or whose memory is no longer a timewait socket of ours, is
 * done with.
 */
static __always_inline int check_fw2(__u64 tw)
{
	struct tt_tuple t = {};
	struct tt_conn *c;
	__u8 sub;

	/* The memory may be another socket's by now: only a timewait socket
	 * whose cookie has a timewait connection is looked at (if it is a
	 * newer timewait socket at the same address, that one). */
	if (KREAD(struct sock_common, tw, skc_state) != TT_TIME_WAIT)
		return 0;
	c = tw_conn(tw);
	if (!c || c->state != TT_FIN_WAIT2)
		return 0;
	sub = KREAD(struct inet_timewait_sock, tw, tw_substate);
	if (sub != TT_TIME_WAIT)
		return 1;
	c->flags |= CONN_FIN_RCVD;
	read_tuple_at(tw, &t);
	if (!tuple_filtered(&t))
		transition(SLOT_FLUSH, c, &t, TT_FIN_WAIT2, TT_TIME_WAIT, TT_F_TW, 0, 0, 1);
	else
		c->state = TT_TIME_WAIT;
	return 0;
}

/* Keeps a socket still in FIN_WAIT2 for the next flush. */
static __always_inline void fw2_keep(__u64 tw)
{
	__u32 idx = fw2_wait_head & (FW2_WAIT - 1);
	__u64 *slot;

	if (fw2_wait_head - fw2_wait_tail >= FW2_WAIT) {
		count(TT_CNT_UNTRACKED);
		return;
	}
	slot = bpf_map_lookup_elem(&fw2_wait, &idx);
	if (!slot)
		return;
	*slot = tw;
	fw2_wait_head += 1;
}

/* bpf_loop callback: the oldest waiting socket, checked again. */
static long recheck_fw2(__u32 i, void *data)
{
	__u32 idx = fw2_wait_tail & (FW2_WAIT - 1);
	__u64 *slot = bpf_map_lookup_elem(&fw2_wait, &idx);
	__u64 tw;

	if (!slot || fw2_wait_tail == fw2_wait_head)
		return 1;
	tw = *slot;
	fw2_wait_tail += 1;
	if (check_fw2(tw))
		fw2_keep(tw);
	return 0;
}

/* bpf_loop callback: the next slot of CPU *cpu's ring; 1 stops the loop. */
static long check_fw2_slot(__u32 i, __u32 *cpu)
{
	__u32 c = *cpu, idx;
	__u64 *slot, tw;

	if (c >= TT_MAX_CPUS || fw2_tail[CPU_IDX(c) * 8] == fw2_head[CPU_IDX(c) * 8])
		return 1;
	idx = c * FW2_RING + (fw2_tail[CPU_IDX(c) * 8] & (FW2_RING - 1));
	slot = bpf_map_lookup_elem(&fw2_ring, &idx);
	if (!slot || !*slot)
		return 1;   /* reserved, not filled yet: next flush */
	tw = *slot;
	*slot = 0;
	fw2_tail[CPU_IDX(c) * 8] += 1;
	if (check_fw2(tw))
		fw2_keep(tw);
	return 0;
}

/* Run by the loader through BPF_PROG_TEST_RUN every 50 ms: args[0] = 1
 * checks the FIN_WAIT2 timewait sockets of every CPU, from whichever CPU it
 * runs on; each run also settles an old parked cancel of its own CPU, and
 * the loader runs it with args[0] = 0 on each other CPU that has one. */
SEC("raw_tp")
int tt_flush_pending(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 zero = 0;
	struct tt_pending *p = bpf_map_lookup_elem(&pend, &zero);

	if (ctx->args[0]) {
		/* those still waiting first: a socket moved there from a ring
		 * was just looked at */
		bpf_loop(fw2_wait_head - fw2_wait_tail, recheck_fw2, NULL, 0);
		for (__u32 cpu = 0; cpu < nr_cpus && cpu < TT_MAX_CPUS; cpu++)
			bpf_loop(FW2_RING, check_fw2_slot, &cpu, 0);
	}
	if (!p || !p->timer || p->busy)
		return 0;
	/* A reschedule completes within microseconds: only settle old ones. */
	if (p->expiring || bpf_ktime_get_boot_ns() - p->ts < 2000000)
		return 0;
	settle_pending(SLOT_FLUSH, 0, 0);
	return 0;
}

#endif
