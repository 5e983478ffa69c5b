// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * owners_scan against fake proc trees built in a temp dir. The expected
 * strings follow net-tools netstat's prg_cache_load rules (see owners.c);
 * tests/fixtures/netstat holds the same cases checked against real netstat.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "owners.h"

#include "fake_proc.h"


static void test_basic_names(void **state)
{
	struct tree *t = *state;
	struct owners *o = NULL;
	const char *comm = NULL;
	unsigned pid = 0;

	mk_proc(t, "100", CMD("/usr/sbin/sshd\0-D\0"), "sshd",
		FDS("3=socket:[12345]", "4=/dev/null", "5=socket:[12346]"));
	/* argv[0] not starting with '/' is kept whole */
	mk_proc(t, "200", CMD("./bin/tool\0x\0"), "tool", FDS("3=socket:[200]"));
	mk_proc(t, "201", CMD("bin/relative/x\0"), "x", FDS("3=socket:[201]"));
	/* a retitled process: the last '/' of the whole title counts */
	mk_proc(t, "500", CMD("/usr/sbin/sshd: root@pts/0"), "sshd", FDS("3=socket:[500]"));
	mk_proc(t, "501", CMD("sshd: root@pts/0"), "sshd", FDS("3=socket:[501]"));
	/* empty cmdline (kernel thread, exiting process): nothing after the slash */
	mk_proc(t, "600", CMD(""), "kworker", FDS("3=socket:[600]"));
	/* "PID/name" is cut to 19 bytes */
	mk_proc(t, "300", CMD("/opt/x/a_really_long_program_name_here\0"), "a_really_long_p",
		FDS("3=socket:[300]"));
	mk_proc(t, "4194303", CMD("/usr/bin/verylongname\0"), "verylongname",
		FDS("3=socket:[4194303]"));

	assert_int_equal(owners_scan(t->root, &o), 0);
	assert_non_null(o);
	assert_string_equal(owners_get(o, 12345), "100/sshd");
	assert_string_equal(owners_get(o, 12346), "100/sshd");
	assert_string_equal(owners_get(o, 200), "200/./bin/tool");
	assert_string_equal(owners_get(o, 201), "201/bin/relative/x");
	assert_string_equal(owners_get(o, 500), "500/0");
	/* 20 bytes: the last one is cut */
	assert_string_equal(owners_get(o, 501), "501/sshd: root@pts/");
	assert_string_equal(owners_get(o, 600), "600/");
	assert_string_equal(owners_get(o, 300), "300/a_really_long_p");
	assert_string_equal(owners_get(o, 4194303), "4194303/verylongnam");
	assert_int_equal(owners_count(o), 9);

	assert_int_equal(owners_lookup(o, 12345, &pid, &comm), 0);
	assert_int_equal(pid, 100);
	assert_string_equal(comm, "sshd");
	assert_int_equal(owners_lookup(o, 300, &pid, &comm), 0);
	assert_int_equal(pid, 300);
	assert_string_equal(comm, "a_really_long_p");
	assert_int_equal(owners_lookup(o, 600, NULL, NULL), 0);

	assert_null(owners_get(o, 0));
	assert_null(owners_get(o, 999999));
	assert_int_equal(owners_lookup(o, 999999, &pid, &comm), -ENOENT);
	assert_int_equal(owners_lookup(o, 0, &pid, &comm), -ENOENT);
	owners_free(&o);
	assert_null(o);
	owners_free(&o);
	owners_free(NULL);
}

/* Only what netstat reads from cmdline: its first 511 bytes. */
static void test_long_cmdline(void **state)
{
	struct tree *t = *state;
	struct owners *o = NULL;
	char cmd[700];
	size_t n = 0;
	int i;

	/* "/d/d/.../d/" fills exactly 511 bytes, then "end" */
	cmd[n++] = '/';
	for (i = 0; i < 300; i++) {
		cmd[n++] = 'd';
		cmd[n++] = '/';
	}
	memcpy(cmd + n, "end", 4);
	n += 4;
	mk_proc(t, "1000", cmd, n, "end", FDS("3=socket:[1000]"));
	assert_int_equal(owners_scan(t->root, &o), 0);
	assert_string_equal(owners_get(o, 1000), "1000/");
	owners_free(&o);
}

static void test_link_forms(void **state)
{
	struct tree *t = *state;
	struct owners *o = NULL;

	mk_proc(t, "800", CMD("/bin/x\0"), "x",
		FDS("3=socket:[7]",		/* needs two characters inside */
		    "4=socket:[0x4E2A]",	/* strtoul base 0: hex */
		    "5=[0000]:20011",		/* the old anonymous-inode form */
		    "6=socket:[020012]",	/* base 0: octal 020012 = 8202 */
		    "7=pipe:[20013]",
		    "8=socket:[200180000000000000000000]", /* > 29 bytes: cut, no ']' */
		    "9=socket:[+20019]",	/* strtoul takes a sign */
		    "10=socket:[12x]",
		    "11=socket:[18446744073709551615]", /* ULONG_MAX is refused */
		    "12=anon_inode:[eventpoll]"));
	mk_proc(t, "self", CMD("/bin/notapid\0"), "n", FDS("3=socket:[31337]"));
	mk_proc(t, "12a", CMD("/bin/notapid\0"), "n", FDS("3=socket:[31338]"));

	assert_int_equal(owners_scan(t->root, &o), 0);
	assert_null(owners_get(o, 7));
	assert_string_equal(owners_get(o, 0x4E2A), "800/x");
	assert_string_equal(owners_get(o, 20011), "800/x");
	assert_string_equal(owners_get(o, 8202), "800/x");
	assert_null(owners_get(o, 20012));
	assert_null(owners_get(o, 20013));
	assert_null(owners_get(o, 20018));
	assert_string_equal(owners_get(o, 20019), "800/x");
	assert_null(owners_get(o, 12));
	assert_null(owners_get(o, 31337));
	assert_null(owners_get(o, 31338));
	assert_int_equal(owners_count(o), 4);
	owners_free(&o);
}

