// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Text output. The snapshot is netstat -antp's, byte for byte; a live line
 * keeps netstat's columns up to the State column, which holds "OLD -> NEW",
 * then the owner, the time and what the transition measured, so that both
 * sections read as one table. -s reports are lines of their own.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cgroup.h"
#include "escape.h"
#include "format.h"
#include "netstat_fmt.h"

#define TRANS_WIDTH 25   /* "ESTABLISHED -> CLOSE_WAIT" */
#define OWNER_WIDTH 20   /* netstat's PID/Program name column */
#define TABLE_WIDTH 26   /* -s exit table: the name column */
#define CGROUP_WIDTH 20  /* -C: a container's short id, or a unit */

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

static void header(struct outbuf *ob, const struct tt_header *h, const struct fmt_opts *fo)
{
	char buf[512];
	int aw = fo->addr_width > 23 ? fo->addr_width : 23;

	if (h->kind == TT_HEADER_SNAPSHOT) {
		int n = netstat_fmt_header(buf, sizeof(buf), h->listening);

		if (n <= 0)
			return;
		/* -C: the column after netstat's last, padded one */
		if (fo->cgroup_column && buf[n - 1] == '\n') {
			buf[n - 1] = '\0';
			ob_puts(ob, buf);
			ob_puts(ob, " Container\n");
			return;
		}
		ob_puts(ob, buf);
		return;
	}
	ob_puts(ob, "Proto Recv-Q Send-Q ");
	ob_pad(ob, "Local Address", aw);
	ob_putc(ob, ' ');
	ob_pad(ob, "Foreign Address", aw);
	ob_putc(ob, ' ');
	ob_pad(ob, "Old -> New", TRANS_WIDTH);
	ob_putc(ob, ' ');
	ob_pad(ob, "PID/Program name", OWNER_WIDTH);
	if (fo->cgroup_column) {
		ob_putc(ob, ' ');
		ob_pad(ob, "Container", CGROUP_WIDTH);
	}
	ob_puts(ob, " Time            Details\n");
}

/* -C: the container's short id, or the unit; "-" when none. */
static void put_container(struct outbuf *ob, const struct tt_cgref *cg, int width)
{
	const char *c = cgroup_short(cg->container);

	if (!c) {
		ob_pad(ob, "-", width);
		return;
	}
	ob_text_esc_pad(ob, c, strnlen(c, CG_NAME_MAX), width);
}

static void snapshot(struct outbuf *ob, const struct tt_snaprec *r, const struct tt_cgref *cg,
		     const struct fmt_opts *fo)
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
	if (fo->cgroup_column) {
		ob_putc(ob, ' ');
		put_container(ob, cg, 0);
	}
	ob_putc(ob, '\n');
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

/* Proto, Recv-Q, Send-Q and the two addresses, as netstat's columns. */
static void put_columns(struct outbuf *ob, const struct tt_event *e, const struct fmt_opts *fo)
{
	char addr[256];
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
}

/* "OLD -> NEW", or the pressure event's name, padded on its visible width:
 * colour escapes take no columns. */
static void put_transition(struct outbuf *ob, const struct tt_event *e, int color)
{
	size_t mark = ob->len;
	int visible;

	if (e->kind == TT_EV_STATE) {
		put_state(ob, e->old_state, color);
		ob_puts(ob, " -> ");
		put_state(ob, e->new_state, color);
		visible = (int)strlen(netstat_state_name(e->old_state)) + 4 +
			  (int)strlen(netstat_state_name(e->new_state));
	} else {
		ob_puts(ob, e->kind == TT_EV_RCVQ_FULL ? "RCVQ_FULL" : "SNDBUF_FULL");
		visible = (int)(ob->len - mark);
	}
	for (int i = visible; i < TRANS_WIDTH; i++)
		ob_putc(ob, ' ');
}

static void put_owner(struct outbuf *ob, const struct tt_event *e, int width)
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

/* Local time to the microsecond. */
static void put_time(struct outbuf *ob, long long boot_ns, const struct fmt_opts *fo)
{
	long long real = clock_real_of(fo->clock, boot_ns);

	ob_puts(ob, clock_local_seconds(fo->clock, real));
	ob_putc(ob, '.');
	ob_frac(ob, (unsigned long long)clock_nsec_of(real) / 1000, 6);
}

/* after D, and on the final transition rx= tx= life=; size= for pressure */
static void put_details(struct outbuf *ob, const struct tt_event *e)
{
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
}

static void event(struct outbuf *ob, const struct tt_event *e, const struct tt_cgref *cg,
		  const struct fmt_opts *fo)
{
	put_columns(ob, e, fo);
	put_transition(ob, e, fo->color);
	ob_putc(ob, ' ');
	put_owner(ob, e, OWNER_WIDTH);
	ob_putc(ob, ' ');
	if (fo->cgroup_column) {
		put_container(ob, cg, CGROUP_WIDTH);
		ob_putc(ob, ' ');
	}
	put_time(ob, (long long)e->ts_ns, fo);
	put_details(ob, e);
	ob_putc(ob, '\n');
}

static void plural(struct outbuf *ob, unsigned long long n, const char *one, const char *many)
{
	ob_u64(ob, n);
	ob_puts(ob, n == 1 ? one : many);
}

