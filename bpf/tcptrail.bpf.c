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
	struct socket *so;

	if (bpf_core_field_exists(sk->sk_ino))
		return sk->sk_ino;
	so = sk->sk_socket;
	if (!so)
		return 0;
	/* the inode is allocated with the socket, right after it */
	return KREAD(struct socket_alloc, container_of(so, struct socket_alloc, socket),
		     vfs_inode.i_ino);
}

static __always_inline void queues(const struct sock *sk, __u32 state, __u32 *rq, __u32 *sq)
{
	int r;

	if (state == TT_LISTEN) {
		*rq = sk->sk_ack_backlog;
		*sq = sk->sk_max_ack_backlog;
		return;
	}
	r = KREAD(struct tcp_sock, sk, rcv_nxt) - KREAD(struct tcp_sock, sk, copied_seq);
	*rq = r < 0 ? 0 : r;
	*sq = KREAD(struct tcp_sock, sk, write_seq) - KREAD(struct tcp_sock, sk, snd_una);
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
	__u64 rx = KREAD(struct tcp_sock, sk, bytes_received);
	__u64 tx = KREAD(struct tcp_sock, sk, bytes_acked);

	if ((c->flags & CONN_FIN_RCVD) && rx)
		rx--;
	if ((c->flags & CONN_ACTIVE) && tx)
		tx--;
	if ((c->flags & CONN_FIN_SENT) && tx &&
	    KREAD(struct tcp_sock, sk, snd_una) == KREAD(struct tcp_sock, sk, write_seq))
		tx--;
	c->rx_bytes = rx;
	c->tx_bytes = tx;
}

static __always_inline int on_set_state(void *ctx, __u32 slot, struct sock *sk,
					__u64 key, int oldstate, int newstate)
{
	struct tt_conn *c, fresh = {};
	struct tt_owner cur = {};
	struct tt_tuple t = {};
	__u32 rq = 0, sq = 0, shown_new = newstate;
	int final = 0, adopted = 0;
	struct newtw *n;
	__u64 tw = 0;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	settle_pending(slot, 0, 0);
	read_tuple(&sk->__sk_common, &t);
	/* A child cloned before its addresses are set (6.1, 6.12): it still
	 * has the listener's tuple, without a peer. It is shown from its next
	 * change, under its request's id (see struct newtw). */
	if (oldstate == TT_LISTEN && newstate == TT_SYN_RECV && !t.rport) {
		n = newtw_slot(ctx);
		if (n)
			n->clone = (__u64)sk;
		return 0;
	}
	c = bpf_map_lookup_elem(&conns, &key);
	/* A socket leaving CLOSE starts a new life (connect() again after a
	 * failed one): an entry under its cookie is a leftover whose end we
	 * missed. A child cloned from a listener has a cookie of its own. */
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

	if (!c && (newstate == TT_SYN_RECV || oldstate == TT_SYN_RECV)) {
		/* A child socket: it continues the request socket with its
		 * tuple. Its first change is the request's SYN_RECV, shown
		 * already; on a kernel that cloned it before setting its
		 * addresses, its first change seen here is the next one. */
		struct tt_req *rv = bpf_map_lookup_elem(&req_by_tuple, &t);
		__u64 *note = req_local_slot(1);

		if (rv) {
			fresh = rv->c;
			fresh.flags = 0;
			adopted = newstate == TT_SYN_RECV;
			/* the request's timer is deleted next, on this CPU */
			if (note)
				*note = rv->req;
			bpf_map_delete_elem(&req_by_tuple, &t);
		}
	}
	if (!c) {
		if (!fresh.id) {
			fresh.id = key;
			fresh.start_ns = bpf_ktime_get_boot_ns();
			fresh.state = oldstate;
			if (newstate == TT_SYN_SENT)
				fresh.flags = CONN_ACTIVE;
		}
		if (bpf_map_update_elem(&conns, &key, &fresh, BPF_ANY))
			count(TT_CNT_OWNER_MISS);
		c = bpf_map_lookup_elem(&conns, &key);
		/* no room to keep it: the event still goes out, from the copy */
		if (!c)
			c = &fresh;
	}
	if (current_owner(ctx, &cur))
		c->owner = cur;
	if (t.lport)
		c->lport = t.lport;
	if (adopted)   /* the request's SYN_RECV was already shown */
		return 0;

	queues(sk, newstate, &rq, &sq);

	/* tcp_time_wait(): the timewait socket, with this socket's cookie,
	 * took over just before this CLOSE. Show the state netstat will show;
	 * the connection's entry goes on as the timewait socket's. */
	n = newtw_slot(ctx);
	if (n && n->tw && newstate == TT_CLOSE) {
		tw = n->tw;
		n->tw = 0;
		if (n->cookie == key)
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
			transition(slot, c, &t, oldstate, shown_new, 0, rq, sq, 1);
		c->state = shown_new;
		c->flags |= CONN_TW;
		if (shown_new == TT_FIN_WAIT2)
			fw2_watch(tw);
		return 0;
	}

	transition(slot, c, &t, oldstate, newstate, 0, rq, sq, final);
	if (newstate == TT_CLOSE)
		bpf_map_delete_elem(&conns, &key);
	return 0;
}

