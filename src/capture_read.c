// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * JSON Lines record -> formatter structs (capture_read.h). The field list
 * mirrors format_json.c; json-c does the JSON, this file the schema.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <json-c/json.h>

#include "capture_read.h"
#include "escape.h"
#include "netstat_fmt.h"

/* boot_ns, the clock anchor and times stay below this so that
 * clock_real_of (real + (boot - anchor)) cannot overflow an int64 */
#define NS_MAX (1LL << 62)
#define MS_MAX ((double)NS_MAX / 1e6)
/* a decoded string is at least a quarter of its escaped length (\xNN -> 1 byte) */
#define DECODE_TMP (4 * CR_CMDLINE_MAX + 1)

struct cr_parser {
	struct json_tokener *tok;
};

struct pctx {
	struct json_object *obj;
	char *err;
	size_t errsize;
};

enum { F_OPT = 0, F_REQ = 1, F_NULL = 2 };

int cr_parser_new(struct cr_parser **out)
{
	struct cr_parser *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->tok = json_tokener_new();
	if (!p->tok) {
		free(p);
		return -ENOMEM;
	}
	/* strict: no trailing garbage, no single quotes, no comments; the
	 * writer only ever produces valid UTF-8, so anything else is damage */
	json_tokener_set_flags(p->tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	*out = p;
	return 0;
}

void cr_parser_free(struct cr_parser **pp)
{
	struct cr_parser *p = pp ? *pp : NULL;

	if (!p)
		return;
	json_tokener_free(p->tok);
	free(p);
	*pp = NULL;
}

__attribute__((format(printf, 2, 3)))
static int fail(struct pctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->errsize) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errsize, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* 0: present (*v is NULL for a JSON null), 1: absent and optional. */
static int field(struct pctx *c, const char *k, int flags, struct json_object **v)
{
	if (json_object_object_get_ex(c->obj, k, v))
		return 0;
	*v = NULL;
	if (!(flags & F_REQ))
		return 1;
	return fail(c, "field \"%s\" is missing", k);
}

static int to_u64(struct pctx *c, const char *k, struct json_object *v,
		  unsigned long long max, unsigned long long *out)
{
	unsigned long long u;
	int64_t i;

	if (!v || !json_object_is_type(v, json_type_int))
		return fail(c, "field \"%s\" is not an integer", k);
	i = json_object_get_int64(v);
	if (i < 0)
		return fail(c, "field \"%s\" is negative", k);
	/* json-c keeps values above INT64_MAX as uint64 and clamps get_int64 */
	u = i == INT64_MAX ? json_object_get_uint64(v) : (unsigned long long)i;
	if (u > max)
		return fail(c, "field \"%s\" is out of range (0..%llu)", k, max);
	*out = u;
	return 0;
}

/* Returns 1 when absent (F_OPT) or null (F_NULL), 0 with *out set. */
static int get_u64(struct pctx *c, const char *k, int flags, unsigned long long max,
		   unsigned long long *out)
{
	struct json_object *v;
	int err = field(c, k, flags, &v);

	if (err)
		return err;
	if (!v && (flags & F_NULL))
		return 1;
	return to_u64(c, k, v, max, out);
}

static int get_u32(struct pctx *c, const char *k, int flags, unsigned *out)
{
	unsigned long long v = 0;
	int err = get_u64(c, k, flags, UINT32_MAX, &v);

	if (!err)
		*out = (unsigned)v;
	return err;
}

static int get_ns(struct pctx *c, const char *k, long long *out)
{
	unsigned long long v = 0;
	int err = get_u64(c, k, F_REQ, NS_MAX - 1, &v);

	if (!err)
		*out = (long long)v;
	return err;
}

/* "12.345" milliseconds (kms in format_json.c: microsecond precision) */
static int get_ms(struct pctx *c, const char *k, unsigned long long *ns)
{
	struct json_object *v;
	double d;
	int err = field(c, k, F_OPT, &v);

	if (err)
		return err;
	if (!v || !(json_object_is_type(v, json_type_double) ||
		    json_object_is_type(v, json_type_int)))
		return fail(c, "field \"%s\" is not a number", k);
	d = json_object_get_double(v);
	if (!isfinite(d) || d < 0 || d > MS_MAX)
		return fail(c, "field \"%s\" is out of range", k);
	/* round to the microsecond the writer kept: 0.1 is not exact in binary */
	*ns = (unsigned long long)(d * 1000.0 + 0.5) * 1000ULL;   /* d >= 0: rounds */
	return 0;
}

/* The JSON string value itself, NUL-free. 1: absent or null (as flags allow). */
static int raw_str(struct pctx *c, const char *k, int flags, const char **s, size_t *len)
{
	struct json_object *v;
	int err = field(c, k, flags, &v);

	if (err)
		return err;
	if (!v && (flags & F_NULL))
		return 1;
	if (!v || !json_object_is_type(v, json_type_string))
		return fail(c, "field \"%s\" is not a string", k);
	*s = json_object_get_string(v);
	*len = (size_t)json_object_get_string_len(v);
	if (memchr(*s, '\0', *len))
		return fail(c, "field \"%s\" contains a NUL character", k);
	return 0;
}

/* Decodes the escaped text form into dst (size bytes, NUL included). */
static int get_str(struct pctx *c, const char *k, int flags, char *dst, size_t size)
{
	char tmp[DECODE_TMP];
	const char *s = NULL;
	size_t len = 0, n;
	int err = raw_str(c, k, flags, &s, &len);

	if (err)
		return err;
	if (len > 4 * (size - 1) || len >= sizeof(tmp))
		return fail(c, "field \"%s\" is too long", k);
	n = unesc_text(tmp, sizeof(tmp), s, len);
	if (n > size - 1)
		return fail(c, "field \"%s\" is too long (%zu bytes, at most %zu)", k, n, size - 1);
	/* esc_text stops at a NUL byte, so a live capture never holds \x00 */
	if (memchr(tmp, '\0', n))
		return fail(c, "field \"%s\" decodes to a NUL byte", k);
	memcpy(dst, tmp, n);
	dst[n] = '\0';
	return 0;
}

unsigned cr_state_of(const char *name)
{
	/* netstat_state_name is the writer's table: read with the same one.
	 * 12 (NEW_SYN_RECV) prints as SYN_RECV and reads back as 3. */
	for (unsigned s = TT_ESTABLISHED; s <= TT_CLOSING; s++)
		if (!strcmp(name, netstat_state_name(s)))
			return s;
	return 0;
}

static int get_state(struct pctx *c, const char *k, unsigned *st)
{
	const char *s = NULL;
	size_t len = 0;
	int err = raw_str(c, k, F_REQ, &s, &len);

	if (err)
		return err;
	*st = cr_state_of(s);
	if (!*st)
		return fail(c, "field \"%s\" is not a known TCP state name", k);
	return 0;
}

static int digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

int cr_parse_rfc3339(const char *s, size_t len, long long *ns)
{
	int y, mo, d, h, mi, se, frac_hi, frac_lo;
	struct tm tm = { 0 }, back;
	time_t t;

	/* exactly what clock_fmt_rfc3339 prints: 2024-01-31T07:31:42.640324000Z */
	if (len != 30 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[19] != '.' || s[29] != 'Z')
		return -EINVAL;
	if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
	    digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se) ||
	    digits(s + 20, 4, &frac_hi) || digits(s + 24, 5, &frac_lo))
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	t = timegm(&tm);
	/* timegm normalises Feb 31 to Mar 3: a date that does not come back is invalid */
	if (!gmtime_r(&t, &back) || back.tm_mday != d || back.tm_mon != mo - 1)
		return -EINVAL;
	if (t <= -(NS_MAX / 1000000000) || t >= NS_MAX / 1000000000)
		return -EINVAL;
	*ns = (long long)t * 1000000000LL + frac_hi * 100000LL + frac_lo;
	return 0;
}

