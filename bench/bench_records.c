// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The consumer's per-event cost without the kernel: formats a typical
 * transition as a text line and as a JSON record, N times, and prints the
 * nanoseconds of this thread's CPU time per record of each (CPU time, not
 * wall time: on these shared machines it is the steadier of the two). What
 * the live loop adds on top is the ring-buffer read and the write(2) of
 * full 64 KiB buffers.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "format.h"
#include "outbuf.h"

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000000;
	struct tt_clock ck;
	struct fmt_opts fo = { .addr_width = 23, .clock = &ck };
	struct tt_event e = {
		.ts_ns = 5000000000ULL, .kind = TT_EV_STATE, .flags = TT_F_OWNER | TT_F_STATE_NS,
		.old_state = TT_SYN_SENT, .new_state = TT_ESTABLISHED, .family = AF_INET,
		.lport = 43512, .rport = 1025, .netns = 4026531840u, .pid = 4242, .ctx_pid = 4242,
		.sock_id = 0x26333c, .state_ns = 226000,
	};
	struct outbuf ob = { 0 };
	unsigned long long bytes = 0;
	double t0, t1;

	clock_anchor(&ck);
	inet_pton(AF_INET, "127.0.0.1", e.laddr);
	inet_pton(AF_INET, "127.0.0.1", e.raddr);
	strcpy(e.comm, "nginx");
	strcpy(e.ctx_comm, "nginx");
	if (ob_init(&ob, 1 << 16))
		return 1;
	for (int fmt = 0; fmt < 2; fmt++) {
		t0 = now_ns();
		for (long i = 0; i < n; i++) {
			e.ts_ns += 1000;
			e.seq = i;
			ob_reset(&ob);
			if (fmt)
				fmt_json(&ob, &(struct tt_record){ .type = TT_REC_EVENT, .ev = e }, &fo);
			else
				fmt_text(&ob, &(struct tt_record){ .type = TT_REC_EVENT, .ev = e }, &fo);
			bytes += ob.len;
		}
		t1 = now_ns();
		printf("%-5s %7.1f ns/record (%ld records, %llu bytes)\n", fmt ? "json" : "text",
		       (t1 - t0) / n, n, bytes);
		bytes = 0;
	}
	ob_free(&ob);
	return 0;
}
