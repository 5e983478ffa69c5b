// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Attaches bench/hookcost.bpf.c (empty timer_start and timer_cancel
 * programs), prints "attached", and holds them until SIGINT or SIGTERM.
 * For bench/fidelity.sh; needs root.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "hookcost.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(void)
{
	struct hookcost_bpf *skel = hookcost_bpf__open_and_load();
	int err;

	if (!skel) {
		fprintf(stderr, "hookcost: cannot load the BPF programs: %s (run as root)\n",
			strerror(errno));
		return 1;
	}
	err = hookcost_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "hookcost: cannot attach: %s\n", strerror(-err));
		hookcost_bpf__destroy(skel);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("attached\n");
	fflush(stdout);
	while (!stop)
		pause();
	hookcost_bpf__destroy(skel);
	return 0;
}
