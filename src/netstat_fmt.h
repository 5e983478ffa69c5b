/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Formatting that reproduces `netstat -antp` (net-tools 2.10) byte for byte.
 */
#ifndef TT_NETSTAT_FMT_H
#define TT_NETSTAT_FMT_H

#include <stddef.h>

#include "record.h"

/*
 * netstat's two header lines, each ending in '\n' (the column line has
 * trailing spaces, as netstat prints it). listening_only selects the first
 * line of netstat -l ("(only servers)") instead of -a's. Returns the length
 * written (buf is NUL-terminated) or -ENOSPC.
 */
int netstat_fmt_header(char *buf, size_t size, int listening_only);

/*
 * One row without the trailing newline, as netstat -antp prints it
 * (netstat -antpW when wide != 0). owner NULL prints "-". Returns the length
 * or -ENOSPC (or -EINVAL for a bad row).
 */
int netstat_fmt_row(char *buf, size_t size, const struct tt_sockrow *row,
		    const char *owner, int wide);

/* "addr:port" as netstat shows it, truncated like netstat when !wide. */
int netstat_fmt_addr(char *buf, size_t size, unsigned family,
		     const unsigned char *addr, unsigned port, int wide);

/* Dotted quad of a network-order IPv4 address, as inet_ntop writes it.
 * Returns the length, 0 if size is too small. */
size_t netstat_ipv4(char *out, size_t size, const unsigned char *addr);

/* netstat's name for a kernel TCP state; "UNKNOWN" for values it has none for. */
const char *netstat_state_name(unsigned state);

#endif /* TT_NETSTAT_FMT_H */
