// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer: the capture parser on arbitrary lines. Beyond "no crash":
 *   - a refusal comes with a reason of printable ASCII (it goes to a terminal);
 *   - whatever is accepted formats (text and JSON) without trouble, and the
 *     JSON it formats to is read back and formats to the same bytes again,
 *     so a replayed capture replays identically.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture_read.h"
#include "format.h"

static struct cr_parser *parser;
static struct cr_record rec1, rec2;
static struct outbuf ob1, ob2, tob;

/* JSON of a parsed record; the anchor real == boot keeps every time in
 * range, and a clock record carries its own */
static void to_json(struct outbuf *ob, struct cr_record *r)
{
	struct tt_clock ck;
	struct fmt_opts fo = { .clock = &ck, .addr_width = 23 };

	clock_set_anchor(&ck, 0, 0);
	if (r->r.type == TT_REC_CLOCK)
		clock_set_anchor(&ck, r->r.clock.boot_ns, r->r.clock.real_ns);
	ob_reset(ob);
	fmt_json(ob, &r->r, &fo);
}

static void to_text(struct outbuf *ob, struct cr_record *r)
{
	struct tt_clock ck;
	struct fmt_opts fo = { .clock = &ck, .addr_width = 23 };

	clock_set_anchor(&ck, 0, 0);
	ob_reset(ob);
	fmt_text(ob, &r->r, &fo);
	for (size_t i = 0; i < ob->len; i++) {
		unsigned char ch = (unsigned char)ob->buf[i];

		/* no control byte but the newlines that end lines (a -s
		 * exit table is several lines) */
		if ((ch < 0x20 && !(ch == '\n' && (i == ob->len - 1 || ob->buf[i + 1] != '\n'))) ||
		    ch == 0x7f) {
			fprintf(stderr, "control byte 0x%02x in the text form\n", ch);
			abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[CR_ERR_SIZE];

	if (!parser && (cr_parser_new(&parser) || ob_init(&ob1, 4096) || ob_init(&ob2, 4096) ||
			ob_init(&tob, 4096)))
		abort();
	if (cr_parse_line(parser, (const char *)data, size, &rec1, err, sizeof(err))) {
		if (!err[0])
			abort();
		for (const char *p = err; *p; p++)
			if (*p < 0x20 || *p > 0x7e)
				abort();
		return 0;
	}
	to_text(&tob, &rec1);
	to_json(&ob1, &rec1);
	if (rec1.r.type == TT_REC_NONE)
		return 0;
	if (ob1.oom || !ob1.len || ob1.buf[ob1.len - 1] != '\n')
		abort();
	if (cr_parse_line(parser, ob1.buf, ob1.len - 1, &rec2, err, sizeof(err))) {
		fprintf(stderr, "own output refused: %s\n%.*s", err, (int)ob1.len, ob1.buf);
		abort();
	}
	to_json(&ob2, &rec2);
	if (ob1.len != ob2.len || memcmp(ob1.buf, ob2.buf, ob1.len)) {
		fprintf(stderr, "not stable:\n%.*s%.*s", (int)ob1.len, ob1.buf, (int)ob2.len, ob2.buf);
		abort();
	}
	return 0;
}
