// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* tcptrail: every TCP state change, live. The CLI only dispatches. */
#include <stdio.h>

#include "opts.h"
#include "replay.h"
#include "trace.h"
#include "verify.h"

int main(int argc, char **argv)
{
	struct tt_opts o;
	int err;

	err = opts_parse(argc, argv, &o, stdout, stderr);
	if (err)
		return err > 0 ? TT_EXIT_OK : TT_EXIT_USAGE;
	err = o.verify ? verify_run(&o) : o.read ? replay_run(&o) : trace_run(&o);
	if (err == TT_EXIT_LOST)
		return TT_EXIT_LOST;
	return err ? TT_EXIT_ERROR : TT_EXIT_OK;
}
