// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "escape.h"

struct vec {
	const char *name;
	const char *in;
	size_t len;
	const char *text;   /* expected esc_text output */
};

#define V(n, i, t) { n, i, sizeof(i) - 1, t }

static const struct vec vecs[] = {
	V("plain", "kworker/0:1H", "kworker/0:1H"),
	V("empty", "", ""),
	V("esc", "\x1b[2J", "\\x1b[2J"),
	V("bel", "a\x07" "b", "a\\x07b"),
	V("newline", "a\nb", "a\\x0ab"),
	V("cr", "x\ry", "x\\x0dy"),
	V("del", "\x7f", "\\x7f"),
	V("tab", "a\tb", "a\\x09b"),
	V("backslash", "a\\b", "a\\x5cb"),
	/* Typed literally by an attacker: must differ from a real ESC. */
	V("literal-escape", "\\x1b", "\\x5cx1b"),
	V("quote", "a\"b", "a\"b"),
	V("c1-first", "\xc2\x80", "\\xc2\\x80"),
	V("c1-csi", "a\xc2\x9b" "2J", "a\\xc2\\x9b2J"),
	V("c1-last", "\xc2\x9f", "\\xc2\\x9f"),
	V("nbsp", "\xc2\xa0", "\xc2\xa0"),
	V("copyright", "\xc2\xa9", "\xc2\xa9"),
	V("e-acute", "caf\xc3\xa9", "caf\xc3\xa9"),
	V("nihon", "\xe6\x97\xa5\xe6\x9c\xac", "\xe6\x97\xa5\xe6\x9c\xac"),
	V("emoji", "\xf0\x9f\x98\x80!", "\xf0\x9f\x98\x80!"),
	V("u0800", "\xe0\xa0\x80", "\xe0\xa0\x80"),
	V("ud7ff", "\xed\x9f\xbf", "\xed\x9f\xbf"),
	V("uffff", "\xef\xbf\xbf", "\xef\xbf\xbf"),
	V("u10000", "\xf0\x90\x80\x80", "\xf0\x90\x80\x80"),
	V("u10ffff", "\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"),
	V("overlong-c0", "\xc0\x80", "\\xc0\\x80"),
	V("overlong-c1", "\xc1\xbf", "\\xc1\\xbf"),
	V("overlong-e0", "\xe0\x80\x80", "\\xe0\\x80\\x80"),
	V("overlong-e0-9f", "\xe0\x9f\xbf", "\\xe0\\x9f\\xbf"),
	V("overlong-f0", "\xf0\x80\x80\x80", "\\xf0\\x80\\x80\\x80"),
	V("overlong-f0-8f", "\xf0\x8f\xbf\xbf", "\\xf0\\x8f\\xbf\\xbf"),
	V("surrogate-hi", "\xed\xa0\x80", "\\xed\\xa0\\x80"),
	V("surrogate-lo", "\xed\xbf\xbf", "\\xed\\xbf\\xbf"),
	V("above-10ffff", "\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"),
	V("f5", "\xf5\x80\x80\x80", "\\xf5\\x80\\x80\\x80"),
	V("five-byte", "\xf8\x88\x80\x80\x80", "\\xf8\\x88\\x80\\x80\\x80"),
	V("trunc-2-of-3", "ab\xe6\x97", "ab\\xe6\\x97"),
	V("trunc-3-of-4", "\xf0\x9f\x98", "\\xf0\\x9f\\x98"),
	V("trunc-1-of-2", "x\xc3", "x\\xc3"),
	V("trunc-then-ascii", "\xe6\x97" "A", "\\xe6\\x97A"),
	V("lead-then-valid", "\xe6\xc3\xa9", "\\xe6\xc3\xa9"),
	V("ff", "\xff", "\\xff"),
	V("fe-ff", "a\xfe\xff" "b", "a\\xfe\\xffb"),
	V("stray-cont", "\x80" "abc", "\\x80abc"),
	V("stray-cont-bf", "\xbf\xbf", "\\xbf\\xbf"),
	V("nul-stops", "ab\0cd", "ab"),
	V("nul-first", "\0abc", ""),
};

/* An independent decoder (code point arithmetic rather than byte ranges):
 * strict UTF-8 with no C0, DEL or C1 code points. */
static int utf8_safe(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned int cp, need, min;
		unsigned char c = s[i++];

		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return 0;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			cp = c & 0x1f; need = 1; min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			cp = c & 0x0f; need = 2; min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			cp = c & 0x07; need = 3; min = 0x10000;
		} else {
			return 0;
		}
		if (n - i < need)
			return 0;
		while (need--) {
			if ((s[i] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i++] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		if (cp >= 0x80 && cp <= 0x9f)
			return 0;
	}
	return 1;
}

/* Parses "\"" body "\"" strictly (json-c validates UTF-8 too) and returns
 * the decoded value; fails the test if it is not a valid JSON string. */
