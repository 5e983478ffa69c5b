// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Micro-benchmark behind the hand-written formatting in src/escape.c and
 * src/outbuf.c: ns per call against the snprintf() equivalents, for the
 * per-record work (one comm, a few numbers, one line) at ~200k records/s.
 *
 * The Makefile's bench rule compiles bench/X.c alone, so by default this
 * file pulls in the two sources itself. To link them instead:
 *   cc -O2 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude -Isrc \
 *      -DBENCH_LINKED bench/bench_format.c src/escape.c src/outbuf.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "escape.h"
#include "outbuf.h"

#ifndef BENCH_LINKED
#include "../src/escape.c"
#include "../src/outbuf.c"
#endif

#define ITERS 5000000

/* Keeps the compiler from hoisting or deleting the measured work. */
#define CLOBBER() __asm__ volatile("" ::: "memory")

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The "printf per field" way of escaping: one snprintf per unsafe byte. */
static size_t esc_snprintf(char *dst, size_t size, const char *s, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && s[i] && o + 5 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			o += (size_t)snprintf(dst + o, size - o, "%c", c);
		else
			o += (size_t)snprintf(dst + o, size - o, "\\x%02x", c);
	}
	return o;
}

static void report(const char *what, double t0, double t1, double base)
{
	double ns = (t1 - t0) / ITERS;

	if (base > 0)
		printf("  %-44s %7.1f ns/call  (%.1fx)\n", what, ns, base / ns);
	else
		printf("  %-44s %7.1f ns/call\n", what, ns);
}

static void bench_comm(const char *label, const char *comm)
{
	const char *volatile vcomm = comm;
	size_t len = strlen(comm), sum = 0;
	char dst[ESC_JSON_MAX(16) + 4];
	struct outbuf ob;
	double t0, t1, t_snp, t_naive, t_json;

	if (ob_init(&ob, 256))
		exit(1);
	printf("comm %s (%zu bytes):\n", label, len);

	t0 = now_ns();
	for (int i = 0; i < ITERS; i++) {
		sum += (size_t)snprintf(dst, sizeof(dst), "%s", vcomm);
		CLOBBER();
	}
	t1 = now_ns();
	t_snp = t1 - t0;
	report("snprintf(\"%s\") (no escaping at all)", t0, t1, 0);

	t0 = now_ns();
	for (int i = 0; i < ITERS; i++) {
		sum += esc_snprintf(dst, sizeof(dst), vcomm, len);
		CLOBBER();
	}
	t1 = now_ns();
	t_naive = t1 - t0;
	report("snprintf per byte (escaping)", t0, t1, 0);

	t0 = now_ns();
	for (int i = 0; i < ITERS; i++) {
		sum += esc_text(dst, sizeof(dst), vcomm, len);
		CLOBBER();
	}
	t1 = now_ns();
	report("esc_text", t0, t1, t_naive / ITERS);
	printf("  %-44s %7.1fx\n", "  esc_text vs plain snprintf %s", t_snp / (t1 - t0));

	t0 = now_ns();
	for (int i = 0; i < ITERS; i++) {
		sum += (size_t)snprintf(dst, sizeof(dst), "\"%s\"", vcomm);
		CLOBBER();
	}
	t1 = now_ns();
	t_json = t1 - t0;
	report("snprintf(\"\\\"%s\\\"\") (no escaping)", t0, t1, 0);

	t0 = now_ns();
	for (int i = 0; i < ITERS; i++) {
		ob_reset(&ob);
		ob_json_str(&ob, vcomm, len);
		sum += ob.len;
		CLOBBER();
	}
	t1 = now_ns();
	report("ob_json_str", t0, t1, t_json / ITERS);
	if (!sum)
		puts("");
	ob_free(&ob);
}

