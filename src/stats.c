// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * -s/--stats (stats.h). Two open-addressing hash tables:
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

#include "clock.h"
#include "netstat_fmt.h"
#include "stats.h"

#define SOCKS_MIN 1024
#define PROCS_MIN 64

struct sock_ent {
	__u64 id;                 /* 0: free slot (ids are never 0) */
	__u32 pid;
	__u8 state;
	__u8 owner_known;
	char comm[TT_COMM_LEN];   /* NUL-terminated */
};

struct proc_ent {
	__u32 pid;
	__u32 used;
	unsigned long long transitions;
	unsigned long long established;   /* ESTABLISHED sockets owned now */
	char comm[TT_COMM_LEN];           /* the latest seen for this pid */
};

struct stats {
	struct sock_ent *socks;
	size_t socks_cap, socks_n;        /* cap: a power of two */
	struct proc_ent *procs;
	size_t procs_cap, procs_n;
	/* sockets counted without an entry: snapshot rows with no id (the
	 * /proc fallback), or sockets the table had no room for */
	unsigned long long anon[TT_STATE_MAX];
	unsigned long long count[TT_STATE_MAX];   /* per state, exact */
	unsigned long long trans[TT_STATE_MAX][TT_STATE_MAX];
	unsigned long long unowned_transitions;
	unsigned long long iv_new, iv_closes, total_new, total_closes;
	unsigned long long lost;
	int header_done;
};

/* Report order: the kernel's numbering, without CLOSE (a socket that
 * reaches CLOSE is gone, so its count is always 0). */
static const unsigned report_states[] = {
	TT_ESTABLISHED, TT_SYN_SENT, TT_SYN_RECV, TT_FIN_WAIT1, TT_FIN_WAIT2,
	TT_TIME_WAIT, TT_CLOSE_WAIT, TT_LAST_ACK, TT_LISTEN, TT_CLOSING,
};
#define N_REPORT_STATES (sizeof(report_states) / sizeof(report_states[0]))

