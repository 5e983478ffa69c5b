// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* --rotate-to: the rotated file's name, and the rename that never replaces. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rotate.h"

static int refuse(const char **why, const char *reason, int err)
{
	if (why)
		*why = reason;
	return err;
}

/* The directory part is taken as written: a conversion there could name a
 * directory that does not exist yet, or another filesystem, on any day. */
static int check_template(const char *tmpl, size_t dlen, const char **why)
{
	if (!*tmpl)
		return refuse(why, "it is empty", -EINVAL);
	if (memchr(tmpl, '%', dlen))
		return refuse(why, "only its file name may hold % conversions "
			      "(tcptrail creates no directory)", -EINVAL);
	for (const char *p = tmpl + dlen; *p; p++) {
		if (*p != '%')
			continue;
		/* glibc's flags, width and E/O modifiers before the conversion:
		 * what strftime does with a '%' left unfinished is unspecified */
		for (p++; *p && strchr("_-0^#", *p); p++)
			;
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p == 'E' || *p == 'O')
			p++;
		if (!*p)
			return refuse(why, "it ends in an unfinished % conversion", -EINVAL);
	}
	return 0;
}

/* strftime says 0 both for an empty result and for one that does not fit:
 * a character appended to the format (and taken off the result) tells the
 * two apart. */
static int expand(char *out, size_t size, const char *fmt, const struct tm *tm, size_t *len)
{
	size_t n = strlen(fmt), w;
	char *f = malloc(n + 2);

	if (!f)
		return -ENOMEM;
	memcpy(f, fmt, n);
	f[n] = 'x';
	f[n + 1] = '\0';
	w = strftime(out, size, f, tm);
	free(f);
	if (!w)
		return -ENAMETOOLONG;
	out[--w] = '\0';
	*len = w;
	return 0;
}

/* One printable file name: nothing a conversion gave may make it a path
 * (%D gives "12/01/26") or a second line in a listing (%n, %t). */
static int check_name(const char *name, size_t len, const char **why)
{
	if (!len)
		return refuse(why, "its file name expands to nothing", -EINVAL);
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return refuse(why, "its file name expands to '.' or '..'", -EINVAL);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '/')
			return refuse(why, "a conversion gives '/' in the file name", -EINVAL);
		if (c < 0x20 || c == 0x7f)
			return refuse(why, "a conversion gives a control character (%n, %t)",
				      -EINVAL);
	}
	return 0;
}

int rot_name(char *buf, size_t size, const char *tmpl, time_t t, unsigned n,
	     const char **why)
{
	char name[PATH_MAX + 16];
	const char *slash;
	size_t dlen, blen;
	struct tm tm;
	int err;

	if (!buf || !tmpl)
		return refuse(why, "no template", -EINVAL);
	slash = strrchr(tmpl, '/');
	dlen = slash ? (size_t)(slash - tmpl) + 1 : 0;
	err = check_template(tmpl, dlen, why);
	if (err)
		return err;
	if (dlen >= PATH_MAX || !gmtime_r(&t, &tm))
		return refuse(why, "its expansion is longer than PATH_MAX", -ENAMETOOLONG);
	/* room for ".4294967295" after the name */
	err = expand(name, sizeof(name) - 12, tmpl + dlen, &tm, &blen);
	if (err)
		return refuse(why, "its expansion is longer than PATH_MAX", err);
	err = check_name(name, blen, why);
	if (err)
		return err;
	if (n)
		blen += (size_t)snprintf(name + blen, sizeof(name) - blen, ".%u", n);
	if (blen > NAME_MAX)
		return refuse(why, "its file name expands to more than NAME_MAX (255) bytes",
			      -ENAMETOOLONG);
	if (dlen + blen >= PATH_MAX || dlen + blen >= size)
		return refuse(why, "its expansion is longer than PATH_MAX", -ENAMETOOLONG);
	memcpy(buf, tmpl, dlen);
	memcpy(buf + dlen, name, blen + 1);
	return 0;
}

/*
 * RENAME_NOREPLACE makes "is the name free?" and the rename one atomic
 * step: rename(2) alone would replace whatever is there (an earlier
 * capture, or a file someone planted), and a check before it would race.
 * A planted symlink is a taken name like any other: it is neither
 * followed nor replaced. Filesystems without RENAME_NOREPLACE (EINVAL:
 * some network and FUSE filesystems) get link()+unlink(), which keeps that
 * guarantee: link() fails with EEXIST on any existing name, a symlink
 * included, and never follows it.
 */
static int move_noreplace(const char *from, const char *to)
{
	int err;

	if (!renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE))
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	if (link(from, to))
		return -errno;
	if (!unlink(from))
		return 0;
	err = -errno;
	unlink(to);   /* one name again: the capture stays where it was */
	return err;
}

int rot_move(const char *from, const char *tmpl, time_t t, char *to, size_t size)
{
	int err = -EEXIST;

	for (unsigned n = 0; n < ROT_TRIES && err == -EEXIST; n++) {
		err = rot_name(to, size, tmpl, t, n, NULL);
		if (!err)
			err = move_noreplace(from, to);
	}
	return err;
}

const char *rot_fix(int err)
{
	switch (err) {
	case -EXDEV:
		return "the --rotate-to directory is on another filesystem than the capture; "
		       "choose one on the same filesystem";
	case -EEXIST:
		return "every name the template gives is taken; remove old rotated files, "
		       "or put %H%M%S in the template";
	case -EACCES:
	case -EPERM:
		return "tcptrail runs without capabilities after start-up; make the "
		       "--rotate-to directory writable by its owner";
	case -EROFS:
		return "the filesystem is read-only; remount it read-write";
	case -ENOENT:
	case -ENOTDIR:
		return "the --rotate-to directory does not exist; create it";
	case -ENAMETOOLONG:
		return "the name is too long; shorten the --rotate-to template";
	case -ESTALE:
		return "another file now has the capture's name; remove it";
	case -ENOSPC:
	case -EDQUOT:
	case -EIO:
		return "the capture could not be written whole, and a file is renamed only "
		       "when it is; free space";
	default:
		return "fix the cause";
	}
}
