// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * -s/--stats (stats.h): the socket state model. Two socket tables
 * (socktab.h):
 *   socks: sock_id -> current state and owner, one entry per live socket;
 *   procs: pid -> transitions seen and ESTABLISHED sockets owned now.
 * Both are kept up to date per event, so a report costs a scan of the
 * (small) process table, not of every socket, and an event costs O(1).
 *
 * Definitions (also in the text header line and the README):
 *   new      transitions into ESTABLISHED. Both ends of a connection count:
 *            the client's SYN_SENT -> ESTABLISHED and the server's
 *            SYN_RECV -> ESTABLISHED, so a loopback connection counts 2.
 *            Chosen over "CLOSE -> SYN_SENT plus SYN_RECV -> ESTABLISHED"
 *            because it counts only handshakes that completed, and the same
 *            way on both sides, whichever of them this host is.
 *   closes   transitions into CLOSE except LISTEN -> CLOSE (a listener
 *            going away is not a connection). The end that closed first
 *            counts when its TIME_WAIT ends (TIME_WAIT -> CLOSE, 60 s later),
 *            since that is when the kernel lets go of it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "socktab.h"
#include "stats.h"

#define SOCKS_EXPECTED 512
#define PROCS_EXPECTED 32

struct sock_ent {
	__u32 pid;
	__u8 state;
	__u8 owner_known;
	char comm[TT_COMM_LEN];   /* NUL-terminated */
};

struct proc_ent {
	__u32 pid;
	unsigned long long transitions;
	unsigned long long established;   /* ESTABLISHED sockets owned now */
	char comm[TT_COMM_LEN];           /* the latest seen for this pid */
};

struct stats {
	struct socktab *socks;            /* key: sock_id */
	struct socktab *procs;            /* key: pid + 1 */
	/* sockets counted without an entry: snapshot rows with no id (the
	 * /proc fallback), or sockets the table had no room for */
	unsigned long long anon[TT_STATE_MAX];
	unsigned long long count[TT_STATE_MAX];   /* per state, exact */
	unsigned long long trans[TT_STATE_MAX][TT_STATE_MAX];
	unsigned long long unowned_transitions;
	unsigned long long iv_new, iv_closes, total_new, total_closes;
	unsigned long long lost;
	/* the process of the last lookup: under churn one process owns most
	 * events, and every event looks its owner up once or twice. Valid:
	 * the procs table only changes through proc_lookup(), and never
	 * deletes. */
	struct proc_ent *last_proc;
	int header_done;
	const struct stats_groups *groups;   /* --stats-by cgroup: "pid" is a group's index */
	/* what the last stats_final() record points to */
	struct tt_trans_count final_trans[TT_STATE_MAX * TT_STATE_MAX];
	struct tt_proc_count *final_procs;
};

/* Kernel state -> the state counted; 0 for a value with no meaning. */
static unsigned norm_state(unsigned st)
{
	if (st == TT_NEW_SYN_RECV)   /* a request socket: netstat says SYN_RECV */
		return TT_SYN_RECV;
	if (st < TT_ESTABLISHED || st >= TT_STATE_MAX)
		return 0;
	return st;
}

/* The entry of pid; created if need be (create) or NULL. */
static struct proc_ent *proc_lookup(struct stats *s, __u32 pid, int create)
{
	struct proc_ent *p = s->last_proc;
	int created;

	if (p && p->pid == pid)
		return p;
	p = create ? socktab_insert(s->procs, (uint64_t)pid + 1, &created) :
		     socktab_find(s->procs, (uint64_t)pid + 1);
	if (p) {
		p->pid = pid;
		s->last_proc = p;
	}
	return p;
}

/* The entry of pid, created if need be (comm updated when given); NULL when
 * the table cannot grow: the caller then counts the owner as unknown. */
static struct proc_ent *proc_get(struct stats *s, __u32 pid, const char *comm)
{
	struct proc_ent *p = proc_lookup(s, pid, 1);

	if (!p)
		return NULL;
	if (comm && comm[0])
		memcpy(p->comm, comm, TT_COMM_LEN);
	return p;
}