static __u64 mix64(__u64 x)
{
	/* splitmix64's finalizer: cookies count up from 1, request ids from
	 * 1 << 63; both need spreading over the low bits */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* Kernel state -> the state counted; 0 for a value with no meaning. */
static unsigned norm_state(unsigned st)
{
	if (st == TT_NEW_SYN_RECV)   /* a request socket: netstat says SYN_RECV */
		return TT_SYN_RECV;
	if (st < TT_ESTABLISHED || st >= TT_STATE_MAX)
		return 0;
	return st;
}

/* ---- sockets ----------------------------------------------------------- */

static struct sock_ent *sock_find(const struct stats *s, __u64 id)
{
	size_t mask = s->socks_cap - 1, i = mix64(id) & mask;

	while (s->socks[i].id) {
		if (s->socks[i].id == id)
			return &s->socks[i];
		i = (i + 1) & mask;
	}
	return NULL;
}

static struct sock_ent *sock_slot(struct sock_ent *tab, size_t cap, __u64 id)
{
	size_t mask = cap - 1, i = mix64(id) & mask;

	while (tab[i].id && tab[i].id != id)
		i = (i + 1) & mask;
	return &tab[i];
}

static int socks_grow(struct stats *s)
{
	size_t cap = s->socks_cap * 2;
	struct sock_ent *tab = calloc(cap, sizeof(*tab));

	if (!tab)
		return -ENOMEM;
	for (size_t i = 0; i < s->socks_cap; i++)
		if (s->socks[i].id)
			*sock_slot(tab, cap, s->socks[i].id) = s->socks[i];
	free(s->socks);
	s->socks = tab;
	s->socks_cap = cap;
	return 0;
}

/* A new entry for id (not present), or NULL when the table cannot grow. */
static struct sock_ent *sock_insert(struct stats *s, __u64 id)
{
	struct sock_ent *e;

	/* load at most 0.7: linear probing degrades fast above that */
	if ((s->socks_n + 1) * 10 > s->socks_cap * 7 && socks_grow(s))
		return NULL;
	e = sock_slot(s->socks, s->socks_cap, id);
	memset(e, 0, sizeof(*e));
	e->id = id;
	s->socks_n++;
	return e;
}

/* Backward-shift deletion: no tombstones, so lookups never slow down with
 * the churn of short connections. */
static void sock_delete(struct stats *s, struct sock_ent *e)
{
	size_t mask = s->socks_cap - 1, i = (size_t)(e - s->socks), j = i, k;

	for (;;) {
		j = (j + 1) & mask;
		if (!s->socks[j].id)
			break;
		k = mix64(s->socks[j].id) & mask;
		/* the entry at j may fill the hole at i unless its home slot k
		 * lies cyclically in (i, j] */
		if (i <= j ? (k > i && k <= j) : (k > i || k <= j))
			continue;
		s->socks[i] = s->socks[j];
		i = j;
	}
	s->socks[i].id = 0;
	s->socks_n--;
}

/* ---- processes --------------------------------------------------------- */

static struct proc_ent *proc_slot(struct proc_ent *tab, size_t cap, __u32 pid)
{
	size_t mask = cap - 1, i = mix64(pid) & mask;

	while (tab[i].used && tab[i].pid != pid)
		i = (i + 1) & mask;
	return &tab[i];
}

static int procs_grow(struct stats *s)
{
	size_t cap = s->procs_cap * 2;
	struct proc_ent *tab = calloc(cap, sizeof(*tab));

	if (!tab)
		return -ENOMEM;
	for (size_t i = 0; i < s->procs_cap; i++)
		if (s->procs[i].used)
			*proc_slot(tab, cap, s->procs[i].pid) = s->procs[i];
	free(s->procs);
	s->procs = tab;
	s->procs_cap = cap;
	return 0;
}

/* The entry of pid, created if need be (comm updated when given); NULL when
 * the table cannot grow: the caller then counts the owner as unknown. */
static struct proc_ent *proc_get(struct stats *s, __u32 pid, const char *comm)
{
	struct proc_ent *p = proc_slot(s->procs, s->procs_cap, pid);

	if (!p->used) {
		if ((s->procs_n + 1) * 10 > s->procs_cap * 7) {
			if (procs_grow(s))
				return NULL;
			p = proc_slot(s->procs, s->procs_cap, pid);
		}
		p->used = 1;
		p->pid = pid;
		s->procs_n++;
	}
	if (comm && comm[0])
		memcpy(p->comm, comm, TT_COMM_LEN);
	return p;
}

static struct proc_ent *proc_find(const struct stats *s, __u32 pid)
{
	struct proc_ent *p = proc_slot(s->procs, s->procs_cap, pid);

	return p->used ? p : NULL;
}

/* ---- counting ---------------------------------------------------------- */

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
		p = proc_find(s, pid);
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
		return -ENOMEM;
	s->socks_cap = SOCKS_MIN;
	s->socks = calloc(s->socks_cap, sizeof(*s->socks));
	s->procs_cap = PROCS_MIN;
	s->procs = calloc(s->procs_cap, sizeof(*s->procs));
	if (!s->socks || !s->procs)
		goto cleanup;
	*out = s;
	return 0;
cleanup:
	free(s->socks);
	free(s->procs);
	free(s);
	return err;
}

void stats_free(struct stats **ps)
{
	struct stats *s = ps ? *ps : NULL;

	if (!s)
		return;
	free(s->socks);
	free(s->procs);
	free(s);
	*ps = NULL;
}

