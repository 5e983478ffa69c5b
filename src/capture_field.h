/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Typed, range-checked reads of one field of a capture record (a json-c
 * object), for the record parsers of capture_read.c. Each names the field
 * in its error message ("field \"lport\" is out of range (0..65535)";
 * inside an array of objects, "field \"top.pid\" ...").
 */
#ifndef TT_CAPTURE_FIELD_H
#define TT_CAPTURE_FIELD_H

#include <stddef.h>
#include <json-c/json.h>

/* boot_ns, the clock anchor and times stay below this so that
 * clock_real_of (real + (boot - anchor)) cannot overflow an int64 */
#define NS_MAX (1LL << 62)

/* The longest string a field decodes to (capture_read.h's buffers). */
#define CF_STR_MAX 1024

#define LOWER_WORD "abcdefghijklmnopqrstuvwxyz0123456789_"
#define UPPER_WORD "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"

/* The object being read, and where its errors go. */
struct pctx {
	struct json_object *obj;
	const char *in;          /* the array the object is in, or NULL */
	char *err;
	size_t errsize;
};

/* How a field may be: F_OPT may be absent (the getter returns 1), F_REQ
 * must be there, F_NULL may be null (the getter returns 1). */
enum { F_OPT = 0, F_REQ = 1, F_NULL = 2 };

/* A message about the record: -EINVAL. */
__attribute__((format(printf, 2, 3)))
int cf_fail(struct pctx *c, const char *fmt, ...);
/* A message about field k ("field \"k\" " then fmt): -EINVAL. */
__attribute__((format(printf, 3, 4)))
int cf_bad(struct pctx *c, const char *k, const char *fmt, ...);

/* 0: present (*v is NULL for a JSON null), 1: absent and optional. */
int cf_field(struct pctx *c, const char *k, int flags, struct json_object **v);
int cf_to_u64(struct pctx *c, const char *k, struct json_object *v, unsigned long long max,
	      unsigned long long *out);
int cf_u64(struct pctx *c, const char *k, int flags, unsigned long long max,
	   unsigned long long *out);
int cf_u32(struct pctx *c, const char *k, int flags, unsigned *out);
int cf_ns(struct pctx *c, const char *k, long long *out);
/* "12.345" milliseconds, as the writer keeps them (microseconds) */
int cf_ms(struct pctx *c, const char *k, unsigned long long *ns);
/* a number with decimals (a rate, an interval), 0 to 1e15 */
int cf_double(struct pctx *c, const char *k, int flags, double *out);
int cf_bool(struct pctx *c, const char *k, int flags, int *out);
/* The JSON string value itself, NUL-free. */
int cf_raw_str(struct pctx *c, const char *k, int flags, const char **s, size_t *len);
/* The escaped text form decoded into dst (size bytes, NUL included). */
int cf_str(struct pctx *c, const char *k, int flags, char *dst, size_t size);
/* A plain word of the given characters (LOWER_WORD, UPPER_WORD). */
int cf_word(struct pctx *c, const char *k, int flags, const char *chars, char *dst,
	    size_t size);
/* A state name, as netstat_state_name prints it, to its number. */
int cf_state(struct pctx *c, const char *k, unsigned *st);
/* The same for a bare name: its number, or 0. */
unsigned cf_state_of(const char *name);
/* proto, laddr, lport, raddr, rport */
int cf_endpoints(struct pctx *c, unsigned *family, unsigned char *la, unsigned *lp,
		 unsigned char *ra, unsigned *rp);
/* "sock": a hex string id, or null (0: unknown) */
int cf_sock(struct pctx *c, unsigned long long *id);
/* "kind": absent, "timewait" or "request", as TT_F_TW or TT_F_REQ */
int cf_kind(struct pctx *c, unsigned *flags);
/* An array field: its length; 1 when absent and optional. */
int cf_array(struct pctx *c, const char *k, int flags, struct json_object **arr, size_t *n);
/* Element i of arr, an object, as the context of its fields. */
int cf_element(struct pctx *c, struct json_object *arr, size_t i, const char *k,
	       struct pctx *sub);

#endif
