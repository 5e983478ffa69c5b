// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The expected text comes from the real netstat (net-tools 2.10, Debian 12):
 * tests/fixtures/netstat/{antp,antpW,lntp}.txt were captured by capture.sh
 * from a fake /proc made of the tcp, tcp6 and procs.txt next to them. The
 * end-to-end tests rebuild that fake /proc and read it through the path a
 * --snapshot-only run without BPF takes: snapshot_take() (the /proc/net
 * parser, the filters, the owner scan) and the text formatter, which must
 * reproduce the capture byte for byte; the smaller tests pin single rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "file_test_util.h"

#include "format.h"
#include "netstat_fmt.h"
#include "procnet.h"
#include "snapshot.h"

#define FIXTURES "tests/fixtures/netstat/"

static struct tt_sockrow row4(const char *l, unsigned lp, const char *r,
			      unsigned rp, unsigned state)
{
	struct tt_sockrow row;

	memset(&row, 0, sizeof(row));
	row.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, l, row.laddr), 1);
	assert_int_equal(inet_pton(AF_INET, r, row.raddr), 1);
	row.lport = lp;
	row.rport = rp;
	row.state = state;
	return row;
}

static void test_header(void **state)
{
	char *antp = tu_slurp(FIXTURES "antp.txt", NULL);
	char *lntp = tu_slurp(FIXTURES "lntp.txt", NULL);
	char buf[256];
	int n;

	(void)state;
	n = netstat_fmt_header(buf, sizeof(buf), 0);
	assert_true(n > 0);
	assert_int_equal(n, (int)strlen(buf));
	assert_memory_equal(buf, antp, (size_t)n);
	n = netstat_fmt_header(buf, sizeof(buf), 1);
	assert_true(n > 0);
	assert_memory_equal(buf, lntp, (size_t)n);
	/* the banner ends in spaces: " %-20s" of "PID/Program name" */
	assert_non_null(strstr(buf, "PID/Program name    \n"));
	assert_int_equal(netstat_fmt_header(buf, 50, 0), -ENOSPC);
	free(antp);
	free(lntp);
}

static void test_state_names(void **state)
{
	/* tcp_state[] of netstat.c, indexed by the kernel's numbering */
	static const char *const names[] = {
		"", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
		"TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING",
	};
	unsigned i;

	(void)state;
	for (i = 0; i < 12; i++)
		assert_string_equal(netstat_state_name(i), names[i]);
	/* request sockets: /proc/net/tcp shows them as SYN_RECV */
	assert_string_equal(netstat_state_name(12), "SYN_RECV");
	assert_string_equal(netstat_state_name(13), "UNKNOWN");
	assert_string_equal(netstat_state_name(255), "UNKNOWN");
	assert_string_equal(netstat_state_name(UINT_MAX), "UNKNOWN");
}

static void check_addr(unsigned family, const char *text, unsigned port, int wide,
		       const char *expect)
{
	unsigned char a[16] = { 0 };
	char buf[128];
	int n;

	assert_int_equal(inet_pton((int)family, text, a), 1);
	n = netstat_fmt_addr(buf, sizeof(buf), family, a, port, wide);
	assert_int_equal(n, (int)strlen(expect));
	assert_string_equal(buf, expect);
}

