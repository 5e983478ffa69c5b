// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The live run: attach, meta record, snapshot, then the poll loop that
 * moves events from the ring through the sequence tracker, the owner model
 * and the filters to the outputs, until a signal or --duration.
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

#include "clock.h"
#include "format.h"
#include "loader.h"
#include "model.h"
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

static volatile sig_atomic_t exiting;
static volatile sig_atomic_t reopen;
static int hup_reopens;

/* SIGHUP reopens the capture file (logrotate); without one it is the
 * terminal hanging up, and the tool ends like on SIGTERM. */
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

/* Loss notices on stderr: at most one a second, each covering every loss
 * since the last, so that a flood meant to blind the tool cannot also flood
 * its stderr. The records mark each gap exactly; these only tell a user
 * who watches stderr (-q, or stdout not a terminal) that it happens. */
#define LOSS_NOTICE_NS 1000000000LL

struct run {
	const struct tt_opts *o;
	unsigned long long state_misses, timer_misses;
	struct output *out;
	struct tt_bpf *b;
	struct seqtrack *st;
	struct model *model;
	struct stats *stats;        /* -s, else NULL */
	unsigned long long received, lost_gap, summarized;
	struct tt_lost skip;        /* the run of events the snapshot showed, not yet written */
	unsigned long long skipped;
	unsigned long long notice_ring, notice_recursion;
	long long noticed;
	int notices;                /* stderr is where the user looks */
	long long yield_at;         /* the periodic work is due: stop consuming */
};

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
	 * move once its port is reused (seen with a slow pipe reader). A clock
	 * read per 256 records bounds the delay without costing per event.
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

/* A skipped record covers consecutive seqs; anything else that takes a
 * seq (an event written, a gap) ends the run first, so records stay in seq
 * order. */