static void copy_comm(char dst[TT_COMM_LEN], const char *src, size_t max)
{
	size_t n = src ? strnlen(src, max) : 0;

	if (n > TT_COMM_LEN - 1)
		n = TT_COMM_LEN - 1;
	memset(dst, 0, TT_COMM_LEN);
	if (n)
		memcpy(dst, src, n);
}

/* A socket enters or leaves the counts (delta +1 or -1). */
static void account(struct stats *s, unsigned state, int owner_known, __u32 pid,
		    const char *comm, int delta)
{
	struct proc_ent *p;

	s->count[state] += (unsigned long long)(long long)delta;
	if (state != TT_ESTABLISHED || !owner_known)
		return;
	if (delta > 0) {
		p = proc_get(s, pid, comm);
		if (p)
			p->established++;
	} else {
		p = proc_lookup(s, pid, 0);
		if (p && p->established)
			p->established--;
	}
}

static void add_anon(struct stats *s, unsigned state, int owner_known, __u32 pid,
		     const char *comm)
{
	s->anon[state]++;
	account(s, state, owner_known, pid, comm, +1);
}

int stats_new(struct stats **out)
{
	struct stats *s = calloc(1, sizeof(*s));
	int err = -ENOMEM;

	*out = NULL;
	if (!s)
		return err;
	err = socktab_new(&s->socks, sizeof(struct sock_ent), SOCKS_EXPECTED);
	if (!err)
		err = socktab_new(&s->procs, sizeof(struct proc_ent), PROCS_EXPECTED);
	if (err) {
		stats_free(&s);
		return err;
	}
	*out = s;
	return 0;
}

void stats_free(struct stats **ps)
{
	struct stats *s = ps ? *ps : NULL;

	if (!s)
		return;
	socktab_free(&s->socks);
	socktab_free(&s->procs);
	free(s->final_procs);
	free(s);
	*ps = NULL;
}

static void sock_set(struct sock_ent *e, unsigned st, int owner_known, __u32 pid,
		     const char *comm)
{
	e->state = (__u8)st;
	e->owner_known = !!owner_known;
	e->pid = pid;
	memcpy(e->comm, comm, TT_COMM_LEN);
}

void stats_snapshot(struct stats *s, const struct tt_snaprec *r)
{
	unsigned st = (r->flags & TT_F_REQ) ? TT_SYN_RECV : norm_state(r->row.state);
	char comm[TT_COMM_LEN];
	struct sock_ent *e;
	int created;

	/* CLOSE rows are sockets on their way out: no event will remove them */
	if (!st || st == TT_CLOSE)
		return;
	copy_comm(comm, r->owner_known ? r->comm : NULL, TT_COMM_LEN);
	e = socktab_insert(s->socks, r->sock_id, &created);
	if (!e) {   /* no id (/proc), or no room */
		add_anon(s, st, r->owner_known, r->pid, comm);
		return;
	}
	if (!created)   /* the same socket twice: the later row wins */
		account(s, e->state, e->owner_known, e->pid, e->comm, -1);
	sock_set(e, st, r->owner_known, r->pid, comm);
	account(s, st, e->owner_known, e->pid, e->comm, +1);
}

/*
 * A socket not in the table whose old state is not CLOSE: it existed before
 * tracing but the snapshot gave it no id (or the table was full). If an
 * anonymous socket is counted in the old state, this is most likely it: it
 * leaves the anonymous count, so that it is not counted twice.
 */
static void claim_anon(struct stats *s, unsigned old, int owner_known, __u32 pid)
{
	if (old == TT_CLOSE || !s->anon[old])
		return;
	s->anon[old]--;
	account(s, old, owner_known, pid, NULL, -1);
}

