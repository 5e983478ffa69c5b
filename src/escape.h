/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Escaping of attacker-controlled strings (comm, argv[0], paths) for text and
 * JSON Lines output.
 *
 * A process chooses its own name, so it can try to inject terminal escape
 * sequences, fake records (a newline) or broken JSON. Both output forms use
 * the same text-safe representation: anything that is not printable ASCII or
 * well-formed, non-control UTF-8 becomes \xNN. The backslash itself is
 * escaped too, so a name that literally contains the four characters "\x1b"
 * prints as "\x5cx1b" and can never be confused with a real ESC byte, and
 * unesc_text() can restore the exact original bytes.
 */
#ifndef TT_ESCAPE_H
#define TT_ESCAPE_H

#include <stddef.h>

/* Worst-case output sizes including the terminating NUL: every input byte
 * can become "\xNN" (text) or "\\xNN" (JSON: the backslash doubled). */
#define ESC_TEXT_MAX(len) (4 * (size_t)(len) + 1)
#define ESC_JSON_MAX(len) (5 * (size_t)(len) + 1)

/* Text-safe form of untrusted bytes src[0..len) (stops early at a NUL byte):
 * printable ASCII and valid UTF-8 multibyte sequences pass through; control
 * bytes (< 0x20), DEL, the backslash, the C1 controls U+0080..U+009F and every
 * byte that is not part of a valid UTF-8 sequence become \xNN (lower-case
 * hex). Writes at most size-1 bytes plus a NUL into dst (nothing if size is 0)
 * and never cuts an escape or a UTF-8 sequence in half; returns the length
 * written. ESC_TEXT_MAX(len) bytes always suffice. */
size_t esc_text(char *dst, size_t size, const char *src, size_t len);

/* JSON string body (no quotes) of src: first made text-safe exactly as
 * esc_text() does, then '"' and '\\' are JSON-escaped, so the decoded JSON
 * value equals the esc_text() output and the JSON is valid UTF-8. Same size
 * contract as esc_text(), but the worst case is ESC_JSON_MAX(len). */
size_t esc_json(char *dst, size_t size, const char *src, size_t len);

/* Reverse of esc_text() for reading captures back: every \xNN (hex digits of
 * either case) becomes the byte NN; everything else is copied as is. Processes
 * exactly len bytes. Writes at most size-1 bytes plus a NUL; returns the
 * length written (the output may contain NUL bytes if the input had \x00). */
size_t unesc_text(char *dst, size_t size, const char *src, size_t len);

/* Length of the valid UTF-8 sequence starting at s[0..len) (1..4), or 0 if
 * s does not start one. ASCII counts as a sequence of 1. Exported so that
 * tests and column-width code share the one definition of "valid". */
size_t utf8_seq_len(const unsigned char *s, size_t len);

#endif /* TT_ESCAPE_H */
