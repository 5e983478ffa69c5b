// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Reads of one capture field (capture_field.h): json-c does the JSON, this
 * file the types and ranges. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "capture_field.h"
#include "escape.h"
#include "netstat_fmt.h"
#include "tcptrail.h"

#define MS_MAX ((double)NS_MAX / 1e6)
/* a decoded string is at least a quarter of its escaped length (\xNN -> 1 byte) */
#define DECODE_TMP (4 * CF_STR_MAX + 1)

int cf_fail(struct pctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->errsize) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errsize, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int cf_bad(struct pctx *c, const char *k, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!c->errsize)
		return -EINVAL;
	n = snprintf(c->err, c->errsize, "field \"%s%s%s\" ", c->in ? c->in : "", c->in ? "." : "", k);
	if (n >= 0 && (size_t)n < c->errsize) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->errsize - n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

int cf_field(struct pctx *c, const char *k, int flags, struct json_object **v)
{
	if (json_object_object_get_ex(c->obj, k, v))
		return 0;
	*v = NULL;
	if (!(flags & F_REQ))
		return 1;
	return cf_bad(c, k, "is missing");
}

int cf_to_u64(struct pctx *c, const char *k, struct json_object *v, unsigned long long max,
	      unsigned long long *out)
{
	unsigned long long u;
	int64_t i;

	if (!v || !json_object_is_type(v, json_type_int))
		return cf_bad(c, k, "is not an integer");
	i = json_object_get_int64(v);
	if (i < 0)
		return cf_bad(c, k, "is negative");
	/* json-c keeps values above INT64_MAX as uint64 and clamps get_int64 */
	u = i == INT64_MAX ? json_object_get_uint64(v) : (unsigned long long)i;
	if (u > max)
		return cf_bad(c, k, "is out of range (0..%llu)", max);
	*out = u;
	return 0;
}

/* Returns 1 when absent (F_OPT) or null (F_NULL), 0 with *out set. */
int cf_u64(struct pctx *c, const char *k, int flags, unsigned long long max,
	   unsigned long long *out)
{
	struct json_object *v;
	int err = cf_field(c, k, flags, &v);

	if (err)
		return err;
	if (!v && (flags & F_NULL))
		return 1;
	return cf_to_u64(c, k, v, max, out);
}

int cf_u32(struct pctx *c, const char *k, int flags, unsigned *out)
{
	unsigned long long v = 0;
	int err = cf_u64(c, k, flags, UINT32_MAX, &v);

	if (!err)
		*out = (unsigned)v;
	return err;
}

int cf_ns(struct pctx *c, const char *k, long long *out)
{
	unsigned long long v = 0;
	int err = cf_u64(c, k, F_REQ, NS_MAX - 1, &v);

	if (!err)
		*out = (long long)v;
	return err;
}

/*
 * Field k, of JSON type type (json_type_double also takes an integer):
 * 0 with *v, 1 when absent (F_OPT) or null (F_NULL), or the error naming
 * what it should be.
 */
static int typed(struct pctx *c, const char *k, int flags, json_type type, const char *what,
		 struct json_object **v)
{
	int err = cf_field(c, k, flags, v);

	if (err)
		return err;
	if (!*v && (flags & F_NULL))
		return 1;
	if (*v && (json_object_is_type(*v, type) ||
		   (type == json_type_double && json_object_is_type(*v, json_type_int))))
		return 0;
	return cf_bad(c, k, "is not %s", what);
}

/* A JSON number (integer or not) within 0..max. */
static int number(struct pctx *c, const char *k, int flags, double max, double *out)
{
	struct json_object *v;
	int err = typed(c, k, flags, json_type_double, "a number", &v);

	if (err)
		return err;
	*out = json_object_get_double(v);
	if (!isfinite(*out) || *out < 0 || *out > max)
		return cf_bad(c, k, "is out of range");
	return 0;
}

int cf_ms(struct pctx *c, const char *k, unsigned long long *ns)
{
	double d = 0;
	int err = number(c, k, F_OPT, MS_MAX, &d);

	if (err)
		return err;
	/* round to the microsecond the writer kept: 0.1 is not exact in binary */
	*ns = (unsigned long long)(d * 1000.0 + 0.5) * 1000ULL;   /* d >= 0: rounds */
	return 0;
}

int cf_double(struct pctx *c, const char *k, int flags, double *out)
{
	/* ob_fixed writes 0 for anything at or over 1e15 */
	return number(c, k, flags, 1e15, out);
}

int cf_bool(struct pctx *c, const char *k, int flags, int *out)
{
	struct json_object *v;
	int err = typed(c, k, flags, json_type_boolean, "a boolean", &v);

	if (!err)
		*out = json_object_get_boolean(v);
	return err;
}

/* The JSON string value itself, NUL-free. 1: absent or null (as flags allow). */
int cf_raw_str(struct pctx *c, const char *k, int flags, const char **s, size_t *len)
{
	struct json_object *v;
	int err = typed(c, k, flags, json_type_string, "a string", &v);

	if (err)
		return err;
	*s = json_object_get_string(v);
	*len = (size_t)json_object_get_string_len(v);
	if (memchr(*s, '\0', *len))
		return cf_bad(c, k, "contains a NUL character");
	return 0;
}

