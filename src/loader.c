// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The BPF side's lifecycle: probes, rodata, load, attach, counters. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "tcptrail.skel.h"

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
	struct tt_features feat;
};

static int verbose;

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
	fprintf(stderr, "tcptrail: missing %s%s%s: run as root, or grant CAP_BPF and CAP_PERFMON "
		"(setcap cap_bpf,cap_perfmon,cap_syslog,cap_sys_ptrace,cap_dac_read_search+ep tcptrail)\n",
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

/* 0 if vmlinux BTF has the kfunc, -EOPNOTSUPP if not, -errno on error. */
static int probe_kfunc(const char *name)
{
	struct btf *btf = btf__load_vmlinux_btf();
	int err;

	if (!btf)
		return -errno;
	err = btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) > 0 ? 0 : -EOPNOTSUPP;
	btf__free(btf);
	return err;
}

/*
 * The programs read socket fields with direct loads through
 * bpf_rdonly_cast() (a timewait or request socket is found from its
 * timer's address). Without it the load fails with a verifier message
 * about an unknown function; this says what is missing instead. Asked only
 * after a failure: reading the kernel's BTF costs tens of milliseconds of
 * start-up.
 */
/* Each BPF program, map and link is a file descriptor: a low open-file
 * limit fails the start-up in whichever step runs out, and the kernel's
 * EMFILE says nothing of the limit. Returns 1 when it explained err. */
static int explain_fd_limit(int err, const char *what)
{
	struct rlimit rl;

	if (err != -EMFILE && err != -ENFILE)
		return 0;
	if (err == -ENFILE || getrlimit(RLIMIT_NOFILE, &rl))
		fprintf(stderr, "tcptrail: cannot %s: %s (the system's open-file table is full: "
			"see fs.file-max)\n", what, strerror(-err));
	else
		fprintf(stderr, "tcptrail: cannot %s: too many open files: the open-file limit "
			"(ulimit -n) is %llu, and the BPF programs, maps and links need about 40 "
			"descriptors: raise it (ulimit -n 1024)\n", what,
			(unsigned long long)rl.rlim_cur);
	return 1;
}

static void explain_load_error(int err)
{
	if (explain_fd_limit(err, "load the BPF program"))
		return;
	if (err == -EPERM || err == -EACCES)
		fprintf(stderr, "tcptrail: loading the BPF program was refused (%s): "
			"needs CAP_BPF and CAP_PERFMON: run as root\n", strerror(-err));
	else if (probe_kfunc("bpf_rdonly_cast") == -EOPNOTSUPP)
		fprintf(stderr, "tcptrail: cannot load the BPF program: this kernel lacks the "
			"bpf_rdonly_cast kfunc: use Linux 6.2 or later\n");
	else
		fprintf(stderr, "tcptrail: cannot load the BPF program: %s "
			"(kernel too old or without BTF? rerun with -v for the verifier log)\n",
			strerror(-err));
}

