/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef TT_CLOCK_H
#define TT_CLOCK_H

#include <stdint.h>

/*
 * Events carry CLOCK_BOOTTIME, which neither a step of the wall clock nor a
 * suspend can corrupt. Wall time is derived through an anchor (a pair of
 * readings of both clocks) that the loop refreshes every 60 s and records
 * in the capture as a "clock" record.
 */
struct tt_clock {
	int64_t boot_ns;
	int64_t real_ns;
	/* one-second caches: localtime/gmtime once per second, not per event */
	int64_t local_sec, utc_sec;
	char local_hms[16];   /* "HH:MM:SS" */
	char utc_date[32];    /* "YYYY-MM-DDTHH:MM:SS" */
};

void clock_anchor(struct tt_clock *c);
void clock_set_anchor(struct tt_clock *c, int64_t boot_ns, int64_t real_ns);
int64_t clock_boot_now(void);
int64_t clock_real_of(const struct tt_clock *c, int64_t boot_ns);
/* "HH:MM:SS" of real_ns in local time, cached per second. */
const char *clock_local_seconds(struct tt_clock *c, int64_t real_ns);
/* "HH:MM:SS.uuuuuu" in local time; buf of 16 bytes at least. */
int clock_fmt_local(struct tt_clock *c, int64_t real_ns, char *buf, int size);
/* "YYYY-MM-DDTHH:MM:SS" of real_ns (UTC), cached per second. */
const char *clock_utc_seconds(struct tt_clock *c, int64_t real_ns);
/* The nanoseconds within the second of real_ns, 0..999999999. */
long clock_nsec_of(int64_t real_ns);
/* "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ"; buf of 32 bytes at least. */
int clock_fmt_rfc3339(struct tt_clock *c, int64_t real_ns, char *buf, int size);

#endif
