// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Command-line parsing: strict, and no side effect but filling tt_opts. */
#include <errno.h>
#include <ctype.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "metrics.h"
#include "opts.h"
#include "rotate.h"

enum {
	OPT_NO_SNAPSHOT = 256,
	OPT_SNAPSHOT_ONLY,
	OPT_JSON,
	OPT_ALL_NETNS,
	OPT_RING_SIZE,
	OPT_FAIL_ON_LOSS,
	OPT_KEEP_CAPS,
	OPT_QUEUE_THRESHOLD,
	OPT_COLOR,
	OPT_STATE_ONLY,
	OPT_VERIFY,
	OPT_CGROUP,
	OPT_STATS_BY,
	OPT_METRICS,
	OPT_ROTATE_TO,
};

/* What one option sets: 0, or -EINVAL for a value it refuses. */
typedef int (*opt_set_fn)(struct tt_opts *o, const char *arg);

int opts_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *v)
{
	unsigned long long x;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+' || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno || *end || x < min || x > max)
		return -EINVAL;
	*v = x;
	return 0;
}

int opts_parse_port_list(const char *s, unsigned *ports, int *n, int max)
{
	char buf[64];
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		unsigned long v;

		if (len == 0 || len >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, p, len);
		buf[len] = '\0';
		if (opts_parse_uint(buf, 1, 65535, &v))
			return -EINVAL;
		if (*n >= max)
			return -E2BIG;
		ports[(*n)++] = v;
		p += len;
		if (*p == ',' && !*++p)
			return -EINVAL;   /* a trailing comma */
	}
	return 0;
}

int opts_parse_seconds(const char *s, double *v)
{
	char *end;
	double x;

	if (!s || !*s || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	x = strtod(s, &end);
	if (errno || *end || !isfinite(x) || x <= 0 || x > 1e9)
		return -EINVAL;
	*v = x;
	return 0;
}

int opts_parse_size(const char *s, unsigned long *v)
{
	unsigned long mult = 1, x;
	char buf[32];
	size_t len;

	if (!s || !*s)
		return -EINVAL;
	len = strlen(s);
	if (len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len + 1);
	switch (buf[len - 1]) {
	case 'k': case 'K': mult = 1UL << 10; break;
	case 'm': case 'M': mult = 1UL << 20; break;
	case 'g': case 'G': mult = 1UL << 30; break;
	}
	if (mult > 1)
		buf[len - 1] = '\0';
	if (opts_parse_uint(buf, 1, ULONG_MAX / mult, &x))
		return -EINVAL;
	*v = x * mult;
	return 0;
}

/* ---- what each option sets ---------------------------------------------- */

#define SET_FLAG(field)                                              \
	static int set_##field(struct tt_opts *o, const char *arg)  \
	{                                                            \
		(void)arg;                                           \
		o->field = 1;                                        \
		return 0;                                            \
	}

SET_FLAG(listening)
SET_FLAG(all_netns)
SET_FLAG(state_only)
SET_FLAG(no_snapshot)
SET_FLAG(snapshot_only)
SET_FLAG(wide)
SET_FLAG(json)
SET_FLAG(quiet)
SET_FLAG(verify)
SET_FLAG(fail_on_loss)
SET_FLAG(keep_caps)
SET_FLAG(verbose)
SET_FLAG(cgroup_column)

static int set_ipv4(struct tt_opts *o, const char *arg)
{
	(void)arg;
	o->family = AF_INET;
	return 0;
}

static int set_ipv6(struct tt_opts *o, const char *arg)
{
	(void)arg;
	o->family = AF_INET6;
	return 0;
}

static int set_port(struct tt_opts *o, const char *arg)
{
	return opts_parse_port_list(arg, o->ports, &o->nports, TT_MAX_PORTS) ? -EINVAL : 0;
}

static int set_pid(struct tt_opts *o, const char *arg)
{
	unsigned long v;

	if (opts_parse_uint(arg, 1, 4194304, &v))
		return -EINVAL;
	o->pid = v;
	return 0;
}

static int set_cgroup(struct tt_opts *o, const char *arg)
{
	if (!*arg || o->ncgroups >= TT_MAX_CGROUPS)
		return -EINVAL;
	o->cgroups[o->ncgroups++] = arg;
	return 0;
}

static int set_stats_by(struct tt_opts *o, const char *arg)
{
	if (!strcmp(arg, "comm"))
		o->stats_by_cgroup = 0;
	else if (!strcmp(arg, "cgroup"))
		o->stats_by_cgroup = 1;
	else
		return -EINVAL;
	return 0;
}

static int set_duration(struct tt_opts *o, const char *arg)
{
	return opts_parse_seconds(arg, &o->duration);
}

/* -s alone, or -sSECONDS: the value must be attached */
static int set_stats(struct tt_opts *o, const char *arg)
{
	o->stats = 1;
	if (arg && (opts_parse_seconds(arg, &o->stats_interval) ||
		    o->stats_interval < TT_MIN_STATS_INTERVAL))
		return -EINVAL;
	return 0;
}

static int set_color(struct tt_opts *o, const char *arg)
{
	if (!arg || !strcmp(arg, "auto"))
		o->color = TT_COLOR_AUTO;
	else if (!strcmp(arg, "always"))
		o->color = TT_COLOR_ALWAYS;
	else if (!strcmp(arg, "never"))
		o->color = TT_COLOR_NEVER;
	else
		return -EINVAL;
	return 0;
}

static int set_queue_threshold(struct tt_opts *o, const char *arg)
{
	return opts_parse_size(arg, &o->queue_threshold);
}

static int set_output(struct tt_opts *o, const char *arg)
{
	if (!*arg)
		return -EINVAL;
	o->output = arg;
	return 0;
}

/* the expansion is checked once -o is known (check()) */
static int set_rotate_to(struct tt_opts *o, const char *arg)
{
	if (!*arg)
		return -EINVAL;
	o->rotate_to = arg;
	return 0;
}

static int set_read(struct tt_opts *o, const char *arg)
{
	if (!*arg)
		return -EINVAL;
	o->read = arg;
	return 0;
}

static int set_metrics(struct tt_opts *o, const char *arg)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (metrics_parse_listen(arg, &ss, &len))
		return -EINVAL;
	o->metrics = arg;
	return 0;
}

