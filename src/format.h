/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Records to lines: text (format_text.c) and JSON Lines (format_json.c).
 * Each call appends one record's lines, '\n' included, to an outbuf, or
 * nothing when the record has no form in that format (a text header in
 * JSON; meta, clock, skipped and summary in text). Every string that came
 * from the kernel or /proc is escaped (escape.h), so one record is always
 * one line. The formatters only format: they keep no state and count
 * nothing.
 */
#ifndef TT_FORMAT_H
#define TT_FORMAT_H

#include "clock.h"
#include "outbuf.h"
#include "record.h"

struct fmt_opts {
	int wide;
	int color;
	int addr_width;     /* text address column width (23, or more when wide) */
	int cgroup_column;  /* text: -C's Container column */
	struct tt_clock *clock;
};

void fmt_text(struct outbuf *ob, const struct tt_record *r, const struct fmt_opts *fo);
void fmt_json(struct outbuf *ob, const struct tt_record *r, const struct fmt_opts *fo);

/* The JSON "type" of a record ("transition"...), or NULL when it has no
 * JSON form (a text header). */
const char *fmt_json_type(const struct tt_record *r);

/* "tcp" or "tcp6", as netstat's Proto column. */
const char *fmt_proto(unsigned family);
/* Address text without port ("127.0.0.1", "::ffff:127.0.0.1"). */
void fmt_addr(char *buf, size_t size, unsigned family, const unsigned char *addr);

#endif
