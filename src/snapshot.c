// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The snapshot (snapshot.h): rows from iter/tcp or /proc/net/tcp{,6}, kept
 * by the filters (filter.h), named by their owners (owners.h), then given
 * to the BPF side and to the join.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "filter.h"
#include "join.h"
#include "loader.h"
#include "owners.h"
#include "owners_iter.h"
#include "procnet.h"
#include "snapshot.h"

static int grow(struct snapshot *s, size_t *cap, size_t want)
{
	size_t nc = want;
	struct tt_snaprec *r;
	__u64 *sk, *seq;

	if (!nc)
		nc = *cap ? *cap * 2 : 1024;
	r = realloc(s->recs, nc * sizeof(*r));
	if (!r)
		return -ENOMEM;
	s->recs = r;
	sk = realloc(s->sk, nc * sizeof(*sk));
	if (!sk)
		return -ENOMEM;
	s->sk = sk;
	seq = realloc(s->seq, nc * sizeof(*seq));
	if (!seq)
		return -ENOMEM;
	s->seq = seq;
	*cap = nc;
	return 0;
}

struct collect {
	struct snapshot *s;
	size_t cap;
	const struct tt_opts *o;
};

static void set_rec(struct snapshot *s, size_t i, const struct tt_sockrow *row, __u64 sk,
		    __u64 cookie, __u64 seq, unsigned netns, unsigned flags, __u64 cgroup_id)
{
	struct tt_snaprec *r = &s->recs[i];

	memset(r, 0, sizeof(*r));
	r->row = *row;
	r->sock_id = cookie;
	r->netns = netns;
	r->flags = flags;
	r->cgroup_id = cgroup_id;
	r->boot_ns = s->boot_ns;
	s->sk[i] = sk;
	s->seq[i] = seq;
}

static int procnet_cb(const struct tt_sockrow *row, void *ctx)
{
	struct collect *c = ctx;
	int err;

	if (filter_row(c->o, row))
		return 0;
	if (c->s->n == c->cap && (err = grow(c->s, &c->cap, 0)))
		return err;
	set_rec(c->s, c->s->n++, row, 0, 0, 0, 0, 0, 0);
	return 0;
}

static void snap_to_row(const struct tt_snap *x, struct tt_sockrow *row)
{
	memset(row, 0, sizeof(*row));
	row->family = x->family;
	memcpy(row->laddr, x->laddr, 16);
	memcpy(row->raddr, x->raddr, 16);
	row->lport = x->lport;
	row->rport = x->rport;
	row->state = x->state;
	row->rxq = x->recv_q;
	row->txq = x->send_q;
	row->inode = x->inode;
	row->uid = x->uid;
}

/* Raw rows given back to the allocator every this many, while converting. */
#define SHRINK_EVERY 8192

static int from_iter(struct collect *c, struct tt_bpf *b)
{
	struct snapshot *s = c->s;
	struct tt_snap *rows = NULL;
	size_t n = 0, n4 = 0, n6 = 0, k4, k6;
	struct tt_sockrow row;
	int err;

	err = loader_snapshot(b, &rows, &n);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		snap_to_row(&rows[i], &row);
		if (filter_row(c->o, &row))
			continue;
		if (row.family == AF_INET)
			n4++;
		else if (row.family == AF_INET6)
			n6++;
	}
	/* exact size: the records are the largest thing the snapshot holds */
	if (n4 + n6 && (err = grow(s, &c->cap, n4 + n6)))
		goto cleanup;
	/*
	 * netstat prints /proc/net/tcp, then tcp6: IPv4 rows first, each family
	 * in the iterator's order. Filled from the end so that the raw rows
	 * already converted can be given back as the records fill up: the two
	 * copies are never both whole (loader_snapshot's buffer is an mmap()ed
	 * block, so shrinking it returns pages at once).
	 */
	k4 = n4;
	k6 = n4 + n6;
	for (size_t i = n; i-- > 0;) {
		snap_to_row(&rows[i], &row);
		if (!filter_row(c->o, &row) && (row.family == AF_INET || row.family == AF_INET6))
			set_rec(s, row.family == AF_INET ? --k4 : --k6, &row, rows[i].sk,
				rows[i].cookie, rows[i].seq, rows[i].netns, rows[i].flags,
				rows[i].cgroup_id);
		if (i && i % SHRINK_EVERY == 0) {
			struct tt_snap *nr = realloc(rows, i * sizeof(*rows));

			if (nr)
				rows = nr;
		}
	}
	s->n = n4 + n6;
cleanup:
	free(rows);
	return err;
}

/* Names the owners: the BPF iterator when it loaded, else procdir/PID/fd. */
static int take_owners(struct snapshot *s, struct owners_iter **it, const struct tt_opts *o,
		       const char *procdir)
{
	struct owners *ow = NULL;
	int err = -EOPNOTSUPP;

	if (*it) {
		err = owners_new(procdir, s->n, &ow);
		/* only the rows' sockets: inode 0 restricts even with no row */
		if (!err)
			err = owners_want(ow, 0);
		for (size_t i = 0; i < s->n && !err; i++)
			err = owners_want(ow, s->recs[i].row.inode);
		if (!err)
			err = owners_iter_run(*it, ow);
		if (!err) {
			s->owners = ow;
			ow = NULL;
		}
		owners_free(&ow);
	}
	owners_iter_close(it);
	if (!err || err == -ENOMEM)
		return err;
	if (o->verbose)
		fprintf(stderr, "tcptrail: socket owners from /proc/PID/fd, slower (owner iterator: %s)\n",
			strerror(-err));
	return owners_scan(procdir, &s->owners);
}