/* Two processes holding one socket: the first in directory order wins. */
static void test_shared_inode_first_wins(void **state)
{
	struct tree *t = *state;
	struct owners *o = NULL;
	struct dirent *de;
	const char *first = NULL;
	char expect[NAME_MAX + 16];
	DIR *d;

	mk_proc(t, "41", CMD("/bin/parent\0"), "parent", FDS("3=socket:[4242]"));
	mk_proc(t, "42", CMD("/bin/child\0"), "child", FDS("3=socket:[4242]"));
	mk_proc(t, "43", CMD("/bin/third\0"), "third", FDS("3=socket:[4242]"));
	d = opendir(t->root);
	assert_non_null(d);
	while ((de = readdir(d)) && !first)
		if (de->d_name[0] == '4')
			first = de->d_name;
	assert_non_null(first);
	snprintf(expect, sizeof(expect), "%s/%s", first,
		 !strcmp(first, "41") ? "parent" : !strcmp(first, "42") ? "child" : "third");
	assert_int_equal(owners_scan(t->root, &o), 0);
	closedir(d);
	assert_string_equal(owners_get(o, 4242), expect);
	assert_int_equal(owners_count(o), 1);
	owners_free(&o);
}

/* Unreadable or half-gone processes are skipped, the rest still counts. */
static void test_broken_processes(void **state)
{
	struct tree *t = *state;
	struct owners *o = NULL;
	char path[PATH_MAX];
	const char *comm = NULL;

	mk_proc(t, "10", NULL, 0, "nocmd", FDS("3=socket:[1010]"));	/* no cmdline */
	mk_proc(t, "11", CMD("/bin/ok\0"), NULL, FDS("3=socket:[1111]")); /* no comm */
	snprintf(path, sizeof(path), "%s/12", t->root);		/* no fd dir */
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/13", t->root);		/* a file */
	assert_int_equal(close(open(path, O_CREAT | O_WRONLY, 0644)), 0);

	assert_int_equal(owners_scan(t->root, &o), 0);
	assert_null(owners_get(o, 1010));
	assert_string_equal(owners_get(o, 1111), "11/ok");
	assert_int_equal(owners_lookup(o, 1111, NULL, &comm), 0);
	assert_string_equal(comm, "");
	owners_free(&o);

	assert_int_equal(owners_scan("/nonexistent/proc", &o), -ENOENT);
	assert_null(o);
	assert_int_equal(owners_scan(NULL, &o), -EINVAL);
}

/* Enough sockets to grow the table several times. */
static void test_many_sockets(void **state)
{
	struct tree *t = *state;
	struct owners *o = NULL;
	char path[PATH_MAX], target[32], dir[16];
	unsigned p, i, inode = 100000;

	for (p = 0; p < 5; p++) {
		snprintf(dir, sizeof(dir), "%u", 7000 + p);
		mk_proc(t, dir, CMD("/usr/bin/server\0"), "server", NULL);
		for (i = 0; i < 6000; i++) {
			snprintf(path, sizeof(path), "%s/%s/fd/%u", t->root, dir, i);
			snprintf(target, sizeof(target), "socket:[%u]", inode++);
			assert_int_equal(symlink(target, path), 0);
		}
	}
	assert_int_equal(owners_scan(t->root, &o), 0);
	assert_int_equal(owners_count(o), 30000);
	for (inode = 100000; inode < 130000; inode += 997) {
		char expect[32];

		snprintf(expect, sizeof(expect), "%u/server", 7000 + (inode - 100000) / 6000);
		assert_string_equal(owners_get(o, inode), expect);
	}
	assert_null(owners_get(o, 130000));
	owners_free(&o);
}

/* The real /proc: a socket of ours is found under our pid. */
static void test_real_proc_self(void **state)
{
	struct owners *o = NULL;
	struct stat st;
	char prefix[32], comm[32] = "";
	const char *got, *gotcomm = NULL;
	unsigned pid = 0;
	FILE *f;
	int s;

	(void)state;
	s = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s >= 0);
	assert_int_equal(fstat(s, &st), 0);
	assert_int_equal(owners_scan("/proc", &o), 0);
	got = owners_get(o, st.st_ino);
	assert_non_null(got);
	snprintf(prefix, sizeof(prefix), "%d/", (int)getpid());
	assert_true(!strncmp(got, prefix, strlen(prefix)));
	assert_int_equal(owners_lookup(o, st.st_ino, &pid, &gotcomm), 0);
	assert_int_equal(pid, (unsigned)getpid());
	f = fopen("/proc/self/comm", "r");
	assert_non_null(f);
	assert_non_null(fgets(comm, sizeof(comm), f));
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	assert_string_equal(gotcomm, comm);
	owners_free(&o);
	close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_basic_names, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_long_cmdline, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_link_forms, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_shared_inode_first_wins, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_broken_processes, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_many_sockets, tree_setup, tree_teardown),
		cmocka_unit_test(test_real_proc_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
