// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdio.h>

#include "replay.h"

int replay_run(const struct tt_opts *o)
{
	fprintf(stderr, "tcptrail: --read %s: replay is not implemented yet\n", o->read);
	return -1;
}
