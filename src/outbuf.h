/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Growable append buffer for building one or many output lines without
 * stdio: at ~200k records/s a printf per field costs more than the rest of
 * the record path together (see bench/bench_format.c).
 *
 * Allocation failure does not return an error from every call: the buffer
 * sets oom and drops further appends, so a record builder checks ob->oom once
 * per record instead of after every field. ob_reset() clears it.
 */
#ifndef TT_OUTBUF_H
#define TT_OUTBUF_H

#include <stddef.h>
#include <string.h>

struct outbuf {
	char *buf;
	size_t len, cap;
	int oom;
};

int  ob_init(struct outbuf *ob, size_t cap);     /* 0 or -ENOMEM */
void ob_free(struct outbuf *ob);                 /* NULL-safe, idempotent */
void ob_reset(struct outbuf *ob);                /* len = 0, oom = 0 */
/* NUL-terminates the content (there is always room) and returns buf, or ""
 * if the buffer was never allocated. */
const char *ob_cstr(struct outbuf *ob);

void ob_putc_slow(struct outbuf *ob, char c);
void ob_putn_slow(struct outbuf *ob, const char *s, size_t n);

/* Inline fast paths: a record is ~30 short appends, and a call plus a
 * strlen for each would weigh on every record (bench/bench_records.c
 * measures it). Inlined, ob_puts of a literal compiles to a fixed-size
 * copy. */
static inline void ob_putc(struct outbuf *ob, char c)
{
	if (!ob->oom && ob->len + 2 <= ob->cap) {
		ob->buf[ob->len++] = c;
		return;
	}
	ob_putc_slow(ob, c);
}

static inline void ob_putn(struct outbuf *ob, const char *s, size_t n)
{
	if (!ob->oom && ob->len + n + 1 <= ob->cap) {
		memcpy(ob->buf + ob->len, s, n);
		ob->len += n;
		return;
	}
	ob_putn_slow(ob, s, n);
}

static inline void ob_puts(struct outbuf *ob, const char *s)   /* NULL = "" */
{
	if (s)
		ob_putn(ob, s, strlen(s));
}
void ob_pad(struct outbuf *ob, const char *s, int width);    /* "%-*s" */
void ob_padr(struct outbuf *ob, const char *s, int width);   /* "%*s" */
void ob_u64(struct outbuf *ob, unsigned long long v);        /* "%llu" */
void ob_i64(struct outbuf *ob, long long v);                 /* "%lld" */
void ob_u64_padr(struct outbuf *ob, unsigned long long v, int width); /* "%*llu" */
void ob_hex(struct outbuf *ob, unsigned long long v);        /* "%llx" */
/* "%.*f" of a rate or an interval: 0 for what is negative, NaN or over 1e15 */
void ob_fixed(struct outbuf *ob, double v, int decimals);
/* "%0*llu": zero-padded to digits, never truncated (e.g. usec after '.'). */
void ob_frac(struct outbuf *ob, unsigned long long v, int digits);
void ob_text_esc(struct outbuf *ob, const char *s, size_t len);  /* esc_text */
/* esc_text, then spaces up to width columns (code points, not bytes, so a
 * name with "é" does not shift the following columns). */
void ob_text_esc_pad(struct outbuf *ob, const char *s, size_t len, int width);
void ob_json_str(struct outbuf *ob, const char *s, size_t len);  /* "esc_json" */

#endif /* TT_OUTBUF_H */
