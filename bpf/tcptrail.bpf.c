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

enum { BUSY_STATE = 0, BUSY_TSTART = 1, BUSY_TCANCEL = 2 };

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

/* ---- request (half-open) and timewait sockets ---------------------------- */

static __always_inline void *timer_owner_obj(struct timer_list *timer, int tw)
{
	if (tw)
		return (void *)timer - bpf_core_field_offset(struct inet_timewait_sock, tw_timer);
	return (void *)timer - bpf_core_field_offset(struct request_sock, rsk_timer);
}

/* The end of a timewait or request socket: TIME_WAIT -> CLOSE, or
 * SYN_RECV -> CLOSE for a request that never became a full socket. */
static __always_inline void obj_gone(__u32 slot, __u64 obj)
{
	struct tt_conn *c = bpf_map_lookup_elem(&conns, &obj);
	struct tuple t = {};

	if (!c)
		return;
	read_tuple((const struct sock_common *)obj, &t);
	if (c->flags & TT_F_REQ) {
		bpf_map_delete_elem(&req_by_tuple, &t);
		if (!tuple_filtered(&t))
			transition(slot, c, &t, TT_SYN_RECV, TT_CLOSE, TT_F_REQ, 0, 0, 1);
	} else if (!tuple_filtered(&t)) {
		transition(slot, c, &t, c->state ? c->state : TT_TIME_WAIT, TT_CLOSE,
			   TT_F_TW, 0, 0, 1);
	}
	bpf_map_delete_elem(&conns, &obj);
	fw2_del(obj);
}

/* Decides a parked cancel: called first thing by every hook on this CPU. */
static __always_inline void settle_pending(__u32 slot, __u64 timer, int at_exit)
{
	__u32 zero = 0;
	struct pending *p = bpf_map_lookup_elem(&pend, &zero);
	__u64 obj;

	if (!p || !p->timer || p->busy)
		return;
	if (p->timer == timer && !at_exit)   /* the same timer again: caller decides */
		return;
	/* While a request's handler runs, other timers may start inside it;
	 * only the end of that handler tells whether it re-armed. */
	if (p->expiring && !(at_exit && p->timer == timer))
		return;
	p->busy = 1;
	obj = p->obj;
	p->timer = 0;
	obj_gone(slot, obj);
	p->busy = 0;
}

static __always_inline void park_cancel(__u64 timer, __u64 obj, __u32 expiring)
{
	__u32 zero = 0;
	struct pending *p = bpf_map_lookup_elem(&pend, &zero);

	if (!p)
		return;
	p->busy = 1;
	p->timer = timer;
	p->obj = obj;
	p->expiring = expiring;
	p->ts = bpf_ktime_get_boot_ns();
	p->busy = 0;
}

/* Returns 1 when the parked cancel was for this timer (a reschedule). */
static __always_inline int unpark(__u64 timer)
{
	__u32 zero = 0;
	struct pending *p = bpf_map_lookup_elem(&pend, &zero);

	if (!p || p->timer != timer)
		return 0;
	p->timer = 0;
	return 1;
}

static __always_inline struct tt_conn *conn_of_listener(struct sock *lsk)
{
	__u64 key = (__u64)lsk;

	return bpf_map_lookup_elem(&conns, &key);
}

/* A request socket's timer is armed when the SYN is answered: the half-open
 * connection is born, as netstat shows it: SYN_RECV. */
static __always_inline void req_started(__u32 slot, struct timer_list *timer)
{
	__u64 req = (__u64)timer_owner_obj(timer, 0);
	struct request_sock *rs = (struct request_sock *)req;
	struct tt_conn c = {}, *lc;
	struct tuple t = {};
	struct sock *lsk;

	if (bpf_map_lookup_elem(&conns, &req))
		return;   /* SYN-ACK retransmission re-arms the timer */
	read_tuple((const struct sock_common *)req, &t);
	if (tuple_filtered(&t)) {
		count(TT_CNT_FILTERED);
		return;
	}
	lsk = BPF_CORE_READ(rs, __req_common.skc_listener);
	lc = conn_of_listener(lsk);
	if (lc)
		c.owner = lc->owner;
	/* Request sockets have no cookie of their own until someone asks;
	 * ids with the top bit set cannot collide with socket cookies. */
	c.id = TT_REQ_ID_BIT | __sync_fetch_and_add(&req_ids, 1);
	c.start_ns = bpf_ktime_get_boot_ns();
	c.flags = TT_F_REQ;
	transition(slot, &c, &t, TT_CLOSE, TT_SYN_RECV, TT_F_REQ, 0, 0, 0);
	bpf_map_update_elem(&conns, &req, &c, BPF_ANY);
	bpf_map_update_elem(&req_by_tuple, &t, &req, BPF_ANY);
}

