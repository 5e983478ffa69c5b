// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Sockets' cgroups (cgroup.h): the container pattern table, the id cache. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cgroup.h"

/* ---- container ids and units --------------------------------------------- */

/*
 * Every layout tcptrail names, one row each. A component matches when it is
 * prefix + 64 hex digits + suffix and, if parent is set, the component
 * above it starts with parent. tests/unit/test_cgroup.c has a real path of
 * each.
 */
static const struct cg_pattern {
	const char *runtime;
	const char *parent;
	const char *prefix;
	const char *suffix;
} cg_patterns[] = {
	/* systemd driver: /system.slice/docker-<id>.scope */
	{ "docker", NULL, "docker-", ".scope" },
	/* cgroupfs driver: /docker/<id> */
	{ "docker", "docker", "", "" },
	/* Kubernetes, systemd driver: /kubepods.slice/kubepods-burstable.slice/
	 * kubepods-burstable-pod<uid>.slice/cri-containerd-<id>.scope */
	{ "containerd", NULL, "cri-containerd-", ".scope" },
	/* the same with CRI-O: .../crio-<id>.scope */
	{ "cri-o", NULL, "crio-", ".scope" },
	/* CRI-O, cgroupfs driver: /kubepods/burstable/pod<uid>/crio-<id> */
	{ "cri-o", NULL, "crio-", "" },
	/* containerd (or dockershim), cgroupfs driver:
	 * /kubepods/besteffort/pod<uid>/<id> */
	{ "kubernetes", "pod", "", "" },
	/* podman, systemd: /machine.slice/libpod-<id>.scope (rootless:
	 * /user.slice/.../user@1000.service/user.slice/libpod-<id>.scope) */
	{ "podman", NULL, "libpod-", ".scope" },
	/* podman, cgroupfs: /libpod_parent/libpod-<id> */
	{ "podman", NULL, "libpod-", "" },
};

