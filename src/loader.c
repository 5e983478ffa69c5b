// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The BPF side's lifecycle: probes, rodata, load, attach, counters. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "kfeat.h"
#include "cgroup.h"
#include "loader.h"
#include "tcptrail.skel.h"
#include "tcptrail_compat.skel.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

struct tt_bpf {
	struct tcptrail_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *links[24];
	int nlinks;
	int ncpus;
	struct kfeat kf;
	struct tt_features feat;
};

static int verbose;

/* Why the last loader_start() failed: one lowercase line naming the cause
 * and a fix. Printed by loader_start(), except for --snapshot-only, which
 * falls back to /proc and says so in a note of its own. */
static char why[512];

__attribute__((format(printf, 1, 2)))
static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
}

const char *loader_error(void)
{
	return why;
}

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	if (!verbose)
		return 0;   /* libbpf's own warnings only with -v: we explain errors ourselves */
	return vfprintf(stderr, fmt, args);
}

static int has_cap(cap_t caps, cap_value_t cap)
{
	cap_flag_value_t v = CAP_CLEAR;

	if (cap_get_flag(caps, cap, CAP_EFFECTIVE, &v))
		return 0;
	return v == CAP_SET;
}

/* Says which capability is missing before the kernel answers a bare EPERM. */
static int check_privileges(void)
{
	cap_t caps = cap_get_proc();
	int ok_bpf, ok_perf, admin;

	if (!caps)
		return 0;   /* cannot tell: let the load decide */
	admin = has_cap(caps, CAP_SYS_ADMIN);
	ok_bpf = admin || has_cap(caps, CAP_BPF);
	ok_perf = admin || has_cap(caps, CAP_PERFMON);
	cap_free(caps);
	if (ok_bpf && ok_perf)
		return 0;
	fail("missing %s%s%s: run as root, or grant CAP_BPF and CAP_PERFMON "
		"(setcap cap_bpf,cap_perfmon,cap_syslog,cap_sys_ptrace,cap_dac_read_search+ep tcptrail)",
		ok_bpf ? "" : "CAP_BPF", !ok_bpf && !ok_perf ? " and " : "",
		ok_perf ? "" : "CAP_PERFMON");
	return -EPERM;
}

/* Function addresses identify timewait and request timers in the timer
 * tracepoints: the timer's callback is the only mark they carry. */
static int kallsyms_lookup(const char *name1, unsigned long long *a1,
			   const char *name2, unsigned long long *a2, int *zeroed)
{
	FILE *f = fopen("/proc/kallsyms", "re");
	char line[512], type, sym[256];
	unsigned long long addr;

	*a1 = *a2 = 0;
	*zeroed = 0;
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f) && (!*a1 || !*a2)) {
		if (sscanf(line, "%llx %c %255s", &addr, &type, sym) != 3)
			continue;
		/* listed with address 0: the reader lacks CAP_SYSLOG */
		if (!addr && (!strcmp(sym, name1) || !strcmp(sym, name2)))
			*zeroed = 1;
		if (!*a1 && !strcmp(sym, name1))
			*a1 = addr;
		else if (!*a2 && !strcmp(sym, name2))
			*a2 = addr;
	}
	fclose(f);
	return 0;
}

static unsigned self_netns(void)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st))
		return 0;
	return (unsigned)st.st_ino;
}

static int attach_one(struct tt_bpf *b, struct bpf_program *p, const char *name)
{
	struct bpf_link *l = bpf_program__attach(p);
	size_t len;

	if (!l)
		return -errno;
	b->links[b->nlinks++] = l;
	if (!name)
		return 0;   /* a second program on a hook already listed */
	len = strlen(b->feat.attach);
	snprintf(b->feat.attach + len, sizeof(b->feat.attach) - len, "%s%s",
		 len ? "," : "", name);
	return 0;
}

/*
 * Opens the object this kernel can load. Without bpf_rdonly_cast (Linux
 * 6.1) it is the compat build of the same source, opened through the main
 * skeleton: the build checks that both declare the same maps, programs and
 * globals at the same offsets (scripts/skel-layout.sh), so every
 * skel->progs, ->maps, ->rodata and ->bss pointer is valid for either.
 */
