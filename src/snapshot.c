// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "loader.h"
#include "model.h"
#include "netstat_fmt.h"
#include "owners.h"
#include "snapshot.h"

static int port_selected(const struct tt_opts *o, unsigned lport, unsigned rport)
{
	if (!o->nports)
		return 1;
	for (int i = 0; i < o->nports; i++)
		if (o->ports[i] == lport || o->ports[i] == rport)
			return 1;
	return 0;
}

static int grow(struct snapshot *s, size_t *cap)
{
	size_t nc = *cap ? *cap * 2 : 1024;
	struct tt_snaprec *r = realloc(s->recs, nc * sizeof(*r));
	__u64 *sk, *seq;

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

static int add_row(struct collect *c, const struct tt_sockrow *row, __u64 sk, __u64 cookie,
		   __u64 seq, unsigned netns, unsigned flags)
{
	struct snapshot *s = c->s;
	struct tt_snaprec *r;
	int err;

	if (c->o->family && row->family != (unsigned)c->o->family)
		return 0;
	if (!port_selected(c->o, row->lport, row->rport))
		return 0;
	if (c->o->listening && !netstat_row_selected(row, 1))
		return 0;
	if (s->n == c->cap && (err = grow(s, &c->cap)))
		return err;
	r = &s->recs[s->n];
	memset(r, 0, sizeof(*r));
	r->row = *row;
	r->sock_id = cookie;
	r->netns = netns;
	r->flags = flags;
	r->boot_ns = s->boot_ns;
	s->sk[s->n] = sk;
	s->seq[s->n] = seq;
	s->n++;
	return 0;
}

static int procnet_cb(const struct tt_sockrow *row, void *ctx)
{
	return add_row(ctx, row, 0, 0, 0, 0, 0);
}

static int from_iter(struct collect *c, struct tt_bpf *b)
{
	struct tt_snap *rows = NULL;
	size_t n = 0;
	int err;

	err = loader_snapshot(b, &rows, &n);
	if (err)
		return err;
	/* netstat prints /proc/net/tcp, then tcp6: IPv4 rows first */
	for (int pass = 0; pass < 2 && !err; pass++) {
		unsigned fam = pass ? AF_INET6 : AF_INET;

		for (size_t i = 0; i < n && !err; i++) {
			struct tt_sockrow row = {};

			if (rows[i].family != fam)
				continue;
			row.family = fam;
			memcpy(row.laddr, rows[i].laddr, 16);
			memcpy(row.raddr, rows[i].raddr, 16);
			row.lport = rows[i].lport;
			row.rport = rows[i].rport;
			row.state = rows[i].state;
			row.rxq = rows[i].recv_q;
			row.txq = rows[i].send_q;
			row.inode = rows[i].inode;
			row.uid = rows[i].uid;
			err = add_row(c, &row, rows[i].sk, rows[i].cookie, rows[i].seq,
				      rows[i].netns, rows[i].flags);
		}
	}
	free(rows);
	return err;
}

int snapshot_take(struct snapshot **out, struct tt_bpf *b, const struct tt_opts *o)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	struct collect c = { .s = s, .o = o };
	int err = 0;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->boot_ns = clock_boot_now();
	if (b)
		err = from_iter(&c, b);
	if (b && !err)
		s->from_iter = 1;
	if (!b || err) {
		s->n = 0;
		err = 0;
		if (o->family != AF_INET6)
			err = procnet_read("/proc/net/tcp", AF_INET, procnet_cb, &c, NULL);
		if (!err && o->family != AF_INET)
			err = procnet_read("/proc/net/tcp6", AF_INET6, procnet_cb, &c, NULL);
		if (err)
			goto cleanup;
	}
	/* owners are looked up after the rows: a socket created in between has
	 * no row, and one closed in between simply shows "-" */
	err = owners_scan("/proc", &s->owners);
	if (err)
		goto cleanup;
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
	}
	if (o->pid) {
		size_t k = 0;

		for (size_t i = 0; i < s->n; i++) {
			if (!s->recs[i].owner_known || s->recs[i].pid != o->pid)
				continue;
			s->recs[k] = s->recs[i];
			s->sk[k] = s->sk[i];
			s->seq[k] = s->seq[i];
			k++;
		}
		s->n = k;
	}
	*out = s;
	return 0;
cleanup:
	snapshot_free(&s);
	return err;
}

int snapshot_seed(const struct snapshot *s, struct tt_bpf *b, struct model *m)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct tt_snaprec *r = &s->recs[i];
		struct tt_conn c = {};
		int err;

		if (m) {
			err = model_add_snapshot(m, r->sock_id, s->seq[i], r->row.state,
						 r->owner_known, r->pid, r->comm);
			if (err)
				return err;
		}
		if (!b || !s->sk[i])
			continue;
		c.id = r->sock_id;
		c.state = r->row.state;
		c.flags = (r->flags & TT_F_REQ) ? TT_F_REQ : 0;
		if (r->owner_known) {
			c.owner.known = 1;
			c.owner.pid = r->pid;
			if (r->comm)
				strncpy(c.owner.comm, r->comm, sizeof(c.owner.comm) - 1);
		}
		err = loader_seed(b, s->sk[i], &c);
		if (err)
			return err;
	}
	return 0;
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
