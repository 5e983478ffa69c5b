/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The connection table: socket cookie -> connection (struct tt_conn), for
 * full sockets and for the timewait sockets that continue them (a timewait
 * socket keeps its full socket's cookie, so a connection keeps its entry
 * when it moves to TIME_WAIT).
 *
 * An array with open addressing, whose slots are claimed with a
 * compare-and-swap: no lock, no interrupt masking and no allocation on the
 * event path. A BPF hash map takes a bucket lock with interrupts off for
 * every insert and delete, and socket storage allocates and charges memory
 * for every socket (BENCHMARKS.md has what each cost here).
 *
 * A key lives in a window of CONNTAB_PROBE slots from its hash. A slot is
 * free (never used: it ends every search), holds a key, or is gone (used
 * and released: searches go on past it, a claim may take it). When a
 * window has no free or gone slot, the slot touched least recently is taken
 * over: an LRU over the window, and counted (TT_CNT_NO_ROOM), since that
 * connection's later records lose what the table knew (its owner).
 */
#ifndef TT_CONNTAB_BPF_H
#define TT_CONNTAB_BPF_H

#define CONNTAB_PROBE 8
#define KEY_FREE 0ULL       /* cookies start at 1 */
#define KEY_GONE (~0ULL)    /* neither a cookie nor a request id */

static __always_inline __u32 conn_hash(__u64 key)
{
	/* cookies count up: a multiplicative hash spreads neighbours */
	return (__u32)((key * 0x9E3779B97F4A7C15ULL) >> (64 - conntab_bits));
}

static __always_inline struct conn_slot *conn_slot(__u32 i)
{
	__u32 idx = i & ((1U << conntab_bits) - 1);

	return bpf_map_lookup_elem(&conntab, &idx);
}

/* The slot holding key, or NULL. */
static __always_inline struct conn_slot *conn_slot_of(__u64 key)
{
	__u32 h = conn_hash(key);

	for (int i = 0; i < CONNTAB_PROBE; i++) {
		struct conn_slot *s = conn_slot(h + i);

		if (!s || s->key == KEY_FREE)
			return 0;
		if (s->key == key)
			return s;
	}
	return 0;
}

static __always_inline struct tt_conn *conn_find(__u64 key)
{
	struct conn_slot *s = key ? conn_slot_of(key) : 0;

	return s ? &s->c : 0;
}

/*
 * The connection under key, claimed if new: then *fresh is 1 and the
 * connection zeroed. NULL when another CPU took the slot in the same
 * instant (the caller works from a copy for this event).
 */
static __always_inline struct tt_conn *conn_claim(__u64 key, __u64 now, int *fresh)
{
	__u32 h = conn_hash(key), victim = h;
	struct conn_slot *s, *take = 0;
	__u64 oldest = ~0ULL, was = 0;

	*fresh = 0;
	for (int i = 0; i < CONNTAB_PROBE; i++) {
		s = conn_slot(h + i);
		if (!s)
			return 0;
		if (s->key == key) {
			s->touched = now;
			return &s->c;
		}
		if (!take && (s->key == KEY_FREE || s->key == KEY_GONE)) {
			take = s;
			was = s->key;
		}
		if (s->key == KEY_FREE)
			break;
		if (s->touched < oldest) {
			oldest = s->touched;
			victim = h + i;
		}
	}
	if (!take) {
		take = conn_slot(victim);
		if (!take)
			return 0;
		was = take->key;
		count(TT_CNT_NO_ROOM);
	}
	if (__sync_val_compare_and_swap(&take->key, was, key) != was)
		return 0;
	__builtin_memset(&take->c, 0, sizeof(take->c));
	take->touched = now;
	*fresh = 1;
	return &take->c;
}

/* The connection's end: its slot can be claimed again. */
static __always_inline void conn_release(__u64 key)
{
	struct conn_slot *s = conn_slot_of(key);

	if (s)
		__sync_val_compare_and_swap(&s->key, key, KEY_GONE);
}

#endif
