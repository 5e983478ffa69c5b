// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "procnet.h"

/* Lines as the kernel prints them (tcp4_seq_show pads to 149 columns). */
#define L4_LISTEN "   0: 0100007F:5BA0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 20001 1 0000000000000000 100 0 0 10 0                     \n"
#define L4_EST "  12: 0302010A:0401 C864A8C0:01BB 01 00000001:00000002 01:0000001A 00000003  1000        0 4294967296 3 0000000000000000 20 4 30 10 -1"
#define L4_TW "   3: 0302010A:0405 C864A8C0:01BB 06 00000000:00000000 03:000016A2 00000000     0        0 0 3 0000000000000000"
#define L6_LOOP "   1: 00000000000000000000000001000000:5BA1 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 20021 1 0000000000000000 100 0 0 10 0\n"
#define L6_MAPPED "   2: 0000000000000000FFFF00000100007F:5BA2 0000000000000000FFFF00000100007F:B14C 01 00000000:00000000 00:00000000 00000000   105        0 20023 1 0000000000000000 100 0 0 10 0"

static void test_ipv4_listen(void **state)
{
	static const unsigned char lo[4] = { 127, 0, 0, 1 };
	static const unsigned char zero[16];
	struct tt_sockrow r;

	(void)state;
	assert_int_equal(procnet_parse_line(L4_LISTEN, AF_INET, &r), 0);
	assert_int_equal(r.family, AF_INET);
	assert_memory_equal(r.laddr, lo, 4);
	assert_memory_equal(r.laddr + 4, zero, 12);
	assert_memory_equal(r.raddr, zero, 16);
	assert_int_equal(r.lport, 23456);
	assert_int_equal(r.rport, 0);
	assert_int_equal(r.state, 10);
	assert_int_equal(r.inode, 20001);
	assert_int_equal(r.uid, 0);
}

static void test_ipv4_queues_uid(void **state)
{
	static const unsigned char l[4] = { 10, 1, 2, 3 };
	static const unsigned char rm[4] = { 192, 168, 100, 200 };
	struct tt_sockrow r;

	(void)state;
	assert_int_equal(procnet_parse_line(L4_EST, AF_INET, &r), 0);
	assert_memory_equal(r.laddr, l, 4);
	assert_memory_equal(r.raddr, rm, 4);
	assert_int_equal(r.lport, 1025);
	assert_int_equal(r.rport, 443);
	assert_int_equal(r.state, 1);
	/* the file says tx_queue:rx_queue */
	assert_int_equal(r.txq, 1);
	assert_int_equal(r.rxq, 2);
	assert_int_equal(r.uid, 1000);
	assert_true(r.inode == 4294967296ULL);
}

static void test_timewait_short_row(void **state)
{
	struct tt_sockrow r;

	(void)state;
	assert_int_equal(procnet_parse_line(L4_TW, AF_INET, &r), 0);
	assert_int_equal(r.state, 6);
	assert_int_equal(r.inode, 0);
	assert_int_equal(r.lport, 1029);
}

static void test_ipv6(void **state)
{
	static const unsigned char loop[16] = { [15] = 1 };
	static const unsigned char mapped[16] = { [10] = 0xff, [11] = 0xff,
						   [12] = 127, [15] = 1 };
	struct tt_sockrow r;

	(void)state;
	assert_int_equal(procnet_parse_line(L6_LOOP, AF_INET6, &r), 0);
	assert_int_equal(r.family, AF_INET6);
	assert_memory_equal(r.laddr, loop, 16);
	assert_int_equal(r.lport, 23457);
	assert_int_equal(r.inode, 20021);
	assert_int_equal(procnet_parse_line(L6_MAPPED, AF_INET6, &r), 0);
	assert_memory_equal(r.laddr, mapped, 16);
	assert_memory_equal(r.raddr, mapped, 16);
	assert_int_equal(r.rport, 45388);
	assert_int_equal(r.uid, 105);
}