static char *json_decode(const char *body, size_t blen, size_t *vlen)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *obj;
	char *doc = malloc(blen + 3), *val;

	assert_non_null(tok);
	assert_non_null(doc);
	doc[0] = '"';
	memcpy(doc + 1, body, blen);
	doc[blen + 1] = '"';
	doc[blen + 2] = '\0';
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, doc, (int)blen + 2);
	if (!obj)
		fail_msg("json-c rejects %s: %s", doc,
			 json_tokener_error_desc(json_tokener_get_error(tok)));
	assert_int_equal(json_object_get_type(obj), json_type_string);
	*vlen = (size_t)json_object_get_string_len(obj);
	val = malloc(*vlen + 1);
	assert_non_null(val);
	memcpy(val, json_object_get_string(obj), *vlen + 1);
	json_object_put(obj);
	/* The plain entry point must agree with the strict one. */
	obj = json_tokener_parse(doc);
	assert_non_null(obj);
	assert_string_equal(json_object_get_string(obj), val);
	json_object_put(obj);
	json_tokener_free(tok);
	free(doc);
	return val;
}

static void assert_json_equals_text(const char *body, size_t blen,
				    const char *text, size_t tlen)
{
	size_t vlen;
	char *val = json_decode(body, blen, &vlen);

	assert_int_equal(vlen, tlen);
	assert_memory_equal(val, text, tlen);
	free(val);
}

static void test_vectors_text(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const struct vec *v = &vecs[i];
		char out[ESC_TEXT_MAX(16)];
		size_t n;

		memset(out, 'Z', sizeof(out));
		n = esc_text(out, ESC_TEXT_MAX(v->len), v->in, v->len);
		if (strcmp(out, v->text))
			fail_msg("%s: got \"%s\", want \"%s\"", v->name, out, v->text);
		assert_int_equal(n, strlen(v->text));
		assert_true(utf8_safe((const unsigned char *)out, n));
	}
}

static void test_vectors_json(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const struct vec *v = &vecs[i];
		char js[ESC_JSON_MAX(16)];
		size_t n = esc_json(js, sizeof(js), v->in, v->len);

		assert_int_equal(n, strlen(js));
		for (size_t k = 0; k < n; k++)
			assert_true((unsigned char)js[k] >= 0x20);
		assert_json_equals_text(js, n, v->text, strlen(v->text));
	}
}

static void test_json_specials(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(esc_json(out, sizeof(out), "a\"b", 3), 4);
	assert_string_equal(out, "a\\\"b");
	esc_json(out, sizeof(out), "a\\b", 3);
	assert_string_equal(out, "a\\\\x5cb");
	esc_json(out, sizeof(out), "\x1b", 1);
	assert_string_equal(out, "\\\\x1b");
	esc_json(out, sizeof(out), "\xc2\x9b", 2);
	assert_string_equal(out, "\\\\xc2\\\\x9b");
}

/* Hostile literal input must never decode to the same bytes as the escaped
 * form of a real control byte. */
static void test_backslash_distinguishes(void **state)
{
	char a[32], b[32], back[32];

	(void)state;
	esc_text(a, sizeof(a), "\x1b", 1);
	esc_text(b, sizeof(b), "\\x1b", 4);
	assert_string_not_equal(a, b);
	assert_int_equal(unesc_text(back, sizeof(back), a, strlen(a)), 1);
	assert_int_equal(back[0], 0x1b);
	assert_int_equal(unesc_text(back, sizeof(back), b, strlen(b)), 4);
	assert_string_equal(back, "\\x1b");
}

static void test_worst_case_size(void **state)
{
	char in[64], out[ESC_JSON_MAX(64)];

	(void)state;
	memset(in, 0xff, sizeof(in));
	assert_int_equal(esc_text(out, ESC_TEXT_MAX(64), in, 64), 4 * 64);
	assert_int_equal(esc_json(out, ESC_JSON_MAX(64), in, 64), 5 * 64);
	memset(in, 0x01, sizeof(in));
	assert_int_equal(esc_text(out, ESC_TEXT_MAX(64), in, 64), 4 * 64);
	/* C1 pairs: 2 bytes in, 8 out, still within 4x. */
	for (int i = 0; i < 64; i += 2) {
		in[i] = (char)0xc2;
		in[i + 1] = (char)0x85;
	}
	assert_int_equal(esc_text(out, ESC_TEXT_MAX(64), in, 64), 4 * 64);
}