static struct tcptrail_bpf *open_skel(int compat, const char *btf_path)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = btf_path);
	struct tcptrail_bpf *skel = calloc(1, sizeof(*skel));
	int err;

	if (!skel) {
		errno = ENOMEM;
		return NULL;
	}
	err = tcptrail_bpf__create_skeleton(skel);
	if (!err && compat)
		skel->skeleton->data = (void *)tcptrail_compat_bpf__elf_bytes(&skel->skeleton->data_sz);
	if (!err)
		err = bpf_object__open_skeleton(skel->skeleton, &oo);
	if (err) {
		tcptrail_bpf__destroy(skel);
		errno = -err;
		return NULL;
	}
	return skel;
}

/* Each BPF program, map and link is a file descriptor: a low open-file
 * limit fails the start-up in whichever step runs out, and the kernel's
 * EMFILE says nothing of the limit. Returns 1 when it explained err. */
static int explain_fd_limit(int err, const char *what)
{
	struct rlimit rl;

	if (err != -EMFILE && err != -ENFILE)
		return 0;
	if (err == -ENFILE || getrlimit(RLIMIT_NOFILE, &rl))
		fail("cannot %s: %s (the system's open-file table is full: see fs.file-max)",
		     what, strerror(-err));
	else
		fail("cannot %s: too many open files: the open-file limit (ulimit -n) is %llu, "
		     "and the BPF programs, maps and links need about 40 descriptors: raise it "
		     "(ulimit -n 1024)", what, (unsigned long long)rl.rlim_cur);
	return 1;
}

static void explain_load_error(int err)
{
	if (explain_fd_limit(err, "load the BPF program"))
		return;
	if (explain_fd_limit(err, "load the BPF program"))
		return;
	if (err == -EPERM || err == -EACCES)
		fail("loading the BPF program was refused (%s): "
			"needs CAP_BPF and CAP_PERFMON: run as root", strerror(-err));
	else if (!libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL))
		fail("cannot load the BPF program: this kernel has no BPF ring "
			"buffer: use Linux 6.1 or later");
	else if (!libbpf_probe_bpf_helper(BPF_PROG_TYPE_SOCKET_FILTER, BPF_FUNC_loop, NULL))
		fail("cannot load the BPF program: this kernel lacks the bpf_loop "
			"helper: use Linux 6.1 or later");
	else
		fail("cannot load the BPF program: %s "
			"(rerun with -v for the verifier log)", strerror(-err));
}

/*
 * Every program of the object: what it needs to be loaded, and the hook
 * it is attached to. One table drives both autoload (before the load) and
 * attach (after it), so a program never loads without its hook or the
 * other way round. Attach order is the table's: softirq_exit before
 * softirq_entry, so that a softirq running between the two attaches cannot
 * leave its CPU counted as in softirq for good (exit stops at 0), and
 * both before the state programs, whose owner rule depends on them.
 */
enum prog_need {
	NEED_LIVE = 1 << 0,      /* tracing, not --snapshot-only */
	NEED_TIMERS = 1 << 1,    /* TIME_WAIT and half-open sockets followed */
	NEED_SOCK_LEN = 1 << 2,  /* the send/receive tracepoints exist (6.3) */
	NEED_DEPTH = 1 << 3,     /* softirq told by a per-CPU depth (not PREEMPT_RT) */
	NEED_ITER = 1 << 4,      /* the snapshot from iter/tcp */
};

#define PROG(name) offsetof(struct tcptrail_bpf, progs.name)

/* What a program's skips by the kernel's recursion guard mean (see
 * bpf/tt_taken.bpf.h and loader_recursion_misses()). */
enum prog_role {
	ROLE_HOOK = 0,       /* a skip may be a missed event: counted */
	ROLE_STATE_FIRST,    /* its skips are taken by the twins, or lost */
	ROLE_STATE_TWIN,     /* takes what the first was skipped for */
};

