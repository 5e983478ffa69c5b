/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The socket table: an open-addressing hash table from a 64-bit key (a
 * socket id, a socket inode, a pid) to a fixed-size value, with linear
 * probing, deletion without tombstones and growth. The snapshot/stream
 * join (join.c), the -s counts (stats.c: sockets and processes) and the
 * snapshot's owners (owners.c) each keep one.
 *
 * Key 0 is never stored (ids, cookies and inodes are never 0; a pid is
 * stored as pid + 1). An insert may move every value: a pointer returned
 * by socktab_find() or socktab_insert() is valid until the next insert or
 * delete.
 */
#ifndef TT_SOCKTAB_H
#define TT_SOCKTAB_H

#include <stddef.h>
#include <stdint.h>

struct socktab;

/*
 * A table of values of value_size bytes, sized so that expected entries
 * fit without growing (a snapshot of 100k sockets is sized once: a growing
 * table holds two tables during the rehash). Returns 0 or -ENOMEM.
 */
int socktab_new(struct socktab **out, size_t value_size, size_t expected);
void socktab_free(struct socktab **t);   /* NULL-safe, sets *t = NULL */

/* The value of key, or NULL (always NULL for key 0 and a NULL table). */
void *socktab_find(const struct socktab *t, uint64_t key);
/*
 * The value of key, zeroed and marked *created when it was not there;
 * NULL for key 0 or when the table cannot grow (no memory): callers count
 * what they could not keep.
 */
void *socktab_insert(struct socktab *t, uint64_t key, int *created);
/* Removes the entry whose value is v (from socktab_find or _insert). */
void socktab_delete(struct socktab *t, void *v);

/* A hint: key will be looked up soon (its home slot is fetched into the
 * cache meanwhile, so that several lookups' misses overlap). */
void socktab_prefetch(const struct socktab *t, uint64_t key);

size_t socktab_count(const struct socktab *t);
/*
 * Iteration in slot order: *pos starts at 0; returns the next value and
 * sets *key, or NULL at the end. No insert or delete while iterating.
 */
void *socktab_next(const struct socktab *t, size_t *pos, uint64_t *key);

/* The table's hash: splitmix64's finalizer (cookies count up from 1,
 * request ids from 1 << 63, inodes are mostly sequential: all need their
 * bits spread over the low ones). */
uint64_t socktab_hash(uint64_t key);

#endif
