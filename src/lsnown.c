// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Listeners' owners: live holders (lsnown.h, bpf/tt_lsn.bpf.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "clock.h"
#include "loader.h"
#include "lsnown.h"
#include "tcptrail.skel.h"

#define AF_INET_ 2
#define AF_INET6_ 10
/* An accepter that changes runs a pass at most this often: workers that
 * accept in turn change it at every connection. */
#define ACCEPT_PASS_NS 1000000000LL
/* A descriptor closed by the owner leaves no trace: looked for this often
 * while passive connections arrive. */
#define IDLE_PASS_NS 10000000000LL
/* Listeners remembered, those seen last kept: an event may name a dead
 * owner of a listener closed since. */
#define MAX_ENTRIES 4096

struct lsnown {
	struct tt_bpf *b;
	struct bpf_link *link;      /* tt_iter_listeners, made before privileges go */
	struct lsn_entry *e;
	size_t n;
	struct tt_lsn_holder *rows;
	size_t nrows, caprows;
	unsigned long long pass;    /* passes run */
	__u64 gone_seen, accept_seen;
	long long last_pass;
	int passive;                /* passive connections since the last pass */
};

/* ---- the pure part ------------------------------------------------------------ */

int lsnown_cmp(const void *a, const void *b)
{
	const struct tt_lsn_holder *x = a, *y = b;

	if (x->cookie != y->cookie)
		return x->cookie < y->cookie ? -1 : 1;
	return x->tgid < y->tgid ? -1 : x->tgid > y->tgid;
}

long lsnown_choose(const struct tt_lsn_holder *h, size_t n, __u32 accepter,
		   const struct tt_owner *cur, int cur_accepts)
{
	long first = -1, owner = -1, acc = -1;

	for (size_t i = 0; i < n; i++) {
		if (h[i].exiting)
			continue;
		if (accepter && h[i].tgid == accepter && acc < 0)
			acc = (long)i;
		if (cur && cur->known && h[i].tgid == cur->pid && owner < 0)
			owner = (long)i;
		if (first < 0)
			first = (long)i;
	}
	if (owner >= 0 && cur_accepts)
		return owner;
	return acc >= 0 ? acc : owner >= 0 ? owner : first;
}

static int is_zero(const __u8 *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i])
			return 0;
	return 1;
}

/* 2: the listener is bound to the connection's local address; 1: to the
 * wildcard of its family (an IPv6 wildcard takes IPv4 too, unless
 * IPV6_V6ONLY, which the iterator does not read); 0: not this one. */
static int addr_score(const struct lsn_entry *l, __u32 family, const __u8 laddr[16])
{
	static const __u8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (l->family == family && !memcmp(l->laddr, laddr, family == AF_INET_ ? 4 : 16))
		return 2;
	if (l->family == AF_INET6_ && family == AF_INET_ && !memcmp(l->laddr, mapped, 12) &&
	    !memcmp(l->laddr + 12, laddr, 4))
		return 2;
	if (is_zero(l->laddr, l->family == AF_INET_ ? 4 : 16) &&
	    (l->family == family || (l->family == AF_INET6_ && family == AF_INET_)))
		return 1;
	return 0;
}

static int had_owner(const struct lsn_entry *l, __u32 pid)
{
	for (int i = 0; i < LSN_HIST; i++)
		if (l->hist[i] == pid)
			return 1;
	return 0;
}

/* Rank of candidate l: address score, then whether pid owned it. */
static int rank(const struct lsn_entry *l, __u32 netns, __u32 family, __u32 lport,
		const __u8 laddr[16], __u32 pid)
{
	int s;

	if (l->netns != netns || l->lport != lport)
		return 0;
	s = addr_score(l, family, laddr);
	return s ? s * 2 + had_owner(l, pid) : 0;
}

long lsnown_match(const struct lsn_entry *l, size_t n, __u32 netns, __u32 family,
		  __u32 lport, const __u8 laddr[16], __u32 pid)
{
	long found = -1;
	int best = 0;

	for (size_t i = 0; i < n; i++) {
		int r = rank(&l[i], netns, family, lport, laddr, pid);

		if (r > best) {
			best = r;
			found = (long)i;
		}
	}
	if (found < 0)
		return -1;
	/* listeners alike for this connection must agree on the owner */
	for (size_t i = 0; i < n; i++) {
		const struct tt_owner *a = &l[i].owner, *b = &l[found].owner;

		if (rank(&l[i], netns, family, lport, laddr, pid) != best)
			continue;
		if (a->known != b->known || (a->known && a->pid != b->pid))
			return -1;
	}
	return found;
}

