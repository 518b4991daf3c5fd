/* parse.h: pure C encoders and parsers of the core (no Lua, no libcurl), so they can be fuzzed alone. */
#ifndef USAGE_PARSE_H
#define USAGE_PARSE_H

#include <stddef.h>

/* Percent-encode everything but RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~), like
 * encodeURIComponent minus !'()*. `out` must hold 3*n bytes; returns the length written. */
size_t usage_pct_encode(const char *in, size_t n, char *out);

/* Standard base64 with padding. `out` must hold 4*((n+2)/3) bytes; returns the length written. */
size_t usage_base64(const unsigned char *in, size_t n, char *out);

/* A non-negative decimal integer, optional surrounding blanks, at most 18 digits.
 * Returns 1 and sets *out, or 0 when `s` is anything else. */
int usage_parse_uint(const char *s, size_t n, long long *out);

/* Retry-After: delta-seconds (any number of digits: exact up to 18, beyond that the nearest double, at
 * most DBL_MAX: a value past int64 means "much later"), or an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37
 * GMT") turned into seconds from `now` (Unix time; never negative). Returns 1 and sets *seconds (finite,
 * >= 0), or 0 when invalid. */
int usage_parse_retry_after(const char *s, size_t n, double now, double *seconds);

/* Iterate the fields of a raw response header block ("Name: value\r\n" lines, status lines and
 * obsolete line folding tolerated). Each call finds the next field at or after *pos; returns 1
 * with name/value spans (value trimmed) or 0 at the end. Lines without a colon are skipped. */
typedef struct {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
} usage_header_field;

int usage_header_next(const char *buf, size_t len, size_t *pos, usage_header_field *f);

/* 1 when the byte string contains CR, LF or NUL (forbidden in anything that becomes a header). */
int usage_has_crlf(const char *s, size_t n);

#endif
