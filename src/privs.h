/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_PRIVS_H
#define TT_PRIVS_H

/*
 * Drops every capability and sets no_new_privs once the programs are
 * attached, the outputs open and the snapshot read: a hostile host then
 * has no privileged process to exploit. Returns 0 or -errno; with keep
 * a failure only warns.
 */
int privs_drop(int keep);

#endif
