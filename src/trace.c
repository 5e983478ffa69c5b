// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The live run: produce records, output them. Attach (loader.c), the meta
 * record, the snapshot (snapshot.c), then the poll loop: events come out
 * of the ring, back into sequence order (seqtrack.c), through the join
 * with the snapshot (join.c), to the outputs (output.c) or, with -s, into
 * the counts (stats.c). The kernel side has already filtered them. The run
 * owns its counters, its clock and the summary's run-wide counts.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "cgroup.h"
#include "clock.h"
#include "join.h"
#include "loader.h"
#include "lsnown.h"
#include "output.h"
#include "privs.h"
#include "seqtrack.h"
#include "snapshot.h"
#include "stats.h"
#include "trace.h"

#define POLL_MS 5                 /* bounds the latency of an event */
#define PENDING_FLUSH_NS 50000000LL
#define RECURSION_CHECK_NS 1000000000LL   /* a bpf() call per program: not often */
#define CLOCK_RECORD_NS 60000000000LL
/* Loss notices on stderr: at most one a second, each covering every loss
 * since the last, so that a flood meant to blind the tool cannot also flood
 * its stderr. The records mark each gap exactly; these only tell a user
 * who watches stderr (-q, or stdout not a terminal) that it happens. */
#define LOSS_NOTICE_NS 1000000000LL
/* Sequence numbers an event may be ahead of a hole before the hole is
 * given up (seqtrack.h). */
#define SEQ_WINDOW 4096

static volatile sig_atomic_t exiting;
static volatile sig_atomic_t reopen;
static int hup_reopens;

/* SIGHUP reopens the capture file (logrotate); an exporter daemon
 * (-q --metrics) without one keeps serving, its counters untouched; any
 * other run takes it as the terminal hanging up, and ends like on SIGTERM. */
static void on_signal(int sig)
{
	if (sig == SIGHUP && hup_reopens)
		reopen = 1;
	else
		exiting = 1;
}

static int install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	/* no SA_RESTART: the poll must return at once to drain and exit */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL) ||
	    sigaction(SIGHUP, &sa, NULL))
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* A piece of periodic work: due every period. */
struct every {
	long long period, last;
};

static int due(struct every *e, long long now)
{
	if (now - e->last < e->period)
		return 0;
	e->last = now;
	return 1;
}

struct run {
	const struct tt_opts *o;
	struct tt_clock clock;      /* event times to wall time: re-anchored every 60 s */
	struct output *out;
	struct tt_bpf *b;
	struct seqtrack *st;
	struct join *join;          /* NULL without a snapshot */
	struct stats *stats;        /* -s, else NULL */
	struct cgroups *cgroups;    /* sockets' cgroup ids to paths */
	struct stats_groups *groups; /* --stats-by cgroup, else NULL */
	struct lsnown *lsn;         /* listeners' live owners, or NULL */
	/* the run's counts, for the summary */
	unsigned long long received, lost_ring, state_misses, timer_misses;
	unsigned long long skipped, summarized;
	struct tt_lost skip;        /* the run of events the snapshot showed, not yet written */
	/* loss notices on stderr */
	unsigned long long notice_ring, notice_recursion;
	long long noticed;
	int notices;                /* stderr is where the user looks */
	/* the loop's periodic work */
	struct every settle, recursion, pending, clock_rec, stats_every;
	long long yield_at;         /* the periodic work is due: stop consuming */
};

/* ---- records the run makes ------------------------------------------------- */

/* A skipped record covers consecutive seqs; anything else that takes a
 * seq (an event written, a gap) ends the run first, so records stay in seq
 * order. */
static void skip_flush(struct run *r)
{
	struct tt_record rec = { .type = TT_REC_SKIPPED };

	if (!r->skip.count)
		return;
	rec.lost = r->skip;
	rec.lost.reason = "snapshot";
	rec.lost.boot_ns = clock_boot_now();
	output_record(r->out, &rec);
	r->skip.count = 0;
}

static void skip_add(struct run *r, unsigned long long seq)
{
	if (r->skip.count && seq != r->skip.to_seq + 1)
		skip_flush(r);
	if (!r->skip.count)
		r->skip.from_seq = seq;
	r->skip.to_seq = seq;
	r->skip.count++;
	r->skipped++;
}