static void test_malformed(void **state)
{
	static const char *const bad4[] = {
		"",
		"   ",
		"\n",
		"garbage",
		"\x01\x02\xff\xfe\x80 0: 0100007F:5BA0",
		/* non-hex in address, port, state, queues */
		"   0: 0100G07F:5BA0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1",
		"   0: 0100007F:5BZ0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1",
		"   0: 0100007F:5BA0 00000000:0000 0X 00000000:00000000 00:00000000 00000000     0        0 1",
		"   0: 0100007F:5BA0 00000000:0000 0A 0000000g:00000000 00:00000000 00000000     0        0 1",
		/* address too short / too long for the family */
		"   0: 100007F:5BA0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1",
		"   0: 0100007F0:5BA0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1",
		/* port > 65535 */
		"   0: 0100007F:10000 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1",
		/* state out of 1..12 */
		"   0: 0100007F:5BA0 00000000:0000 00 00000000:00000000 00:00000000 00000000     0        0 1",
		"   0: 0100007F:5BA0 00000000:0000 0D 00000000:00000000 00:00000000 00000000     0        0 1",
		"   0: 0100007F:5BA0 00000000:0000 FFFFFFFFF 00000000:00000000 00:00000000 00000000     0        0 1",
		/* queue wider than 64 bits */
		"   0: 0100007F:5BA0 00000000:0000 0A 10000000000000000:00000000 00:00000000 00000000     0        0 1",
		/* uid > UINT_MAX, inode > 2^64-1 */
		"   0: 0100007F:5BA0 00000000:0000 0A 00000000:00000000 00:00000000 00000000 4294967296        0 1",
		"   0: 0100007F:5BA0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 18446744073709551616",
		/* missing separators */
		"   0 0100007F:5BA0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1",
		"   0: 0100007F5BA0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1",
		"   0: 0100007F:5BA0 00000000:0000 0A 0000000000000000 00:00000000 00000000     0        0 1",
		/* inode not a number */
		"   0: 0100007F:5BA0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 x1",
		"   0: 0100007F:5BA0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 -1",
		/* an IPv6 row is not an IPv4 row */
		L6_LOOP,
	};
	struct tt_sockrow r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad4) / sizeof(bad4[0]); i++) {
		memset(&r, 0x5a, sizeof(r));
		if (procnet_parse_line(bad4[i], AF_INET, &r) != -EINVAL)
			fail_msg("accepted bad line %zu: %s", i, bad4[i]);
	}
	assert_int_equal(procnet_parse_line(L4_LISTEN, AF_INET6, &r), -EINVAL);
	assert_int_equal(procnet_parse_line(L4_LISTEN, AF_UNIX, &r), -EINVAL);
	assert_int_equal(procnet_parse_line(NULL, AF_INET, &r), -EINVAL);
	assert_int_equal(procnet_parse_line(L4_LISTEN, AF_INET, NULL), -EINVAL);
	/* the largest values that fit are accepted */
	assert_int_equal(procnet_parse_line("0: FFFFFFFF:FFFF FFFFFFFF:FFFF 0C FFFFFFFFFFFFFFFF:FFFFFFFFFFFFFFFF 00:00000000 00000000 4294967295 0 18446744073709551615",
					    AF_INET, &r), 0);
	assert_int_equal(r.lport, 65535);
	assert_int_equal(r.state, 12);
	assert_true(r.txq == UINT64_MAX && r.rxq == UINT64_MAX);
	assert_true(r.inode == UINT64_MAX);
	assert_int_equal(r.uid, UINT_MAX);
}

/* Every cut of a row before its inode field is incomplete. */
static void test_truncated_prefixes(void **state)
{
	const char *lines[] = { L4_EST, L6_MAPPED };
	const unsigned fam[] = { AF_INET, AF_INET6 };
	struct tt_sockrow r;
	size_t i, len, inode_at;

	(void)state;
	for (i = 0; i < 2; i++) {
		const char *p = strstr(lines[i], i ? " 20023 " : " 4294967296 ");

		assert_non_null(p);
		inode_at = (size_t)(p - lines[i]) + 1;
		for (len = 0; len < inode_at; len++)
			if (procnet_parse_buf(lines[i], len, fam[i], &r) != -EINVAL)
				fail_msg("prefix %zu of line %zu accepted", len, i);
		/* not NUL-terminated at the cut: must not read on */
		assert_int_equal(procnet_parse_buf(lines[i], strlen(lines[i]), fam[i], &r), 0);
	}
}

/* Random bytes and random mutations of a valid row: never a crash. */
static void test_garbage(void **state)
{
	char buf[256];
	struct tt_sockrow r;
	unsigned seed = 12345;
	int i, ok = 0;

	(void)state;
	for (i = 0; i < 200000; i++) {
		size_t len, j;

		if (i & 1) {
			len = (size_t)rand_r(&seed) % sizeof(buf);
			for (j = 0; j < len; j++)
				buf[j] = (char)rand_r(&seed);
		} else {
			len = strlen(L4_EST);
			memcpy(buf, L4_EST, len);
			buf[(size_t)rand_r(&seed) % len] = (char)rand_r(&seed);
		}
		int rc = procnet_parse_buf(buf, len, AF_INET, &r);

		assert_true(rc == 0 || rc == -EINVAL);
		ok += rc == 0;
	}
	/* some mutations (e.g. in ignored fields) must still parse */
	assert_true(ok > 0);
}

