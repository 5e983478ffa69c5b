/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The snapshot: one row per existing socket, as /proc/net/tcp shows it. */
#ifndef TT_SNAP_BPF_H
#define TT_SNAP_BPF_H

/* Queues, inode and uid of a full socket's row. Returns 0 when skc is not
 * a full TCP socket after all. */
static __always_inline int snap_full(struct sock_common *skc, __u32 state, struct tt_snap *r)
{
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
	r->recv_q = q < 0 ? 0 : q;
	r->send_q = KREAD(struct tcp_sock, sk, write_seq) - KREAD(struct tcp_sock, sk, snd_una);
	r->inode = sock_inode(sk);
	r->uid = sk->sk_uid.val;
	return 1;
}

/*
 * One row, plus what joins it to the event stream: the socket cookie, the
 * kernel address and the sequence number current when the row was read.
 * Returns 0 when the socket is not shown.
 */
static __always_inline int snap_row(struct sock_common *skc, struct tt_snap *r)
{
	struct tt_tuple t = {};
	__u64 cg = 0;
	__u32 state;

	read_tuple(skc, &t);
	if (filter_family && t.family != filter_family)
		return 0;
	r->family = t.family;
	r->lport = t.lport;
	r->rport = t.rport;
	r->netns = t.netns;
	__builtin_memcpy(r->laddr, t.laddr, 16);
	__builtin_memcpy(r->raddr, t.raddr, 16);
	r->sk = (__u64)skc;
	r->seq = tt_seq;
	/* makes the cookie if none was made yet: the id events will carry */
	r->cookie = bpf_get_socket_cookie(skc);
	state = skc->skc_state;
	if (state == TT_TIME_WAIT) {
		/* /proc/net/tcp shows the timewait socket's substate; it keeps
		 * no group (cg 0), so --cgroup does not select it */
		r->flags = TT_F_TW;
		state = KREAD(struct inet_timewait_sock, skc, tw_substate);
	} else if (state == TT_NEW_SYN_RECV) {
		/* skc_listener is in a union: the verifier sees a number */
		__u64 lsk = (__u64)KREAD(struct request_sock, skc, __req_common.skc_listener);

		r->flags = TT_F_REQ;
		state = TT_SYN_RECV;
		r->uid = KREAD(struct sock, lsk, sk_uid.val);
		cg = sk_cgroup(lsk);
	} else if (snap_full(skc, state, r)) {
		cg = sk_cgroup((__u64)skc);
	} else {
		return 0;
	}
	if (cgroup_filtered(cg))
		return 0;
	r->cgroup_id = cgroup_id_of(cg);
	r->state = state;
	return 1;
}

#endif
