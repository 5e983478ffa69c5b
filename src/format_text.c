// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Text output. The snapshot is netstat -antp's, byte for byte; a live line
 * keeps netstat's columns up to the State column, which holds "OLD -> NEW",
 * then the owner, the time and what the transition measured, so that both
 * sections read as one table.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "escape.h"
#include "format.h"
#include "netstat_fmt.h"

#define TRANS_WIDTH 25   /* "ESTABLISHED -> CLOSE_WAIT" */
#define OWNER_WIDTH 20   /* netstat's PID/Program name column */

const char *fmt_proto(unsigned family)
{
	return family == AF_INET6 ? "tcp6" : "tcp";
}

void fmt_addr(char *buf, size_t size, unsigned family, const unsigned char *addr)
{
	if (family == AF_INET) {
		if (!netstat_ipv4(buf, size, addr) && size)
			buf[0] = '\0';
		return;
	}
	if (!inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr, buf, size) && size)
		buf[0] = '\0';
}

void fmt_text_snapshot_header(struct outbuf *ob, int listening_only)
{
	char buf[512];

	if (netstat_fmt_header(buf, sizeof(buf), listening_only) > 0)
		ob_puts(ob, buf);
}

void fmt_text_snapshot(struct outbuf *ob, const struct tt_snaprec *r, const struct fmt_opts *fo)
{
	char buf[1024], esc[ESC_TEXT_MAX(64)];
	const char *owner = NULL;

	if (r->owner) {
		/* netstat prints the name raw; we escape it so it cannot forge lines */
		esc_text(esc, sizeof(esc), r->owner, strnlen(r->owner, 64));
		owner = esc;
	}
	if (netstat_fmt_row(buf, sizeof(buf), &r->row, owner, fo->wide) < 0)
		return;
	ob_puts(ob, buf);
	ob_putc(ob, '\n');
}

void fmt_text_live_header(struct outbuf *ob, const struct fmt_opts *fo)
{
	int aw = fo->addr_width > 23 ? fo->addr_width : 23;

	ob_puts(ob, "Proto Recv-Q Send-Q ");
	ob_pad(ob, "Local Address", aw);
	ob_putc(ob, ' ');
	ob_pad(ob, "Foreign Address", aw);
	ob_putc(ob, ' ');
	ob_pad(ob, "Old -> New", TRANS_WIDTH);
	ob_putc(ob, ' ');
	ob_pad(ob, "PID/Program name", OWNER_WIDTH);
	ob_puts(ob, " Time            Details\n");
}

static void put_state(struct outbuf *ob, unsigned s, int color)
{
	const char *name = netstat_state_name(s);

	if (!color) {
		ob_puts(ob, name);
		return;
	}
	switch (s) {
	case TT_ESTABLISHED: ob_puts(ob, "\033[32m"); break;
	case TT_LISTEN: ob_puts(ob, "\033[36m"); break;
	case TT_CLOSE: ob_puts(ob, "\033[31m"); break;
	case TT_TIME_WAIT: case TT_CLOSE_WAIT: ob_puts(ob, "\033[33m"); break;
	default: ob_puts(ob, "\033[1m"); break;
	}
	ob_puts(ob, name);
	ob_puts(ob, "\033[0m");
}

/* "1.234ms", "12.3s": a duration a person reads at a glance. */
static void put_duration(struct outbuf *ob, unsigned long long ns)
{
	if (ns < 1000000ULL) {
		ob_u64(ob, ns / 1000);
		ob_putc(ob, '.');
		ob_frac(ob, (ns % 1000) / 100, 1);
		ob_puts(ob, "us");
	} else if (ns < 1000000000ULL) {
		ob_u64(ob, ns / 1000000);
		ob_putc(ob, '.');
		ob_frac(ob, (ns % 1000000) / 1000, 3);
		ob_puts(ob, "ms");
	} else {
		ob_u64(ob, ns / 1000000000ULL);
		ob_putc(ob, '.');
		ob_frac(ob, (ns % 1000000000ULL) / 1000000, 3);
		ob_putc(ob, 's');
	}
}

