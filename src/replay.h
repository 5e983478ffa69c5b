/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_REPLAY_H
#define TT_REPLAY_H

#include "opts.h"

/* Reads a capture (-r FILE) through the filters and formats. */
int replay_run(const struct tt_opts *o);

#endif
