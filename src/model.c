// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

struct entry {
	__u64 id;          /* 0: empty slot */
	__u64 seq;         /* tt_seq when the snapshot row was read */
	unsigned state;
	int owner_known;
	unsigned pid;
	char comm[TT_COMM_LEN];
};

struct model {
	struct entry *tab;
	unsigned long mask;
	unsigned long used;
};

static unsigned long hash64(__u64 x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (unsigned long)x;
}

int model_new(struct model **out, unsigned long expected)
{
	unsigned long cap = 1024;
	struct model *m;

	*out = NULL;
	while (cap < expected * 2)
		cap <<= 1;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->tab = calloc(cap, sizeof(*m->tab));
	if (!m->tab) {
		free(m);
		return -ENOMEM;
	}
	m->mask = cap - 1;
	*out = m;
	return 0;
}

void model_free(struct model **pm)
{
	struct model *m = pm ? *pm : NULL;

	if (!m)
		return;
	free(m->tab);
	free(m);
	*pm = NULL;
}

static struct entry *find(const struct model *m, __u64 id)
{
	unsigned long i = hash64(id) & m->mask;

	while (m->tab[i].id) {
		if (m->tab[i].id == id)
			return &m->tab[i];
		i = (i + 1) & m->mask;
	}
	return NULL;
}

int model_add_snapshot(struct model *m, __u64 sock_id, __u64 seq, unsigned state,
		       int owner_known, unsigned pid, const char *comm)
{
	unsigned long i;

	if (!sock_id)
		return 0;
	if (m->used * 2 >= m->mask)
		return -ENOSPC;   /* sized from the row count: cannot happen */
	i = hash64(sock_id) & m->mask;
	while (m->tab[i].id && m->tab[i].id != sock_id)
		i = (i + 1) & m->mask;
	if (!m->tab[i].id)
		m->used++;
	m->tab[i].id = sock_id;
	m->tab[i].seq = seq;
	m->tab[i].state = state;
	m->tab[i].owner_known = owner_known;
	m->tab[i].pid = pid;
	memset(m->tab[i].comm, 0, sizeof(m->tab[i].comm));
	if (comm)
		strncpy(m->tab[i].comm, comm, sizeof(m->tab[i].comm) - 1);
	return 0;
}

int model_apply(struct model *m, struct tt_event *e)
{
	struct entry *en;

	if (!m || !m->used || !e->sock_id)
		return 0;
	en = find(m, e->sock_id);
	if (!en)
		return 0;
	/* The row was read after this event: it shows the event's outcome.
	 * (The tracepoint fires just before the kernel stores the new state,
	 * so a row read in that instant shows the old state: keep the event
	 * then, since nothing would show its outcome otherwise.) */
	if (e->seq < en->seq && !(e->new_state != en->state && e->old_state == en->state))
		return 1;
	if (!(e->flags & TT_F_OWNER) && en->owner_known) {
		e->flags |= TT_F_OWNER;
		e->pid = en->pid;
		memcpy(e->comm, en->comm, TT_COMM_LEN);
	}
	return 0;
}
