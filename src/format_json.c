// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * JSON Lines: the one writer of every record type. Field names are a
 * contract (README "JSON Lines"): add fields, never rename them. Strings go
 * through ob_json_str, which makes them text-safe first, so a JSON value
 * equals the text output's form.
 */
#include <string.h>
#include <sys/socket.h>

#include "format.h"
#include "netstat_fmt.h"

/* Field helpers are inlined: their keys are literals, so the strlen and the
 * copy of each key fold into fixed-size moves (bench/bench_records.c). */
#define FIELD static inline __attribute__((always_inline)) void

/* ,"k": — a field after the first */
FIELD key(struct outbuf *ob, const char *k)
{
	ob_putc(ob, ',');
	ob_putc(ob, '"');
	ob_puts(ob, k);
	ob_puts(ob, "\":");
}

/* {"k": — the first field of a nested object */
FIELD key0(struct outbuf *ob, const char *k)
{
	ob_puts(ob, "{\"");
	ob_puts(ob, k);
	ob_puts(ob, "\":");
}

FIELD kstr(struct outbuf *ob, const char *k, const char *v)
{
	key(ob, k);
	if (!v) {
		ob_puts(ob, "null");
		return;
	}
	ob_json_str(ob, v, strlen(v));
}

FIELD ku64(struct outbuf *ob, const char *k, unsigned long long v)
{
	key(ob, k);
	ob_u64(ob, v);
}

FIELD kbool(struct outbuf *ob, const char *k, int v)
{
	key(ob, k);
	ob_puts(ob, v ? "true" : "false");
}

/* milliseconds with microsecond precision, as a JSON number */
FIELD kms(struct outbuf *ob, const char *k, unsigned long long ns)
{
	key(ob, k);
	ob_u64(ob, ns / 1000000);
	ob_putc(ob, '.');
	ob_frac(ob, (ns % 1000000) / 1000, 3);
}

/* a rate or an interval: a fixed number of decimals */
FIELD kfixed(struct outbuf *ob, const char *k, double v)
{
	key(ob, k);
	ob_fixed(ob, v, 3);
}

/* a comm: char[TT_COMM_LEN], not NUL-terminated when full; "" is null */
FIELD kcomm(struct outbuf *ob, const char *k, const char *comm)
{
	key(ob, k);
	if (comm && comm[0])
		ob_json_str(ob, comm, strnlen(comm, TT_COMM_LEN));
	else
		ob_puts(ob, "null");
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

static void end(struct outbuf *ob)
{
	ob_puts(ob, "}\n");
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

static void kind(struct outbuf *ob, unsigned flags)
{
	if (flags & TT_F_TW)
		kstr(ob, "kind", "timewait");
	else if (flags & TT_F_REQ)
		kstr(ob, "kind", "request");
}

/* The socket's cgroup: its id (null: not known), its path (null: not
 * found, see src/cgroup.h) and its container or unit (null: none). An
 * older capture's record has none of them, and a replay adds none. */
static void cgroup(struct outbuf *ob, const struct tt_cgref *cg)
{
	if (!cg->present)
		return;
	key(ob, "cgroup_id");
	if (cg->id)
		ob_u64(ob, cg->id);
	else
		ob_puts(ob, "null");
	kstr(ob, "cgroup", cg->path);
	kstr(ob, "container", cg->container);
}

static void meta(struct outbuf *ob, const struct tt_meta *m, const struct fmt_opts *fo)
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
	kbool(ob, "snapshot", m->snapshot);
	kbool(ob, "timewait_and_requests", m->timers);
	kbool(ob, "softirq_aware_owner", m->ctx_owner);
	if (m->cgroup_v2)
		kstr(ob, "cgroup_v2", m->cgroup_v2);
	end(ob);
}

static void snapshot(struct outbuf *ob, const struct tt_snaprec *r, const struct tt_cgref *cg,
		     const struct fmt_opts *fo)
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
	kind(ob, r->flags);
	cgroup(ob, cg);
	end(ob);
}