static int set_ring_size(struct tt_opts *o, const char *arg)
{
	if (opts_parse_size(arg, &o->ring_size) || o->ring_size < 4096 ||
	    o->ring_size > (1UL << 30) || (o->ring_size & (o->ring_size - 1)))
		return -EINVAL;
	return 0;
}

#define OPT_ONCE 1   /* given twice, the first would be dropped without a word */

/*
 * Every option, once: getopt_long's arrays, --help and the tests that keep
 * the man page and the bash completion in step are all made from this.
 */
static const struct opt_def {
	const char *name;    /* the long option; NULL: a heading of --help */
	int key;             /* the short option, or an OPT_ above 255 */
	int has_arg;         /* no_argument, required_argument, optional_argument */
	const char *arg;     /* the value's name in --help */
	const char *help;    /* "\n" starts an indented line */
	opt_set_fn set;      /* NULL: -h and -V, which print and stop */
	const char *what;    /* a refused value: "invalid WHAT" */
	unsigned flags;
} opt_defs[] = {
	{ .help = "Filters (applied in the kernel, to the snapshot and the live events alike):" },
	{ .name = "ipv4", .key = '4', .has_arg = no_argument,
	  .help = "IPv4 sockets only (netstat's tcp rows)",
	  .set = set_ipv4 },
	{ .name = "ipv6", .key = '6', .has_arg = no_argument,
	  .help = "IPv6 sockets only (tcp6 rows, IPv4-mapped included)",
	  .set = set_ipv6 },
	{ .name = "port", .key = 'P', .has_arg = required_argument, .arg = "PORT[,PORT]",
	  .help = "local or remote port; repeatable, up to 64 ports",
	  .set = set_port, .what = "port (1-65535, at most 64)" },
	{ .name = "pid", .key = 'p', .has_arg = required_argument, .arg = "PID",
	  .help = "sockets owned by process PID",
	  .set = set_pid, .what = "pid" },
	{ .name = "cgroup", .key = OPT_CGROUP, .has_arg = required_argument, .arg = "PATH",
	  .help = "sockets in cgroup v2 group PATH or below it (the\n"
		  "group the socket was made in); repeatable, up to 8",
	  .set = set_cgroup, .what = "cgroup (a path, at most 8)" },
	{ .name = "listening", .key = 'l', .has_arg = no_argument,
	  .help = "listening sockets, then only changes into or out of LISTEN",
	  .set = set_listening },
	{ .name = "all-netns", .key = OPT_ALL_NETNS, .has_arg = no_argument,
	  .help = "trace every network namespace (default: this one)",
	  .set = set_all_netns },
	{ .name = "state-only", .key = OPT_STATE_ONLY, .has_arg = no_argument,
	  .help = "only inet_sock_set_state: no TIME_WAIT, half-open or\n"
		  "send/receive owner tracking (the lowest overhead)",
	  .set = set_state_only },
	{ .help = "What to show:" },
	{ .name = "no-snapshot", .key = OPT_NO_SNAPSHOT, .has_arg = no_argument,
	  .help = "skip the snapshot of existing sockets",
	  .set = set_no_snapshot },
	{ .name = "snapshot-only", .key = OPT_SNAPSHOT_ONLY, .has_arg = no_argument,
	  .help = "print the snapshot like netstat -antp and exit",
	  .set = set_snapshot_only },
	{ .name = "stats", .key = 's', .has_arg = optional_argument, .arg = "SECONDS",
	  .help = "per-state counts every SECONDS (default 1, min 0.1)",
	  .set = set_stats, .what = "stats interval (seconds, at least 0.1)" },
	{ .name = "stats-by", .key = OPT_STATS_BY, .has_arg = required_argument, .arg = "KEY",
	  .help = "-s: top owners by comm (default, the process) or\n"
		  "by cgroup (the container or systemd unit)",
	  .set = set_stats_by, .what = "--stats-by value (comm, cgroup)" },
	{ .name = "duration", .key = 'd', .has_arg = required_argument, .arg = "SECONDS",
	  .help = "stop after SECONDS",
	  .set = set_duration, .what = "duration (seconds > 0)" },
	{ .name = "wide", .key = 'w', .has_arg = no_argument,
	  .help = "never truncate addresses (netstat -W)",
	  .set = set_wide },
	{ .name = "cgroup-column", .key = 'C', .has_arg = no_argument,
	  .help = "text: a Container column (the container's short id,\n"
		  "or the systemd unit, of the socket's cgroup)",
	  .set = set_cgroup_column },
	{ .name = "color", .key = OPT_COLOR, .has_arg = optional_argument, .arg = "WHEN",
	  .help = "colour states: auto (default), always, never; NO_COLOR is honoured",
	  .set = set_color, .what = "--color value (auto, always, never)" },
	{ .name = "queue-threshold", .key = OPT_QUEUE_THRESHOLD, .has_arg = required_argument,
	  .arg = "BYTES",
	  .help = "only events whose Recv-Q or Send-Q exceed BYTES",
	  .set = set_queue_threshold, .what = "queue threshold (bytes)" },
	{ .help = "Output:" },
	{ .name = "json", .key = OPT_JSON, .has_arg = no_argument,
	  .help = "JSON Lines on stdout",
	  .set = set_json },
	{ .name = "output", .key = 'o', .has_arg = required_argument, .arg = "FILE",
	  .help = "also write a JSON Lines capture to FILE (FILE.gz: gzip);\n"
		  "FILE must not exist; SIGHUP reopens it",
	  .set = set_output, .what = "output file", .flags = OPT_ONCE },
	{ .name = "rotate-to", .key = OPT_ROTATE_TO, .has_arg = required_argument,
	  .arg = "TEMPLATE",
	  .help = "with -o: at SIGHUP, finish FILE, rename it to TEMPLATE\n"
		  "(strftime, UTC; never replacing: .1, .2...), then\n"
		  "start FILE anew; same filesystem as FILE",
	  .set = set_rotate_to, .what = "--rotate-to template", .flags = OPT_ONCE },
	{ .name = "quiet", .key = 'q', .has_arg = no_argument,
	  .help = "nothing on stdout (with -o)",
	  .set = set_quiet },
	{ .name = "read", .key = 'r', .has_arg = required_argument, .arg = "FILE",
	  .help = "replay a capture (plain or .gz) through the filters",
	  .set = set_read, .what = "capture file", .flags = OPT_ONCE },
	{ .name = "verify", .key = OPT_VERIFY, .has_arg = no_argument, .arg = "FILE...",
	  .help = "check that a capture, or its rotated files in order,\n"
		  "is whole: every seq in a record or a lost record,\n"
		  "counts that match its summary",
	  .set = set_verify },
	{ .name = "metrics", .key = OPT_METRICS, .has_arg = required_argument,
	  .arg = "[ADDR:]PORT",
	  .help = "serve Prometheus metrics at http://ADDR:PORT/metrics\n"
		  "while tracing (ADDR: 127.0.0.1, [::1] for IPv6)",
	  .set = set_metrics, .what = "--metrics address ([ADDR:]PORT, port 1-65535)",
	  .flags = OPT_ONCE },
	{ .name = "fail-on-loss", .key = OPT_FAIL_ON_LOSS, .has_arg = no_argument,
	  .help = "exit with status 3 if any event was lost",
	  .set = set_fail_on_loss },
	{ .name = "ring-size", .key = OPT_RING_SIZE, .has_arg = required_argument, .arg = "BYTES",
	  .help = "BPF ring buffer size, a power of two (default 8M)",
	  .set = set_ring_size, .what = "ring size (a power of two, 4K to 1G)" },
	{ .name = "keep-caps", .key = OPT_KEEP_CAPS, .has_arg = no_argument,
	  .help = "keep capabilities after start-up instead of exiting\n"
		  "when they cannot be dropped",
	  .set = set_keep_caps },
	{ .name = "verbose", .key = 'v', .has_arg = no_argument,
	  .help = "libbpf debug output on stderr",
	  .set = set_verbose },
	{ .name = "version", .key = 'V', .has_arg = no_argument,
	  .help = "print the version and exit" },
	{ .name = "help", .key = 'h', .has_arg = no_argument,
	  .help = "print this help and exit" },
};