static void test_truncation(void **state)
{
	char out[32];

	(void)state;
	memset(out, 'Z', sizeof(out));
	assert_int_equal(esc_text(out, 0, "abc", 3), 0);
	assert_int_equal(out[0], 'Z');  /* size 0: nothing written at all */
	assert_int_equal(esc_text(out, 1, "abc", 3), 0);
	assert_string_equal(out, "");
	assert_int_equal(esc_text(out, 3, "abc", 3), 2);
	assert_string_equal(out, "ab");
	/* An escape is 4 bytes: with room for 3 it is left out entirely. */
	assert_int_equal(esc_text(out, 4, "\x1b", 1), 0);
	assert_string_equal(out, "");
	assert_int_equal(esc_text(out, 5, "\x1b", 1), 4);
	assert_string_equal(out, "\\x1b");
	assert_int_equal(esc_text(out, 5, "ab\x1b", 3), 2);
	assert_string_equal(out, "ab");
	/* A code point is never split. */
	assert_int_equal(esc_text(out, 3, "\xe6\x97\xa5", 3), 0);
	assert_int_equal(esc_text(out, 4, "\xe6\x97\xa5", 3), 3);
	/* A C1 pair is all or nothing. */
	assert_int_equal(esc_text(out, 8, "\xc2\x80", 2), 0);
	assert_int_equal(esc_text(out, 9, "\xc2\x80", 2), 8);
	/* JSON \" is never split either. */
	assert_int_equal(esc_json(out, 2, "\"", 1), 0);
	assert_int_equal(esc_json(out, 3, "\"", 1), 2);
	assert_int_equal(esc_json(out, 5, "\x1b", 1), 0);
	assert_int_equal(esc_json(out, 6, "\x1b", 1), 5);
}

static void test_unesc(void **state)
{
	char out[32];

	(void)state;
	assert_int_equal(unesc_text(out, sizeof(out), "a\\x1Bb", 6), 3);
	assert_memory_equal(out, "a\x1b" "b", 3);
	assert_int_equal(unesc_text(out, sizeof(out), "\\x4", 3), 3);
	assert_string_equal(out, "\\x4");
	assert_int_equal(unesc_text(out, sizeof(out), "\\xzz\\\\", 6), 6);
	assert_string_equal(out, "\\xzz\\\\");
	assert_int_equal(unesc_text(out, sizeof(out), "\\x00a", 5), 2);
	assert_memory_equal(out, "\0a", 2);
	assert_int_equal(unesc_text(out, 3, "abcdef", 6), 2);
	assert_string_equal(out, "ab");
	assert_int_equal(unesc_text(out, 0, "abc", 3), 0);
}

/* Deterministic pseudo-random bytes biased towards the interesting ranges. */
static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static size_t random_input(uint32_t *seed, unsigned char *buf, size_t max)
{
	static const unsigned char pool[] = {
		0x01, 0x09, 0x0a, 0x1b, 0x20, 0x22, 0x41, 0x5c, 0x7e, 0x7f,
		0x80, 0x9b, 0xa0, 0xbf, 0xc0, 0xc2, 0xc3, 0xdf, 0xe0, 0xe6,
		0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff,
	};
	size_t n = rnd(seed) % (max + 1);

	for (size_t i = 0; i < n; i++) {
		uint32_t r = rnd(seed);

		buf[i] = (r & 1) ? pool[(r >> 1) % sizeof(pool)] : (unsigned char)(r >> 8);
		if (!buf[i])
			buf[i] = 'a';
	}
	return n;
}

static void test_fuzz_properties(void **state)
{
	uint32_t seed = 0x12345678;
	unsigned char in[24];
	char text[ESC_TEXT_MAX(24)], json[ESC_JSON_MAX(24)], part[ESC_JSON_MAX(24)];
	char back[32];

	(void)state;
	for (int iter = 0; iter < 20000; iter++) {
		size_t n = random_input(&seed, in, sizeof(in));
		size_t tl = esc_text(text, sizeof(text), (char *)in, n);
		size_t jl = esc_json(json, sizeof(json), (char *)in, n);

		assert_true(utf8_safe((unsigned char *)text, tl));
		assert_int_equal(unesc_text(back, sizeof(back), text, tl), n);
		assert_memory_equal(back, in, n);
		if (iter % 8 == 0)
			assert_json_equals_text(json, jl, text, tl);
		/* Any smaller buffer yields a prefix that is itself safe. */
		for (size_t sz = 0; sz <= tl; sz += 1 + iter % 3) {
			size_t pl = esc_text(part, sz, (char *)in, n);

			if (!sz)
				continue;
			assert_true(pl < sz);
			assert_int_equal(strlen(part), pl);
			assert_memory_equal(part, text, pl);
			assert_true(utf8_safe((unsigned char *)part, pl));
		}
		for (size_t sz = 1; sz <= jl; sz += 1 + iter % 5) {
			size_t pl = esc_json(part, sz, (char *)in, n);

			size_t vlen;
			char *val;

			assert_memory_equal(part, json, pl);
			if (iter % 16)
				continue;
			val = json_decode(part, pl, &vlen);
			assert_true(vlen <= tl);
			assert_memory_equal(val, text, vlen);
			free(val);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_text),
		cmocka_unit_test(test_vectors_json),
		cmocka_unit_test(test_json_specials),
		cmocka_unit_test(test_backslash_distinguishes),
		cmocka_unit_test(test_worst_case_size),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_unesc),
		cmocka_unit_test(test_fuzz_properties),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
