// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The snapshot/stream join (join.h), over a socket table (socktab.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "join.h"
#include "socktab.h"

struct row {
	__u64 seq;         /* tt_seq when the snapshot row was read */
	unsigned state;
	int owner_known;
	unsigned pid;
	char comm[TT_COMM_LEN];
};

struct join {
	struct socktab *rows;   /* key: sock_id */
	__u64 max_seq;          /* the latest row's seq */
};

int join_new(struct join **out, size_t expected)
{
	struct join *j = calloc(1, sizeof(*j));
	int err;

	*out = NULL;
	if (!j)
		return -ENOMEM;
	err = socktab_new(&j->rows, sizeof(struct row), expected);
	if (err) {
		join_free(&j);
		return err;
	}
	*out = j;
	return 0;
}

void join_free(struct join **pj)
{
	struct join *j = pj ? *pj : NULL;

	if (!j)
		return;
	socktab_free(&j->rows);
	free(j);
	*pj = NULL;
}

int join_add(struct join *j, const struct tt_snaprec *r, __u64 seq)
{
	struct row *w;
	int created;

	if (!r->sock_id)
		return 0;
	w = socktab_insert(j->rows, r->sock_id, &created);
	if (!w)
		return -ENOMEM;
	w->seq = seq;
	if (seq > j->max_seq)
		j->max_seq = seq;
	w->state = r->row.state;
	w->owner_known = r->owner_known;
	w->pid = r->pid;
	memset(w->comm, 0, sizeof(w->comm));
	if (r->comm)
		strncpy(w->comm, r->comm, sizeof(w->comm) - 1);
	return 0;
}

int join_apply(const struct join *j, struct tt_event *e)
{
	const struct row *w;

	/* An event after every row was read, that names its owner, has
	 * nothing to take from a row: most of the stream, which then costs
	 * no lookup (a cache miss per event in a table of every socket the
	 * snapshot showed; 9-13 % of the ring reader under churn). */
	if (!j || (e->seq >= j->max_seq && (e->flags & TT_F_OWNER)))
		return 0;
	w = socktab_find(j->rows, e->sock_id);
	if (!w)
		return 0;
	/* The row was read after this event: it shows the event's outcome.
	 * (The tracepoint fires just before the kernel stores the new state,
	 * so a row read in that instant shows the old state: keep the event
	 * then, since nothing would show its outcome otherwise.) */
	if (e->seq < w->seq && !(e->new_state != w->state && e->old_state == w->state))
		return 1;
	if (!(e->flags & TT_F_OWNER) && w->owner_known) {
		e->flags |= TT_F_OWNER;
		e->pid = w->pid;
		memcpy(e->comm, w->comm, TT_COMM_LEN);
	}
	return 0;
}