#define N_OPT_DEFS (sizeof(opt_defs) / sizeof(opt_defs[0]))

/* ---- --help ---------------------------------------------------------------- */

#define HELP_COLUMN 27   /* where the help text of an option starts */

/* "  -X, --name ARG", "      --name[=ARG]" */
static int usage_left(char *buf, size_t size, const struct opt_def *d)
{
	int n = d->key < 256 ? snprintf(buf, size, "  -%c, --%s", d->key, d->name)
			     : snprintf(buf, size, "      --%s", d->name);

	if (d->arg && n >= 0 && (size_t)n < size)
		n += snprintf(buf + n, size - n, d->has_arg == optional_argument ? "[=%s]" : " %s",
			      d->arg);
	return n;
}

static void usage_option(FILE *f, const struct opt_def *d)
{
	char left[64];
	int n = usage_left(left, sizeof(left), d);

	/* the help starts in its column, or on the next line when the left
	 * part leaves no room for two spaces */
	if (n + 2 <= HELP_COLUMN)
		fprintf(f, "%-*s", HELP_COLUMN, left);
	else
		fprintf(f, "%s\n%*s", left, HELP_COLUMN, "");
	for (const char *p = d->help; *p; p++) {
		fputc(*p, f);
		if (*p == '\n')
			fprintf(f, "%*s", HELP_COLUMN, "");
	}
	fputc('\n', f);
}

