/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What the kernel side keeps: start-up settings (rodata), counters and
 * per-CPU state (.bss), and the maps. Definitions only; the programs are
 * in tcptrail.bpf.c, the logic in the other bpf/tt_*.bpf.h files.
 */
#ifndef TT_MAPS_BPF_H
#define TT_MAPS_BPF_H

#define AF_INET 2
#define AF_INET6 10
#define PF_KTHREAD 0x00200000
/* tt_conn.flags, besides TT_F_REQ and TT_CONN_TW */
#define CONN_ACTIVE (1U << 8)   /* opened by connect() */
#define CONN_FIN_RCVD (1U << 9)
#define CONN_FIN_SENT (1U << 10)
#define CONN_TW TT_CONN_TW
#define CONN_LSN_OWNER TT_CONN_LSN_OWNER   /* owner copied from the listener */

/* ---- start-up settings: filters, and facts the loader found ------------- */

const volatile __u32 filter_family = 0;   /* 0: both */
const volatile __u32 filter_netns = 0;    /* 0: every namespace */
const volatile __u32 filter_pid = 0;      /* owner tgid, 0: any */
const volatile __u32 self_tgid = 0;       /* tcptrail's own process (tt_owner.bpf.h) */
const volatile __u32 filter_ports_on = 0;
const volatile __u64 port_bitmap[1024] = {};
const volatile __u32 listen_only = 0;     /* only transitions into or out of LISTEN */
const volatile __u64 tw_timer_fn = 0;     /* address of tw_timer_handler */
const volatile __u64 req_timer_fn = 0;    /* address of reqsk_timer_handler */
const volatile __u64 wakeup_bytes = 0;    /* force a wakeup past this much data */
const volatile __u32 queue_threshold = 0; /* only events with a queue above it */
const volatile __u32 nr_cpus = 1;         /* possible CPUs */
const volatile __u32 cgroup_on = 0;      /* read sockets' cgroups (kfeat sock_cgroup) */
/* --cgroup: the subtrees' root ids and levels (tt_cgroup.bpf.h) */
const volatile __u32 filter_ncg = 0;
const volatile __u64 filter_cg_id[TT_MAX_CGROUPS] = {};
const volatile __u32 filter_cg_level[TT_MAX_CGROUPS] = {};

/* ---- .bss: user space reads it through the skeleton's mmap, without a
 * bpf() call, so it keeps working after the loader dropped its
 * capabilities. Per-CPU arrays have TT_CPU_STRIDE slots per CPU. -------- */

/* The global sequence number, taken before the ring reservation: a failed
 * reservation leaves a gap that user space reports as lost. */
__u64 tt_seq = 0;

__u64 tt_counters[TT_MAX_CPUS][TT_CPU_STRIDE] = {};   /* enum tt_counter */

/* State changes that found the ring full, by old and new state: --metrics'
 * socket gauges count them as if seen (src/sockgauge.h). One shared
 * array: it is written only when the ring is full. */
__u64 tt_lost_trans[TT_STATE_MAX * TT_STATE_MAX] = {};

/* softirq_entry/exit depth per CPU: see in_task() */
__u64 softirq_depth[TT_MAX_CPUS * TT_CPU_STRIDE] = {};

/* Request sockets made on each CPU ([0]), and the request whose child
 * socket last took over on it ([1]). Per-CPU ids need no shared counter;
 * the CPU is in bits 48-56. */
__u64 req_local[TT_MAX_CPUS * TT_CPU_STRIDE] = {};

/* FIN_WAIT2 rings (see tt_timers.bpf.h): slots reserved on each CPU, slots
 * read by the flush; and the wait ring's head and tail. */
__u64 fw2_head[TT_MAX_CPUS * TT_CPU_STRIDE] = {};
__u64 fw2_tail[TT_MAX_CPUS * TT_CPU_STRIDE] = {};
__u64 fw2_wait_head = 0, fw2_wait_tail = 0;

/*
 * The index of a CPU in the per-CPU arrays, once checked against
 * TT_MAX_CPUS. The mask changes nothing at run time, but the 6.1 verifier
 * loses a check's bound when the compiler indexes with a copy of the
 * checked register ("unbounded memory access"); the barrier keeps the
 * compiler from dropping the mask as redundant.
 */
#define CPU_IDX(cpu) ({ __u32 __c = (cpu); barrier_var(__c); __c & (TT_MAX_CPUS - 1); })

/* ---- connections ---------------------------------------------------------- */

