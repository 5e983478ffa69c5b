/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What the option tests share (test_opts.c, test_opts_usage.c). */
#ifndef TT_OPTS_TEST_UTIL_H
#define TT_OPTS_TEST_UTIL_H
#include <errno.h>
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "opts.h"

struct res {
	int rc;
	struct tt_opts o;
	char *out;      /* what opts_parse printed on its out FILE* */
	char *err;      /* and on its err FILE* */
};

/*
 * glibc keeps the position inside a cluster of short options ("-4x") in
 * hidden state that only optind = 0 resets. opts_parse sets optind = 1, so
 * a test that stops inside a cluster would leak into the next one; this
 * resets it so that each test stands alone (test_reparse_after_error checks
 * opts_parse's own behaviour without this help).
 */
static inline void reset_getopt(void)
{
	char *argv[] = { "reset", NULL };

	optind = 0;
	opterr = 0;
	while (getopt(1, argv, "") != -1)
		;
}

static inline void res_free(struct res *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

/* argv must be NULL-terminated; argv[0] is the program name. */
static inline void parse_v(struct res *r, char **argv, int reset)
{
	size_t outlen = 0, errlen = 0;
	FILE *out, *err;
	int argc = 0;

	while (argv[argc])
		argc++;
	memset(r, 0, sizeof(*r));
	out = open_memstream(&r->out, &outlen);
	err = open_memstream(&r->err, &errlen);
	assert_non_null(out);
	assert_non_null(err);
	if (reset)
		reset_getopt();
	r->rc = opts_parse(argc, argv, &r->o, out, err);
	assert_int_equal(fclose(out), 0);
	assert_int_equal(fclose(err), 0);
}

#define PARSE(r, ...) parse_v((r), (char *[]){ "tcptrail", __VA_ARGS__, NULL }, 1)
#define PARSE0(r) parse_v((r), (char *[]){ "tcptrail", NULL }, 1)

/* A usage error: -EINVAL, nothing on out, a message on err naming what. */
static inline void expect_usage_error(struct res *r, const char *mention)
{
	assert_int_equal(r->rc, -EINVAL);
	assert_string_equal(r->out, "");
	assert_true(strlen(r->err) > 0);
	if (mention && !strstr(r->err, mention))
		fail_msg("error output does not mention '%s':\n%s", mention, r->err);
	res_free(r);
}

static inline void expect_ok(struct res *r)
{
	if (r->rc != 0)
		fail_msg("opts_parse returned %d, stderr:\n%s", r->rc, r->err);
	assert_string_equal(r->out, "");
	assert_string_equal(r->err, "");
}

#endif