void opts_usage(FILE *f, const char *prog)
{
	fprintf(f,
"Usage: %s [OPTION]...\n"
"  or:  %s --verify FILE...\n"
"Show every TCP state change as it happens, with the process that owns the\n"
"socket, after a snapshot of the existing sockets printed as netstat -antp.\n",
		prog, prog);
	for (size_t i = 0; i < N_OPT_DEFS; i++) {
		if (opt_defs[i].name)
			usage_option(f, &opt_defs[i]);
		else
			fprintf(f, "\n%s\n", opt_defs[i].help);
	}
	fprintf(f,
"\n"
"Examples:\n"
"  %s                        snapshot, then every state change\n"
"  %s -4 -P 1025             what the netstat polling loop on port 1025 missed\n"
"  %s --snapshot-only -w     netstat -antpW, faster\n"
"  %s --json | jq 'select(.state==\"TIME_WAIT\")'\n"
"  %s -q -o /var/log/tcptrail/capture.jsonl.gz   forensic capture\n"
"  %s -q -o capture.jsonl --metrics 9479       capture, and metrics for Prometheus\n"
"  %s -r capture.jsonl.gz -P 22                replay, filtered\n"
"  %s -C --cgroup /system.slice/docker-ID.scope  one container's sockets\n"
"  %s --verify cap.1.jsonl.gz cap.jsonl.gz       is the capture whole?\n"
"\n"
"Exit status: 0 success, 1 runtime error (--verify: not whole), 2 usage error,\n"
"3 events lost with --fail-on-loss. Needs root, or CAP_BPF and CAP_PERFMON\n"
"(plus CAP_SYSLOG to follow TIME_WAIT and half-open sockets, CAP_SYS_PTRACE and\n"
"CAP_DAC_READ_SEARCH to name owners).\n",
		prog, prog, prog, prog, prog, prog, prog, prog, prog);
}