static int get_endpoints(struct pctx *c, unsigned *family, unsigned char *la, unsigned *lp,
			 unsigned char *ra, unsigned *rp)
{
	const char *s = NULL;
	size_t len = 0;
	int err;

	err = raw_str(c, "proto", F_REQ, &s, &len);
	if (err)
		return err;
	if (!strcmp(s, "tcp"))
		*family = AF_INET;
	else if (!strcmp(s, "tcp6"))
		*family = AF_INET6;
	else
		return fail(c, "field \"proto\" is neither \"tcp\" nor \"tcp6\"");
	err = raw_str(c, "laddr", F_REQ, &s, &len);
	if (err)
		return err;
	if (inet_pton(*family, s, la) != 1)
		return fail(c, "field \"laddr\" is not an %s address", *family == AF_INET ? "IPv4" : "IPv6");
	err = raw_str(c, "raddr", F_REQ, &s, &len);
	if (err)
		return err;
	if (inet_pton(*family, s, ra) != 1)
		return fail(c, "field \"raddr\" is not an %s address", *family == AF_INET ? "IPv4" : "IPv6");
	err = get_u32(c, "lport", F_REQ, lp);
	if (!err && *lp > 65535)
		err = fail(c, "field \"lport\" is out of range (0..65535)");
	if (!err)
		err = get_u32(c, "rport", F_REQ, rp);
	if (!err && *rp > 65535)
		err = fail(c, "field \"rport\" is out of range (0..65535)");
	return err;
}

