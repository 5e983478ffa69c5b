/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Parser for /proc/net/tcp and /proc/net/tcp6, the source of the snapshot
 * of sockets that exist before tracing starts.
 */
#ifndef TT_PROCNET_H
#define TT_PROCNET_H

#include "record.h"

/*
 * Parses one data line (not the header) of /proc/net/tcp (family AF_INET)
 * or tcp6 (AF_INET6). A trailing newline and trailing blanks are allowed.
 * Returns 0, or -EINVAL for any malformed line (fewer than the 10 fields up
 * to the inode, bad hex, overflow, state out of 1..12, port > 65535, an
 * address of the wrong length...). Never reads past the terminating NUL.
 */
int procnet_parse_line(const char *line, unsigned family, struct tt_sockrow *row);

/*
 * Same, for a line that is not NUL-terminated: len bytes at line.
 */
int procnet_parse_buf(const char *line, unsigned long len, unsigned family,
		      struct tt_sockrow *row);

/*
 * Reads a whole file (path like "/proc/net/tcp"), skipping the header line,
 * calling cb per row; a malformed line is skipped and counted in *bad (may be
 * NULL). Returns 0 or -errno; cb returning non-zero stops the read and that
 * value is returned.
 */
int procnet_read(const char *path, unsigned family,
		 int (*cb)(const struct tt_sockrow *row, void *ctx), void *ctx,
		 unsigned *bad);

#endif /* TT_PROCNET_H */
