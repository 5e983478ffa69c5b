/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Why inet_sock_set_state has three programs, and how they share events.
 *
 * The kernel skips a program that is already running on the CPU (its
 * recursion guard), so a state change from an interrupt that lands while
 * the hook runs would be lost. So three programs are attached to the
 * tracepoint (tt_set_state, tt_set_state_irq, tt_set_state_nest2 in
 * tcptrail.bpf.c), and the kernel calls them one after the other for every
 * event: the first takes every event it is run for; the others take an
 * event only if no program took it yet. What was taken is known by the
 * events themselves: each program that takes one records (socket, old and
 * new state) in a small per-CPU ring, before any other work; the others
 * look for it there.
 *
 * An interrupt can land anywhere, even inside the kernel's own code around
 * a program (where no flag of ours could be set), and the rule still
 * holds: an event the first program was skipped for is not recorded, so
 * the second takes it. The first program's latest event is also kept on
 * its own, the common and cheap check. The ring is large because a softirq
 * batch can land between the first program's end and the second's check,
 * and overwrite the first program's record of it (a batch of 256 did, once
 * in 600,000 events under churn). A softirq run ends after netdev_budget
 * packets or 2 ms, far fewer events than TAKEN_RING.
 *
 * The loss is then exact: the kernel's count of the first program's skips
 * (its recursion_misses), less the events the others took
 * (TT_CNT_STATE_NESTED): loader_recursion_misses().
 */
#ifndef TT_TAKEN_BPF_H
#define TT_TAKEN_BPF_H

static __always_inline struct taken *taken_ring(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&taken, &zero);
}

/*
 * An event: the socket's cookie and the two states. Not its address: a
 * socket freed and another made at the same address soon after makes the
 * same transitions (with a ring this long under churn, often).
 */
static __always_inline __u64 taken_key(__u64 ck, int oldstate, int newstate)
{
	return ck << 16 | (oldstate & 0xff) << 8 | (newstate & 0xff);
}

static __always_inline void take(struct taken *tk, __u64 key)
{
	/* atomic: a nested taker gets a slot of its own */
	__u32 i = __sync_fetch_and_add(&tk->head, 1) & (TAKEN_RING - 1);

	tk->key[i] = key;
}

struct taken_scan {
	struct taken *tk;
	__u64 key, head;
	__u32 found, pad;
};

/* bpf_loop callback: slot head - 1 - i, newest first; 1 stops the loop */
static long taken_slot(__u32 i, struct taken_scan *s)
{
	if (s->tk->key[(s->head - 1 - i) & (TAKEN_RING - 1)] == s->key) {
		s->found = 1;
		return 1;
	}
	return 0;
}

static __always_inline int taken_already(struct taken *tk, __u64 key)
{
	struct taken_scan s = { .tk = tk, .key = key, .head = tk->head };

	/* nearly always the event the first program just took */
	if (tk->first == key)
		return 1;
	/* Newest first: an event taken by the second program is found at
	 * once by the third. Only an event nobody took is scanned to the end,
	 * a few hundred times per million events under heavy churn. */
	bpf_loop(TAKEN_RING, taken_slot, &s, 0);
	return s.found;
}

/* The first program: records the event as taken, and returns its cookie. */
static __always_inline __u64 take_first(struct sock *sk, int oldstate, int newstate, int *ok)
{
	struct taken *tk = taken_ring();
	__u64 ck;

	*ok = 0;
	if (!tk)
		return 0;
	ck = sock_cookie(sk);
	tk->first = taken_key(ck, oldstate, newstate);
	take(tk, tk->first);
	*ok = 1;
	return ck;
}

/* The second and third programs: take the event only if nobody did. */
static __always_inline __u64 take_nested(struct sock *sk, int oldstate, int newstate, int level,
					 int *ok)
{
	struct taken *tk = taken_ring();
	__u64 ck, key;

	*ok = 0;
	if (!tk)
		return 0;
	ck = sock_cookie(sk);
	key = taken_key(ck, oldstate, newstate);
	if (taken_already(tk, key))
		return 0;
	take(tk, key);
	count(level == 2 ? TT_CNT_STATE_NESTED2 : TT_CNT_STATE_NESTED);
	*ok = 1;
	return ck;
}

#endif