/* "sock": a hex string id, or null (0: unknown) */
static int get_sock(struct pctx *c, unsigned long long *id)
{
	const char *s = NULL;
	size_t len = 0;
	int err = raw_str(c, "sock", F_REQ | F_NULL, &s, &len);

	*id = 0;
	if (err)
		return err > 0 ? 0 : err;
	if (len < 1 || len > 16)
		return fail(c, "field \"sock\" is not a hex id of 1 to 16 digits");
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		unsigned d;

		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else
			return fail(c, "field \"sock\" is not a lower-case hex id");
		*id = *id << 4 | d;
	}
	return 0;
}

/* "kind": absent, "timewait" or "request" */
static int get_kind(struct pctx *c, unsigned *flags)
{
	const char *s = NULL;
	size_t len = 0;
	int err = raw_str(c, "kind", F_OPT, &s, &len);

	if (err)
		return err > 0 ? 0 : err;
	if (!strcmp(s, "timewait"))
		*flags |= TT_F_TW;
	else if (!strcmp(s, "request"))
		*flags |= TT_F_REQ;
	else
		return fail(c, "field \"kind\" is neither \"timewait\" nor \"request\"");
	return 0;
}

static int parse_meta(struct pctx *c, struct cr_record *r)
{
	struct tt_meta *m = &r->meta;
	struct { const char *k; char *buf; size_t size; const char **dst; } strs[] = {
		{ "version", r->version, sizeof(r->version), &m->version },
		{ "hostname", r->hostname, sizeof(r->hostname), &m->hostname },
		{ "kernel", r->kernel, sizeof(r->kernel), &m->kernel },
		{ "boot_id", r->boot_id, sizeof(r->boot_id), &m->boot_id },
		{ "cmdline", r->cmdline, sizeof(r->cmdline), &m->cmdline },
		{ "attach", r->attach, sizeof(r->attach), &m->attach },
	};
	unsigned long long v = 0;
	struct json_object *o;
	int err;

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		err = get_str(c, strs[i].k, F_REQ | F_NULL, strs[i].buf, strs[i].size);
		if (err < 0)
			return err;
		*strs[i].dst = err ? NULL : strs[i].buf;
	}
	/* optional: captures written before these fields existed lack them */
	err = get_str(c, "features", F_OPT, r->features, sizeof(r->features));
	if (err < 0)
		return err;
	m->features = err ? NULL : r->features;
	err = get_str(c, "features_missing", F_OPT, r->features_missing, sizeof(r->features_missing));
	if (err < 0)
		return err;
	m->features_missing = err ? NULL : r->features_missing;
	err = get_ns(c, "start_boot_ns", &m->boot_ns);
	if (!err)
		err = get_ns(c, "start_real_ns", &m->real_ns);
	if (!err)
		err = get_u64(c, "ring_size", F_REQ, ULONG_MAX, &v);
	if (err)
		return err;
	m->ring_size = (unsigned long)v;
	err = field(c, "netns", F_REQ, &o);
	if (err)
		return err;
	if (o && json_object_is_type(o, json_type_string)) {
		if (strcmp(json_object_get_string(o), "all"))
			return fail(c, "field \"netns\" is neither a number nor \"all\"");
		m->netns = 0;
	} else {
		err = to_u64(c, "netns", o, UINT32_MAX, &v);
		if (err)
			return err;
		m->netns = (unsigned)v;
	}
	err = field(c, "timewait_and_requests", F_REQ, &o);
	if (err)
		return err;
	if (!o || !json_object_is_type(o, json_type_boolean))
		return fail(c, "field \"timewait_and_requests\" is not a boolean");
	m->timers = json_object_get_boolean(o);
	err = field(c, "softirq_aware_owner", F_REQ, &o);
	if (err)
		return err;
	if (!o || !json_object_is_type(o, json_type_boolean))
		return fail(c, "field \"softirq_aware_owner\" is not a boolean");
	m->ctx_owner = json_object_get_boolean(o);
	/* optional: captures written before this field existed lack it */
	err = field(c, "snapshot", F_OPT, &o);
	if (err < 0)
		return err;
	if (!err && o) {
		if (!json_object_is_type(o, json_type_boolean))
			return fail(c, "field \"snapshot\" is not a boolean");
		m->snapshot = json_object_get_boolean(o);
	}
	return 0;
}

