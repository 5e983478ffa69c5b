/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Full sockets: their state changes, sends and receives, buffer pressure. */
#ifndef TT_STATE_BPF_H
#define TT_STATE_BPF_H

/* A child cloned before its addresses are set (6.1, 6.12): it still has
 * the listener's tuple, without a peer. It is shown from its next change,
 * under its request's id (see struct handoff). */
static __always_inline int early_clone(struct sock *sk, const struct tt_tuple *t,
				       int oldstate, int newstate)
{
	struct handoff *n;

	if (oldstate != TT_LISTEN || newstate != TT_SYN_RECV || t->rport)
		return 0;
	n = handoff_slot(in_task());
	if (n)
		n->clone = (__u64)sk;
	return 1;
}

/*
 * A new connection for a socket at its first change seen (no entry in
 * conns under its cookie, not even one the loader seeded):
 * - a child socket continues its request, found by tuple: its first change
 *   is the request's SYN_RECV, shown already (returns 1); on a kernel that
 *   cloned it before setting its addresses, the first change seen here is
 *   the next one (returns 0, and it is shown);
 * - any other starts a connection of its own.
 */
static __always_inline int conn_init(struct tt_conn *c, __u64 key, const struct tt_tuple *t,
				     int oldstate, int newstate, __u64 now)
{
	struct tt_req *rv;
	__u64 *note;

	if (newstate == TT_SYN_RECV || oldstate == TT_SYN_RECV) {
		rv = bpf_map_lookup_elem(&req_by_tuple, t);
		if (rv) {
			*c = rv->c;
			c->flags &= CONN_LSN_OWNER;
			/* the request's timer is deleted next on this CPU,
			 * unless the kernel already did (early clone) */
			note = req_local_slot(1);
			if (note)
				*note = rv->req;
			bpf_map_delete_elem(&req_by_tuple, t);
			return newstate == TT_SYN_RECV;
		}
	}
	c->id = key;
	c->start_ns = now;
	c->state = oldstate;
	if (newstate == TT_SYN_SENT)
		c->flags = CONN_ACTIVE;
	return 0;
}

/*
 * The connection of the socket with cookie key. A socket leaving CLOSE
 * starts a new life (connect() again after a failed one), and a child
 * cloned from a listener has a cookie of its own: an entry under the
 * cookie then is a leftover whose end was missed. When conns has no room,
 * the connection lives in *local for this event only (counted). Sets
 * *shown when the change was already shown (a child's first).
 */
static __always_inline struct tt_conn *conn_get(__u64 key, const struct tt_tuple *t,
						int oldstate, int newstate, __u64 now,
						struct tt_conn *local, int *shown)
{
	struct tt_conn *c = bpf_map_lookup_elem(&conns, &key);

	*shown = 0;
	if (c && (oldstate == TT_CLOSE || (newstate == TT_SYN_RECV && oldstate == TT_LISTEN))) {
		bpf_map_delete_elem(&conns, &key);
		c = 0;
	}
	if (c)
		return c;
	*shown = conn_init(local, key, t, oldstate, newstate, now);
	if (bpf_map_update_elem(&conns, &key, local, BPF_ANY))
		count(TT_CNT_NO_ROOM);
	c = bpf_map_lookup_elem(&conns, &key);
	return c ? c : local;
}

/*
 * tcp_time_wait(): the timewait socket, with this socket's cookie, took
 * over just before this CLOSE (its timer was armed: struct handoff). Shows
 * the state netstat will show; the connection stays in the table, where
 * the timer hooks follow the timewait socket. Returns 1 when it did.
 */
static __always_inline int tw_handoff(struct sock *sk, __u64 key, struct tt_conn *c,
				      const struct tt_tuple *t, int oldstate, int newstate,
				      __u32 rq, __u32 sq, __u64 now, int task_ctx)
{
	struct handoff *n;
	__u32 shown;
	__u64 tw;

	if (newstate != TT_CLOSE)
		return 0;
	n = handoff_slot(task_ctx);
	if (!n || !n->tw)
		return 0;
	tw = n->tw;
	n->tw = 0;
	if (n->cookie != key)
		return 0;
	shown = n->substate;
	note_fins(c, shown);
	payload_bytes(sk, c);
	if (shown != (__u32)oldstate)
		transition(c, t, oldstate, shown, 0, rq, sq, 1, FROM_HOOK, now, 0);
	c->state = shown;
	/* the entry stays in the table, under the same cookie */
	c->flags |= CONN_TW;
	if (shown == TT_FIN_WAIT2)
		fw2_watch(tw);
	return 1;
}

