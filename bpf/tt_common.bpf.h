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
#define CONN_TW TT_CONN_TW

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

/* Socket cookie -> connection (see struct tt_conn). LRU: a table overflow
 * forgets the oldest owner (reported as unknown) instead of failing new
 * sockets. An entry whose end was missed is never mistaken for a later
 * socket's, since cookies are not reused: the LRU ages it out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, __u64);
	__type(value, struct tt_conn);
} conns SEC(".maps");

/* Request sockets, by 4-tuple: the child socket made when the handshake
 * completes knows only its tuple, and takes over the request's connection.
 * One map serves both ways in: a request's timer gives its address, from
 * which the tuple is a few direct loads away, cheaper than a second entry
 * kept by address. A plain hash, not LRU: its per-CPU free lists make an
 * insert and a delete, once per connection accepted, cheaper than the LRU's
 * shared lists; and a full table (a SYN flood past 65536 half-open
 * sockets) refuses the new request, which is counted (TT_CNT_UNTRACKED),
 * where an LRU would drop an old one without a word. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tt_tuple);
	__type(value, struct tt_req);
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
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tt_pending);
} pend SEC(".maps");

/*
 * Hand-offs between two kernel objects of one connection, each completed by
 * the next hook on this CPU in the same context. One slot per context
 * (task, softirq): a softirq landing between the two halves in task
 * context (backlog processing in release_sock()) makes hand-offs of its
 * own.
 * - tw: a timewait socket whose timer was just armed for the first time;
 *   the full socket it replaces is closed right after (tcp_time_wait()).
 * - clone: a child socket cloned from a listener on a kernel that reports
 *   the clone's LISTEN -> SYN_RECV before it copies the request's
 *   addresses (6.1, 6.12: inet_csk_clone_lock()); the request's timer is
 *   deleted right after (inet_csk_complete_hashdance()), and must then
 *   read as a hand-over to the child, not as the request's end.
 */
struct newtw {
	__u64 tw;
	__u64 cookie;    /* the full socket's, which the timewait socket copies */
	__u32 substate;
	__u32 pad;
	__u64 clone;     /* the child socket's address */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct newtw);
} newtw SEC(".maps");

/* scratch slots: a hook in process context can be interrupted by the same
 * hook in softirq, so each context has its own */
enum { SLOT_STATE = 0, SLOT_STATE_IRQ, SLOT_STATE_NEST2, SLOT_TIMER, SLOT_TIMER_IRQ, SLOT_FLUSH, SLOT_PRESSURE, SLOT_MAX };

static __always_inline void count(__u32 idx);

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
 * walk visits every bucket (it was 0.4 % of the CPU under churn).
 *
 * Each CPU reserves a slot with an atomic add (a nested hook on the same
 * CPU gets another slot) and fills it; the reader takes a slot only once
 * it is non-zero and zeroes it, so it never reads a reserved, unfilled
 * slot. A full ring is counted (TT_CNT_UNTRACKED): its socket's FIN_WAIT2
 * -> TIME_WAIT may be missed.
 */
#define FW2_RING TT_FW2_RING   /* slots per CPU: 320k sockets/s per CPU at 50 ms */

const volatile __u32 nr_cpus = 1;   /* possible CPUs: the ring has nr_cpus * FW2_RING slots */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FW2_RING);  /* times nr_cpus: set by the loader */
	__type(key, __u32);
	__type(value, __u64);
} fw2_ring SEC(".maps");

/* FIN_WAIT2 timewait sockets still waiting: only the flush program, run
 * by one thread, reads and writes it. */
#define FW2_WAIT TT_FW2_WAIT

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FW2_WAIT);
	__type(key, __u32);
	__type(value, __u64);
} fw2_wait SEC(".maps");

__u64 fw2_wait_head = 0, fw2_wait_tail = 0;

/*
 * The index of a CPU in the per-CPU arrays below, once checked against
 * TT_MAX_CPUS. The mask changes nothing at run time, but the 6.1 verifier
 * loses a check's bound when the compiler indexes with a copy of the
 * checked register ("unbounded memory access"); the barrier keeps the
 * compiler from dropping the mask as redundant.
 */
#define CPU_IDX(cpu) ({ __u32 __c = (cpu); barrier_var(__c); __c & (TT_MAX_CPUS - 1); })

/* [cpu * 8]: slots reserved on that CPU, slots read by the flush */
__u64 fw2_head[TT_MAX_CPUS * 8] = {};
__u64 fw2_tail[TT_MAX_CPUS * 8] = {};

static __always_inline void fw2_watch(__u64 tw)
{
	__u32 cpu = bpf_get_smp_processor_id(), idx;
	__u64 h, *slot;

	if (cpu >= nr_cpus || cpu >= TT_MAX_CPUS ||
	    fw2_head[CPU_IDX(cpu) * 8] - fw2_tail[CPU_IDX(cpu) * 8] >= FW2_RING) {
		count(TT_CNT_UNTRACKED);
		return;
	}
	h = __sync_fetch_and_add(&fw2_head[CPU_IDX(cpu) * 8], 1);
	idx = cpu * FW2_RING + (h & (FW2_RING - 1));
	slot = bpf_map_lookup_elem(&fw2_ring, &idx);
	if (slot)
		*slot = tw;
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
		__sync_fetch_and_add(&tt_counters[CPU_IDX(cpu)][idx & 7], 1);
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
	return &softirq_depth[CPU_IDX(cpu) * 16];
}

