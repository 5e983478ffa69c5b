// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lines.h"

#define READ_CHUNK (64 * 1024)

int lines_open(struct lines *l, const char *path)
{
	int fd;

	memset(l, 0, sizeof(*l));
	l->path = path;
	l->cap = 4 * READ_CHUNK;
	l->buf = malloc(l->cap);
	if (!l->buf)
		return -ENOMEM;
	errno = 0;
	if (strcmp(path, "-")) {
		l->f = gzopen(path, "rbe");
	} else {
		/* gzclose closes the fd it was given: hand it a copy of stdin */
		fd = dup(STDIN_FILENO);
		if (fd >= 0) {
			l->f = gzdopen(fd, "rb");
			if (!l->f)
				close(fd);
		}
	}
	if (!l->f) {
		int err = errno ? -errno : -ENOMEM;

		lines_close(l);
		return err;
	}
	gzbuffer(l->f, 128 * 1024);
	return 0;
}

void lines_close(struct lines *l)
{
	if (!l)
		return;
	if (l->f)
		gzclose(l->f);
	l->f = NULL;
	free(l->buf);
	l->buf = NULL;
}

int lines_next(struct lines *l, size_t max, const char **line, size_t *len)
{
	for (;;) {
		char *nl = memchr(l->buf + l->scanned, '\n', l->end - l->scanned);
		int n;

		if (nl) {
			*line = l->buf + l->start;
			*len = (size_t)(nl - *line);
			l->start = l->scanned = (size_t)(nl - l->buf) + 1;
			l->lineno++;
			return 1;
		}
		l->scanned = l->end;
		if (l->end - l->start > max) {
			l->lineno++;
			return -E2BIG;
		}
		if (l->eof) {
			if (l->start == l->end)
				return 0;
			*line = l->buf + l->start;
			*len = l->end - l->start;
			l->start = l->scanned = l->end;
			l->lineno++;
			return 2;
		}
		/* make room: move the partial line to the front, grow if it fills the buffer */
		if (l->start) {
			memmove(l->buf, l->buf + l->start, l->end - l->start);
			l->end -= l->start;
			l->scanned -= l->start;
			l->start = 0;
		}
		if (l->cap - l->end < READ_CHUNK) {
			size_t nc = l->cap * 2;
			char *nb = realloc(l->buf, nc);

			if (!nb)
				return -ENOMEM;
			l->buf = nb;
			l->cap = nc;
		}
		n = gzread(l->f, l->buf + l->end, (unsigned)(l->cap - l->end));
		if (n < 0) {
			l->lineno++;
			return -EIO;
		}
		if (n == 0)
			l->eof = 1;
		l->end += (size_t)n;
	}
}

const char *lines_damage(struct lines *l, int ret, char *buf, size_t size)
{
	const char *msg;
	size_t plen = strlen(l->path);
	int zerr;

	msg = gzerror(l->f, &zerr);
	if (ret != -EIO && (zerr == Z_OK || zerr == Z_STREAM_END))
		return NULL;
	if (ret != -EIO && ret != 2)
		l->lineno++;   /* the damage is where the next line would start */
	if (zerr == Z_ERRNO)
		msg = strerror(errno);
	else if (!msg || !*msg)
		msg = "unknown error";
	/* zlib prefixes the path, which the message already names */
	else if (!strncmp(msg, l->path, plen) && !strncmp(msg + plen, ": ", 2))
		msg += plen + 2;
	snprintf(buf, size, "%s (%s)", zerr == Z_ERRNO ? "read error" :
		 "compressed data is truncated or corrupted", msg);
	return buf;
}
