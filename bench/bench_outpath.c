// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * What --metrics adds to the ring reader's output path, without the kernel
 * and without a loaded machine's noise: the same stream of transitions
 * (loopback connections: client and server, each to its end, the server
 * ESTABLISHED for BACKLOG connections, as when loadgen's accepts fall
 * behind, TIME_WAITs ending 30000 connections later) goes through
 * output_record() into a
 * JSON capture in a temporary directory, with and without the metrics,
 * in alternating passes. Each pass is timed in the thread's CPU time, so
 * time spent descheduled does not count. The output path is only part of
 * the reader's work (the ring read, the sequence check and the join come
 * on top), so the ratio printed is an upper bound of the reader's.
 *
 *   build/bench/bench_outpath [CONNECTIONS] [PASSES] [BACKLOG]
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "output.h"

static double cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static const unsigned client[][2] = {
	{ TT_CLOSE, TT_SYN_SENT }, { TT_SYN_SENT, TT_ESTABLISHED }, { TT_ESTABLISHED, TT_FIN_WAIT1 },
	{ TT_FIN_WAIT1, TT_FIN_WAIT2 }, { TT_FIN_WAIT2, TT_TIME_WAIT },
};
static const unsigned server[][2] = {
	{ TT_CLOSE, TT_SYN_RECV }, { TT_SYN_RECV, TT_ESTABLISHED }, { TT_ESTABLISHED, TT_CLOSE_WAIT },
	{ TT_CLOSE_WAIT, TT_LAST_ACK }, { TT_LAST_ACK, TT_CLOSE },
};

static void emit(struct output *out, struct tt_record *r, unsigned long long id, unsigned old,
		 unsigned new)
{
	r->ev.seq++;
	r->ev.ts_ns += 1000;
	r->ev.sock_id = id;
	r->ev.old_state = old;
	r->ev.new_state = new;
	r->ev.flags = TT_F_OWNER | TT_F_STATE_NS;
	if (new == TT_CLOSE || new == TT_TIME_WAIT) {
		r->ev.flags |= TT_F_FINAL;
		r->ev.duration_ns = 150000;
	}
	output_record(out, r);
	/* the loop flushes (and publishes) once per batch it takes */
	if (!(r->ev.seq & 255))
		output_flush(out, 0);
}

/* One pass: the CPU time per record. */
static long backlog = 4000;

static double pass(const char *dir, const char *metrics, long conns, int k)
{
	struct tt_opts o = { .quiet = 1, .ring_size = 8 << 20, .metrics = metrics };
	struct tt_record r = { .type = TT_REC_EVENT };
	struct output *out = NULL;
	struct tt_clock ck;
	char path[512];
	double t0, t1;

	snprintf(path, sizeof(path), "%s/cap.%d.jsonl", dir, k);
	o.output = path;
	clock_anchor(&ck);
	if (output_open(&out, &o, &ck, NULL))
		exit(1);
	r.ev.kind = TT_EV_STATE;
	r.ev.family = AF_INET;
	r.ev.pid = 4242;
	r.ev.ctx_pid = 4242;
	r.ev.netns = 4026531840u;
	r.ev.state_ns = 20000;
	strcpy(r.ev.comm, "loadgen");
	strcpy(r.ev.ctx_comm, "loadgen");
	inet_pton(AF_INET, "127.0.0.1", r.ev.laddr);
	inet_pton(AF_INET, "127.0.0.1", r.ev.raddr);
	t0 = cpu_ns();
	for (long c = 0; c < conns + backlog; c++) {
		r.ev.lport = 20000 + (c % 30000);
		r.ev.rport = 22920;
		/* the client's connection c, whole; the server's side of it up
		 * to ESTABLISHED, and of connection c - BACKLOG (accepted now)
		 * from there to its end */
		for (int i = 0; i < 5; i++) {
			if (c < conns)
				emit(out, &r, 2 * c + 1, client[i][0], client[i][1]);
			if (c < conns && i < 2)
				emit(out, &r, 2 * c + 2, server[i][0], server[i][1]);
			if (c >= backlog && i >= 2)
				emit(out, &r, 2 * (c - backlog) + 2, server[i][0], server[i][1]);
		}
		if (c >= 30000 && c - 30000 < conns)
			emit(out, &r, 2 * (c - 30000) + 1, TT_TIME_WAIT, TT_CLOSE);
	}
	output_flush(out, 1);
	t1 = cpu_ns();
	output_finish(&out, NULL);
	unlink(path);
	return (t1 - t0) / (double)r.ev.seq;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	long conns = argc > 1 ? atol(argv[1]) : 100000;
	int passes = argc > 2 ? atoi(argv[2]) : 10;

	if (argc > 3)
		backlog = atol(argv[3]);
	char dir[] = "/tmp/tt-outpath.XXXXXX";
	double *plain, *with, *ratio;
	const char *with_addr = "127.0.0.1:22961";

	if (passes < 1 || passes > 1000 || !mkdtemp(dir))
		return 1;
	plain = calloc(passes, sizeof(*plain));
	with = calloc(passes, sizeof(*with));
	ratio = calloc(passes, sizeof(*ratio));
	if (!plain || !with || !ratio)
		return 1;
	/* OUTPATH_AA=1: both passes plain, the method's own spread */
	if (getenv("OUTPATH_AA"))
		with_addr = NULL;
	for (int k = 0; k < passes; k++) {
		/* alternate which goes first */
		if (k & 1) {
			with[k] = pass(dir, with_addr, conns, k);
			plain[k] = pass(dir, NULL, conns, k);
		} else {
			plain[k] = pass(dir, NULL, conns, k);
			with[k] = pass(dir, with_addr, conns, k);
		}
		ratio[k] = with[k] / plain[k];
		printf("pass %2d: %6.1f ns/record plain, %6.1f with --metrics: %.3f\n",
		       k + 1, plain[k], with[k], ratio[k]);
	}
	qsort(plain, passes, sizeof(*plain), cmp);
	qsort(with, passes, sizeof(*with), cmp);
	qsort(ratio, passes, sizeof(*ratio), cmp);
	printf("output path, JSON capture: median %.1f ns/record plain, %.1f with --metrics "
	       "(+%.1f ns); ratio median %.3f, range %.3f-%.3f, %d passes of %ld connections, "
	       "backlog %ld\n", plain[passes / 2], with[passes / 2], with[passes / 2] - plain[passes / 2],
	       ratio[passes / 2], ratio[0], ratio[passes - 1], passes, conns, backlog);
	/* the fastest pass of each: the least disturbed by the machine */
	printf("fastest passes: %.1f ns/record plain, %.1f with --metrics (+%.1f ns, %+.1f %%)\n",
	       plain[0], with[0], with[0] - plain[0], 100 * (with[0] / plain[0] - 1));
	rmdir(dir);
	free(plain);
	free(with);
	free(ratio);
	return 0;
}
