// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * What the parser accepts (the getopt_long arrays opts_parse uses, built
 * from the options table in src/opts.c) must be what --help, the man page
 * (docs/tcptrail.8) and the bash completion (scripts/tcptrail.bash-completion)
 * list: these tests fail, naming the option and the file, as soon as one
 * of them lacks an option or lists one the parser refuses. They also check
 * that every JSON record type and field that format_json.c writes, for a
 * record of every type, is documented in the man page.
 *
 * The files are read relative to the current directory: run from the
 * repository root (make unit does).
 */
#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "file_test_util.h"
#include <json-c/json.h>

#include "format.h"
#include "opts.h"

#define MAN_PAGE "docs/tcptrail.8"
#define COMPLETION "scripts/tcptrail.bash-completion"

#define MAX_NAMES 256
#define NAME_LEN 64

struct names {
	int n;
	char v[MAX_NAMES][NAME_LEN];
};

static char *usage_text(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	opts_usage(f, "tcptrail");
	assert_int_equal(fclose(f), 0);
	return buf;
}

static int names_has(const struct names *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], name))
			return 1;
	return 0;
}

static void names_add(struct names *s, const char *name, size_t len)
{
	char tmp[NAME_LEN];

	if (len >= NAME_LEN)
		fail_msg("option name too long: %.*s", (int)len, name);
	memcpy(tmp, name, len);
	tmp[len] = '\0';
	if (names_has(s, tmp))
		return;
	assert_true(s->n < MAX_NAMES);
	strcpy(s->v[s->n++], tmp);
}

/*
 * roff to plain text, as far as option names care: "\-" is "-", font
 * changes (\fB, \fI, \fR, \fP) vanish, comment lines (.\") are dropped.
 * Everything else is kept as is.
 */