static __always_inline void tw_started(__u32 slot, struct timer_list *timer)
{
	__u64 tw = (__u64)timer_owner_obj(timer, 1);
	struct inet_timewait_sock *tws = (struct inet_timewait_sock *)tw;
	__u32 zero = 0, sub = BPF_CORE_READ(tws, tw_substate);
	struct tt_conn *c = bpf_map_lookup_elem(&conns, &tw);
	struct newtw *n;
	struct tuple t = {};

	if (c) {
		/* Re-armed: a FIN_WAIT2 timewait socket that got its FIN moves on. */
		if (c->state != sub) {
			read_tuple((const struct sock_common *)tw, &t);
			if (!tuple_filtered(&t))
				transition(slot, c, &t, c->state, sub, TT_F_TW, 0, 0, 0);
			else
				c->state = sub;
		}
		return;
	}
	n = bpf_map_lookup_elem(&newtw, &zero);
	if (!n)
		return;
	n->tw = tw;
	n->substate = sub;
	read_tuple((const struct sock_common *)tw, &n->t);
}

/* A timewait socket's timer re-armed: a FIN_WAIT2 timewait socket that got
 * its FIN is now in TIME_WAIT (tcp_timewait_state_process()). */
static __always_inline void tw_rearmed(__u32 slot, struct timer_list *timer)
{
	__u64 tw = (__u64)timer_owner_obj(timer, 1);
	struct tt_conn *c = bpf_map_lookup_elem(&conns, &tw);
	__u32 sub;
	struct tuple t = {};

	if (!c)
		return;
	sub = BPF_CORE_READ((struct inet_timewait_sock *)tw, tw_substate);
	if (c->state == sub)
		return;
	read_tuple((const struct sock_common *)tw, &t);
	if (!tuple_filtered(&t))
		transition(slot, c, &t, c->state, sub, TT_F_TW, 0, 0, sub == TT_TIME_WAIT);
	else
		c->state = sub;
	fw2_del(tw);
}

static __always_inline void on_timer_start(__u32 slot, struct timer_list *timer)
{
	__u64 fn = (__u64)timer->function;

	/* every timer in the system passes here: dismiss the others first (a
	 * parked cancel is settled by the next state change or the flush) */
	if (fn != tw_timer_fn && fn != req_timer_fn)
		return;
	settle_pending(slot, (__u64)timer, 0);
	if (unpark((__u64)timer)) {
		/* mod_timer() of a pending timer: not an end */
		if (fn == tw_timer_fn)
			tw_rearmed(slot, timer);
		return;
	}
	if (fn == tw_timer_fn)
		tw_started(slot, timer);
	else
		req_started(slot, timer);
}

static __always_inline void on_timer_cancel(__u32 slot, struct timer_list *timer)
{
	__u64 fn = (__u64)timer->function;
	__u64 obj;

	if (fn != tw_timer_fn && fn != req_timer_fn)
		return;
	settle_pending(slot, (__u64)timer, 0);
	obj = (__u64)timer_owner_obj(timer, fn == tw_timer_fn);
	if (!bpf_map_lookup_elem(&conns, &obj))
		return;
	park_cancel((__u64)timer, obj, 0);
}

/* Twins, as for inet_sock_set_state (see hook_busy below). */
static __always_inline int ours(struct timer_list *timer)
{
	__u64 fn = (__u64)timer->function;

	return fn == tw_timer_fn || fn == req_timer_fn;
}

SEC("tp_btf/timer_start")
int BPF_PROG(tt_timer_start, struct timer_list *timer, unsigned long expires)
{
	__u32 *busy;

	if (!ours(timer))
		return 0;
	busy = busy_slot(BUSY_TSTART);
	if (!busy || *busy)
		return 0;
	*busy = 1;
	on_timer_start(SLOT_TIMER, timer);
	*busy = 0;
	return 0;
}

