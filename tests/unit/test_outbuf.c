// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "outbuf.h"

static int setup(void **state)
{
	struct outbuf *ob = malloc(sizeof(*ob));

	if (!ob || ob_init(ob, 0))
		return -1;
	*state = ob;
	return 0;
}

static int teardown(void **state)
{
	ob_free(*state);
	free(*state);
	return 0;
}

/* Every number formatter is checked against printf, the reference it
 * replaces. */
static const unsigned long long u64_vals[] = {
	0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 4294967295ULL, 4294967296ULL,
	9999999999999999999ULL, 10000000000000000000ULL, ULLONG_MAX,
	ULLONG_MAX - 1, 123456789012345ULL, 0x7fffffffffffffffULL,
};

static void test_u64_matches_printf(void **state)
{
	struct outbuf *ob = *state;
	unsigned long long p10 = 1;
	char ref[64];

	for (size_t i = 0; i < sizeof(u64_vals) / sizeof(u64_vals[0]); i++) {
		ob_reset(ob);
		ob_u64(ob, u64_vals[i]);
		snprintf(ref, sizeof(ref), "%llu", u64_vals[i]);
		assert_string_equal(ob_cstr(ob), ref);
	}
	for (int i = 0; i < 20; i++, p10 *= 10) {
		for (int d = -1; d <= 1; d++) {
			ob_reset(ob);
			ob_u64(ob, p10 + (unsigned long long)d);
			snprintf(ref, sizeof(ref), "%llu", p10 + (unsigned long long)d);
			assert_string_equal(ob_cstr(ob), ref);
		}
	}
}

static void test_i64_matches_printf(void **state)
{
	static const long long vals[] = {
		0, 1, -1, 9, -9, 10, -10, LLONG_MAX, LLONG_MIN, LLONG_MIN + 1,
		-1234567890123LL,
	};
	struct outbuf *ob = *state;
	char ref[64];

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		ob_reset(ob);
		ob_i64(ob, vals[i]);
		snprintf(ref, sizeof(ref), "%lld", vals[i]);
		assert_string_equal(ob_cstr(ob), ref);
	}
}

static void test_hex_matches_printf(void **state)
{
	struct outbuf *ob = *state;
	char ref[64];

	for (size_t i = 0; i < sizeof(u64_vals) / sizeof(u64_vals[0]); i++) {
		ob_reset(ob);
		ob_hex(ob, u64_vals[i]);
		snprintf(ref, sizeof(ref), "%llx", u64_vals[i]);
		assert_string_equal(ob_cstr(ob), ref);
	}
	ob_reset(ob);
	ob_hex(ob, 0xdeadbeefULL);
	assert_string_equal(ob_cstr(ob), "deadbeef");
}

static void test_padding_matches_printf(void **state)
{
	static const char *strs[] = { "", "a", "ESTABLISHED", "0123456789abcdef" };
	struct outbuf *ob = *state;
	char ref[128];

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		for (int w = -20; w <= 20; w++) {
			ob_reset(ob);
			ob_pad(ob, strs[i], w);
			snprintf(ref, sizeof(ref), "%-*s", w, strs[i]);
			assert_string_equal(ob_cstr(ob), ref);
			ob_reset(ob);
			ob_padr(ob, strs[i], w);
			snprintf(ref, sizeof(ref), "%*s", w, strs[i]);
			assert_string_equal(ob_cstr(ob), ref);
		}
	}
	for (size_t i = 0; i < sizeof(u64_vals) / sizeof(u64_vals[0]); i++) {
		for (int w = -25; w <= 25; w += 3) {
			ob_reset(ob);
			ob_u64_padr(ob, u64_vals[i], w);
			snprintf(ref, sizeof(ref), "%*llu", w, u64_vals[i]);
			assert_string_equal(ob_cstr(ob), ref);
		}
	}
	ob_reset(ob);
	ob_pad(ob, NULL, 3);
	assert_string_equal(ob_cstr(ob), "   ");
}

static void test_frac(void **state)
{
	struct outbuf *ob = *state;
	char ref[64];

	ob_reset(ob);
	ob_frac(ob, 42, 6);
	assert_string_equal(ob_cstr(ob), "000042");
	ob_reset(ob);
	ob_frac(ob, 0, 3);
	assert_string_equal(ob_cstr(ob), "000");
	ob_reset(ob);
	ob_frac(ob, 999999, 6);
	assert_string_equal(ob_cstr(ob), "999999");
	for (size_t i = 0; i < sizeof(u64_vals) / sizeof(u64_vals[0]); i++) {
		for (int d = 0; d <= 22; d++) {
			ob_reset(ob);
			ob_frac(ob, u64_vals[i], d);
			snprintf(ref, sizeof(ref), "%0*llu", d, u64_vals[i]);
			assert_string_equal(ob_cstr(ob), ref);
		}
	}
}

