/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Reading kernel objects: sockets, their tuples, queues and byte counts. */
#ifndef TT_KREAD_BPF_H
#define TT_KREAD_BPF_H

/*
 * Tracepoint arguments are BTF pointers, read with direct loads on every
 * kernel. A timewait or request socket found from its timer, a listener
 * found from its request, or a socket address kept in a map is a plain
 * number, and so is a struct that the verifier only knows as another (a
 * tcp_sock behind a struct sock).
 *
 * The same source builds two objects (the Makefile), and the loader picks
 * one at open time from a probe of the kernel's BTF (src/kfeat.c):
 * - TT_RDONLY_CAST=1 (Linux 6.2 and later): bpf_rdonly_cast() turns the
 *   number into a typed pointer at no run-time cost (the verifier turns it
 *   into a move), and every field is a direct, fault-safe load;
 * - TT_RDONLY_CAST=0 (Linux 6.1 has no such kfunc): BPF_CORE_READ, one
 *   bpf_probe_read_kernel() call per field, what libbpf-tools do.
 * Both objects have the same maps, programs and globals (the build checks
 * their skeletons' layouts), so one skeleton drives either.
 *
 * KREAD(type, addr, field, ...) reads addr->field (->field2 ...);
 * KREAD_BYTES(dst, n, type, addr, field) copies n bytes of addr->field.
 */
#ifndef TT_RDONLY_CAST
#define TT_RDONLY_CAST 1
#endif

#if TT_RDONLY_CAST
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

#define KCAST(type, p) ((type *)bpf_rdonly_cast((void *)(p), bpf_core_type_id_kernel(type)))
#define KREAD(type, p, ...) (___arrow(KCAST(type, p), __VA_ARGS__))
#define KREAD_BYTES(dst, n, type, p, field) \
	__builtin_memcpy(dst, (const void *)&KCAST(type, p)->field, n)
#else
#define KREAD(type, p, ...) BPF_CORE_READ((type *)(p), __VA_ARGS__)
#define KREAD_BYTES(dst, n, type, p, field) \
	bpf_core_read(dst, n, &((type *)(p))->field)
#endif

/* The 4-tuple and namespace of a socket the program holds a BTF pointer to. */
static __always_inline void read_tuple(const struct sock_common *skc, struct tt_tuple *t)
{
	t->family = skc->skc_family;
	t->lport = skc->skc_num;
	t->rport = bpf_ntohs(skc->skc_dport);
	t->netns = skc->skc_net.net->ns.inum;
	if (t->family == AF_INET) {
		__u32 a = skc->skc_rcv_saddr;
		__u32 b = skc->skc_daddr;

		__builtin_memcpy(t->laddr, &a, 4);
		__builtin_memcpy(t->raddr, &b, 4);
	} else {
		__builtin_memcpy(t->laddr, &skc->skc_v6_rcv_saddr, 16);
		__builtin_memcpy(t->raddr, &skc->skc_v6_daddr, 16);
	}
}

/* The same, for a sock_common known only by its address. */
static __always_inline void read_tuple_at(__u64 p, struct tt_tuple *t)
{
#if TT_RDONLY_CAST
	read_tuple(KCAST(struct sock_common, p), t);
#else
	t->family = KREAD(struct sock_common, p, skc_family);
	t->lport = KREAD(struct sock_common, p, skc_num);
	t->rport = bpf_ntohs(KREAD(struct sock_common, p, skc_dport));
	t->netns = KREAD(struct sock_common, p, skc_net.net, ns.inum);
	if (t->family == AF_INET) {
		KREAD_BYTES(t->laddr, 4, struct sock_common, p, skc_rcv_saddr);
		KREAD_BYTES(t->raddr, 4, struct sock_common, p, skc_daddr);
	} else {
		KREAD_BYTES(t->laddr, 16, struct sock_common, p, skc_v6_rcv_saddr);
		KREAD_BYTES(t->raddr, 16, struct sock_common, p, skc_v6_daddr);
	}
#endif
}

/*
 * A socket's cookie: its connection's id and its key in "conns". A
 * socket's first change may find none yet: it is made then, once.
 */
static __always_inline __u64 sock_cookie(struct sock *sk)
{
	__u64 ck = sk->__sk_common.skc_cookie.counter;

	return ck ? ck : bpf_get_socket_cookie(sk);
}

/* A timewait socket's cookie is its full socket's (inet_twsk_alloc()). */
static __always_inline __u64 tw_cookie(__u64 tw)
{
	return KREAD(struct sock_common, tw, skc_cookie.counter);
}

/* The timewait or request socket a timer belongs to. */
static __always_inline __u64 timer_owner_obj(struct timer_list *timer, int tw)
{
	if (tw)
		return (__u64)((void *)timer - bpf_core_field_offset(struct inet_timewait_sock, tw_timer));
	return (__u64)((void *)timer - bpf_core_field_offset(struct request_sock, rsk_timer));
}

/* Recv-Q and Send-Q as netstat computes them. */
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

/* The inode netstat matches owners by (/proc/PID/fd links). */
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

#endif