static const struct prog_use {
	size_t off;             /* in the skeleton */
	unsigned need;          /* every one of these */
	const char *hook;       /* listed in meta.attach; "": attached, not listed
				 * (a second program on a hook); NULL: not attached */
	enum prog_role role;
} prog_uses[] = {
	{ PROG(tt_softirq_exit), NEED_LIVE | NEED_DEPTH, "tp_btf/softirq_exit", ROLE_HOOK },
	{ PROG(tt_softirq_entry), NEED_LIVE | NEED_DEPTH, "tp_btf/softirq_entry", ROLE_HOOK },
	{ PROG(tt_set_state), NEED_LIVE, "tp_btf/inet_sock_set_state", ROLE_STATE_FIRST },
	{ PROG(tt_set_state_irq), NEED_LIVE, "", ROLE_STATE_TWIN },
	{ PROG(tt_set_state_nest2), NEED_LIVE, "", ROLE_STATE_TWIN },
	{ PROG(tt_timer_start), NEED_LIVE | NEED_TIMERS, "tp_btf/timer_start", ROLE_HOOK },
	{ PROG(tt_timer_cancel), NEED_LIVE | NEED_TIMERS, "tp_btf/timer_cancel", ROLE_HOOK },
	{ PROG(tt_timer_expire_entry), NEED_LIVE | NEED_TIMERS, "tp_btf/timer_expire_entry", ROLE_HOOK },
	{ PROG(tt_timer_expire_exit), NEED_LIVE | NEED_TIMERS, "tp_btf/timer_expire_exit", ROLE_HOOK },
	/* run by the poll loop (loader_flush_pending), never attached */
	{ PROG(tt_flush_pending), NEED_LIVE | NEED_TIMERS, NULL, ROLE_HOOK },
	{ PROG(tt_send_length), NEED_LIVE | NEED_SOCK_LEN, "tp_btf/sock_send_length", ROLE_HOOK },
	{ PROG(tt_recv_length), NEED_LIVE | NEED_SOCK_LEN, "tp_btf/sock_recv_length", ROLE_HOOK },
	{ PROG(tt_rcvqueue_full), NEED_LIVE, "tp_btf/sock_rcvqueue_full", ROLE_HOOK },
	{ PROG(tt_exceed_buf_limit), NEED_LIVE, "tp_btf/sock_exceed_buf_limit", ROLE_HOOK },
	{ PROG(tt_proc_exit), NEED_LIVE | NEED_TIMERS, "tp_btf/sched_process_exit", ROLE_HOOK },
	/* run by src/lsnown.c, never attached to a hook */
	{ PROG(tt_iter_listeners), NEED_LIVE | NEED_TIMERS, NULL, ROLE_HOOK },
	/* attached by each snapshot (loader_snapshot) */
	{ PROG(tt_iter_tcp), NEED_ITER, NULL, ROLE_HOOK },
};

#define N_PROGS (sizeof(prog_uses) / sizeof(prog_uses[0]))

static struct bpf_program *prog_at(const struct tt_bpf *b, size_t i)
{
	return *(struct bpf_program **)((char *)b->skel + prog_uses[i].off);
}

static unsigned prog_needs_met(const struct tt_bpf *b, const struct tt_opts *o)
{
	unsigned have = 0;

	if (!o->snapshot_only)
		have |= NEED_LIVE;
	if (b->feat.timers)
		have |= NEED_TIMERS;
	if (b->kf.sock_length_tp && !o->state_only)
		have |= NEED_SOCK_LEN;
	if (!b->kf.preempt_rt)
		have |= NEED_DEPTH;
	if (b->kf.iter_tcp && !o->no_snapshot)
		have |= NEED_ITER;
	return have;
}

static void set_autoload(struct tt_bpf *b, unsigned have)
{
	for (size_t i = 0; i < N_PROGS; i++)
		bpf_program__set_autoload(prog_at(b, i), (prog_uses[i].need & have) == prog_uses[i].need);
}

static int attach_all(struct tt_bpf *b, unsigned have)
{
	int err;

	for (size_t i = 0; i < N_PROGS; i++) {
		if ((prog_uses[i].need & have) != prog_uses[i].need || !prog_uses[i].hook)
			continue;
		err = attach_one(b, prog_at(b, i), *prog_uses[i].hook ? prog_uses[i].hook : NULL);
		if (err && explain_fd_limit(err, "attach the tracepoints"))
			return err;
		if (err) {
			fail("cannot attach %s to %s: %s (rerun with -v for "
				"libbpf's log)", bpf_program__name(prog_at(b, i)),
				*prog_uses[i].hook ? prog_uses[i].hook : "its hook", strerror(-err));
			return err;
		}
	}
	return 0;
}

