/* jscan.h: one pass over a JSON text before it is decoded (pure C, no Lua, so it can be fuzzed alone).
 * It counts what decoding would allocate and finds the integer literals a double cannot hold exactly.
 * It does not validate: text it does not understand is left to the decoder. */
#ifndef USAGE_JSCAN_H
#define USAGE_JSCAN_H

#include <stddef.h>

/* An integer literal is "long" from this many digits on: below it every integer is exact in a double
 * (10^15 < 2^53), at it the literal is checked against 2^53 and int64. */
#define USAGE_JSCAN_LONG_DIGITS 16

typedef struct {
	size_t values;   /* 1 + the ',', ':' and '[' outside strings: at least the number of JSON values */
	size_t longs;    /* integer literals (JSON grammar: -?(0|[1-9][0-9]*)) of USAGE_JSCAN_LONG_DIGITS+ digits */
	size_t over53;   /* of those, the ones beyond +-2^53 */
	size_t over64;   /* of those, the ones outside int64 */
	unsigned long controls; /* bit c (0..31): some string may decode to hold control character c (all bits
	                         * set when there is no long literal to mark) */
} usage_jscan;

/* Scan s[0..n). Stops and returns 0 as soon as r->values exceeds max_values (0: no limit); else 1. */
int usage_json_scan(const char *s, size_t n, size_t max_values, usage_jscan *r);

/* A control character (0..31) that no string of the scanned text can hold, or -1 when all can. */
int usage_json_free_control(const usage_jscan *r);

/* Copy s[0..n) to out, each long integer literal within int64 written as the JSON string
 * "\u00XX<literal>" where XX is `mark` (a free control character): decoded, it is a string made of that
 * character and the literal, which no string of the text can be. out must hold n + 8 * r->longs bytes.
 * Returns the length written. */
size_t usage_json_mark_longs(const char *s, size_t n, int mark, char *out);

#endif
