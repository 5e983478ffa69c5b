// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "outbuf.h"

#define OB_MIN_CAP 256

/* Two digits per division: halves the number of (slow) 64-bit divisions
 * compared with the digit-at-a-time loop. */
static const char digit_pairs[201] =
	"00010203040506070809"
	"10111213141516171819"
	"20212223242526272829"
	"30313233343536373839"
	"40414243444546474849"
	"50515253545556575859"
	"60616263646566676869"
	"70717273747576777879"
	"80818283848586878889"
	"90919293949596979899";

int ob_init(struct outbuf *ob, size_t cap)
{
	if (cap < OB_MIN_CAP)
		cap = OB_MIN_CAP;
	ob->len = 0;
	ob->oom = 0;
	ob->buf = malloc(cap);
	if (!ob->buf) {
		ob->cap = 0;
		ob->oom = 1;
		return -ENOMEM;
	}
	ob->cap = cap;
	ob->buf[0] = '\0';
	return 0;
}

void ob_free(struct outbuf *ob)
{
	if (!ob)
		return;
	free(ob->buf);
	ob->buf = NULL;
	ob->len = ob->cap = 0;
	ob->oom = 0;
}

void ob_reset(struct outbuf *ob)
{
	ob->len = 0;
	ob->oom = 0;
}

const char *ob_cstr(struct outbuf *ob)
{
	if (!ob->buf)
		return "";
	ob->buf[ob->len] = '\0';
	return ob->buf;
}

/* Slow path of ob_room(). One byte is always kept spare so ob_cstr() and the
 * NUL written by esc_*() never need to grow the buffer. */
static int ob_grow(struct outbuf *ob, size_t need)
{
	size_t want, cap;
	char *p;

	if (ob->oom)
		return -ENOMEM;
	if (need > SIZE_MAX - 1 - ob->len)
		goto fail;
	want = ob->len + need + 1;
	cap = ob->cap ? ob->cap : OB_MIN_CAP;
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? want : cap * 2;
	p = realloc(ob->buf, cap);
	if (!p)
		goto fail;
	ob->buf = p;
	ob->cap = cap;
	return 0;
fail:
	ob->oom = 1;
	return -ENOMEM;
}

/* Ensures need bytes (+1 spare) are free; 0 or -ENOMEM. */
static inline int ob_room(struct outbuf *ob, size_t need)
{
	if (__builtin_expect(!ob->oom && ob->cap - ob->len > need, 1))
		return 0;
	return ob_grow(ob, need);
}

void ob_putc_slow(struct outbuf *ob, char c)
{
	if (ob_room(ob, 1))
		return;
	ob->buf[ob->len++] = c;
}

void ob_putn_slow(struct outbuf *ob, const char *s, size_t n)
{
	if (!n || ob_room(ob, n))
		return;
	memcpy(ob->buf + ob->len, s, n);
	ob->len += n;
}

static void ob_spaces(struct outbuf *ob, size_t n)
{
	if (!n || ob_room(ob, n))
		return;
	memset(ob->buf + ob->len, ' ', n);
	ob->len += n;
}

/* printf semantics: a negative width means left-justify in -width columns. */
static void ob_pad_common(struct outbuf *ob, const char *s, size_t n,
			  int width, int right)
{
	size_t w;

	if (width < 0) {
		right = 0;
		w = (size_t)-(long long)width;
	} else {
		w = (size_t)width;
	}
	if (right && n < w)
		ob_spaces(ob, w - n);
	ob_putn(ob, s, n);
	if (!right && n < w)
		ob_spaces(ob, w - n);
}

void ob_pad(struct outbuf *ob, const char *s, int width)
{
	if (!s)
		s = "";
	ob_pad_common(ob, s, strlen(s), width, 0);
}

void ob_padr(struct outbuf *ob, const char *s, int width)
{
	if (!s)
		s = "";
	ob_pad_common(ob, s, strlen(s), width, 1);
}

/* Writes v's decimal digits so that they end at end; returns the start. */
static char *fmt_u64(char *end, unsigned long long v)
{
	char *p = end;

	while (v >= 100) {
		unsigned int r = (unsigned int)(v % 100);

		v /= 100;
		p -= 2;
		memcpy(p, digit_pairs + 2 * r, 2);
	}
	if (v >= 10) {
		p -= 2;
		memcpy(p, digit_pairs + 2 * v, 2);
	} else {
		*--p = (char)('0' + v);
	}
	return p;
}

