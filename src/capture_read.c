// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * JSON Lines record -> record (capture_read.h): one parser per record
 * type, mirroring format_json.c's writers; json-c does the JSON, and
 * capture_field.c the types and ranges of each field.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "capture_field.h"
#include "capture_read.h"
#include "escape.h"
#include "netstat_fmt.h"

_Static_assert(CR_CMDLINE_MAX <= CF_STR_MAX && CR_META_STR_MAX <= CF_STR_MAX &&
	       CR_SNAP_COMM_MAX + 16 <= CF_STR_MAX, "cf_str decodes at most CF_STR_MAX bytes");

struct cr_parser {
	struct json_tokener *tok;
	struct tt_proc_count *procs;   /* a stats_final record's by_process */
	size_t procs_cap;
};

int cr_parser_new(struct cr_parser **out)
{
	struct cr_parser *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->tok = json_tokener_new();
	if (!p->tok) {
		free(p);
		return -ENOMEM;
	}
	/* strict: no trailing garbage, no single quotes, no comments; the
	 * writer only ever produces valid UTF-8, so anything else is damage */
	json_tokener_set_flags(p->tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	*out = p;
	return 0;
}

void cr_parser_free(struct cr_parser **pp)
{
	struct cr_parser *p = pp ? *pp : NULL;

	if (!p)
		return;
	json_tokener_free(p->tok);
	free(p->procs);
	free(p);
	*pp = NULL;
}

/* ---- meta ------------------------------------------------------------------ */

static int meta_strings(struct pctx *c, struct cr_record *r)
{
	struct tt_meta *m = &r->r.meta;
	struct { const char *k; char *buf; size_t size; const char **dst; int flags; } strs[] = {
		{ "version", r->version, sizeof(r->version), &m->version, F_REQ | F_NULL },
		{ "hostname", r->hostname, sizeof(r->hostname), &m->hostname, F_REQ | F_NULL },
		{ "kernel", r->kernel, sizeof(r->kernel), &m->kernel, F_REQ | F_NULL },
		{ "boot_id", r->boot_id, sizeof(r->boot_id), &m->boot_id, F_REQ | F_NULL },
		{ "cmdline", r->cmdline, sizeof(r->cmdline), &m->cmdline, F_REQ | F_NULL },
		{ "attach", r->attach, sizeof(r->attach), &m->attach, F_REQ | F_NULL },
		/* optional: captures written before these fields existed lack them */
		{ "features", r->features, sizeof(r->features), &m->features, F_OPT },
		{ "features_missing", r->features_missing, sizeof(r->features_missing),
		  &m->features_missing, F_OPT },
	};
	int err;

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		err = cf_str(c, strs[i].k, strs[i].flags, strs[i].buf, strs[i].size);
		if (err < 0)
			return err;
		*strs[i].dst = err ? NULL : strs[i].buf;
	}
	return 0;
}

/* "netns": a namespace inode, or "all" (0) */
static int meta_netns(struct pctx *c, unsigned *netns)
{
	unsigned long long v = 0;
	struct json_object *o;
	int err = cf_field(c, "netns", F_REQ, &o);

	if (err)
		return err;
	if (o && json_object_is_type(o, json_type_string)) {
		if (strcmp(json_object_get_string(o), "all"))
			return cf_bad(c, "netns", "is neither a number nor \"all\"");
		*netns = 0;
		return 0;
	}
	err = cf_to_u64(c, "netns", o, UINT32_MAX, &v);
	*netns = (unsigned)v;
	return err;
}

