/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Reading a capture back: one JSON Lines record (as format_json.c writes
 * it) to the structs the formatters take, so that replay prints through the
 * very functions live mode uses. Pure logic: the caller splits the file
 * into lines.
 *
 * A capture is untrusted input (it may be damaged, or crafted), so every
 * field is checked for type and range and a record that fails is reported
 * as corruption, with a message naming the field. What is accepted:
 *   - strings are in the escaped text form (escape.h) and are decoded with
 *     unesc_text, so the formatters re-escape them to the same bytes;
 *   - ports 0..65535, state names netstat's, counters non-negative
 *     integers, boot_ns and the clock anchor within 0..2^62 (146 years: the
 *     wall-time arithmetic of clock.c cannot overflow below that);
 *   - fields that are not known are ignored, and a record whose "type" is
 *     not known gives CR_UNKNOWN (not an error), so that a capture written
 *     by a newer tcptrail stays readable; the caller counts them.
 */
#ifndef TT_CAPTURE_READ_H
#define TT_CAPTURE_READ_H

#include <stddef.h>

#include "format.h"

#define CR_ERR_SIZE 192
/* Longest line accepted: a real record is under 2 KiB (the meta record's
 * cmdline is the longest field); anything near this is damage. */
#define CR_LINE_MAX (1 << 20)
/* Bounds on the decoded (raw) strings, from what live mode can write. */
#define CR_SNAP_COMM_MAX 64
#define CR_META_STR_MAX 1024   /* at least loader.h's attach[] */
#define CR_CMDLINE_MAX 1024

enum cr_type {
	CR_UNKNOWN = 0,   /* a "type" this version does not know: skip it */
	CR_META,
	CR_SNAPSHOT,
	CR_EVENT,         /* "transition", "rcvq_full", "sndbuf_full" */
	CR_LOST,
	CR_CLOCK,
	CR_SUMMARY,
};

/*
 * One parsed record. The string pointers inside meta, snap and lost point
 * into this struct's own buffers: use it in place, do not copy it by value.
 */
struct cr_record {
	enum cr_type type;
	long long boot_ns;
	long long time_real_ns;      /* the "time" field, as ns since the epoch */
	struct tt_meta meta;         /* CR_META */
	struct tt_snaprec snap;      /* CR_SNAPSHOT */
	struct tt_event ev;          /* CR_EVENT */
	struct tt_lost lost;         /* CR_LOST */
	struct tt_summary summary;   /* CR_SUMMARY */
	long long clock_real_ns;     /* CR_CLOCK: real_ns (the anchor is boot_ns, real_ns) */
	char type_name[32];          /* CR_UNKNOWN: the type, escaped, for messages */

	char comm[CR_SNAP_COMM_MAX + 1];
	char owner[CR_SNAP_COMM_MAX + 16];
	char reason[32];
	char version[CR_META_STR_MAX], hostname[CR_META_STR_MAX], kernel[CR_META_STR_MAX];
	char boot_id[CR_META_STR_MAX], attach[CR_META_STR_MAX], cmdline[CR_CMDLINE_MAX];
	char features[CR_META_STR_MAX], features_missing[CR_META_STR_MAX];
};

struct cr_parser;

int cr_parser_new(struct cr_parser **out);     /* 0 or -ENOMEM */
void cr_parser_free(struct cr_parser **p);     /* NULL-safe, sets *p = NULL */

/*
 * Parses one line (len bytes, without its '\n'; need not be NUL-terminated).
 * Returns 0 with rec filled (rec->type CR_UNKNOWN for an unknown type), or
 * -EINVAL with a one-line reason in err (NUL-terminated, printable ASCII
 * only: it quotes nothing from the line but escaped field names).
 */
int cr_parse_line(struct cr_parser *p, const char *line, size_t len,
		  struct cr_record *rec, char *err, size_t errsize);

/* State name (as netstat_state_name prints it) to its number, or 0. */
unsigned cr_state_of(const char *name);

/* "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" (clock_fmt_rfc3339) to ns since the
 * epoch. Returns 0 or -EINVAL. */
int cr_parse_rfc3339(const char *s, size_t len, long long *ns);

#endif /* TT_CAPTURE_READ_H */
