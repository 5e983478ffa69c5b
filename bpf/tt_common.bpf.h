/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Shared by the tcptrail BPF programs: filters, maps, the owner model's
 * helpers and the emit path. Included once, by tcptrail.bpf.c. */
#ifndef TT_COMMON_BPF_H
#define TT_COMMON_BPF_H


#define AF_INET 2
#define AF_INET6 10
#define PF_KTHREAD 0x00200000
#define CONN_ACTIVE (1U << 8)   /* tt_conn.flags: opened by connect() */
#define CONN_FIN_RCVD (1U << 9)
#define CONN_FIN_SENT (1U << 10)

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Start-up filters and facts found by the loader's probes. */
const volatile __u32 filter_family = 0;   /* 0: both */
const volatile __u32 filter_netns = 0;    /* 0: every namespace */
const volatile __u32 filter_pid = 0;      /* owner tgid, 0: any */
const volatile __u32 filter_ports_on = 0;
const volatile __u64 port_bitmap[1024] = {};
const volatile __u32 listen_only = 0;     /* only transitions into or out of LISTEN */
const volatile __u64 tw_timer_fn = 0;     /* address of tw_timer_handler */
const volatile __u64 req_timer_fn = 0;    /* address of reqsk_timer_handler */
const volatile __u64 wakeup_bytes = 0;    /* force a wakeup past this much data */
const volatile __u32 queue_threshold = 0; /* only events with a queue above it */

/* The global sequence number. Taken before the ring reservation, so a
 * failed reservation leaves a gap that user space reports as lost. */
__u64 tt_seq = 0;
__u64 req_ids = 0;





struct tuple {
	__u32 netns;
	__u32 family;
	__u32 lport;
	__u32 rport;
	__u8 laddr[16];
	__u8 raddr[16];
};

/* Kernel object address -> connection. LRU: a table overflow forgets the
 * oldest owner (reported as unknown) instead of failing new sockets. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, __u64);
	__type(value, struct tt_conn);
} conns SEC(".maps");

/* Request sockets by 4-tuple, so the child socket created when the
 * handshake completes can take over the request's identity. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tuple);
	__type(value, __u64);      /* request socket address */
} req_by_tuple SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);   /* resized by the loader (--ring-size) */
} events SEC(".maps");

/* Counters live in .bss, one cache line per CPU, so that user space reads
 * them through the skeleton's mmap without a bpf() call: it keeps working
 * after the loader has dropped its capabilities. */
__u64 tt_counters[TT_MAX_CPUS][8] = {};

/*
 * A timer event whose meaning depends on what follows it on the same CPU.
 * timer_cancel fires both when a timer is deleted and when mod_timer()
 * moves a pending timer (cancel then start, back to back under the timer
 * base lock). So a cancel of a timewait or request timer is parked here and
 * decided by the next hook that runs on this CPU: a timer_start of the same
 * timer means "rescheduled", anything else means "the socket is gone". The
 * loader also runs flush_pending on each CPU from its poll loop so that a
 * parked cancel on an idle CPU is not held back.
 */
struct pending {
	__u64 timer;     /* 0: empty */
	__u64 obj;       /* timewait or request socket */
	__u64 ts;
	__u32 busy;      /* a hook on this CPU is updating the slot */
	__u32 expiring;  /* a request timer's handler runs: only its exit decides */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pending);
} pend SEC(".maps");

/* A timewait socket whose timer was just armed for the first time: the full
 * socket it replaces is closed right after, on this CPU (tcp_time_wait()). */
struct newtw {
	__u64 tw;
	__u32 substate;
	__u32 pad;
	struct tuple t;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct newtw);
} newtw SEC(".maps");

/* scratch slots: a hook in process context can be interrupted by the same
 * hook in softirq, so each context has its own */
enum { SLOT_STATE = 0, SLOT_STATE_IRQ, SLOT_STATE_NEST2, SLOT_TIMER, SLOT_TIMER_IRQ, SLOT_FLUSH, SLOT_PRESSURE, SLOT_MAX };

/* Timewait sockets in the FIN_WAIT2 substate (a socket closed first whose
 * FIN was acked). The peer's FIN moves them to TIME_WAIT by a plain store
 * in tcp_timewait_state_process(), and re-arms the timer -- often within
 * the same timer-wheel bucket, which fires no tracepoint at all. So the
 * loader's periodic flush program looks at these few sockets. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, __u32);
} fw2 SEC(".maps");

/* Entries put in fw2 minus those taken out (approximate under races, never
 * below the truth for long): the loader skips the walk when it is 0. */