/* The socket's entry moves from where it was counted (e's old state unless
 * events were lost: the counts stay a partition) to st; the owner fills in
 * from the table when the event names none.
 *
 * A socket that enters TIME_WAIT leaves the table and is counted without
 * an entry: its next event is its end (claim_anon() takes it back), which
 * needs no owner (the kernel side keeps it). Under churn TIME_WAIT sockets
 * are nearly all of the table (60 s of connections), and a table of them
 * costs a cache miss per event: --metrics added 112 ns to the 440 of a
 * record's output path with them, 37 without (bench/bench_outpath.c). */
static void move_known(struct stats *s, struct sock_ent *se, unsigned st, int *known,
		       __u32 *pid, char *comm)
{
	account(s, se->state, se->owner_known, se->pid, se->comm, -1);
	if (*known) {
		se->owner_known = 1;
		se->pid = *pid;
		memcpy(se->comm, comm, TT_COMM_LEN);
	} else if (se->owner_known) {
		/* the snapshot's owner, for the by-process table */
		*known = 1;
		*pid = se->pid;
		memcpy(comm, se->comm, TT_COMM_LEN);
	}
	if (st == TT_CLOSE || st == TT_TIME_WAIT) {
		socktab_delete(s->socks, se);
		if (st == TT_TIME_WAIT)
			add_anon(s, st, *known, *pid, comm);
		return;
	}
	se->state = (__u8)st;
	account(s, st, se->owner_known, se->pid, se->comm, +1);
}

/* A socket first seen now: placed in st (unless it ends here). */
static void place_new(struct stats *s, __u64 id, unsigned old, unsigned st, int known,
		      __u32 pid, const char *comm)
{
	struct sock_ent *se;
	int created;

	claim_anon(s, old, known, pid);
	if (st == TT_CLOSE)
		return;
	se = st == TT_TIME_WAIT ? NULL : socktab_insert(s->socks, id, &created);
	if (!se) {
		add_anon(s, st, known, pid, comm);
		return;
	}
	sock_set(se, st, known, pid, comm);
	account(s, st, known, pid, comm, +1);
}

void stats_event(struct stats *s, const struct tt_event *e)
{
	unsigned old = norm_state(e->old_state), st = norm_state(e->new_state);
	int known = !!(e->flags & TT_F_OWNER);
	__u32 pid = e->pid;
	char comm[TT_COMM_LEN];
	struct sock_ent *se;
	struct proc_ent *p = NULL;

	if (e->kind != TT_EV_STATE || !old || !st)
		return;
	/* an event's comm is a whole array: copied as one block, cut at 15 */
	if (known)
		memcpy(comm, e->comm, TT_COMM_LEN);
	else
		memset(comm, 0, TT_COMM_LEN);
	comm[TT_COMM_LEN - 1] = '\0';
	s->trans[old][st]++;
	if (st == TT_ESTABLISHED) {
		s->iv_new++;
		s->total_new++;
	}
	if (st == TT_CLOSE && old != TT_LISTEN) {
		s->iv_closes++;
		s->total_closes++;
	}
	se = socktab_find(s->socks, e->sock_id);
	if (se)
		move_known(s, se, st, &known, &pid, comm);
	else
		place_new(s, e->sock_id, old, st, known, pid, comm);
	if (known)
		p = proc_get(s, pid, comm);
	if (p)
		p->transitions++;
	else
		s->unowned_transitions++;
}

void stats_prefetch(const struct stats *s, __u64 sock_id)
{
	socktab_prefetch(s->socks, sock_id);
}

void stats_lost(struct stats *s, unsigned long long count)
{
	s->lost += count;
}

unsigned long long stats_state_count(const struct stats *s, unsigned state)
{
	if (state >= TT_STATE_MAX)
		return 0;
	return s->count[state];
}

unsigned long long stats_transition_count(const struct stats *s, unsigned old_state,
					  unsigned new_state)
{
	if (old_state >= TT_STATE_MAX || new_state >= TT_STATE_MAX)
		return 0;
	return s->trans[old_state][new_state];
}

void stats_each_owner(const struct stats *s, stats_owner_fn fn, void *ctx)
{
	const struct proc_ent *p;
	size_t pos = 0;
	uint64_t key;

	while ((p = socktab_next(s->procs, &pos, &key)))
		if (p->established)
			fn(ctx, p->comm, p->established);
}