static void test_addr_rules(void **state)
{
	(void)state;
	/* numeric even for the wildcard; port 0 is "*" */
	check_addr(AF_INET, "0.0.0.0", 0, 0, "0.0.0.0:*");
	check_addr(AF_INET6, "::", 0, 0, ":::*");
	check_addr(AF_INET6, "::", 22, 0, ":::22");
	check_addr(AF_INET, "255.255.255.255", 65535, 0, "255.255.255.255:65535");
	/* v4-mapped lose their prefix, v4-compatible keep inet_ntop's form */
	check_addr(AF_INET6, "::ffff:127.0.0.1", 23458, 0, "127.0.0.1:23458");
	check_addr(AF_INET6, "::ffff:0.0.0.0", 0, 0, "0.0.0.0:*");
	check_addr(AF_INET6, "::1.2.3.4", 1234, 0, "::1.2.3.4:1234");
	/* over 23 characters: the port stays whole, the address gets 22 - len(port) */
	check_addr(AF_INET6, "2001:db8:85a3:1234:5678:8a2e:370:7334", 65535, 0,
		   "2001:db8:85a3:123:65535");
	check_addr(AF_INET6, "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff", 80, 0,
		   "2001:db8:aaaa:bbbb:c:80");
	check_addr(AF_INET6, "2001:db8::123:4567", 12345, 0, "2001:db8::123:456:12345");
	/* exactly 23 is not cut */
	check_addr(AF_INET6, "2001:db8::123:456", 12345, 0, "2001:db8::123:456:12345");
	/* -W never cuts */
	check_addr(AF_INET6, "2001:db8:85a3:1234:5678:8a2e:370:7334", 65535, 1,
		   "2001:db8:85a3:1234:5678:8a2e:370:7334:65535");
}

static void test_row_rules(void **state)
{
	struct tt_sockrow r = row4("127.0.0.1", 23456, "0.0.0.0", 0, 10);
	char buf[256];
	int n;

	(void)state;
	/* same row as the first of antp.txt, owner absent */
	n = netstat_fmt_row(buf, sizeof(buf), &r, NULL, 0);
	assert_string_equal(buf, "tcp        0      0 127.0.0.1:23456         0.0.0.0:*               LISTEN      -                   ");
	assert_int_equal(n, (int)strlen(buf));
	/* the owner column is padded to 20 even when full */
	r.rxq = 128;
	netstat_fmt_row(buf, sizeof(buf), &r, "300/a_really_long_p", 0);
	assert_string_equal(buf, "tcp      128      0 127.0.0.1:23456         0.0.0.0:*               LISTEN      300/a_really_long_p ");
	/* wide queues push the columns; queues are printed signed */
	r.rxq = UINT64_MAX;
	r.txq = 1234567;
	netstat_fmt_row(buf, sizeof(buf), &r, "1/x", 0);
	assert_string_equal(buf, "tcp       -1 1234567 127.0.0.1:23456         0.0.0.0:*               LISTEN      1/x                 ");
	assert_int_equal(netstat_fmt_row(buf, 40, &r, "1/x", 0), -ENOSPC);
	r.family = AF_UNIX;
	assert_int_equal(netstat_fmt_row(buf, sizeof(buf), &r, "1/x", 0), -EINVAL);
	assert_int_equal(netstat_fmt_row(buf, sizeof(buf), NULL, "1/x", 0), -EINVAL);
}

/* ---- end to end against the recorded netstat output ---- */

struct pipeline {
	char root[64];
};

static void unescape(const char *in, char *out, size_t *len)
{
	size_t n = 0;

	while (*in) {
		if (in[0] == '\\' && in[1] == '0') {
			out[n++] = '\0';
			in += 2;
		} else if (in[0] == '\\' && in[1] == '\\') {
			out[n++] = '\\';
			in += 2;
		} else {
			out[n++] = *in++;
		}
	}
	*len = n;
}

