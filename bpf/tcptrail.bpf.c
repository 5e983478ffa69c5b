// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tcptrail kernel side: every TCP state change, with the socket's owner.
 *
 * Hooks (all tracepoints; kprobes and fentry are not assumed to attach):
 *   tp_btf/inet_sock_set_state   state changes of full sockets
 *   tp_btf/timer_start|cancel|expire_entry|expire_exit
 *                                 the lives of timewait and request sockets,
 *                                 which inet_sock_set_state never reports
 *   iter/tcp                      the snapshot of existing sockets
 *
 * Events go to one ring buffer without a wakeup; user space polls on a short
 * timer and a wakeup is forced only when the ring fills up (see emit()).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "tcptrail.h"
#include "tt_common.bpf.h"
#include "tt_timers.bpf.h"

/* ---- full sockets ---------------------------------------------------------- */

static __always_inline __u64 sock_inode(const struct sock *sk)
{
	if (bpf_core_field_exists(sk->sk_ino))
		return BPF_CORE_READ(sk, sk_ino);
	{
		struct socket *so = BPF_CORE_READ(sk, sk_socket);
		struct socket_alloc *sa;

		if (!so)
			return 0;
		sa = container_of(so, struct socket_alloc, socket);
		return BPF_CORE_READ(sa, vfs_inode.i_ino);
	}
}

static __always_inline void queues(const struct sock *sk, __u32 state, __u32 *rq, __u32 *sq)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;

	if (state == TT_LISTEN) {
		*rq = BPF_CORE_READ(sk, sk_ack_backlog);
		*sq = BPF_CORE_READ(sk, sk_max_ack_backlog);
		return;
	}
	{
		int r = BPF_CORE_READ(tp, rcv_nxt) - BPF_CORE_READ(tp, copied_seq);

		*rq = r < 0 ? 0 : r;
		*sq = BPF_CORE_READ(tp, write_seq) - BPF_CORE_READ(tp, snd_una);
	}
}

static __always_inline int same_addr(const __u8 *a, const __u8 *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	return x[0] == y[0] && x[1] == y[1];
}

static __always_inline int same_tuple(const struct tuple *a, const struct tuple *b)
{
	return a->netns == b->netns && a->lport == b->lport && a->rport == b->rport &&
	       a->family == b->family && same_addr(a->laddr, b->laddr) &&
	       same_addr(a->raddr, b->raddr);
}

/* FINs seen in the state history: the RFC 4898 byte counters count them. */
static __always_inline void note_fins(struct tt_conn *c, __u32 shown_new)
{
	if (shown_new == TT_CLOSE_WAIT || shown_new == TT_CLOSING || shown_new == TT_TIME_WAIT)
		c->flags |= CONN_FIN_RCVD;
	if (shown_new == TT_FIN_WAIT1 || shown_new == TT_LAST_ACK)
		c->flags |= CONN_FIN_SENT;
}

/*
 * Payload bytes. The kernel counts sequence space: bytes_received includes a
 * received FIN, and bytes_acked includes our FIN once acked and, for an
 * active open only, our SYN (tcp_ack() advances snd_una over it; a passive
 * child starts past its SYN-ACK). The FINs come from the state history,
 * not sk_shutdown, which close() sets without any FIN exchanged.
 */
static __always_inline void payload_bytes(const struct sock *sk, struct tt_conn *c)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	__u64 rx = BPF_CORE_READ(tp, bytes_received);
	__u64 tx = BPF_CORE_READ(tp, bytes_acked);

	if ((c->flags & CONN_FIN_RCVD) && rx)
		rx--;
	if ((c->flags & CONN_ACTIVE) && tx)
		tx--;
	if ((c->flags & CONN_FIN_SENT) && tx &&
	    BPF_CORE_READ(tp, snd_una) == BPF_CORE_READ(tp, write_seq))
		tx--;
	c->rx_bytes = rx;
	c->tx_bytes = tx;
}

