// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Command-line parsing: strict, and no side effect but filling tt_opts. */
#include <errno.h>
#include <ctype.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "opts.h"

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
};

static const struct option long_opts[] = {
	{ "ipv4", no_argument, NULL, '4' },
	{ "ipv6", no_argument, NULL, '6' },
	{ "port", required_argument, NULL, 'P' },
	{ "pid", required_argument, NULL, 'p' },
	{ "no-snapshot", no_argument, NULL, OPT_NO_SNAPSHOT },
	{ "snapshot-only", no_argument, NULL, OPT_SNAPSHOT_ONLY },
	{ "duration", required_argument, NULL, 'd' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "output", required_argument, NULL, 'o' },
	{ "read", required_argument, NULL, 'r' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "wide", no_argument, NULL, 'w' },
	{ "listening", no_argument, NULL, 'l' },
	{ "stats", optional_argument, NULL, 's' },
	{ "all-netns", no_argument, NULL, OPT_ALL_NETNS },
	{ "state-only", no_argument, NULL, OPT_STATE_ONLY },
	{ "verify", no_argument, NULL, OPT_VERIFY },
	{ "ring-size", required_argument, NULL, OPT_RING_SIZE },
	{ "fail-on-loss", no_argument, NULL, OPT_FAIL_ON_LOSS },
	{ "keep-caps", no_argument, NULL, OPT_KEEP_CAPS },
	{ "queue-threshold", required_argument, NULL, OPT_QUEUE_THRESHOLD },
	{ "color", optional_argument, NULL, OPT_COLOR },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

const char *const opts_long_names[] = {
	"ipv4", "ipv6", "port", "pid", "no-snapshot", "snapshot-only", "duration",
	"json", "output", "read", "quiet", "wide", "listening", "stats", "all-netns", "state-only",
	"ring-size", "fail-on-loss", "keep-caps", "queue-threshold", "color", "verify",
	"verbose", "version", "help", NULL,
};

void opts_usage(FILE *f, const char *prog)
{
	fprintf(f,
"Usage: %s [OPTION]...\n"
"  or:  %s --verify FILE...\n"
"Show every TCP state change as it happens, with the process that owns the\n"
"socket, after a snapshot of the existing sockets printed as netstat -antp.\n"
"\n"
"Filters (applied in the kernel, to the snapshot and the live events alike):\n"
"  -4, --ipv4               IPv4 sockets only (netstat's tcp rows)\n"
"  -6, --ipv6               IPv6 sockets only (tcp6 rows, IPv4-mapped included)\n"
"  -P, --port PORT[,PORT]   local or remote port; repeatable, up to 64 ports\n"
"  -p, --pid PID            sockets owned by process PID\n"
"  -l, --listening          listening sockets, then only changes into or out of LISTEN\n"
"      --all-netns          trace every network namespace (default: this one)\n"
"      --state-only         only inet_sock_set_state: no TIME_WAIT, half-open or\n"
"                           send/receive owner tracking (the lowest overhead)\n"
"\n"
"What to show:\n"
"      --no-snapshot        skip the snapshot of existing sockets\n"
"      --snapshot-only      print the snapshot like netstat -antp and exit\n"
"  -s, --stats[=SECONDS]    per-state counts every SECONDS (default 1, min 0.1)\n"
"  -d, --duration SECONDS   stop after SECONDS\n"
"  -w, --wide               never truncate addresses (netstat -W)\n"
"      --color[=WHEN]       colour states: auto (default), always, never; NO_COLOR is honoured\n"
"      --queue-threshold BYTES\n"
"                           only events whose Recv-Q or Send-Q exceed BYTES\n"
"\n"
"Output:\n"
"      --json               JSON Lines on stdout\n"
"  -o, --output FILE        also write a JSON Lines capture to FILE (FILE.gz: gzip);\n"
"                           FILE must not exist; SIGHUP reopens it\n"
"  -q, --quiet              nothing on stdout (with -o)\n"
"  -r, --read FILE          replay a capture (plain or .gz) through the filters\n"
"      --verify FILE...     check that a capture, or its rotated files in order,\n"
"                           is whole: every seq in a record or a lost record,\n"
"                           counts that match its summary\n"
"      --fail-on-loss       exit with status 3 if any event was lost\n"
"      --ring-size BYTES    BPF ring buffer size, a power of two (default 8M)\n"
"      --keep-caps          keep capabilities after start-up instead of exiting\n"
"                           when they cannot be dropped\n"
"  -v, --verbose            libbpf debug output on stderr\n"
"  -V, --version            print the version and exit\n"
"  -h, --help               print this help and exit\n"
"\n"
"Examples:\n"
"  %s                        snapshot, then every state change\n"
"  %s -4 -P 1025             what the netstat polling loop on port 1025 missed\n"
"  %s --snapshot-only -w     netstat -antpW, faster\n"
"  %s --json | jq 'select(.state==\"TIME_WAIT\")'\n"
"  %s -q -o /var/log/tcptrail/capture.jsonl.gz   forensic capture\n"
"  %s -r capture.jsonl.gz -P 22                replay, filtered\n"
"  %s --verify cap.1.jsonl.gz cap.jsonl.gz       is the capture whole?\n"
"\n"
"Exit status: 0 success, 1 runtime error (--verify: not whole), 2 usage error,\n"
"3 events lost with --fail-on-loss. Needs root, or CAP_BPF and CAP_PERFMON\n"
"(plus CAP_SYSLOG to follow TIME_WAIT and half-open sockets, CAP_SYS_PTRACE and\n"
"CAP_DAC_READ_SEARCH to name owners).\n",
		prog, prog, prog, prog, prog, prog, prog, prog, prog);
}

int opts_port_selected(const struct tt_opts *o, unsigned lport, unsigned rport)
{
	if (!o->nports)
		return 1;
	for (int i = 0; i < o->nports; i++)
		if (o->ports[i] == lport || o->ports[i] == rport)
			return 1;
	return 0;
}

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
static int usage_hint(FILE *err, const char *prog)
{
	fprintf(err, "Try '%s --help' for more information.\n", prog);
	return -EINVAL;
}

static int bad(FILE *err, const char *prog, const char *what, const char *val)
{
	fprintf(err, "%s: invalid %s: '%s'\n", prog, what, val ? val : "");
	return usage_hint(err, prog);
}

/* Given twice, a file option would silently keep the last one: refuse. */
static int twice(FILE *err, const char *prog, const char *opt, const char *first)
{
	fprintf(err, "%s: %s given twice (first '%s'): one capture per run\n", prog, opt, first);
	return usage_hint(err, prog);
}

int opts_parse(int argc, char **argv, struct tt_opts *o, FILE *out, FILE *err)
{
	const char *prog = "tcptrail";
	unsigned long v;
	int c, nopts = 0;

	memset(o, 0, sizeof(*o));
	o->ring_size = TT_DEFAULT_RING;
	o->stats_interval = 1.0;
	build_cmdline(o, argc, argv);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":46P:p:d:o:r:qwls::vVh", long_opts, NULL)) != -1) {
		nopts += c != OPT_VERIFY;
		switch (c) {
		case '4':
			o->family = AF_INET;
			break;
		case '6':
			o->family = AF_INET6;
			break;
		case 'P':
			if (opts_parse_port_list(optarg, o->ports, &o->nports, TT_MAX_PORTS))
				return bad(err, prog, "port (1-65535, at most 64)", optarg);
			break;
		case 'p':
			if (opts_parse_uint(optarg, 1, 4194304, &v))
				return bad(err, prog, "pid", optarg);
			o->pid = v;
			break;
		case 'd':
			if (opts_parse_seconds(optarg, &o->duration))
				return bad(err, prog, "duration (seconds > 0)", optarg);
			break;
		case 'o':
			if (!*optarg)
				return bad(err, prog, "output file", optarg);
			if (o->output)
				return twice(err, prog, "-o/--output", o->output);
			o->output = optarg;
			break;
		case 'r':
			if (!*optarg)
				return bad(err, prog, "capture file", optarg);
			if (o->read)
				return twice(err, prog, "-r/--read", o->read);
			o->read = optarg;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case 'w':
			o->wide = 1;
			break;
		case 'l':
			o->listening = 1;
			break;
		case 's':
			o->stats = 1;
			if (optarg && (opts_parse_seconds(optarg, &o->stats_interval) ||
				       o->stats_interval < TT_MIN_STATS_INTERVAL))
				return bad(err, prog, "stats interval (seconds, at least 0.1)", optarg);
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'V':
			fprintf(out, "tcptrail %s\n", TT_VERSION);
			return 1;
		case 'h':
			opts_usage(out, prog);
			return 1;
		case OPT_NO_SNAPSHOT:
			o->no_snapshot = 1;
			break;
		case OPT_SNAPSHOT_ONLY:
			o->snapshot_only = 1;
			break;
		case OPT_JSON:
			o->json = 1;
			break;
		case OPT_ALL_NETNS:
			o->all_netns = 1;
			break;
		case OPT_STATE_ONLY:
			o->state_only = 1;
			break;
		case OPT_VERIFY:
			o->verify = 1;
			break;
		case OPT_RING_SIZE:
			if (opts_parse_size(optarg, &o->ring_size) || o->ring_size < 4096 ||
			    o->ring_size > (1UL << 30) || (o->ring_size & (o->ring_size - 1)))
				return bad(err, prog, "ring size (a power of two, 4K to 1G)", optarg);
			break;
		case OPT_FAIL_ON_LOSS:
			o->fail_on_loss = 1;
			break;
		case OPT_KEEP_CAPS:
			o->keep_caps = 1;
			break;
		case OPT_QUEUE_THRESHOLD:
			if (opts_parse_size(optarg, &o->queue_threshold))
				return bad(err, prog, "queue threshold (bytes)", optarg);
			break;
		case OPT_COLOR:
			if (!optarg || !strcmp(optarg, "auto"))
				o->color = TT_COLOR_AUTO;
			else if (!strcmp(optarg, "always"))
				o->color = TT_COLOR_ALWAYS;
			else if (!strcmp(optarg, "never"))
				o->color = TT_COLOR_NEVER;
			else
				return bad(err, prog, "--color value (auto, always, never)", optarg);
			break;
		case ':':
			fprintf(err, "%s: option '%s' needs a value\n", prog, argv[optind - 1]);
			return usage_hint(err, prog);
		default:
			if (optopt > 0 && optopt < 256)
				fprintf(err, "%s: unknown option '-%c'\n", prog, optopt);
			else
				fprintf(err, "%s: unknown option '%s'\n", prog, argv[optind - 1]);
			return usage_hint(err, prog);
		}
	}
	if (o->verify) {
		if (nopts) {
			fprintf(err, "%s: --verify takes only capture files\n", prog);
			return usage_hint(err, prog);
		}
		if (optind >= argc) {
			fprintf(err, "%s: --verify needs at least one capture file\n", prog);
			return usage_hint(err, prog);
		}
		o->files = (const char *const *)argv + optind;
		o->nfiles = argc - optind;
		return 0;
	}
	if (optind < argc) {
		fprintf(err, "%s: unexpected argument '%s'\n", prog, argv[optind]);
		return usage_hint(err, prog);
	}
	if (o->no_snapshot && o->snapshot_only) {
		fprintf(err, "%s: --no-snapshot and --snapshot-only exclude each other\n", prog);
		return usage_hint(err, prog);
	}
	if (o->quiet && !o->output && !o->read) {
		fprintf(err, "%s: --quiet needs --output FILE, or nothing would be written\n", prog);
		return usage_hint(err, prog);
	}
	if (o->read && (o->output || o->snapshot_only)) {
		fprintf(err, "%s: --read replays a capture; it takes neither --output nor --snapshot-only\n", prog);
		return usage_hint(err, prog);
	}
	return 0;
}
