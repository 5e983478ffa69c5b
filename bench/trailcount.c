// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Reads a tcptrail (text or JSON) or tcpstates stream on stdin, from a pipe
 * or a file, and counts the transitions of the benchmark's connections:
 *
 *   trailcount [-f json|text|tcpstates] [-p LO-HI] [-l]
 *
 * A transition counts when its local or remote port is in LO-HI and it is
 * not the listener's own CLOSE <-> LISTEN, nor TIME_WAIT -> CLOSE (a timewait
 * socket left by an earlier run dying, or reused by connect()): so a churn
 * run of N connections must count exactly 10 * N.
 *
 * With -l (JSON only), each line's latency is CLOCK_BOOTTIME at the read()
 * that completed it minus its boot_ns: an upper bound on the time from the
 * event to tcptrail writing the line, since it includes this reader's own
 * delay. Prints one line of key=value pairs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUF (1 << 20)
#define MAX_SAMPLES (32 << 20)

enum fmt { F_JSON, F_TEXT, F_TCPSTATES };

struct stats {
	unsigned long long lines, transitions, other_port, lost_records, lost_sum;
	long long sum_seen, sum_written, sum_lost, sum_filtered;
	long long *lat;
	size_t nlat, cap;
	int lat_dropped;
};

static enum fmt fmt = F_JSON;
static unsigned lo = 1, hi = 65535;
static int want_lat;

static long long boot_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int counted(unsigned lport, unsigned rport, const char *old, const char *new)
{
	int in = (lport >= lo && lport <= hi) || (rport >= lo && rport <= hi);

	if (!in)
		return 0;
	if ((!strcmp(old, "CLOSE") && !strcmp(new, "LISTEN")) ||
	    (!strcmp(old, "LISTEN") && !strcmp(new, "CLOSE")) ||
	    (!strcmp(old, "TIME_WAIT") && !strcmp(new, "CLOSE")))
		return 0;
	return 1;
}

/* The value after "key": in a JSON line, as a number or a bare string. */
static int jnum(const char *line, const char *key, long long *v)
{
	const char *p = strstr(line, key);

	if (!p)
		return -ENOENT;
	*v = strtoll(p + strlen(key), NULL, 10);
	return 0;
}

static int jstr(const char *line, const char *key, char *out, size_t size)
{
	const char *p = strstr(line, key), *e;

	if (!p)
		return -ENOENT;
	p += strlen(key);
	e = strchr(p, '"');
	if (!e || (size_t)(e - p) >= size)
		return -EINVAL;
	memcpy(out, p, e - p);
	out[e - p] = '\0';
	return 0;
}

static void add_lat(struct stats *s, long long v)
{
	if (s->nlat == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1 << 16;
		long long *n;

		if (cap > MAX_SAMPLES || !(n = realloc(s->lat, cap * sizeof(*n)))) {
			s->lat_dropped = 1;
			return;
		}
		s->lat = n;
		s->cap = cap;
	}
	s->lat[s->nlat++] = v;
}

static void json_line(struct stats *s, const char *line, long long arrival)
{
	char old[24], new[24];
	long long lp, rp, ts, v;

	if (strstr(line, "\"type\":\"transition\"")) {
		if (jnum(line, "\"lport\":", &lp) || jnum(line, "\"rport\":", &rp) ||
		    jstr(line, "\"old_state\":\"", old, sizeof(old)) ||
		    jstr(line, "\"state\":\"", new, sizeof(new)))
			return;
		if (counted(lp, rp, old, new)) {
			s->transitions++;
			if (want_lat && !jnum(line, "\"boot_ns\":", &ts))
				add_lat(s, arrival - ts);
		} else {
			s->other_port++;
		}
	} else if (strstr(line, "\"type\":\"lost\"")) {
		s->lost_records++;
		if (!jnum(line, "\"count\":", &v))
			s->lost_sum += v;
	} else if (strstr(line, "\"type\":\"summary\"")) {
		jnum(line, "\"seen\":", &s->sum_seen);
		jnum(line, "\"written\":", &s->sum_written);
		jnum(line, "\"lost\":", &s->sum_lost);
		jnum(line, "\"filtered\":", &s->sum_filtered);
	}
}