/* ---- getopt_long's arrays --------------------------------------------------- */

static struct option long_opts[N_OPT_DEFS + 1];
static char short_opts[3 * N_OPT_DEFS + 2];

static void build_getopt(void)
{
	size_t n = 0, k = 0;

	if (short_opts[0])
		return;
	short_opts[k++] = ':';   /* a missing value is ':', not '?' */
	for (size_t i = 0; i < N_OPT_DEFS; i++) {
		const struct opt_def *d = &opt_defs[i];

		if (!d->name)
			continue;
		long_opts[n++] = (struct option){ d->name, d->has_arg, NULL, d->key };
		if (d->key >= 256)
			continue;
		short_opts[k++] = (char)d->key;
		if (d->has_arg != no_argument)
			short_opts[k++] = ':';
		if (d->has_arg == optional_argument)
			short_opts[k++] = ':';
	}
}

const struct option *opts_getopt_long(void)
{
	build_getopt();
	return long_opts;
}

const char *opts_getopt_short(void)
{
	build_getopt();
	return short_opts;
}

static const struct opt_def *opt_def_of(int key)
{
	for (size_t i = 0; i < N_OPT_DEFS; i++)
		if (opt_defs[i].name && opt_defs[i].key == key)
			return &opt_defs[i];
	return NULL;
}

/* ---- parsing -------------------------------------------------------------- */