/* ---- records ----------------------------------------------------------- */

static const char *group_name(const struct stats_groups *g, __u32 idx);

static void proc_count(const struct stats *s, struct tt_proc_count *pc, const struct proc_ent *p,
		       unsigned long long n)
{
	memset(pc, 0, sizeof(*pc));
	pc->known = 1;
	pc->pid = p->pid;
	memcpy(pc->comm, p->comm, TT_COMM_LEN);
	pc->n = n;
	if (s->groups) {
		pc->by_group = 1;
		snprintf(pc->group, sizeof(pc->group), "%s", group_name(s->groups, p->pid));
	}
}

/* The STATS_TOP processes owning the most ESTABLISHED sockets, most first,
 * ties by pid; returns how many. */
static int top_procs(const struct stats *s, const struct proc_ent **top)
{
	const struct proc_ent *p;
	size_t pos = 0;
	uint64_t key;
	int n = 0;

	while ((p = socktab_next(s->procs, &pos, &key))) {
		int j;

		if (!p->established)
			continue;
		for (j = n; j > 0; j--) {
			const struct proc_ent *q = top[j - 1];

			if (q->established > p->established ||
			    (q->established == p->established && q->pid < p->pid))
				break;
			if (j < STATS_TOP)
				top[j] = q;
		}
		if (j < STATS_TOP) {
			top[j] = p;
			if (n < STATS_TOP)
				n++;
		}
	}
	return n;
}

void stats_report(struct stats *s, double elapsed_s, long long boot_ns, struct tt_record *r)
{
	static const unsigned order[] = STATS_STATES;
	const struct proc_ent *top[STATS_TOP];
	struct tt_stats *st = &r->stats;

	memset(r, 0, sizeof(*r));
	r->type = TT_REC_STATS;
	st->boot_ns = boot_ns;
	st->interval_s = elapsed_s;
	memcpy(st->states, s->count, sizeof(st->states));
	for (size_t i = 0; i < STATS_NSTATES; i++)
		st->sockets += s->count[order[i]];
	st->new_conns = s->iv_new;
	st->closes = s->iv_closes;
	st->new_per_s = elapsed_s > 0 ? s->iv_new / elapsed_s : 0;
	st->closes_per_s = elapsed_s > 0 ? s->iv_closes / elapsed_s : 0;
	st->ntop = top_procs(s, top);
	for (int i = 0; i < st->ntop; i++)
		proc_count(s, &st->top[i], top[i], top[i]->established);
	st->lost = s->lost;
	st->header = !s->header_done;
	s->header_done = 1;
}

void stats_interval_end(struct stats *s)
{
	s->iv_new = 0;
	s->iv_closes = 0;
}

static int cmp_trans(const void *a, const void *b)
{
	const struct tt_trans_count *x = a, *y = b;

	if (x->n != y->n)
		return x->n < y->n ? 1 : -1;
	if (x->old_state != y->old_state)
		return x->old_state < y->old_state ? -1 : 1;
	return x->new_state < y->new_state ? -1 : x->new_state > y->new_state;
}

