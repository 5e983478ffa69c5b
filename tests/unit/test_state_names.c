// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * netstat_state_name() (src/netstat_fmt.h): the names come from net-tools'
 * tcp_state[] table (netstat.c), indexed by the kernel's numbering in
 * include/net/tcp_states.h. The value comes straight from the kernel or
 * from a capture file, so anything outside that table must give a fixed
 * word, never an out-of-bounds read (tcpstates' mistake).
 */
#include <ctype.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <linux/types.h>   /* tcptrail.h includes nothing itself */

#include "tcptrail.h"
#include "netstat_fmt.h"

/* netstat prints the State column with %-11s */
#define STATE_COLUMN 11

static void test_kernel_states(void **state)
{
	/* by the enum of include/tcptrail.h, so a renumbering shows up here */
	static const struct { unsigned s; const char *name; } want[] = {
		{ TT_ESTABLISHED, "ESTABLISHED" },
		{ TT_SYN_SENT, "SYN_SENT" },
		{ TT_SYN_RECV, "SYN_RECV" },
		{ TT_FIN_WAIT1, "FIN_WAIT1" },
		{ TT_FIN_WAIT2, "FIN_WAIT2" },
		{ TT_TIME_WAIT, "TIME_WAIT" },
		{ TT_CLOSE, "CLOSE" },
		{ TT_CLOSE_WAIT, "CLOSE_WAIT" },
		{ TT_LAST_ACK, "LAST_ACK" },
		{ TT_LISTEN, "LISTEN" },
		{ TT_CLOSING, "CLOSING" },
		/* TCP_NEW_SYN_RECV: /proc/net/tcp shows request sockets as SYN_RECV */
		{ TT_NEW_SYN_RECV, "SYN_RECV" },
	};

	(void)state;
	assert_int_equal(sizeof(want) / sizeof(want[0]), TT_STATE_MAX - 1);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *got = netstat_state_name(want[i].s);

		assert_non_null(got);
		if (strcmp(got, want[i].name))
			fail_msg("state %u: '%s', expected '%s'", want[i].s, got, want[i].name);
	}
}

/* And by number, as the kernel documents them (tcp_states.h), so the test
 * does not only compare the enum with itself. */
static void test_kernel_numbers(void **state)
{
	(void)state;
	assert_string_equal(netstat_state_name(1), "ESTABLISHED");
	assert_string_equal(netstat_state_name(2), "SYN_SENT");
	assert_string_equal(netstat_state_name(3), "SYN_RECV");
	assert_string_equal(netstat_state_name(4), "FIN_WAIT1");
	assert_string_equal(netstat_state_name(5), "FIN_WAIT2");
	assert_string_equal(netstat_state_name(6), "TIME_WAIT");
	assert_string_equal(netstat_state_name(7), "CLOSE");
	assert_string_equal(netstat_state_name(8), "CLOSE_WAIT");
	assert_string_equal(netstat_state_name(9), "LAST_ACK");
	assert_string_equal(netstat_state_name(10), "LISTEN");
	assert_string_equal(netstat_state_name(11), "CLOSING");
	assert_string_equal(netstat_state_name(12), "SYN_RECV");
}

static void test_out_of_range(void **state)
{
	static const unsigned bad[] = {
		13, 14, 15, 16, 31, 32, 63, 64, 100, 127, 128, 255,
		/* a byte-truncating lookup would map these onto real states */
		256, 257, 256 + 10, 65536 + 1, 0x01000001u,
		INT_MAX, (unsigned)INT_MAX + 1, UINT_MAX - 1, UINT_MAX,
		(unsigned)-12, (unsigned)-1,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *got = netstat_state_name(bad[i]);

		assert_non_null(got);
		if (strcmp(got, "UNKNOWN"))
			fail_msg("state %u: '%s', expected 'UNKNOWN'", bad[i], got);
	}
	/* every value past the table, not only a sample */
	for (unsigned s = TT_STATE_MAX; s < 4096; s++)
		assert_string_equal(netstat_state_name(s), "UNKNOWN");
	/* a 64-bit field narrowed to the argument keeps its low 32 bits */
	assert_string_equal(netstat_state_name((unsigned)(UINT64_C(1) << 32 | 13)), "UNKNOWN");
}

/* State 0 is netstat's own empty first entry (tcp_state[0] = ""): it never
 * comes from the kernel, and netstat prints it as an empty column. */
static void test_zero(void **state)
{
	(void)state;
	assert_non_null(netstat_state_name(0));
	assert_string_equal(netstat_state_name(0), "");
}

/* Every name fits netstat's State column, is distinct except for the two
 * SYN_RECV numbers, and is plain [A-Z0-9_] so it needs no escaping in
 * text or JSON and matches a jq or grep pattern as written. */
static void test_name_shape(void **state)
{
	(void)state;
	for (unsigned s = 1; s <= TT_STATE_MAX; s++) {   /* 1..12 and one UNKNOWN */
		const char *n = netstat_state_name(s);

		assert_true(strlen(n) > 0);
		assert_true(strlen(n) <= STATE_COLUMN);
		for (const char *c = n; *c; c++)
			if (!isupper((unsigned char)*c) && !isdigit((unsigned char)*c) && *c != '_')
				fail_msg("state %u: '%s' has '%c'", s, n, *c);
		for (unsigned t = 1; t < s; t++) {
			int same = !strcmp(n, netstat_state_name(t));

			if (same != ((s == TT_NEW_SYN_RECV && t == TT_SYN_RECV)))
				fail_msg("states %u and %u: '%s' and '%s'", t, s,
					 netstat_state_name(t), n);
		}
	}
}

/* The same pointer every time: callers keep it without copying. */
static void test_stable(void **state)
{
	(void)state;
	for (unsigned s = 0; s < 20; s++)
		assert_ptr_equal(netstat_state_name(s), netstat_state_name(s));
	assert_ptr_equal(netstat_state_name(13), netstat_state_name(UINT_MAX));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernel_states),
		cmocka_unit_test(test_kernel_numbers),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_zero),
		cmocka_unit_test(test_name_shape),
		cmocka_unit_test(test_stable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