/* An event in sequence order (seqtrack's callback). */
static void deliver(void *ctx, const struct tt_event *ev)
{
	struct run *r = ctx;
	struct tt_record rec;

	rec.type = TT_REC_EVENT;
	rec.ev = *ev;
	lsnown_event(r->lsn, &rec.ev);
	if (join_apply(r->join, &rec.ev)) {
		skip_add(r, rec.ev.seq);
		return;
	}
	skip_flush(r);
	cgroups_ref(r->cgroups, rec.ev.cgroup_id, &rec.cg);
	if (r->stats) {   /* -s: counted, not printed */
		if (r->groups)
			stats_group_event(r->groups, &rec.ev, &rec.cg);
		stats_event(r->stats, &rec.ev);
		output_tally(r->out, &rec);
		r->summarized++;
		return;
	}
	output_record(r->out, &rec);
}

/* An event its gap already counted as lost (seqtrack_push): the kernel sent
 * it, so it is not among the transitions the kernel counts as lost either;
 * --metrics' socket gauge takes its change. */
static void late(void *ctx, const struct tt_event *ev)
{
	struct run *r = ctx;

	output_late(r->out, ev);
}

static void loss_notice(struct run *r, int force)
{
	long long now = clock_boot_now();

	if (!r->notice_ring && !r->notice_recursion)
		return;
	if (!force && now - r->noticed < LOSS_NOTICE_NS)
		return;
	if (r->notices)
		fprintf(stderr, "tcptrail: %llu events lost since the last notice (ring buffer full: %llu, "
			"nested hooks: %llu); lost records mark them; a larger --ring-size helps with "
			"bursts\n", r->notice_ring + r->notice_recursion, r->notice_ring,
			r->notice_recursion);
	r->notice_ring = r->notice_recursion = 0;
	r->noticed = now;
}

static void lost(struct run *r, unsigned long long from, unsigned long long to,
		 unsigned long long count, const char *reason)
{
	struct tt_record rec = {
		.type = TT_REC_LOST,
		.lost = { .from_seq = from, .to_seq = to, .count = count, .reason = reason,
			  .boot_ns = clock_boot_now() },
	};

	skip_flush(r);
	if (r->stats)
		stats_lost(r->stats, count);
	output_record(r->out, &rec);
	loss_notice(r, 0);
}

/* One lost record per gap, at the gap: it is the evidence (seqtrack's
 * callback). */
static void gap(void *ctx, unsigned long long from, unsigned long long to)
{
	struct run *r = ctx;

	r->lost_ring += to - from + 1;
	r->notice_ring += to - from + 1;
	lost(r, from, to, to - from + 1, "ring_full");
}

/* Hooks the kernel skipped because another ran on the same CPU leave no
 * sequence gap: their count is all there is to report. */
/* The kernel's loss counts, read once a second and at the end. */
static void check_recursion(struct run *r)
{
	unsigned long long state, timers, trans[TT_STATE_MAX][TT_STATE_MAX];

	loader_lost_trans(r->b, trans);
	output_kernel_lost(r->out, trans);
	loader_recursion_misses(r->b, &state, &timers);
	if (state > r->state_misses) {
		r->notice_recursion += state - r->state_misses;
		lost(r, 1, 0, state - r->state_misses, "recursion");
		r->state_misses = state;
	}
	r->timer_misses = timers;
}

static void clock_record(struct run *r)
{
	struct tt_record rec = { .type = TT_REC_CLOCK };

	clock_anchor(&r->clock);
	rec.clock.boot_ns = r->clock.boot_ns;
	rec.clock.real_ns = r->clock.real_ns;
	output_record(r->out, &rec);
}

/* -s: the report of the interval that ends now. */
static void stats_record(struct run *r, long long now)
{
	struct tt_record rec;

	stats_report(r->stats, (now - r->stats_every.last) / 1e9, now, &rec);
	output_record(r->out, &rec);
	stats_interval_end(r->stats);
	r->stats_every.last = now;
}