static int parse_meta(struct cr_parser *p, struct pctx *c, struct cr_record *r)
{
	struct tt_meta *m = &r->r.meta;
	unsigned long long v = 0;
	int err;

	(void)p;
	err = meta_strings(c, r);
	if (!err)
		err = cf_ns(c, "start_boot_ns", &m->boot_ns);
	if (!err)
		err = cf_ns(c, "start_real_ns", &m->real_ns);
	if (!err)
		err = cf_u64(c, "ring_size", F_REQ, ULONG_MAX, &v);
	m->ring_size = (unsigned long)v;
	if (!err)
		err = meta_netns(c, &m->netns);
	if (!err)
		err = cf_bool(c, "timewait_and_requests", F_REQ, &m->timers);
	if (!err)
		err = cf_bool(c, "softirq_aware_owner", F_REQ, &m->ctx_owner);
	/* optional: captures written before these fields existed lack them */
	if (!err)
		err = cf_bool(c, "snapshot", F_OPT | F_NULL, &m->snapshot);
	if (err >= 0) {
		int got = cf_word(c, "cgroup_v2", F_OPT, LOWER_WORD, r->cgroup_v2, sizeof(r->cgroup_v2));

		if (got < 0)
			return got;
		m->cgroup_v2 = got ? NULL : r->cgroup_v2;
	}
	return err < 0 ? err : 0;
}

/* ---- the socket's cgroup: snapshot and events ---------------------------------- */

/* cgroup_id, cgroup and container come together; a capture of a version
 * before them has none, and its records stay without them. */
static int parse_cgroup(struct pctx *c, struct cr_record *r)
{
	struct tt_cgref *cg = &r->r.cg;
	struct json_object *o;
	int err;

	if (cf_field(c, "cgroup_id", F_OPT, &o) == 1) {
		if (!cf_field(c, "cgroup", F_OPT, &o) || !cf_field(c, "container", F_OPT, &o))
			return cf_bad(c, "cgroup_id", "is missing (cgroup or container without it)");
		return 0;
	}
	cg->present = 1;
	err = cf_u64(c, "cgroup_id", F_REQ | F_NULL, ULLONG_MAX, &cg->id);
	if (err < 0)
		return err;
	if (err)
		cg->id = 0;
	err = cf_str(c, "cgroup", F_REQ | F_NULL, r->cgroup, sizeof(r->cgroup));
	if (err < 0)
		return err;
	cg->path = err ? NULL : r->cgroup;
	err = cf_str(c, "container", F_REQ | F_NULL, r->container, sizeof(r->container));
	if (err < 0)
		return err;
	cg->container = err ? NULL : r->container;
	return 0;
}

/* ---- snapshot ---------------------------------------------------------------- */

/*
 * The text row shows netstat's "PID/Program name": as written in "owner"
 * (null included), or, for captures without it, rebuilt from pid and comm,
 * cut to the 19 bytes netstat prints.
 */
static int snapshot_owner(struct pctx *c, struct cr_record *r)
{
	struct tt_snaprec *s = &r->r.snap;
	struct json_object *ow = NULL;
	int err;

	if (cf_field(c, "owner", F_OPT, &ow) == 0) {
		err = cf_str(c, "owner", F_OPT | F_NULL, r->owner, sizeof(r->owner));
		if (err < 0)
			return err;
		s->owner = err ? NULL : r->owner;
		return 0;
	}
	snprintf(r->owner, 20, "%u/%s", s->pid, s->comm ? s->comm : "");
	s->owner = r->owner;
	s->owner_derived = 1;
	return 0;
}

static int parse_snapshot(struct cr_parser *p, struct pctx *c, struct cr_record *r)
{
	struct tt_snaprec *s = &r->r.snap;
	struct tt_sockrow *row = &s->row;
	int err;

	(void)p;
	s->boot_ns = r->boot_ns;
	err = cf_endpoints(c, &row->family, row->laddr, &row->lport, row->raddr, &row->rport);
	if (!err)
		err = cf_state(c, "state", &row->state);
	if (!err)
		err = cf_u64(c, "recv_q", F_REQ, ULLONG_MAX, &row->rxq);
	if (!err)
		err = cf_u64(c, "send_q", F_REQ, ULLONG_MAX, &row->txq);
	if (!err)
		err = cf_sock(c, &s->sock_id);
	if (!err)
		err = cf_u32(c, "netns", F_REQ, &s->netns);
	if (!err)
		err = cf_u32(c, "uid", F_REQ, &row->uid);
	if (!err)
		err = cf_u64(c, "inode", F_REQ, ULLONG_MAX, &row->inode);
	if (!err)
		err = cf_kind(c, &s->flags);
	if (!err)
		err = parse_cgroup(c, r);
	if (err)
		return err;
	s->cgroup_id = r->r.cg.id;
	err = cf_u32(c, "pid", F_REQ | F_NULL, &s->pid);
	if (err < 0)
		return err;
	s->owner_known = !err;
	err = cf_str(c, "comm", F_REQ | F_NULL, r->comm, sizeof(r->comm));
	if (err < 0)
		return err;
	if (!s->owner_known)
		return 0;
	s->comm = err ? NULL : r->comm;
	return snapshot_owner(c, r);
}