void stats_snapshot(struct stats *s, const struct tt_snaprec *r)
{
	unsigned st = (r->flags & TT_F_REQ) ? TT_SYN_RECV : norm_state(r->row.state);
	char comm[TT_COMM_LEN];
	struct sock_ent *e;

	/* CLOSE rows are sockets on their way out: no event will remove them */
	if (!st || st == TT_CLOSE)
		return;
	copy_comm(comm, r->owner_known ? r->comm : NULL, TT_COMM_LEN);
	if (!r->sock_id) {
		add_anon(s, st, r->owner_known, r->pid, comm);
		return;
	}
	e = sock_find(s, r->sock_id);
	if (e)   /* the same socket twice: the later row wins */
		account(s, e->state, e->owner_known, e->pid, e->comm, -1);
	else
		e = sock_insert(s, r->sock_id);
	if (!e) {
		add_anon(s, st, r->owner_known, r->pid, comm);
		return;
	}
	e->state = (__u8)st;
	e->owner_known = !!r->owner_known;
	e->pid = r->pid;
	memcpy(e->comm, comm, TT_COMM_LEN);
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

void stats_event(struct stats *s, const struct tt_event *e)
{
	unsigned old = norm_state(e->old_state), st = norm_state(e->new_state);
	int known = !!(e->flags & TT_F_OWNER);
	__u32 pid = e->pid;
	char comm[TT_COMM_LEN];
	struct sock_ent *se = NULL;
	struct proc_ent *p = NULL;

	if (e->kind != TT_EV_STATE || !old || !st)
		return;
	copy_comm(comm, known ? e->comm : NULL, TT_COMM_LEN);
	s->trans[old][st]++;
	if (st == TT_ESTABLISHED) {
		s->iv_new++;
		s->total_new++;
	}
	if (st == TT_CLOSE && old != TT_LISTEN) {
		s->iv_closes++;
		s->total_closes++;
	}
	if (e->sock_id)
		se = sock_find(s, e->sock_id);
	if (se) {
		/* move it from where it was counted, which is e->old_state
		 * unless events were lost: the counts stay a partition */
		account(s, se->state, se->owner_known, se->pid, se->comm, -1);
		if (known) {
			se->owner_known = 1;
			se->pid = pid;
			memcpy(se->comm, comm, TT_COMM_LEN);
		} else if (se->owner_known) {
			/* the snapshot's owner, for the by-process table */
			known = 1;
			pid = se->pid;
			memcpy(comm, se->comm, TT_COMM_LEN);
		}
		if (st == TT_CLOSE) {
			sock_delete(s, se);
		} else {
			se->state = (__u8)st;
			account(s, st, se->owner_known, se->pid, se->comm, +1);
		}
	} else {
		claim_anon(s, old, known, pid);
		if (st != TT_CLOSE) {
			if (e->sock_id)
				se = sock_insert(s, e->sock_id);
			if (se) {
				se->state = (__u8)st;
				se->owner_known = (__u8)known;
				se->pid = pid;
				memcpy(se->comm, comm, TT_COMM_LEN);
				account(s, st, known, pid, comm, +1);
			} else {
				add_anon(s, st, known, pid, comm);
			}
		}
	}
	if (known)
		p = proc_get(s, pid, comm);
	if (p)
		p->transitions++;
	else
		s->unowned_transitions++;
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

/* ---- output ------------------------------------------------------------ */

static void ob_double(struct outbuf *ob, double v, int decimals)
{
	char buf[64];

	/* a rate is never negative, infinite or NaN: JSON has no such numbers */
	if (!(v >= 0 && v < 1e15))
		v = 0;
	snprintf(buf, sizeof(buf), "%.*f", decimals, v);
	ob_puts(ob, buf);
}

static void json_key(struct outbuf *ob, const char *k)
{
	ob_puts(ob, ",\"");
	ob_puts(ob, k);
	ob_puts(ob, "\":");
}

static void json_begin(struct outbuf *ob, const char *type, long long boot_ns,
		       const struct fmt_opts *fo)
{
	char t[40];

	ob_puts(ob, "{\"type\":\"");
	ob_puts(ob, type);
	ob_putc(ob, '"');
	clock_fmt_rfc3339(fo->clock, clock_real_of(fo->clock, boot_ns), t, sizeof(t));
	json_key(ob, "time");
	ob_putc(ob, '"');
	ob_puts(ob, t);
	ob_putc(ob, '"');
	json_key(ob, "boot_ns");
	ob_u64(ob, (unsigned long long)boot_ns);
}

static void json_owner(struct outbuf *ob, const struct proc_ent *p)
{
	ob_puts(ob, "{\"pid\":");
	if (!p) {
		ob_puts(ob, "null,\"comm\":null");
		return;
	}
	ob_u64(ob, p->pid);
	ob_puts(ob, ",\"comm\":");
	if (p->comm[0])
		ob_json_str(ob, p->comm, strnlen(p->comm, TT_COMM_LEN));
	else
		ob_puts(ob, "null");
}

static void text_owner(struct outbuf *ob, const struct proc_ent *p)
{
	if (!p) {
		ob_putc(ob, '-');
		return;
	}
	ob_u64(ob, p->pid);
	ob_putc(ob, '/');
	if (p->comm[0])
		ob_text_esc(ob, p->comm, strnlen(p->comm, TT_COMM_LEN));
	else
		ob_putc(ob, '-');
}

/* The STATS_TOP processes owning the most ESTABLISHED sockets, most first,
 * ties by pid; returns how many. */
static int top_procs(const struct stats *s, const struct proc_ent **top)
{
	int n = 0;

	for (size_t i = 0; i < s->procs_cap; i++) {
		const struct proc_ent *p = &s->procs[i];
		int j;

		if (!p->used || !p->established)
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

static void report_text(struct stats *s, struct outbuf *ob, double elapsed_s,
			const struct fmt_opts *fo, long long now)
{
	const struct proc_ent *top[STATS_TOP];
	int n = top_procs(s, top);
	char t[32];

	if (!s->header_done) {
		ob_puts(ob, "# stats: sockets per state now | new/s: transitions into ESTABLISHED "
			"(both ends of a connection count) | closes/s: transitions into CLOSE "
			"except LISTEN -> CLOSE | top: owners of the most ESTABLISHED sockets\n");
		s->header_done = 1;
	}
	clock_fmt_local(fo->clock, clock_real_of(fo->clock, now), t, sizeof(t));
	t[strcspn(t, ".")] = '\0';   /* HH:MM:SS: a report is per second at best */
	ob_puts(ob, "--- ");
	ob_puts(ob, t);
	ob_putc(ob, ' ');
	for (size_t i = 0; i < N_REPORT_STATES; i++) {
		ob_putc(ob, ' ');
		ob_puts(ob, netstat_state_name(report_states[i]));
		ob_putc(ob, ' ');
		ob_u64(ob, s->count[report_states[i]]);
		ob_putc(ob, ' ');
	}
	ob_puts(ob, "| new/s ");
	ob_double(ob, elapsed_s > 0 ? s->iv_new / elapsed_s : 0, 1);
	ob_puts(ob, "  closes/s ");
	ob_double(ob, elapsed_s > 0 ? s->iv_closes / elapsed_s : 0, 1);
	ob_puts(ob, " | top: ");
	if (!n)
		ob_putc(ob, '-');
	for (int i = 0; i < n; i++) {
		if (i)
			ob_puts(ob, ", ");
		text_owner(ob, top[i]);
		ob_putc(ob, ' ');
		ob_u64(ob, top[i]->established);
	}
	if (s->lost) {
		ob_puts(ob, " | lost ");
		ob_u64(ob, s->lost);
		ob_puts(ob, " events: counts approximate");
	}
	ob_putc(ob, '\n');
}

static void report_json(struct stats *s, struct outbuf *ob, double elapsed_s,
			const struct fmt_opts *fo, long long now)
{
	const struct proc_ent *top[STATS_TOP];
	int n = top_procs(s, top);
	unsigned long long total = 0;

	json_begin(ob, "stats", now, fo);
	json_key(ob, "interval_s");
	ob_double(ob, elapsed_s, 3);
	json_key(ob, "states");
	for (size_t i = 0; i < N_REPORT_STATES; i++) {
		ob_puts(ob, i ? ",\"" : "{\"");
		ob_puts(ob, netstat_state_name(report_states[i]));
		ob_puts(ob, "\":");
		ob_u64(ob, s->count[report_states[i]]);
		total += s->count[report_states[i]];
	}
	ob_putc(ob, '}');
	json_key(ob, "sockets");
	ob_u64(ob, total);
	json_key(ob, "new");
	ob_u64(ob, s->iv_new);
	json_key(ob, "closes");
	ob_u64(ob, s->iv_closes);
	json_key(ob, "new_per_s");
	ob_double(ob, elapsed_s > 0 ? s->iv_new / elapsed_s : 0, 3);
	json_key(ob, "closes_per_s");
	ob_double(ob, elapsed_s > 0 ? s->iv_closes / elapsed_s : 0, 3);
	json_key(ob, "top");
	ob_putc(ob, '[');
	for (int i = 0; i < n; i++) {
		if (i)
			ob_putc(ob, ',');
		json_owner(ob, top[i]);
		ob_puts(ob, ",\"established\":");
		ob_u64(ob, top[i]->established);
		ob_putc(ob, '}');
	}
	ob_putc(ob, ']');
	if (s->lost) {
		json_key(ob, "lost");
		ob_u64(ob, s->lost);
	}
	ob_puts(ob, "}\n");
}

void stats_report(struct stats *s, struct outbuf *ob, int json, double elapsed_s,
		  const struct fmt_opts *fo)
{
	long long now = clock_boot_now();

	if (json)
		report_json(s, ob, elapsed_s, fo, now);
	else
		report_text(s, ob, elapsed_s, fo, now);
}

void stats_interval_end(struct stats *s)
{
	s->iv_new = 0;
	s->iv_closes = 0;
}

struct trans_row {
	unsigned char old, st;
	unsigned long long n;
};

static int cmp_trans(const void *a, const void *b)
{
	const struct trans_row *x = a, *y = b;

	if (x->n != y->n)
		return x->n < y->n ? 1 : -1;
	if (x->old != y->old)
		return x->old < y->old ? -1 : 1;
	return x->st < y->st ? -1 : x->st > y->st;
}

static int cmp_proc(const void *a, const void *b)
{
	const struct proc_ent *x = *(const struct proc_ent *const *)a;
	const struct proc_ent *y = *(const struct proc_ent *const *)b;

	if (x->transitions != y->transitions)
		return x->transitions < y->transitions ? 1 : -1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static void final_text(struct stats *s, struct outbuf *ob, const struct trans_row *rows,
		       size_t nrows, const struct proc_ent **procs, size_t nprocs)
{
	char name[32];

	ob_puts(ob, "--- transitions by state (new: ");
	ob_u64(ob, s->total_new);
	ob_puts(ob, " into ESTABLISHED, closes: ");
	ob_u64(ob, s->total_closes);
	ob_puts(ob, ")\n");
	if (!nrows)
		ob_puts(ob, "(none)\n");
	for (size_t i = 0; i < nrows; i++) {
		snprintf(name, sizeof(name), "%s -> %s", netstat_state_name(rows[i].old),
			 netstat_state_name(rows[i].st));
		ob_pad(ob, name, 26);
		ob_u64_padr(ob, rows[i].n, 10);
		ob_putc(ob, '\n');
	}
	ob_puts(ob, "--- transitions by process\n");
	if (!nprocs && !s->unowned_transitions)
		ob_puts(ob, "(none)\n");
	for (size_t i = 0; i < nprocs; i++) {
		size_t start = ob->len, w;

		text_owner(ob, procs[i]);
		w = ob->len - start;
		for (; w < 26; w++)
			ob_putc(ob, ' ');
		ob_u64_padr(ob, procs[i]->transitions, 10);
		ob_putc(ob, '\n');
	}
	if (s->unowned_transitions) {
		ob_pad(ob, "(owner unknown)", 26);
		ob_u64_padr(ob, s->unowned_transitions, 10);
		ob_putc(ob, '\n');
	}
	if (s->lost) {
		ob_puts(ob, "--- lost ");
		ob_u64(ob, s->lost);
		ob_puts(ob, " events: the counts above miss them\n");
	}
}

static void final_json(struct stats *s, struct outbuf *ob, const struct trans_row *rows,
		       size_t nrows, const struct proc_ent **procs, size_t nprocs,
		       const struct fmt_opts *fo)
{
	json_begin(ob, "stats_final", clock_boot_now(), fo);
	json_key(ob, "new");
	ob_u64(ob, s->total_new);
	json_key(ob, "closes");
	ob_u64(ob, s->total_closes);
	json_key(ob, "transitions");
	ob_putc(ob, '[');
	for (size_t i = 0; i < nrows; i++) {
		ob_puts(ob, i ? ",{\"old\":\"" : "{\"old\":\"");
		ob_puts(ob, netstat_state_name(rows[i].old));
		ob_puts(ob, "\",\"new\":\"");
		ob_puts(ob, netstat_state_name(rows[i].st));
		ob_puts(ob, "\",\"count\":");
		ob_u64(ob, rows[i].n);
		ob_putc(ob, '}');
	}
	ob_putc(ob, ']');
	json_key(ob, "by_process");
	ob_putc(ob, '[');
	for (size_t i = 0; i < nprocs; i++) {
		if (i)
			ob_putc(ob, ',');
		json_owner(ob, procs[i]);
		ob_puts(ob, ",\"transitions\":");
		ob_u64(ob, procs[i]->transitions);
		ob_putc(ob, '}');
	}
	if (s->unowned_transitions) {
		if (nprocs)
			ob_putc(ob, ',');
		json_owner(ob, NULL);
		ob_puts(ob, ",\"transitions\":");
		ob_u64(ob, s->unowned_transitions);
		ob_putc(ob, '}');
	}
	ob_putc(ob, ']');
	if (s->lost) {
		json_key(ob, "lost");
		ob_u64(ob, s->lost);
	}
	ob_puts(ob, "}\n");
}

void stats_final(struct stats *s, struct outbuf *ob, int json, const struct fmt_opts *fo)
{
	struct trans_row rows[TT_STATE_MAX * TT_STATE_MAX];
	const struct proc_ent **procs = NULL;
	size_t nrows = 0, nprocs = 0;

	for (unsigned o = 0; o < TT_STATE_MAX; o++)
		for (unsigned n = 0; n < TT_STATE_MAX; n++)
			if (s->trans[o][n])
				rows[nrows++] = (struct trans_row){ o, n, s->trans[o][n] };
	qsort(rows, nrows, sizeof(rows[0]), cmp_trans);
	if (s->procs_n)
		procs = malloc(s->procs_n * sizeof(*procs));
	if (procs) {
		for (size_t i = 0; i < s->procs_cap; i++)
			if (s->procs[i].used && s->procs[i].transitions)
				procs[nprocs++] = &s->procs[i];
		qsort(procs, nprocs, sizeof(*procs), cmp_proc);
	} else if (s->procs_n) {
		/* no memory for the sort: drop the record as outbuf drops any
		 * record it has no memory for, rather than print a table that
		 * silently misses processes */
		ob->oom = 1;
		return;
	}
	if (json)
		final_json(s, ob, rows, nrows, procs, nprocs, fo);
	else
		final_text(s, ob, rows, nrows, procs, nprocs);
	free(procs);
}
