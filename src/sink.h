/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Output sinks: where finished records go (stdout, a new plain file, a new
 * gzip file).
 *
 * A sink never blocks the event loop on a reader and never loses a record
 * it has taken without counting it:
 *   - sink_write() takes a whole record (one or more complete lines) or
 *     nothing. It refuses a record only when its buffer is full and the fd
 *     cannot take more (a full disk, a reader that does not read): the
 *     caller then knows exactly which record was not written.
 *   - A failed write (ENOSPC, EIO...) keeps the buffered records for a
 *     retry; on a file it created, the sink first cuts the file back to the
 *     last whole record (plain) or the last complete gzip flush, so the
 *     file never ends in half a record while the disk is full. When writing
 *     works again, a gzip sink ends the member the failure cut (an empty
 *     final block and the trailer) and starts a new member: concatenated
 *     members are one valid gzip file.
 *   - stdout, when it is a pipe or a terminal, is written without
 *     blocking, through a descriptor of its own (the shell's is left
 *     alone); a pipe gets at most PIPE_BUF bytes per write, cut at record
 *     boundaries, so its reader never sees half a line.
 *   - Records are dropped only by sink_close() (what could not be written
 *     in the end, or within the time given) and by a gzip stream that
 *     cannot be cut back (a pipe). Dropped records are counted per tag.
 */
#ifndef TT_SINK_H
#define TT_SINK_H

#include <stddef.h>

enum sink_kind { SINK_STDOUT, SINK_FILE, SINK_GZIP };

/* The caller's record classes, for the counts of dropped records. */
#define SINK_TAGS 4

struct sink;

/* Opens path for writing. "-" or NULL means stdout, written without
 * blocking (sink_open_stdout: blocking, or with a buffer of size bytes, at
 * least 1 MiB, which a stalled reader may fill). A path ending in ".gz" is
 * written as gzip. Files are always created new, mode 0600 (before umask),
 * and a symlink is never followed: an existing file or symlink at path
 * gives -EEXIST (or -ELOOP). Returns 0 or -errno. */
int sink_open(struct sink **out, const char *path);
int sink_open_stdout(struct sink **out, int blocking, size_t size);

/* Wraps an already open fd (a pipe, /dev/full in tests, an inherited fd).
 * On success the sink owns fd and closes it in sink_close(); on failure the
 * caller still owns it. gzip != 0 compresses. An O_NONBLOCK fd is never
 * waited for. sink_reopen() on such a sink only flushes. */
int sink_open_fd(struct sink **out, int fd, int gzip);

/* Takes one record (whole lines, at most the buffer size) tagged
 * 0..SINK_TAGS-1. Writes to the fd only when the buffer is full and the
 * sink is not failing. Returns 0 when taken, or -errno when refused:
 * nothing was taken (-EAGAIN: the reader is slow; -EPIPE: it is gone;
 * -EMSGSIZE: larger than the buffer). */
int sink_write(struct sink *s, const char *buf, size_t len, unsigned tag);

/* Pushes buffered records to the fd; for gzip with Z_SYNC_FLUSH, so that
 * everything up to here decompresses even if the process is killed right
 * after. No fsync: surviving a process crash needs only the page cache.
 * Returns 0 when everything reached the fd, -EAGAIN when a non-blocking
 * reader took only part, or the -errno of the failed write (the records
 * are kept for the next try). */
int sink_flush(struct sink *s);

/* Waits up to ms for the reader of a non-blocking sink to make room (or
 * a signal); returns at once for a file. 0 or -errno (-EINTR). */
int sink_wait(struct sink *s, int ms);

/* The fd to poll for POLLOUT: a non-blocking sink with records waiting
 * for its reader; else -1. */
int sink_poll_fd(const struct sink *s);

/* The -errno of the last push that did not complete, 0 after one did. */
int sink_error(const struct sink *s);
/* Bytes buffered, not yet written. */
size_t sink_pending(const struct sink *s);

/* For SIGHUP/logrotate: opens path anew (same O_EXCL/O_NOFOLLOW rules), then
 * finishes the old file (gzip trailer) and switches over. Records the old
 * file could not take are written to the new one. If the new file cannot be
 * created (e.g. -EEXIST because the old one was not moved away), nothing
 * changes and the old sink stays usable. The counters keep accumulating. */
int sink_reopen(struct sink *s);

/* --rotate-to, before the rename: writes every buffered record and ends
 * the gzip member, so the file is whole as it stands. The fd stays open:
 * the next record goes on in it (a new gzip member) if the rename fails;
 * sink_reopen() then adds nothing to it. 0, or the -errno of the failed
 * write (the records are kept, as by sink_flush()). */
int sink_seal(struct sink *s);
/* Whether the sink's path still names the file it writes: 0; -ENOENT
 * (moved away), -ESTALE (another file there), or another -errno. */
int sink_check_path(const struct sink *s);

/* bytes_* count record bytes before compression, so the numbers mean the
 * same for every sink kind. write_errors counts failed pushes. */
struct sink_stats {
	unsigned long long bytes_written, bytes_dropped, write_errors;
	unsigned long long dropped[SINK_TAGS];   /* records given up, per tag */
	int last_errno;         /* positive errno of the last failure, or 0 */
};
void sink_stats(const struct sink *s, struct sink_stats *st);

/* Flushes, finishes the gzip stream, closes the fd (not stdout's) and frees.
 * A non-blocking sink waits for its reader until wait_ms have passed, then
 * gives up (and counts) what it did not take; a failing file gets one more
 * try. st (may be NULL) receives the final counters. NULL-safe; sets *s to
 * NULL. Returns 0 or the -errno that made it drop records. */
int sink_close_wait(struct sink **s, int wait_ms, struct sink_stats *st);
int sink_close(struct sink **s);

/* "-" for stdout, "fd:N" for sink_open_fd(), else the path. */
const char *sink_path(const struct sink *s);
enum sink_kind sink_kind(const struct sink *s);

#endif /* TT_SINK_H */