/* ---- events -------------------------------------------------------------------- */

/* A comm of the kernel's: char[16], not necessarily NUL-terminated. 1 when null. */
static int comm16(struct pctx *c, const char *k, char dst[TT_COMM_LEN])
{
	char comm[TT_COMM_LEN + 1];
	int err = cf_str(c, k, F_REQ | F_NULL, comm, sizeof(comm));

	if (!err)
		memcpy(dst, comm, strlen(comm));
	return err;
}

static int event_owner(struct pctx *c, struct tt_event *e)
{
	int err = cf_u32(c, "pid", F_REQ | F_NULL, &e->pid);

	if (err < 0)
		return err;
	if (!err)
		e->flags |= TT_F_OWNER;
	err = comm16(c, "comm", e->comm);
	if (err >= 0)
		err = comm16(c, "ctx_comm", e->ctx_comm);
	return err < 0 ? err : 0;
}

/* state_ms; rx_bytes, tx_bytes and duration_ms on the final record only */
static int event_times(struct pctx *c, struct tt_event *e)
{
	unsigned long long v = 0;
	struct json_object *o;
	int err = cf_ms(c, "state_ms", &v);

	if (err < 0)
		return err;
	if (!err) {
		e->flags |= TT_F_STATE_NS;
		e->state_ns = v;
	}
	err = cf_u64(c, "rx_bytes", F_OPT, ULLONG_MAX, &v);
	if (err < 0)
		return err;
	if (err) {
		if (!cf_field(c, "tx_bytes", F_OPT, &o) || !cf_field(c, "duration_ms", F_OPT, &o))
			return cf_bad(c, "rx_bytes", "is missing (tx_bytes or duration_ms without it)");
		return 0;
	}
	e->flags |= TT_F_FINAL;
	e->rx_bytes = v;
	err = cf_u64(c, "tx_bytes", F_REQ, ULLONG_MAX, &e->tx_bytes);
	if (!err)
		err = cf_ms(c, "duration_ms", &e->duration_ns);
	return err < 0 ? err : 0;
}

/* transition, rcvq_full, sndbuf_full: r->r.ev.kind is set */
static int parse_event(struct cr_parser *p, struct pctx *c, struct cr_record *r)
{
	struct tt_event *e = &r->r.ev;
	unsigned long long v = 0;
	int err;

	(void)p;
	e->ts_ns = (unsigned long long)r->boot_ns;
	err = cf_u64(c, "seq", F_REQ, ULLONG_MAX, &e->seq);
	if (!err)
		err = cf_endpoints(c, &e->family, e->laddr, &e->lport, e->raddr, &e->rport);
	if (!err && e->kind == TT_EV_STATE)
		err = cf_state(c, "old_state", &e->old_state);
	if (!err)
		err = cf_state(c, "state", &e->new_state);
	if (!err)
		err = cf_u32(c, "ctx_pid", F_REQ, &e->ctx_pid);
	if (!err)
		err = cf_u32(c, "recv_q", F_REQ, &e->recv_q);
	if (!err)
		err = cf_u32(c, "send_q", F_REQ, &e->send_q);
	if (!err)
		err = cf_sock(c, &v);
	e->sock_id = v;
	if (!err)
		err = cf_u32(c, "netns", F_REQ, &e->netns);
	if (!err)
		err = cf_kind(c, &e->flags);
	if (!err)
		err = event_owner(c, e);
	if (!err)
		err = event_times(c, e);
	if (!err && e->kind != TT_EV_STATE)
		err = cf_u32(c, "size", F_REQ, &e->extra);
	if (!err)
		err = parse_cgroup(c, r);
	e->cgroup_id = r->r.cg.id;
	return err;
}