static __always_inline int on_set_state(void *ctx, __u32 slot, struct sock *sk,
					int oldstate, int newstate)
{
	__u64 key = (__u64)sk;
	struct tt_conn *c, fresh = {};
	struct tt_owner cur = {};
	struct tuple t = {};
	__u32 rq = 0, sq = 0, zero = 0, shown_new = newstate;
	int final = 0, adopted = 0;
	struct newtw *n;
	__u64 tw = 0;

	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	settle_pending(slot, 0, 0);
	read_tuple(&sk->__sk_common, &t);
	c = bpf_map_lookup_elem(&conns, &key);
	/* A socket leaving CLOSE, or a child just cloned from a listener, starts
	 * a new life: an entry at its address is a leftover of an earlier
	 * socket whose end we missed. */
	if (c && (oldstate == TT_CLOSE || (newstate == TT_SYN_RECV && oldstate == TT_LISTEN))) {
		bpf_map_delete_elem(&conns, &key);
		c = NULL;
	}
	/* tcp_set_state(CLOSE) releases the port before the tracepoint fires */
	if (!t.lport && c)
		t.lport = c->lport;
	if (tuple_filtered(&t)) {
		count(TT_CNT_FILTERED);
		/* keep no state for sockets we never show */
		if (c && newstate == TT_CLOSE)
			bpf_map_delete_elem(&conns, &key);
		return 0;
	}

	if (!c && newstate == TT_SYN_RECV) {
		/* A child socket: it continues the request socket with its tuple. */
		__u64 *req = bpf_map_lookup_elem(&req_by_tuple, &t);

		if (req) {
			struct tt_conn *rc = bpf_map_lookup_elem(&conns, req);

			if (rc) {
				fresh = *rc;
				fresh.flags = 0;
				adopted = 1;
				bpf_map_delete_elem(&conns, req);
			}
			bpf_map_delete_elem(&req_by_tuple, &t);
		}
	}
	if (!c) {
		if (!adopted) {
			fresh.id = bpf_get_socket_cookie(sk);
			fresh.start_ns = bpf_ktime_get_boot_ns();
			fresh.state = oldstate;
			if (newstate == TT_SYN_SENT)
				fresh.flags = CONN_ACTIVE;
		}
		if (bpf_map_update_elem(&conns, &key, &fresh, BPF_ANY))
			count(TT_CNT_OWNER_MISS);
		c = bpf_map_lookup_elem(&conns, &key);
		if (!c)
			return 0;
	}
	if (current_owner(ctx, &cur))
		c->owner = cur;
	if (t.lport)
		c->lport = t.lport;
	if (adopted)   /* the request's SYN_RECV was already shown */
		return 0;

	queues(sk, newstate, &rq, &sq);

	/* tcp_time_wait(): the timewait socket took over just before this
	 * CLOSE. Show the state netstat will show, and move the connection. */
	n = bpf_map_lookup_elem(&newtw, &zero);
	if (n && n->tw && newstate == TT_CLOSE) {
		tw = n->tw;
		n->tw = 0;
		if (same_tuple(&n->t, &t))
			shown_new = n->substate;
		else
			tw = 0;
	}
	note_fins(c, shown_new);
	if (shown_new == TT_CLOSE || tw) {
		payload_bytes(sk, c);
		final = 1;
	}
	if (tw) {
		if (shown_new != (__u32)oldstate)
			transition(slot, c, &n->t, oldstate, shown_new, 0, rq, sq, 1);
		c->state = shown_new;
		bpf_map_update_elem(&conns, &tw, c, BPF_ANY);
		if (shown_new == TT_FIN_WAIT2)
			fw2_add(tw);
		bpf_map_delete_elem(&conns, &key);
		return 0;
	}

	transition(slot, c, &t, oldstate, newstate, 0, rq, sq, final);
	if (newstate == TT_CLOSE)
		bpf_map_delete_elem(&conns, &key);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tt_set_state, struct sock *sk, int oldstate, int newstate)
{
	__u32 *busy = busy_slot(BUSY_STATE);

	if (!busy || *busy)
		return 0;
	*busy = 1;
	on_set_state(ctx, SLOT_STATE, sk, oldstate, newstate);
	*busy = 0;
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tt_set_state_irq, struct sock *sk, int oldstate, int newstate)
{
	__u32 *busy = busy_slot(BUSY_STATE);

	if (!busy || *busy != 1)
		return 0;
	*busy = 2;
	on_set_state(ctx, SLOT_STATE_IRQ, sk, oldstate, newstate);
	*busy = 1;
	return 0;
}

/* A third level: an event nested in the twin itself (seen under heavy
 * loopback churn, when a softirq lands inside the twin's run). */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tt_set_state_nest2, struct sock *sk, int oldstate, int newstate)
{
	__u32 *busy = busy_slot(BUSY_STATE);

	if (!busy || *busy != 2)
		return 0;
	return on_set_state(ctx, SLOT_STATE_NEST2, sk, oldstate, newstate);
}

/* The socket is freed: forget it, so that its address can be reused. */
SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(tt_destroy_sock, struct sock *sk)
{
	__u64 key = (__u64)sk;

	bpf_map_delete_elem(&conns, &key);
	return 0;
}

/* ---- socket operations and buffer pressure -------------------------------- */

/* A send or receive in process context is the acting process using its
 * descriptor: the socket's owner from now on (fork, SCM_RIGHTS, accept by
 * another worker). No event: ownership is shown on the next transition. */