/* What the kernel offers: decides which object and programs load. */
static int probe_kernel(struct tt_bpf *b)
{
	int err = kfeat_probe(&b->kf, NULL, getenv("TCPTRAIL_DISABLE"));

	if (err) {
		fail("this kernel has no BTF (/sys/kernel/btf/vmlinux: %s): "
			"use a kernel built with CONFIG_DEBUG_INFO_BTF=y (Linux 6.1 or later)",
			strerror(-err));
		return -EOPNOTSUPP;
	}
	if (!b->kf.set_state_tp) {
		fail("this kernel has no sock:inet_sock_set_state tracepoint: "
			"use Linux 6.1 or later");
		return -EOPNOTSUPP;
	}
	kfeat_names(&b->kf, 1, b->feat.features, sizeof(b->feat.features));
	kfeat_names(&b->kf, 0, b->feat.missing, sizeof(b->feat.missing));
	b->feat.preempt_rt = b->kf.preempt_rt;
	return 0;
}

/* The start-up filters, in rodata: the verifier sees them as constants. */
static void set_filters(struct tt_bpf *b, const struct tt_opts *o)
{
	struct tcptrail_bpf__rodata *ro = b->skel->rodata;

	ro->filter_family = o->family;
	b->feat.netns = o->all_netns ? 0 : self_netns();
	ro->filter_netns = b->feat.netns;
	ro->filter_pid = o->pid;
	ro->self_tgid = (__u32)getpid();
	ro->listen_only = o->listening;
	ro->filter_ports_on = o->nports > 0;
	for (int i = 0; i < o->nports; i++)
		ro->port_bitmap[o->ports[i] >> 6] |= 1ULL << (o->ports[i] & 63);
	ro->queue_threshold = o->queue_threshold > 0xffffffffUL ? 0xffffffffU : o->queue_threshold;
	/* wake the reader early only when a quarter of the ring is used */
	ro->wakeup_bytes = o->ring_size / 4;
	ro->nr_cpus = b->ncpus;
}

/* --cgroup: each subtree's root id and level, for cgroup_filtered(). */
static int set_cgroups(struct tt_bpf *b, const struct tt_opts *o)
{
	struct tcptrail_bpf__rodata *ro = b->skel->rodata;
	struct cgroups *cg = NULL;
	char canon[4096];
	int err = 0;

	ro->cgroup_on = b->kf.sock_cgroup;
	if (!o->ncgroups)
		return 0;
	if (!b->kf.sock_cgroup) {
		fail("--cgroup: this kernel keeps no cgroup in its sockets (sock_cgroup in the "
		     "meta record's features_missing: CONFIG_SOCK_CGROUP_DATA, Linux 5.15)");
		return -EOPNOTSUPP;
	}
	err = cgroups_open(&cg, NULL, NULL);
	for (int i = 0; !err && i < o->ncgroups; i++) {
		unsigned long long id = 0;
		unsigned level = 0;

		err = cgroups_resolve(cg, o->cgroups[i], &id, &level, canon, sizeof(canon));
		if (err == -EOPNOTSUPP && cgroups_v2(cg) == CG_V2_HIDDEN)
			fail("--cgroup: the cgroup2 file system is not mounted in this mount namespace "
			     "(ip netns exec remounts /sys): enter the network namespace with "
			     "nsenter --net instead");
		else if (err == -EOPNOTSUPP)
			fail("--cgroup: cgroup v2 is not in use on this host (cgroup v1 only): sockets "
			     "cannot be selected by cgroup");
		else if (!err && level > TT_MAX_CGROUP_LEVEL)
			err = -E2BIG;
		if (err == -E2BIG)
			fail("--cgroup %s: deeper than %d levels", o->cgroups[i], TT_MAX_CGROUP_LEVEL);
		else if (err && err != -EOPNOTSUPP)
			fail("--cgroup %s: not a cgroup under %s (%s): give a path like "
			     "/system.slice/NAME.service, as /proc/PID/cgroup shows it",
			     o->cgroups[i], cgroups_root(cg), strerror(-err));
		ro->filter_cg_id[i] = id;
		ro->filter_cg_level[i] = level;
	}
	ro->filter_ncg = err ? 0 : o->ncgroups;
	cgroups_free(&cg);
	return err;
}

/* TIME_WAIT and half-open sockets are known by their timers' callbacks.
 * --snapshot-only traces nothing: no kallsyms walk, most of its start-up. */
