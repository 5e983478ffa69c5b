// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gzip is produced with deflate() directly rather than gzdopen()/gzwrite():
 * gzwrite hides errno behind gzerror(), gives up on EINTR, owns (and closes)
 * the fd and has its own buffer, so neither the exact bytes lost on ENOSPC nor
 * the "stop after the first error" rule could be implemented on top of it.
 * With deflate() both sink kinds share one write path and one accounting.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "sink.h"

#define SINK_BUF_SIZE (64 * 1024)
#define SINK_ZBUF_SIZE (64 * 1024)
/* Level 1: at 200k records/s (~30 MB/s of text) the default level 6 would
 * eat a whole core; level 1 still shrinks these logs about 6-8x. */
#define SINK_GZ_LEVEL 1
/* Only reached for an O_NONBLOCK fd (an inherited pipe): how long one stalled
 * write may wait for room before the data is counted as dropped. */
#define SINK_STALL_MS 250

struct sink {
	enum sink_kind kind;
	int fd;
	bool owns_fd;
	bool has_path;
	bool z_init;
	bool z_broken;  /* a gzip write failed: the stream is cut, stop */
	bool midline;   /* the file ends inside a line (a write was cut) */
	int err;        /* sticky -errno, first failure since open/reopen */
	char *path;
	char *buf;
	size_t len;
	unsigned char *zbuf;
	z_stream zs;
	struct sink_stats st;
};

static unsigned long long count_lines(const char *p, size_t n)
{
	unsigned long long lines = 0;
	const char *end = p + n;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) {
		lines++;
		p++;
	}
	return lines;
}

static void sink_drop(struct sink *s, const char *p, size_t n)
{
	s->st.bytes_dropped += n;
	s->st.lines_dropped += count_lines(p, n);
}

static void sink_fail(struct sink *s, int err)
{
	s->st.write_errors++;
	s->st.last_errno = -err;
	if (!s->err)
		s->err = err;
}

/* Writes all of p[0..n) unless the fd reports an error; *done says how much
 * reached the kernel either way. Returns 0 or -errno. */
static int write_all(int fd, const void *p, size_t n, size_t *done)
{
	const char *c = p;
	size_t off = 0;
	int err = 0;

	while (off < n) {
		ssize_t w = write(fd, c + off, n - off);

		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w == 0) {
			err = -EIO;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			int r = poll(&pfd, 1, SINK_STALL_MS);

			if (r > 0 && !(pfd.revents & (POLLERR | POLLNVAL)))
				continue;
			if (r < 0 && errno == EINTR)
				continue;
			err = -EAGAIN;
			break;
		}
		err = -errno;
		break;
	}
	*done = off;
	return err;
}

static int drain_plain(struct sink *s)
{
	size_t done = 0, keep = 0;
	bool cut;
	int err;

	if (!s->len)
		return 0;
	err = write_all(s->fd, s->buf, s->len, &done);
	s->st.bytes_written += done;
	if (!err) {
		s->midline = s->buf[s->len - 1] != '\n';
		s->len = 0;
		return 0;
	}
	sink_fail(s, err);
	/* Keep the rest of a line the kernel already has the start of, so the
	 * next flush completes it instead of gluing it to an unrelated line. */
	cut = done ? s->buf[done - 1] != '\n' : s->midline;
	if (cut) {
		char *nl = memchr(s->buf + done, '\n', s->len - done);

		keep = nl ? (size_t)(nl - (s->buf + done)) + 1 : s->len - done;
	}
	sink_drop(s, s->buf + done + keep, s->len - done - keep);
	memmove(s->buf, s->buf + done, keep);
	s->len = keep;
	s->midline = cut;
	return err;
}

/* Compresses the whole buffer with mode (Z_SYNC_FLUSH or Z_FINISH) and
 * writes the result. All or nothing per buffer for the accounting: a failed
 * write leaves a cut deflate stream, so the chunk counts as dropped and the
 * sink stops until reopen rather than appending to a corrupt stream. */
static int drain_gzip(struct sink *s, int mode)
{
	size_t done;
	int err = 0, rc;

	if (s->z_broken) {
		sink_drop(s, s->buf, s->len);
		s->len = 0;
		return s->err ? s->err : -EIO;
	}
	/* A sync flush with no new input would still emit an empty block. */
	if (!s->len && mode != Z_FINISH)
		return 0;
	s->zs.next_in = (unsigned char *)s->buf;
	s->zs.avail_in = (uInt)s->len;
	do {
		s->zs.next_out = s->zbuf;
		s->zs.avail_out = SINK_ZBUF_SIZE;
		rc = deflate(&s->zs, mode);
		if (rc == Z_STREAM_ERROR) {
			err = -EINVAL;
			break;
		}
		err = write_all(s->fd, s->zbuf, SINK_ZBUF_SIZE - s->zs.avail_out, &done);
		if (err)
			break;
	} while (s->zs.avail_out == 0);
	if (err) {
		s->z_broken = true;
		sink_fail(s, err);
		sink_drop(s, s->buf, s->len);
	} else {
		s->st.bytes_written += s->len;
	}
	s->len = 0;
	return err;
}

static int drain(struct sink *s, int mode)
{
	return s->kind == SINK_GZIP ? drain_gzip(s, mode) : drain_plain(s);
}

static int open_new(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	return fd < 0 ? -errno : fd;
}

