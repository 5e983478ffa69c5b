// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Empty programs on the two timer tracepoints tcptrail needs for TIME_WAIT
 * and half-open sockets. bench/fidelity.sh runs them beside
 * `tcptrail --state-only` to price the dispatch alone: every timer in the
 * system runs them, whatever they do.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/timer_start")
int BPF_PROG(bench_timer_start, struct timer_list *timer, unsigned long expires)
{
	return 0;
}

SEC("tp_btf/timer_cancel")
int BPF_PROG(bench_timer_cancel, struct timer_list *timer)
{
	return 0;
}