static void find_timers(struct tt_bpf *b, const struct tt_opts *o)
{
	unsigned long long twfn = 0, reqfn = 0;
	int zeroed = 0;

	if (o->snapshot_only || o->state_only)
		return;
	kallsyms_lookup("tw_timer_handler", &twfn, "reqsk_timer_handler", &reqfn, &zeroed);
	b->feat.timers = twfn && reqfn;
	b->skel->rodata->tw_timer_fn = twfn;
	b->skel->rodata->req_timer_fn = reqfn;
	if (!b->feat.timers)
		fprintf(stderr, "tcptrail: warning: %s: TIME_WAIT and half-open sockets will not be "
			"traced (%s)\n",
			zeroed ? "/proc/kallsyms hides addresses" : "timer handler symbols not found in /proc/kallsyms",
			zeroed ? "needs CAP_SYSLOG: run as root or grant it" : "check kernel.kptr_restrict");
}

/* --snapshot-only keeps the event maps tiny: most of its memory. */
static void size_maps(struct tt_bpf *b, const struct tt_opts *o)
{
	bpf_map__set_max_entries(b->skel->maps.events, o->snapshot_only ? 4096 : o->ring_size);
	bpf_map__set_max_entries(b->skel->maps.fw2_ring, b->ncpus * TT_FW2_RING);
	if (o->snapshot_only) {
		bpf_map__set_max_entries(b->skel->maps.conns, 1024);
		bpf_map__set_max_entries(b->skel->maps.req_by_tuple, 1024);
	}
}

int loader_start(struct tt_bpf **out, const struct tt_opts *o, tt_event_fn fn, void *ctx)
{
	struct tt_bpf *b = NULL;
	unsigned have;
	int err;

	*out = NULL;
	verbose = o->verbose;
	why[0] = '\0';
	libbpf_set_print(print_fn);
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	err = probe_kernel(b);
	if (!err)
		err = check_privileges();
	if (err)
		goto cleanup;
	b->ncpus = libbpf_num_possible_cpus();
	if (b->ncpus <= 0) {
		err = b->ncpus ? b->ncpus : -EINVAL;
		goto cleanup;
	}
	b->skel = open_skel(!b->kf.rdonly_cast, NULL);
	if (!b->skel) {
		err = -errno;
		fail("cannot open the BPF object: %s", strerror(-err));
		goto cleanup;
	}
	set_filters(b, o);
	err = set_cgroups(b, o);
	if (err)
		goto cleanup;
	find_timers(b, o);
	size_maps(b, o);
	have = prog_needs_met(b, o);
	set_autoload(b, have);
	b->feat.iter = (have & NEED_ITER) != 0;
	err = tcptrail_bpf__load(b->skel);
	if (err) {
		explain_load_error(err);
		goto cleanup;
	}
	err = attach_all(b, have);
	if (err)
		goto cleanup;
	b->rb = ring_buffer__new(bpf_map__fd(b->skel->maps.events), (ring_buffer_sample_fn)fn, ctx, NULL);
	if (!b->rb) {
		err = -errno;
		if (!explain_fd_limit(err, "map the ring buffer"))
			fail("cannot map the ring buffer: %s", strerror(-err));
		goto cleanup;
	}
	*out = b;
	return 0;
cleanup:
	if (!o->snapshot_only && why[0])
		fprintf(stderr, "tcptrail: %s\n", why);
	loader_stop(&b);
	return err;
}

void loader_stop(struct tt_bpf **bp)
{
	struct tt_bpf *b = bp ? *bp : NULL;

	if (!b)
		return;
	ring_buffer__free(b->rb);
	for (int i = 0; i < b->nlinks; i++)
		bpf_link__destroy(b->links[i]);
	tcptrail_bpf__destroy(b->skel);
	free(b);
	*bp = NULL;
}

const struct tt_features *loader_features(const struct tt_bpf *b)
{
	static const struct tt_features none;

	return b ? &b->feat : &none;
}

struct ring_buffer *loader_ring(const struct tt_bpf *b)
{
	return b->rb;
}

struct tcptrail_bpf *loader_skel(const struct tt_bpf *b)
{
	return b->skel;
}

unsigned long long loader_counter(const struct tt_bpf *b, int idx)
{
	unsigned long long sum = 0;

	for (int cpu = 0; cpu < b->ncpus && cpu < TT_MAX_CPUS; cpu++)
		sum += __atomic_load_n(&b->skel->bss->tt_counters[cpu][idx], __ATOMIC_RELAXED);
	return sum;
}