static bool is_gz_path(const char *path)
{
	size_t n = strlen(path);

	return n > 3 && !strcmp(path + n - 3, ".gz");
}

static void sink_free(struct sink *s)
{
	if (!s)
		return;
	if (s->z_init)
		deflateEnd(&s->zs);
	free(s->zbuf);
	free(s->buf);
	free(s->path);
	free(s);
}

/* Allocates everything before any file exists, so a failure here never
 * leaves a stray empty file behind. */
static int sink_alloc(struct sink **out, enum sink_kind kind, const char *name)
{
	struct sink *s;
	int err = -ENOMEM;

	s = calloc(1, sizeof(*s));
	if (!s)
		goto cleanup;
	s->fd = -1;
	s->kind = kind;
	s->path = strdup(name);
	s->buf = malloc(SINK_BUF_SIZE);
	if (!s->path || !s->buf)
		goto cleanup;
	if (kind == SINK_GZIP) {
		s->zbuf = malloc(SINK_ZBUF_SIZE);
		if (!s->zbuf)
			goto cleanup;
		/* 15 + 16: gzip wrapper instead of zlib, so zcat reads it. */
		if (deflateInit2(&s->zs, SINK_GZ_LEVEL, Z_DEFLATED, 15 + 16, 8,
				 Z_DEFAULT_STRATEGY) != Z_OK)
			goto cleanup;
		s->z_init = true;
	}
	*out = s;
	s = NULL;
	err = 0;
cleanup:
	sink_free(s);
	return err;
}

int sink_open(struct sink **out, const char *path)
{
	bool is_stdout = !path || !strcmp(path, "-");
	struct sink *s = NULL;
	enum sink_kind kind;
	int err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!is_stdout && !*path)
		return -ENOENT;
	kind = is_stdout ? SINK_STDOUT : is_gz_path(path) ? SINK_GZIP : SINK_FILE;
	err = sink_alloc(&s, kind, is_stdout ? "-" : path);
	if (err)
		goto cleanup;
	if (is_stdout) {
		s->fd = STDOUT_FILENO;
	} else {
		err = open_new(path);
		if (err < 0)
			goto cleanup;
		s->fd = err;
		s->owns_fd = true;
		s->has_path = true;
	}
	*out = s;
	s = NULL;
	err = 0;
cleanup:
	sink_free(s);
	return err;
}

int sink_open_fd(struct sink **out, int fd, int gzip)
{
	struct sink *s = NULL;
	char name[32];
	int err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (fd < 0 || fcntl(fd, F_GETFD) < 0)
		return -EBADF;
	snprintf(name, sizeof(name), "fd:%d", fd);
	err = sink_alloc(&s, gzip ? SINK_GZIP : SINK_FILE, name);
	if (err)
		return err;
	s->fd = fd;
	s->owns_fd = true;
	*out = s;
	return 0;
}

int sink_write(struct sink *s, const char *buf, size_t len)
{
	if (!s)
		return -EINVAL;
	while (len) {
		size_t room = SINK_BUF_SIZE - s->len, n;

		if (s->z_broken) {
			sink_drop(s, buf, len);
			break;
		}
		if (!room) {
			drain(s, Z_SYNC_FLUSH);
			room = SINK_BUF_SIZE - s->len;
			if (!room) {
				/* Only a single kept line longer than the whole
				 * buffer gets here. */
				sink_drop(s, buf, len);
				break;
			}
		}
		n = len < room ? len : room;
		memcpy(s->buf + s->len, buf, n);
		s->len += n;
		buf += n;
		len -= n;
	}
	return s->err;
}

int sink_flush(struct sink *s)
{
	if (!s)
		return -EINVAL;
	return drain(s, Z_SYNC_FLUSH);
}

/* Ends the current output: final drain (gzip trailer), then whatever could
 * not be written is lost for good. Returns the first error. */
static int sink_finish(struct sink *s)
{
	int err = drain(s, Z_FINISH);

	if (s->len) {
		sink_drop(s, s->buf, s->len);
		s->len = 0;
	}
	if (s->owns_fd && s->fd >= 0) {
		/* NFS and some FUSE filesystems report write-back errors here. */
		if (close(s->fd) && errno != EINTR && !err) {
			err = -errno;
			sink_fail(s, err);
		}
		s->fd = -1;
	}
	return err;
}

int sink_reopen(struct sink *s)
{
	int fd;

	if (!s)
		return -EINVAL;
	if (!s->has_path)
		return sink_flush(s);
	fd = open_new(s->path);
	if (fd < 0)
		return fd;
	/* An error finishing the old file is already in the counters; the
	 * caller cares whether the new file is in place. */
	sink_finish(s);
	s->fd = fd;
	s->err = 0;
	s->midline = false;
	if (s->kind == SINK_GZIP) {
		deflateReset(&s->zs);  /* starts a new gzip member with header */
		s->z_broken = false;
	}
	return 0;
}

void sink_stats(const struct sink *s, struct sink_stats *st)
{
	if (!s) {
		memset(st, 0, sizeof(*st));
		return;
	}
	*st = s->st;
}

int sink_close(struct sink **sp)
{
	int err;

	if (!sp || !*sp)
		return 0;
	err = sink_finish(*sp);
	sink_free(*sp);
	*sp = NULL;
	return err;
}

const char *sink_path(const struct sink *s)
{
	return s ? s->path : "";
}

enum sink_kind sink_kind(const struct sink *s)
{
	return s ? s->kind : SINK_STDOUT;
}