static int cmp_proc(const void *a, const void *b)
{
	const struct tt_proc_count *x = a, *y = b;

	if (x->n != y->n)
		return x->n < y->n ? 1 : -1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* Every process with transitions, most first; then the unknown owner. */
static int final_procs(struct stats *s, size_t *n)
{
	const struct proc_ent *p;
	size_t pos = 0, k = 0;
	uint64_t key;

	free(s->final_procs);
	s->final_procs = malloc((socktab_count(s->procs) + 1) * sizeof(*s->final_procs));
	if (!s->final_procs)
		return -ENOMEM;
	while ((p = socktab_next(s->procs, &pos, &key)))
		if (p->transitions)
			proc_count(s, &s->final_procs[k++], p, p->transitions);
	qsort(s->final_procs, k, sizeof(*s->final_procs), cmp_proc);
	if (s->unowned_transitions) {
		memset(&s->final_procs[k], 0, sizeof(s->final_procs[k]));
		s->final_procs[k].by_group = s->groups != NULL;
		s->final_procs[k++].n = s->unowned_transitions;
	}
	*n = k;
	return 0;
}

int stats_final(struct stats *s, long long boot_ns, struct tt_record *r)
{
	struct tt_stats_final *f = &r->final;
	size_t nrows = 0;
	int err;

	memset(r, 0, sizeof(*r));
	r->type = TT_REC_STATS_FINAL;
	for (unsigned o = 0; o < TT_STATE_MAX; o++)
		for (unsigned n = 0; n < TT_STATE_MAX; n++)
			if (s->trans[o][n])
				s->final_trans[nrows++] = (struct tt_trans_count){ o, n, s->trans[o][n] };
	qsort(s->final_trans, nrows, sizeof(s->final_trans[0]), cmp_trans);
	err = final_procs(s, &f->nprocs);
	if (err)
		return err;
	f->boot_ns = boot_ns;
	f->new_conns = s->total_new;
	f->closes = s->total_closes;
	f->lost = s->lost;
	f->trans = s->final_trans;
	f->ntrans = nrows;
	f->procs = s->final_procs;
	return 0;
}

/* ---- --stats-by cgroup ---------------------------------------------------- */

struct stats_groups {
	struct socktab *ids;            /* cgroup id -> __u32 index into names */
	char (*names)[TT_GROUP_LEN];
	size_t n, cap;
};

int stats_groups_new(struct stats_groups **out, struct stats *s)
{
	struct stats_groups *g = calloc(1, sizeof(*g));

	*out = NULL;
	if (!g || socktab_new(&g->ids, sizeof(__u32), PROCS_EXPECTED)) {
		free(g);
		return -ENOMEM;
	}
	s->groups = g;
	*out = g;
	return 0;
}

void stats_groups_free(struct stats_groups **pg)
{
	struct stats_groups *g = pg ? *pg : NULL;

	if (!g)
		return;
	socktab_free(&g->ids);
	free(g->names);
	free(g);
	*pg = NULL;
}

static const char *group_name(const struct stats_groups *g, __u32 idx)
{
	return idx < g->n ? g->names[idx] : "";
}

/* The index of cg's group, made at its first socket; -1: not known. */
static long group_index(struct stats_groups *g, const struct tt_cgref *cg)
{
	int created;
	__u32 *idx;

	if (!cg->id)
		return -1;
	idx = socktab_insert(g->ids, cg->id, &created);
	if (!idx)
		return -1;
	if (!created)
		return *idx;
	if (g->n == g->cap) {
		size_t nc = g->cap ? g->cap * 2 : 64;
		void *nn = realloc(g->names, nc * sizeof(*g->names));

		if (!nn) {
			socktab_delete(g->ids, idx);
			return -1;
		}
		g->names = nn;
		g->cap = nc;
	}
	/* the path when it names no container or unit, the id when gone */
	if (cg->container || cg->path)
		snprintf(g->names[g->n], TT_GROUP_LEN, "%s", cg->container ? cg->container : cg->path);
	else
		snprintf(g->names[g->n], TT_GROUP_LEN, "cgroup %llu", cg->id);
	*idx = (__u32)g->n;
	return (long)g->n++;
}

void stats_group_event(struct stats_groups *g, struct tt_event *e, const struct tt_cgref *cg)
{
	long idx = group_index(g, cg);

	e->flags &= ~TT_F_OWNER;
	memset(e->comm, 0, sizeof(e->comm));
	if (idx < 0)
		return;
	e->flags |= TT_F_OWNER;
	e->pid = (__u32)idx;
	copy_comm(e->comm, g->names[idx], TT_GROUP_LEN);
}

void stats_group_snapshot(struct stats_groups *g, struct tt_snaprec *r, const struct tt_cgref *cg)
{
	long idx = group_index(g, cg);

	r->owner_known = idx >= 0;
	r->pid = idx < 0 ? 0 : (unsigned)idx;
	r->comm = idx < 0 ? NULL : g->names[idx];
}