/* ---- lost, skipped, clock, summary ---------------------------------------------- */

/* from_seq and to_seq: both (range), or neither (no range: from > to). */
static int seq_range(struct pctx *c, struct tt_lost *l, int flags)
{
	int no_from, no_to;   /* 1: absent */

	no_from = cf_u64(c, "from_seq", flags, ULLONG_MAX, &l->from_seq);
	if (no_from < 0)
		return no_from;
	no_to = cf_u64(c, "to_seq", flags, ULLONG_MAX, &l->to_seq);
	if (no_to < 0)
		return no_to;
	if (no_from != no_to)
		return cf_bad(c, no_from ? "from_seq" : "to_seq",
			      "is missing (from_seq and to_seq come together)");
	if (no_from) {
		l->from_seq = 1;     /* from > to: no range, as the writer encodes it */
		l->to_seq = 0;
	} else if (l->from_seq > l->to_seq) {
		return cf_bad(c, "from_seq", "is greater than \"to_seq\"");
	}
	return 0;
}

/* lost (a range when it has one) and skipped (always one) */
static int parse_lost(struct cr_parser *p, struct pctx *c, struct cr_record *r)
{
	struct tt_lost *l = &r->r.lost;
	int err;

	(void)p;
	l->boot_ns = r->boot_ns;
	err = cf_u64(c, "count", F_REQ, ULLONG_MAX, &l->count);
	if (!err)
		err = seq_range(c, l, r->r.type == TT_REC_SKIPPED ? F_REQ : F_OPT);
	if (!err)
		err = cf_word(c, "reason", F_REQ, LOWER_WORD, r->reason, sizeof(r->reason));
	if (err)
		return err;
	l->reason = r->reason;
	if (r->r.type == TT_REC_SKIPPED)
		return 0;
	/* a write loss also counts the rows and other records, and names the error */
	err = cf_u64(c, "snapshot", F_OPT, ULLONG_MAX, &l->snapshot);
	if (err >= 0)
		err = cf_u64(c, "other", F_OPT, ULLONG_MAX, &l->other);
	if (err >= 0)
		err = cf_word(c, "error", F_OPT, UPPER_WORD, r->error, sizeof(r->error));
	if (err < 0)
		return err;
	l->error = err ? NULL : r->error;
	return 0;
}

static int parse_clock(struct cr_parser *p, struct pctx *c, struct cr_record *r)
{
	(void)p;
	r->r.clock.boot_ns = r->boot_ns;
	return cf_ns(c, "real_ns", &r->r.clock.real_ns);
}

static int parse_summary(struct cr_parser *p, struct pctx *c, struct cr_record *r)
{
	struct tt_summary *s = &r->r.summary;
	struct { const char *k; unsigned long long *v; } f[] = {
		{ "snapshot", &s->snapshot }, { "seen", &s->seen }, { "written", &s->written },
		{ "lost", &s->lost }, { "lost_ring", &s->lost_ring },
		{ "lost_recursion", &s->lost_recursion }, { "lost_write", &s->lost_write },
		{ "filtered", &s->filtered },
	}, acc[] = {
		{ "skipped", &s->skipped }, { "summarized", &s->summarized },
		{ "snapshot_lost", &s->snapshot_lost },
	};
	int got = 0, err;

	(void)p;
	s->boot_ns = r->boot_ns;
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		err = cf_u64(c, f[i].k, F_REQ, ULLONG_MAX, f[i].v);
		if (err)
			return err;
	}
	err = cf_u64(c, "timer_hooks_missed", F_OPT, ULLONG_MAX, &s->timer_misses);
	if (err < 0)
		return err;
	/* the full accounting: absent from captures of earlier versions */
	for (size_t i = 0; i < sizeof(acc) / sizeof(acc[0]); i++) {
		err = cf_u64(c, acc[i].k, F_OPT, ULLONG_MAX, acc[i].v);
		if (err < 0)
			return err;
		got += !err;
	}
	if (got && got != 3)
		return cf_fail(c, "fields \"skipped\", \"summarized\" and \"snapshot_lost\" come together");
	s->has_accounting = got == 3;
	return 0;
}

