// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * src/cgroup.c: the container pattern table, one real path shape per
 * layout; the cgroup2 mount in mountinfo; subtree matching; and the id
 * cache on a directory tree of its own (a cgroup's id is its directory's
 * inode number, which any directory has).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cgroup.h"

#define ID64 "4f1e2c3b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff001"
#define ID64B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define POD "pod8a3b2c1d_4e5f_6789_abcd_ef0123456789"

static void expect(const char *path, const char *want)
{
	char buf[CG_NAME_MAX];
	const char *got = cgroup_container(path, buf, sizeof(buf));

	if (!want) {
		if (got)
			fail_msg("%s: got \"%s\", want none", path ? path : "(null)", got);
		return;
	}
	if (!got || strcmp(got, want))
		fail_msg("%s: got \"%s\", want \"%s\"", path ? path : "(null)", got ? got : "(none)", want);
}

static void test_docker(void **state)
{
	(void)state;
	/* systemd cgroup driver */
	expect("/system.slice/docker-" ID64 ".scope", ID64);
	/* cgroupfs driver */
	expect("/docker/" ID64, ID64);
	/* the daemon itself is a unit */
	expect("/system.slice/docker.service", "docker.service");
	/* not 64 hex digits: no id */
	expect("/system.slice/docker-" "4f1e2c3b5a69" ".scope", NULL);
	expect("/docker/" "4F1E2C3B5A69788796A5B4C3D2E1F00112233445566778899AABBCCDDEEFF001", NULL);
}

static void test_kubernetes_containerd(void **state)
{
	(void)state;
	/* systemd driver */
	expect("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-"
	       "pod8a3b2c1d_4e5f_6789_abcd_ef0123456789.slice/cri-containerd-" ID64 ".scope", ID64);
	expect("/kubepods.slice/kubepods-" POD ".slice/cri-containerd-" ID64B ".scope", ID64B);
	/* cgroupfs driver: the bare id under the pod */
	expect("/kubepods/burstable/" POD "/" ID64, ID64);
	expect("/kubepods/" POD "/" ID64B, ID64B);
	/* a pod without a container (its sandbox's cgroup) */
	expect("/kubepods/burstable/" POD, NULL);
}

static void test_kubernetes_crio(void **state)
{
	(void)state;
	expect("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-" POD
	       ".slice/crio-" ID64 ".scope", ID64);
	/* cgroupfs driver */
	expect("/kubepods/besteffort/" POD "/crio-" ID64, ID64);
	/* conmon is not the container */
	expect("/kubepods.slice/kubepods-" POD ".slice/crio-conmon-" ID64 ".scope", NULL);
}

static void test_podman(void **state)
{
	(void)state;
	expect("/machine.slice/libpod-" ID64 ".scope", ID64);
	/* rootless, and the inner cgroup podman makes with --cgroupns */
	expect("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID64
	       ".scope/container", ID64);
	/* cgroupfs manager */
	expect("/libpod_parent/libpod-" ID64, ID64);
}

static void test_units_and_none(void **state)
{
	(void)state;
	expect("/system.slice/nginx.service", "nginx.service");
	expect("/system.slice/systemd-resolved.service", "systemd-resolved.service");
	/* the deepest unit: a user's service, not the user manager */
	expect("/user.slice/user-1000.slice/user@1000.service/app.slice/pipewire.service",
	       "pipewire.service");
	/* a unit's own sub-group */
	expect("/system.slice/containerd.service/payload", "containerd.service");
	expect("/user.slice/user-1000.slice/session-3.scope", NULL);
	expect("/", NULL);
	expect("", NULL);
	expect("/init.scope", NULL);
	expect("/.service", NULL);
	expect(NULL, NULL);
	/* the innermost container wins over an enclosing one and a unit */
	expect("/system.slice/docker-" ID64 ".scope/docker/" ID64B, ID64B);
}

static void test_short(void **state)
{
	(void)state;
	assert_string_equal(cgroup_short(ID64), "4f1e2c3b5a69");
	assert_string_equal(cgroup_short("nginx.service"), "nginx.service");
	assert_null(cgroup_short(NULL));
}

