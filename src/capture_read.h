/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Reading a capture back: one JSON Lines record (as format_json.c writes
 * it) to the record (record.h) the formatters take, so that replay prints
 * through the very functions live mode uses. Pure logic: the caller splits
 * the file into lines. The fields are read by capture_field.c.
 *
 * A capture is untrusted input (it may be damaged, or crafted), so every
 * field is checked for type and range and a record that fails is reported
 * as corruption, with a message naming the field. What is accepted:
 *   - strings are in the escaped text form (escape.h) and are decoded with
 *     unesc_text, so the formatters re-escape them to the same bytes;
 *   - ports 0..65535, state names netstat's, counters non-negative
 *     integers, boot_ns and the clock anchor within 0..2^62 (146 years: the
 *     wall-time arithmetic of clock.c cannot overflow below that); an
 *     integer written with a fraction or an exponent, or beyond 64 bits
 *     (which json-c would quietly clamp), is refused;
 *   - fields that are not known are ignored, and a record whose "type" is
 *     not known gives TT_REC_NONE (not an error), so that a capture written
 *     by a newer tcptrail stays readable; the caller counts them.
 */
#ifndef TT_CAPTURE_READ_H
#define TT_CAPTURE_READ_H

#include <stddef.h>

#include "capture_scan.h"
#include "record.h"

#define CR_ERR_SIZE 192
/* Longest line accepted: a real record is under 2 KiB (the meta record's
 * cmdline is the longest field); anything near this is damage. */
#define CR_LINE_MAX (1 << 20)
/* Bounds on the decoded (raw) strings, from what live mode can write. */
#define CR_SNAP_COMM_MAX 64
#define CR_META_STR_MAX 1024   /* at least loader.h's attach[]; CF_STR_MAX at most */
#define CR_CMDLINE_MAX 1024    /* CF_STR_MAX at most */
/* a cgroup path: live mode writes any length, a capture keeps up to this */
#define CF_STR_MAX_READ 1024   /* CF_STR_MAX at most */
#define CR_CONTAINER_MAX 256   /* cgroup.h's CG_NAME_MAX */

/*
 * One parsed record: r, for the formatters, with r.type TT_REC_NONE for a
 * type this version does not know (skip it). The strings r points to live
 * in this struct's own buffers, and a stats_final record's arrays in the
 * parser, until its next line: use it in place, do not copy it by value.
 */
struct cr_record {
	struct tt_record r;
	long long boot_ns;           /* every record's "boot_ns" */
	long long time_real_ns;      /* the "time" field, as ns since the epoch */
	char type_name[32];          /* TT_REC_NONE: the type, escaped, for messages */

	char comm[CR_SNAP_COMM_MAX + 1];
	char owner[CR_SNAP_COMM_MAX + 16];
	char reason[32], error[32];
	char cgroup[CF_STR_MAX_READ], container[CR_CONTAINER_MAX];
	char version[CR_META_STR_MAX], hostname[CR_META_STR_MAX], kernel[CR_META_STR_MAX];
	char boot_id[CR_META_STR_MAX], attach[CR_META_STR_MAX], cmdline[CR_CMDLINE_MAX];
	char features[CR_META_STR_MAX], features_missing[CR_META_STR_MAX];
	char cgroup_v2[32];
	struct tt_trans_count trans[TT_STATE_MAX * TT_STATE_MAX];
};

struct cr_parser;

int cr_parser_new(struct cr_parser **out);     /* 0 or -ENOMEM */
void cr_parser_free(struct cr_parser **p);     /* NULL-safe, sets *p = NULL */

/*
 * Parses one line (len bytes, without its '\n'; need not be NUL-terminated).
 * Returns 0 with rec filled (rec->r.type TT_REC_NONE for an unknown type), or
 * -EINVAL with a one-line reason in err (NUL-terminated, printable ASCII
 * only: it quotes nothing from the line but escaped field names).
 */
int cr_parse_line(struct cr_parser *p, const char *line, size_t len,
		  struct cr_record *rec, char *err, size_t errsize);

#endif /* TT_CAPTURE_READ_H */