struct collect {
	unsigned n;
	unsigned long long inode_sum;
	unsigned stop_at;
};

static int collect_cb(const struct tt_sockrow *row, void *ctx)
{
	struct collect *c = ctx;

	c->n++;
	c->inode_sum += row->inode;
	return c->stop_at && c->n == c->stop_at ? 42 : 0;
}

static char *write_temp(const char *text, size_t len)
{
	char *path = strdup("/tmp/tt_procnet_XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

static void test_read_file(void **state)
{
	const char text[] =
		"  sl  local_address rem_address   st tx_queue rx_queue ...\n"
		L4_LISTEN
		"   1: nonsense\n"
		"\n"
		L4_EST; /* last line without newline */
	struct collect c = { 0 };
	unsigned bad = 99;
	char *path = write_temp(text, sizeof(text) - 1);

	(void)state;
	assert_int_equal(procnet_read(path, AF_INET, collect_cb, &c, &bad), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(bad, 2);
	assert_true(c.inode_sum == 20001ULL + 4294967296ULL);
	/* a non-zero callback result stops the read and is returned */
	memset(&c, 0, sizeof(c));
	c.stop_at = 1;
	assert_int_equal(procnet_read(path, AF_INET, collect_cb, &c, NULL), 42);
	assert_int_equal(c.n, 1);
	unlink(path);
	free(path);
	assert_int_equal(procnet_read("/nonexistent/tcp", AF_INET, collect_cb, &c, NULL), -ENOENT);
}

/* A row longer than the read buffer is one bad row, and the next parses. */
static void test_read_huge_line(void **state)
{
	size_t big = 700 * 1024, off = 0;
	char *text = malloc(big + 1024);
	struct collect c = { 0 };
	unsigned bad = 0;
	char *path;

	(void)state;
	assert_non_null(text);
	off += (size_t)sprintf(text + off, "header\n");
	memset(text + off, 'A', big);
	off += big;
	text[off++] = '\n';
	off += (size_t)sprintf(text + off, "%s", L4_LISTEN);
	path = write_temp(text, off);
	assert_int_equal(procnet_read(path, AF_INET, collect_cb, &c, &bad), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(bad, 1);
	assert_int_equal(c.inode_sum, 20001);
	unlink(path);
	free(path);
	free(text);
}

/* The recorded files of tests/fixtures/netstat parse without a bad row. */
static void test_read_fixture(void **state)
{
	struct collect c = { 0 };
	unsigned bad = 99;

	(void)state;
	assert_int_equal(procnet_read("tests/fixtures/netstat/tcp", AF_INET,
				      collect_cb, &c, &bad), 0);
	assert_int_equal(bad, 0);
	assert_int_equal(c.n, 22);
	memset(&c, 0, sizeof(c));
	assert_int_equal(procnet_read("tests/fixtures/netstat/tcp6", AF_INET6,
				      collect_cb, &c, &bad), 0);
	assert_int_equal(bad, 0);
	assert_int_equal(c.n, 12);
}

static void test_read_100k(void **state)
{
	const unsigned rows = 100000;
	size_t linelen = strlen(L4_LISTEN), off = 0;
	char *text = malloc(linelen * (rows + 1));
	struct collect c = { 0 };
	struct timespec a, b;
	unsigned bad = 0, i;
	double ms;
	char *path;

	(void)state;
	assert_non_null(text);
	off += (size_t)sprintf(text, "header\n");
	for (i = 0; i < rows; i++)
		off += (size_t)sprintf(text + off, "%6u: 0100007F:%04X 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 %u 1 0000000000000000 100 0 0 10 0\n",
				       i, i & 0xffff, i + 1);
	path = write_temp(text, off);
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(procnet_read(path, AF_INET, collect_cb, &c, &bad), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	print_message("100k rows in %.1f ms\n", ms);
	assert_int_equal(c.n, rows);
	assert_int_equal(bad, 0);
	assert_true(c.inode_sum == (unsigned long long)rows * (rows + 1) / 2);
	/* the goal is < 50 ms; leave room for sanitizer and debug builds */
	assert_true(ms < 1000.0);
	unlink(path);
	free(path);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_listen),
		cmocka_unit_test(test_ipv4_queues_uid),
		cmocka_unit_test(test_timewait_short_row),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_truncated_prefixes),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_read_huge_line),
		cmocka_unit_test(test_read_fixture),
		cmocka_unit_test(test_read_100k),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