static int is_hex64(const char *s, size_t n)
{
	if (n != CG_ID_LEN)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int starts(const char *s, size_t n, const char *prefix)
{
	size_t p = strlen(prefix);

	return n >= p && !memcmp(s, prefix, p);
}

/* The id in component c (n bytes) under parent (pn bytes), or NULL. */
static const char *match_component(const char *c, size_t n, const char *parent, size_t pn)
{
	for (size_t i = 0; i < sizeof(cg_patterns) / sizeof(cg_patterns[0]); i++) {
		const struct cg_pattern *p = &cg_patterns[i];
		size_t pl = strlen(p->prefix), sl = strlen(p->suffix);

		if (p->parent && (!parent || !starts(parent, pn, p->parent)))
			continue;
		if (n < pl + sl || !starts(c, n, p->prefix) || memcmp(c + n - sl, p->suffix, sl))
			continue;
		if (is_hex64(c + pl, n - pl - sl))
			return c + pl;
	}
	return NULL;
}

static const char *copy_out(const char *s, size_t n, char *buf, size_t size)
{
	if (!size || n >= size)
		return NULL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return buf;
}

const char *cgroup_container(const char *path, char *buf, size_t size)
{
	const char *end, *start, *unit = NULL, *id;
	size_t unit_len = 0;

	if (!path)
		return NULL;
	/* from the deepest component up: the innermost container wins */
	end = path + strlen(path);
	while (end > path) {
		const char *pstart, *pend;

		start = end;
		while (start > path && start[-1] != '/')
			start--;
		pend = start > path ? start - 1 : path;
		pstart = pend;
		while (pstart > path && pstart[-1] != '/')
			pstart--;
		id = match_component(start, end - start, pend > pstart ? pstart : NULL,
				     pend - pstart);
		if (id)
			return copy_out(id, CG_ID_LEN, buf, size);
		if (!unit && end - start > 8 && !memcmp(end - 8, ".service", 8)) {
			unit = start;
			unit_len = end - start;
		}
		end = start > path ? start - 1 : path;
	}
	return unit ? copy_out(unit, unit_len, buf, size) : NULL;
}

const char *cgroup_short(const char *container)
{
	static __thread char s[CG_SHORT_LEN + 1];

	if (!container || !is_hex64(container, strlen(container)))
		return container;
	memcpy(s, container, CG_SHORT_LEN);
	s[CG_SHORT_LEN] = '\0';
	return s;
}

int cgroup_path_within(const char *path, const char *sub)
{
	size_t n;

	if (!path)
		return 0;
	while (*path == '/')
		path++;
	while (*sub == '/')
		sub++;
	n = strlen(sub);
	while (n && sub[n - 1] == '/')
		n--;
	if (!n)
		return 1;   /* the root holds every group */
	return !strncmp(path, sub, n) && (path[n] == '\0' || path[n] == '/');
}

/* ---- the cgroup2 mount --------------------------------------------------- */

/* mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS] - FSTYPE SRC SOPTS";
 * octal escapes (\040) in the mount point are decoded. */
static int mount_line(const char *line, char *dir, size_t size)
{
	const char *sep = strstr(line, " - "), *p = line, *mp;
	size_t k = 0;

	if (!sep || strncmp(sep + 3, "cgroup2 ", 8))
		return -ENOENT;
	for (int field = 0; field < 4; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -ENOENT;
		p++;
	}
	for (mp = p; *mp && *mp != ' ' && k + 1 < size; mp++) {
		if (mp[0] == '\\' && mp[1] >= '0' && mp[1] <= '3' && mp[2] && mp[3]) {
			dir[k++] = (char)((mp[1] - '0') * 64 + (mp[2] - '0') * 8 + (mp[3] - '0'));
			mp += 3;
		} else {
			dir[k++] = *mp;
		}
	}
	if (!k || (*mp && *mp != ' '))
		return -ENOENT;
	dir[k] = '\0';
	return 0;
}

int cgroup_find_mount(const char *mountinfo, char *dir, size_t size)
{
	const char *line = mountinfo;

	while (line && *line) {
		const char *nl = strchr(line, '\n');
		char buf[4096];
		size_t n = nl ? (size_t)(nl - line) : strlen(line);

		if (n < sizeof(buf)) {
			memcpy(buf, line, n);
			buf[n] = '\0';
			if (!mount_line(buf, dir, size))
				return 0;
		}
		line = nl ? nl + 1 : NULL;
	}
	return -ENOENT;
}

/* ---- the id cache ---------------------------------------------------------- */

struct cg_entry {
	unsigned long long id;      /* 0: empty slot */
	char *path;                 /* NULL: not found (yet) */
	char *container;
	int missed;                 /* walked for, not found: the group is gone */
};

struct cgroups {
	char root[4096];            /* "" without cgroup v2 */
	int hidden;                 /* cgroup2 is mounted, not in this mount namespace */
	struct cg_entry *tab;
	size_t cap, n;              /* cap a power of two */
};

static size_t slot_of(const struct cgroups *c, unsigned long long id)
{
	size_t i = (size_t)(id * 0x9e3779b97f4a7c15ULL) & (c->cap - 1);

	while (c->tab[i].id && c->tab[i].id != id)
		i = (i + 1) & (c->cap - 1);
	return i;
}

static int grow(struct cgroups *c)
{
	struct cg_entry *old = c->tab;
	size_t ocap = c->cap;

	c->cap = ocap ? ocap * 2 : 256;
	c->tab = calloc(c->cap, sizeof(*c->tab));
	if (!c->tab) {
		c->tab = old;
		c->cap = ocap;
		return -ENOMEM;
	}
	for (size_t i = 0; i < ocap; i++)
		if (old[i].id)
			c->tab[slot_of(c, old[i].id)] = old[i];
	free(old);
	return 0;
}

/* The entry of id, made when missing (NULL: no memory). */
static struct cg_entry *entry(struct cgroups *c, unsigned long long id)
{
	size_t i;

	if ((c->n + 1) * 4 > c->cap * 3 && grow(c))
		return NULL;
	i = slot_of(c, id);
	if (!c->tab[i].id) {
		c->tab[i].id = id;
		c->n++;
	}
	return &c->tab[i];
}

static void set_path(struct cg_entry *e, const char *path)
{
	char buf[CG_NAME_MAX];
	const char *ct;

	/* a path once found stays: the group may be gone since, and its id is
	 * never another group's (kernfs ids carry a generation above the
	 * cyclic 32-bit number) */
	if (e->path)
		return;
	e->path = strdup(path);
	ct = cgroup_container(path, buf, sizeof(buf));
	e->container = ct ? strdup(ct) : NULL;
}

/* nftw has no context argument: the walk in progress. */
static struct cgroups *walking;

static int walk_one(const char *fpath, const struct stat *st, int type, struct FTW *ftw)
{
	struct cg_entry *e;
	const char *rel = fpath + strlen(walking->root);

	(void)ftw;
	if (type != FTW_D)
		return FTW_CONTINUE;
	e = entry(walking, (unsigned long long)st->st_ino);
	if (!e)
		return FTW_STOP;   /* no memory: the rest stays unknown */
	set_path(e, *rel ? rel : "/");
	return FTW_CONTINUE;
}

/* Every group's id and path: a few hundred directories on a busy host. */
static void walk(struct cgroups *c)
{
	walking = c;
	nftw(c->root, walk_one, 16, FTW_PHYS | FTW_MOUNT | FTW_ACTIONRETVAL);
	walking = NULL;
}

int cgroups_open_at(struct cgroups **out, const char *root)
{
	struct cgroups *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c)
		return -ENOMEM;
	if (root && strlen(root) < sizeof(c->root)) {
		strcpy(c->root, root);
		/* "/" as a root would make every relative path lose its slash */
		if (!strcmp(c->root, "/"))
			c->root[0] = '\0';
	}
	if (grow(c)) {
		free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

/* /proc/self/cgroup has a "0::" line once cgroup2 has been mounted
 * anywhere (the kernel's cgrp_dfl_visible): then the ids mean something,
 * even where this mount namespace does not show the mount. */
static int v2_in_use(const char *proc_cgroup)
{
	FILE *f = fopen(proc_cgroup, "re");
	char line[256];
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = !strncmp(line, "0::", 3);
	fclose(f);
	return found;
}

int cgroups_open(struct cgroups **out, const char *mountinfo_path, const char *proc_cgroup)
{
	char *text = NULL, dir[4096];
	size_t len = 0;
	FILE *f = fopen(mountinfo_path ? mountinfo_path : "/proc/self/mountinfo", "re");
	int err;

	if (f) {
		ssize_t n = getdelim(&text, &len, '\0', f);

		fclose(f);
		if (n < 0) {
			free(text);
			text = NULL;
		}
	}
	err = text ? cgroup_find_mount(text, dir, sizeof(dir)) : -ENOENT;
	free(text);
	if (cgroups_open_at(out, err ? NULL : dir))
		return -ENOMEM;
	(*out)->hidden = err && v2_in_use(proc_cgroup ? proc_cgroup : "/proc/self/cgroup");
	return 0;
}

int cgroups_v2(const struct cgroups *c)
{
	return !c ? CG_V2_NONE : c->root[0] ? CG_V2_MOUNTED : c->hidden ? CG_V2_HIDDEN : CG_V2_NONE;
}

const char *cgroups_v2_name(const struct cgroups *c)
{
	static const char *const names[] = {
		[CG_V2_NONE] = "not_in_use", [CG_V2_MOUNTED] = "mounted", [CG_V2_HIDDEN] = "not_visible",
	};

	return names[cgroups_v2(c)];
}

void cgroups_free(struct cgroups **pc)
{
	struct cgroups *c = pc ? *pc : NULL;

	if (!c)
		return;
	for (size_t i = 0; i < c->cap; i++) {
		free(c->tab[i].path);
		free(c->tab[i].container);
	}
	free(c->tab);
	free(c);
	*pc = NULL;
}

const char *cgroups_root(const struct cgroups *c)
{
	return c && c->root[0] ? c->root : NULL;
}

void cgroups_ref(struct cgroups *c, unsigned long long id, struct tt_cgref *out)
{
	struct cg_entry *e;

	/* without cgroup v2 every socket holds the v2 root, which no mount
	 * shows: an id that means nothing is not shown either */
	*out = (struct tt_cgref){ .present = 1, .id = cgroups_v2(c) != CG_V2_NONE ? id : 0 };
	if (!out->id || !c->root[0])
		return;
	e = entry(c, id);
	/* an id not seen yet: a group made since the last walk, so walk
	 * again, once per id; not found then, it is gone for good */
	if (e && !e->path && !e->missed) {
		walk(c);
		e = entry(c, id);
		if (e && !e->path)
			e->missed = 1;
	}
	if (e && e->path) {
		out->path = e->path;
		out->container = e->container;
	}
}

/* "/a/b" (no "." or ".." component, no "//") and its depth; trailing
 * slashes are dropped. */
static int clean_path(const char *in, char *out, size_t size, unsigned *level)
{
	size_t k = 0;
	const char *p = in;

	*level = 0;
	while (*p) {
		const char *q;
		size_t n;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		q = strchr(p, '/');
		n = q ? (size_t)(q - p) : strlen(p);
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return -EINVAL;
		if (k + n + 2 > size)
			return -ENAMETOOLONG;
		out[k++] = '/';
		memcpy(out + k, p, n);
		k += n;
		p += n;
		++*level;
	}
	if (!k)
		out[k++] = '/';
	out[k] = '\0';
	return 0;
}

int cgroups_resolve(struct cgroups *c, const char *path, unsigned long long *id,
		    unsigned *level, char *canon, size_t size)
{
	size_t rl = strlen(c->root);
	char full[8192];
	struct stat st;
	int err;

	if (!c->root[0])
		return -EOPNOTSUPP;
	/* the mount point's own path names the same group */
	if (!strncmp(path, c->root, rl) && (path[rl] == '/' || !path[rl]))
		path += rl;
	err = clean_path(path, canon, size, level);
	if (err)
		return err;
	if ((size_t)snprintf(full, sizeof(full), "%s%s", c->root, canon) >= sizeof(full))
		return -ENAMETOOLONG;
	if (stat(full, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	*id = (unsigned long long)st.st_ino;
	return 0;
}