/*
 * Every event reaches the three programs in turn (see struct taken). The
 * kernel's count of the first program's skips, less the events the others
 * took, is the exact number lost (loader_recursion_misses()).
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tt_set_state, struct sock *sk, int oldstate, int newstate)
{
	struct taken *tk = taken_ring();
	__u64 ck;

	if (!tk)
		return 0;
	ck = sock_cookie(sk);
	tk->first = taken_key(ck, oldstate, newstate);
	take(tk, tk->first);
	on_set_state(ctx, SLOT_STATE, sk, ck, oldstate, newstate);
	return 0;
}

static __always_inline int take_nested(void *ctx, __u32 slot, struct sock *sk,
				       int oldstate, int newstate)
{
	struct taken *tk = taken_ring();
	__u64 ck, key;

	if (!tk)
		return 0;
	ck = sock_cookie(sk);
	key = taken_key(ck, oldstate, newstate);
	if (taken_already(tk, key))
		return 0;
	take(tk, key);
	count(TT_CNT_STATE_NESTED);
	return on_set_state(ctx, slot, sk, ck, oldstate, newstate);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tt_set_state_irq, struct sock *sk, int oldstate, int newstate)
{
	return take_nested(ctx, SLOT_STATE_IRQ, sk, oldstate, newstate);
}

/* A third level: an event nested in the second program's run (seen under
 * heavy loopback churn, when a softirq lands inside it). */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tt_set_state_nest2, struct sock *sk, int oldstate, int newstate)
{
	return take_nested(ctx, SLOT_STATE_NEST2, sk, oldstate, newstate);
}

/* ---- socket operations and buffer pressure -------------------------------- */

/* A send or receive in process context is the acting process using its
 * descriptor: the socket's owner from now on (fork, SCM_RIGHTS, accept by
 * another worker). No event: ownership is shown on the next transition. */
static __always_inline void sock_op(void *ctx, struct sock *sk)
{
	__u64 key = sk->__sk_common.skc_cookie.counter;
	struct tt_conn *c;
	struct tt_owner cur = {};

	/* every socket's send and receive passes here: unix, UDP, netlink...
	 * A socket without a cookie has had no state change: no entry. */
	if (!key || sk->sk_protocol != IPPROTO_TCP)
		return;
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
	__u64 key = sk->__sk_common.skc_cookie.counter, now;
	struct tt_tuple t = {};
	struct tt_conn *c;
	struct tt_event *e;
	__u32 state, rq = 0, sq = 0;

	if (sk->sk_protocol != IPPROTO_TCP || listen_only)
		return;
	read_tuple(&sk->__sk_common, &t);
	if (tuple_filtered(&t)) {
		count(TT_CNT_FILTERED);
		return;
	}
	state = sk->__sk_common.skc_state;
	queues(sk, state, &rq, &sq);
	if (queue_threshold && rq <= queue_threshold && sq <= queue_threshold) {
		count(TT_CNT_FILTERED);
		return;
	}
	c = key ? bpf_map_lookup_elem(&conns, &key) : 0;
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
	pressure(ctx, sk, TT_EV_RCVQ_FULL, skb->truesize);
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
	struct tt_tuple t = {};
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
	state = skc->skc_state;
	if (state == TT_TIME_WAIT) {
		/* /proc/net/tcp shows the timewait socket's substate */
		r.flags = TT_F_TW;
		state = KREAD(struct inet_timewait_sock, skc, tw_substate);
	} else if (state == TT_NEW_SYN_RECV) {
		/* skc_listener is in a union: the verifier sees a number */
		__u64 lsk = (__u64)KREAD(struct request_sock, skc, __req_common.skc_listener);

		r.flags = TT_F_REQ;
		state = TT_SYN_RECV;
		r.uid = KREAD(struct sock, lsk, sk_uid.val);
	} else {
		/* the verifier knows a sock_common: a tcp_sock lets sock fields be read */
		struct sock *sk = (struct sock *)bpf_skc_to_tcp_sock(skc);
		int q;

		if (!sk)
			return 0;
		/* as get_tcp4_sock(): Send-Q is write_seq - snd_una even for LISTEN */
		if (state == TT_LISTEN)
			q = sk->sk_ack_backlog;
		else
			q = KREAD(struct tcp_sock, sk, rcv_nxt) - KREAD(struct tcp_sock, sk, copied_seq);
		r.recv_q = q < 0 ? 0 : q;
		r.send_q = KREAD(struct tcp_sock, sk, write_seq) - KREAD(struct tcp_sock, sk, snd_una);
		r.inode = sock_inode(sk);
		r.uid = sk->sk_uid.val;
	}
	r.state = state;
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}