/*
 * Socket cookie -> connection (struct tt_conn): full sockets, and the
 * timewait sockets that continue them (a timewait socket keeps its full
 * socket's cookie, so a connection keeps its entry when it moves to
 * TIME_WAIT: no insert and delete at the hand-off). The loader seeds it
 * from the snapshot. LRU: a table overflow forgets the oldest entry
 * instead of failing new sockets; cookies are never reused, so an entry
 * whose end was missed is never taken for a later socket's, and ages out.
 *
 * Tried instead, and slower here (BENCHMARKS.md): socket storage (an
 * allocation and a memory-cgroup charge per socket, under locks that mask
 * interrupts), and a lock-free open-addressing array (a cache and TLB miss
 * per event, where the LRU's free lists hand out recently freed, cache-hot
 * elements).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, __u64);
	__type(value, struct tt_conn);
} conns SEC(".maps");

/* Request sockets, by 4-tuple: the child socket made when the handshake
 * completes knows only its tuple, and takes over the request's connection.
 * One map serves both ways in: a request's timer gives its address, from
 * which the tuple is a few loads away, cheaper than a second entry kept by
 * address. A plain hash, not LRU: its per-CPU free lists make an insert and
 * a delete, once per connection accepted, cheaper than the LRU's shared
 * lists; and a full table (a SYN flood past 65536 half-open sockets)
 * refuses the new request, which is counted (TT_CNT_UNTRACKED), where an
 * LRU would drop an old one without a word. */
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

/* ---- per-CPU hand-offs ------------------------------------------------------ */

/*
 * A timer event whose meaning depends on what follows it on the same CPU.
 * timer_cancel fires both when a timer is deleted and when mod_timer()
 * moves a pending timer (cancel then start, back to back under the timer
 * base lock). So a cancel of a timewait or request timer is parked here and
 * decided by the next hook that runs on this CPU: a timer_start of the same
 * timer means "rescheduled", anything else means "the socket is gone". The
 * loader also runs tt_flush_pending on each CPU from its poll loop so that
 * a parked cancel on an idle CPU is not held back.
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
struct handoff {
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
	__type(value, struct handoff);
} handoff SEC(".maps");

/* ---- FIN_WAIT2 timewait sockets (tt_timers.bpf.h) -------------------------- */

#define FW2_RING TT_FW2_RING   /* slots per CPU: 320k sockets/s per CPU at 50 ms */
#define FW2_WAIT TT_FW2_WAIT

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FW2_RING);  /* times nr_cpus: set by the loader */
	__type(key, __u32);
	__type(value, __u64);
} fw2_ring SEC(".maps");

/* still waiting: only the flush program, run by one thread, uses it */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FW2_WAIT);
	__type(key, __u32);
	__type(value, __u64);
} fw2_wait SEC(".maps");

/* ---- state changes taken (tt_taken.bpf.h) ---------------------------------- */

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

/* ---- listeners' owners (tt_lsn.bpf.h) ------------------------------------- */

/*
 * Processes that own a listener: a mark in their thread-group leader's
 * task storage, set when a socket enters LISTEN, by the loader's seed and
 * by user space's choice of a holder (through a pidfd). An exit is looked
 * at only for them. Task storage, not a table by tgid: no table to fill,
 * no tgid reuse to mind. In the exit hook any first touch of memory is a
 * cache and TLB miss: the exit of a process that owns no listener costs
 * about 0.6 us more than an empty hook with this mark, as with a bitmap in
 * .bss, against 1.2 us with a hash lookup (BENCHMARKS.md).
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u8);
} lsn_owner_mark SEC(".maps");

/* Listener owners that exited (tgid -> CLOCK_BOOTTIME of the exit): a
 * connection that still carries one as its listener's owner is flagged
 * TT_F_OWNER_GONE. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} lsn_gone SEC(".maps");

/* The last process seen taking a passive connection over, by local port
 * (65536 ports: an array, one load): the holder user space prefers. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} lsn_accepter SEC(".maps");

/* Bumped at each exit of a listener's owner, and each change of an
 * accepter: user space reads them through the mmap at each poll. */
__u64 lsn_gone_gen = 0;
__u64 lsn_accept_gen = 0;

static __always_inline void count(__u32 idx)
{
	__u32 cpu = bpf_get_smp_processor_id();

	if (cpu < TT_MAX_CPUS && idx < TT_CPU_STRIDE)
		__sync_fetch_and_add(&tt_counters[CPU_IDX(cpu)][idx & (TT_CPU_STRIDE - 1)], 1);
}

#endif
