// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "seqtrack.h"

struct seqtrack {
	struct seqtrack_cb cb;
	struct tt_event *slots;
	unsigned char *used;
	unsigned long long mask;
	unsigned long long next;     /* the next number to deliver */
	unsigned long long top;      /* one past the highest buffered number */
	unsigned long long held;     /* events buffered */
	unsigned long long late;     /* arrived after their hole was reported */
	int stalled;                 /* rounds the lowest hole has waited */
};

int seqtrack_new(struct seqtrack **out, unsigned window, const struct seqtrack_cb *cb)
{
	struct seqtrack *st;

	*out = NULL;
	if (!window || (window & (window - 1)))
		return -EINVAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->slots = calloc(window, sizeof(*st->slots));
	st->used = calloc(window, 1);
	if (!st->slots || !st->used) {
		seqtrack_free(&st);
		return -ENOMEM;
	}
	st->mask = window - 1;
	st->cb = *cb;
	*out = st;
	return 0;
}

void seqtrack_free(struct seqtrack **pst)
{
	struct seqtrack *st = pst ? *pst : NULL;

	if (!st)
		return;
	free(st->slots);
	free(st->used);
	free(st);
	*pst = NULL;
}

/* Delivers what is contiguous from next on. */
static void drain(struct seqtrack *st)
{
	while (st->held && st->used[st->next & st->mask]) {
		st->used[st->next & st->mask] = 0;
		st->held--;
		st->cb.deliver(st->cb.ctx, &st->slots[st->next & st->mask]);
		st->next++;
	}
	if (!st->held)
		st->stalled = 0;
}

/* Gives up on the hole at next: reports it and moves to the next event. */
static void skip_hole(struct seqtrack *st)
{
	unsigned long long from = st->next;

	while (st->next < st->top && !st->used[st->next & st->mask])
		st->next++;
	if (st->next > from)
		st->cb.gap(st->cb.ctx, from, st->next - 1);
	drain(st);
}

void seqtrack_push(struct seqtrack *st, const struct tt_event *e)
{
	if (e->seq < st->next) {
		/* Its hole was already reported, and the lost record that covers
		 * it may be written: showing it too would put its seq in two
		 * records. It stays counted in that gap. */
		st->late++;
		if (st->cb.late)
			st->cb.late(st->cb.ctx, e);
		return;
	}
	if (e->seq == st->next && !st->held) {
		st->cb.deliver(st->cb.ctx, e);
		st->next++;
		return;
	}
	/* too far ahead for the window: the holes below can no longer wait */
	while (e->seq - st->next > st->mask) {
		unsigned long long from = st->next;

		if (st->used[st->next & st->mask]) {
			st->used[st->next & st->mask] = 0;
			st->held--;
			st->cb.deliver(st->cb.ctx, &st->slots[st->next & st->mask]);
			st->next++;
			continue;
		}
		while (!st->used[st->next & st->mask] && e->seq - st->next > st->mask)
			st->next++;
		st->cb.gap(st->cb.ctx, from, st->next - 1);
	}
	st->slots[e->seq & st->mask] = *e;
	if (!st->used[e->seq & st->mask])
		st->held++;
	st->used[e->seq & st->mask] = 1;
	if (e->seq + 1 > st->top)
		st->top = e->seq + 1;
	drain(st);
}

void seqtrack_settle(struct seqtrack *st, int force)
{
	if (!st->held)
		return;
	if (!force && ++st->stalled < 2)
		return;
	while (st->held)
		skip_hole(st);
	st->stalled = 0;
}

void seqtrack_finish(struct seqtrack *st, unsigned long long end_seq)
{
	seqtrack_settle(st, 1);
	if (end_seq > st->next) {
		st->cb.gap(st->cb.ctx, st->next, end_seq - 1);
		st->next = end_seq;
	}
}

unsigned long long seqtrack_late(const struct seqtrack *st)
{
	return st->late;
}