static void put_owner_text(struct outbuf *ob, const struct tt_event *e, int width)
{
	size_t start = ob->len;

	if (!(e->flags & TT_F_OWNER)) {
		ob_pad(ob, "-", width);
		return;
	}
	ob_u64(ob, e->pid);
	ob_putc(ob, '/');
	ob_text_esc_pad(ob, e->comm, strnlen(e->comm, TT_COMM_LEN),
			width - (int)(ob->len - start));
}

void fmt_text_event(struct outbuf *ob, const struct tt_event *e, const struct fmt_opts *fo)
{
	char addr[256];
	size_t mark;
	int aw = fo->addr_width > 23 ? fo->addr_width : 23;

	ob_pad(ob, fmt_proto(e->family), 4);
	ob_puts(ob, "  ");
	ob_u64_padr(ob, e->recv_q, 6);
	ob_putc(ob, ' ');
	ob_u64_padr(ob, e->send_q, 6);
	ob_putc(ob, ' ');
	netstat_fmt_addr(addr, sizeof(addr), e->family, e->laddr, e->lport, fo->wide);
	ob_pad(ob, addr, aw);
	ob_putc(ob, ' ');
	netstat_fmt_addr(addr, sizeof(addr), e->family, e->raddr, e->rport, fo->wide);
	ob_pad(ob, addr, aw);
	ob_putc(ob, ' ');

	mark = ob->len;
	if (e->kind == TT_EV_STATE) {
		put_state(ob, e->old_state, fo->color);
		ob_puts(ob, " -> ");
		put_state(ob, e->new_state, fo->color);
	} else {
		ob_puts(ob, e->kind == TT_EV_RCVQ_FULL ? "RCVQ_FULL" : "SNDBUF_FULL");
	}
	{
		/* pad on the visible width: colour escapes take no columns */
		int visible = (int)strlen(netstat_state_name(e->old_state)) + 4 +
			      (int)strlen(netstat_state_name(e->new_state));

		if (e->kind != TT_EV_STATE)
			visible = (int)(ob->len - mark);
		for (int i = visible; i < TRANS_WIDTH; i++)
			ob_putc(ob, ' ');
	}
	ob_putc(ob, ' ');
	put_owner_text(ob, e, OWNER_WIDTH);
	ob_putc(ob, ' ');
	{
		long long real = clock_real_of(fo->clock, e->ts_ns);

		ob_puts(ob, clock_local_seconds(fo->clock, real));
		ob_putc(ob, '.');
		ob_frac(ob, (unsigned long long)clock_nsec_of(real) / 1000, 6);
	}
	if (e->flags & TT_F_STATE_NS) {
		ob_puts(ob, " after ");
		put_duration(ob, e->state_ns);
	}
	if (e->flags & TT_F_FINAL) {
		ob_puts(ob, " rx=");
		ob_u64(ob, e->rx_bytes);
		ob_puts(ob, "B tx=");
		ob_u64(ob, e->tx_bytes);
		ob_putc(ob, 'B');
		if (e->duration_ns) {
			ob_puts(ob, " life=");
			put_duration(ob, e->duration_ns);
		}
	}
	if (e->kind != TT_EV_STATE) {
		ob_puts(ob, " size=");
		ob_u64(ob, e->extra);
	}
	ob_putc(ob, '\n');
}

void fmt_text_lost(struct outbuf *ob, const struct tt_lost *l)
{
	ob_puts(ob, "--- lost ");
	ob_u64(ob, l->count);
	ob_puts(ob, l->count == 1 ? " event" : " events");
	if (l->from_seq <= l->to_seq) {
		ob_puts(ob, " (seq ");
		ob_u64(ob, l->from_seq);
		if (l->to_seq != l->from_seq) {
			ob_putc(ob, '-');
			ob_u64(ob, l->to_seq);
		}
		ob_putc(ob, ')');
	}
	if (l->snapshot) {
		ob_puts(ob, ", ");
		ob_u64(ob, l->snapshot);
		ob_puts(ob, l->snapshot == 1 ? " snapshot row" : " snapshot rows");
	}
	if (l->other) {
		ob_puts(ob, ", ");
		ob_u64(ob, l->other);
		ob_puts(ob, l->other == 1 ? " other record" : " other records");
	}
	ob_puts(ob, ": ");
	ob_puts(ob, l->reason);
	if (l->error) {
		ob_puts(ob, " (");
		ob_puts(ob, l->error);
		ob_putc(ob, ')');
	}
	ob_puts(ob, " ---\n");
}