static char *roff_plain(const char *roff)
{
	char *out = malloc(strlen(roff) + 1), *o = out;
	const char *p = roff;

	assert_non_null(out);
	while (*p) {
		if ((p == roff || p[-1] == '\n') && !strncmp(p, ".\\\"", 3)) {
			p = strchrnul(p, '\n');
			continue;
		}
		if (p[0] == '\\' && p[1] == '-') {
			*o++ = '-';
			p += 2;
		} else if (p[0] == '\\' && p[1] == 'f' && p[2]) {
			p += 3;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

/* Every "--name" in text: "--" at a word start, then [a-z0-9-], the name
 * starting with a letter (so "---" rules and "--" alone are skipped). */
static void long_options_in(const char *text, struct names *s)
{
	for (const char *p = text; (p = strstr(p, "--")); p += 2) {
		size_t len = 0;

		if (p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '-'))
			continue;
		if (!islower((unsigned char)p[2]))
			continue;
		while (islower((unsigned char)p[2 + len]) || isdigit((unsigned char)p[2 + len]) ||
		       p[2 + len] == '-')
			len++;
		while (len && p[2 + len - 1] == '-')
			len--;
		names_add(s, p + 2, len);
	}
}

/* The long options the parser accepts: getopt_long's own array. */
static struct names *official(void)
{
	struct names *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	for (const struct option *p = opts_getopt_long(); p->name; p++)
		names_add(s, p->name, strlen(p->name));
	assert_true(s->n > 0);
	return s;
}

/* Set equality with the parser's long options, every difference named. */
static void expect_same(const struct names *got, const char *where)
{
	struct names *want = official();
	char msg[4096] = "";
	size_t off = 0;

	for (int i = 0; i < want->n; i++)
		if (!names_has(got, want->v[i]))
			off += (size_t)snprintf(msg + off, sizeof(msg) - off,
						"\n  %s does not list --%s", where, want->v[i]);
	for (int i = 0; i < got->n && off < sizeof(msg); i++)
		if (!names_has(want, got->v[i]))
			off += (size_t)snprintf(msg + off, sizeof(msg) - off,
						"\n  %s lists --%s, which the parser does not accept",
						where, got->v[i]);
	free(want);
	if (off)
		fail_msg("long options differ:%s", msg);
}

static void test_usage_long(void **state)
{
	struct names got = { 0 };
	char *usage = usage_text();

	(void)state;
	long_options_in(usage, &got);
	expect_same(&got, "tcptrail --help");
	free(usage);
}

/* The section of the plain man page text from ".SH NAME" up to the next .SH. */
static char *man_section(const char *plain, const char *name)
{
	char head[64];
	const char *start, *end;
	char *sec;

	snprintf(head, sizeof(head), "\n.SH %s\n", name);
	start = strstr(plain, head);
	if (!start)
		fail_msg(MAN_PAGE " has no section %s", name);
	start += strlen(head);
	end = strstr(start, "\n.SH ");
	if (!end)
		end = start + strlen(start);
	sec = strndup(start, (size_t)(end - start));
	assert_non_null(sec);
	return sec;
}

/* The OPTIONS section documents each option in the tag of a .TP entry. */
static void test_man_options_section(void **state)
{
	char *roff = tu_slurp(MAN_PAGE, NULL), *plain = roff_plain(roff), *sec;
	struct names got = { 0 };
	int tags = 0;

	(void)state;
	sec = man_section(plain, "OPTIONS");
	for (char *line = strtok(sec, "\n"), *prev = NULL; line; prev = line, line = strtok(NULL, "\n")) {
		struct names one = { 0 };

		if (!prev || strcmp(prev, ".TP"))
			continue;
		long_options_in(line, &one);
		if (one.n != 1)
			fail_msg(MAN_PAGE " OPTIONS: a .TP tag should name one long option: %s", line);
		if (names_has(&got, one.v[0]))
			fail_msg(MAN_PAGE " OPTIONS documents --%s twice", one.v[0]);
		names_add(&got, one.v[0], strlen(one.v[0]));
		tags++;
	}
	expect_same(&got, MAN_PAGE " OPTIONS");
	assert_int_equal(tags, got.n);
	free(sec);
	free(plain);
	free(roff);
}

/* Anywhere in the page (synopsis, examples, prose): no option that does not
 * exist, so a renamed option cannot survive in an example. */
static void test_man_mentions_real_options(void **state)
{
	char *roff = tu_slurp(MAN_PAGE, NULL), *plain = roff_plain(roff);
	struct names got = { 0 }, *want = official();

	(void)state;
	long_options_in(plain, &got);
	for (int i = 0; i < got.n; i++)
		if (!names_has(want, got.v[i]))
			fail_msg(MAN_PAGE " mentions --%s, which is not a tcptrail option", got.v[i]);
	/* and everything is mentioned at least once, synopsis included */
	expect_same(&got, MAN_PAGE);
	free(want);
	free(plain);
	free(roff);
}

static void test_man_sections(void **state)
{
	static const char *const sections[] = {
		"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "OUTPUT FORMAT", "ATTRIBUTION",
		"EXAMPLES", "OVERHEAD", "EXIT STATUS", "FILES", "SEE ALSO",
	};
	char *roff = tu_slurp(MAN_PAGE, NULL);

	(void)state;
	assert_non_null(strstr(roff, "\n.TH TCPTRAIL 8 "));
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		char *sec = man_section(roff, sections[i]);

		if (strlen(sec) < 10)
			fail_msg(MAN_PAGE " section %s is empty", sections[i]);
		free(sec);
	}
	free(roff);
}

/* "  -X, --name" lines of --help: the short options and their long twins. */
struct pair {
	char shortopt;
	char name[NAME_LEN];
};

static int usage_pairs(struct pair *pairs, int max)
{
	char *usage = usage_text();
	int n = 0;

	for (char *line = strtok(usage, "\n"); line; line = strtok(NULL, "\n")) {
		size_t len = 0;

		if (strncmp(line, "  -", 3) || !isalnum((unsigned char)line[3]) ||
		    strncmp(line + 4, ", --", 4))
			continue;
		assert_true(n < max);
		pairs[n].shortopt = line[3];
		while (islower((unsigned char)line[8 + len]) || isdigit((unsigned char)line[8 + len]) ||
		       line[8 + len] == '-')
			len++;
		assert_true(len > 0 && len < NAME_LEN);
		memcpy(pairs[n].name, line + 8, len);
		pairs[n].name[len] = '\0';
		n++;
	}
	free(usage);
	return n;
}

/* The parser's short options and their long twins: getopt_long's array,
 * checked against its short option string. */
static int parser_pairs(struct pair *pairs, int max)
{
	const char *shorts = opts_getopt_short();
	int n = 0, nshort = 0;

	for (const struct option *p = opts_getopt_long(); p->name; p++) {
		if (p->val <= 0 || p->val >= 256)
			continue;
		assert_true(n < max);
		if (!strchr(shorts, p->val))
			fail_msg("-%c (--%s) is not in the short option string '%s'", p->val, p->name,
				 shorts);
		pairs[n].shortopt = (char)p->val;
		snprintf(pairs[n].name, sizeof(pairs[n].name), "%s", p->name);
		n++;
	}
	for (const char *c = shorts; *c; c++)
		nshort += !!isalnum((unsigned char)*c);
	/* a short option without a long twin would be missed by every test */
	assert_int_equal(nshort, n);
	return n;
}

/* --help lists every short option with its long twin, and no other. */
static void test_usage_short(void **state)
{
	struct pair help[64], parser[64];
	int nh = usage_pairs(help, 64), np = parser_pairs(parser, 64);

	(void)state;
	for (int i = 0; i < np; i++) {
		int found = 0;

		for (int k = 0; k < nh; k++)
			found |= help[k].shortopt == parser[i].shortopt && !strcmp(help[k].name, parser[i].name);
		if (!found)
			fail_msg("tcptrail --help does not list -%c, --%s", parser[i].shortopt, parser[i].name);
	}
	assert_int_equal(nh, np);
}

/* Each OPTIONS tag that names --name also names its short option, "-X". */
static void test_man_short_options(void **state)
{
	struct pair pairs[64];
	int n = parser_pairs(pairs, 64);
	char *roff = tu_slurp(MAN_PAGE, NULL), *plain = roff_plain(roff), *sec;

	(void)state;
	/* -4 -6 -P -p -l -s -d -w -o -q -r -v -V -h: most options have one */
	assert_true(n >= 10);
	sec = man_section(plain, "OPTIONS");
	for (int i = 0; i < n; i++) {
		char want_long[NAME_LEN + 4], want_short[4] = { '-', pairs[i].shortopt, 0, 0 };
		const char *tag = NULL;

		snprintf(want_long, sizeof(want_long), "--%s", pairs[i].name);
		for (char *p = sec; (p = strstr(p, "\n.TP\n")); p += 5) {
			char *line = p + 5, *eol = strchrnul(line, '\n'), *hit = strstr(line, want_long);

			if (hit && hit < eol && !islower((unsigned char)hit[strlen(want_long)]) &&
			    hit[strlen(want_long)] != '-') {
				tag = line;
				break;
			}
		}
		if (!tag)
			fail_msg(MAN_PAGE " OPTIONS has no tag for %s", want_long);
		{
			const char *eol = strchrnul(tag, '\n'), *hit = tag;
			int found = 0;

			while ((hit = strstr(hit, want_short)) && hit < eol) {
				if ((hit == tag || hit[-1] == ' ') &&
				    (hit[2] == ' ' || hit[2] == '"' || hit[2] == '\n' || hit[2] == ','))
					found = 1;
				hit += 2;
			}
			if (!found)
				fail_msg(MAN_PAGE " OPTIONS: the tag of %s does not name %s: %.*s",
					 want_long, want_short, (int)(eol - tag), tag);
		}
	}
	free(sec);
	free(plain);
	free(roff);
}

static void test_completion_long(void **state)
{
	char *text = tu_slurp(COMPLETION, NULL);
	struct names got = { 0 };

	(void)state;
	long_options_in(text, &got);
	expect_same(&got, COMPLETION);
	free(text);
}

/* The short_opts="..." list holds exactly the short options of --help. */
static void test_completion_short(void **state)
{
	struct pair pairs[64];
	int n = parser_pairs(pairs, 64), count = 0;
	char *text = tu_slurp(COMPLETION, NULL), *list, *end, padded[256];

	(void)state;
	list = strstr(text, "short_opts=\"");
	if (!list)
		fail_msg(COMPLETION " has no short_opts=\"...\" list");
	list += strlen("short_opts=\"");
	end = strchr(list, '"');
	assert_non_null(end);
	*end = '\0';
	/* " LIST ", before strtok cuts it up: " -X " then finds whole words */
	snprintf(padded, sizeof(padded), " %s ", list);
	for (char *w = strtok(list, " \t\n"); w; w = strtok(NULL, " \t\n")) {
		int known = 0;

		if (strlen(w) != 2 || w[0] != '-')
			fail_msg(COMPLETION " short_opts: '%s' is not a short option", w);
		for (int i = 0; i < n; i++)
			known |= pairs[i].shortopt == w[1];
		if (!known)
			fail_msg(COMPLETION " completes %s, which the parser does not accept", w);
		count++;
	}
	for (int i = 0; i < n; i++) {
		char want[8];

		snprintf(want, sizeof(want), " -%c ", pairs[i].shortopt);
		if (!strstr(padded, want))
			fail_msg(COMPLETION " does not complete -%c (--%s)", pairs[i].shortopt,
				 pairs[i].name);
	}
	assert_int_equal(count, n);
	free(text);
}

/*
 * One record of the given type, every optional field present: what the
 * JSON writer can put in a record of that type. Returns 0 when the type
 * has no JSON form (a text header). A new type without a sample fails.
 */
static int sample(enum tt_rec_type type, unsigned kind, struct tt_record *r)
{
	static const struct tt_trans_count trans[] = { { TT_CLOSE, TT_SYN_SENT, 3 } };
	static const struct tt_proc_count procs[] = { { .known = 1, .pid = 42, .comm = "nc", .n = 3 }, { .n = 1 } };

	memset(r, 0, sizeof(*r));
	r->type = type;
	/* snapshot and events: the socket's cgroup fields */
	r->cg = (struct tt_cgref){ .present = 1, .id = 7, .path = "/a", .container = "a.service" };
	switch (type) {
	case TT_REC_META:
		r->meta = (struct tt_meta){ "v", "h", "k", "b", "c", "a", "f", "m", 4096, 1, 1, 1, 1, 0, 0,
					    "mounted" };
		return 1;
	case TT_REC_SNAPSHOT:
		r->snap.row.family = 2;
		r->snap.owner_known = 1;
		r->snap.comm = "nc";
		r->snap.owner = "42/nc";
		r->snap.flags = TT_F_TW;
		return 1;
	case TT_REC_EVENT:
		r->ev.kind = kind;
		r->ev.family = 2;
		r->ev.flags = TT_F_OWNER | TT_F_STATE_NS | TT_F_FINAL | TT_F_REQ;
		r->ev.duration_ns = 1;
		return 1;
	case TT_REC_LOST:
		r->lost = (struct tt_lost){ 1, 2, 2, 1, 1, "write", "ENOSPC", 0 };
		return 1;
	case TT_REC_SKIPPED:
		r->lost = (struct tt_lost){ 1, 2, 2, 0, 0, "snapshot", NULL, 0 };
		return 1;
	case TT_REC_CLOCK:
		return 1;
	case TT_REC_STATS:
		/* --stats-by cgroup: a group instead of pid and comm */
		r->stats.ntop = 2;
		r->stats.top[0] = procs[0];
		r->stats.top[1] = (struct tt_proc_count){ .known = 1, .by_group = 1, .group = "g", .n = 1 };
		r->stats.lost = 1;
		return 1;
	case TT_REC_STATS_FINAL:
		r->final = (struct tt_stats_final){ 0, 1, 1, 1, trans, 1, procs, 2 };
		return 1;
	case TT_REC_SUMMARY:
		r->summary.has_accounting = 1;
		return 1;
	case TT_REC_HEADER:
		return 0;
	default:
		fail_msg("test_docs has no sample of record type %d: add one", type);
		return 0;
	}
}

/* Every key of a JSON object, and of the objects in it, at any depth. */
static void json_keys(struct json_object *o, struct names *keys)
{
	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			json_keys(json_object_array_get_idx(o, i), keys);
		return;
	}
	if (!json_object_is_type(o, json_type_object))
		return;
	json_object_object_foreach(o, k, v) {
		names_add(keys, k, strlen(k));
		json_keys(v, keys);
	}
}

