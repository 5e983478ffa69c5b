// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * /proc/net/tcp{,6} parser.
 *
 * The kernel prints each row with
 *   "%4d: %08X:%04X %08X:%04X %02X %08X:%08X %02X:%08lX %08X %5u %8d %lu ..."
 * (tcp4_seq_show/get_tcp4_sock, and the timewait and request-socket
 * variants, which print fewer trailing fields). We need the fields up to the
 * inode, so a row must have at least those ten; what follows varies by socket
 * kind and is ignored. sscanf per field is too slow for 100k rows, hence the
 * hand-written scanner working on (pointer, end) ranges that never reads past
 * the end it was given.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "procnet.h"

#define PROCNET_BUF_SIZE (256 * 1024)

struct cursor {
	const char *p;
	const char *end;
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void skip_blanks(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

/* True when the cursor is at the end of a field. */
static int at_field_end(const struct cursor *c)
{
	return c->p == c->end || *c->p == ' ' || *c->p == '\t' ||
	       *c->p == '\n' || *c->p == '\r';
}

/* 1..maxdigits hex digits; more digits than that is an overflow. */
static int scan_hex(struct cursor *c, unsigned maxdigits, uint64_t *out)
{
	uint64_t v = 0;
	unsigned n = 0;
	int d;

	while (c->p < c->end && (d = hexval(*c->p)) >= 0) {
		if (++n > maxdigits)
			return -EINVAL;
		v = (v << 4) | (unsigned)d;
		c->p++;
	}
	if (!n)
		return -EINVAL;
	*out = v;
	return 0;
}

static int scan_dec(struct cursor *c, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	unsigned n = 0;

	while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
		unsigned d = (unsigned)(*c->p - '0');

		if (v > (max - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
		n++;
		c->p++;
	}
	if (!n)
		return -EINVAL;
	*out = v;
	return 0;
}

static int expect(struct cursor *c, char ch)
{
	if (c->p >= c->end || *c->p != ch)
		return -EINVAL;
	c->p++;
	return 0;
}

/*
 * "ADDR:PORT". The kernel prints each 32-bit word of the address with %08X
 * of the value as it sits in memory, so storing the parsed word back as a
 * native u32 recreates the original (network order) bytes on any host.
 */
static int scan_endpoint(struct cursor *c, unsigned words, unsigned char *addr,
			 unsigned *port)
{
	uint64_t v;
	unsigned i, j;

	memset(addr, 0, 16);
	for (i = 0; i < words; i++) {
		uint32_t w = 0;
		int d;

		for (j = 0; j < 8; j++) {
			if (c->p >= c->end || (d = hexval(*c->p)) < 0)
				return -EINVAL;	/* address too short */
			w = (w << 4) | (unsigned)d;
			c->p++;
		}
		memcpy(addr + 4 * i, &w, sizeof(w));
	}
	/* a longer address than the family has is malformed too */
	if (expect(c, ':') || scan_hex(c, 4, &v) || !at_field_end(c))
		return -EINVAL;
	*port = (unsigned)v;	/* 4 hex digits cannot exceed 65535 */
	return 0;
}

/* "sl:", then the two endpoints. */
static int scan_endpoints(struct cursor *c, unsigned words, struct tt_sockrow *r)
{
	uint64_t tmp;

	skip_blanks(c);
	if (scan_dec(c, UINT64_MAX, &tmp) || expect(c, ':') || !at_field_end(c))
		return -EINVAL;
	skip_blanks(c);
	if (scan_endpoint(c, words, r->laddr, &r->lport))
		return -EINVAL;
	skip_blanks(c);
	return scan_endpoint(c, words, r->raddr, &r->rport);
}

/* st, tx_queue:rx_queue, tr:tm->when, retrnsmt, uid, timeout, inode. */
static int scan_fields(struct cursor *c, struct tt_sockrow *r)
{
	uint64_t v, tmp;

	skip_blanks(c);
	if (scan_hex(c, 8, &v) || !at_field_end(c) || v < 1 || v > 12)
		return -EINVAL;
	r->state = (unsigned)v;
	skip_blanks(c);
	if (scan_hex(c, 16, &v) || expect(c, ':'))
		return -EINVAL;
	r->txq = v;
	if (scan_hex(c, 16, &v) || !at_field_end(c))
		return -EINVAL;
	r->rxq = v;
	/* tr:tm->when and retrnsmt: only checked for shape */
	skip_blanks(c);
	if (scan_hex(c, 16, &tmp) || expect(c, ':') || scan_hex(c, 16, &tmp) || !at_field_end(c))
		return -EINVAL;
	skip_blanks(c);
	if (scan_hex(c, 16, &tmp) || !at_field_end(c))
		return -EINVAL;
	skip_blanks(c);
	if (scan_dec(c, UINT_MAX, &v) || !at_field_end(c))
		return -EINVAL;
	r->uid = (unsigned)v;
	/* timeout is printed with %d and may be negative */
	skip_blanks(c);
	if (c->p < c->end && *c->p == '-')
		c->p++;
	if (scan_dec(c, UINT64_MAX, &tmp) || !at_field_end(c))
		return -EINVAL;
	skip_blanks(c);
	if (scan_dec(c, UINT64_MAX, &v) || !at_field_end(c))
		return -EINVAL;
	r->inode = v;
	return 0;
}

int procnet_parse_buf(const char *line, unsigned long len, unsigned family,
		      struct tt_sockrow *row)
{
	struct cursor c = { line, line + len };
	struct tt_sockrow r;

	if (!line || !row || (family != AF_INET && family != AF_INET6))
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	r.family = family;
	if (scan_endpoints(&c, family == AF_INET ? 1 : 4, &r) || scan_fields(&c, &r))
		return -EINVAL;
	*row = r;
	return 0;
}

int procnet_parse_line(const char *line, unsigned family, struct tt_sockrow *row)
{
	if (!line)
		return -EINVAL;
	return procnet_parse_buf(line, strlen(line), family, row);
}

/* A file being split into lines. */
struct reader {
	char *buf;
	size_t have;
	unsigned family;
	int header;		/* the first line is the column header */
	int skipping;		/* inside a line too long for the buffer */
	int (*cb)(const struct tt_sockrow *row, void *ctx);
	void *ctx;
	unsigned *bad;
};

static int take_line(struct reader *rd, const char *p, const char *nl)
{
	struct tt_sockrow row;

	if (rd->skipping) {
		rd->skipping = 0;
		return 0;
	}
	if (rd->header) {
		rd->header = 0;
		return 0;
	}
	if (procnet_parse_buf(p, (unsigned long)(nl - p), rd->family, &row)) {
		if (rd->bad)
			(*rd->bad)++;
		return 0;
	}
	return rd->cb(&row, rd->ctx);
}

/* The whole lines of the buffer (at eof, also the last one without its
 * newline); what is left moves to the front. 0, or what cb returned. */
static int take_lines(struct reader *rd, int eof)
{
	char *p = rd->buf, *end = rd->buf + rd->have, *nl;
	int err;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl && !eof)
			break;
		if (!nl)
			nl = end;	/* last line without newline */
		err = take_line(rd, p, nl);
		if (err)
			return err;
		p = nl < end ? nl + 1 : end;
	}
	rd->have = (size_t)(end - p);
	if (rd->have == PROCNET_BUF_SIZE) {
		/* No row is this long: drop it up to its newline, counting it
		 * once however many reads it spans. */
		if (!rd->skipping && !rd->header && rd->bad)
			(*rd->bad)++;
		rd->header = 0;
		rd->skipping = 1;
		rd->have = 0;
	} else if (rd->have && p != rd->buf) {
		memmove(rd->buf, p, rd->have);
	}
	return 0;
}

int procnet_read(const char *path, unsigned family,
		 int (*cb)(const struct tt_sockrow *row, void *ctx), void *ctx,
		 unsigned *bad)
{
	struct reader rd = { .family = family, .header = 1, .cb = cb, .ctx = ctx, .bad = bad };
	int fd = -1, err = 0, eof = 0;

	if (!path || !cb)
		return -EINVAL;
	if (bad)
		*bad = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rd.buf = malloc(PROCNET_BUF_SIZE);
	if (!rd.buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	while (!eof && !err) {
		ssize_t n = read(fd, rd.buf + rd.have, PROCNET_BUF_SIZE - rd.have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		eof = n == 0;
		rd.have += (size_t)n;
		err = take_lines(&rd, eof);
	}
cleanup:
	free(rd.buf);
	close(fd);
	return err;
}
