// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The socket gauges (sockgauge.h). Three tables (socktab.h):
 *   est:    sock id -> whom an ESTABLISHED socket is counted for;
 *   procs:  pid + 1 -> ESTABLISHED sockets owned, latest comm;
 *   groups: cgroup id -> ESTABLISHED sockets, container or unit name.
 * plus, while the snapshot is read, snap_ids: sock id -> the state its
 * row was counted in, so that a socket read twice counts once.
 *
 * Entries with no socket left are not deleted one by one (under churn a
 * process's count goes 1, 0, 1, ...): a table with many is rebuilt at the
 * next sg_each_*() call.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "socktab.h"
#include "sockgauge.h"

#define EST_EXPECTED 16
#define SNAP_EXPECTED 4096
#define REBUILD_AT 256   /* empty entries */

struct est_ent {
	__u32 pid;
	__u32 owner_known;
	__u64 cgroup_id;   /* 0: not counted per container */
};

struct proc_ent {
	long long n;
	char comm[TT_COMM_LEN];   /* NUL-terminated */
};

struct group_ent {
	long long n;
	char name[SG_NAME_MAX];   /* NUL-terminated */
};

struct sockgauge {
	struct sg_hot hot;         /* first: sg_event() reads it inline */
	struct socktab *est, *procs, *groups, *snap_ids;
	long long snap[TT_STATE_MAX];
	long long last_ns;         /* the latest event looked at */
	/* the last process counted: one process owns most events of a churn.
	 * Valid until the next insert into procs (a rebuild clears it). */
	struct proc_ent *last_proc;
	__u32 last_pid;
};

int sg_new(struct sockgauge **out, int partial)
{
	struct sockgauge *g = calloc(1, sizeof(*g));
	int err = -ENOMEM;

	*out = NULL;
	if (!g)
		return err;
	g->hot.check_until = partial ? LLONG_MAX : 0;
	err = socktab_new(&g->est, sizeof(struct est_ent), EST_EXPECTED);
	if (!err)
		err = socktab_new(&g->procs, sizeof(struct proc_ent), 32);
	if (!err)
		err = socktab_new(&g->groups, sizeof(struct group_ent), 32);
	if (!err)
		err = socktab_new(&g->snap_ids, 1, SNAP_EXPECTED);
	if (err) {
		sg_free(&g);
		return err;
	}
	*out = g;
	return 0;
}

void sg_free(struct sockgauge **pg)
{
	struct sockgauge *g = pg ? *pg : NULL;

	if (!g)
		return;
	socktab_free(&g->est);
	socktab_free(&g->procs);
	socktab_free(&g->groups);
	socktab_free(&g->snap_ids);
	free(g);
	*pg = NULL;
}

/* ---- whom an ESTABLISHED socket is counted for ---------------------------- */

static struct proc_ent *proc_of(struct sockgauge *g, __u32 pid, int create)
{
	struct proc_ent *p;
	int created;

	if (g->last_proc && g->last_pid == pid)
		return g->last_proc;
	p = create ? socktab_insert(g->procs, (uint64_t)pid + 1, &created) :
		     socktab_find(g->procs, (uint64_t)pid + 1);
	if (p) {
		g->last_proc = p;
		g->last_pid = pid;
	}
	return p;
}

static void count_owner(struct sockgauge *g, const struct est_ent *e, const char *comm, int delta)
{
	struct proc_ent *p;
	struct group_ent *gr;
	int created;

	if (e->owner_known) {
		p = proc_of(g, e->pid, delta > 0);
		if (p && delta > 0) {
			p->n++;
			if (comm && comm[0]) {
				memcpy(p->comm, comm, TT_COMM_LEN);
				p->comm[TT_COMM_LEN - 1] = '\0';
			}
		} else if (p && p->n) {
			p->n--;
		}
	}
	if (!e->cgroup_id)
		return;
	gr = delta > 0 ? socktab_insert(g->groups, e->cgroup_id, &created) :
			 socktab_find(g->groups, e->cgroup_id);
	if (gr && delta > 0)
		gr->n++;
	else if (gr && gr->n)
		gr->n--;
}

static void set_group_name(struct sockgauge *g, __u64 id, const struct tt_cgref *cg)
{
	struct group_ent *gr = socktab_find(g->groups, id);

	if (gr && !gr->name[0]) {
		strncpy(gr->name, cg->container, SG_NAME_MAX - 1);
		gr->name[SG_NAME_MAX - 1] = '\0';
	}
}

/* A socket enters ESTABLISHED, counted for the owner the record names. */
static void est_enter(struct sockgauge *g, __u64 id, int known, __u32 pid, const char *comm,
		      const struct tt_cgref *cg)
{
	struct est_ent *e;
	int created;

	e = socktab_insert(g->est, id, &created);
	if (!e)
		return;   /* no memory: not counted per owner */
	if (!created)
		count_owner(g, e, NULL, -1);
	e->owner_known = !!known;
	e->pid = pid;
	/* only a socket whose cgroup names a container or unit is counted */
	e->cgroup_id = cg && cg->id && cg->container ? cg->id : 0;
	count_owner(g, e, comm, +1);
	if (e->cgroup_id)
		set_group_name(g, e->cgroup_id, cg);
}

static void est_leave(struct sockgauge *g, struct est_ent *e)
{
	count_owner(g, e, NULL, -1);
	socktab_delete(g->est, e);
}

void sg_event_table(struct sockgauge *g, const struct tt_event *ev, unsigned old, unsigned st,
		    const struct tt_cgref *cg)
{
	struct est_ent *e;

	g->last_ns = (long long)ev->ts_ns;
	if (g->snap_ids)   /* the snapshot is over */
		socktab_free(&g->snap_ids);
	if (old == TT_ESTABLISHED || g->last_ns < g->hot.check_until) {
		e = socktab_find(g->est, ev->sock_id);
		/* leaving, or (a missed exit) seen in another state */
		if (e && !(old == TT_ESTABLISHED && st == TT_ESTABLISHED))
			est_leave(g, e);
	}
	if (st == TT_ESTABLISHED && old != TT_ESTABLISHED)
		est_enter(g, ev->sock_id, ev->flags & TT_F_OWNER, ev->pid, ev->comm, cg);
}

void sg_lost(struct sockgauge *g, long long now_ns)
{
	long long t = (now_ns > g->last_ns ? now_ns : g->last_ns) + SG_CHECK_NS;

	if (t > g->hot.check_until)   /* LLONG_MAX (partial) stays */
		g->hot.check_until = t;
}

void sg_snapshot(struct sockgauge *g, const struct tt_snaprec *r, const struct tt_cgref *cg)
{
	unsigned st = (r->flags & TT_F_REQ) ? TT_SYN_RECV : sg_norm_state(r->row.state);
	char comm[TT_COMM_LEN] = { 0 };
	unsigned char *seen;
	int created = 0;

	/* CLOSE rows are sockets on their way out: no event will remove them */
	if (!st || st == TT_CLOSE)
		return;
	seen = socktab_insert(g->snap_ids, r->sock_id, &created);
	if (seen && !created) {   /* the same socket twice: the later row wins */
		g->snap[*seen]--;
		if (*seen == TT_ESTABLISHED) {
			struct est_ent *e = socktab_find(g->est, r->sock_id);

			if (e)
				est_leave(g, e);
		}
	}
	if (seen)
		*seen = (unsigned char)st;
	g->snap[st]++;
	if (st != TT_ESTABLISHED || !r->sock_id)
		return;
	if (r->owner_known && r->comm)   /* raw bytes, cut at 15 as an event's */
		strncpy(comm, r->comm, TT_COMM_LEN - 1);
	est_enter(g, r->sock_id, r->owner_known, r->pid, comm, cg);
}

void sg_states(const struct sockgauge *g,
	       const unsigned long long trans[TT_STATE_MAX][TT_STATE_MAX],
	       const unsigned long long lost[TT_STATE_MAX][TT_STATE_MAX],
	       unsigned long long out[TT_STATE_MAX])
{
	for (unsigned s = 0; s < TT_STATE_MAX; s++) {
		long long n = g->snap[s];

		for (unsigned o = 1; o < TT_STATE_MAX; o++) {
			if (o == s)   /* a change within a state (TIME_WAIT's) */
				continue;
			n += (long long)trans[o][s] - (long long)trans[s][o];
			if (lost)
				n += (long long)lost[o][s] - (long long)lost[s][o];
		}
		out[s] = s && n > 0 ? (unsigned long long)n : 0;
	}
}

/* ---- the gauges by name --------------------------------------------------- */

/* A table of counts whose empty entries are many: rebuilt without them. */
static void compact(struct socktab **pt, size_t value_size)
{
	struct socktab *t = *pt, *nt = NULL;
	size_t pos = 0, empty = 0;
	uint64_t key;
	long long *v;
	int created;

	while ((v = socktab_next(t, &pos, &key)))
		empty += *v == 0;
	if (empty < REBUILD_AT || socktab_new(&nt, value_size, socktab_count(t) - empty))
		return;
	pos = 0;
	while ((v = socktab_next(t, &pos, &key))) {
		void *dst;

		if (!*v)
			continue;
		dst = socktab_insert(nt, key, &created);
		if (!dst) {
			socktab_free(&nt);
			return;
		}
		memcpy(dst, v, value_size);
	}
	socktab_free(pt);
	*pt = nt;
}

void sg_each_owner(struct sockgauge *g, sg_each_fn fn, void *ctx)
{
	const struct proc_ent *p;
	size_t pos = 0;
	uint64_t key;

	compact(&g->procs, sizeof(struct proc_ent));
	g->last_proc = NULL;
	while ((p = socktab_next(g->procs, &pos, &key)))
		if (p->n > 0)
			fn(ctx, p->comm, (unsigned long long)p->n);
}

void sg_each_container(struct sockgauge *g, sg_each_fn fn, void *ctx)
{
	const struct group_ent *gr;
	size_t pos = 0;
	uint64_t key;

	compact(&g->groups, sizeof(struct group_ent));
	while ((gr = socktab_next(g->groups, &pos, &key)))
		if (gr->n > 0 && gr->name[0])
			fn(ctx, gr->name, (unsigned long long)gr->n);
}
