// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The socket table (socktab.h). A slot is the key followed by the value,
 * rounded up to 8 bytes; the capacity is a power of two and the load stays
 * at most one half, where linear probing is still short.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "socktab.h"

#define MIN_CAP 64

struct socktab {
	unsigned char *slots;
	size_t slot_size, value_size;
	size_t cap;          /* a power of two */
	size_t n;            /* keys stored */
};

uint64_t socktab_hash(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t *slot_key(const struct socktab *t, size_t i)
{
	return (uint64_t *)(t->slots + i * t->slot_size);
}

static void *slot_value(const struct socktab *t, size_t i)
{
	return t->slots + i * t->slot_size + sizeof(uint64_t);
}

/* The slot of key, or the empty slot where it would go. */
static size_t probe(const unsigned char *slots, size_t slot_size, size_t cap, uint64_t key)
{
	size_t mask = cap - 1, i = (size_t)socktab_hash(key) & mask;
	uint64_t k;

	for (;;) {
		memcpy(&k, slots + i * slot_size, sizeof(k));
		if (!k || k == key)
			return i;
		i = (i + 1) & mask;
	}
}

static int resize(struct socktab *t, size_t cap)
{
	unsigned char *slots = calloc(cap, t->slot_size);

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		uint64_t k = *slot_key(t, i);

		if (k)
			memcpy(slots + probe(slots, t->slot_size, cap, k) * t->slot_size,
			       slot_key(t, i), t->slot_size);
	}
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return 0;
}

int socktab_new(struct socktab **out, size_t value_size, size_t expected)
{
	struct socktab *t = calloc(1, sizeof(*t));
	size_t cap = MIN_CAP;
	int err;

	*out = NULL;
	if (!t)
		return -ENOMEM;
	t->value_size = value_size;
	t->slot_size = (sizeof(uint64_t) + value_size + 7) & ~(size_t)7;
	while (cap < 2 * expected + 2)
		cap *= 2;
	err = resize(t, cap);
	if (err) {
		socktab_free(&t);
		return err;
	}
	*out = t;
	return 0;
}

void socktab_free(struct socktab **pt)
{
	struct socktab *t = pt ? *pt : NULL;

	if (!t)
		return;
	free(t->slots);
	free(t);
	*pt = NULL;
}

void *socktab_find(const struct socktab *t, uint64_t key)
{
	size_t i;

	if (!t || !key)
		return NULL;
	i = probe(t->slots, t->slot_size, t->cap, key);
	return *slot_key(t, i) ? slot_value(t, i) : NULL;
}

void *socktab_insert(struct socktab *t, uint64_t key, int *created)
{
	size_t i;

	*created = 0;
	if (!t || !key)
		return NULL;
	i = probe(t->slots, t->slot_size, t->cap, key);
	if (*slot_key(t, i))
		return slot_value(t, i);
	if (2 * (t->n + 1) > t->cap) {
		if (resize(t, 2 * t->cap))
			return NULL;
		i = probe(t->slots, t->slot_size, t->cap, key);
	}
	*slot_key(t, i) = key;
	memset(slot_value(t, i), 0, t->value_size);
	t->n++;
	*created = 1;
	return slot_value(t, i);
}

/* Backward-shift deletion: no tombstones, so lookups never slow down with
 * the churn of short connections. */
void socktab_delete(struct socktab *t, void *v)
{
	size_t mask = t->cap - 1;
	size_t i = (size_t)((unsigned char *)v - sizeof(uint64_t) - t->slots) / t->slot_size, j = i;

	for (;;) {
		uint64_t k;
		size_t home;

		j = (j + 1) & mask;
		k = *slot_key(t, j);
		if (!k)
			break;
		home = (size_t)socktab_hash(k) & mask;
		/* the entry at j may fill the hole at i unless its home slot
		 * lies cyclically in (i, j] */
		if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
			continue;
		memcpy(slot_key(t, i), slot_key(t, j), t->slot_size);
		i = j;
	}
	*slot_key(t, i) = 0;
	t->n--;
}

void socktab_prefetch(const struct socktab *t, uint64_t key)
{
	if (t)
		__builtin_prefetch(t->slots + ((size_t)socktab_hash(key) & (t->cap - 1)) * t->slot_size);
}

size_t socktab_count(const struct socktab *t)
{
	return t ? t->n : 0;
}

void *socktab_next(const struct socktab *t, size_t *pos, uint64_t *key)
{
	for (; t && *pos < t->cap; (*pos)++) {
		if (*slot_key(t, *pos)) {
			*key = *slot_key(t, *pos);
			return slot_value(t, (*pos)++);
		}
	}
	return NULL;
}
