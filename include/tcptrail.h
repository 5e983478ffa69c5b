/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Types shared by the BPF program (bpf/tcptrail.bpf.c) and the loader.
 * Only defines, enums and structs: this file includes nothing, so that it
 * compiles both against vmlinux.h and against the uapi headers.
 */
#ifndef TCPTRAIL_H
#define TCPTRAIL_H

#define TT_COMM_LEN 16
#define TT_MAX_CPUS 512
/* __u64 slots per CPU in the per-CPU arrays of the BPF side's .bss
 * (counters, ring heads): one cache line each, so that CPUs never share one.
 * User space reads them through the skeleton's mmap at the same stride. */
#define TT_CPU_STRIDE 8
#define TT_FW2_RING 16384  /* per-CPU slots of the "fw2_ring" map */
#define TT_FW2_WAIT 65536  /* slots of the "fw2_wait" map */
/* --cgroup: at most this many subtrees, and this deep (cgroup v2 levels
 * below the root); the kernel side checks one ancestor per entry */
#define TT_MAX_CGROUPS 8
#define TT_MAX_CGROUP_LEVEL 255

/* TCP states, numbered as the kernel numbers them (include/net/tcp_states.h),
 * so that a value read from the kernel needs no translation. */
enum tt_state {
	TT_ESTABLISHED = 1,
	TT_SYN_SENT = 2,
	TT_SYN_RECV = 3,
	TT_FIN_WAIT1 = 4,
	TT_FIN_WAIT2 = 5,
	TT_TIME_WAIT = 6,
	TT_CLOSE = 7,
	TT_CLOSE_WAIT = 8,
	TT_LAST_ACK = 9,
	TT_LISTEN = 10,
	TT_CLOSING = 11,
	TT_NEW_SYN_RECV = 12,
	TT_STATE_MAX = 13,
};

enum tt_event_kind {
	TT_EV_STATE = 1,      /* a state change */
	TT_EV_RCVQ_FULL = 2,  /* sock:sock_rcvqueue_full */
	TT_EV_SNDBUF = 3,     /* sock:sock_exceed_buf_limit */
};

/* tt_event.flags */
enum tt_event_flags {
	TT_F_OWNER = 1 << 0,   /* pid/comm name the socket's owner */
	TT_F_REQ = 1 << 1,     /* the socket is a request (half-open) socket */
	TT_F_TW = 1 << 2,      /* the socket is a timewait socket */
	TT_F_FINAL = 1 << 3,   /* the connection's last record: bytes are valid */
	TT_F_STATE_NS = 1 << 4, /* state_ns is valid */
	/* The owner is a listener's owner, copied to a connection not yet
	 * accepted, and that process has exited since: pid is the dead
	 * process, never shown; user space names the listener's live holder
	 * instead (src/lsnown.c), or no one. */
	TT_F_OWNER_GONE = 1 << 5,
};

/* Indexes of the per-CPU counters (tt_counters in the BPF side's .bss). */
enum tt_counter {
	TT_CNT_FILTERED = 0,  /* dropped by an in-kernel filter */
	/* ring-buffer reservations that failed: each left a gap in seq, which
	 * is what user space reports; this count is a cross-check for tests */
	TT_CNT_LOST = 1,
	/* sockets whose connection found no room: no socket storage (memory),
	 * or no room in the timewait table ("conns"): their owner may show
	 * as unknown, or their timewait end be missed */
	TT_CNT_NO_ROOM = 2,
	/* state changes taken by the second (NESTED) or third (NESTED2)
	 * inet_sock_set_state program: with the kernel's skips of the first,
	 * the exact loss */
	TT_CNT_STATE_NESTED = 3,
	TT_CNT_STATE_NESTED2 = 4,
	/* request sockets the req_by_tuple map, and FIN_WAIT2 timewait
	 * sockets the fw2 rings, had no room for: reported with the skipped
	 * timer hooks, as possibly missed ends and TIME_WAIT moves */
	TT_CNT_UNTRACKED = 5,
	TT_CNT_MAX = 6,
};

struct tt_event {
	__u64 ts_ns;        /* CLOCK_BOOTTIME */
	__u64 seq;          /* global, contiguous unless events were lost */
	__u64 sock_id;      /* same for every record of one connection */
	__u64 state_ns;     /* time spent in old_state (TT_F_STATE_NS) */
	__u64 duration_ns;  /* life of the connection (TT_F_FINAL) */
	__u64 rx_bytes;     /* bytes received (TT_F_FINAL) */
	__u64 tx_bytes;     /* bytes sent and acked (TT_F_FINAL) */
	__u64 cgroup_id;    /* the socket's cgroup v2 id (sk_cgrp_data), 0: unknown */
	__u32 kind;         /* enum tt_event_kind */
	__u32 flags;        /* enum tt_event_flags */
	__u32 old_state;    /* enum tt_state */
	__u32 new_state;
	__u32 family;       /* AF_INET or AF_INET6 */
	__u32 lport;        /* host byte order */
	__u32 rport;
	__u32 netns;        /* network namespace inode */
	__u32 pid;          /* owner tgid, valid with TT_F_OWNER */
	__u32 ctx_pid;      /* task running when the event fired, 0: none */
	__u32 recv_q;
	__u32 send_q;
	__u32 extra;        /* pressure events: size or allocation asked */
	__u32 pad;
	__u8 laddr[16];     /* network byte order; IPv4 in the first 4 bytes */
	__u8 raddr[16];
	char comm[TT_COMM_LEN];
	char ctx_comm[TT_COMM_LEN];
};