/* Builds the fake proc of procs.txt the way capture.sh does. */
static int pipeline_setup(void **state)
{
	struct pipeline *p = calloc(1, sizeof(*p));
	char *procs, *line, *save = NULL;
	char path[256], cmd[2048];

	if (!p)
		return -1;
	strcpy(p->root, access("/dev/shm", W_OK) == 0 ? "/dev/shm/tt_fmt_XXXXXX"
						       : "/tmp/tt_fmt_XXXXXX");
	if (!mkdtemp(p->root))
		return -1;
	procs = tu_slurp(FIXTURES "procs.txt", NULL);
	for (line = strtok_r(procs, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *dir = line, *cmdline, *comm, *fds, *fd, *fsave = NULL;
		size_t len;
		FILE *f;

		cmdline = strchr(dir, '|');
		assert_non_null(cmdline);
		*cmdline++ = '\0';
		comm = strchr(cmdline, '|');
		assert_non_null(comm);
		*comm++ = '\0';
		fds = strchr(comm, '|');
		assert_non_null(fds);
		*fds++ = '\0';
		snprintf(path, sizeof(path), "%s/%s", p->root, dir);
		assert_int_equal(mkdir(path, 0755), 0);
		snprintf(path, sizeof(path), "%s/%s/fd", p->root, dir);
		assert_int_equal(mkdir(path, 0755), 0);
		snprintf(path, sizeof(path), "%s/%s/cmdline", p->root, dir);
		unescape(cmdline, cmd, &len);
		f = fopen(path, "w");
		assert_non_null(f);
		assert_int_equal(fwrite(cmd, 1, len, f), len);
		fclose(f);
		snprintf(path, sizeof(path), "%s/%s/comm", p->root, dir);
		f = fopen(path, "w");
		assert_non_null(f);
		fprintf(f, "%s\n", comm);
		fclose(f);
		for (fd = strtok_r(fds, " ", &fsave); fd; fd = strtok_r(NULL, " ", &fsave)) {
			char *eq = strchr(fd, '=');

			assert_non_null(eq);
			*eq = '\0';
			snprintf(path, sizeof(path), "%s/%s/fd/%s", p->root, dir, fd);
			assert_int_equal(symlink(eq + 1, path), 0);
		}
	}
	free(procs);
	/* the sockets, where snapshot_take reads them: PROCDIR/net/tcp{,6} */
	snprintf(cmd, sizeof(cmd), "mkdir '%s/net' && cp " FIXTURES "tcp " FIXTURES "tcp6 '%s/net/'",
		 p->root, p->root);
	if (system(cmd) != 0)
		return -1;
	*state = p;
	return 0;
}

static int pipeline_teardown(void **state)
{
	struct pipeline *p = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p->root);
	if (system(cmd) != 0)
		return -1;
	free(p);
	return 0;
}

/* netstat -antp (-W: wide, -l: listening) of the fake /proc, as tcptrail
 * --snapshot-only prints it without BPF. */
static void run_and_compare(struct pipeline *p, int wide, int listening,
			    const char *expect_file)
{
	struct tt_opts o = { .wide = wide, .listening = listening };
	struct tt_clock ck;
	struct fmt_opts fo = { .wide = wide, .addr_width = 23, .clock = &ck };
	struct tt_record r = { .type = TT_REC_HEADER,
			       .header = { .kind = TT_HEADER_SNAPSHOT, .listening = listening } };
	struct snapshot *s = NULL;
	struct outbuf ob;
	size_t elen;
	char *expect = tu_slurp(expect_file, &elen);

	clock_anchor(&ck);
	assert_int_equal(ob_init(&ob, 8192), 0);
	assert_int_equal(snapshot_take(&s, NULL, &o, p->root), 0);
	fmt_text(&ob, &r, &fo);
	r.type = TT_REC_SNAPSHOT;
	for (size_t i = 0; i < s->n; i++) {
		r.snap = s->recs[i];
		fmt_text(&ob, &r, &fo);
	}
	assert_false(ob.oom);
	if (ob.len != elen || memcmp(ob.buf, expect, elen))
		fail_msg("output differs from %s:\n%s", expect_file, ob_cstr(&ob));
	snapshot_free(&s);
	ob_free(&ob);
	free(expect);
}

static void test_fixture_antp(void **state)
{
	run_and_compare(*state, 0, 0, FIXTURES "antp.txt");
}

static void test_fixture_antpW(void **state)
{
	run_and_compare(*state, 1, 0, FIXTURES "antpW.txt");
}

static void test_fixture_lntp(void **state)
{
	run_and_compare(*state, 0, 1, FIXTURES "lntp.txt");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_addr_rules),
		cmocka_unit_test(test_row_rules),
		cmocka_unit_test_setup_teardown(test_fixture_antp, pipeline_setup, pipeline_teardown),
		cmocka_unit_test_setup_teardown(test_fixture_antpW, pipeline_setup, pipeline_teardown),
		cmocka_unit_test_setup_teardown(test_fixture_lntp, pipeline_setup, pipeline_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
