/* parse.c: percent-encoding, base64, integer, Retry-After and header-block parsing. */
#include "parse.h"

#include <float.h>
#include <string.h>
#include <time.h>

static const char HEX[] = "0123456789ABCDEF";

static int is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

size_t usage_pct_encode(const char *in, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if (is_unreserved(c)) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = HEX[c >> 4];
			out[o++] = HEX[c & 15];
		}
	}
	return o;
}

size_t usage_base64(const unsigned char *in, size_t n, char *out)
{
	static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0, i = 0;
	for (; i + 2 < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		out[o++] = T[v >> 18];
		out[o++] = T[(v >> 12) & 63];
		out[o++] = T[(v >> 6) & 63];
		out[o++] = T[v & 63];
	}
	if (i < n) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0);
		out[o++] = T[v >> 18];
		out[o++] = T[(v >> 12) & 63];
		out[o++] = i + 1 < n ? T[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	return o;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static void trim(const char **s, size_t *n)
{
	while (*n && is_blank(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_blank((*s)[*n - 1]))
		(*n)--;
}

int usage_parse_uint(const char *s, size_t n, long long *out)
{
	long long v = 0;
	trim(&s, &n);
	if (n == 0 || n > 18)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 1;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

static int fixed_digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 1;
}

/* IMF-fixdate only: "Sun, 06 Nov 1994 08:49:37 GMT" (29 bytes). */
static int parse_http_date(const char *s, size_t n, double *epoch)
{
	static const char *MON = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int day, year, hh, mm, ss, mon = -1;
	if (n != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
	    s[19] != ':' || s[22] != ':' || s[25] != ' ' || memcmp(s + 26, "GMT", 3) != 0)
		return 0;
	for (int i = 0; i < 12; i++)
		if (memcmp(s + 8, MON + 3 * i, 3) == 0)
			mon = i + 1;
	if (mon < 0 || !fixed_digits(s + 5, 2, &day) || !fixed_digits(s + 12, 4, &year) ||
	    !fixed_digits(s + 17, 2, &hh) || !fixed_digits(s + 20, 2, &mm) || !fixed_digits(s + 23, 2, &ss))
		return 0;
	if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60)
		return 0;
	*epoch = (double)(days_from_civil(year, (unsigned)mon, (unsigned)day) * 86400LL + hh * 3600 + mm * 60 + ss);
	return 1;
}

/* Delta-seconds of any length: exact up to 18 digits, beyond that the nearest double (a value past int64
 * is "much later", never "absent"), at most DBL_MAX. */
static int parse_delta(const char *s, size_t n, double *seconds)
{
	long long v;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	while (n > 1 && s[0] == '0') { /* leading zeros change nothing */
		s++;
		n--;
	}
	if (n <= 18)
		return usage_parse_uint(s, n, &v) ? (*seconds = (double)v, 1) : 0;
	double d = 0;
	for (size_t i = 0; i < n; i++) {
		if (d < DBL_MAX / 10)
			d = d * 10 + (s[i] - '0');
		else
			d = DBL_MAX;
	}
	*seconds = d;
	return 1;
}

int usage_parse_retry_after(const char *s, size_t n, double now, double *seconds)
{
	double when;
	trim(&s, &n);
	if (n > 0 && parse_delta(s, n, seconds))
		return 1;
	if (parse_http_date(s, n, &when)) {
		*seconds = when > now ? when - now : 0.0;
		return 1;
	}
	return 0;
}

/* The end of the line starting at p: the offset of its '\n', or len. */
static size_t line_end(const char *buf, size_t len, size_t p)
{
	const char *nl = p < len ? memchr(buf + p, '\n', len - p) : NULL;
	return nl ? (size_t)(nl - buf) : len;
}

int usage_header_next(const char *buf, size_t len, size_t *pos, usage_header_field *f)
{
	size_t p = *pos;
	while (p < len) {
		size_t start = p, end, first_end;
		end = first_end = line_end(buf, len, p);
		p = end < len ? end + 1 : len; /* past '\n' */
		/* obsolete folding: continuation lines start with a blank; include them in the value */
		while (p < len && is_blank(buf[p])) {
			end = line_end(buf, len, p);
			p = end < len ? end + 1 : len;
		}
		if (end > start && buf[end - 1] == '\r')
			end--;
		/* the name ends on the field's first line */
		const char *colon = first_end > start ? memchr(buf + start, ':', first_end - start) : NULL;
		if (!colon || colon == buf + start)
			continue; /* status line, blank line or garbage */
		f->name = buf + start;
		f->name_len = (size_t)(colon - buf) - start;
		f->value = colon + 1;
		f->value_len = end - (size_t)(colon - buf) - 1;
		trim(&f->name, &f->name_len);
		trim(&f->value, &f->value_len);
		if (f->name_len == 0)
			continue;
		*pos = p;
		return 1;
	}
	*pos = p;
	return 0;
}

int usage_has_crlf(const char *s, size_t n)
{
	/* libc's memchr reads many bytes a step: on every request's URL and headers, faster than a byte loop */
	return memchr(s, '\n', n) != NULL || memchr(s, '\r', n) != NULL || memchr(s, '\0', n) != NULL;
}