/* ---- -s: stats, stats_final ------------------------------------------------------ */

/* {"pid":P or null,"comm":"c" or null,"NAME":N}, or by group (--stats-by
 * cgroup) {"group":"g" or null,"NAME":N} */
static int proc_count(struct pctx *c, const char *n, struct tt_proc_count *pc)
{
	struct json_object *o;
	int err;

	if (!cf_field(c, "group", F_OPT, &o)) {
		err = cf_str(c, "group", F_REQ | F_NULL, pc->group, sizeof(pc->group));
		if (err < 0)
			return err;
		pc->by_group = 1;
		pc->known = !err;
		err = cf_u64(c, n, F_REQ, ULLONG_MAX, &pc->n);
		return err < 0 ? err : 0;
	}
	err = cf_u32(c, "pid", F_REQ | F_NULL, &pc->pid);

	if (err < 0)
		return err;
	pc->known = !err;
	err = comm16(c, "comm", pc->comm);
	if (err >= 0)
		err = cf_u64(c, n, F_REQ, ULLONG_MAX, &pc->n);
	return err < 0 ? err : 0;
}

/* "states": {"ESTABLISHED":N,...}, every state a report counts */
static int stats_states(struct pctx *c, unsigned long long *states)
{
	static const unsigned order[] = STATS_STATES;
	struct pctx sub = *c;
	int err = cf_field(c, "states", F_REQ, &sub.obj);

	if (err)
		return err;
	if (!sub.obj || !json_object_is_type(sub.obj, json_type_object))
		return cf_bad(c, "states", "is not an object");
	sub.in = "states";
	for (size_t i = 0; i < STATS_NSTATES && !err; i++)
		err = cf_u64(&sub, netstat_state_name(order[i]), F_REQ, ULLONG_MAX, &states[order[i]]);
	return err;
}

static int stats_top(struct pctx *c, struct tt_stats *s)
{
	struct json_object *arr;
	size_t n = 0;
	int err = cf_array(c, "top", F_REQ, &arr, &n);

	if (err)
		return err;
	if (n > STATS_TOP)
		return cf_bad(c, "top", "has more than %d entries", STATS_TOP);
	for (size_t i = 0; i < n && !err; i++) {
		struct pctx sub;

		err = cf_element(c, arr, i, "top", &sub);
		if (!err)
			err = proc_count(&sub, "established", &s->top[i]);
	}
	s->ntop = (int)n;
	return err;
}

static int parse_stats(struct cr_parser *p, struct pctx *c, struct cr_record *r)
{
	struct tt_stats *s = &r->r.stats;
	int err;

	(void)p;
	s->boot_ns = r->boot_ns;
	err = cf_double(c, "interval_s", F_REQ, &s->interval_s);
	if (!err)
		err = stats_states(c, s->states);
	if (!err)
		err = cf_u64(c, "sockets", F_REQ, ULLONG_MAX, &s->sockets);
	if (!err)
		err = cf_u64(c, "new", F_REQ, ULLONG_MAX, &s->new_conns);
	if (!err)
		err = cf_u64(c, "closes", F_REQ, ULLONG_MAX, &s->closes);
	if (!err)
		err = cf_double(c, "new_per_s", F_REQ, &s->new_per_s);
	if (!err)
		err = cf_double(c, "closes_per_s", F_REQ, &s->closes_per_s);
	if (!err)
		err = stats_top(c, s);
	if (!err)
		err = cf_u64(c, "lost", F_OPT, ULLONG_MAX, &s->lost);
	return err < 0 ? err : 0;
}