void ob_u64(struct outbuf *ob, unsigned long long v)
{
	char tmp[20], *p = fmt_u64(tmp + sizeof(tmp), v);

	ob_putn(ob, p, (size_t)(tmp + sizeof(tmp) - p));
}

void ob_i64(struct outbuf *ob, long long v)
{
	char tmp[21], *p;

	/* Negating in unsigned arithmetic is defined for LLONG_MIN too. */
	if (v < 0) {
		p = fmt_u64(tmp + sizeof(tmp), 0ULL - (unsigned long long)v);
		*--p = '-';
	} else {
		p = fmt_u64(tmp + sizeof(tmp), (unsigned long long)v);
	}
	ob_putn(ob, p, (size_t)(tmp + sizeof(tmp) - p));
}

void ob_u64_padr(struct outbuf *ob, unsigned long long v, int width)
{
	char tmp[20], *p = fmt_u64(tmp + sizeof(tmp), v);

	ob_pad_common(ob, p, (size_t)(tmp + sizeof(tmp) - p), width, 1);
}

void ob_hex(struct outbuf *ob, unsigned long long v)
{
	static const char hexdig[16] = "0123456789abcdef";
	char tmp[16], *p = tmp + sizeof(tmp);

	do {
		*--p = hexdig[v & 0xf];
		v >>= 4;
	} while (v);
	ob_putn(ob, p, (size_t)(tmp + sizeof(tmp) - p));
}

void ob_fixed(struct outbuf *ob, double v, int decimals)
{
	char buf[64];

	/* a rate is never negative, infinite or NaN: JSON has no such numbers */
	if (!(v >= 0 && v < 1e15))
		v = 0;
	snprintf(buf, sizeof(buf), "%.*f", decimals, v);
	ob_puts(ob, buf);
}

void ob_frac(struct outbuf *ob, unsigned long long v, int digits)
{
	char tmp[20], *p = fmt_u64(tmp + sizeof(tmp), v);
	size_t n = (size_t)(tmp + sizeof(tmp) - p);

	if (digits > 0 && (size_t)digits > n) {
		size_t z = (size_t)digits - n;

		if (ob_room(ob, z))
			return;
		memset(ob->buf + ob->len, '0', z);
		ob->len += z;
	}
	ob_putn(ob, p, n);
}

/* Length of the leading run that escaping leaves alone: printable ASCII
 * other than backslash (and, for JSON, the quote). Names are nearly always
 * all of it, and copying them beats the UTF-8 walk severalfold. */
static size_t plain_run(const char *s, size_t len, int json)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f || c == '\\' || (json && c == '"'))
			break;
		i++;
	}
	return i;
}

void ob_text_esc(struct outbuf *ob, const char *s, size_t len)
{
	if (!len)
		return;
	if (plain_run(s, len, 0) == len) {
		ob_putn(ob, s, len);
		return;
	}
	if (len > (SIZE_MAX - 1) / 4 || ob_room(ob, 4 * len)) {
		ob->oom = 1;
		return;
	}
	/* esc_text's own NUL lands in the spare byte ob_room() keeps. */
	ob->len += esc_text(ob->buf + ob->len, ob->cap - ob->len, s, len);
}

void ob_text_esc_pad(struct outbuf *ob, const char *s, size_t len, int width)
{
	size_t start = ob->len, cols = 0, w;

	ob_text_esc(ob, s, len);
	if (ob->oom || width <= 0)
		return;
	/* Output is valid UTF-8, so code points = non-continuation bytes. */
	for (size_t i = start; i < ob->len; i++)
		cols += ((unsigned char)ob->buf[i] & 0xc0) != 0x80;
	w = (size_t)width;
	if (cols < w)
		ob_spaces(ob, w - cols);
}

void ob_json_str(struct outbuf *ob, const char *s, size_t len)
{
	if (plain_run(s, len, 1) == len) {
		ob_putc(ob, '"');
		ob_putn(ob, s, len);
		ob_putc(ob, '"');
		return;
	}
	if (len > (SIZE_MAX - 3) / 5 || ob_room(ob, 5 * len + 2)) {
		ob->oom = 1;
		return;
	}
	ob->buf[ob->len++] = '"';
	ob->len += esc_json(ob->buf + ob->len, ob->cap - ob->len, s, len);
	ob->buf[ob->len++] = '"';
}