static void test_path_within(void **state)
{
	(void)state;
	assert_true(cgroup_path_within("/a/b", "/a"));
	assert_true(cgroup_path_within("/a/b", "/a/b"));
	assert_true(cgroup_path_within("/a/b", "/a/b/"));
	assert_true(cgroup_path_within("/a/b", "a"));
	assert_true(cgroup_path_within("/a/b", "/"));
	assert_false(cgroup_path_within("/ab", "/a"));
	assert_false(cgroup_path_within("/a", "/a/b"));
	assert_false(cgroup_path_within(NULL, "/"));
}

static void test_mountinfo(void **state)
{
	char dir[256];
	const char *hybrid =
		"22 28 0:20 / /sys rw,nosuid shared:7 - sysfs sysfs rw\n"
		"30 22 0:26 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755\n"
		"31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw\n"
		"32 30 0:28 / /sys/fs/cgroup/systemd rw shared:11 - cgroup cgroup rw,name=systemd\n";
	const char *pure = "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev shared:9 - cgroup2 cgroup2 rw\n";
	const char *v1 = "32 30 0:28 / /sys/fs/cgroup/systemd rw shared:11 - cgroup cgroup rw\n";
	const char *escaped = "35 24 0:30 / /mnt/c\\040g rw - cgroup2 none rw";

	(void)state;
	assert_int_equal(cgroup_find_mount(hybrid, dir, sizeof(dir)), 0);
	assert_string_equal(dir, "/sys/fs/cgroup/unified");
	assert_int_equal(cgroup_find_mount(pure, dir, sizeof(dir)), 0);
	assert_string_equal(dir, "/sys/fs/cgroup");
	assert_int_equal(cgroup_find_mount(v1, dir, sizeof(dir)), -ENOENT);
	assert_int_equal(cgroup_find_mount("", dir, sizeof(dir)), -ENOENT);
	assert_int_equal(cgroup_find_mount(escaped, dir, sizeof(dir)), 0);
	assert_string_equal(dir, "/mnt/c g");
}

static unsigned long long ino_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (unsigned long long)st.st_ino;
}

/* A tree standing for a cgroup2 mount: ids resolve to paths, a new group
 * is found by a new walk, a path once found stays after its removal, a
 * group removed before being seen stays unknown. */
