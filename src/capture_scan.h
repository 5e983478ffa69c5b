/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Checks on a capture line's text that json-c cannot make (capture_scan.c),
 * for the capture reader.
 */
#ifndef TT_CAPTURE_SCAN_H
#define TT_CAPTURE_SCAN_H

#include <stddef.h>

/* "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" (clock_fmt_rfc3339) to ns since the
 * epoch. Returns 0 or -EINVAL. */
int cr_parse_rfc3339(const char *s, size_t len, long long *ns);

/* The line (valid JSON) holds no integer literal beyond 64 bits: 0, or
 * -ERANGE with the key of the first one (not NUL-terminated, klen 0 when
 * none). */
int cr_int_literals_fit(const char *line, size_t len, const char **key, size_t *klen);

#endif
