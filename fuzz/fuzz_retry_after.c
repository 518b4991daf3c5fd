/* fuzz_retry_after: usage_parse_uint and usage_parse_retry_after (src/parse.c).
 * The input (after one control byte that picks the "now" clock) is copied into a heap buffer of
 * exactly its size. Checks, for any input:
 *   - usage_parse_uint accepts exactly: optional blanks, 1..18 ASCII digits, optional blanks, and
 *     then gives the value an independent parser computes;
 *   - usage_parse_retry_after gives, for delta-seconds, that same value, and for longer runs of digits
 *     (past int64: "much later") a value of at least 10^18 and within 1% of the digits' value (capped at
 *     DBL_MAX), never "absent"; for an IMF-fixdate
 *     ("Sun, 06 Nov 1994 08:49:37 GMT"), max(0, date - now) with the date computed by timegm(3);
 *     rejects everything else; and the result is always finite and >= 0. */
#define _DEFAULT_SOURCE /* timegm */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/parse.h"

static int blank(char c)
{
	return c == ' ' || c == '\t';
}

static void trim(const char **s, size_t *n)
{
	while (*n && blank(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && blank((*s)[*n - 1]))
		(*n)--;
}

static int ref_uint(const char *s, size_t n, long long *out)
{
	trim(&s, &n);
	if (n < 1 || n > 18)
		return 0;
	unsigned long long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = (long long)v;
	return 1;
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + s[i] - '0';
	}
	*out = v;
	return 1;
}

/* The IMF-fixdate grammar the parser documents (the weekday name is not checked against the date,
 * the day is 01..31 whatever the month, like the parser; timegm normalises 31 Feb and :60). */
static int ref_date(const char *s, size_t n, double *epoch)
{
	static const char *mons[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	int d, y, hh, mm, ss, mon = -1;
	if (n != 29)
		return 0;
	if (s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
	    s[22] != ':' || s[25] != ' ' || memcmp(s + 26, "GMT", 3) != 0)
		return 0;
	for (int i = 0; i < 12; i++)
		if (memcmp(s + 8, mons[i], 3) == 0)
			mon = i;
	if (mon < 0 || !digits(s + 5, 2, &d) || !digits(s + 12, 4, &y) || !digits(s + 17, 2, &hh) ||
	    !digits(s + 20, 2, &mm) || !digits(s + 23, 2, &ss))
		return 0;
	if (d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60)
		return 0;
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mon;
	tm.tm_mday = d;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	*epoch = (double)timegm(&tm);
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const double nows[] = {0.0, 784111777.0, 1700000000.5, 4102444800.0, -1e9, 253402300799.0};
	if (size < 1)
		return 0;
	double now = nows[data[0] % (sizeof nows / sizeof nows[0])];
	size--;
	data++;
	char *s = malloc(size ? size : 1);
	if (!s)
		abort();
	if (size)
		memcpy(s, data, size);

	long long got = -1, want = -1;
	int ok = usage_parse_uint(s, size, &got);
	int ref = ref_uint(s, size, &want);
	if (ok != ref || (ok && got != want) || (ok && got < 0))
		abort();

	double secs = -1;
	int ra = usage_parse_retry_after(s, size, now, &secs);
	if (ra) {
		if (!isfinite(secs) || secs < 0)
			abort();
	}
	const char *t = s;
	size_t tn = size;
	trim(&t, &tn);
	double epoch;
	size_t digits = 0;
	while (digits < tn && t[digits] >= '0' && t[digits] <= '9')
		digits++;
	if (ref) {
		if (!ra || secs != (double)want)
			abort();
	} else if (tn > 18 && digits == tn) { /* a long delta-seconds */
		char *copy = malloc(tn + 1); /* the reference: strtod of the digits, capped at DBL_MAX */
		if (!copy)
			abort();
		memcpy(copy, t, tn);
		copy[tn] = '\0';
		double approx = strtod(copy, NULL);
		free(copy);
		if (approx > DBL_MAX)
			approx = DBL_MAX;
		int leading_zeros_only = approx < 1e18;
		if (!ra)
			abort();
		if (!leading_zeros_only && (secs < 1e18 || fabs(secs - approx) > approx * 0.01))
			abort();
		if (leading_zeros_only && secs != approx)
			abort();
	} else if (ref_date(t, tn, &epoch)) {
		double expect = epoch > now ? epoch - now : 0.0;
		if (!ra || secs != expect)
			abort();
	} else if (ra) {
		abort(); /* accepted something that is neither form */
	}
	free(s);
	return 0;
}