static __always_inline void sock_op(void *ctx, struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct tt_conn *c;
	struct tt_owner cur = {};

	c = bpf_map_lookup_elem(&conns, &key);
	if (!c)
		return;
	if (c->owner.known && c->owner.pid == (__u32)(bpf_get_current_pid_tgid() >> 32))
		return;
	if (current_owner(ctx, &cur))
		c->owner = cur;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(tt_send_length, struct sock *sk, int ret, int flags)
{
	sock_op(ctx, sk);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(tt_recv_length, struct sock *sk, int ret, int flags)
{
	sock_op(ctx, sk);
	return 0;
}

static __always_inline void pressure(void *ctx, struct sock *sk, __u32 kind, __u32 size)
{
	__u64 key = (__u64)sk, now;
	struct tuple t = {};
	struct tt_conn *c;
	struct tt_event *e;
	__u32 state, rq = 0, sq = 0;

	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP || listen_only)
		return;
	read_tuple(&sk->__sk_common, &t);
	if (tuple_filtered(&t)) {
		count(TT_CNT_FILTERED);
		return;
	}
	state = BPF_CORE_READ(sk, __sk_common.skc_state);
	queues(sk, state, &rq, &sq);
	if (queue_threshold && rq <= queue_threshold && sq <= queue_threshold) {
		count(TT_CNT_FILTERED);
		return;
	}
	c = bpf_map_lookup_elem(&conns, &key);
	if (c && owner_filtered(c)) {
		count(TT_CNT_FILTERED);
		return;
	}
	if (!c && filter_pid)
		return;
	e = scratch_event(SLOT_PRESSURE);
	if (!e)
		return;
	now = bpf_ktime_get_boot_ns();
	count(TT_CNT_SEEN);
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
	} else {
		e->sock_id = bpf_get_socket_cookie(sk);
	}
	fill_ctx(e);
	emit(e);
}

SEC("tp_btf/sock_rcvqueue_full")
int BPF_PROG(tt_rcvqueue_full, struct sock *sk, struct sk_buff *skb)
{
	pressure(ctx, sk, TT_EV_RCVQ_FULL, BPF_CORE_READ(skb, truesize));
	return 0;
}

/* kind is SK_MEM_SEND (0) or SK_MEM_RECV (1): since 6.x the tracepoint also
 * fires when memory for received data is refused (global tcp_mem or the
 * socket's memory cgroup), which is the receive side filling up. */
SEC("tp_btf/sock_exceed_buf_limit")
int BPF_PROG(tt_exceed_buf_limit, struct sock *sk, struct proto *prot, long allocated, int kind)
{
	pressure(ctx, sk, kind == 1 ? TT_EV_RCVQ_FULL : TT_EV_SNDBUF, allocated);
	return 0;
}

/* ---- snapshot ---------------------------------------------------------------- */

/* One row per socket, as /proc/net/tcp would print it, plus what joins it
 * to the event stream: the socket cookie, the kernel address and the
 * sequence number current when the row was read. */
SEC("iter/tcp")
int tt_iter_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tt_snap r = {};
	struct tuple t = {};
	__u32 state;

	if (!skc)
		return 0;
	read_tuple(skc, &t);
	if (filter_family && t.family != filter_family)
		return 0;
	r.family = t.family;
	r.lport = t.lport;
	r.rport = t.rport;
	r.netns = t.netns;
	__builtin_memcpy(r.laddr, t.laddr, 16);
	__builtin_memcpy(r.raddr, t.raddr, 16);
	r.sk = (__u64)skc;
	r.seq = tt_seq;
	/* makes the cookie if none was made yet: the id events will carry */
	r.cookie = bpf_get_socket_cookie(skc);
	state = BPF_CORE_READ(skc, skc_state);
	if (state == TT_TIME_WAIT) {
		struct inet_timewait_sock *tw = (struct inet_timewait_sock *)skc;

		/* /proc/net/tcp shows the timewait socket's substate */
		r.flags = TT_F_TW;
		state = BPF_CORE_READ(tw, tw_substate);
	} else if (state == TT_NEW_SYN_RECV) {
		struct request_sock *rs = (struct request_sock *)skc;
		struct sock *lsk = BPF_CORE_READ(rs, __req_common.skc_listener);

		r.flags = TT_F_REQ;
		state = TT_SYN_RECV;
		r.uid = BPF_CORE_READ(lsk, sk_uid.val);
	} else {
		struct sock *sk = (struct sock *)skc;
		const struct tcp_sock *tp = (const struct tcp_sock *)skc;
		int q;

		/* as get_tcp4_sock(): Send-Q is write_seq - snd_una even for LISTEN */
		if (state == TT_LISTEN)
			q = BPF_CORE_READ(sk, sk_ack_backlog);
		else
			q = BPF_CORE_READ(tp, rcv_nxt) - BPF_CORE_READ(tp, copied_seq);
		r.recv_q = q < 0 ? 0 : q;
		r.send_q = BPF_CORE_READ(tp, write_seq) - BPF_CORE_READ(tp, snd_una);
		r.inode = sock_inode(sk);
		r.uid = BPF_CORE_READ(sk, sk_uid.val);
	}
	r.state = state;
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}