static unsigned port_of(const char *addr)
{
	const char *c = strrchr(addr, ':');

	return c && c[1] >= '0' && c[1] <= '9' ? (unsigned)atoi(c + 1) : 0;
}

/* tcptrail text: "tcp RQ SQ LADDR:PORT RADDR:PORT OLD -> NEW PID/COMM TIME..."
 * tcpstates:     "SKADDR PID COMM LADDR LPORT RADDR RPORT OLD -> NEW MS" */
static void words_line(struct stats *s, char *line)
{
	char *w[16], *save = NULL, *t;
	int n = 0;

	for (t = strtok_r(line, " \t", &save); t && n < 16; t = strtok_r(NULL, " \t", &save))
		w[n++] = t;
	if (fmt == F_TEXT) {
		if (n < 8 || strcmp(w[6], "->") || strncmp(w[0], "tcp", 3))
			return;
		if (counted(port_of(w[3]), port_of(w[4]), w[5], w[7]))
			s->transitions++;
		else
			s->other_port++;
	} else {
		if (n < 10 || strcmp(w[8], "->"))
			return;
		if (counted(atoi(w[4]), atoi(w[6]), w[7], w[9]))
			s->transitions++;
		else
			s->other_port++;
	}
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

static double pct(const struct stats *s, double p)
{
	size_t i;

	if (!s->nlat)
		return -1;
	i = (size_t)(p * (s->nlat - 1));
	return s->lat[i] / 1000.0;
}

int main(int argc, char **argv)
{
	struct stats s = { 0 };
	char *buf = malloc(BUF + 1);
	size_t have = 0;
	int opt;

	while ((opt = getopt(argc, argv, "f:p:l")) != -1) {
		switch (opt) {
		case 'f':
			if (!strcmp(optarg, "json"))
				fmt = F_JSON;
			else if (!strcmp(optarg, "text"))
				fmt = F_TEXT;
			else if (!strcmp(optarg, "tcpstates"))
				fmt = F_TCPSTATES;
			else
				return 2;
			break;
		case 'p':
			if (sscanf(optarg, "%u-%u", &lo, &hi) != 2 || lo > hi)
				return 2;
			break;
		case 'l':
			want_lat = 1;
			break;
		default:
			fprintf(stderr, "usage: trailcount [-f json|text|tcpstates] [-p LO-HI] [-l]\n");
			return 2;
		}
	}
	if (!buf)
		return 1;
	for (;;) {
		ssize_t n = read(0, buf + have, BUF - have);
		long long arrival = boot_now();
		char *p = buf, *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += n;
		buf[have] = '\0';
		while ((nl = memchr(p, '\n', buf + have - p))) {
			*nl = '\0';
			s.lines++;
			if (fmt == F_JSON)
				json_line(&s, p, arrival);
			else
				words_line(&s, p);
			p = nl + 1;
		}
		have = buf + have - p;
		memmove(buf, p, have);
		if (have == BUF)
			have = 0;   /* a line longer than the buffer: not ours, drop it */
	}
	printf("lines=%llu transitions=%llu other=%llu lost_records=%llu lost_sum=%llu",
	       s.lines, s.transitions, s.other_port, s.lost_records, s.lost_sum);
	if (fmt == F_JSON)
		printf(" summary_seen=%lld summary_written=%lld summary_lost=%lld summary_filtered=%lld",
		       s.sum_seen, s.sum_written, s.sum_lost, s.sum_filtered);
	if (want_lat) {
		qsort(s.lat, s.nlat, sizeof(*s.lat), cmp_ll);
		printf(" lat_n=%zu lat_p50_us=%.0f lat_p99_us=%.0f lat_p999_us=%.0f lat_max_us=%.0f%s",
		       s.nlat, pct(&s, 0.5), pct(&s, 0.99), pct(&s, 0.999), pct(&s, 1.0),
		       s.lat_dropped ? " lat_truncated=1" : "");
	}
	printf("\n");
	free(s.lat);
	free(buf);
	return 0;
}