/* A socket's owner: in the connection (below), and in the "listeners"
 * map, which the loader seeds from the snapshot. */
struct tt_owner {
	__u32 pid;          /* tgid */
	__u32 known;
	char comm[TT_COMM_LEN];
};

/* What the BPF side knows of a connection: in the socket's own storage
 * (map "sk_conns") while it is a full socket, then in "conns", keyed by
 * socket cookie, while it is a timewait socket (which keeps its full
 * socket's cookie). The loader seeds "conns" from the snapshot. */
struct tt_conn {
	__u64 id;           /* tt_event.sock_id */
	__u64 start_ns;     /* 0: began before tracing */
	__u64 state_ns;     /* when the current state began, 0: unknown */
	__u64 rx_bytes;
	__u64 tx_bytes;
	__u64 cgroup_id;    /* the socket's cgroup (a request's: its listener's), 0: unknown */
	__u32 state;
	__u32 flags;        /* TT_F_REQ: a request not yet adopted */
	__u32 lport;        /* the kernel clears the port before the final CLOSE */
	__u32 pad;
	struct tt_owner owner;
};

/* A connection's namespace and 4-tuple: the key of request sockets in the
 * "req_by_tuple" map, which the loader seeds from the snapshot. */
struct tt_tuple {
	__u32 netns;
	__u32 family;       /* AF_INET or AF_INET6 */
	__u32 lport;        /* host byte order */
	__u32 rport;
	__u8 laddr[16];     /* network byte order; IPv4 in the first 4 bytes, rest 0 */
	__u8 raddr[16];
};

/* A request (half-open) socket: its kernel address, to tell it from a later
 * request with the same tuple, and the connection it starts. */
struct tt_req {
	__u64 req;
	struct tt_conn c;
};

/*
 * A timer cancel of a timewait or request socket, waiting to be told from
 * a reschedule (BPF map "pend", one per CPU; the loader's flush reads it).
 * The tuple and cookie are copied when the cancel is parked: the socket may
 * be freed, and its memory reused, before the cancel is settled.
 */
struct tt_pending {
	__u64 timer;        /* 0: empty */
	__u64 obj;          /* the timewait or request socket */
	__u64 cookie;       /* a timewait socket's: its key in "conns" */
	__u64 ts;           /* when parked, CLOCK_BOOTTIME */
	__u32 busy;         /* a hook on this CPU is updating the slot */
	__u32 expiring;     /* a request timer's handler runs: only its exit decides */
	__u32 is_req;
	__u32 pad;
	struct tt_tuple t;
};

/* Request sockets get ids with this bit set: they never collide with
 * socket cookies, which count up from 1. */
#define TT_REQ_ID_BIT (1ULL << 63)

/* tt_conn.flags: the connection is its timewait socket's now (the timer
 * hooks follow it). The loader sets it on TIME_WAIT rows of the snapshot. */
#define TT_CONN_TW (1U << 12)

/* One open socket file, as the iter/task_file program (bpf/owners.bpf.c)
 * reads it for the snapshot's owners. */
struct tt_owner_pair {
	__u32 tgid;
	__u32 fd;
	__u64 inode;
};

/* tt_conn.flags: the owner was copied from the listener (a passive
 * connection no process has acted on yet); see bpf/tt_lsn.bpf.h. */
#define TT_CONN_LSN_OWNER (1U << 13)

/* One process holding a TCP listener, as the iter/task_file program
 * tt_iter_listeners reads it: the listeners' live holders (src/lsnown.c). */
struct tt_lsn_holder {
	__u64 cookie;       /* the listener's socket cookie, 0: none made */
	__u32 tgid;
	__u32 netns;
	__u32 family;
	__u32 lport;
	__u32 exiting;      /* every thread of tgid is exiting: not a live holder */
	__u32 pad;
	__u8 laddr[16];
	char comm[TT_COMM_LEN];
};

/* One existing socket, as the iter/tcp program reads it for the snapshot. */
struct tt_snap {
	__u64 sk;           /* kernel address: seeds the request table */
	__u64 cookie;       /* socket cookie; 0 when none was ever made */
	__u64 inode;        /* 0 for timewait and request sockets */
	__u64 seq;          /* tt_seq when the row was read: joins the stream */
	__u64 cgroup_id;    /* 0 for timewait sockets: they keep no cgroup */
	__u32 family;
	__u32 lport;
	__u32 rport;
	__u32 netns;
	__u32 state;        /* as /proc/net/tcp shows it */
	__u32 uid;
	__u32 recv_q;
	__u32 send_q;
	__u32 flags;        /* TT_F_TW, TT_F_REQ */
	__u32 pad;
	__u8 laddr[16];
	__u8 raddr[16];
};

#endif /* TCPTRAIL_H */
