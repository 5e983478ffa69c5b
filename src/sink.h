/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Output sinks: where finished lines go (stdout, a new plain file, a new
 * gzip file).
 *
 * The sink never retries a failing write in a loop: on ENOSPC, EIO, EPIPE...
 * it records the error, counts the bytes and lines it had to drop and keeps
 * going, so a full disk costs records (reported in the summary) but never
 * stalls the event loop. Lines stay whole: when a write is cut in the middle
 * of a line, only the rest of that line is kept and retried at the next
 * flush, the lines after it are dropped.
 */
#ifndef TT_SINK_H
#define TT_SINK_H

#include <stddef.h>

enum sink_kind { SINK_STDOUT, SINK_FILE, SINK_GZIP };

struct sink;

/* Opens path for writing. "-" or NULL means stdout. A path ending in ".gz" is
 * written as gzip. Files are always created new, mode 0600 (before umask),
 * and a symlink is never followed: an existing file or symlink at path gives
 * -EEXIST (or -ELOOP). Returns 0 or -errno. */
int sink_open(struct sink **out, const char *path);

/* Wraps an already open fd (a pipe, /dev/full in tests, an inherited fd).
 * On success the sink owns fd and closes it in sink_close(); on failure the
 * caller still owns it. gzip != 0 compresses. sink_reopen() on such a sink
 * only flushes. */
int sink_open_fd(struct sink **out, int fd, int gzip);

/* Queues bytes (complete lines). Writes to the kernel only when the 64 KiB
 * buffer fills. Returns 0 or the -errno of the first failure since open or
 * the last successful reopen (sticky): -EPIPE on a closed stdout lets the
 * caller exit quietly. */
int sink_write(struct sink *s, const char *buf, size_t len);

/* Pushes buffered data to the kernel; for gzip with Z_SYNC_FLUSH, so
 * everything up to here decompresses even if the process is killed right
 * after. No fsync: surviving a process crash needs only the page cache.
 * Returns 0 or the -errno of this flush (a gzip sink stopped by an earlier
 * error keeps returning that error). */
int sink_flush(struct sink *s);

/* For SIGHUP/logrotate: opens path anew (same O_EXCL/O_NOFOLLOW rules), then
 * flushes and finishes the old file (gzip trailer) and switches over. If the
 * new file cannot be created (e.g. -EEXIST because the old one was not
 * moved away), nothing changes and the old sink stays usable. A successful
 * reopen clears the sticky error; the counters keep accumulating. */
int sink_reopen(struct sink *s);

/* bytes_* count record bytes before compression, so the numbers mean the
 * same for every sink kind. write_errors counts failed flushes. */
struct sink_stats {
	unsigned long long bytes_written, bytes_dropped, lines_dropped, write_errors;
	int last_errno;         /* positive errno of the last failure, or 0 */
};
void sink_stats(const struct sink *s, struct sink_stats *st);

/* Flushes, finishes the gzip stream, closes the fd (not stdout's) and frees.
 * NULL-safe; sets *s to NULL. Returns 0 or -errno of the final flush/close. */
int sink_close(struct sink **s);

/* "-" for stdout, "fd:N" for sink_open_fd(), else the path. */
const char *sink_path(const struct sink *s);
enum sink_kind sink_kind(const struct sink *s);

#endif /* TT_SINK_H */
