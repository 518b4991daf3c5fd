/* jscan.c: the pass over a JSON text before it is decoded (jscan.h). Strings are skipped as JSON
 * defines them (escapes included), so nothing inside a string is counted or taken for a number. */
#include "jscan.h"

#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* bytes that end the plain run inside a string: the closing quote, an escape, a control character */
static const unsigned char STOP[256] = {
	[0] = 1, [1] = 1, [2] = 1, [3] = 1, [4] = 1, [5] = 1, [6] = 1, [7] = 1, [8] = 1, [9] = 1, [10] = 1,
	[11] = 1, [12] = 1, [13] = 1, [14] = 1, [15] = 1, [16] = 1, [17] = 1, [18] = 1, [19] = 1, [20] = 1,
	[21] = 1, [22] = 1, [23] = 1, [24] = 1, [25] = 1, [26] = 1, [27] = 1, [28] = 1, [29] = 1, [30] = 1,
	[31] = 1, ['"'] = 1, ['\\'] = 1,
};

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The first byte at or after i that ends a plain run inside a string (STOP), or n. Eight bytes at a time
 * where it can (little-endian: the lowest flagged byte of each test is exact). */
static inline size_t plain_run(const char *s, size_t n, size_t i)
{
#if defined(__SSE2__) && defined(__GNUC__)
	const __m128i quote = _mm_set1_epi8('"'), slash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x1f);
	while (i + 16 <= n) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		__m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, slash)),
		                           _mm_cmpeq_epi8(_mm_min_epu8(x, space), x)); /* x <= 0x1f, unsigned */
		unsigned m = (unsigned)_mm_movemask_epi8(hit);
		if (m)
			return i + (size_t)__builtin_ctz(m);
		i += 16;
	}
#elif defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	const uint64_t quotes = ones * '"', slashes = ones * '\\', spaces = ones * 0x20;
	while (i + 8 <= n) {
		uint64_t x, q, b;
		memcpy(&x, s + i, 8);
		q = x ^ quotes;
		b = x ^ slashes;
		uint64_t m = ((q - ones) & ~q) | ((b - ones) & ~b) | ((x - spaces) & ~x);
		m &= highs;
		if (m)
			return i + (size_t)(__builtin_ctzll(m) >> 3);
		i += 8;
	}
#endif
	while (i < n && !STOP[(unsigned char)s[i]])
		i++;
	return i;
}

/* i: just past an opening quote. Returns the index just past the closing quote (n when there is none),
 * noting in *controls each control character the string may decode to. */
static size_t skip_string(const char *s, size_t n, size_t i, unsigned long *controls)
{
	while (i < n) {
		i = plain_run(s, n, i);
		if (i >= n)
			return n;
		unsigned char c = (unsigned char)s[i];
		if (c == '"')
			return i + 1;
		if (c != '\\') { /* a raw control character (invalid JSON; the decoder may still take it) */
			*controls |= 1UL << c;
			i++;
			continue;
		}
		if (i + 1 >= n)
			return n;
		switch (s[i + 1]) {
		case 'b':
			*controls |= 1UL << 8;
			break;
		case 't':
			*controls |= 1UL << 9;
			break;
		case 'n':
			*controls |= 1UL << 10;
			break;
		case 'f':
			*controls |= 1UL << 12;
			break;
		case 'r':
			*controls |= 1UL << 13;
			break;
		case 'u':
			if (i + 5 < n) {
				int a = hex_value(s[i + 2]), b = hex_value(s[i + 3]), c2 = hex_value(s[i + 4]),
				    d = hex_value(s[i + 5]);
				if (a == 0 && b == 0 && c2 >= 0 && c2 <= 1 && d >= 0)
					*controls |= 1UL << (c2 * 16 + d);
			}
			break;
		default:
			break;
		}
		i += 2; /* the hex digits of \uXXXX are plain characters */
	}
	return n;
}

/* digits d[0..nd) (no sign, no leading zero) above the decimal number lim? */
static int above(const char *d, size_t nd, const char *lim)
{
	size_t nl = strlen(lim);
	return nd > nl || (nd == nl && memcmp(d, lim, nd) > 0);
}

/* The token of a number at s[i] ('-' or a digit) ends at the first byte that cannot belong to one in any
 * reading of the decoder (hex "0x1F", "1e5", "-Infinity" included): returns that end, and whether the
 * token is an integer literal by JSON's grammar, -?[1-9][0-9]* or 0 (*d0, *nd: its digits). */