static const char *event_type(unsigned kind)
{
	return kind == TT_EV_STATE ? "transition" : kind == TT_EV_RCVQ_FULL ? "rcvq_full" : "sndbuf_full";
}

static void event(struct outbuf *ob, const struct tt_event *e, const struct tt_cgref *cg,
		  const struct fmt_opts *fo)
{
	begin(ob, event_type(e->kind), (long long)e->ts_ns, fo);
	ku64(ob, "seq", e->seq);
	endpoints(ob, e->family, e->laddr, e->lport, e->raddr, e->rport);
	if (e->kind == TT_EV_STATE)
		kstr(ob, "old_state", netstat_state_name(e->old_state));
	kstr(ob, "state", netstat_state_name(e->new_state));
	owner(ob, e->flags & TT_F_OWNER, e->pid, e->comm, strnlen(e->comm, TT_COMM_LEN));
	ku64(ob, "ctx_pid", e->ctx_pid);
	kcomm(ob, "ctx_comm", e->ctx_comm);
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
	kind(ob, e->flags);
	if (e->kind != TT_EV_STATE)
		ku64(ob, "size", e->extra);
	cgroup(ob, cg);
	end(ob);
}

static void lost(struct outbuf *ob, const struct tt_lost *l, const struct fmt_opts *fo)
{
	begin(ob, "lost", l->boot_ns, fo);
	ku64(ob, "count", l->count);
	if (l->from_seq <= l->to_seq) {   /* no range: recursion */
		ku64(ob, "from_seq", l->from_seq);
		ku64(ob, "to_seq", l->to_seq);
	}
	kstr(ob, "reason", l->reason);
	if (l->reason && !strcmp(l->reason, "write")) {
		ku64(ob, "snapshot", l->snapshot);
		ku64(ob, "other", l->other);
		if (l->error)
			kstr(ob, "error", l->error);
	}
	end(ob);
}

/* a skipped record always has its range */
static void skipped(struct outbuf *ob, const struct tt_lost *l, const struct fmt_opts *fo)
{
	begin(ob, "skipped", l->boot_ns, fo);
	ku64(ob, "count", l->count);
	ku64(ob, "from_seq", l->from_seq);
	ku64(ob, "to_seq", l->to_seq);
	kstr(ob, "reason", l->reason);
	end(ob);
}

static void clock_rec(struct outbuf *ob, const struct tt_anchor *a, const struct fmt_opts *fo)
{
	begin(ob, "clock", a->boot_ns, fo);
	ku64(ob, "real_ns", (unsigned long long)a->real_ns);
	end(ob);
}

/* ,"k":[{"pid":P,"comm":"c","NAME":N},...], pid and comm null when unknown;
 * by group: {"group":"g","NAME":N}, group null when unknown */
static void procs(struct outbuf *ob, const char *k, const struct tt_proc_count *p, size_t n,
		  const char *name)
{
	key(ob, k);
	ob_putc(ob, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			ob_putc(ob, ',');
		if (p[i].by_group) {   /* --stats-by cgroup */
			key0(ob, "group");
			if (p[i].known)
				ob_json_str(ob, p[i].group, strnlen(p[i].group, TT_GROUP_LEN));
			else
				ob_puts(ob, "null");
			ku64(ob, name, p[i].n);
			ob_putc(ob, '}');
			continue;
		}
		key0(ob, "pid");
		if (p[i].known)
			ob_u64(ob, p[i].pid);
		else
			ob_puts(ob, "null");
		kcomm(ob, "comm", p[i].known ? p[i].comm : NULL);
		ku64(ob, name, p[i].n);
		ob_putc(ob, '}');
	}
	ob_putc(ob, ']');
}

