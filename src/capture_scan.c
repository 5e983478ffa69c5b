// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Checks on a capture line's text that json-c cannot make: the RFC 3339
 * times the writer prints, and integer literals beyond 64 bits (which
 * json-c parses as the nearest limit without a word).
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "capture_scan.h"

/* the wall-time arithmetic of clock.c cannot overflow below 2^62 ns */
#define NS_MAX (1LL << 62)

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

/* Whether the integer literal s[0..n) fits 64 bits (signed when negative). */
static int int_fits(const char *s, size_t n)
{
	const char *lim = "18446744073709551615";
	size_t ll;

	if (*s == '-') {
		lim = "9223372036854775808";
		s++;
		n--;
	}
	ll = strlen(lim);
	return n < ll || (n == ll && memcmp(s, lim, n) <= 0);
}

int cr_int_literals_fit(const char *p, size_t len, const char **key, size_t *klen)
{
	const char *str = "";
	size_t slen = 0;
	char prev = 0;

	*key = "";
	*klen = 0;
	for (size_t i = 0; i < len; i++) {
		char ch = p[i];

		if (ch == '"') {
			size_t j = i + 1;

			while (j < len && p[j] != '"')
				j += p[j] == '\\' ? 2 : 1;
			str = p + i + 1;
			slen = j - i - 1;
			i = j;
			prev = '"';
			continue;
		}
		if (ch == ':' && prev == '"') {
			*key = str;
			*klen = slen;
		}
		if (ch == '-' || (ch >= '0' && ch <= '9')) {
			size_t j = i;
			int integer = 1;

			while (j < len && memchr("+-0123456789.eE", p[j], 15)) {
				integer &= p[j] != '.' && p[j] != 'e' && p[j] != 'E';
				j++;
			}
			if (integer && !int_fits(p + i, j - i))
				return -ERANGE;
			i = j - 1;
			prev = '0';
			continue;
		}
		if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n')
			prev = ch;
	}
	return 0;
}
