/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_KFEAT_H
#define TT_KFEAT_H

/*
 * What the running kernel offers the BPF side, probed once at open time
 * from its BTF (or from --btf FILE), so that the loader picks the programs
 * that work here instead of failing on the first one that does not. Each
 * field says why the probe exists and which kernel brought the feature.
 */
struct kfeat {
	/* vmlinux BTF could be read: CO-RE, tp_btf and iterators need it (5.5) */
	int btf;
	/* the bpf_rdonly_cast kfunc (6.2): sockets found by address (timers,
	 * maps) are read with direct loads; without it, the compat object
	 * reads them with bpf_probe_read_kernel() (CO-RE reads) */
	int rdonly_cast;
	/* tracepoints sock:sock_send_length and sock_recv_length (6.3): a
	 * send or receive names the process using the socket (fork hand-off,
	 * accept by another worker); without them the owner changes only at
	 * a state change made in process context */
	int sock_length_tp;
	/* tp_btf on sock:inet_sock_set_state (5.5): the core of the tool */
	int set_state_tp;
	/* iter/tcp (5.9): the snapshot from the kernel's own socket tables,
	 * with cookies that join it to the stream; without it, /proc/net/tcp */
	int iter_tcp;
	/* sockets keep their cgroup v2 group, as a pointer (struct sock's
	 * sk_cgrp_data.cgroup: CONFIG_SOCK_CGROUP_DATA, a pointer since
	 * 5.15): records carry the socket's cgroup; without it they carry
	 * none, and --cgroup is refused */
	int sock_cgroup;
	/* PREEMPT_RT (task_struct.softirq_disable_cnt): softirqs run in
	 * threads, preemptibly, and the BPF side asks the task, not a
	 * per-CPU depth, whether it is serving one */
	int preempt_rt;
};

/*
 * Fills kf from the kernel's BTF, or from btf_path when given. Features
 * named in disable (a comma-separated list of field names, from the
 * environment variable TCPTRAIL_DISABLE) are reported absent: that runs
 * an older kernel's code paths on a newer one, for tests. Returns 0, or
 * -errno when no BTF could be read (kf->btf is then 0).
 */
int kfeat_probe(struct kfeat *kf, const char *btf_path, const char *disable);

/* 1 when name is in the comma-separated list (NULL: empty). */
int kfeat_listed(const char *list, const char *name);

/* The features on (or off, with on = 0) as a comma-separated list of
 * names, for the meta record and --version. */
void kfeat_names(const struct kfeat *kf, int on, char *buf, unsigned long size);

#endif
