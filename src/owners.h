/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Socket inode -> owning process, as `netstat -p` names it.
 */
#ifndef TT_OWNERS_H
#define TT_OWNERS_H

/* Longest owner string netstat prints ("PID/name" cut to 19 bytes) + NUL. */
#define OWNERS_NAME_SIZE 20

struct owners;  /* opaque: inode -> owner, a hash table sized for 100k+ sockets */

/*
 * Scans procdir (normally "/proc") for every process's fd/ entries that are
 * "socket:[INODE]" and records, per inode, the owner string netstat -p
 * prints. Returns 0 or -errno (only for procdir itself or memory; processes
 * that vanish or cannot be read are skipped).
 */
int owners_scan(const char *procdir, struct owners **out);

/*
 * The other way to build the table, from (pid, socket inode) pairs found by
 * some faster means than reading every fd link (see owners_iter.h), given
 * in the order owners_scan would meet them: pids in /proc readdir order
 * (ascending), one process's pairs together. Names are read from
 * procdir/PID/cmdline and comm once per process, by owners_scan's rules;
 * the first pid to add an inode keeps it; the pairs of a pid whose cmdline
 * cannot be read (gone) are skipped. expected sizes the table (it grows
 * beyond). Both return 0 or -errno.
 */
int owners_new(const char *procdir, size_t expected, struct owners **out);
int owners_add_pair(struct owners *o, unsigned pid, unsigned long long inode);
/*
 * Before any owners_add_pair: from the first call on, only the inodes given
 * here are kept, so the table is as large as the rows shown, not as every
 * socket on the host. Repeats are ignored; inode 0 adds nothing but still
 * restricts (no rows: nothing is kept). Returns 0 or -errno.
 */
int owners_want(struct owners *o, unsigned long long inode);

/* The owner string of an inode, or NULL if none (always NULL for inode 0). */
const char *owners_get(const struct owners *o, unsigned long long inode);

/*
 * The numeric pid and the task comm (/proc/PID/comm, "" if unreadable) of
 * the owner. pid and comm may be NULL. Returns 0 or -ENOENT.
 */
int owners_lookup(const struct owners *o, unsigned long long inode,
		  unsigned *pid, const char **comm);

/* Number of inodes with an owner. */
unsigned long owners_count(const struct owners *o);

void owners_free(struct owners **o);   /* NULL-safe, sets *o = NULL */

#endif /* TT_OWNERS_H */
