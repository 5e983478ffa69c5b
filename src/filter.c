// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The user-space filters (filter.h): the twins of bpf/tt_emit.bpf.h's. */
#include "cgroup.h"
#include "filter.h"

/* twin: port_match() and tuple_filtered() */
static int port_selected(const struct tt_opts *o, unsigned lport, unsigned rport)
{
	if (!o->nports)
		return 1;
	for (int i = 0; i < o->nports; i++)
		if (o->ports[i] == lport || o->ports[i] == rport)
			return 1;
	return 0;
}

/* twin: tuple_filtered() */
int filter_tuple(const struct tt_opts *o, unsigned family, unsigned lport, unsigned rport)
{
	if (o->family && family != (unsigned)o->family)
		return 1;
	return !port_selected(o, lport, rport);
}

/* twin: owner_filtered() */
int filter_owner(const struct tt_opts *o, int known, unsigned pid)
{
	return o->pid && (!known || pid != o->pid);
}

/* twin: queue_filtered() */
int filter_queue(const struct tt_opts *o, unsigned long long recv_q, unsigned long long send_q)
{
	return o->queue_threshold && recv_q <= o->queue_threshold &&
	       send_q <= o->queue_threshold;
}

/* no twin: netstat -l's rule for rows */
int filter_row(const struct tt_opts *o, const struct tt_sockrow *row)
{
	if (filter_tuple(o, row->family, row->lport, row->rport))
		return 1;
	return o->listening && row->rport != 0;
}

int filter_snapshot(const struct tt_opts *o, const struct tt_snaprec *r)
{
	return filter_row(o, &r->row) || filter_owner(o, r->owner_known, r->pid);
}

/* twin: listen_only in transition() (and in pressure(), which it stops) */
static int listen_filtered(const struct tt_opts *o, const struct tt_event *e)
{
	return o->listening && (e->kind != TT_EV_STATE ||
				(e->old_state != TT_LISTEN && e->new_state != TT_LISTEN));
}

int filter_event(const struct tt_opts *o, const struct tt_event *e)
{
	return filter_tuple(o, e->family, e->lport, e->rport) || listen_filtered(o, e) ||
	       filter_owner(o, e->flags & TT_F_OWNER, e->pid) ||
	       filter_queue(o, e->recv_q, e->send_q);
}

/* twin: cgroup_filtered() */
int filter_cgroup(const struct tt_opts *o, const struct tt_cgref *cg)
{
	if (!o->ncgroups)
		return 0;
	for (int i = 0; i < o->ncgroups; i++)
		if (cgroup_path_within(cg->path, o->cgroups[i]))
			return 0;
	return 1;
}