/* name appears in text as a word of its own */
static int has_word(const char *text, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = text; (p = strstr(p, name)); p += len) {
		int before = p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '_');
		int after = isalnum((unsigned char)p[len]) || p[len] == '_';

		if (!before && !after)
			return 1;
	}
	return 0;
}

/* The record types and fields the JSON writer produces, for a record of
 * every type: types[] the values of "type", keys the field names. */
static void written(struct names *types, struct names *keys)
{
	struct tt_clock ck;
	struct fmt_opts fo = { .clock = &ck };
	struct outbuf ob;
	struct tt_record r;

	clock_set_anchor(&ck, 0, 0);
	assert_int_equal(ob_init(&ob, 4096), 0);
	for (int t = TT_REC_META; t < TT_REC_MAX; t++) {
		for (unsigned kind = TT_EV_STATE; kind <= (t == TT_REC_EVENT ? TT_EV_SNDBUF : 1); kind++) {
			struct json_object *j;

			if (!sample(t, kind, &r))
				continue;
			ob_reset(&ob);
			fmt_json(&ob, &r, &fo);
			j = json_tokener_parse(ob_cstr(&ob));
			if (!j)
				fail_msg("the JSON of record type %d is not JSON: %s", t, ob_cstr(&ob));
			names_add(types, fmt_json_type(&r), strlen(fmt_json_type(&r)));
			json_keys(j, keys);
			json_object_put(j);
		}
	}
	ob_free(&ob);
}