/*
 * The kernel skips a program that is already running on the CPU (its
 * recursion guard), so a state change from an interrupt that lands while
 * the hook runs would be lost. inet_sock_set_state therefore has three
 * programs, called one after the other for every event: the first takes
 * every event it is run for; the others take an event only if no program
 * took it yet. What was taken is known by the events themselves: each
 * program that takes one records (socket, old and new state) in a small
 * per-CPU ring, before any other work; the others look for it there.
 *
 * An interrupt can land anywhere, even inside the kernel's own code around
 * a program (where no flag of ours could be set), and the rule still
 * holds: an event the first program was skipped for is not recorded, so
 * the second takes it. The first program's latest event is also kept on
 * its own, the common and cheap check. The ring is large because a softirq
 * batch can land between the first program's end and the second's check,
 * and overwrite the first program's record of it: a batch of 256 did, once
 * in 600,000 events (test 13b). A softirq run ends after netdev_budget
 * packets or 2 ms, far fewer events than TAKEN_RING.
 */
#define TAKEN_RING 2048   /* a power of two; the value must fit a per-CPU allocation (32 KiB) */

struct taken {
	__u64 key[TAKEN_RING];   /* taken_key() */
	__u64 head;
	__u64 first;             /* the first program's latest event */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct taken);
} taken SEC(".maps");

static __always_inline struct taken *taken_ring(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&taken, &zero);
}

/*
 * An event: the socket's cookie and the two states. Not its address: a
 * socket freed and another made at the same address soon after makes the
 * same transitions (with a ring this long under churn, often). A socket's
 * first event may find no cookie yet: it is made then, once per socket.
 */
static __always_inline __u64 sock_cookie(struct sock *sk)
{
	__u64 ck = sk->__sk_common.skc_cookie.counter;

	return ck ? ck : bpf_get_socket_cookie(sk);
}

static __always_inline __u64 taken_key(__u64 ck, int oldstate, int newstate)
{
	return ck << 16 | (oldstate & 0xff) << 8 | (newstate & 0xff);
}

static __always_inline void take(struct taken *tk, __u64 key)
{
	/* atomic: a nested taker gets a slot of its own */
	__u32 i = __sync_fetch_and_add(&tk->head, 1) & (TAKEN_RING - 1);

	tk->key[i] = key;
}

struct taken_scan {
	struct taken *tk;
	__u64 key, head;
	__u32 found, pad;
};

/* bpf_loop callback: slot head - 1 - i, newest first; 1 stops the loop */
static long taken_slot(__u32 i, struct taken_scan *s)
{
	if (s->tk->key[(s->head - 1 - i) & (TAKEN_RING - 1)] == s->key) {
		s->found = 1;
		return 1;
	}
	return 0;
}

static __always_inline int taken_already(struct taken *tk, __u64 key)
{
	struct taken_scan s = { .tk = tk, .key = key, .head = tk->head };

	/* nearly always the event the first program just took */
	if (tk->first == key)
		return 1;
	/* Newest first: an event taken by the second program is found at
	 * once by the third. Only an event nobody took is scanned to the end,
	 * a few hundred times per million events under heavy churn. */
	bpf_loop(TAKEN_RING, taken_slot, &s, 0);
	return s.found;
}

/* PREEMPT_RT keeps the softirq state in the task (softirqs run in
 * threads, or in the task that enabled them, and can be preempted), so the
 * per-CPU depth would be wrong there. The field exists only on RT kernels:
 * a CO-RE flavour of task_struct asks for it. */
struct task_struct___rt {
	int softirq_disable_cnt;
} __attribute__((preserve_access_index));

#define SOFTIRQ_OFFSET (1U << 8)   /* in_serving_softirq(): include/linux/preempt.h */

static __always_inline int in_task(void *ctx)
{
	struct task_struct___rt *t = (void *)bpf_get_current_task_btf();
	__u32 *d;

	if (bpf_core_field_exists(t->softirq_disable_cnt))
		return !(t->softirq_disable_cnt & SOFTIRQ_OFFSET);
	d = depth_slot();
	return d && *d == 0;
}

static __always_inline struct newtw *newtw_slot(void *ctx)
{
	__u32 key = in_task(ctx) ? 0 : 1;

	return bpf_map_lookup_elem(&newtw, &key);
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

/*
 * Reading kernel objects found by address. Tracepoint arguments are BTF
 * pointers, read with direct loads on every kernel. A timewait or request
 * socket found from its timer, a listener found from its request, or a
 * socket address kept in a map is a plain number, and so is a struct that
 * the verifier only knows as another (a tcp_sock behind a struct sock).
 *
 * The same source builds two objects (the Makefile), and the loader picks
 * one at open time from a probe of the kernel's BTF:
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

static __always_inline int port_match(__u32 port)
{
	return (port_bitmap[(port >> 6) & 1023] >> (port & 63)) & 1;
}

/* Family, namespace and port filters: cheap, run before any map work. */
static __always_inline int tuple_filtered(const struct tt_tuple *t)
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

static __always_inline void fill_tuple(struct tt_event *e, const struct tt_tuple *t)
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
static __always_inline void transition(__u32 slot, struct tt_conn *c, const struct tt_tuple *t,
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