SEC("tp_btf/timer_start")
int BPF_PROG(tt_timer_start_irq, struct timer_list *timer, unsigned long expires)
{
	__u32 *busy;

	if (!ours(timer))
		return 0;
	busy = busy_slot(BUSY_TSTART);
	if (busy && *busy)
		on_timer_start(SLOT_TIMER_IRQ, timer);
	return 0;
}

SEC("tp_btf/timer_cancel")
int BPF_PROG(tt_timer_cancel, struct timer_list *timer)
{
	__u32 *busy;

	if (!ours(timer))
		return 0;
	busy = busy_slot(BUSY_TCANCEL);
	if (!busy || *busy)
		return 0;
	*busy = 1;
	on_timer_cancel(SLOT_TIMER, timer);
	*busy = 0;
	return 0;
}

SEC("tp_btf/timer_cancel")
int BPF_PROG(tt_timer_cancel_irq, struct timer_list *timer)
{
	__u32 *busy;

	if (!ours(timer))
		return 0;
	busy = busy_slot(BUSY_TCANCEL);
	if (busy && *busy)
		on_timer_cancel(SLOT_TIMER_IRQ, timer);
	return 0;
}

/* The timer fires: a timewait socket expires for good; a request socket's
 * handler either re-arms it (SYN-ACK retransmit) or drops the request,
 * which timer_expire_exit settles. */
SEC("tp_btf/timer_expire_entry")
int BPF_PROG(tt_timer_expire_entry, struct timer_list *timer, unsigned long now)
{
	__u64 fn = (__u64)timer->function;
	__u64 obj;

	if (fn != tw_timer_fn && fn != req_timer_fn)
		return 0;
	unpark((__u64)timer);   /* expiry detaches the timer: not a delete */
	settle_pending(SLOT_TIMER_IRQ, (__u64)timer, 0);
	obj = (__u64)timer_owner_obj(timer, fn == tw_timer_fn);
	if (!bpf_map_lookup_elem(&conns, &obj))
		return 0;
	if (fn == tw_timer_fn)
		obj_gone(SLOT_TIMER_IRQ, obj);
	else
		park_cancel((__u64)timer, obj, 1);
	return 0;
}

SEC("tp_btf/timer_expire_exit")
int BPF_PROG(tt_timer_expire_exit, struct timer_list *timer)
{
	/* A request handler that re-armed its timer has already unparked it. */
	settle_pending(SLOT_TIMER_IRQ, (__u64)timer, 1);
	return 0;
}

static long check_fw2(struct bpf_map *map, __u64 *key, __u32 *val, void *data)
{
	__u64 tw = *key;
	struct tt_conn *c = bpf_map_lookup_elem(&conns, &tw);
	const struct sock_common *skc = (const struct sock_common *)tw;
	struct tuple t = {};
	__u8 sub = 0, state = 0;

	if (!c) {
		fw2_del(tw);
		return 0;
	}
	/* the memory is still this timewait socket: same port, timewait state */
	bpf_core_read(&state, sizeof(state), &skc->skc_state);
	read_tuple(skc, &t);
	if (state != TT_TIME_WAIT || t.lport != c->lport) {
		fw2_del(tw);
		return 0;
	}
	bpf_core_read(&sub, sizeof(sub), &((struct inet_timewait_sock *)tw)->tw_substate);
	if (sub != TT_TIME_WAIT || c->state != TT_FIN_WAIT2)
		return 0;
	c->flags |= CONN_FIN_RCVD;
	if (!tuple_filtered(&t))
		transition(SLOT_FLUSH, c, &t, TT_FIN_WAIT2, TT_TIME_WAIT, TT_F_TW, 0, 0, 1);
	else
		c->state = TT_TIME_WAIT;
	fw2_del(tw);
	return 0;
}

/* Run by the loader through BPF_PROG_TEST_RUN, on each CPU with a parked
 * cancel and every 50 ms on one CPU for the FIN_WAIT2 timewait sockets. */
SEC("raw_tp")
int tt_flush_pending(void *ctx)
{
	__u32 zero = 0;
	struct pending *p = bpf_map_lookup_elem(&pend, &zero);

	bpf_for_each_map_elem(&fw2, check_fw2, NULL, 0);
	if (!p || !p->timer || p->busy)
		return 0;
	/* A reschedule completes within microseconds: only settle old ones. */
	if (p->expiring || bpf_ktime_get_boot_ns() - p->ts < 2000000)
		return 0;
	settle_pending(SLOT_FLUSH, 0, 0);
	return 0;
}

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