int cf_str(struct pctx *c, const char *k, int flags, char *dst, size_t size)
{
	char tmp[DECODE_TMP];
	const char *s = NULL;
	size_t len = 0, n;
	int err = cf_raw_str(c, k, flags, &s, &len);

	if (err)
		return err;
	if (len > 4 * (size - 1) || len >= sizeof(tmp))
		return cf_bad(c, k, "is too long");
	n = unesc_text(tmp, sizeof(tmp), s, len);
	if (n > size - 1)
		return cf_bad(c, k, "is too long (%zu bytes, at most %zu)", n, size - 1);
	/* esc_text stops at a NUL byte, so a live capture never holds \x00 */
	if (memchr(tmp, '\0', n))
		return cf_bad(c, k, "decodes to a NUL byte");
	memcpy(dst, tmp, n);
	dst[n] = '\0';
	return 0;
}

int cf_word(struct pctx *c, const char *k, int flags, const char *chars, char *dst, size_t size)
{
	const char *s = NULL;
	size_t len = 0;
	int err = cf_raw_str(c, k, flags, &s, &len);

	if (err)
		return err;
	/* the text form prints it raw: nothing but a word */
	if (!len || len >= size || strspn(s, chars) != len)
		return cf_bad(c, k, "is not a word of [%s]", chars[0] == 'a' ? "a-z0-9_" : "A-Z0-9_");
	memcpy(dst, s, len + 1);
	return 0;
}

unsigned cf_state_of(const char *name)
{
	/* netstat_state_name is the writer's table: read with the same one.
	 * 12 (NEW_SYN_RECV) prints as SYN_RECV and reads back as 3. */
	for (unsigned s = TT_ESTABLISHED; s <= TT_CLOSING; s++)
		if (!strcmp(name, netstat_state_name(s)))
			return s;
	return 0;
}

int cf_state(struct pctx *c, const char *k, unsigned *st)
{
	const char *s = NULL;
	size_t len = 0;
	int err = cf_raw_str(c, k, F_REQ, &s, &len);

	if (err)
		return err;
	*st = cf_state_of(s);
	if (!*st)
		return cf_bad(c, k, "is not a known TCP state name");
	return 0;
}

static int address(struct pctx *c, const char *k, unsigned family, unsigned char *a)
{
	const char *s = NULL;
	size_t len = 0;
	int err = cf_raw_str(c, k, F_REQ, &s, &len);

	if (err)
		return err;
	if (inet_pton(family, s, a) != 1)
		return cf_bad(c, k, "is not an %s address", family == AF_INET ? "IPv4" : "IPv6");
	return 0;
}

static int port(struct pctx *c, const char *k, unsigned *p)
{
	int err = cf_u32(c, k, F_REQ, p);

	if (!err && *p > 65535)
		err = cf_bad(c, k, "is out of range (0..65535)");
	return err;
}

int cf_endpoints(struct pctx *c, unsigned *family, unsigned char *la, unsigned *lp,
		 unsigned char *ra, unsigned *rp)
{
	const char *s = NULL;
	size_t len = 0;
	int err;

	err = cf_raw_str(c, "proto", F_REQ, &s, &len);
	if (err)
		return err;
	if (!strcmp(s, "tcp"))
		*family = AF_INET;
	else if (!strcmp(s, "tcp6"))
		*family = AF_INET6;
	else
		return cf_bad(c, "proto", "is neither \"tcp\" nor \"tcp6\"");
	err = address(c, "laddr", *family, la);
	if (!err)
		err = address(c, "raddr", *family, ra);
	if (!err)
		err = port(c, "lport", lp);
	if (!err)
		err = port(c, "rport", rp);
	return err;
}

int cf_sock(struct pctx *c, unsigned long long *id)
{
	const char *s = NULL;
	size_t len = 0;
	int err = cf_raw_str(c, "sock", F_REQ | F_NULL, &s, &len);

	*id = 0;
	if (err)
		return err > 0 ? 0 : err;
	if (len < 1 || len > 16)
		return cf_bad(c, "sock", "is not a hex id of 1 to 16 digits");
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		unsigned d;

		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else
			return cf_bad(c, "sock", "is not a lower-case hex id");
		*id = *id << 4 | d;
	}
	return 0;
}

int cf_kind(struct pctx *c, unsigned *flags)
{
	const char *s = NULL;
	size_t len = 0;
	int err = cf_raw_str(c, "kind", F_OPT, &s, &len);

	if (err)
		return err > 0 ? 0 : err;
	if (!strcmp(s, "timewait"))
		*flags |= TT_F_TW;
	else if (!strcmp(s, "request"))
		*flags |= TT_F_REQ;
	else
		return cf_bad(c, "kind", "is neither \"timewait\" nor \"request\"");
	return 0;
}

int cf_array(struct pctx *c, const char *k, int flags, struct json_object **arr, size_t *n)
{
	int err = typed(c, k, flags, json_type_array, "an array", arr);

	if (!err)
		*n = json_object_array_length(*arr);
	return err;
}

int cf_element(struct pctx *c, struct json_object *arr, size_t i, const char *k,
	       struct pctx *sub)
{
	*sub = *c;
	sub->obj = json_object_array_get_idx(arr, i);
	sub->in = k;
	if (!sub->obj || !json_object_is_type(sub->obj, json_type_object))
		return cf_bad(c, k, "holds something that is not an object");
	return 0;
}
