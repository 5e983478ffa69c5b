/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_OPTS_H
#define TT_OPTS_H

#include <getopt.h>
#include <stdio.h>
#include <linux/types.h>

#include "tcptrail.h"

/* The exit statuses (--help and the man page list them). */
enum tt_exit {
	TT_EXIT_OK = 0,
	TT_EXIT_ERROR = 1,     /* a runtime error; --verify: not whole */
	TT_EXIT_USAGE = 2,
	TT_EXIT_LOST = 3,      /* events lost, with --fail-on-loss */
};

#define TT_MAX_PORTS 64
#define TT_DEFAULT_RING (8UL << 20)
/* -s: ten reports a second are the most a reader can use */
#define TT_MIN_STATS_INTERVAL 0.1

enum tt_color { TT_COLOR_AUTO = 0, TT_COLOR_ALWAYS, TT_COLOR_NEVER };

struct tt_opts {
	int family;                 /* 0, AF_INET or AF_INET6 */
	unsigned ports[TT_MAX_PORTS];
	int nports;
	unsigned pid;               /* owner filter, 0: any */
	const char *cgroups[TT_MAX_CGROUPS];   /* --cgroup: subtrees, as given */
	int ncgroups;
	int cgroup_column;          /* -C: the text column of containers and units */
	int stats_by_cgroup;        /* --stats-by cgroup: -s groups by container or unit */
	int no_snapshot;
	int snapshot_only;
	int json;                   /* stdout as JSON Lines */
	int wide;
	int verbose;
	int quiet;                  /* nothing on stdout (with -o) */
	int listening;
	int all_netns;
	int state_only;             /* no timer and send/recv hooks */
	int fail_on_loss;
	int keep_caps;
	int stats;                  /* -s: periodic counts */
	double stats_interval;      /* seconds */
	double duration;            /* seconds, 0: until a signal */
	const char *output;         /* -o: JSON Lines capture file */
	const char *rotate_to;      /* --rotate-to: strftime template, checked */
	const char *read;           /* -r: replay a capture */
	const char *metrics;        /* --metrics [ADDR:]PORT, checked */
	int verify;                 /* --verify FILE... */
	const char *const *files;   /* its files, in order */
	int nfiles;
	unsigned long ring_size;    /* bytes, a power of two */
	unsigned long queue_threshold;
	enum tt_color color;
	char cmdline[1024];         /* for the meta record */
};

/*
 * Parses argv into o. Returns 0 to run, 1 when --help or --version was
 * printed (exit 0), -EINVAL after printing the usage error on err (exit 2).
 */
int opts_parse(int argc, char **argv, struct tt_opts *o, FILE *out, FILE *err);

/* Strict number parsers (exported for their tests). */
int opts_parse_port_list(const char *s, unsigned *ports, int *n, int max);
int opts_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *v);
int opts_parse_seconds(const char *s, double *v);
int opts_parse_size(const char *s, unsigned long *v);

/* --help, from the options table. */
void opts_usage(FILE *f, const char *prog);

/* What the parser accepts, as given to getopt_long (both built from the
 * options table): for the test that keeps --help, the man page and the
 * bash completion in step with it. The array ends with a zeroed entry. */
const struct option *opts_getopt_long(void);
const char *opts_getopt_short(void);

#endif