static inline size_t number_token(const char *s, size_t n, size_t i, int *integer, size_t *d0, size_t *nd)
{
	size_t j = i;
	if (s[j] == '-')
		j++;
	*d0 = j;
	while (j < n && s[j] >= '0' && s[j] <= '9')
		j++;
	*nd = j - *d0;
	size_t end = j;
	while (end < n && ((s[end] >= '0' && s[end] <= '9') || (s[end] >= 'a' && s[end] <= 'z') ||
	                   (s[end] >= 'A' && s[end] <= 'Z') || s[end] == '.' || s[end] == '+' || s[end] == '-'))
		end++;
	*integer = end == j && *nd > 0 && (*nd == 1 || s[*d0] != '0');
	return end > i ? end : i + 1;
}

/* Where a number may stand as a value: at the start, after '[' or ':', after ',' in an array. Nesting
 * (array or object) is kept as a bit stack; deeper than it, nothing is taken for a value (such a text is
 * deeper than the decoder accepts anyway). */
#define NEST_BITS 4096

/* The one walk behind usage_json_scan (out == NULL) and usage_json_mark_longs (out: the copy). */
static int walk(const char *s, size_t n, size_t max_values, usage_jscan *r, int mark, char *out, size_t *out_len)
{
	static const char HEX[] = "0123456789abcdef";
	unsigned char arrays[NEST_BITS / 8] = {0};
	size_t depth = 0, i = 0, copied = 0, o = 0;
	int value_here = 1; /* the next token is in a value position */
	memset(r, 0, sizeof *r);
	r->values = 1;
	while (i < n) {
		char c = s[i];
		if (c == '"') {
			i = skip_string(s, n, i + 1, &r->controls);
			value_here = 0;
			continue;
		}
		if (c == ',' || c == ':' || c == '[') {
			r->values++;
			if (max_values && r->values > max_values)
				return 0;
		}
		if (c == '[' || c == '{') {
			if (depth < NEST_BITS) {
				if (c == '[')
					arrays[depth / 8] |= (unsigned char)(1u << (depth % 8));
				else
					arrays[depth / 8] &= (unsigned char)~(1u << (depth % 8));
			}
			depth++;
			value_here = c == '[' && depth <= NEST_BITS;
			i++;
		} else if (c == ']' || c == '}') {
			if (depth > 0)
				depth--;
			value_here = 0;
			i++;
		} else if (c == ':') {
			value_here = depth <= NEST_BITS;
			i++;
		} else if (c == ',') {
			value_here = depth > 0 && depth <= NEST_BITS && (arrays[(depth - 1) / 8] >> ((depth - 1) % 8) & 1);
			i++;
		} else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			i++;
		} else if (c == '\0') {
			break; /* lua-cjson reads a text up to its first NUL outside strings, as the end */
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			int value = value_here, integer, negative = s[i] == '-';
			value_here = 0;
			size_t start = i, d0, nd;
			size_t j = number_token(s, n, i, &integer, &d0, &nd);
			if (integer && nd >= USAGE_JSCAN_LONG_DIGITS) {
				int over64 = above(s + d0, nd, negative ? "9223372036854775808" : "9223372036854775807");
				r->longs++;
				if (above(s + d0, nd, "9007199254740992"))
					r->over53++;
				if (over64)
					r->over64++;
				if (out && !over64 && value) {
					memcpy(out + o, s + copied, start - copied);
					o += start - copied;
					memcpy(out + o, "\"\\u00", 5);
					out[o + 5] = HEX[(mark >> 4) & 15];
					out[o + 6] = HEX[mark & 15];
					o += 7;
					memcpy(out + o, s + start, j - start);
					o += j - start;
					out[o++] = '"';
					copied = j;
				}
			}
			i = j;
		} else {
			value_here = 0;
			i++;
		}
	}
	if (out) {
		memcpy(out + o, s + copied, n - copied);
		o += n - copied;
		*out_len = o;
	}
	return 1;
}

/* a number at s[i] ('-' or a digit): its end; notes long integer literals in r */
static inline size_t number(const char *s, size_t n, size_t i, usage_jscan *r)
{
	int integer, negative = s[i] == '-';
	size_t d0, nd;
	size_t j = number_token(s, n, i, &integer, &d0, &nd);
	if (integer && nd >= USAGE_JSCAN_LONG_DIGITS) {
		r->longs++;
		if (above(s + d0, nd, "9007199254740992"))
			r->over53++;
		if (above(s + d0, nd, negative ? "9223372036854775808" : "9223372036854775807"))
			r->over64++;
	}
	return j;
}