static void test_cache(void **state)
{
	char root[] = "/tmp/tt-cgroup-XXXXXX", p[512], canon[512];
	unsigned long long id_scope, id_late, id_gone, id;
	struct cgroups *c = NULL;
	struct tt_cgref ref;
	unsigned level;

	(void)state;
	assert_non_null(mkdtemp(root));
	snprintf(p, sizeof(p), "%s/system.slice", root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/system.slice/docker-" ID64 ".scope", root);
	assert_int_equal(mkdir(p, 0755), 0);
	id_scope = ino_of(p);
	assert_int_equal(cgroups_open_at(&c, root), 0);
	assert_string_equal(cgroups_root(c), root);
	assert_int_equal(cgroups_v2(c), CG_V2_MOUNTED);
	assert_string_equal(cgroups_v2_name(c), "mounted");

	cgroups_ref(c, id_scope, &ref);
	assert_int_equal(ref.present, 1);
	assert_int_equal(ref.id, id_scope);
	assert_string_equal(ref.path, "/system.slice/docker-" ID64 ".scope");
	assert_string_equal(ref.container, ID64);
	cgroups_ref(c, ino_of(root), &ref);
	assert_string_equal(ref.path, "/");
	assert_null(ref.container);

	/* made after the first walk */
	snprintf(p, sizeof(p), "%s/system.slice/late.service", root);
	assert_int_equal(mkdir(p, 0755), 0);
	id_late = ino_of(p);
	cgroups_ref(c, id_late, &ref);
	assert_string_equal(ref.path, "/system.slice/late.service");
	assert_string_equal(ref.container, "late.service");

	/* made and removed unseen: the id alone (before any other removal:
	 * a file system other than cgroup2 may hand the inode out again) */
	snprintf(p, sizeof(p), "%s/gone", root);
	assert_int_equal(mkdir(p, 0755), 0);
	id_gone = ino_of(p);
	assert_int_equal(rmdir(p), 0);
	cgroups_ref(c, id_gone, &ref);
	assert_int_equal(ref.id, id_gone);
	assert_null(ref.path);
	assert_null(ref.container);

	/* removed after being seen: still named */
	snprintf(p, sizeof(p), "%s/system.slice/late.service", root);
	assert_int_equal(rmdir(p), 0);
	cgroups_ref(c, id_late, &ref);
	assert_string_equal(ref.path, "/system.slice/late.service");

	/* id 0: not known */
	cgroups_ref(c, 0, &ref);
	assert_int_equal(ref.present, 1);
	assert_int_equal(ref.id, 0);
	assert_null(ref.path);

	/* --cgroup: relative, under the mount point, with trailing slashes */
	snprintf(p, sizeof(p), "%s/system.slice/docker-" ID64 ".scope", root);
	assert_int_equal(cgroups_resolve(c, "/system.slice/docker-" ID64 ".scope", &id, &level,
					 canon, sizeof(canon)), 0);
	assert_int_equal(id, id_scope);
	assert_int_equal(level, 2);
	assert_int_equal(cgroups_resolve(c, p, &id, &level, canon, sizeof(canon)), 0);
	assert_int_equal(id, id_scope);
	assert_string_equal(canon, "/system.slice/docker-" ID64 ".scope");
	assert_int_equal(cgroups_resolve(c, "system.slice//", &id, &level, canon, sizeof(canon)), 0);
	assert_int_equal(level, 1);
	assert_string_equal(canon, "/system.slice");
	assert_int_equal(cgroups_resolve(c, "/", &id, &level, canon, sizeof(canon)), 0);
	assert_int_equal(level, 0);
	assert_int_equal(id, ino_of(root));
	assert_int_equal(cgroups_resolve(c, "/nope", &id, &level, canon, sizeof(canon)), -ENOENT);
	assert_int_equal(cgroups_resolve(c, "/system.slice/../x", &id, &level, canon, sizeof(canon)),
			 -EINVAL);

	cgroups_free(&c);
	assert_null(c);
	snprintf(p, sizeof(p), "%s/system.slice/docker-" ID64 ".scope", root);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/system.slice", root);
	rmdir(p);
	rmdir(root);
}

/* No cgroup2 mount: ids are not shown, --cgroup is refused. */
static void test_no_cgroup2(void **state)
{
	char mi[] = "/tmp/tt-mountinfo-XXXXXX", pc[] = "/tmp/tt-proc-cgroup-XXXXXX", canon[64];
	struct cgroups *c = NULL;
	unsigned long long id;
	struct tt_cgref ref;
	unsigned level;
	int fd;

	(void)state;
	fd = mkstemp(mi);
	assert_true(fd >= 0);
	assert_true(write(fd, "32 30 0:28 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n", 58) == 58);
	close(fd);
	assert_int_equal(cgroups_open(&c, mi, "/nonexistent"), 0);
	assert_null(cgroups_root(c));
	assert_int_equal(cgroups_v2(c), CG_V2_NONE);
	assert_string_equal(cgroups_v2_name(c), "not_in_use");
	cgroups_ref(c, 1, &ref);
	assert_int_equal(ref.present, 1);
	assert_int_equal(ref.id, 0);
	assert_null(ref.path);
	assert_int_equal(cgroups_resolve(c, "/x", &id, &level, canon, sizeof(canon)), -EOPNOTSUPP);
	cgroups_free(&c);

	/* mounted elsewhere (a "0::" line): the ids stay, without paths */
	fd = mkstemp(pc);
	assert_true(fd >= 0);
	assert_true(write(fd, "12:cpu:/\n0::/system.slice/x.service\n", 37) == 37);
	close(fd);
	assert_int_equal(cgroups_open(&c, mi, pc), 0);
	assert_int_equal(cgroups_v2(c), CG_V2_HIDDEN);
	assert_string_equal(cgroups_v2_name(c), "not_visible");
	cgroups_ref(c, 4242, &ref);
	assert_int_equal(ref.id, 4242);
	assert_null(ref.path);
	assert_null(ref.container);
	cgroups_free(&c);
	unlink(mi);
	unlink(pc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docker),
		cmocka_unit_test(test_kubernetes_containerd),
		cmocka_unit_test(test_kubernetes_crio),
		cmocka_unit_test(test_podman),
		cmocka_unit_test(test_units_and_none),
		cmocka_unit_test(test_short),
		cmocka_unit_test(test_path_within),
		cmocka_unit_test(test_mountinfo),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_no_cgroup2),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