__s64 fw2_count = 0;

static __always_inline void fw2_add(__u64 tw)
{
	__u32 zero = 0;

	if (!bpf_map_update_elem(&fw2, &tw, &zero, BPF_NOEXIST))
		__sync_fetch_and_add(&fw2_count, 1);
}

static __always_inline void fw2_del(__u64 tw)
{
	if (!bpf_map_delete_elem(&fw2, &tw))
		__sync_fetch_and_add(&fw2_count, -1);
}

/* One event under construction per CPU and per nesting level, so that a
 * hook interrupted by another does not see its event overwritten. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SLOT_MAX);
	__type(key, __u32);
	__type(value, struct tt_event);
} scratch SEC(".maps");


static __always_inline void count(__u32 idx)
{
	__u32 cpu = bpf_get_smp_processor_id();

	if (cpu < TT_MAX_CPUS && idx < 8)
		__sync_fetch_and_add(&tt_counters[cpu][idx], 1);
}

/*
 * Process context or not? The kernel's answer, preempt_count, lives in a
 * per-CPU variable that kallsyms does not list without CONFIG_KALLSYMS_ALL,
 * so a program cannot address it; and the stack is no answer either, since
 * softirqs run at the end of an interrupt taken in user mode stay on the
 * task's stack. So the softirq_entry/softirq_exit tracepoints keep a per-CPU
 * depth: inside it the task on the CPU is unrelated to the socket. TCP
 * state never changes in hardirq context, and ksoftirqd, threaded NAPI and
 * workqueues are kernel threads, which current_owner() rejects.
 */
__u32 softirq_depth[TT_MAX_CPUS * 16] = {};   /* one cache line per CPU */

static __always_inline __u32 *depth_slot(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	if (cpu >= TT_MAX_CPUS)
		return 0;
	return &softirq_depth[cpu * 16];
}

/*
 * The kernel skips a program that is already running on the CPU (its
 * recursion guard), so an event from an interrupt that lands while the
 * hook runs would be lost. Each hook therefore has a twin: the first takes
 * every event and marks the CPU busy; the twin takes only events that
 * arrive while the first is busy.
 */
__u32 hook_busy[TT_MAX_CPUS * 16] = {};   /* [cpu * 16 + hook], one line per CPU */

enum { BUSY_STATE = 0 };

static __always_inline __u32 *busy_slot(__u32 hook)
{
	__u32 cpu = bpf_get_smp_processor_id();

	if (cpu >= TT_MAX_CPUS)
		return 0;
	return &hook_busy[cpu * 16 + (hook & 15)];
}

static __always_inline int in_task(void *ctx)
{
	__u32 *d = depth_slot();

	return d && *d == 0;
}