void loader_recursion_misses(const struct tt_bpf *b, unsigned long long *state,
			     unsigned long long *timers)
{
	unsigned long long skipped = 0, nested;

	*timers = 0;
	for (size_t i = 0; i < N_PROGS; i++) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog_at(b, i));

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		if (prog_uses[i].role == ROLE_STATE_FIRST)
			skipped = info.recursion_misses;
		else if (prog_uses[i].role == ROLE_HOOK)
			*timers += info.recursion_misses;
	}
	/*
	 * Each state change the kernel skipped the first program for was
	 * taken by one of the other two, or lost (see struct taken in the BPF
	 * program). The counters are read one after the other while events go
	 * on: an event in flight between the two reads can be counted as lost
	 * once (an over-count, never an under-count that lasts, since the
	 * caller reports only increases).
	 */
	*timers += loader_counter(b, TT_CNT_UNTRACKED);
	nested = loader_counter(b, TT_CNT_STATE_NESTED) + loader_counter(b, TT_CNT_STATE_NESTED2);
	*state = skipped > nested ? skipped - nested : 0;
}

void loader_lost_trans(const struct tt_bpf *b, unsigned long long lost[TT_STATE_MAX][TT_STATE_MAX])
{
	for (int i = 0; i < TT_STATE_MAX * TT_STATE_MAX; i++)
		lost[i / TT_STATE_MAX][i % TT_STATE_MAX] =
			__atomic_load_n(&b->skel->bss->tt_lost_trans[i], __ATOMIC_RELAXED);
}

unsigned long long loader_next_seq(const struct tt_bpf *b)
{
	return __atomic_load_n(&b->skel->bss->tt_seq, __ATOMIC_RELAXED);
}

/* FIN_WAIT2 timewait sockets to look at: still waiting, or new in a ring. */
static int fw2_waiting(const struct tt_bpf *b)
{
	const struct tcptrail_bpf__bss *bss = b->skel->bss;

	if (bss->fw2_wait_head != bss->fw2_wait_tail)
		return 1;
	for (int cpu = 0; cpu < b->ncpus && cpu < TT_MAX_CPUS; cpu++)
		if (__atomic_load_n(&bss->fw2_head[cpu * TT_CPU_STRIDE], __ATOMIC_RELAXED) !=
		    __atomic_load_n(&bss->fw2_tail[cpu * TT_CPU_STRIDE], __ATOMIC_RELAXED))
			return 1;
	return 0;
}

void loader_flush_pending(struct tt_bpf *b)
{
	struct tt_pending *slots;
	__u32 zero = 0;
	int pfd;

	if (!b->feat.timers)
		return;
	slots = calloc(b->ncpus, sizeof(*slots));
	if (!slots)
		return;
	if (bpf_map_lookup_elem(bpf_map__fd(b->skel->maps.pend), &zero, slots))
		goto cleanup;
	pfd = bpf_program__fd(b->skel->progs.tt_flush_pending);
	/*
	 * The FIN_WAIT2 check runs on this thread's CPU: BPF_F_TEST_RUN_ON_CPU
	 * for another CPU is an IPI, with this thread spinning until the
	 * program has run there (its cost: BENCHMARKS.md, "Idle CPU"). Only a
	 * parked cancel needs its own CPU, and is rare.
	 */
	if (fw2_waiting(b)) {
		__u64 args[1] = { 1 };
		LIBBPF_OPTS(bpf_test_run_opts, topts, .ctx_in = args, .ctx_size_in = sizeof(args));

		bpf_prog_test_run_opts(pfd, &topts);
	}
	for (int cpu = 0; cpu < b->ncpus; cpu++) {
		__u64 args[1] = { 0 };
		LIBBPF_OPTS(bpf_test_run_opts, topts, .flags = BPF_F_TEST_RUN_ON_CPU, .cpu = cpu,
			    .ctx_in = args, .ctx_size_in = sizeof(args));

		if (!slots[cpu].timer || slots[cpu].expiring)
			continue;
		bpf_prog_test_run_opts(pfd, &topts);
	}
cleanup:
	free(slots);
}

int loader_iter_open(struct bpf_program *prog, struct bpf_link **link)
{
	int fd;

	*link = bpf_program__attach_iter(prog, NULL);
	if (!*link)
		return -errno;
	fd = bpf_iter_create(bpf_link__fd(*link));
	if (fd < 0) {
		fd = -errno;
		bpf_link__destroy(*link);
		*link = NULL;
	}
	return fd;
}