void lsnown_hist_add(struct lsn_entry *e, __u32 pid)
{
	if (!pid || e->hist[0] == pid)
		return;
	memmove(&e->hist[1], &e->hist[0], sizeof(e->hist) - sizeof(e->hist[0]));
	e->hist[0] = pid;
}

/* ---- a pass ------------------------------------------------------------------- */

/* The iterator's rows, sorted by listener. */
static int read_rows(struct lsnown *l)
{
	int fd = bpf_iter_create(bpf_link__fd(l->link)), err = 0;
	size_t have = 0;
	ssize_t r;

	if (fd < 0)
		return -errno;
	for (;;) {
		if (l->caprows * sizeof(*l->rows) - have < 4096) {
			size_t nc = l->caprows ? l->caprows * 2 : 256;
			void *p = realloc(l->rows, nc * sizeof(*l->rows));

			if (!p) {
				err = -ENOMEM;
				break;
			}
			l->rows = p;
			l->caprows = nc;
		}
		r = read(fd, (char *)l->rows + have, l->caprows * sizeof(*l->rows) - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r < 0 ? -errno : 0;
			break;
		}
		have += (size_t)r;
	}
	close(fd);
	l->nrows = have / sizeof(*l->rows);
	qsort(l->rows, l->nrows, sizeof(*l->rows), lsnown_cmp);
	return err;
}

static struct lsn_entry *entry_for(struct lsnown *l, __u64 cookie)
{
	size_t oldest = 0;

	for (size_t i = 0; i < l->n; i++) {
		if (l->e[i].cookie == cookie)
			return &l->e[i];
		if (l->e[i].pass < l->e[oldest].pass)
			oldest = i;
	}
	if (l->n < MAX_ENTRIES) {
		l->n++;
		oldest = l->n - 1;
	}
	memset(&l->e[oldest], 0, sizeof(l->e[oldest]));
	l->e[oldest].cookie = cookie;
	return &l->e[oldest];
}

/* One listener and its holders h[0..n): names the holder to show in the
 * BPF side's entry, and remembers it. */
static void settle(struct lsnown *l, const struct tt_lsn_holder *h, size_t n)
{
	struct tcptrail_bpf *s = loader_skel(l->b);
	int conns = bpf_map__fd(s->maps.conns);
	struct tt_conn c;
	struct lsn_entry *e;
	__u32 acc = 0, port = h->lport;
	long k;

	/* only the listeners the BPF side follows: not the filtered ones */
	if (!h->cookie || bpf_map_lookup_elem(conns, &h->cookie, &c) || c.state != TT_LISTEN)
		return;
	bpf_map_lookup_elem(bpf_map__fd(s->maps.lsn_accepter), &port, &acc);
	e = entry_for(l, h->cookie);
	if (c.owner.known && acc == c.owner.pid)
		e->owner_accepts = 1;
	k = lsnown_choose(h, n, acc, &c.owner, e->owner_accepts && e->owner.pid == c.owner.pid);
	e->netns = h->netns;
	e->family = h->family;
	e->lport = h->lport;
	memcpy(e->laddr, h->laddr, sizeof(e->laddr));
	e->pass = l->pass;
	if (c.owner.known)
		lsnown_hist_add(e, c.owner.pid);
	if (k < 0) {
		e->owner.known = 0;   /* its last holder is exiting: it closes */
		return;
	}
	if (!c.owner.known || c.owner.pid != h[k].tgid ||
	    strncmp(c.owner.comm, h[k].comm, TT_COMM_LEN)) {
		c.owner.known = 1;
		c.owner.pid = h[k].tgid;
		memcpy(c.owner.comm, h[k].comm, TT_COMM_LEN);
		c.owner.comm[TT_COMM_LEN - 1] = '\0';
		/* BPF_EXIST: a listener closed meanwhile stays deleted */
		bpf_map_update_elem(conns, &h->cookie, &c, BPF_EXIST);
		loader_lsn_mark(l->b, c.owner.pid);
		e->owner_accepts = acc == c.owner.pid;
	}
	e->owner = c.owner;
	lsnown_hist_add(e, c.owner.pid);
}