static __always_inline int on_set_state(struct sock *sk, __u64 key, int oldstate, int newstate)
{
	struct tt_conn *c, local = {};
	struct tt_owner cur = {};
	struct tt_tuple t = {};
	__u32 rq = 0, sq = 0;
	int shown, final, task_ctx;
	__u64 now;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	settle_pending(FROM_HOOK, 0, 0);
	read_tuple(&sk->__sk_common, &t);
	if (early_clone(sk, &t, oldstate, newstate))
		return 0;
	/* tcp_set_state(CLOSE) releases the port before the tracepoint fires */
	if (!t.lport) {
		c = bpf_map_lookup_elem(&conns, &key);
		if (c)
			t.lport = c->lport;
	}
	if (tuple_filtered(&t) || (filter_ncg && cgroup_filtered(sk_cgroup((__u64)sk)))) {
		count(TT_CNT_FILTERED);
		return 0;
	}
	now = bpf_ktime_get_boot_ns();
	c = conn_get(key, &t, oldstate, newstate, now, &local, &shown);
	/* a socket's group never changes: read once per connection */
	if (!c->cgroup_id)
		c->cgroup_id = cgroup_id_of(sk_cgroup((__u64)sk));
	task_ctx = in_task();
	if (current_owner(task_ctx, &cur) && !self_acting(&c->owner, &cur)) {
		if (c->flags & CONN_LSN_OWNER)
			lsn_took(c, t.lport, cur.pid);
		c->owner = cur;
		if (newstate == TT_LISTEN)
			lsn_listen(cur.pid);
	}
	if (t.lport)
		c->lport = t.lport;
	if (shown)
		return 0;
	queues(sk, newstate, &rq, &sq);
	if (tw_handoff(sk, key, c, &t, oldstate, newstate, rq, sq, now, task_ctx))
		return 0;
	note_fins(c, newstate);
	final = newstate == TT_CLOSE;
	if (final)
		payload_bytes(sk, c);
	transition(c, &t, oldstate, newstate, 0, rq, sq, final, FROM_HOOK, now,
		   cur.known ? &cur : 0);
	if (final)
		bpf_map_delete_elem(&conns, &key);
	return 0;
}

/* A send or receive in process context is the acting process using its
 * descriptor: the socket's owner from now on (fork, SCM_RIGHTS, accept by
 * another worker). No event: ownership is shown on the next transition.
 * Every socket's send and receive passes here: unix, UDP, netlink... */
static __always_inline void sock_op(struct sock *sk)
{
	struct tt_owner cur = {};
	struct tt_conn *c;
	__u64 key;

	if (sk->sk_protocol != IPPROTO_TCP)
		return;
	key = sk->__sk_common.skc_cookie.counter;
	/* a socket without a cookie has had no state change: no entry */
	c = key ? bpf_map_lookup_elem(&conns, &key) : 0;
	if (!c)
		return;
	if (c->owner.known && c->owner.pid == (__u32)(bpf_get_current_pid_tgid() >> 32)) {
		/* the listener's owner accepted: the owner is its own now */
		if ((c->flags & CONN_LSN_OWNER) && in_task())
			lsn_took(c, c->lport, c->owner.pid);
		return;
	}
	if (current_owner(in_task(), &cur) && !self_acting(&c->owner, &cur)) {
		if (c->flags & CONN_LSN_OWNER)
			lsn_took(c, c->lport, cur.pid);
		c->owner = cur;
	}
}

/* A receive queue full, or memory refused: a record of its own. */
static __always_inline void pressure(struct sock *sk, __u32 kind, __u32 size)
{
	struct tt_tuple t = {};
	struct tt_conn *c;
	struct tt_event *e;
	__u32 state, rq = 0, sq = 0;
	__u64 now, key, cg;

	if (sk->sk_protocol != IPPROTO_TCP || listen_only)
		return;
	read_tuple(&sk->__sk_common, &t);
	state = sk->__sk_common.skc_state;
	queues(sk, state, &rq, &sq);
	key = sk->__sk_common.skc_cookie.counter;
	c = key ? bpf_map_lookup_elem(&conns, &key) : 0;
	cg = sk_cgroup((__u64)sk);
	if (tuple_filtered(&t) || queue_filtered(rq, sq) || (c && owner_filtered(c)) ||
	    cgroup_filtered(cg)) {
		count(TT_CNT_FILTERED);
		return;
	}
	if (!c && filter_pid)
		return;
	e = ev_reserve();
	if (!e)
		return;
	now = bpf_ktime_get_boot_ns();
	e->ts_ns = now;
	e->kind = kind;
	e->old_state = e->new_state = state;
	e->recv_q = rq;
	e->send_q = sq;
	e->extra = size;
	fill_tuple(e, &t);
	if (c) {
		fill_conn(e, c, now);
		e->flags &= ~TT_F_STATE_NS;
		e->state_ns = 0;
	} else {
		e->sock_id = bpf_get_socket_cookie(sk);
	}
	e->cgroup_id = cgroup_id_of(cg);
	fill_ctx(e, 0);
	ev_submit(e);
}

#endif