static int parse_snapshot(struct pctx *c, struct cr_record *r)
{
	struct tt_snaprec *s = &r->snap;
	struct tt_sockrow *row = &s->row;
	int err;

	s->boot_ns = r->boot_ns;
	err = get_endpoints(c, &row->family, row->laddr, &row->lport, row->raddr, &row->rport);
	if (!err)
		err = get_state(c, "state", &row->state);
	if (!err)
		err = get_u64(c, "recv_q", F_REQ, ULLONG_MAX, &row->rxq);
	if (!err)
		err = get_u64(c, "send_q", F_REQ, ULLONG_MAX, &row->txq);
	if (!err)
		err = get_sock(c, &s->sock_id);
	if (!err)
		err = get_u32(c, "netns", F_REQ, &s->netns);
	if (!err)
		err = get_u32(c, "uid", F_REQ, &row->uid);
	if (!err)
		err = get_u64(c, "inode", F_REQ, ULLONG_MAX, &row->inode);
	if (!err)
		err = get_kind(c, &s->flags);
	if (err)
		return err;
	err = get_u32(c, "pid", F_REQ | F_NULL, &s->pid);
	if (err < 0)
		return err;
	s->owner_known = !err;
	err = get_str(c, "comm", F_REQ | F_NULL, r->comm, sizeof(r->comm));
	if (err < 0)
		return err;
	if (!s->owner_known)
		return 0;
	s->comm = err ? NULL : r->comm;
	/*
	 * The text row shows netstat's "PID/Program name", which the capture
	 * does not record (a newer writer may add it as "owner"): rebuild it
	 * from pid and comm, cut to the 19 bytes netstat prints.
	 */
	{
		struct json_object *ow = NULL;

		if (field(c, "owner", F_OPT, &ow) == 0) {
			/* present: keep it as written, null included */
			err = get_str(c, "owner", F_OPT | F_NULL, r->owner, sizeof(r->owner));
			if (err < 0)
				return err;
			s->owner = err ? NULL : r->owner;
			return 0;
		}
	}
	snprintf(r->owner, 20, "%u/%s", s->pid, s->comm ? s->comm : "");
	s->owner = r->owner;
	s->owner_derived = 1;
	return 0;
}