static void test_line_building(void **state)
{
	struct outbuf *ob = *state;

	ob_reset(ob);
	ob_u64(ob, 12);
	ob_putc(ob, '.');
	ob_frac(ob, 345, 6);
	ob_putc(ob, ' ');
	ob_text_esc(ob, "evil\x1b[2J\n", 9);
	ob_putc(ob, ' ');
	ob_json_str(ob, "a\"\\\n", 4);
	ob_putc(ob, '\n');
	assert_string_equal(ob_cstr(ob),
			    "12.000345 evil\\x1b[2J\\x0a \"a\\\"\\\\x5c\\\\x0a\"\n");
	assert_int_equal(ob->len, strlen(ob->buf));
	assert_int_equal(ob->oom, 0);
}

static void test_text_esc_pad_counts_code_points(void **state)
{
	struct outbuf *ob = *state;

	ob_reset(ob);
	ob_text_esc_pad(ob, "caf\xc3\xa9", 5, 6);
	ob_putc(ob, '|');
	assert_string_equal(ob_cstr(ob), "caf\xc3\xa9  |");
	ob_reset(ob);
	ob_text_esc_pad(ob, "\x1b", 1, 6);
	ob_putc(ob, '|');
	assert_string_equal(ob_cstr(ob), "\\x1b  |");
	ob_reset(ob);
	ob_text_esc_pad(ob, "toolongname", 11, 4);
	assert_string_equal(ob_cstr(ob), "toolongname");
}

static void test_growth(void **state)
{
	struct outbuf *ob = *state;
	char chunk[1000];

	ob_reset(ob);
	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (char)('a' + i % 26);
	for (int i = 0; i < 1000; i++)
		ob_putn(ob, chunk, sizeof(chunk));
	assert_int_equal(ob->oom, 0);
	assert_int_equal(ob->len, 1000 * sizeof(chunk));
	assert_true(ob->cap > ob->len);
	for (int i = 0; i < 1000; i++)
		assert_memory_equal(ob->buf + (size_t)i * sizeof(chunk), chunk, sizeof(chunk));
	/* Escaping near the end of the capacity must grow, not truncate. */
	ob_reset(ob);
	while (ob->cap - ob->len > 3)
		ob_putc(ob, 'x');
	ob_text_esc(ob, "\x01\x02\x03", 3);
	assert_int_equal(ob->oom, 0);
	assert_memory_equal(ob->buf + ob->len - 12, "\\x01\\x02\\x03", 12);
}

static void test_zero_initialized_works(void **state)
{
	struct outbuf ob = { 0 };

	(void)state;
	assert_string_equal(ob_cstr(&ob), "");
	ob_puts(&ob, "hello");
	ob_u64(&ob, 7);
	assert_string_equal(ob_cstr(&ob), "hello7");
	ob_free(&ob);
	ob_free(&ob);
	ob_free(NULL);
	assert_null(ob.buf);
}

static void test_oom_drops_until_reset(void **state)
{
	struct outbuf *ob = *state;

	ob_reset(ob);
	ob_puts(ob, "ok");
	/* Sizes whose escaped form overflows size_t: refused before any
	 * allocation or read of the (bogus) source. */
	ob_json_str(ob, "x", SIZE_MAX / 4);
	assert_int_equal(ob->oom, 1);
	ob_puts(ob, "dropped");
	ob_u64(ob, 42);
	ob_putc(ob, '!');
	assert_int_equal(ob->len, 2);
	assert_string_equal(ob_cstr(ob), "ok");
	ob_reset(ob);
	assert_int_equal(ob->oom, 0);
	ob_puts(ob, "again");
	assert_string_equal(ob_cstr(ob), "again");
	ob_text_esc(ob, "x", SIZE_MAX / 2);
	assert_int_equal(ob->oom, 1);
	assert_string_equal(ob_cstr(ob), "again");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_u64_matches_printf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_i64_matches_printf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hex_matches_printf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_padding_matches_printf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frac, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_building, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_esc_pad_counts_code_points, setup, teardown),
		cmocka_unit_test_setup_teardown(test_growth, setup, teardown),
		cmocka_unit_test(test_zero_initialized_works),
		cmocka_unit_test_setup_teardown(test_oom_drops_until_reset, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
