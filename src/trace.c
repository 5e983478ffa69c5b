// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The live run: attach, meta record, snapshot, then the poll loop that
 * moves events from the ring through the sequence tracker, the owner model
 * and the filters to the outputs, until a signal or --duration.
 */
#include <errno.h>
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

struct loss {
	unsigned long long from, to, count;
	const char *reason;
	long long last_ns;
};

struct run {
	const struct tt_opts *o;
	struct loss ring_loss, recursion_loss;
	unsigned long long state_misses, timer_misses;
	struct output *out;
	struct tt_bpf *b;
	struct seqtrack *st;
	struct model *model;
	struct stats *stats;        /* -s, else NULL */
	unsigned long long received, lost_gap, late;
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
	if (!(r->received & 255) && clock_boot_now() >= r->yield_at)
		return RING_YIELD;
	return 0;
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

static void deliver(void *ctx, const struct tt_event *ev)
{
	struct run *r = ctx;
	struct tt_event e = *ev;

	if (model_apply(r->model, &e)) {
		output_count_joined(r->out);
		return;
	}
	if (r->stats) {   /* -s: counted, not printed */
		stats_event(r->stats, &e);
		return;
	}
	output_event(r->out, &e);
}

/*
 * Loss notices are rate-limited to one a second per reason, so that a flood
 * meant to blind the tool cannot also flood its output; the notice that is
 * written covers every gap since the last one, so the counts stay exact.
 */
#define LOSS_NOTICE_NS 1000000000LL

static void loss_flush(struct run *r, struct loss *q)
{
	struct tt_lost l = {
		.from_seq = q->from, .to_seq = q->to, .count = q->count,
		.reason = q->reason, .boot_ns = clock_boot_now(),
	};

	if (!q->count)
		return;
	output_lost(r->out, &l);
	q->count = 0;
	q->last_ns = l.boot_ns;
}

static void loss_tick(struct run *r, struct loss *q, long long now)
{
	if (q->count && now - q->last_ns >= LOSS_NOTICE_NS)
		loss_flush(r, q);
}

static void loss_add(struct run *r, struct loss *q, unsigned long long from,
		     unsigned long long to, unsigned long long count)
{
	if (!q->count) {
		q->from = from;
		q->to = to;
	} else if (from <= to) {
		if (q->from > q->to || from < q->from)
			q->from = from;
		if (q->from > q->to || to > q->to)
			q->to = to;
	}
	q->count += count;
	if (clock_boot_now() - q->last_ns >= LOSS_NOTICE_NS)
		loss_flush(r, q);
}

static void gap(void *ctx, unsigned long long from, unsigned long long to)
{
	struct run *r = ctx;

	r->lost_gap += to - from + 1;
	if (r->stats)
		stats_lost(r->stats, to - from + 1);
	loss_add(r, &r->ring_loss, from, to, to - from + 1);
}

/* Hooks the kernel skipped because another ran on the same CPU leave no
 * sequence gap: their count is all there is to report. */
static void check_recursion(struct run *r)
{
	unsigned long long state, timers;

	loader_recursion_misses(r->b, &state, &timers);
	if (state > r->state_misses) {
		if (r->stats)
			stats_lost(r->stats, state - r->state_misses);
		loss_add(r, &r->recursion_loss, 1, 0, state - r->state_misses);
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
		fprintf(stderr, "tcptrail: cannot read the existing sockets: %s\n", strerror(-err));
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
	output_snapshot(r->out, s);
	for (size_t i = 0; r->stats && i < s->n; i++)
		stats_snapshot(r->stats, &s->recs[i]);
cleanup:
	snapshot_free(&s);
	return err;
}

static void summary(struct run *r)
{
	struct tt_summary s = {
		.seen = r->received,
		.lost_ring = r->lost_gap,
		.lost_recursion = r->state_misses,
		.timer_misses = r->timer_misses,
		.filtered = loader_counter(r->b, TT_CNT_FILTERED),
		.boot_ns = clock_boot_now(),
	};

	loss_flush(r, &r->ring_loss);
	loss_flush(r, &r->recursion_loss);
	output_summary(r->out, &s);
}

int trace_run(const struct tt_opts *o)
{
	struct seqtrack_cb cb = { .deliver = deliver, .gap = gap };
	struct run r = {
		.o = o,
		.ring_loss = { .reason = "ring_full", .last_ns = -LOSS_NOTICE_NS },
		.recursion_loss = { .reason = "recursion", .last_ns = -LOSS_NOTICE_NS },
	};
	long long start, last_flush_pending, last_clock, last_stats, last_recursion, now;
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

	start = last_flush_pending = last_clock = last_stats = last_recursion = clock_boot_now();
	while (!exiting && !output_closed(r.out)) {
		r.yield_at = last_flush_pending + PENDING_FLUSH_NS;
		err = ring_buffer__poll(loader_ring(r.b), POLL_MS);
		if (err < 0 && err != -EINTR && err != RING_YIELD) {
			fprintf(stderr, "tcptrail: reading the ring buffer failed: %s\n", strerror(-err));
			goto cleanup;
		}
		/* events are sent without a wakeup: collect what the timer found */
		if (err != RING_YIELD)
			ring_buffer__consume(loader_ring(r.b));
		seqtrack_settle(r.st, 0);
		now = clock_boot_now();
		if (now - last_recursion > RECURSION_CHECK_NS) {
			check_recursion(&r);
			last_recursion = now;
		}
		if (now - last_flush_pending > PENDING_FLUSH_NS) {
			loader_flush_pending(r.b);
			loss_tick(&r, &r.ring_loss, now);
			loss_tick(&r, &r.recursion_loss, now);
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
	if (r.b && !o->snapshot_only)
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