static void lost(struct outbuf *ob, const struct tt_lost *l)
{
	ob_puts(ob, "--- lost ");
	plural(ob, l->count, " event", " events");
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
		plural(ob, l->snapshot, " snapshot row", " snapshot rows");
	}
	if (l->other) {
		ob_puts(ob, ", ");
		plural(ob, l->other, " other record", " other records");
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

/* "PID/comm" ("PID/-" without a comm), "-" for an unknown owner. */
static void put_proc(struct outbuf *ob, const struct tt_proc_count *p)
{
	if (!p->known) {
		ob_putc(ob, '-');
		return;
	}
	if (p->by_group) {
		ob_text_esc(ob, p->group, strnlen(p->group, TT_GROUP_LEN));
		return;
	}
	ob_u64(ob, p->pid);
	ob_putc(ob, '/');
	if (p->comm[0])
		ob_text_esc(ob, p->comm, strnlen(p->comm, TT_COMM_LEN));
	else
		ob_putc(ob, '-');
}

static void stats(struct outbuf *ob, const struct tt_stats *s, const struct fmt_opts *fo)
{
	static const unsigned order[] = STATS_STATES;

	if (s->header)
		ob_puts(ob, "# stats: sockets per state now | new/s: transitions into ESTABLISHED "
			"(both ends of a connection count) | closes/s: transitions into CLOSE "
			"except LISTEN -> CLOSE | top: owners of the most ESTABLISHED sockets\n");
	/* HH:MM:SS: a report is per second at best */
	ob_puts(ob, "--- ");
	ob_puts(ob, clock_local_seconds(fo->clock, clock_real_of(fo->clock, s->boot_ns)));
	ob_putc(ob, ' ');
	for (size_t i = 0; i < STATS_NSTATES; i++) {
		ob_putc(ob, ' ');
		ob_puts(ob, netstat_state_name(order[i]));
		ob_putc(ob, ' ');
		ob_u64(ob, s->states[order[i]]);
		ob_putc(ob, ' ');
	}
	ob_puts(ob, "| new/s ");
	ob_fixed(ob, s->new_per_s, 1);
	ob_puts(ob, "  closes/s ");
	ob_fixed(ob, s->closes_per_s, 1);
	ob_puts(ob, " | top: ");
	if (!s->ntop)
		ob_putc(ob, '-');
	for (int i = 0; i < s->ntop; i++) {
		if (i)
			ob_puts(ob, ", ");
		put_proc(ob, &s->top[i]);
		ob_putc(ob, ' ');
		ob_u64(ob, s->top[i].n);
	}
	if (s->lost) {
		ob_puts(ob, " | lost ");
		ob_u64(ob, s->lost);
		ob_puts(ob, " events: counts approximate");
	}
	ob_putc(ob, '\n');
}

/* One row of the exit table: a name padded to TABLE_WIDTH bytes, a count. */
static void table_row(struct outbuf *ob, size_t start, unsigned long long n)
{
	for (size_t w = ob->len - start; w < TABLE_WIDTH; w++)
		ob_putc(ob, ' ');
	ob_u64_padr(ob, n, 10);
	ob_putc(ob, '\n');
}

static void stats_final(struct outbuf *ob, const struct tt_stats_final *f)
{
	ob_puts(ob, "--- transitions by state (new: ");
	ob_u64(ob, f->new_conns);
	ob_puts(ob, " into ESTABLISHED, closes: ");
	ob_u64(ob, f->closes);
	ob_puts(ob, ")\n");
	if (!f->ntrans)
		ob_puts(ob, "(none)\n");
	for (size_t i = 0; i < f->ntrans; i++) {
		size_t start = ob->len;

		ob_puts(ob, netstat_state_name(f->trans[i].old_state));
		ob_puts(ob, " -> ");
		ob_puts(ob, netstat_state_name(f->trans[i].new_state));
		table_row(ob, start, f->trans[i].n);
	}
	ob_puts(ob, f->nprocs && f->procs[0].by_group ? "--- transitions by cgroup\n"
						       : "--- transitions by process\n");
	if (!f->nprocs)
		ob_puts(ob, "(none)\n");
	for (size_t i = 0; i < f->nprocs; i++) {
		size_t start = ob->len;

		if (f->procs[i].known)
			put_proc(ob, &f->procs[i]);
		else
			ob_puts(ob, "(owner unknown)");
		table_row(ob, start, f->procs[i].n);
	}
	if (f->lost) {
		ob_puts(ob, "--- lost ");
		ob_u64(ob, f->lost);
		ob_puts(ob, " events: the counts above miss them\n");
	}
}

void fmt_text(struct outbuf *ob, const struct tt_record *r, const struct fmt_opts *fo)
{
	switch (r->type) {
	case TT_REC_HEADER: header(ob, &r->header, fo); break;
	case TT_REC_SNAPSHOT: snapshot(ob, &r->snap, &r->cg, fo); break;
	case TT_REC_EVENT: event(ob, &r->ev, &r->cg, fo); break;
	case TT_REC_LOST: lost(ob, &r->lost); break;
	case TT_REC_STATS: stats(ob, &r->stats, fo); break;
	case TT_REC_STATS_FINAL: stats_final(ob, &r->final); break;
	/* records for the capture and its readers only */
	case TT_REC_NONE: case TT_REC_META: case TT_REC_SKIPPED: case TT_REC_CLOCK:
	case TT_REC_SUMMARY: case TT_REC_MAX:
		break;
	}
}
