// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"

static int64_t ts_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t clock_boot_now(void)
{
	return ts_ns(CLOCK_BOOTTIME);
}

void clock_set_anchor(struct tt_clock *c, int64_t boot_ns, int64_t real_ns)
{
	memset(c, 0, sizeof(*c));
	c->boot_ns = boot_ns;
	c->real_ns = real_ns;
	c->local_sec = c->utc_sec = -1;
}

void clock_anchor(struct tt_clock *c)
{
	/* take the tightest of three pairs: a preemption between the two reads
	 * would otherwise skew every wall time by its length */
	int64_t best_gap = INT64_MAX, boot = 0, real = 0;

	for (int i = 0; i < 3; i++) {
		int64_t b1 = ts_ns(CLOCK_BOOTTIME), r = ts_ns(CLOCK_REALTIME), b2 = ts_ns(CLOCK_BOOTTIME);

		if (b2 - b1 < best_gap) {
			best_gap = b2 - b1;
			boot = b1 + (b2 - b1) / 2;
			real = r;
		}
	}
	clock_set_anchor(c, boot, real);
}

int64_t clock_real_of(const struct tt_clock *c, int64_t boot_ns)
{
	return c->real_ns + (boot_ns - c->boot_ns);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* The seconds part of a time, formatted once per second (cache: *sec). */
static const char *seconds(int64_t real_ns, int utc, int64_t *sec, char *buf, size_t size,
			   const char *fmt)
{
	int64_t s = floor_div(real_ns, 1000000000);

	if (s != *sec) {
		time_t t = (time_t)s;
		struct tm tm;

		if (utc)
			gmtime_r(&t, &tm);
		else
			localtime_r(&t, &tm);
		strftime(buf, size, fmt, &tm);
		*sec = s;
	}
	return buf;
}

const char *clock_local_seconds(struct tt_clock *c, int64_t real_ns)
{
	return seconds(real_ns, 0, &c->local_sec, c->local_hms, sizeof(c->local_hms), "%H:%M:%S");
}

int clock_fmt_local(struct tt_clock *c, int64_t real_ns, char *buf, int size)
{
	return snprintf(buf, size, "%s.%06ld", clock_local_seconds(c, real_ns),
			clock_nsec_of(real_ns) / 1000);
}

const char *clock_utc_seconds(struct tt_clock *c, int64_t real_ns)
{
	return seconds(real_ns, 1, &c->utc_sec, c->utc_date, sizeof(c->utc_date), "%Y-%m-%dT%H:%M:%S");
}

long clock_nsec_of(int64_t real_ns)
{
	return (long)(real_ns - floor_div(real_ns, 1000000000) * 1000000000);
}

int clock_fmt_rfc3339(struct tt_clock *c, int64_t real_ns, char *buf, int size)
{
	return snprintf(buf, size, "%s.%09ldZ", clock_utc_seconds(c, real_ns), clock_nsec_of(real_ns));
}