static void run_pass(struct lsnown *l, long long now)
{
	struct tcptrail_bpf *s = loader_skel(l->b);

	/* read first: an exit after this is seen by the next pass */
	l->gone_seen = __atomic_load_n(&s->bss->lsn_gone_gen, __ATOMIC_ACQUIRE);
	l->accept_seen = __atomic_load_n(&s->bss->lsn_accept_gen, __ATOMIC_ACQUIRE);
	l->last_pass = now;
	l->passive = 0;
	l->pass++;
	if (read_rows(l))
		return;   /* a partial list could name a wrong holder: keep the old */
	for (size_t i = 0, j; i < l->nrows; i = j) {
		for (j = i + 1; j < l->nrows && l->rows[j].cookie == l->rows[i].cookie; j++)
			;
		settle(l, &l->rows[i], j - i);
	}
}

/* ---- the run ------------------------------------------------------------------- */

int lsnown_new(struct lsnown **out, struct tt_bpf *b)
{
	struct lsnown *l;
	int err;

	*out = NULL;
	if (!b || !loader_features(b)->timers)
		return 0;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->e = calloc(MAX_ENTRIES, sizeof(*l->e));
	l->b = b;
	l->link = bpf_program__attach_iter(loader_skel(b)->progs.tt_iter_listeners, NULL);
	err = !l->e ? -ENOMEM : !l->link ? -errno : 0;
	if (err) {
		lsnown_free(&l);
		return err;
	}
	l->last_pass = clock_boot_now();
	*out = l;
	return 0;
}

void lsnown_free(struct lsnown **pl)
{
	struct lsnown *l = pl ? *pl : NULL;

	if (!l)
		return;
	bpf_link__destroy(l->link);
	free(l->e);
	free(l->rows);
	free(l);
	*pl = NULL;
}

/* An accepter changed: is there a listener, as the last pass saw them,
 * whose owner does not accept while another process on its port does?
 * Workers accepting in turn change the accepter at every connection: this
 * look (one array load per listener) spares them a pass each second. */
static int accept_pass_needed(struct lsnown *l)
{
	struct tcptrail_bpf *s = loader_skel(l->b);
	int fd = bpf_map__fd(s->maps.lsn_accepter);

	l->accept_seen = __atomic_load_n(&s->bss->lsn_accept_gen, __ATOMIC_ACQUIRE);
	if (!l->pass)
		return 1;   /* no listing yet */
	for (size_t i = 0; i < l->n; i++) {
		struct lsn_entry *e = &l->e[i];
		__u32 port = e->lport, acc = 0;

		if (e->pass != l->pass || !e->owner.known || e->owner_accepts ||
		    bpf_map_lookup_elem(fd, &port, &acc) || !acc)
			continue;
		if (acc == e->owner.pid)
			e->owner_accepts = 1;
		else
			return 1;
	}
	return 0;
}

void lsnown_tick(struct lsnown *l, long long now)
{
	struct tcptrail_bpf *s;

	if (!l)
		return;
	s = loader_skel(l->b);
	if (__atomic_load_n(&s->bss->lsn_gone_gen, __ATOMIC_ACQUIRE) != l->gone_seen ||
	    (l->passive && now - l->last_pass >= IDLE_PASS_NS))
		run_pass(l, now);
	else if (__atomic_load_n(&s->bss->lsn_accept_gen, __ATOMIC_RELAXED) != l->accept_seen &&
		 now - l->last_pass >= ACCEPT_PASS_NS && accept_pass_needed(l))
		run_pass(l, now);
}

void lsnown_event(struct lsnown *l, struct tt_event *e)
{
	long k;

	if (!(e->flags & TT_F_OWNER_GONE)) {
		if (l && (e->flags & TT_F_REQ))
			l->passive = 1;
		return;
	}
	e->flags &= ~TT_F_OWNER_GONE;
	/* an exit the last pass did not see: the listing is not up to date */
	if (l && __atomic_load_n(&loader_skel(l->b)->bss->lsn_gone_gen, __ATOMIC_ACQUIRE) != l->gone_seen)
		run_pass(l, clock_boot_now());
	k = l ? lsnown_match(l->e, l->n, e->netns, e->family, e->lport, e->laddr, e->pid) : -1;
	if (k >= 0 && l->e[k].owner.known) {
		e->flags |= TT_F_OWNER;
		e->pid = l->e[k].owner.pid;
		memcpy(e->comm, l->e[k].owner.comm, TT_COMM_LEN);
		return;
	}
	e->pid = 0;
	memset(e->comm, 0, sizeof(e->comm));
}