static int parse_event(struct pctx *c, struct cr_record *r, unsigned kind)
{
	struct tt_event *e = &r->ev;
	unsigned long long v = 0;
	char comm[TT_COMM_LEN + 1];
	int err;

	e->kind = kind;
	e->ts_ns = (unsigned long long)r->boot_ns;
	err = get_u64(c, "seq", F_REQ, ULLONG_MAX, &v);
	if (err)
		return err;
	e->seq = v;
	err = get_endpoints(c, &e->family, e->laddr, &e->lport, e->raddr, &e->rport);
	if (!err && kind == TT_EV_STATE)
		err = get_state(c, "old_state", &e->old_state);
	if (!err)
		err = get_state(c, "state", &e->new_state);
	if (!err)
		err = get_u32(c, "ctx_pid", F_REQ, &e->ctx_pid);
	if (!err)
		err = get_u32(c, "recv_q", F_REQ, &e->recv_q);
	if (!err)
		err = get_u32(c, "send_q", F_REQ, &e->send_q);
	if (!err)
		err = get_sock(c, &v);
	if (err)
		return err;
	e->sock_id = v;
	err = get_u32(c, "netns", F_REQ, &e->netns);
	if (!err)
		err = get_kind(c, &e->flags);
	if (err)
		return err;

	/* comm and ctx_comm are char[16], not necessarily NUL-terminated */
	err = get_u32(c, "pid", F_REQ | F_NULL, &e->pid);
	if (err < 0)
		return err;
	if (!err)
		e->flags |= TT_F_OWNER;
	err = get_str(c, "comm", F_REQ | F_NULL, comm, sizeof(comm));
	if (err < 0)
		return err;
	if (!err)
		memcpy(e->comm, comm, strlen(comm));
	err = get_str(c, "ctx_comm", F_REQ | F_NULL, comm, sizeof(comm));
	if (err < 0)
		return err;
	if (!err)
		memcpy(e->ctx_comm, comm, strlen(comm));

	err = get_ms(c, "state_ms", &v);
	if (err < 0)
		return err;
	if (!err) {
		e->flags |= TT_F_STATE_NS;
		e->state_ns = v;
	}
	/* rx_bytes and tx_bytes come together, on the final record only */
	err = get_u64(c, "rx_bytes", F_OPT, ULLONG_MAX, &v);
	if (err < 0)
		return err;
	if (!err) {
		e->flags |= TT_F_FINAL;
		e->rx_bytes = v;
		err = get_u64(c, "tx_bytes", F_REQ, ULLONG_MAX, &v);
		if (err)
			return err;
		e->tx_bytes = v;
		err = get_ms(c, "duration_ms", &v);
		if (err < 0)
			return err;
		if (!err)
			e->duration_ns = v;
	} else {
		struct json_object *o;

		if (!field(c, "tx_bytes", F_OPT, &o) || !field(c, "duration_ms", F_OPT, &o))
			return fail(c, "field \"rx_bytes\" is missing (tx_bytes or duration_ms without it)");
	}
	if (kind != TT_EV_STATE)
		return get_u32(c, "size", F_REQ, &e->extra);
	return 0;
}

static int parse_lost(struct pctx *c, struct cr_record *r)
{
	struct tt_lost *l = &r->lost;
	const char *s = NULL;
	size_t len = 0;
	int err, no_from, no_to;   /* 1: absent */

	l->boot_ns = r->boot_ns;
	err = get_u64(c, "count", F_REQ, ULLONG_MAX, &l->count);
	if (err)
		return err;
	no_from = get_u64(c, "from_seq", F_OPT, ULLONG_MAX, &l->from_seq);
	if (no_from < 0)
		return no_from;
	no_to = get_u64(c, "to_seq", F_OPT, ULLONG_MAX, &l->to_seq);
	if (no_to < 0)
		return no_to;
	if (no_from != no_to)
		return fail(c, "field \"%s\" is missing (from_seq and to_seq come together)",
			    no_from ? "from_seq" : "to_seq");
	if (no_from) {
		l->from_seq = 1;     /* from > to: no range, as the writer encodes it */
		l->to_seq = 0;
	} else if (l->from_seq > l->to_seq) {
		return fail(c, "field \"from_seq\" is greater than \"to_seq\"");
	}
	/* the text form prints the reason raw: accept only a plain word */
	err = raw_str(c, "reason", F_REQ, &s, &len);
	if (err)
		return err;
	if (!len || len >= sizeof(r->reason) || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") != len)
		return fail(c, "field \"reason\" is not a word of [a-z0-9_]");
	memcpy(r->reason, s, len + 1);
	l->reason = r->reason;
	return 0;
}

static int parse_summary(struct pctx *c, struct cr_record *r)
{
	struct tt_summary *s = &r->summary;
	struct { const char *k; unsigned long long *v; } f[] = {
		{ "snapshot", &s->snapshot }, { "seen", &s->seen }, { "written", &s->written },
		{ "lost", &s->lost }, { "lost_ring", &s->lost_ring },
		{ "lost_recursion", &s->lost_recursion }, { "lost_write", &s->lost_write },
		{ "filtered", &s->filtered },
	};

	s->boot_ns = r->boot_ns;
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		int err = get_u64(c, f[i].k, F_REQ, ULLONG_MAX, f[i].v);

		if (err)
			return err;
	}
	return 0;
}