SEC("tp_btf/softirq_entry")
int BPF_PROG(tt_softirq_entry, unsigned int vec)
{
	__u32 *d = depth_slot();

	if (d)
		*d += 1;
	return 0;
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(tt_softirq_exit, unsigned int vec)
{
	__u32 *d = depth_slot();

	if (d && *d)
		*d -= 1;
	return 0;
}

/* The task on the CPU is the socket's owner only when it is a user process
 * acting in its own context (a system call on the socket, or the socket's
 * backlog processed at release_sock()). In softirq the task is unrelated. */
static __always_inline int current_owner(void *ctx, struct tt_owner *o)
{
	struct task_struct *task;

	if (!in_task(ctx))
		return 0;
	task = bpf_get_current_task_btf();
	if (task->flags & PF_KTHREAD)
		return 0;
	o->pid = bpf_get_current_pid_tgid() >> 32;
	o->known = 1;
	bpf_get_current_comm(o->comm, sizeof(o->comm));
	return 1;
}

static __always_inline void read_tuple(const struct sock_common *skc, struct tuple *t)
{
	t->family = BPF_CORE_READ(skc, skc_family);
	t->lport = BPF_CORE_READ(skc, skc_num);
	t->rport = bpf_ntohs(BPF_CORE_READ(skc, skc_dport));
	t->netns = BPF_CORE_READ(skc, skc_net.net, ns.inum);
	if (t->family == AF_INET) {
		__u32 a = BPF_CORE_READ(skc, skc_rcv_saddr);
		__u32 b = BPF_CORE_READ(skc, skc_daddr);

		__builtin_memcpy(t->laddr, &a, 4);
		__builtin_memcpy(t->raddr, &b, 4);
	} else {
		bpf_core_read(t->laddr, 16, &skc->skc_v6_rcv_saddr);
		bpf_core_read(t->raddr, 16, &skc->skc_v6_daddr);
	}
}

static __always_inline int port_match(__u32 port)
{
	return (port_bitmap[(port >> 6) & 1023] >> (port & 63)) & 1;
}

/* Family, namespace and port filters: cheap, run before any map work. */
static __always_inline int tuple_filtered(const struct tuple *t)
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

static __always_inline void fill_tuple(struct tt_event *e, const struct tuple *t)
{
	e->family = t->family;
	e->lport = t->lport;
	e->rport = t->rport;
	e->netns = t->netns;
	__builtin_memcpy(e->laddr, t->laddr, 16);
	__builtin_memcpy(e->raddr, t->raddr, 16);
}

static __always_inline void fill_ctx(struct tt_event *e)
{
	struct task_struct *task = bpf_get_current_task_btf();

	/* pid 0 is the idle task: no task context worth naming */
	e->ctx_pid = bpf_get_current_pid_tgid() >> 32;
	if (e->ctx_pid || !(task->flags & PF_KTHREAD))
		bpf_get_current_comm(e->ctx_comm, sizeof(e->ctx_comm));
	else
		__builtin_memset(e->ctx_comm, 0, sizeof(e->ctx_comm));
}

/* Stamps the sequence number and sends the event. A failed reservation is
 * counted per CPU; its sequence number stays unused, marking the gap. */
static __always_inline void emit(struct tt_event *e)
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	e->seq = __sync_fetch_and_add(&tt_seq, 1);
	if (wakeup_bytes && bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_output(&events, e, sizeof(*e), flags))
		count(TT_CNT_LOST);
}

static __always_inline struct tt_event *scratch_event(__u32 slot)
{
	struct tt_event *e = bpf_map_lookup_elem(&scratch, &slot);

	if (e)
		__builtin_memset(e, 0, sizeof(*e));
	return e;
}

static __always_inline void fill_conn(struct tt_event *e, const struct tt_conn *c, __u64 now)
{
	e->sock_id = c->id;
	if (c->owner.known) {
		e->flags |= TT_F_OWNER;
		e->pid = c->owner.pid;
		__builtin_memcpy(e->comm, c->owner.comm, TT_COMM_LEN);
	}
	if (c->state_ns) {
		e->flags |= TT_F_STATE_NS;
		e->state_ns = now - c->state_ns;
	}
}

static __always_inline void fill_final(struct tt_event *e, const struct tt_conn *c, __u64 now)
{
	e->flags |= TT_F_FINAL;
	e->rx_bytes = c->rx_bytes;
	e->tx_bytes = c->tx_bytes;
	if (c->start_ns)
		e->duration_ns = now - c->start_ns;
}

/* Sends one transition of connection c and moves c to new_state. */
static __always_inline void transition(__u32 slot, struct tt_conn *c, const struct tuple *t,
				       __u32 old_state, __u32 new_state, __u32 obj_flags,
				       __u32 rq, __u32 sq, int final)
{
	__u64 now = bpf_ktime_get_boot_ns();
	struct tt_event *e;

	if (listen_only && old_state != TT_LISTEN && new_state != TT_LISTEN)
		goto update;
	if (queue_threshold && rq <= queue_threshold && sq <= queue_threshold) {
		count(TT_CNT_FILTERED);
		goto update;
	}
	if (owner_filtered(c)) {
		count(TT_CNT_FILTERED);
		goto update;
	}
	e = scratch_event(slot);
	if (!e)
		goto update;
	count(TT_CNT_SEEN);
	e->ts_ns = now;
	e->kind = TT_EV_STATE;
	e->flags = obj_flags;
	e->old_state = old_state;
	e->new_state = new_state;
	e->recv_q = rq;
	e->send_q = sq;
	fill_tuple(e, t);
	fill_conn(e, c, now);
	/* the loader's flush runs in its own context: no task to name */
	if (slot != SLOT_FLUSH)
		fill_ctx(e);
	if (final)
		fill_final(e, c, now);
	emit(e);
update:
	c->state = new_state;
	c->state_ns = now;
}

#endif