static void bench_u64(void)
{
	/* Typical field magnitudes: port, pid, byte count, ns timestamp. */
	static const unsigned long long vals[4] = {
		443, 123456, 987654321ULL, 1732780800123456789ULL,
	};
	const unsigned long long *volatile vv = vals;
	char dst[32];
	struct outbuf ob;
	size_t sum = 0;
	double t0, t1, base;

	if (ob_init(&ob, 256))
		exit(1);
	printf("u64 (mix of 3..19 digits):\n");
	t0 = now_ns();
	for (int i = 0; i < ITERS; i++) {
		sum += (size_t)snprintf(dst, sizeof(dst), "%llu", vv[i & 3]);
		CLOBBER();
	}
	t1 = now_ns();
	base = (t1 - t0) / ITERS;
	report("snprintf(\"%llu\")", t0, t1, 0);
	t0 = now_ns();
	for (int i = 0; i < ITERS; i++) {
		ob_reset(&ob);
		ob_u64(&ob, vv[i & 3]);
		sum += ob.len;
		CLOBBER();
	}
	t1 = now_ns();
	report("ob_u64", t0, t1, base);
	if (!sum)
		puts("");
	ob_free(&ob);
}

/* One whole text record, the unit that has to run 200k times a second. */
static void bench_line(void)
{
	const char *volatile comm = "systemd-resolve";
	volatile unsigned long long ts_us = 45296123456ULL, pid = 4242;
	char line[256], esc[ESC_TEXT_MAX(16)];
	struct outbuf ob;
	size_t sum = 0;
	double t0, t1, base;

	if (ob_init(&ob, 4096))
		exit(1);
	printf("whole text record:\n");
	t0 = now_ns();
	for (int i = 0; i < ITERS; i++) {
		unsigned long long t = ts_us;

		esc_text(esc, sizeof(esc), comm, 15);
		sum += (size_t)snprintf(line, sizeof(line),
			"%llu.%06llu %7llu %-16s %15s:%-5u %15s:%-5u %-11s -> %s\n",
			t / 1000000, t % 1000000, (unsigned long long)pid, esc,
			"10.0.0.1", 53u, "10.0.0.2", 51234u, "ESTABLISHED", "FIN_WAIT1");
		CLOBBER();
	}
	t1 = now_ns();
	base = (t1 - t0) / ITERS;
	report("esc_text + one snprintf", t0, t1, 0);
	t0 = now_ns();
	for (int i = 0; i < ITERS; i++) {
		unsigned long long t = ts_us;

		ob_reset(&ob);
		ob_u64(&ob, t / 1000000);
		ob_putc(&ob, '.');
		ob_frac(&ob, t % 1000000, 6);
		ob_putc(&ob, ' ');
		ob_u64_padr(&ob, pid, 7);
		ob_putc(&ob, ' ');
		ob_text_esc_pad(&ob, comm, 15, 16);
		ob_putc(&ob, ' ');
		ob_padr(&ob, "10.0.0.1", 15);
		ob_putc(&ob, ':');
		ob_u64(&ob, 53);
		ob_puts(&ob, "    ");
		ob_padr(&ob, "10.0.0.2", 15);
		ob_putc(&ob, ':');
		ob_u64(&ob, 51234);
		ob_putc(&ob, ' ');
		ob_pad(&ob, "ESTABLISHED", 11);
		ob_puts(&ob, " -> FIN_WAIT1\n");
		sum += ob.len;
		CLOBBER();
	}
	t1 = now_ns();
	report("outbuf", t0, t1, base);
	if (!sum)
		puts("");
	ob_free(&ob);
}

int main(void)
{
	double until = now_ns() + 300e6;

	/* Let the CPU leave its idle clock before the first measurement. */
	while (now_ns() < until)
		CLOBBER();
	printf("bench_format: %d iterations per case\n", ITERS);
	bench_comm("\"systemd-resolve\"", "systemd-resolve");
	bench_comm("hostile \"x\\x1b[2J\\xc2\\x9b\\xff\\\\n\"", "x\x1b[2J\xc2\x9b\xff\\n");
	bench_u64();
	bench_line();
	return 0;
}