int cr_parse_line(struct cr_parser *p, const char *line, size_t len,
		  struct cr_record *rec, char *err, size_t errsize)
{
	struct pctx c = { .err = err, .errsize = errsize };
	struct json_object *root = NULL;
	enum json_tokener_error jerr;
	const char *type = NULL, *time = NULL;
	size_t tlen = 0, timelen = 0;
	int ret;

	memset(rec, 0, sizeof(*rec));
	if (errsize)
		err[0] = '\0';
	if (!len)
		return fail(&c, "empty line");
	if (len > CR_LINE_MAX)
		return fail(&c, "line longer than %d bytes", CR_LINE_MAX);
	if (memchr(line, '\0', len))
		return fail(&c, "NUL byte in the line");
	json_tokener_reset(p->tok);
	root = json_tokener_parse_ex(p->tok, line, (int)len);
	jerr = json_tokener_get_error(p->tok);
	if (!root || jerr != json_tokener_success) {
		if (jerr == json_tokener_continue)
			ret = fail(&c, "incomplete JSON (the record is cut short)");
		else
			ret = fail(&c, "invalid JSON near byte %zu: %s",
				   json_tokener_get_parse_end(p->tok) + 1, json_tokener_error_desc(jerr));
		goto cleanup;
	}
	if (json_tokener_get_parse_end(p->tok) != len) {
		ret = fail(&c, "data after the JSON object at byte %zu",
			   json_tokener_get_parse_end(p->tok) + 1);
		goto cleanup;
	}
	if (!json_object_is_type(root, json_type_object)) {
		ret = fail(&c, "not a JSON object");
		goto cleanup;
	}
	c.obj = root;
	ret = raw_str(&c, "type", F_REQ, &type, &tlen);
	if (ret)
		goto cleanup;
	ret = raw_str(&c, "time", F_REQ, &time, &timelen);
	if (!ret && cr_parse_rfc3339(time, timelen, &rec->time_real_ns))
		ret = fail(&c, "field \"time\" is not a time like 2024-01-31T07:31:42.640324000Z");
	if (!ret)
		ret = get_ns(&c, "boot_ns", &rec->boot_ns);
	if (ret) {
		/* an unknown type may lay its fields out differently */
		if (strcmp(type, "meta") && strcmp(type, "snapshot") && strcmp(type, "transition") &&
		    strcmp(type, "rcvq_full") && strcmp(type, "sndbuf_full") && strcmp(type, "lost") &&
		    strcmp(type, "clock") && strcmp(type, "summary"))
			goto unknown;
		goto cleanup;
	}

	if (!strcmp(type, "meta")) {
		rec->type = CR_META;
		ret = parse_meta(&c, rec);
	} else if (!strcmp(type, "snapshot")) {
		rec->type = CR_SNAPSHOT;
		ret = parse_snapshot(&c, rec);
	} else if (!strcmp(type, "transition")) {
		rec->type = CR_EVENT;
		ret = parse_event(&c, rec, TT_EV_STATE);
	} else if (!strcmp(type, "rcvq_full")) {
		rec->type = CR_EVENT;
		ret = parse_event(&c, rec, TT_EV_RCVQ_FULL);
	} else if (!strcmp(type, "sndbuf_full")) {
		rec->type = CR_EVENT;
		ret = parse_event(&c, rec, TT_EV_SNDBUF);
	} else if (!strcmp(type, "lost")) {
		rec->type = CR_LOST;
		ret = parse_lost(&c, rec);
	} else if (!strcmp(type, "clock")) {
		rec->type = CR_CLOCK;
		ret = get_ns(&c, "real_ns", &rec->clock_real_ns);
	} else if (!strcmp(type, "summary")) {
		rec->type = CR_SUMMARY;
		ret = parse_summary(&c, rec);
	} else {
		goto unknown;
	}
	goto cleanup;
unknown:
	memset(rec, 0, sizeof(*rec));
	rec->type = CR_UNKNOWN;
	esc_text(rec->type_name, sizeof(rec->type_name), type, tlen);
	ret = 0;
	if (errsize)
		err[0] = '\0';
cleanup:
	json_object_put(root);
	return ret;
}
