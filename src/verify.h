/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_VERIFY_H
#define TT_VERIFY_H

#include "opts.h"

/* --verify FILE...: prints a one-line verdict (stdout when the series is
 * whole, stderr with the file and line of the first violation or the cut)
 * and returns 0, or -EBADMSG / -errno. */
int verify_run(const struct tt_opts *o);

#endif