static int final_trans(struct pctx *c, struct cr_record *r)
{
	struct json_object *arr;
	size_t n = 0;
	int err = cf_array(c, "transitions", F_REQ, &arr, &n);

	if (err)
		return err;
	if (n > sizeof(r->trans) / sizeof(r->trans[0]))
		return cf_bad(c, "transitions", "has more entries than there are transitions");
	for (size_t i = 0; i < n && !err; i++) {
		struct tt_trans_count *t = &r->trans[i];
		struct pctx sub;

		err = cf_element(c, arr, i, "transitions", &sub);
		if (!err)
			err = cf_state(&sub, "old", &t->old_state);
		if (!err)
			err = cf_state(&sub, "new", &t->new_state);
		if (!err)
			err = cf_u64(&sub, "count", F_REQ, ULLONG_MAX, &t->n);
	}
	r->r.final.trans = r->trans;
	r->r.final.ntrans = n;
	return err;
}

static int final_procs(struct cr_parser *p, struct pctx *c, struct tt_stats_final *f)
{
	struct json_object *arr;
	size_t n = 0;
	int err = cf_array(c, "by_process", F_REQ, &arr, &n);

	if (err)
		return err;
	if (n > p->procs_cap) {
		struct tt_proc_count *np = realloc(p->procs, n * sizeof(*np));

		if (!np)
			return cf_fail(c, "out of memory for %zu processes", n);
		p->procs = np;
		p->procs_cap = n;
	}
	for (size_t i = 0; i < n && !err; i++) {
		struct pctx sub;

		memset(&p->procs[i], 0, sizeof(p->procs[i]));
		err = cf_element(c, arr, i, "by_process", &sub);
		if (!err)
			err = proc_count(&sub, "transitions", &p->procs[i]);
	}
	f->procs = p->procs;
	f->nprocs = n;
	return err;
}

static int parse_stats_final(struct cr_parser *p, struct pctx *c, struct cr_record *r)
{
	struct tt_stats_final *f = &r->r.final;
	int err;

	f->boot_ns = r->boot_ns;
	err = cf_u64(c, "new", F_REQ, ULLONG_MAX, &f->new_conns);
	if (!err)
		err = cf_u64(c, "closes", F_REQ, ULLONG_MAX, &f->closes);
	if (!err)
		err = final_trans(c, r);
	if (!err)
		err = final_procs(p, c, f);
	if (!err)
		err = cf_u64(c, "lost", F_OPT, ULLONG_MAX, &f->lost);
	return err < 0 ? err : 0;
}

/* ---- a line ---------------------------------------------------------------------- */

typedef int (*parse_fn)(struct cr_parser *p, struct pctx *c, struct cr_record *r);

/* Every record type this version reads: its JSON "type", what it becomes. */
static const struct rtype {
	const char *name;
	enum tt_rec_type type;
	unsigned kind;           /* events: enum tt_event_kind */
	parse_fn parse;
} rtypes[] = {
	{ "meta", TT_REC_META, 0, parse_meta },
	{ "snapshot", TT_REC_SNAPSHOT, 0, parse_snapshot },
	{ "transition", TT_REC_EVENT, TT_EV_STATE, parse_event },
	{ "rcvq_full", TT_REC_EVENT, TT_EV_RCVQ_FULL, parse_event },
	{ "sndbuf_full", TT_REC_EVENT, TT_EV_SNDBUF, parse_event },
	{ "lost", TT_REC_LOST, 0, parse_lost },
	{ "skipped", TT_REC_SKIPPED, 0, parse_lost },
	{ "clock", TT_REC_CLOCK, 0, parse_clock },
	{ "stats", TT_REC_STATS, 0, parse_stats },
	{ "stats_final", TT_REC_STATS_FINAL, 0, parse_stats_final },
	{ "summary", TT_REC_SUMMARY, 0, parse_summary },
};

static const struct rtype *rtype_of(const char *name)
{
	for (size_t i = 0; i < sizeof(rtypes) / sizeof(rtypes[0]); i++)
		if (!strcmp(name, rtypes[i].name))
			return &rtypes[i];
	return NULL;
}

/* json-c clamps an integer beyond 64 bits to the nearest limit without a
 * word: refuse the line, naming the field when its key is a plain word. */
