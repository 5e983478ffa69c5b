// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Rows formatted exactly as net-tools 2.10 `netstat -antp` prints them.
 * The rules below come from net-tools' netstat.c (tcp_do_one, addr_do_one,
 * finish_this_one), lib/inet.c and lib/inet6.c, checked against the netstat
 * binary of Debian 12 with crafted /proc/net/tcp files
 * (tests/fixtures/netstat).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "netstat_fmt.h"

/*
 * netstat pads "addr:port" to 23 columns and, unless -W, cuts anything longer
 * than that: the port keeps up to 18 characters and the address gets what is
 * left of 22, so the result is always exactly 23 characters.
 */
#define ADDR_COLUMN 23
#define ADDR_SHORT_LEN 22
#define PORT_MAX_LEN (ADDR_SHORT_LEN - 4)
/* "PID/Program name" is printed with %-20s */
#define PROGNAME_WIDTH 20

/*
 * The index is the kernel state number. netstat's table stops at CLOSING and
 * it indexes it unchecked: for 12 and above the Debian binary prints whatever
 * follows in memory ("LISTENING", "CONN SENT", "DISC SENT"...). That is not a
 * rule worth copying. The kernel never prints 12 (TCP_NEW_SYN_RECV) in
 * /proc/net/tcp: request sockets are shown as TCP_SYN_RECV (get_openreq4/6),
 * so SYN_RECV is what netstat shows for such a socket. State 0 is the table's
 * own empty entry.
 */
static const char *const state_names[] = {
	"",
	"ESTABLISHED",
	"SYN_SENT",
	"SYN_RECV",
	"FIN_WAIT1",
	"FIN_WAIT2",
	"TIME_WAIT",
	"CLOSE",
	"CLOSE_WAIT",
	"LAST_ACK",
	"LISTEN",
	"CLOSING",
	"SYN_RECV",
};

const char *netstat_state_name(unsigned state)
{
	if (state < sizeof(state_names) / sizeof(state_names[0]))
		return state_names[state];
	return "UNKNOWN";
}

/* Decimal digits of v, backwards from end; returns the first digit. */
static char *utoa_back(char *end, unsigned v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

/*
 * Dotted quad, as inet_ntop prints it, without its per-call parsing: this
 * runs twice per live line (bench/bench_format.c). Returns the length, or 0
 * when size is too small.
 */
size_t netstat_ipv4(char *out, size_t size, const unsigned char *a)
{
	char tmp[16], *end = tmp + sizeof(tmp), *p = end;

	for (int i = 3; i >= 0; i--) {
		p = utoa_back(p, a[i]);
		if (i)
			*--p = '.';
	}
	if ((size_t)(end - p) + 1 > size)
		return 0;
	memcpy(out, p, (size_t)(end - p));
	out[end - p] = '\0';
	return (size_t)(end - p);
}

/*
 * netstat -n prints addresses with inet_ntoa/inet_ntop, so 0.0.0.0 and ::
 * stay numeric. For IPv4-mapped IPv6 addresses lib/inet6.c (fix_v4_address)
 * drops the "::ffff:" prefix: a tcp6 socket on ::ffff:127.0.0.1 shows as
 * 127.0.0.1.
 */
static int format_host(char *out, size_t size, unsigned family,
		       const unsigned char *addr)
{
	struct in6_addr a6;
	char *dot, *s;

	if (family == AF_INET)
		return netstat_ipv4(out, size, addr) ? 0 : -ENOSPC;
	if (family != AF_INET6)
		return -EINVAL;
	memcpy(&a6, addr, sizeof(a6));
	if (!inet_ntop(AF_INET6, &a6, out, (socklen_t)size))
		return -ENOSPC;
	if (!IN6_IS_ADDR_V4MAPPED(&a6))
		return 0;
	/* keep what follows the last ':' before the dotted quad */
	dot = strchr(out, '.');
	if (!dot)
		return 0;
	for (s = dot; s > out && *s != ':'; s--)
		;
	if (*s == ':')
		memmove(out, s + 1, strlen(s + 1) + 1);
	return 0;
}

int netstat_fmt_addr(char *buf, size_t size, unsigned family,
		     const unsigned char *addr, unsigned port, int wide)
{
	char host[INET6_ADDRSTRLEN];
	char sport[16];
	size_t hlen, plen;
	int n, err;

	if (!buf || !addr)
		return -EINVAL;
	err = format_host(host, sizeof(host), family, addr);
	if (err)
		return err;
	/* lib/inet.c get_sname: port 0 is "*" even with -n */
	{
		char *e = sport + sizeof(sport), *p = port ? utoa_back(e, port) : e - 1;

		if (!port)
			*p = '*';
		plen = (size_t)(e - p);
		memmove(sport, p, plen);
	}
	hlen = strlen(host);
	if (!wide && hlen + plen > ADDR_SHORT_LEN) {
		if (plen > PORT_MAX_LEN)
			plen = PORT_MAX_LEN;
		if (hlen > ADDR_SHORT_LEN - plen)
			hlen = ADDR_SHORT_LEN - plen;
	}
	n = (int)(hlen + 1 + plen);
	if ((size_t)n >= size)
		return -ENOSPC;
	memcpy(buf, host, hlen);
	buf[hlen] = ':';
	memcpy(buf + hlen + 1, sport, plen);
	buf[n] = '\0';
	return n;
}

int netstat_fmt_header(char *buf, size_t size, int listening_only)
{
	int n;

	if (!buf)
		return -EINVAL;
	/* The column line ends with " %-20s" of the banner: trailing spaces. */
	n = snprintf(buf, size,
		     "Active Internet connections %s\n"
		     "Proto Recv-Q Send-Q Local Address           Foreign Address"
		     "         State       %-*s\n",
		     listening_only ? "(only servers)" : "(servers and established)",
		     PROGNAME_WIDTH, "PID/Program name");
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	return n;
}

int netstat_fmt_row(char *buf, size_t size, const struct tt_sockrow *row,
		    const char *owner, int wide)
{
	char laddr[128], raddr[128];
	int n;

	if (!buf || !row)
		return -EINVAL;
	n = netstat_fmt_addr(laddr, sizeof(laddr), row->family, row->laddr,
			     row->lport, wide);
	if (n < 0)
		return n;
	n = netstat_fmt_addr(raddr, sizeof(raddr), row->family, row->raddr,
			     row->rport, wide);
	if (n < 0)
		return n;
	/*
	 * netstat: "%-4s  %6ld %6ld %-*s %-*s %-11s" then " %-20s" for -p.
	 * Queues are printed signed (%ld), address columns widen only with -W
	 * (width max(23, len)), and the owner column is always padded to 20,
	 * which leaves trailing spaces on every row.
	 */
	n = snprintf(buf, size, "%-4s  %6lld %6lld %-*s %-*s %-11s %-*s",
		     row->family == AF_INET6 ? "tcp6" : "tcp",
		     (long long)row->rxq, (long long)row->txq,
		     ADDR_COLUMN, laddr, ADDR_COLUMN, raddr,
		     netstat_state_name(row->state),
		     PROGNAME_WIDTH, owner ? owner : "-");
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	return n;
}