enum { K_OTHER, K_QUOTE, K_COUNT, K_NUMBER, K_END };
static const unsigned char KIND[256] = {
	[0] = K_END, ['"'] = K_QUOTE, [','] = K_COUNT, [':'] = K_COUNT, ['['] = K_COUNT, ['-'] = K_NUMBER,
	['0'] = K_NUMBER, ['1'] = K_NUMBER, ['2'] = K_NUMBER, ['3'] = K_NUMBER, ['4'] = K_NUMBER,
	['5'] = K_NUMBER, ['6'] = K_NUMBER, ['7'] = K_NUMBER, ['8'] = K_NUMBER, ['9'] = K_NUMBER,
};

#if defined(__SSE2__) && defined(__GNUC__)
/* The quick pass, 16 bytes at a time, blind to strings: an upper bound of the values (1 + every ',', ':'
 * and '[' byte) and whether 16 digits in a row appear anywhere. Without such a run there is no long
 * integer literal, and when the bound is within the limit the careful pass has nothing to add. */
static void quick_pass(const char *s, size_t n, size_t *values, int *long_run)
{
	const __m128i comma = _mm_set1_epi8(','), colon = _mm_set1_epi8(':'), open = _mm_set1_epi8('['),
	              zero = _mm_set1_epi8('0'), nine = _mm_set1_epi8('9');
	size_t i = 0, count = 1, run = 0;
	int found = 0;
	for (; i + 16 <= n; i += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		__m128i st = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, comma), _mm_cmpeq_epi8(x, colon)),
		                          _mm_cmpeq_epi8(x, open));
		count += (size_t)__builtin_popcount((unsigned)_mm_movemask_epi8(st));
		__m128i digit = _mm_and_si128(_mm_cmpeq_epi8(_mm_max_epu8(x, zero), x),
		                              _mm_cmpeq_epi8(_mm_min_epu8(x, nine), x));
		unsigned m = (unsigned)_mm_movemask_epi8(digit);
		if (m == 0xffffu) {
			run += 16;
		} else {
			run += (size_t)__builtin_ctz(~m);      /* the digits that continue the previous run */
			if (run >= USAGE_JSCAN_LONG_DIGITS)
				found = 1;
			run = (size_t)__builtin_clz(~(m << 16)); /* the digits at the end of this block */
		}
		if (run >= USAGE_JSCAN_LONG_DIGITS)
			found = 1;
	}
	for (; i < n; i++) {
		char c = s[i];
		count += c == ',' || c == ':' || c == '[';
		run = (c >= '0' && c <= '9') ? run + 1 : 0;
		if (run >= USAGE_JSCAN_LONG_DIGITS)
			found = 1;
	}
	*values = count;
	*long_run = found;
}
#endif

/* The counting pass (every decode goes through it): the quick pass where it can, else (a long run of
 * digits, or a bound above the limit) the careful one, one table look-up a byte outside strings. */
int usage_json_scan(const char *s, size_t n, size_t max_values, usage_jscan *r)
{
	size_t i = 0, values = 1;
#if defined(__SSE2__) && defined(__GNUC__)
	{
		size_t bound;
		int long_run;
		quick_pass(s, n, &bound, &long_run);
		if (!long_run && (!max_values || bound <= max_values)) {
			memset(r, 0, sizeof *r);
			r->values = bound;
			r->controls = ~0UL; /* not looked at (nothing to mark) */
			return 1;
		}
	}
#endif
	if (!max_values)
		max_values = (size_t)-1;
	memset(r, 0, sizeof *r);
	while (i < n) {
		switch (KIND[(unsigned char)s[i]]) {
		case K_QUOTE:
			i = skip_string(s, n, i + 1, &r->controls);
			break;
		case K_COUNT:
			if (++values > max_values) {
				r->values = values;
				return 0;
			}
			i++;
			break;
		case K_NUMBER:
			i = number(s, n, i, r);
			break;
		case K_END: /* lua-cjson reads a text up to its first NUL outside strings, as the end */
			i = n;
			break;
		default:
			i++;
		}
	}
	r->values = values;
	return 1;
}

int usage_json_free_control(const usage_jscan *r)
{
	for (int c = 1; c < 32; c++) /* 0 last: a NUL is the likeliest to upset a reader of the text */
		if (!(r->controls & (1UL << c)))
			return c;
	return (r->controls & 1UL) ? -1 : 0;
}

size_t usage_json_mark_longs(const char *s, size_t n, int mark, char *out)
{
	usage_jscan r;
	size_t len = 0;
	walk(s, n, 0, &r, mark, out, &len);
	return len;
}