static int check_int_literals(struct pctx *c, const char *line, size_t len)
{
	const char *key;
	size_t klen;

	if (!cr_int_literals_fit(line, len, &key, &klen))
		return 0;
	if (!klen || klen > 31 || strspn(key, LOWER_WORD) < klen)
		return cf_fail(c, "an integer is out of range (more than 64 bits)");
	return cf_fail(c, "field \"%.*s\" is out of range (more than 64 bits)", (int)klen, key);
}

/* The line as one JSON object, or NULL with the reason in c. */
static struct json_object *parse_json(struct cr_parser *p, struct pctx *c, const char *line,
				      size_t len)
{
	struct json_object *root = NULL;
	enum json_tokener_error jerr;

	if (!len) {
		cf_fail(c, "empty line");
		return NULL;
	}
	if (len > CR_LINE_MAX) {
		cf_fail(c, "line longer than %d bytes", CR_LINE_MAX);
		return NULL;
	}
	if (memchr(line, '\0', len)) {
		cf_fail(c, "NUL byte in the line");
		return NULL;
	}
	json_tokener_reset(p->tok);
	root = json_tokener_parse_ex(p->tok, line, (int)len);
	jerr = json_tokener_get_error(p->tok);
	if (!root || jerr != json_tokener_success) {
		if (jerr == json_tokener_continue)
			cf_fail(c, "incomplete JSON (the record is cut short)");
		else
			cf_fail(c, "invalid JSON near byte %zu: %s",
				json_tokener_get_parse_end(p->tok) + 1, json_tokener_error_desc(jerr));
	} else if (json_tokener_get_parse_end(p->tok) != len) {
		cf_fail(c, "data after the JSON object at byte %zu",
			json_tokener_get_parse_end(p->tok) + 1);
	} else if (!json_object_is_type(root, json_type_object)) {
		cf_fail(c, "not a JSON object");
	} else {
		return root;
	}
	json_object_put(root);
	return NULL;
}

/* time and boot_ns, which every record has. */
static int common_fields(struct pctx *c, struct cr_record *rec)
{
	const char *time = NULL;
	size_t timelen = 0;
	int err = cf_raw_str(c, "time", F_REQ, &time, &timelen);

	if (!err && cr_parse_rfc3339(time, timelen, &rec->time_real_ns))
		err = cf_bad(c, "time", "is not a time like 2024-01-31T07:31:42.640324000Z");
	if (!err)
		err = cf_ns(c, "boot_ns", &rec->boot_ns);
	return err;
}

/* A type this version does not know: skipped, not an error, whatever its
 * fields (a newer version may lay them out differently). */
static void unknown(struct pctx *c, struct cr_record *rec, const char *type, size_t tlen)
{
	memset(rec, 0, sizeof(*rec));
	esc_text(rec->type_name, sizeof(rec->type_name), type, tlen);
	if (c->errsize)
		c->err[0] = '\0';
}

int cr_parse_line(struct cr_parser *p, const char *line, size_t len,
		  struct cr_record *rec, char *err, size_t errsize)
{
	struct pctx c = { .err = err, .errsize = errsize };
	const struct rtype *t;
	const char *type = NULL;
	size_t tlen = 0;
	int ret;

	memset(rec, 0, sizeof(*rec));
	if (errsize)
		err[0] = '\0';
	c.obj = parse_json(p, &c, line, len);
	if (!c.obj)
		return -EINVAL;
	ret = cf_raw_str(&c, "type", F_REQ, &type, &tlen);
	if (ret)
		goto cleanup;
	t = rtype_of(type);
	ret = common_fields(&c, rec);
	if (!t) {
		unknown(&c, rec, type, tlen);
		ret = 0;
		goto cleanup;
	}
	if (!ret)
		ret = check_int_literals(&c, line, len);
	if (ret)
		goto cleanup;
	rec->r.type = t->type;
	if (t->type == TT_REC_EVENT)
		rec->r.ev.kind = t->kind;   /* before its fields: they depend on it */
	ret = t->parse(p, &c, rec);
cleanup:
	json_object_put(c.obj);
	return ret;
}