int loader_snapshot(struct tt_bpf *b, struct tt_snap **rows, size_t *n)
{
	struct bpf_link *link = NULL;
	size_t cap = 0, len = 0;
	char *buf = NULL;
	int fd = -1, err = 0;
	ssize_t r;

	*rows = NULL;
	*n = 0;
	if (!b->feat.iter)
		return -EOPNOTSUPP;   /* no iter/tcp here: the caller reads /proc */
	fd = loader_iter_open(b->skel->progs.tt_iter_tcp, &link);
	if (fd < 0) {
		err = fd;
		goto cleanup;
	}
	for (;;) {
		/*
		 * Starts at 32 MiB of address space, glibc's largest mmap
		 * threshold: the block is then always mmap()ed, so doubling it is
		 * an mremap() that neither copies nor holds two buffers, and the
		 * caller's shrinking realloc()s give pages back at once. Pages
		 * never written cost no memory.
		 */
		if (cap - len < 65536) {
			size_t nc = cap ? cap * 2 : (size_t)32 << 20;
			char *nb = realloc(buf, nc);

			if (!nb) {
				err = -ENOMEM;
				goto cleanup;
			}
			buf = nb;
			cap = nc;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			goto cleanup;
		}
		if (r == 0)
			break;
		len += r;
	}
	*rows = (struct tt_snap *)buf;
	*n = len / sizeof(struct tt_snap);
	buf = NULL;
cleanup:
	free(buf);
	if (fd >= 0)
		close(fd);
	bpf_link__destroy(link);
	return err;
}

int loader_lsn_mark(struct tt_bpf *b, __u32 tgid)
{
	int pfd = syscall(SYS_pidfd_open, tgid, 0), err = 0;
	__u8 one = 1;

	if (pfd < 0)
		return -errno;   /* gone already */
	if (bpf_map_update_elem(bpf_map__fd(b->skel->maps.lsn_owner_mark), &pfd, &one, BPF_ANY))
		err = -errno;
	close(pfd);
	return err;
}

/* c->id is the socket's cookie: the owner table's key */
int loader_seed(struct tt_bpf *b, __u64 sk, const struct tt_conn *c)
{
	struct tcptrail_bpf__bss *bss = b->skel->bss;
	__u32 idx;

	/* a socket the program has seen already keeps what it knows */
	if (bpf_map_update_elem(bpf_map__fd(b->skel->maps.conns), &c->id, c, BPF_NOEXIST))
		return errno == EEXIST ? 0 : -errno;
	/* its exit is watched like that of a process seen calling listen();
	 * a full table is left to user space's passes (src/lsnown.c) */
	if (c->state == TT_LISTEN && c->owner.known)
		loader_lsn_mark(b, c->owner.pid);
	/*
	 * A timewait socket still in FIN_WAIT2 moves to TIME_WAIT without a
	 * hook firing: put it with those the flush checks. The flush program
	 * runs on this thread only, and not before the snapshot is done.
	 */
	if (!b->feat.timers || !(c->flags & TT_CONN_TW) || c->state != TT_FIN_WAIT2 ||
	    bss->fw2_wait_head - bss->fw2_wait_tail >= TT_FW2_WAIT)
		return 0;
	idx = bss->fw2_wait_head & (TT_FW2_WAIT - 1);
	if (bpf_map_update_elem(bpf_map__fd(b->skel->maps.fw2_wait), &idx, &sk, BPF_ANY))
		return -errno;
	bss->fw2_wait_head++;
	return 0;
}

int loader_seed_req(struct tt_bpf *b, const struct tt_tuple *t, __u64 req, const struct tt_conn *c)
{
	struct tt_req v = { .req = req, .c = *c };

	/* the program may have seen this request already: its entry wins. A
	 * full table (a SYN flood) leaves the request unfollowed, not the
	 * tool stopped. */
	if (bpf_map_update_elem(bpf_map__fd(b->skel->maps.req_by_tuple), t, &v, BPF_NOEXIST))
		return errno == EEXIST || errno == E2BIG ? 0 : -errno;
	return 0;
}

/* The id the program gave a request it saw before the snapshot seeded it
 * (its entry wins): the snapshot row must show the id the events carry. */
int loader_req_id(const struct tt_bpf *b, const struct tt_tuple *t, __u64 req, __u64 *id)
{
	struct tt_req v;

	if (bpf_map_lookup_elem(bpf_map__fd(b->skel->maps.req_by_tuple), t, &v))
		return -errno;
	if (v.req != req)
		return -ENOENT;
	*id = v.c.id;
	return 0;
}
