// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * JSON Lines. Field names are a contract (README "JSON records"): add
 * fields, never rename them. Strings go through ob_json_str, which makes
 * them text-safe first, so a JSON value equals the text output's form.
 */
#include <string.h>
#include <sys/socket.h>

#include "format.h"
#include "netstat_fmt.h"

static void key(struct outbuf *ob, const char *k)
{
	ob_putc(ob, ',');
	ob_putc(ob, '"');
	ob_puts(ob, k);
	ob_puts(ob, "\":");
}

static void kstr(struct outbuf *ob, const char *k, const char *v)
{
	key(ob, k);
	if (!v) {
		ob_puts(ob, "null");
		return;
	}
	ob_json_str(ob, v, strlen(v));
}

static void ku64(struct outbuf *ob, const char *k, unsigned long long v)
{
	key(ob, k);
	ob_u64(ob, v);
}

/* milliseconds with microsecond precision, as a JSON number */
static void kms(struct outbuf *ob, const char *k, unsigned long long ns)
{
	key(ob, k);
	ob_u64(ob, ns / 1000000);
	ob_putc(ob, '.');
	ob_frac(ob, (ns % 1000000) / 1000, 3);
}

static void begin(struct outbuf *ob, const char *type, long long boot_ns, const struct fmt_opts *fo)
{
	long long real = clock_real_of(fo->clock, boot_ns);

	ob_puts(ob, "{\"type\":\"");
	ob_puts(ob, type);
	ob_putc(ob, '"');
	key(ob, "time");
	ob_putc(ob, '"');
	/* the date part changes once a second: no printf per record */
	ob_puts(ob, clock_utc_seconds(fo->clock, real));
	ob_putc(ob, '.');
	ob_frac(ob, (unsigned long long)clock_nsec_of(real), 9);
	ob_puts(ob, "Z\"");
	ku64(ob, "boot_ns", (unsigned long long)boot_ns);
}

static void sock_id(struct outbuf *ob, unsigned long long id)
{
	key(ob, "sock");
	if (!id) {
		ob_puts(ob, "null");
		return;
	}
	/* a string: ids use all 64 bits, beyond what JSON numbers keep exactly */
	ob_putc(ob, '"');
	ob_hex(ob, id);
	ob_putc(ob, '"');
}

static void endpoints(struct outbuf *ob, unsigned family, const unsigned char *la, unsigned lp,
		      const unsigned char *ra, unsigned rp)
{
	char a[64];

	kstr(ob, "proto", fmt_proto(family));
	fmt_addr(a, sizeof(a), family, la);
	kstr(ob, "laddr", a);
	ku64(ob, "lport", lp);
	fmt_addr(a, sizeof(a), family, ra);
	kstr(ob, "raddr", a);
	ku64(ob, "rport", rp);
}

static void owner(struct outbuf *ob, int known, unsigned pid, const char *comm, size_t len)
{
	key(ob, "pid");
	if (known)
		ob_u64(ob, pid);
	else
		ob_puts(ob, "null");
	key(ob, "comm");
	if (known && comm)
		ob_json_str(ob, comm, len);
	else
		ob_puts(ob, "null");
}

void fmt_json_meta(struct outbuf *ob, const struct tt_meta *m, const struct fmt_opts *fo)
{
	begin(ob, "meta", m->boot_ns, fo);
	kstr(ob, "version", m->version);
	kstr(ob, "hostname", m->hostname);
	kstr(ob, "kernel", m->kernel);
	kstr(ob, "boot_id", m->boot_id);
	ku64(ob, "start_boot_ns", (unsigned long long)m->boot_ns);
	ku64(ob, "start_real_ns", (unsigned long long)m->real_ns);
	kstr(ob, "cmdline", m->cmdline);
	kstr(ob, "attach", m->attach);
	if (m->features)
		kstr(ob, "features", m->features);
	if (m->features_missing)
		kstr(ob, "features_missing", m->features_missing);
	ku64(ob, "ring_size", m->ring_size);
	key(ob, "netns");
	if (m->netns)
		ob_u64(ob, m->netns);
	else
		ob_puts(ob, "\"all\"");
	key(ob, "snapshot");
	ob_puts(ob, m->snapshot ? "true" : "false");
	key(ob, "timewait_and_requests");
	ob_puts(ob, m->timers ? "true" : "false");
	key(ob, "softirq_aware_owner");
	ob_puts(ob, m->ctx_owner ? "true" : "false");
	ob_puts(ob, "}\n");
}

