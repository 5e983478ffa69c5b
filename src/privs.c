// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "privs.h"

int privs_drop(int keep)
{
	cap_t none = cap_init();
	int err = 0;

	if (!none)
		return -ENOMEM;
	/* the bounding set too, so an exec could not regain anything */
	for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++)
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) > 0 && cap_drop_bound(c) && errno != EINVAL)
			break;   /* without CAP_SETPCAP the bounding set stays: the sets below still drop */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		err = -errno;
	if (!err && cap_set_proc(none))
		err = -errno;
	cap_free(none);
	if (err && !keep) {
		fprintf(stderr, "tcptrail: cannot drop capabilities: %s "
			"(use --keep-caps to run with them anyway)\n", strerror(-err));
		return err;
	}
	if (err)
		fprintf(stderr, "tcptrail: warning: keeping capabilities: %s\n", strerror(-err));
	return 0;
}
