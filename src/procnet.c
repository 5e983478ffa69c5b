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

int procnet_parse_buf(const char *line, unsigned long len, unsigned family,
		      struct tt_sockrow *row)
{
	struct cursor c = { line, line + len };
	struct tt_sockrow r;
	unsigned words;
	uint64_t v, tmp;

	if (!line || !row)
		return -EINVAL;
	if (family == AF_INET)
		words = 1;
	else if (family == AF_INET6)
		words = 4;
	else
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	r.family = family;

	/* "sl:" */
	skip_blanks(&c);
	if (scan_dec(&c, UINT64_MAX, &tmp) || expect(&c, ':') || !at_field_end(&c))
		return -EINVAL;
	skip_blanks(&c);
	if (scan_endpoint(&c, words, r.laddr, &r.lport))
		return -EINVAL;
	skip_blanks(&c);
	if (scan_endpoint(&c, words, r.raddr, &r.rport))
		return -EINVAL;
	skip_blanks(&c);
	if (scan_hex(&c, 8, &v) || !at_field_end(&c) || v < 1 || v > 12)
		return -EINVAL;
	r.state = (unsigned)v;
	skip_blanks(&c);
	if (scan_hex(&c, 16, &v) || expect(&c, ':'))
		return -EINVAL;
	r.txq = v;
	if (scan_hex(&c, 16, &v) || !at_field_end(&c))
		return -EINVAL;
	r.rxq = v;
	/* tr:tm->when and retrnsmt: only checked for shape */
	skip_blanks(&c);
	if (scan_hex(&c, 16, &tmp) || expect(&c, ':') || scan_hex(&c, 16, &tmp) ||
	    !at_field_end(&c))
		return -EINVAL;
	skip_blanks(&c);
	if (scan_hex(&c, 16, &tmp) || !at_field_end(&c))
		return -EINVAL;
	skip_blanks(&c);
	if (scan_dec(&c, UINT_MAX, &v) || !at_field_end(&c))
		return -EINVAL;
	r.uid = (unsigned)v;
	/* timeout is printed with %d and may be negative */
	skip_blanks(&c);
	if (c.p < c.end && *c.p == '-')
		c.p++;
	if (scan_dec(&c, UINT64_MAX, &tmp) || !at_field_end(&c))
		return -EINVAL;
	skip_blanks(&c);
	if (scan_dec(&c, UINT64_MAX, &v) || !at_field_end(&c))
		return -EINVAL;
	r.inode = v;

	*row = r;
	return 0;
}

int procnet_parse_line(const char *line, unsigned family, struct tt_sockrow *row)
{
	if (!line)
		return -EINVAL;
	return procnet_parse_buf(line, strlen(line), family, row);
}

int procnet_read(const char *path, unsigned family,
		 int (*cb)(const struct tt_sockrow *row, void *ctx), void *ctx,
		 unsigned *bad)
{
	struct tt_sockrow row;
	char *buf = NULL;
	size_t have = 0;
	int header = 1;		/* the first line is the column header */
	int skipping = 0;	/* inside a line too long for the buffer */
	int eof = 0;
	int fd = -1;
	int err = 0;

	if (!path || !cb)
		return -EINVAL;
	if (bad)
		*bad = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto cleanup;
	}
	buf = malloc(PROCNET_BUF_SIZE);
	if (!buf) {
		err = -ENOMEM;
		goto cleanup;
	}

	while (!eof) {
		ssize_t n = read(fd, buf + have, PROCNET_BUF_SIZE - have);
		char *p, *nl, *end;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto cleanup;
		}
		if (n == 0)
			eof = 1;
		have += (size_t)n;
		p = buf;
		end = buf + have;
		for (;;) {
			nl = memchr(p, '\n', (size_t)(end - p));
			if (!nl) {
				if (!eof || p == end)
					break;
				nl = end;	/* last line without newline */
			}
			if (skipping) {
				skipping = 0;
			} else if (header) {
				header = 0;
			} else if (procnet_parse_buf(p, (unsigned long)(nl - p),
						     family, &row)) {
				if (bad)
					(*bad)++;
			} else {
				err = cb(&row, ctx);
				if (err)
					goto cleanup;
			}
			p = nl < end ? nl + 1 : end;
			if (p == end)
				break;
		}
		have = (size_t)(end - p);
		if (have == PROCNET_BUF_SIZE) {
			/* No row is this long: drop it up to its newline,
			 * counting it once however many reads it spans. */
			if (!skipping && !header && bad)
				(*bad)++;
			header = 0;
			skipping = 1;
			have = 0;
		} else if (have && p != buf) {
			memmove(buf, p, have);
		}
	}

cleanup:
	free(buf);
	if (fd >= 0)
		close(fd);
	return err;
}