/* Some .TP tag of the man page section names word. */
static int tp_tag_names(const char *sec, const char *word)
{
	for (const char *p = sec; (p = strstr(p, "\n.TP\n")); p += 5) {
		const char *tag = p + 5, *eol = strchrnul(tag, '\n');
		char *line = strndup(tag, (size_t)(eol - tag));
		int found;

		assert_non_null(line);
		found = has_word(line, word);
		free(line);
		if (found)
			return 1;
	}
	return 0;
}

/* The entry of the "type" field lists word among its values. */
static int type_listed(const char *sec, const char *word)
{
	const char *start = strstr(sec, "\n.B type\n"), *end;
	char *entry;
	int found;

	if (!start)
		fail_msg(MAN_PAGE " OUTPUT FORMAT has no entry for the field type");
	end = strstr(start + 1, "\n.TP\n");
	entry = strndup(start, end ? (size_t)(end - start) : strlen(start));
	assert_non_null(entry);
	found = has_word(entry, word);
	free(entry);
	return found;
}

/*
 * Every field of every record type is a word of the man page, and every
 * type has its own entry in the page's list of record types: a field or a
 * type added to the writer without a line in the page fails here.
 */
static void test_man_json_fields(void **state)
{
	char *roff = tu_slurp(MAN_PAGE, NULL), *plain = roff_plain(roff), *sec;
	struct names types = { 0 }, keys = { 0 };

	(void)state;
	written(&types, &keys);
	/* meta, snapshot, 3 events, lost, skipped, clock, stats, stats_final, summary */
	assert_int_equal(types.n, 11);
	assert_true(keys.n >= 50);
	for (int i = 0; i < keys.n; i++)
		if (!has_word(plain, keys.v[i]))
			fail_msg("format_json.c writes the field \"%s\", which " MAN_PAGE
				 " does not mention", keys.v[i]);
	sec = man_section(plain, "OUTPUT FORMAT");
	for (int i = 0; i < types.n; i++) {
		if (!tp_tag_names(sec, types.v[i]))
			fail_msg(MAN_PAGE " OUTPUT FORMAT has no entry (a .TP tag) for the record type "
				 "\"%s\"", types.v[i]);
		if (!type_listed(sec, types.v[i]))
			fail_msg(MAN_PAGE " does not list \"%s\" among the values of type", types.v[i]);
	}
	free(sec);
	free(plain);
	free(roff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usage_long),
		cmocka_unit_test(test_man_sections),
		cmocka_unit_test(test_man_options_section),
		cmocka_unit_test(test_man_mentions_real_options),
		cmocka_unit_test(test_usage_short),
		cmocka_unit_test(test_man_short_options),
		cmocka_unit_test(test_completion_long),
		cmocka_unit_test(test_completion_short),
		cmocka_unit_test(test_man_json_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
