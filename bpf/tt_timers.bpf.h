/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Request (half-open) and timewait sockets, which inet_sock_set_state never
 * reports: followed through their timers, whose callback is the only mark
 * they carry (tw_timer_fn, req_timer_fn: found by the loader in kallsyms).
 */
#ifndef TT_TIMERS_BPF_H
#define TT_TIMERS_BPF_H

static __always_inline __u64 *req_local_slot(__u32 i)
{
	__u32 cpu = bpf_get_smp_processor_id();

	if (cpu >= TT_MAX_CPUS)
		return 0;
	return &req_local[CPU_IDX(cpu) * TT_CPU_STRIDE + (i & 7)];
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

/*
 * Timewait sockets in the FIN_WAIT2 substate (a socket closed first whose
 * FIN was acked). The peer's FIN moves them to TIME_WAIT by a plain store
 * in tcp_timewait_state_process(), and re-arms the timer -- often within
 * the same timer-wheel bucket, which fires no tracepoint at all. So the
 * loader's periodic flush program looks at them.
 *
 * New ones go to a ring per CPU that the flush reads every 50 ms. Under
 * churn the peer's FIN arrives within microseconds, so one look settles
 * nearly all of them; those still in FIN_WAIT2 move to the wait ring
 * (fw2_wait), which each flush goes through again. A ring store costs a
 * fraction of a hash insert and delete, on a path taken once per
 * connection closed first, and a pass costs what is waiting, where a hash
 * walk visits every bucket.
 *
 * Each CPU reserves a slot with an atomic add (a nested hook on the same
 * CPU gets another slot) and fills it; the reader takes a slot only once
 * it is non-zero and zeroes it, so it never reads a reserved, unfilled
 * slot. A full ring is counted (TT_CNT_UNTRACKED): its socket's FIN_WAIT2
 * -> TIME_WAIT may be missed.
 */
static __always_inline void fw2_watch(__u64 tw)
{
	__u32 cpu = bpf_get_smp_processor_id(), idx;
	__u64 h, *slot;

	if (cpu >= nr_cpus || cpu >= TT_MAX_CPUS ||
	    fw2_head[CPU_IDX(cpu) * TT_CPU_STRIDE] - fw2_tail[CPU_IDX(cpu) * TT_CPU_STRIDE] >= FW2_RING) {
		count(TT_CNT_UNTRACKED);
		return;
	}
	h = __sync_fetch_and_add(&fw2_head[CPU_IDX(cpu) * TT_CPU_STRIDE], 1);
	idx = cpu * FW2_RING + (h & (FW2_RING - 1));
	slot = bpf_map_lookup_elem(&fw2_ring, &idx);
	if (slot)
		*slot = tw;
}

/* Was the request with tuple t just cloned into a child, on a kernel that
 * reported the clone before setting its addresses (see struct handoff)?
 * The note is used up by the first request timer deleted after it. */
static __always_inline int clone_took(const struct tt_tuple *t)
{
	struct handoff *n = handoff_slot(in_task());
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
static __always_inline void req_gone(int from, struct tt_pending *p)
{
	struct tt_req *v = bpf_map_lookup_elem(&req_by_tuple, &p->t);

	/* gone from the map: a child took it over, or its end was reported */
	if (!v || v->req != p->obj)
		return;
	if (!tuple_filtered(&p->t))
		transition(&v->c, &p->t, TT_SYN_RECV, TT_CLOSE, TT_F_REQ, 0, 0, 1, from,
			   bpf_ktime_get_boot_ns(), 0);
	bpf_map_delete_elem(&req_by_tuple, &p->t);
}

/* The end of a timewait socket: TIME_WAIT -> CLOSE. c is its entry in
 * conns, under cookie. */
static __always_inline void tw_end(int from, __u64 cookie, struct tt_conn *c,
				   const struct tt_tuple *t)
{
	if (!tuple_filtered(t))
		transition(c, t, c->state ? c->state : TT_TIME_WAIT, TT_CLOSE, TT_F_TW, 0, 0, 1,
			   from, bpf_ktime_get_boot_ns(), 0);
	bpf_map_delete_elem(&conns, &cookie);
}

/* A parked cancel turned out to be an end. */
static __always_inline void parked_gone(int from, struct tt_pending *p)
{
	struct tt_conn *c;

	if (p->is_req) {
		req_gone(from, p);
		return;
	}
	c = tw_conn_by(p->cookie);
	if (!c)
		return;   /* reported already (expiry) */
	tw_end(from, p->cookie, c, &p->t);
}

/* Decides a parked cancel: called first thing by every hook on this CPU. */
static __always_inline void settle_pending(int from, __u64 timer, int at_exit)
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
	parked_gone(from, p);
	p->busy = 0;
}

/* A request's timer deleted: its end, or its child taking over? Returns
 * its tuple in *t, or 0 when the request is not one we follow. */
static __always_inline int req_cancel_is_ours(__u64 req, struct tt_tuple *t)
{
	__u64 *adopted = req_local_slot(1);
	struct tt_req *v;

	/* the handshake completed: the child took the request over just now,
	 * on this CPU, and the request's timer is being deleted */
	if (adopted && *adopted == req) {
		*adopted = 0;
		return 0;
	}
	read_tuple_at(req, t);
	v = bpf_map_lookup_elem(&req_by_tuple, t);
	if (!v || v->req != req)
		return 0;
	/* handed to its child, which takes the entry over at its next change */
	return !clone_took(t);
}

/* Parks the cancel of a timer of ours if we follow its socket. */
static __always_inline void park_if_known(struct timer_list *timer, __u64 fn, __u32 expiring)
{
	__u32 zero = 0;
	struct tt_pending *p = bpf_map_lookup_elem(&pend, &zero);
	struct tt_tuple t = {};
	__u64 obj, cookie = 0;

	if (!p)
		return;
	if (fn == tw_timer_fn) {
		obj = timer_owner_obj(timer, 1);
		cookie = tw_cookie(obj);
		if (!tw_conn_by(cookie))
			return;
		read_tuple_at(obj, &t);
	} else {
		obj = timer_owner_obj(timer, 0);
		if (!req_cancel_is_ours(obj, &t))
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
static __always_inline void req_started(struct timer_list *timer)
{
	__u64 req = timer_owner_obj(timer, 0), lsk, lkey, lcg, *ids;
	struct tt_req v = {};
	struct tt_conn *lc;
	struct tt_tuple t = {};
	long err;

	read_tuple_at(req, &t);   /* __req_common is the request's first member */
	lsk = (__u64)KREAD(struct request_sock, req, __req_common.skc_listener);
	/* the request's group is its listener's, which its child copies */
	lcg = sk_cgroup(lsk);
	if (tuple_filtered(&t) || cgroup_filtered(lcg)) {
		count(TT_CNT_FILTERED);
		return;
	}
	v.c.cgroup_id = cgroup_id_of(lcg);
	/* the listener's cookie was made at its first state change */
	lkey = KREAD(struct sock_common, lsk, skc_cookie.counter);
	lc = lkey ? bpf_map_lookup_elem(&conns, &lkey) : 0;
	if (lc)
		v.c.owner = lc->owner;
	if (v.c.owner.known)
		v.c.flags = CONN_LSN_OWNER;
	ids = req_local_slot(0);
	if (!ids)
		return;
	/* Request sockets have no cookie of their own until someone asks;
	 * ids with the top bit set cannot collide with socket cookies. */
	v.req = req;
	v.c.id = TT_REQ_ID_BIT | ((__u64)bpf_get_smp_processor_id() << 48) | ++*ids;
	v.c.start_ns = bpf_ktime_get_boot_ns();
	v.c.flags |= TT_F_REQ;
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
	transition(&v.c, &t, TT_CLOSE, TT_SYN_RECV, TT_F_REQ, 0, 0, 0, FROM_HOOK, v.c.start_ns, 0);
}

/* A timewait socket's timer armed for the first time (a re-arm is a
 * cancel and a start, which unpark() tells): the full socket it replaces
 * is closed next, on this CPU, and picks it up from the hand-off slot by
 * its cookie. No lookup here: once per connection closed first, it would
 * only find a socket whose cancel was missed, whose FIN_WAIT2 -> TIME_WAIT
 * the flush's FIN_WAIT2 check still sees. */
static __always_inline void tw_started(struct timer_list *timer)
{
	__u64 tw = timer_owner_obj(timer, 1);
	struct handoff *n = handoff_slot(in_task());

	if (!n)
		return;
	n->tw = tw;
	n->cookie = tw_cookie(tw);
	n->substate = KREAD(struct inet_timewait_sock, tw, tw_substate);
}

/* A timewait socket's timer re-armed: a FIN_WAIT2 timewait socket that got
 * its FIN is now in TIME_WAIT (tcp_timewait_state_process()). */
static __always_inline void tw_rearmed(struct timer_list *timer)
{
	__u64 tw = timer_owner_obj(timer, 1);
	struct tt_conn *c = tw_conn(tw);
	struct tt_tuple t = {};
	__u32 sub;

	if (!c)
		return;
	sub = KREAD(struct inet_timewait_sock, tw, tw_substate);
	if (c->state == sub)
		return;
	read_tuple_at(tw, &t);
	if (!tuple_filtered(&t))
		transition(c, &t, c->state, sub, TT_F_TW, 0, 0, sub == TT_TIME_WAIT, FROM_HOOK,
			   bpf_ktime_get_boot_ns(), 0);
	else
		c->state = sub;
}

/* Every timer in the system passes the timer hooks: dismiss the others
 * first, with one load and two compares. */
static __always_inline int timer_ours(struct timer_list *timer)
{
	__u64 fn = (__u64)timer->function;

	return fn == tw_timer_fn || fn == req_timer_fn;
}

static __always_inline void on_timer_start(struct timer_list *timer)
{
	__u64 fn = (__u64)timer->function;

	settle_pending(FROM_HOOK, (__u64)timer, 0);
	if (unpark((__u64)timer, fn)) {
		/* mod_timer() of a pending timer: not an end */
		if (fn == tw_timer_fn)
			tw_rearmed(timer);
		return;
	}
	/* a cancel parked for this timer, of a socket freed since */
	settle_pending(FROM_HOOK, 0, 0);
	if (fn == tw_timer_fn)
		tw_started(timer);
	else
		req_started(timer);
}

static __always_inline void on_timer_cancel(struct timer_list *timer)
{
	settle_pending(FROM_HOOK, (__u64)timer, 0);
	park_if_known(timer, (__u64)timer->function, 0);
}

/* The timer fires: a timewait socket expires for good; a request socket's
 * handler either re-arms it (SYN-ACK retransmit) or drops the request,
 * which timer_expire_exit settles. */
static __always_inline void on_timer_expire(struct timer_list *timer)
{
	__u64 fn = (__u64)timer->function, tw, cookie;
	struct tt_tuple t = {};
	struct tt_conn *c;

	unpark((__u64)timer, fn);   /* expiry detaches the timer: not a delete */
	settle_pending(FROM_HOOK, (__u64)timer, 0);
	if (fn != tw_timer_fn) {
		park_if_known(timer, fn, 1);
		return;
	}
	tw = timer_owner_obj(timer, 1);
	cookie = tw_cookie(tw);
	c = tw_conn_by(cookie);
	if (!c)
		return;
	read_tuple_at(tw, &t);
	tw_end(FROM_HOOK, cookie, c, &t);
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
		transition(c, &t, TT_FIN_WAIT2, TT_TIME_WAIT, TT_F_TW, 0, 0, 1, FROM_FLUSH,
			   bpf_ktime_get_boot_ns(), 0);
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

	if (c >= TT_MAX_CPUS ||
	    fw2_tail[CPU_IDX(c) * TT_CPU_STRIDE] == fw2_head[CPU_IDX(c) * TT_CPU_STRIDE])
		return 1;
	idx = c * FW2_RING + (fw2_tail[CPU_IDX(c) * TT_CPU_STRIDE] & (FW2_RING - 1));
	slot = bpf_map_lookup_elem(&fw2_ring, &idx);
	if (!slot || !*slot)
		return 1;   /* reserved, not filled yet: next flush */
	tw = *slot;
	*slot = 0;
	fw2_tail[CPU_IDX(c) * TT_CPU_STRIDE] += 1;
	if (check_fw2(tw))
		fw2_keep(tw);
	return 0;
}

/* The flush's FIN_WAIT2 check: those still waiting first (a socket moved
 * there from a ring was just looked at), then every CPU's ring. */
static __always_inline void check_fw2_all(void)
{
	bpf_loop(fw2_wait_head - fw2_wait_tail, recheck_fw2, NULL, 0);
	for (__u32 cpu = 0; cpu < nr_cpus && cpu < TT_MAX_CPUS; cpu++)
		bpf_loop(FW2_RING, check_fw2_slot, &cpu, 0);
}

/* The flush settles a parked cancel of its own CPU once it is old: a
 * reschedule completes within microseconds. */
static __always_inline void settle_old_pending(void)
{
	__u32 zero = 0;
	struct tt_pending *p = bpf_map_lookup_elem(&pend, &zero);

	if (!p || !p->timer || p->busy)
		return;
	if (p->expiring || bpf_ktime_get_boot_ns() - p->ts < 2000000)
		return;
	settle_pending(FROM_FLUSH, 0, 0);
}

#endif
