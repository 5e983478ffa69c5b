// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer: esc_text / esc_json / unesc_text. Input: one byte that picks
 * a truncation size, then the raw bytes. Checks escape.h's promises:
 *   - unesc_text(esc_text(s)) == s up to the first NUL (the round trip);
 *   - the text form has no control byte, no C1 control, only valid UTF-8;
 *   - esc_json decodes (\" and \\ only) to exactly the text form;
 *   - a short buffer gives a prefix of the full form that still decodes
 *     to a prefix of s (no half escape, no half code point);
 *   - nothing is written past the size given (exact-size heap buffers).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"

static void check_text_form(const char *t, size_t n)
{
	const unsigned char *s = (const unsigned char *)t;

	for (size_t i = 0; i < n;) {
		size_t k;

		if (s[i] < 0x20 || s[i] == 0x7f)
			abort();
		k = utf8_seq_len(s + i, n - i);
		if (!k)
			abort();
		if (k == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0)
			abort();
		i += k;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *src;
	size_t len, n, jn, bn, slen, cut, cn;
	char *t, *j, *back, *small, *sback, *dec;

	if (size < 1)
		return 0;
	src = (const char *)data + 1;
	len = size - 1;
	slen = strnlen(src, len);

	t = malloc(ESC_TEXT_MAX(len));
	j = malloc(ESC_JSON_MAX(len));
	back = malloc(len + 1);
	dec = malloc(ESC_JSON_MAX(len));
	if (!t || !j || !back || !dec)
		abort();
	n = esc_text(t, ESC_TEXT_MAX(len), src, len);
	if (n != strlen(t))
		abort();
	check_text_form(t, n);
	bn = unesc_text(back, len + 1, t, n);
	if (bn != slen || memcmp(back, src, slen))
		abort();

	jn = esc_json(j, ESC_JSON_MAX(len), src, len);
	if (jn != strlen(j))
		abort();
	{
		size_t o = 0;

		for (size_t i = 0; i < jn; i++) {
			if (j[i] == '"')
				abort();          /* a bare quote would end the JSON string */
			if (j[i] == '\\') {
				if (i + 1 >= jn || (j[i + 1] != '\\' && j[i + 1] != '"'))
					abort();
				i++;
			}
			dec[o++] = j[i];
		}
		if (o != n || memcmp(dec, t, n))
			abort();
	}

	/* truncation at a size chosen by the first byte */
	cut = (size_t)data[0] % (n + 2);
	small = malloc(cut ? cut : 1);
	sback = malloc(len + 1);
	if (!small || !sback)
		abort();
	cn = esc_text(small, cut, src, len);
	if (cut) {
		if (cn >= cut || cn > n || memcmp(small, t, cn) || small[cn])
			abort();
		bn = unesc_text(sback, len + 1, small, cn);
		if (bn > slen || memcmp(sback, src, bn))
			abort();
	} else if (cn) {
		abort();
	}
	free(small);
	cut = (size_t)data[0] % (jn + 2);
	small = malloc(cut ? cut : 1);
	if (!small)
		abort();
	cn = esc_json(small, cut, src, len);
	if (cut && (cn >= cut || memcmp(small, j, cn) || small[cn]))
		abort();

	/* unesc_text on raw input with a short buffer: bounded, NUL-terminated */
	free(sback);
	cut = (size_t)data[0] % (len + 2);
	sback = malloc(cut ? cut : 1);
	if (!sback)
		abort();
	bn = unesc_text(sback, cut, src, len);
	if (cut && (bn >= cut || sback[bn]))
		abort();

	free(small);
	free(sback);
	free(t);
	free(j);
	free(back);
	free(dec);
	return 0;
}
