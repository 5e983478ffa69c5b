/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_ROTATE_H
#define TT_ROTATE_H

#include <stddef.h>
#include <time.h>

/*
 * --rotate-to TEMPLATE: the name a finished capture file takes at SIGHUP.
 *
 * TEMPLATE is expanded by strftime(3) in UTC. Only its file name may hold
 * conversions: the directory is fixed, because tcptrail creates no
 * directory and the rename must stay on one filesystem. A conversion that
 * yields '/' (%D) or a control byte (%n, %t) is refused: one file name,
 * printable. A name already taken gets ".1", ".2", ... (ROT_TRIES names
 * in all); nothing is ever replaced.
 */
#define ROT_TRIES 1000

/* TEMPLATE expanded at t, with ".n" when n > 0, into buf. 0; -EINVAL for a
 * template or an expansion refused above, an empty one, a lone '%' at the
 * end; -ENAMETOOLONG when the name (or its file name part) does not fit in
 * PATH_MAX (NAME_MAX) or in size. why (may be NULL) receives the reason,
 * for a usage error. Pure: no file is looked at. */
int rot_name(char *buf, size_t size, const char *tmpl, time_t t, unsigned n,
	     const char **why);

/* Renames from to the first free name of tmpl at t, never replacing a
 * file or following a symlink there; to receives the name used. 0, or
 * -errno: -EEXIST when all ROT_TRIES names are taken, -EXDEV when the
 * target is on another filesystem, ... from is left where it was. */
int rot_move(const char *from, const char *tmpl, time_t t, char *to, size_t size);

/* What to do about a rotation that failed with err, for stderr. */
const char *rot_fix(int err);

#endif