int loader_start(struct tt_bpf **out, const struct tt_opts *o, tt_event_fn fn, void *ctx)
{
	unsigned long long twfn = 0, reqfn = 0;
	struct tt_bpf *b = NULL;
	int err, zeroed = 0;

	*out = NULL;
	verbose = o->verbose;
	libbpf_set_print(print_fn);
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		fprintf(stderr, "tcptrail: this kernel has no BTF (/sys/kernel/btf/vmlinux is missing): "
			"use a kernel built with CONFIG_DEBUG_INFO_BTF=y\n");
		return -EOPNOTSUPP;
	}
	err = check_privileges();
	if (err)
		return err;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->ncpus = libbpf_num_possible_cpus();
	if (b->ncpus <= 0) {
		err = b->ncpus ? b->ncpus : -EINVAL;
		goto cleanup;
	}
	b->skel = tcptrail_bpf__open();
	if (!b->skel) {
		err = -errno;
		fprintf(stderr, "tcptrail: cannot open the BPF object: %s\n", strerror(-err));
		goto cleanup;
	}

	struct tcptrail_bpf__rodata *ro = b->skel->rodata;

	ro->filter_family = o->family;
	b->feat.netns = o->all_netns ? 0 : self_netns();
	ro->filter_netns = b->feat.netns;
	ro->filter_pid = o->pid;
	ro->listen_only = o->listening;
	ro->filter_ports_on = o->nports > 0;
	for (int i = 0; i < o->nports; i++)
		ro->port_bitmap[o->ports[i] >> 6] |= 1ULL << (o->ports[i] & 63);
	/* wake the reader early only when a quarter of the ring is used */
	ro->wakeup_bytes = o->ring_size / 4;
	ro->queue_threshold = o->queue_threshold > 0xffffffffUL ? 0xffffffffU : o->queue_threshold;

	b->feat.ctx_owner = 1;
	/* --snapshot-only traces nothing: skip the kallsyms walk and keep
	 * the event maps tiny, which is most of its start-up time and memory */
	if (!o->snapshot_only && !o->state_only)
		kallsyms_lookup("tw_timer_handler", &twfn, "reqsk_timer_handler", &reqfn, &zeroed);
	b->feat.timers = twfn && reqfn;
	ro->tw_timer_fn = twfn;
	ro->req_timer_fn = reqfn;
	if (!b->feat.timers) {
		/* no symbols (kptr_restrict, CAP_SYSLOG, or renamed): full sockets only */
		bpf_program__set_autoload(b->skel->progs.tt_timer_start, false);
		bpf_program__set_autoload(b->skel->progs.tt_timer_cancel, false);
		bpf_program__set_autoload(b->skel->progs.tt_timer_expire_entry, false);
		bpf_program__set_autoload(b->skel->progs.tt_timer_expire_exit, false);
		bpf_program__set_autoload(b->skel->progs.tt_flush_pending, false);
	}
	if (!b->feat.timers && !o->snapshot_only && !o->state_only) {
		fprintf(stderr, "tcptrail: warning: %s: TIME_WAIT and half-open sockets will not be "
			"traced (%s)\n",
			zeroed ? "/proc/kallsyms hides addresses" : "timer handler symbols not found in /proc/kallsyms",
			zeroed ? "needs CAP_SYSLOG: run as root or grant it" : "check kernel.kptr_restrict");
	}
	bpf_map__set_max_entries(b->skel->maps.events, o->snapshot_only ? 4096 : o->ring_size);
	ro->nr_cpus = b->ncpus;
	bpf_map__set_max_entries(b->skel->maps.fw2_ring, b->ncpus * TT_FW2_RING);
	if (o->snapshot_only) {
		bpf_map__set_max_entries(b->skel->maps.conns, 1024);
		bpf_map__set_max_entries(b->skel->maps.req_by_tuple, 1024);
	}

	err = tcptrail_bpf__load(b->skel);
	if (err) {
		explain_load_error(err);
		goto cleanup;
	}

	/* softirq tracking first: every owner decision depends on it */
	/* exit before entry: a softirq running between the two attaches must not
	 * leave its CPU counted as in softirq for good (exit stops at 0) */
	err = attach_one(b, b->skel->progs.tt_softirq_exit, "tp_btf/softirq_exit");
	if (!err)
		err = attach_one(b, b->skel->progs.tt_softirq_entry, "tp_btf/softirq_entry");
	if (!err)
		err = attach_one(b, b->skel->progs.tt_set_state, "tp_btf/inet_sock_set_state");
	if (!err)
		err = attach_one(b, b->skel->progs.tt_set_state_irq, NULL);
	if (!err)
		err = attach_one(b, b->skel->progs.tt_set_state_nest2, NULL);
	if (!err && b->feat.timers)
		err = attach_one(b, b->skel->progs.tt_timer_start, "tp_btf/timer_start");
	if (!err && b->feat.timers)
		err = attach_one(b, b->skel->progs.tt_timer_cancel, "tp_btf/timer_cancel");
	if (!err && b->feat.timers)
		err = attach_one(b, b->skel->progs.tt_timer_expire_entry, "tp_btf/timer_expire_entry");
	if (!err && b->feat.timers)
		err = attach_one(b, b->skel->progs.tt_timer_expire_exit, "tp_btf/timer_expire_exit");
	if (!err && !o->state_only)
		err = attach_one(b, b->skel->progs.tt_send_length, "tp_btf/sock_send_length");
	if (!err && !o->state_only)
		err = attach_one(b, b->skel->progs.tt_recv_length, "tp_btf/sock_recv_length");
	if (!err)
		err = attach_one(b, b->skel->progs.tt_rcvqueue_full, "tp_btf/sock_rcvqueue_full");
	if (!err)
		err = attach_one(b, b->skel->progs.tt_exceed_buf_limit, "tp_btf/sock_exceed_buf_limit");
	if (err) {
		if (!explain_fd_limit(err, "attach the tracepoints"))
			fprintf(stderr, "tcptrail: cannot attach the tracepoints: %s "
				"(needs a kernel with tp_btf support, 5.5 or later)\n", strerror(-err));
		goto cleanup;
	}
	b->feat.iter = 1;

	b->rb = ring_buffer__new(bpf_map__fd(b->skel->maps.events), (ring_buffer_sample_fn)fn, ctx, NULL);
	if (!b->rb) {
		err = -errno;
		if (!explain_fd_limit(err, "map the ring buffer"))
			fprintf(stderr, "tcptrail: cannot map the ring buffer: %s\n", strerror(-err));
		goto cleanup;
	}
	*out = b;
	return 0;
cleanup:
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
	return &b->feat;
}

struct ring_buffer *loader_ring(const struct tt_bpf *b)
{
	return b->rb;
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
	struct bpf_program *p;

	*timers = 0;
	bpf_object__for_each_program(p, b->skel->obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(p);

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		if (p == b->skel->progs.tt_set_state)
			skipped = info.recursion_misses;
		else if (p != b->skel->progs.tt_set_state_irq && p != b->skel->progs.tt_set_state_nest2)
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
	nested = loader_counter(b, TT_CNT_STATE_NESTED);
	*state = skipped > nested ? skipped - nested : 0;
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
		if (__atomic_load_n(&bss->fw2_head[cpu * 8], __ATOMIC_RELAXED) !=
		    __atomic_load_n(&bss->fw2_tail[cpu * 8], __ATOMIC_RELAXED))
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
	 * program has run there (measured: 3 % of the reader's CPU under
	 * churn). Only a parked cancel needs its own CPU, and is rare.
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

/* c->id is the socket's cookie: the owner table's key */
int loader_seed(struct tt_bpf *b, __u64 sk, const struct tt_conn *c)
{
	struct tcptrail_bpf__bss *bss = b->skel->bss;
	__u32 idx;

	if (bpf_map_update_elem(bpf_map__fd(b->skel->maps.conns), &c->id, c, BPF_NOEXIST))
		return errno == EEXIST ? 0 : -errno;
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