void fmt_json_snapshot(struct outbuf *ob, const struct tt_snaprec *r, const struct fmt_opts *fo)
{
	begin(ob, "snapshot", r->boot_ns, fo);
	endpoints(ob, r->row.family, r->row.laddr, r->row.lport, r->row.raddr, r->row.rport);
	kstr(ob, "state", netstat_state_name(r->row.state));
	owner(ob, r->owner_known, r->pid, r->comm, r->comm ? strlen(r->comm) : 0);
	if (r->owner && !r->owner_derived)   /* netstat's "PID/Program name" */
		kstr(ob, "owner", r->owner);
	ku64(ob, "recv_q", r->row.rxq);
	ku64(ob, "send_q", r->row.txq);
	sock_id(ob, r->sock_id);
	ku64(ob, "netns", r->netns);
	ku64(ob, "uid", r->row.uid);
	ku64(ob, "inode", r->row.inode);
	if (r->flags & TT_F_TW)
		kstr(ob, "kind", "timewait");
	else if (r->flags & TT_F_REQ)
		kstr(ob, "kind", "request");
	ob_puts(ob, "}\n");
}

void fmt_json_event(struct outbuf *ob, const struct tt_event *e, const struct fmt_opts *fo)
{
	const char *type = e->kind == TT_EV_STATE ? "transition" :
			   e->kind == TT_EV_RCVQ_FULL ? "rcvq_full" : "sndbuf_full";

	begin(ob, type, (long long)e->ts_ns, fo);
	ku64(ob, "seq", e->seq);
	endpoints(ob, e->family, e->laddr, e->lport, e->raddr, e->rport);
	if (e->kind == TT_EV_STATE)
		kstr(ob, "old_state", netstat_state_name(e->old_state));
	kstr(ob, "state", netstat_state_name(e->new_state));
	owner(ob, e->flags & TT_F_OWNER, e->pid, e->comm, strnlen(e->comm, TT_COMM_LEN));
	key(ob, "ctx_pid");
	ob_u64(ob, e->ctx_pid);
	key(ob, "ctx_comm");
	if (e->ctx_comm[0])
		ob_json_str(ob, e->ctx_comm, strnlen(e->ctx_comm, TT_COMM_LEN));
	else
		ob_puts(ob, "null");
	ku64(ob, "recv_q", e->recv_q);
	ku64(ob, "send_q", e->send_q);
	sock_id(ob, e->sock_id);
	ku64(ob, "netns", e->netns);
	if (e->flags & TT_F_STATE_NS)
		kms(ob, "state_ms", e->state_ns);
	if (e->flags & TT_F_FINAL) {
		ku64(ob, "rx_bytes", e->rx_bytes);
		ku64(ob, "tx_bytes", e->tx_bytes);
		if (e->duration_ns)
			kms(ob, "duration_ms", e->duration_ns);
	}
	if (e->flags & TT_F_TW)
		kstr(ob, "kind", "timewait");
	else if (e->flags & TT_F_REQ)
		kstr(ob, "kind", "request");
	if (e->kind != TT_EV_STATE)
		ku64(ob, "size", e->extra);
	ob_puts(ob, "}\n");
}

void fmt_json_lost(struct outbuf *ob, const struct tt_lost *l, const struct fmt_opts *fo)
{
	begin(ob, "lost", l->boot_ns, fo);
	ku64(ob, "count", l->count);
	if (l->from_seq <= l->to_seq) {
		ku64(ob, "from_seq", l->from_seq);
		ku64(ob, "to_seq", l->to_seq);
	}
	kstr(ob, "reason", l->reason);
	ob_puts(ob, "}\n");
}

void fmt_json_clock(struct outbuf *ob, const struct fmt_opts *fo)
{
	begin(ob, "clock", fo->clock->boot_ns, fo);
	ku64(ob, "real_ns", (unsigned long long)fo->clock->real_ns);
	ob_puts(ob, "}\n");
}

void fmt_json_summary(struct outbuf *ob, const struct tt_summary *s, const struct fmt_opts *fo)
{
	begin(ob, "summary", s->boot_ns, fo);
	ku64(ob, "snapshot", s->snapshot);
	ku64(ob, "seen", s->seen);
	ku64(ob, "written", s->written);
	ku64(ob, "lost", s->lost);
	ku64(ob, "lost_ring", s->lost_ring);
	ku64(ob, "lost_recursion", s->lost_recursion);
	ku64(ob, "lost_write", s->lost_write);
	ku64(ob, "filtered", s->filtered);
	ku64(ob, "timer_hooks_missed", s->timer_misses);
	ob_puts(ob, "}\n");
}