static void skip_flush(struct run *r)
{
	if (!r->skip.count)
		return;
	r->skip.reason = "snapshot";
	r->skip.boot_ns = clock_boot_now();
	output_skipped(r->out, &r->skip);
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

static void deliver(void *ctx, const struct tt_event *ev)
{
	struct run *r = ctx;
	struct tt_event e = *ev;

	if (model_apply(r->model, &e)) {
		skip_add(r, e.seq);
		return;
	}
	skip_flush(r);
	if (r->stats) {   /* -s: counted, not printed */
		stats_event(r->stats, &e);
		r->summarized++;
		return;
	}
	output_event(r->out, &e);
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
	struct tt_lost l = {
		.from_seq = from, .to_seq = to, .count = count,
		.reason = reason, .boot_ns = clock_boot_now(),
	};

	skip_flush(r);
	if (r->stats)
		stats_lost(r->stats, count);
	output_lost(r->out, &l);
	loss_notice(r, 0);
}

/* One lost record per gap, at the gap: it is the evidence. */
static void gap(void *ctx, unsigned long long from, unsigned long long to)
{
	struct run *r = ctx;

	r->lost_gap += to - from + 1;
	r->notice_ring += to - from + 1;
	lost(r, from, to, to - from + 1, "ring_full");
}

/* Hooks the kernel skipped because another ran on the same CPU leave no
 * sequence gap: their count is all there is to report. */
static void check_recursion(struct run *r)
{
	unsigned long long state, timers;

	loader_recursion_misses(r->b, &state, &timers);
	if (state > r->state_misses) {
		r->notice_recursion += state - r->state_misses;
		lost(r, 1, 0, state - r->state_misses, "recursion");
		r->state_misses = state;
	}
	r->timer_misses = timers;
}

static void read_file(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");

	buf[0] = '\0';
	if (!f)
		return;
	if (fgets(buf, size, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

static void write_meta(struct run *r)
{
	const struct tt_features *ft = loader_features(r->b);
	const struct tt_clock *ck = output_clock(r->out);
	char host[256] = "", boot_id[64];
	struct utsname u;
	struct tt_meta m = {
		.version = TT_VERSION, .cmdline = r->o->cmdline, .attach = ft->attach,
		.features = ft->features, .features_missing = ft->missing,
		.ring_size = r->o->ring_size, .netns = ft->netns, .timers = ft->timers,
		.ctx_owner = ft->ctx_owner, .snapshot = !r->o->no_snapshot, .boot_ns = ck->boot_ns, .real_ns = ck->real_ns,
	};

	gethostname(host, sizeof(host) - 1);
	uname(&u);
	read_file("/proc/sys/kernel/random/boot_id", boot_id, sizeof(boot_id));
	m.hostname = host;
	m.kernel = u.release;
	m.boot_id = boot_id;
	output_meta(r->out, &m);
}

static int run_snapshot(struct run *r)
{
	struct snapshot *s = NULL;
	int err;

	err = snapshot_take(&s, r->b, r->o);
	if (err) {
		if (err == -EMFILE)
			fprintf(stderr, "tcptrail: cannot read the existing sockets: too many open files: "
				"the open-file limit (ulimit -n) is %ld: raise it (ulimit -n 1024)\n",
				sysconf(_SC_OPEN_MAX));
		else
			fprintf(stderr, "tcptrail: cannot read the existing sockets: %s\n",
				strerror(-err));
		return err;
	}
	/* the join model serves the live stream only */
	if (!r->o->snapshot_only) {
		err = model_new(&r->model, s->n);
		if (!err)
			err = snapshot_seed(s, r->b, r->model);
	}
	if (err) {
		fprintf(stderr, "tcptrail: cannot seed the owner table: %s\n", strerror(-err));
		goto cleanup;
	}
	output_snapshot(r->out, s, &exiting);
	for (size_t i = 0; r->stats && i < s->n; i++)
		stats_snapshot(r->stats, &s->recs[i]);
cleanup:
	snapshot_free(&s);
	return err;
}

static void summary(struct run *r)
{
	struct tt_summary s = {
		.seen = r->received - seqtrack_late(r->st),
		.lost_ring = r->lost_gap,
		.lost_recursion = r->state_misses,
		.timer_misses = r->timer_misses,
		.filtered = loader_counter(r->b, TT_CNT_FILTERED),
		.skipped = r->skipped,
		.summarized = r->summarized,
		.boot_ns = clock_boot_now(),
	};

	skip_flush(r);
	output_summary(r->out, &s);
}

int trace_run(const struct tt_opts *o)
{
	struct seqtrack_cb cb = { .deliver = deliver, .gap = gap };
	struct run r = {
		.o = o,
		.noticed = -LOSS_NOTICE_NS,
		.notices = o->quiet || !isatty(STDOUT_FILENO),
	};
	long long start, last_flush_pending, last_clock, last_stats, last_recursion, last_settle, now;
	int err, lost_any;

	hup_reopens = o->output != NULL;
	err = install_signals();
	if (err)
		return err;
	/* outputs first: a refused path must fail before anything is loaded */
	err = output_open(&r.out, o);
	if (err)
		return err;
	cb.ctx = &r;
	if (o->stats && !o->snapshot_only) {
		err = stats_new(&r.stats);
		if (err)
			goto cleanup;
	}
	err = seqtrack_new(&r.st, 4096, &cb);
	if (err)
		goto cleanup;
	err = loader_start(&r.b, o, on_ring, &r);
	if (err && o->snapshot_only) {
		/* a snapshot needs no BPF: read /proc, as netstat does */
		fprintf(stderr, "tcptrail: note: %s; reading /proc/net/tcp instead\n", loader_error());
		err = 0;
	}
	if (err) {
		output_abandon(r.out);
		goto cleanup;
	}
	/* attached: from here on nothing is missed, the snapshot included */
	write_meta(&r);
	if (!o->no_snapshot) {
		err = run_snapshot(&r);
		if (err)
			goto cleanup;
	}
	if (o->snapshot_only)
		goto cleanup;
	err = privs_drop(o->keep_caps);
	if (err)
		goto cleanup;
	output_live_header(r.out);
	output_flush(r.out, 1);

	start = last_flush_pending = last_clock = last_stats = last_recursion = last_settle =
		clock_boot_now();
	while (!exiting && !output_closed(r.out)) {
		r.yield_at = last_flush_pending + PENDING_FLUSH_NS;
		err = wait_ring_or_stdout(&r);
		/* events are sent without a wakeup: collect what there is */
		if (!err || err == -EINTR)
			err = ring_buffer__consume(loader_ring(r.b));
		if (err < 0 && err != -EINTR && err != RING_YIELD) {
			fprintf(stderr, "tcptrail: reading the ring buffer failed: %s\n", strerror(-err));
			goto cleanup;
		}
		skip_flush(&r);   /* a run of skipped events is not held back */
		now = clock_boot_now();
		/* A hole waits two settles for its event (two CPUs can commit out
		 * of order): at least POLL_MS apart, however often stdout's
		 * reader wakes the loop. */
		if (now - last_settle >= POLL_MS * 1000000LL) {
			seqtrack_settle(r.st, 0);
			last_settle = now;
		}
		if (now - last_recursion > RECURSION_CHECK_NS) {
			check_recursion(&r);
			last_recursion = now;
		}
		if (now - last_flush_pending > PENDING_FLUSH_NS) {
			loader_flush_pending(r.b);
			loss_notice(&r, 0);
			last_flush_pending = now;
		}
		if (now - last_clock > CLOCK_RECORD_NS) {
			output_clock_record(r.out);
			last_clock = now;
		}
		if (r.stats && now - last_stats >= (long long)(o->stats_interval * 1e9)) {
			output_stats(r.out, r.stats, (now - last_stats) / 1e9, 0);
			stats_interval_end(r.stats);
			last_stats = now;
		}
		if (reopen) {
			reopen = 0;
			output_reopen(r.out);
		}
		output_flush(r.out, 0);
		if (o->duration > 0 && now - start >= (long long)(o->duration * 1e9))
			break;
	}
	/* drain: what is in the ring was promised to the user */
	consume_all(&r);
	seqtrack_finish(r.st, loader_next_seq(r.b));
	check_recursion(&r);
	if (r.stats) {   /* the last, partial interval, then the exit table */
		now = clock_boot_now();
		output_stats(r.out, r.stats, (now - last_stats) / 1e9, 0);
		stats_interval_end(r.stats);
		output_stats(r.out, r.stats, 0, 1);
	}
	err = 0;
cleanup:
	if (r.b && r.st && !o->snapshot_only)
		summary(&r);
	lost_any = output_finish(&r.out, o);
	loader_stop(&r.b);
	seqtrack_free(&r.st);
	model_free(&r.model);
	stats_free(&r.stats);
	if (!err && lost_any && o->fail_on_loss)
		return TT_EXIT_LOST;
	return err;
}
