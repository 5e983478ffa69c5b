/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_TRACE_H
#define TT_TRACE_H

#include "opts.h"

/* The live run. Returns 0, TT_EXIT_LOST, or -errno (already explained on stderr). */
int trace_run(const struct tt_opts *o);

#endif