static void read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");

	buf[0] = '\0';
	if (!f)
		return;
	if (fgets(buf, size, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

static void meta_record(struct run *r)
{
	const struct tt_features *ft = loader_features(r->b);
	char host[256] = "", boot_id[64];
	struct utsname u;
	struct tt_record rec = {
		.type = TT_REC_META,
		.meta = {
			.version = TT_VERSION, .cmdline = r->o->cmdline, .attach = ft->attach,
			.features = ft->features, .features_missing = ft->missing,
			.ring_size = r->o->ring_size, .netns = ft->netns, .timers = ft->timers,
			/* not probed: wherever the BPF side loads it tells softirq
			 * from process context (a per-CPU depth, or under
			 * PREEMPT_RT the task's own count: bpf/tt_owner.bpf.h) */
			.ctx_owner = r->b != NULL, .snapshot = !r->o->no_snapshot,
			.boot_ns = r->clock.boot_ns, .real_ns = r->clock.real_ns,
			.cgroup_v2 = cgroups_v2_name(r->cgroups),
		},
	};

	gethostname(host, sizeof(host) - 1);
	uname(&u);
	read_line("/proc/sys/kernel/random/boot_id", boot_id, sizeof(boot_id));
	rec.meta.hostname = host;
	rec.meta.kernel = u.release;
	rec.meta.boot_id = boot_id;
	output_record(r->out, &rec);
}

/* The run's own counts; each output adds what it took (output_finish). */
static void run_summary(struct run *r, struct tt_summary *s)
{
	skip_flush(r);
	*s = (struct tt_summary){
		.seen = r->received - seqtrack_late(r->st),
		.lost_ring = r->lost_ring,
		.lost_recursion = r->state_misses,
		.timer_misses = r->timer_misses,
		.filtered = loader_counter(r->b, TT_CNT_FILTERED),
		.skipped = r->skipped,
		.summarized = r->summarized,
		.boot_ns = clock_boot_now(),
	};
}

/* Once, when sockets' cgroups cannot be named and the options show them
 * (-C, --stats-by cgroup); the meta record always says it (cgroup_v2). */
static void cgroup_note(const struct tt_opts *o, const struct cgroups *c)
{
	if (!o->cgroup_column && !o->stats_by_cgroup)
		return;
	if (cgroups_v2(c) == CG_V2_NONE)
		fprintf(stderr, "tcptrail: note: cgroup v2 is not in use on this host (cgroup v1 "
			"only): the cgroup_id, cgroup and container fields are null\n");
	else if (cgroups_v2(c) == CG_V2_HIDDEN)
		fprintf(stderr, "tcptrail: note: the cgroup2 file system is not mounted in this mount "
			"namespace (ip netns exec remounts /sys): cgroup ids are given, their paths "
			"and containers are not; enter the network namespace with nsenter --net "
			"instead\n");
}

/* ---- the snapshot ------------------------------------------------------------ */

static int snapshot_error(int err, const char *what)
{
	if (err == -EMFILE)
		fprintf(stderr, "tcptrail: cannot %s: too many open files: the open-file limit "
			"(ulimit -n) is %ld: raise it (ulimit -n 1024)\n", what, sysconf(_SC_OPEN_MAX));
	else
		fprintf(stderr, "tcptrail: cannot %s: %s\n", what, strerror(-err));
	return err;
}

static int run_snapshot(struct run *r)
{
	struct tt_record rec = {
		.type = TT_REC_HEADER,
		.header = { .kind = TT_HEADER_SNAPSHOT, .listening = r->o->listening },
	};
	struct snapshot *s = NULL;
	int err;

	err = snapshot_take(&s, r->b, r->o, "/proc");
	if (err)
		return snapshot_error(err, "read the existing sockets");
	/* the join serves the live stream only */
	if (!r->o->snapshot_only) {
		err = join_new(&r->join, s->n);
		if (!err)
			err = snapshot_seed(s, r->b, r->join);
		if (err) {
			snapshot_error(err, "seed the owner table");
			goto cleanup;
		}
	}
	output_record(r->out, &rec);
	rec.type = TT_REC_SNAPSHOT;
	for (size_t i = 0; i < s->n; i++) {
		rec.snap = s->recs[i];
		cgroups_ref(r->cgroups, rec.snap.cgroup_id, &rec.cg);
		output_record(r->out, &rec);
		if (r->groups)
			stats_group_snapshot(r->groups, &rec.snap, &rec.cg);
		if (r->stats)
			stats_snapshot(r->stats, &rec.snap);
	}
	output_flush(r->out, 1);
cleanup:
	snapshot_free(&s);
	return err;
}

/* ---- the loop ------------------------------------------------------------------ */

/* A stop asked by on_ring(), not an error: the record was taken. */
#define RING_YIELD (-EAGAIN)

static int on_ring(void *ctx, void *data, size_t size)
{
	struct run *r = ctx;

	if (size < sizeof(struct tt_event))
		return 0;
	r->received++;
	seqtrack_push(r->st, data);
	/*
	 * ring_buffer__consume() returns only once the ring is empty, which a
	 * producer faster than the output never lets happen. The loop's
	 * periodic work must still run: the FIN_WAIT2 flush above all, whose
	 * delay turns a timewait socket's FIN_WAIT2 -> TIME_WAIT into a missed
	 * move once its port is reused (a slow pipe reader can cause it). A
	 * clock read per 256 records bounds the delay without costing per event.
	 */
	if (!(r->received & 255)) {
		/* a reader that took what stdout had gets more without waiting
		 * for the end of the batch */
		output_pump(r->out);
		if (clock_boot_now() >= r->yield_at)
			return RING_YIELD;
	}
	return 0;
}

/*
 * Waits for the ring (a forced wakeup) or for stdout's reader to make room,
 * at most POLL_MS: the ring's epoll fd and stdout in one poll(), so that a
 * reader as fast as the events is fed as fast as it reads.
 */
static int wait_ring_or_stdout(struct run *r)
{
	struct pollfd pfd[2] = {
		{ .fd = ring_buffer__epoll_fd(loader_ring(r->b)), .events = POLLIN },
		{ .fd = output_poll_fd(r->out), .events = POLLOUT },
	};
	int n = poll(pfd, pfd[1].fd >= 0 ? 2 : 1, POLL_MS);

	return n < 0 ? -errno : 0;
}

/* Consumes what the ring holds, to the end. */
static int consume_all(struct run *r)
{
	int err;

	do
		err = ring_buffer__consume(loader_ring(r->b));
	while (err == RING_YIELD);
	return err < 0 ? err : 0;
}

static void periodic(struct run *r, long long now)
{
	/* A hole waits two settles for its event (two CPUs can commit out of
	 * order): at least POLL_MS apart, however often stdout's reader wakes
	 * the loop. */
	if (due(&r->settle, now))
		seqtrack_settle(r->st, 0);
	if (due(&r->recursion, now))
		check_recursion(r);
	if (due(&r->pending, now)) {
		loader_flush_pending(r->b);
		loss_notice(r, 0);
	}
	lsnown_tick(r->lsn, now);
	if (due(&r->clock_rec, now))
		clock_record(r);
	if (r->stats && now - r->stats_every.last >= r->stats_every.period)
		stats_record(r, now);
}

static int run_loop(struct run *r)
{
	long long start = clock_boot_now(), now;
	int err;

	r->settle = (struct every){ POLL_MS * 1000000LL, start };
	r->recursion = (struct every){ RECURSION_CHECK_NS, start };
	r->pending = (struct every){ PENDING_FLUSH_NS, start };
	r->clock_rec = (struct every){ CLOCK_RECORD_NS, start };
	r->stats_every = (struct every){ (long long)(r->o->stats_interval * 1e9), start };
	while (!exiting && !output_closed(r->out)) {
		r->yield_at = r->pending.last + PENDING_FLUSH_NS;
		err = wait_ring_or_stdout(r);
		/* events are sent without a wakeup: collect what there is */
		if (!err || err == -EINTR)
			err = ring_buffer__consume(loader_ring(r->b));
		if (err < 0 && err != -EINTR && err != RING_YIELD) {
			fprintf(stderr, "tcptrail: reading the ring buffer failed: %s\n", strerror(-err));
			return err;
		}
		skip_flush(r);   /* a run of skipped events is not held back */
		now = clock_boot_now();
		periodic(r, now);
		if (reopen) {
			reopen = 0;
			output_reopen(r->out);
		}
		output_flush(r->out, 0);
		if (r->o->duration > 0 && now - start >= (long long)(r->o->duration * 1e9))
			break;
	}
	return 0;
}

/* The end: what is in the ring was promised to the user. */
static void run_drain(struct run *r)
{
	struct tt_record rec;

	consume_all(r);
	seqtrack_finish(r->st, loader_next_seq(r->b));
	check_recursion(r);
	if (!r->stats)
		return;
	/* the last, partial interval, then the exit table */
	stats_record(r, clock_boot_now());
	if (stats_final(r->stats, clock_boot_now(), &rec))
		fprintf(stderr, "tcptrail: -s: no memory for the table of transitions at exit\n");
	else
		output_record(r->out, &rec);
}

/* ---- start and end ------------------------------------------------------------- */

/* Outputs first: a refused path must fail before anything is loaded. */
static int run_start(struct run *r)
{
	struct seqtrack_cb cb = { .deliver = deliver, .gap = gap, .late = late, .ctx = r };
	int err;

	hup_reopens = r->o->output != NULL || (r->o->metrics && r->o->quiet);
	err = install_signals();
	if (err)
		return err;
	clock_anchor(&r->clock);
	err = output_open(&r->out, r->o, &r->clock, &exiting);
	if (!err)
		err = cgroups_open(&r->cgroups, NULL, NULL);
	if (!err)
		cgroup_note(r->o, r->cgroups);
	if (!err && r->o->stats && !r->o->snapshot_only)
		err = stats_new(&r->stats);
	if (!err && r->stats && r->o->stats_by_cgroup)
		err = stats_groups_new(&r->groups, r->stats);
	if (!err)
		err = seqtrack_new(&r->st, SEQ_WINDOW, &cb);
	if (err)
		return err;
	err = loader_start(&r->b, r->o, on_ring, r);
	if (err && r->o->snapshot_only && r->o->ncgroups) {
		/* /proc/net/tcp does not say the socket's cgroup */
		fprintf(stderr, "tcptrail: %s\n", loader_error());
	} else if (err && r->o->snapshot_only) {
		/* a snapshot needs no BPF: read /proc, as netstat does */
		fprintf(stderr, "tcptrail: note: %s; reading /proc/net/tcp instead\n", loader_error());
		return 0;
	}
	if (err)
		output_abandon(r->out);
	return err;
}

/* Attached: from here on nothing is missed, the snapshot included. */
static int run_trace(struct run *r)
{
	int err;

	meta_record(r);
	if (!r->o->no_snapshot) {
		err = run_snapshot(r);
		if (err)
			return err;
	}
	if (r->o->snapshot_only)
		return 0;
	/* its iterator's link is made while privileges last */
	err = lsnown_new(&r->lsn, r->b);
	if (err)
		fprintf(stderr, "tcptrail: warning: cannot follow listeners' live owners (%s): a "
			"daemon's listener keeps naming the process that called listen()\n", strerror(-err));
	err = privs_drop(r->o->keep_caps);
	if (!err)
		err = output_serve(r->out);
	if (err)
		return err;
	if (r->o->no_snapshot) {
		struct tt_record rec = { .type = TT_REC_HEADER, .header.kind = TT_HEADER_LIVE };

		output_record(r->out, &rec);
	}
	output_flush(r->out, 1);
	err = run_loop(r);
	if (!err)
		run_drain(r);
	return err;
}

int trace_run(const struct tt_opts *o)
{
	struct run *r = calloc(1, sizeof(*r));
	struct tt_summary sum;
	int err, lost_any;

	if (!r)
		return -ENOMEM;
	r->o = o;
	r->noticed = -LOSS_NOTICE_NS;
	r->notices = o->quiet || !isatty(STDOUT_FILENO);
	err = run_start(r);
	if (!err)
		err = run_trace(r);
	/* a summary when events were traced, even after an error */
	if (r->b && r->st && !o->snapshot_only) {
		run_summary(r, &sum);
		lost_any = output_finish(&r->out, &sum);
	} else {
		lost_any = output_finish(&r->out, NULL);
	}
	lsnown_free(&r->lsn);
	loader_stop(&r->b);
	seqtrack_free(&r->st);
	join_free(&r->join);
	stats_groups_free(&r->groups);
	stats_free(&r->stats);
	cgroups_free(&r->cgroups);
	free(r);
	if (!err && lost_any && o->fail_on_loss)
		return TT_EXIT_LOST;
	return err;
}
