// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Hand-written because this runs for every record (~200k/s): a table lookup
 * per ASCII byte and no stdio. The same core produces the text and the JSON
 * form so the two can never disagree about what is "safe".
 */
#include <stdbool.h>
#include <stdint.h>

#include "escape.h"

static const char hexdig[16] = "0123456789abcdef";

/* 1 for printable ASCII other than the backslash: the only bytes that are
 * copied without looking further. A table keeps the hot loop branch-light. */
static const uint8_t ascii_safe[128] = {
	[' '] = 1, ['!'] = 1, ['"'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1,
	['&'] = 1, ['\''] = 1, ['('] = 1, [')'] = 1, ['*'] = 1, ['+'] = 1,
	[','] = 1, ['-'] = 1, ['.'] = 1, ['/'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
	['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
	[':'] = 1, [';'] = 1, ['<'] = 1, ['='] = 1, ['>'] = 1, ['?'] = 1,
	['@'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
	['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
	['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
	['['] = 1, [']'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
	['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
	['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
	['{'] = 1, ['|'] = 1, ['}'] = 1, ['~'] = 1,
};

/* Follows the well-formed byte sequences of Unicode 15, table 3-7: the
 * narrowed second-byte ranges are what reject overlongs (E0 80..9F, F0
 * 80..8F), surrogates (ED A0..BF) and code points above U+10FFFF (F4 90..). */
size_t utf8_seq_len(const unsigned char *s, size_t len)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (c < 0x80)
		return 1;
	if (c < 0xc2 || c > 0xf4)
		return 0;
	if (c < 0xe0) {
		n = 2;
	} else if (c < 0xf0) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	}
	if (len < n)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* Emits "\xNN" (text) or "\\xNN" (JSON). Caller has checked the room. */
static inline size_t put_hex_esc(char *d, unsigned char c, bool json)
{
	size_t o = 0;

	d[o++] = '\\';
	if (json)
		d[o++] = '\\';
	d[o++] = 'x';
	d[o++] = hexdig[c >> 4];
	d[o++] = hexdig[c & 0xf];
	return o;
}

/*
 * Each loop step handles one unit (one ASCII byte, one whole UTF-8 sequence
 * or one escaped byte) and only commits it if it fits entirely, which is what
 * guarantees that truncation never leaves half an escape or half a code
 * point, so even a truncated output is valid UTF-8 / a valid JSON body.
 */
static inline size_t esc_core(char *dst, size_t size, const char *src,
			      size_t len, bool json)
{
	const unsigned char *s = (const unsigned char *)src;
	const size_t esc_w = json ? 5 : 4;
	size_t room, o = 0, i = 0;

	if (!size)
		return 0;
	room = size - 1;
	while (i < len) {
		unsigned char c = s[i];
		size_t n;

		if (c < 0x80 && ascii_safe[c]) {
			if (json && c == '"') {
				if (room - o < 2)
					break;
				dst[o++] = '\\';
				dst[o++] = '"';
			} else {
				if (o == room)
					break;
				dst[o++] = (char)c;
			}
			i++;
			continue;
		}
		if (!c)
			break;
		n = c < 0x80 ? 0 : utf8_seq_len(s + i, len - i);
		if (n == 2 && c == 0xc2 && s[i + 1] < 0xa0) {
			/* C1 control: valid UTF-8, but terminals obey it
			 * (U+009B is a one-byte CSI), so both bytes are
			 * escaped and the pair stays one unit. */
			if (room - o < 2 * esc_w)
				break;
			o += put_hex_esc(dst + o, c, json);
			o += put_hex_esc(dst + o, s[i + 1], json);
			i += 2;
		} else if (n) {
			if (room - o < n)
				break;
			for (size_t k = 0; k < n; k++)
				dst[o + k] = (char)s[i + k];
			o += n;
			i += n;
		} else {
			/* Only the offending byte is escaped; what follows is
			 * re-examined, so a valid sequence right after a stray
			 * lead byte still passes through. */
			if (room - o < esc_w)
				break;
			o += put_hex_esc(dst + o, c, json);
			i++;
		}
	}
	dst[o] = '\0';
	return o;
}

size_t esc_text(char *dst, size_t size, const char *src, size_t len)
{
	return esc_core(dst, size, src, len, false);
}

size_t esc_json(char *dst, size_t size, const char *src, size_t len)
{
	return esc_core(dst, size, src, len, true);
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

size_t unesc_text(char *dst, size_t size, const char *src, size_t len)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0, i = 0;

	if (!size)
		return 0;
	while (i < len && o < size - 1) {
		int hi, lo;

		if (s[i] == '\\' && len - i >= 4 && s[i + 1] == 'x' &&
		    (hi = hexval(s[i + 2])) >= 0 && (lo = hexval(s[i + 3])) >= 0) {
			dst[o++] = (char)(hi << 4 | lo);
			i += 4;
		} else {
			dst[o++] = (char)s[i++];
		}
	}
	dst[o] = '\0';
	return o;
}
