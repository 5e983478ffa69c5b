// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gzip is produced with deflate() directly rather than gzdopen()/gzwrite():
 * gzwrite hides errno behind gzerror(), gives up on EINTR, owns (and closes)
 * the fd and has its own buffer, so neither the exact records kept on ENOSPC
 * nor the cut back to the last complete flush could be built on top of it.
 * With deflate() both file kinds share one buffer and one accounting.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "sink.h"

#define SINK_BUF_SIZE (64 * 1024)
/* stdout's reader may pause (a pager, jq on a busy CPU): what it does not
 * take at once waits here, not in the BPF ring, which then keeps draining.
 * The least; the caller usually asks for more (output.c). */
#define SINK_STDOUT_BUF (1024 * 1024)
#define SINK_ZBUF_SIZE (64 * 1024)
/* Level 1: at 200k records/s (~30 MB/s of text) the default level 6 would
 * eat a whole core; level 1 still shrinks these logs about 6-8x. */
#define SINK_GZ_LEVEL 1

enum wmode {
	W_BLOCK,      /* a file: writes complete or fail */
	W_NONBLOCK,   /* our own O_NONBLOCK descriptor */
	W_POLL,       /* a blocking pipe we could not reopen: poll, then <= PIPE_BUF */
	W_SEND,       /* a socket: send(MSG_DONTWAIT) */
};

