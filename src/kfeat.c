// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Kernel feature probes: one read of the kernel's BTF at open time. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "kfeat.h"

static const struct {
	const char *name;
	size_t off;
} names[] = {
	{ "set_state_tp", offsetof(struct kfeat, set_state_tp) },
	{ "rdonly_cast", offsetof(struct kfeat, rdonly_cast) },
	{ "sock_length_tp", offsetof(struct kfeat, sock_length_tp) },
	{ "iter_tcp", offsetof(struct kfeat, iter_tcp) },
	{ "sock_cgroup", offsetof(struct kfeat, sock_cgroup) },
};

#define NNAMES (sizeof(names) / sizeof(names[0]))

static int *field(struct kfeat *kf, size_t i)
{
	return (int *)((char *)kf + names[i].off);
}

int kfeat_listed(const char *list, const char *name)
{
	size_t n = strlen(name);

	while (list && *list) {
		const char *end = strchr(list, ',');
		size_t len = end ? (size_t)(end - list) : strlen(list);

		if (len == n && !strncmp(list, name, n))
			return 1;
		list = end ? end + 1 : NULL;
	}
	return 0;
}

/* A tracepoint has a "btf_trace_<name>" typedef in the kernel's BTF: what
 * tp_btf attaches by. */
static int has_tracepoint(const struct btf *btf, const char *tp)
{
	char name[128];

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	return btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF) > 0;
}

static int has_member(const struct btf *btf, const char *type, const char *member)
{
	int id = btf__find_by_name_kind(btf, type, BTF_KIND_STRUCT);
	const struct btf_type *t;
	const struct btf_member *m;

	if (id <= 0)
		return 0;
	t = btf__type_by_id(btf, id);
	m = btf_members(t);
	for (int i = 0; i < btf_vlen(t); i++, m++)
		if (!strcmp(btf__name_by_offset(btf, m->name_off), member))
			return 1;
	return 0;
}

int kfeat_probe(struct kfeat *kf, const char *btf_path, const char *disable)
{
	struct btf *btf;
	int err;

	memset(kf, 0, sizeof(*kf));
	if (kfeat_listed(disable, "btf"))
		return -ENOENT;
	btf = btf_path ? btf__parse(btf_path, NULL) : btf__load_vmlinux_btf();
	err = libbpf_get_error(btf);
	if (err)
		return err < 0 ? err : -err;
	kf->btf = 1;
	kf->rdonly_cast = btf__find_by_name_kind(btf, "bpf_rdonly_cast", BTF_KIND_FUNC) > 0;
	kf->set_state_tp = has_tracepoint(btf, "inet_sock_set_state");
	kf->sock_length_tp = has_tracepoint(btf, "sock_send_length") &&
			     has_tracepoint(btf, "sock_recv_length");
	kf->iter_tcp = btf__find_by_name_kind(btf, "bpf_iter__tcp", BTF_KIND_STRUCT) > 0;
	kf->preempt_rt = has_member(btf, "task_struct", "softirq_disable_cnt");
	kf->sock_cgroup = has_member(btf, "sock", "sk_cgrp_data") &&
			  has_member(btf, "sock_cgroup_data", "cgroup");
	btf__free(btf);
	for (size_t i = 0; i < NNAMES; i++)
		if (kfeat_listed(disable, names[i].name))
			*field(kf, i) = 0;
	return 0;
}

void kfeat_names(const struct kfeat *kf, int on, char *buf, unsigned long size)
{
	size_t len = 0;

	if (size)
		buf[0] = '\0';
	for (size_t i = 0; i < NNAMES && len < size; i++) {
		if (!*field((struct kfeat *)kf, i) != !on)
			continue;
		len += snprintf(buf + len, size - len, "%s%s", len ? "," : "", names[i].name);
	}
}