/* The rows: iter/tcp when the BPF side is there, else procdir/net/tcp{,6}. */
static int read_rows(struct collect *c, struct tt_bpf *b, const char *procdir)
{
	char path[4096];
	int err = b ? from_iter(c, b) : -EOPNOTSUPP;

	if (!err)
		return 0;
	c->s->n = 0;
	err = 0;
	if (c->o->family != AF_INET6) {
		snprintf(path, sizeof(path), "%s/net/tcp", procdir);
		err = procnet_read(path, AF_INET, procnet_cb, c, NULL);
	}
	if (!err && c->o->family != AF_INET) {
		snprintf(path, sizeof(path), "%s/net/tcp6", procdir);
		err = procnet_read(path, AF_INET6, procnet_cb, c, NULL);
	}
	return err;
}

/* Each row's owner, then -p: only the rows it owns. */
static void name_owners(struct snapshot *s, const struct tt_opts *o)
{
	size_t k = 0;

	for (size_t i = 0; i < s->n; i++) {
		struct tt_snaprec *r = &s->recs[i];
		const char *comm = NULL;
		unsigned pid = 0;

		r->owner = owners_get(s->owners, r->row.inode);
		if (r->owner && !owners_lookup(s->owners, r->row.inode, &pid, &comm)) {
			r->owner_known = 1;
			r->pid = pid;
			r->comm = comm;
		}
		if (filter_owner(o, r->owner_known, r->pid))
			continue;
		s->recs[k] = s->recs[i];
		s->sk[k] = s->sk[i];
		s->seq[k] = s->seq[i];
		k++;
	}
	s->n = k;
}

int snapshot_take(struct snapshot **out, struct tt_bpf *b, const struct tt_opts *o,
		  const char *procdir)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	struct collect c = { .s = s, .o = o };
	struct owners_iter *it = NULL;
	int err;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->boot_ns = clock_boot_now();
	/* loaded before the rows are read: see owners_iter_open */
	if (b && owners_iter_usable(procdir)) {
		err = owners_iter_open(&it);
		if (err && o->verbose)
			fprintf(stderr, "tcptrail: cannot load the owner iterator: %s\n", strerror(-err));
	}
	err = read_rows(&c, b, procdir);
	/* owners are looked up after the rows: a socket created in between has
	 * no row, and one closed in between simply shows "-" */
	if (!err)
		err = take_owners(s, &it, o, procdir);
	if (err) {
		owners_iter_close(&it);
		snapshot_free(&s);
		return err;
	}
	name_owners(s, o);
	*out = s;
	return 0;
}

/* What the BPF side keeps of a row's connection. */
static struct tt_conn row_conn(const struct tt_snaprec *r)
{
	struct tt_conn c = {
		.id = r->sock_id,
		.cgroup_id = r->cgroup_id,
		.state = r->row.state,
		.flags = (r->flags & TT_F_REQ) ? TT_F_REQ : (r->flags & TT_F_TW) ? TT_CONN_TW : 0,
	};

	if (r->owner_known) {
		c.owner.known = 1;
		c.owner.pid = r->pid;
		if (r->comm)
			strncpy(c.owner.comm, r->comm, sizeof(c.owner.comm) - 1);
	}
	return c;
}

/* A request socket goes in the request table, keyed by its tuple. */
static int seed_request(struct tt_bpf *b, struct tt_snaprec *r, __u64 sk)
{
	struct tt_conn c = row_conn(r);
	struct tt_tuple t = {
		.netns = r->netns, .family = r->row.family,
		.lport = r->row.lport, .rport = r->row.rport,
	};
	__u64 id;
	int err;

	memcpy(t.laddr, r->row.laddr, sizeof(t.laddr));
	memcpy(t.raddr, r->row.raddr, sizeof(t.raddr));
	c.state = TT_SYN_RECV;
	err = loader_seed_req(b, &t, sk, &c);
	/* A SYN-ACK retransmission between the attach and now made the
	 * program take the request for a new one, with an id of its own, and
	 * send CLOSE -> SYN_RECV: the row takes that id, so the request's
	 * events match it and the join drops that event, which the row shows. */
	if (!err && !loader_req_id(b, &t, sk, &id))
		r->sock_id = id;
	return err;
}

int snapshot_seed(struct snapshot *s, struct tt_bpf *b, struct join *j)
{
	int err = 0;

	for (size_t i = 0; i < s->n && !err; i++) {
		struct tt_snaprec *r = &s->recs[i];

		/* rows from iter/tcp have their kernel address: seed the BPF side */
		if (b && s->sk[i] && (r->flags & TT_F_REQ)) {
			err = seed_request(b, r, s->sk[i]);
		} else if (b && s->sk[i]) {
			struct tt_conn c = row_conn(r);

			err = loader_seed(b, s->sk[i], &c);
		}
		if (!err && j)
			err = join_add(j, r, s->seq[i]);
	}
	return err;
}

void snapshot_free(struct snapshot **ps)
{
	struct snapshot *s = ps ? *ps : NULL;

	if (!s)
		return;
	owners_free(&s->owners);
	free(s->recs);
	free(s->sk);
	free(s->seq);
	free(s);
	*ps = NULL;
}