struct sink {
	enum sink_kind kind;
	enum wmode wmode;
	int fd;
	bool owns_fd;
	bool has_path;
	bool rollback;      /* a regular file of ours: a failed write is cut back */
	bool fifo;          /* a pipe: writes of at most PIPE_BUF, on record boundaries */
	bool broken;        /* a gzip stream that could not be cut back: refuse all */
	bool z_init;
	bool need_trailer;  /* a failure cut a gzip member that holds data */
	bool sealed;        /* sink_seal() ended the member: nothing written since */
	int err;            /* -errno of the last push that did not complete */
	size_t pipe_size;   /* a pipe's capacity in bytes, 0 if unknown */
	char *path;
	/* buf[head, len) is buffered, buf[head, woff) already written; the
	 * records rhead..nrec-1 end at rend[] (offsets into buf) */
	char *buf;
	size_t cap, head, len, woff;
	size_t *rend;
	unsigned char *rtag;
	size_t rhead, nrec, rcap;
	unsigned char *zbuf;
	z_stream zs;
	off_t off;                  /* bytes in the file: we are its only writer */
	off_t good_off;             /* end of the last complete push */
	off_t member_start;         /* where the current gzip member begins */
	unsigned long good_crc, good_isize;
	struct sink_stats st;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void sink_fail(struct sink *s, int err)
{
	if (err == -EAGAIN)
		return;   /* a slow reader, not an error */
	s->st.write_errors++;
	s->st.last_errno = -err;
}

static ssize_t do_write(struct sink *s, const void *p, size_t n)
{
	if (s->wmode == W_SEND)
		return send(s->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (s->wmode == W_POLL) {
		struct pollfd pfd = { .fd = s->fd, .events = POLLOUT };

		if (poll(&pfd, 1, 0) == 0) {
			errno = EAGAIN;
			return -1;
		}
	}
	return write(s->fd, p, n);
}

/* Writes p[0..n) until done, EAGAIN or an error; *done says how much went. */
static int write_some(struct sink *s, const void *p, size_t n, size_t *done)
{
	const char *c = p;
	size_t off = 0;
	int err = 0;

	while (off < n) {
		ssize_t w = do_write(s, c + off, n - off);

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
		err = errno == EWOULDBLOCK ? -EAGAIN : -errno;
		break;
	}
	*done = off;
	s->off += (off_t)off;
	return err;
}

/* Cuts the file back to off, so that it ends where the last good write did. */
static int cut_back(struct sink *s, off_t off)
{
	if (!s->rollback || ftruncate(s->fd, off) || lseek(s->fd, off, SEEK_SET) != off)
		return -EIO;
	s->off = off;
	return 0;
}

/* Forgets the records that are wholly written. */
static void retire(struct sink *s)
{
	size_t k = s->rhead;

	if (s->woff == s->len) {
		s->st.bytes_written += s->len - s->head;
		s->head = s->len = s->woff = s->rhead = s->nrec = 0;
		return;
	}
	while (k < s->nrec && s->rend[k] <= s->woff)
		k++;
	if (k == s->rhead)
		return;
	s->st.bytes_written += s->rend[k - 1] - s->head;
	s->head = s->rend[k - 1];
	s->rhead = k;
}

/*
 * Moves what is buffered to the front. Only once a quarter of the buffer
 * is free at the front: a slow reader takes a little at a time, and moving
 * 16 MiB for each little would cost more than the records are worth. Each
 * byte is then moved at most three times over, on average.
 */
static void compact(struct sink *s, size_t need)
{
	size_t n = s->nrec - s->rhead;

	if (s->cap - s->len >= need || !s->head || (s->head < s->cap / 4 && s->cap > SINK_BUF_SIZE))
		return;
	memmove(s->buf, s->buf + s->head, s->len - s->head);
	for (size_t i = 0; i < n; i++) {
		s->rend[i] = s->rend[s->rhead + i] - s->head;
		s->rtag[i] = s->rtag[s->rhead + i];
	}
	s->len -= s->head;
	s->woff -= s->head;
	s->head = s->rhead = 0;
	s->nrec = n;
}

/*
 * The next write to a pipe, whole records only, of a size the kernel takes
 * whole or not at all: into an empty pipe, up to the pipe's size (every
 * slot is free); else up to PIPE_BUF. So a reader never holds half a line,
 * even when it stops reading for good, and a reader as fast as the events
 * still gets big writes (a PIPE_BUF write wakes it each time). A record
 * longer than that goes alone.
 */
static size_t fifo_chunk(struct sink *s, size_t *k)
{
	size_t max = PIPE_BUF;
	int unread;

	if (*k < s->rhead)
		*k = s->rhead;
	while (*k < s->nrec && s->rend[*k] <= s->woff)
		(*k)++;
	if (*k >= s->nrec)
		return s->len - s->woff;
	if (s->pipe_size > PIPE_BUF && !ioctl(s->fd, FIONREAD, &unread) && !unread)
		max = s->pipe_size;
	if (s->rend[*k] - s->woff > max)
		return s->rend[*k] - s->woff;
	while (*k + 1 < s->nrec && s->rend[*k + 1] - s->woff <= max)
		(*k)++;
	return s->rend[*k] - s->woff;
}

static int push_plain(struct sink *s)
{
	size_t k = 0, done;
	int err = 0;

	while (s->woff < s->len) {
		size_t n = s->fifo ? fifo_chunk(s, &k) : s->len - s->woff;

		err = write_some(s, s->buf + s->woff, n, &done);
		s->woff += done;
		if (err)
			break;
	}
	if (err && err != -EAGAIN) {
		size_t b = s->head;

		/* a file ending in half a record while the disk is full would
		 * be damaged if the process died now: end it at the last whole one */
		for (k = s->rhead; k < s->nrec && s->rend[k] <= s->woff; k++)
			b = s->rend[k];
		if (s->woff > b && !cut_back(s, s->off - (off_t)(s->woff - b)))
			s->woff = b;
	}
	retire(s);
	return err;
}

/* Ends a gzip member that a failure cut after a complete flush: an empty
 * final block (fixed Huffman: bits 1 01 then end-of-block) and the trailer
 * of the data it holds. A reader then goes on to the next member. */
static int end_member(struct sink *s)
{
	unsigned char t[10] = { 0x03, 0x00 };
	size_t done;
	int err;

	for (int i = 0; i < 4; i++) {
		t[2 + i] = (unsigned char)(s->good_crc >> (8 * i));
		t[6 + i] = (unsigned char)(s->good_isize >> (8 * i));
	}
	err = write_some(s, t, sizeof(t), &done);
	if (err) {
		if (cut_back(s, s->good_off))
			s->broken = true;
		return err;
	}
	s->need_trailer = false;
	s->good_off = s->member_start = s->off;
	return 0;
}

/* Compresses the whole buffer with mode (Z_SYNC_FLUSH or Z_FINISH) and
 * writes it, all or nothing: a failed write is cut back to the end of the
 * last complete push and the records stay for the next try, in a new member. */
static int push_gzip(struct sink *s, int mode)
{
	size_t done;
	int err = 0, rc;

	if (s->need_trailer) {
		err = end_member(s);
		if (err)
			return err;
	}
	/* A sync flush with no new input would still emit an empty block. */
	if (s->len == s->head && mode != Z_FINISH)
		return 0;
	s->zs.next_in = (unsigned char *)s->buf + s->head;
	s->zs.avail_in = (uInt)(s->len - s->head);
	do {
		s->zs.next_out = s->zbuf;
		s->zs.avail_out = SINK_ZBUF_SIZE;
		rc = deflate(&s->zs, mode);
		if (rc == Z_STREAM_ERROR) {
			err = -EINVAL;
			break;
		}
		err = write_some(s, s->zbuf, SINK_ZBUF_SIZE - s->zs.avail_out, &done);
		if (err)
			break;
	} while (s->zs.avail_out == 0);
	if (!err) {
		s->good_off = s->off;
		s->good_crc = s->zs.adler;
		s->good_isize = s->zs.total_in;
		s->woff = s->len;
		retire(s);
		if (mode == Z_FINISH) {
			s->member_start = s->off;
			deflateReset(&s->zs);
		}
		return 0;
	}
	/* deflate consumed the input: it is compressed again in a new member */
	deflateReset(&s->zs);
	if (cut_back(s, s->good_off)) {
		s->broken = true;   /* a pipe: the stream is cut for good */
		return err;
	}
	/* end the cut member now if the 10 bytes fit: the file is then a
	 * valid gzip file even if the process dies before the disk recovers */
	s->need_trailer = s->good_off > s->member_start;
	if (s->need_trailer)
		end_member(s);
	return err;
}

static int push(struct sink *s, int mode)
{
	int err = s->kind == SINK_GZIP ? push_gzip(s, mode) : push_plain(s);

	if (err)
		sink_fail(s, err);
	s->err = err;
	return err;
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
	free(s->rend);
	free(s->rtag);
	free(s->path);
	free(s);
}

/* Allocates everything before any file exists, so a failure here never
 * leaves a stray empty file behind. */
static int sink_alloc(struct sink **out, enum sink_kind kind, const char *name, size_t cap)
{
	struct sink *s;
	int err = -ENOMEM;

	s = calloc(1, sizeof(*s));
	if (!s)
		goto cleanup;
	s->fd = -1;
	s->kind = kind;
	s->cap = cap;
	s->rcap = 1024;
	s->path = strdup(name);
	s->buf = malloc(cap);
	s->rend = malloc(s->rcap * sizeof(*s->rend));
	s->rtag = malloc(s->rcap);
	if (!s->path || !s->buf || !s->rend || !s->rtag)
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

/* How to write to fd without ever waiting for its reader. */
static void pick_mode(struct sink *s)
{
	struct stat st;
	int fl;

	if (fstat(s->fd, &st))
		return;
	s->fifo = S_ISFIFO(st.st_mode);
	if (s->fifo) {
		int sz = fcntl(s->fd, F_GETPIPE_SZ);

		s->pipe_size = sz > 0 ? (size_t)sz : 0;
	}
	s->rollback = s->has_path && S_ISREG(st.st_mode);
	fl = fcntl(s->fd, F_GETFL);
	if (S_ISSOCK(st.st_mode))
		s->wmode = W_SEND;
	else if (fl >= 0 && (fl & O_NONBLOCK))
		s->wmode = W_NONBLOCK;
	else if (s->fifo)
		s->wmode = W_POLL;
}

int sink_open_stdout(struct sink **out, int blocking, size_t size)
{
	struct sink *s = NULL;
	struct stat st;
	int err, fd;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (blocking)
		size = SINK_BUF_SIZE;
	else if (size < SINK_STDOUT_BUF)
		size = SINK_STDOUT_BUF;
	err = sink_alloc(&s, SINK_STDOUT, "-", size);
	if (err)
		return err;
	s->fd = STDOUT_FILENO;
	if (blocking || fstat(STDOUT_FILENO, &st))
		goto done;
	if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
		/* O_NONBLOCK on fd 1 would change the shell's terminal or the
		 * pipe for every process sharing it: open a description of our own */
		fd = open("/proc/self/fd/1", O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd >= 0) {
			s->fd = fd;
			s->owns_fd = true;
		}
	}
	pick_mode(s);
done:
	*out = s;
	return 0;
}

int sink_open(struct sink **out, const char *path)
{
	struct sink *s = NULL;
	enum sink_kind kind;
	int err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!path || !strcmp(path, "-"))
		return sink_open_stdout(out, 0, 0);
	if (!*path)
		return -ENOENT;
	kind = is_gz_path(path) ? SINK_GZIP : SINK_FILE;
	err = sink_alloc(&s, kind, path, SINK_BUF_SIZE);
	if (err)
		goto cleanup;
	err = open_new(path);
	if (err < 0)
		goto cleanup;
	s->fd = err;
	s->owns_fd = true;
	s->has_path = true;
	pick_mode(s);
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
	err = sink_alloc(&s, gzip ? SINK_GZIP : SINK_FILE, name, SINK_BUF_SIZE);
	if (err)
		return err;
	s->fd = fd;
	s->owns_fd = true;
	pick_mode(s);
	*out = s;
	return 0;
}

int sink_write(struct sink *s, const char *buf, size_t len, unsigned tag)
{
	if (!s)
		return -EINVAL;
	if (s->broken)
		return s->err ? s->err : -EIO;
	if (len > s->cap)
		return -EMSGSIZE;
	if (!len)
		return 0;
	/* A failing or slow sink is retried by sink_flush() on the caller's
	 * schedule, not once per record: a full disk must cost no more than
	 * counting. */
	compact(s, len);
	if (s->cap - s->len < len && !s->err) {
		push(s, Z_SYNC_FLUSH);
		compact(s, len);
	}
	if (s->cap - s->len < len)
		return s->err ? s->err : -ENOBUFS;
	if (s->nrec == s->rcap) {
		size_t nc = s->rcap * 2;
		size_t *re = realloc(s->rend, nc * sizeof(*re));
		unsigned char *rt;

		if (!re)
			return -ENOMEM;
		s->rend = re;
		rt = realloc(s->rtag, nc);
		if (!rt)
			return -ENOMEM;
		s->rtag = rt;
		s->rcap = nc;
	}
	memcpy(s->buf + s->len, buf, len);
	s->len += len;
	s->rend[s->nrec] = s->len;
	s->rtag[s->nrec++] = (unsigned char)(tag < SINK_TAGS ? tag : SINK_TAGS - 1);
	s->sealed = false;
	return 0;
}

int sink_flush(struct sink *s)
{
	if (!s)
		return -EINVAL;
	if (s->broken)
		return s->err ? s->err : -EIO;
	return push(s, Z_SYNC_FLUSH);
}

int sink_wait(struct sink *s, int ms)
{
	struct pollfd pfd = { .fd = s ? s->fd : -1, .events = POLLOUT };

	if (!s || s->wmode == W_BLOCK)
		return 0;
	return poll(&pfd, 1, ms) < 0 ? -errno : 0;
}

int sink_poll_fd(const struct sink *s)
{
	if (!s || s->wmode == W_BLOCK || s->broken || s->len == s->woff)
		return -1;
	return s->fd;
}

int sink_error(const struct sink *s)
{
	return s ? s->err : -EINVAL;
}

size_t sink_pending(const struct sink *s)
{
	return s ? s->len - s->woff : 0;
}

/* Gives up every buffered record, counted per tag. */
static void drop_all(struct sink *s)
{
	for (size_t i = s->rhead; i < s->nrec; i++)
		s->st.dropped[s->rtag[i]]++;
	s->st.bytes_dropped += s->len - s->head;
	s->head = s->len = s->woff = s->rhead = s->nrec = 0;
}

/* The last push into the current fd; what it could not write stays
 * buffered. Then the fd is closed (NFS and some FUSE filesystems report
 * write-back errors only there). */
static int finish_fd(struct sink *s, int wait_ms)
{
	long long deadline = now_ms() + wait_ms;
	int err;

	if (s->broken) {
		err = s->err ? s->err : -EIO;
	} else if (s->kind == SINK_GZIP && s->sealed && s->len == s->head) {
		err = 0;   /* the member is ended: another Z_FINISH adds an empty one */
	} else if (s->kind == SINK_GZIP) {
		err = push(s, Z_FINISH);
		if (err && s->need_trailer)
			end_member(s);
	} else {
		while ((err = push(s, 0)) == -EAGAIN) {
			struct pollfd pfd = { .fd = s->fd, .events = POLLOUT };
			long long left = deadline - now_ms();

			if (left <= 0 || poll(&pfd, 1, (int)left) < 0)
				break;
		}
	}
	if (s->owns_fd && s->fd >= 0) {
		if (close(s->fd) && errno != EINTR && !err) {
			err = -errno;
			sink_fail(s, err);
		}
	}
	s->fd = -1;
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
	/* An error finishing the old file is in the counters, and the records
	 * it could not take go to the new one; the caller cares whether the
	 * new file is in place. */
	finish_fd(s, 0);
	if (s->broken)
		drop_all(s);
	s->woff = s->head;
	s->fd = fd;
	s->off = s->good_off = s->member_start = 0;
	s->need_trailer = s->broken = s->sealed = false;
	s->err = 0;
	if (s->kind == SINK_GZIP)
		deflateReset(&s->zs);  /* a new gzip member, with its header */
	pick_mode(s);
	return 0;
}

int sink_seal(struct sink *s)
{
	int err;

	if (!s || !s->has_path)
		return -EINVAL;
	if (s->broken)
		return s->err ? s->err : -EIO;
	err = push(s, s->kind == SINK_GZIP ? Z_FINISH : 0);
	s->sealed = !err;
	return err;
}

int sink_check_path(const struct sink *s)
{
	struct stat fst, pst;

	if (!s || !s->has_path || s->fd < 0 || fstat(s->fd, &fst))
		return -EINVAL;
	if (lstat(s->path, &pst))
		return -errno;
	return pst.st_dev == fst.st_dev && pst.st_ino == fst.st_ino ? 0 : -ESTALE;
}

void sink_stats(const struct sink *s, struct sink_stats *st)
{
	if (!s) {
		memset(st, 0, sizeof(*st));
		return;
	}
	*st = s->st;
}

int sink_close_wait(struct sink **sp, int wait_ms, struct sink_stats *st)
{
	struct sink *s;
	int err;

	if (!sp || !*sp) {
		if (st)
			memset(st, 0, sizeof(*st));
		return 0;
	}
	s = *sp;
	err = finish_fd(s, wait_ms);
	if (s->len > s->head)
		drop_all(s);
	if (st)
		*st = s->st;
	sink_free(s);
	*sp = NULL;
	return err;
}

int sink_close(struct sink **sp)
{
	return sink_close_wait(sp, 0, NULL);
}

const char *sink_path(const struct sink *s)
{
	return s ? s->path : "";
}

enum sink_kind sink_kind(const struct sink *s)
{
	return s ? s->kind : SINK_STDOUT;
}
