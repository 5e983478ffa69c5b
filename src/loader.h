/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_LOADER_H
#define TT_LOADER_H

#include <linux/types.h>
#include "tcptrail.h"
#include "opts.h"

struct tt_bpf;
struct ring_buffer;

/* What the open-time probes found; reported in the meta record. */
struct tt_features {
	int timers;          /* timewait and request sockets are traced */
	int iter;            /* snapshot from iter/tcp (else /proc/net/tcp) */
	unsigned netns;      /* namespace traced, 0: all */
	char attach[512];    /* "tp_btf/inet_sock_set_state,..." */
	char features[128];  /* the kernel's, as kfeat names */
	char missing[128];
	int preempt_rt;
};

typedef int (*tt_event_fn)(void *ctx, void *data, size_t size);

/* open -> rodata and autoload -> load -> attach -> ring buffer. On failure
 * prints one lowercase message naming the cause and a fix, and returns
 * -errno with nothing left loaded. */
int loader_start(struct tt_bpf **out, const struct tt_opts *o, tt_event_fn fn, void *ctx);
void loader_stop(struct tt_bpf **b);   /* NULL-safe */
/* The reason the last loader_start() failed ("" if none). */
const char *loader_error(void);

/* The skeleton, for src/lsnown.c's maps and counters. */
struct tcptrail_bpf *loader_skel(const struct tt_bpf *b);
/* Marks process tgid as a listener's owner, whose exit the kernel side
 * watches. 0 or -errno (-ESRCH: gone). */
int loader_lsn_mark(struct tt_bpf *b, __u32 tgid);

/* NULL-safe: without BPF, no feature. */
const struct tt_features *loader_features(const struct tt_bpf *b);
struct ring_buffer *loader_ring(const struct tt_bpf *b);

/* Sum of one per-CPU counter (enum tt_counter). */
unsigned long long loader_counter(const struct tt_bpf *b, int idx);
/* State changes no inet_sock_set_state program took (nested in another
 * run on the same CPU: lost transitions), and timer hook runs the kernel
 * skipped (almost always an unrelated timer, but possibly the end of a
 * timewait or request socket, so counted apart). */
void loader_recursion_misses(const struct tt_bpf *b, unsigned long long *state,
			     unsigned long long *timers);
/* The next sequence number the BPF side will hand out. */
unsigned long long loader_next_seq(const struct tt_bpf *b);
/* The state changes that found the ring full, by kernel old and new state
 * (a running total). */
void loader_lost_trans(const struct tt_bpf *b, unsigned long long lost[TT_STATE_MAX][TT_STATE_MAX]);

/* Settles timer cancels parked on CPUs that went quiet (see bpf side). */
void loader_flush_pending(struct tt_bpf *b);

struct bpf_program;
struct bpf_link;
/* Attaches an iterator program and opens its reader: returns the fd to
 * read (and sets *link, to destroy after), or -errno. */
int loader_iter_open(struct bpf_program *prog, struct bpf_link **link);

/* Runs iter/tcp: fills *rows (malloc'd) with every TCP socket of this
 * network namespace. Returns 0 or -errno. */
int loader_snapshot(struct tt_bpf *b, struct tt_snap **rows, size_t *n);

/* Gives the BPF owner table what the snapshot learnt, without overwriting
 * what the BPF side learnt meanwhile. */
int loader_seed(struct tt_bpf *b, __u64 sk, const struct tt_conn *c);
int loader_seed_req(struct tt_bpf *b, const struct tt_tuple *t, __u64 req,
		    const struct tt_conn *c);
/* The id in the request table for request req at t (0, or -ENOENT when
 * another request or none holds the tuple). */
int loader_req_id(const struct tt_bpf *b, const struct tt_tuple *t, __u64 req, __u64 *id);

#endif