static void build_cmdline(struct tt_opts *o, int argc, char **argv)
{
	size_t off = 0;

	for (int i = 0; i < argc && off < sizeof(o->cmdline) - 1; i++) {
		int w = snprintf(o->cmdline + off, sizeof(o->cmdline) - off, "%s%s",
				 i ? " " : "", argv[i]);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	if (off >= sizeof(o->cmdline))
		o->cmdline[sizeof(o->cmdline) - 1] = '\0';
}

/* A usage error is one line that names it, then this one (GNU style). */
__attribute__((format(printf, 2, 3)))
static int usage_error(FILE *err, const char *fmt, ...)
{
	va_list ap;

	fputs("tcptrail: ", err);
	va_start(ap, fmt);
	vfprintf(err, fmt, ap);
	va_end(ap);
	fputs("\nTry 'tcptrail --help' for more information.\n", err);
	return -EINVAL;
}

/* What getopt_long returned that is not an option of the table. */
static int bad_option(int c, char **argv, FILE *err)
{
	if (c == ':')
		return usage_error(err, "option '%s' needs a value", argv[optind - 1]);
	if (optopt > 0 && optopt < 256)
		return usage_error(err, "unknown option '-%c'", optopt);
	return usage_error(err, "unknown option '%s'", argv[optind - 1]);
}

/* One option: 0, 1 when it printed --help or --version, or a usage error.
 * first[] keeps the value of each OPT_ONCE option given. */
static int apply(const struct opt_def *d, struct tt_opts *o, const char **first, FILE *out,
		 FILE *err)
{
	const char *arg = optarg;

	if (d->key == 'V') {
		fprintf(out, "tcptrail %s\n", TT_VERSION);
		return 1;
	}
	if (d->key == 'h') {
		opts_usage(out, "tcptrail");
		return 1;
	}
	if (d->set(o, arg))
		return usage_error(err, "invalid %s: '%s'", d->what, arg ? arg : "");
	if (!(d->flags & OPT_ONCE))
		return 0;
	if (first[d - opt_defs])
		return d->key < 256 ?
			usage_error(err, "-%c/--%s given twice (first '%s'): one capture per run",
				    d->key, d->name, first[d - opt_defs]) :
			usage_error(err, "--%s given twice (first '%s'): one per run",
				    d->name, first[d - opt_defs]);
	first[d - opt_defs] = arg;
	return 0;
}

static int check_rotate_to(struct tt_opts *o, FILE *err)
{
	char name[PATH_MAX];
	const char *why = NULL;

	if (o->read)
		return usage_error(err, "--rotate-to renames the capture -o writes; --read "
				   "writes none");
	if (!o->output)
		return usage_error(err, "--rotate-to renames the capture file: add -o FILE");
	/* now, as an example: a template is expanded at each rotation */
	if (rot_name(name, sizeof(name), o->rotate_to, time(NULL), 0, &why))
		return usage_error(err, "invalid --rotate-to template '%s': %s", o->rotate_to,
				   why);
	return 0;
}

/* The options that exclude or need each other, once all are read. */
static int check(struct tt_opts *o, int argc, char **argv, int others, FILE *err)
{
	if (o->verify) {
		if (others)
			return usage_error(err, "--verify takes only capture files");
		if (optind >= argc)
			return usage_error(err, "--verify needs at least one capture file");
		o->files = (const char *const *)argv + optind;
		o->nfiles = argc - optind;
		return 0;
	}
	if (optind < argc)
		return usage_error(err, "unexpected argument '%s'", argv[optind]);
	if (o->no_snapshot && o->snapshot_only)
		return usage_error(err, "--no-snapshot and --snapshot-only exclude each other");
	if (o->quiet && !o->output && !o->read && !o->metrics)
		return usage_error(err, "--quiet needs --output FILE or --metrics, or nothing would "
				   "be written");
	if (o->stats_by_cgroup && !o->stats)
		return usage_error(err, "--stats-by groups the -s reports: add -s");
	if (o->read && (o->output || o->snapshot_only || o->metrics))
		return usage_error(err, "--read replays a capture; it takes neither --output, "
				   "--snapshot-only nor --metrics");
	if (o->rotate_to && check_rotate_to(o, err))
		return -EINVAL;
	if (o->metrics && o->snapshot_only)
		return usage_error(err, "--metrics serves counters while tracing; --snapshot-only "
				   "does not trace");
	return 0;
}

int opts_parse(int argc, char **argv, struct tt_opts *o, FILE *out, FILE *err)
{
	const char *first[N_OPT_DEFS] = { 0 };
	int c, ret, others = 0;

	memset(o, 0, sizeof(*o));
	o->ring_size = TT_DEFAULT_RING;
	o->stats_interval = 1.0;
	build_cmdline(o, argc, argv);
	build_getopt();
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, short_opts, long_opts, NULL)) != -1) {
		const struct opt_def *d = opt_def_of(c);

		others += c != OPT_VERIFY;
		ret = d ? apply(d, o, first, out, err) : bad_option(c, argv, err);
		if (ret)
			return ret;
	}
	return check(o, argc, argv, others, err);
}
