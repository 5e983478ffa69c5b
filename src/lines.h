/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_LINES_H
#define TT_LINES_H

#include <stddef.h>
#include <zlib.h>

/*
 * Lines of a capture, plain or gzip (zlib tells them apart; concatenated
 * gzip members, as a capture that survived a full disk holds, read as one
 * stream). gzgets cannot report a NUL byte or how long a line is, and a
 * damaged file may hold either: this splitter over gzread can.
 */
struct lines {
	gzFile f;
	const char *path;
	char *buf;
	size_t cap, start, end, scanned;
	int eof;
	unsigned long lineno;     /* of the last line returned */
};

/* path "-" is stdin. Returns 0 or -errno (nothing printed). */
int lines_open(struct lines *l, const char *path);
void lines_close(struct lines *l);   /* NULL-safe, idempotent */

/*
 * Next line without its '\n'. Returns 1 (a whole line), 2 (the rest of the
 * file, which has no '\n': cut short), 0 at the end, or -errno: -E2BIG for
 * a line over max, -EIO when zlib or read(2) failed (the stream is then
 * damaged at the current line; lines_error tells why), -ENOMEM.
 */
int lines_next(struct lines *l, size_t max, const char **line, size_t *len);

/*
 * After lines_next() returned 0, 2 or -EIO: NULL when the stream ended
 * cleanly, else why it did not ("compressed data is truncated or corrupted
 * (...)" or "read error (...)"); lineno is moved to where the damage is.
 */
const char *lines_damage(struct lines *l, int ret, char *buf, size_t size);

#endif