static void stats(struct outbuf *ob, const struct tt_stats *s, const struct fmt_opts *fo)
{
	static const unsigned order[] = STATS_STATES;

	begin(ob, "stats", s->boot_ns, fo);
	kfixed(ob, "interval_s", s->interval_s);
	key(ob, "states");
	for (size_t i = 0; i < STATS_NSTATES; i++) {
		if (i)
			key(ob, netstat_state_name(order[i]));
		else
			key0(ob, netstat_state_name(order[i]));
		ob_u64(ob, s->states[order[i]]);
	}
	ob_putc(ob, '}');
	ku64(ob, "sockets", s->sockets);
	ku64(ob, "new", s->new_conns);
	ku64(ob, "closes", s->closes);
	kfixed(ob, "new_per_s", s->new_per_s);
	kfixed(ob, "closes_per_s", s->closes_per_s);
	procs(ob, "top", s->top, (size_t)s->ntop, "established");
	if (s->lost)
		ku64(ob, "lost", s->lost);
	end(ob);
}

static void stats_final(struct outbuf *ob, const struct tt_stats_final *f, const struct fmt_opts *fo)
{
	begin(ob, "stats_final", f->boot_ns, fo);
	ku64(ob, "new", f->new_conns);
	ku64(ob, "closes", f->closes);
	key(ob, "transitions");
	ob_putc(ob, '[');
	for (size_t i = 0; i < f->ntrans; i++) {
		if (i)
			ob_putc(ob, ',');
		key0(ob, "old");
		ob_putc(ob, '"');
		ob_puts(ob, netstat_state_name(f->trans[i].old_state));
		ob_putc(ob, '"');
		kstr(ob, "new", netstat_state_name(f->trans[i].new_state));
		ku64(ob, "count", f->trans[i].n);
		ob_putc(ob, '}');
	}
	ob_putc(ob, ']');
	procs(ob, "by_process", f->procs, f->nprocs, "transitions");
	if (f->lost)
		ku64(ob, "lost", f->lost);
	end(ob);
}

static void summary(struct outbuf *ob, const struct tt_summary *s, const struct fmt_opts *fo)
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
	/* absent from captures of earlier versions: a replay leaves them out */
	if (s->has_accounting) {
		ku64(ob, "skipped", s->skipped);
		ku64(ob, "summarized", s->summarized);
		ku64(ob, "snapshot_lost", s->snapshot_lost);
	}
	end(ob);
}

const char *fmt_json_type(const struct tt_record *r)
{
	static const char *const types[TT_REC_MAX] = {
		[TT_REC_META] = "meta",
		[TT_REC_SNAPSHOT] = "snapshot",
		[TT_REC_LOST] = "lost",
		[TT_REC_SKIPPED] = "skipped",
		[TT_REC_CLOCK] = "clock",
		[TT_REC_STATS] = "stats",
		[TT_REC_STATS_FINAL] = "stats_final",
		[TT_REC_SUMMARY] = "summary",
	};

	if (r->type == TT_REC_EVENT)
		return event_type(r->ev.kind);
	return (unsigned)r->type < TT_REC_MAX ? types[r->type] : NULL;
}

void fmt_json(struct outbuf *ob, const struct tt_record *r, const struct fmt_opts *fo)
{
	switch (r->type) {
	case TT_REC_META: meta(ob, &r->meta, fo); break;
	case TT_REC_SNAPSHOT: snapshot(ob, &r->snap, &r->cg, fo); break;
	case TT_REC_EVENT: event(ob, &r->ev, &r->cg, fo); break;
	case TT_REC_LOST: lost(ob, &r->lost, fo); break;
	case TT_REC_SKIPPED: skipped(ob, &r->lost, fo); break;
	case TT_REC_CLOCK: clock_rec(ob, &r->clock, fo); break;
	case TT_REC_STATS: stats(ob, &r->stats, fo); break;
	case TT_REC_STATS_FINAL: stats_final(ob, &r->final, fo); break;
	case TT_REC_SUMMARY: summary(ob, &r->summary, fo); break;
	case TT_REC_NONE: case TT_REC_HEADER: case TT_REC_MAX: break;
	}
}
