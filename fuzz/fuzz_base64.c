/* fuzz_base64: usage_base64 (src/parse.c).
 * Checks, for any input: the output is exactly 4*ceil(n/3) bytes written into a buffer of exactly
 * that size, uses only the standard alphabet, has '=' padding only at the end and only as much as
 * n mod 3 requires, the unused bits of the last group are zero (canonical form), and the reference
 * decoder below (a strict RFC 4648 decoder, independent of the encoder) gives the input back.
 * The input is also encoded in slices of 192 bytes, the way core.base64 feeds it from Lua, and the
 * concatenation must equal the one-shot output. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/parse.h"

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Strict decoder: length a multiple of 4, padding only in the last group, canonical trailing bits.
 * Returns the decoded length, or (size_t)-1 when the text is not canonical base64. */
static size_t ref_decode(const char *s, size_t n, unsigned char *out)
{
	size_t o = 0;
	if (n % 4)
		return (size_t)-1;
	for (size_t i = 0; i < n; i += 4) {
		int last = i + 4 == n;
		int v[4], pad = 0;
		for (int k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)s[i + k];
			if (c == '=') {
				if (!last || k < 2)
					return (size_t)-1;
				v[k] = 0;
				pad++;
			} else {
				if (pad)
					return (size_t)-1; /* data after padding */
				v[k] = b64val(c);
				if (v[k] < 0)
					return (size_t)-1;
			}
		}
		unsigned w = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
		if (pad == 2 && (w & 0xffff))
			return (size_t)-1;
		if (pad == 1 && (w & 0xff))
			return (size_t)-1;
		out[o++] = (unsigned char)(w >> 16);
		if (pad < 2)
			out[o++] = (unsigned char)(w >> 8);
		if (pad < 1)
			out[o++] = (unsigned char)w;
	}
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cap = 4 * ((size + 2) / 3);
	char *out = malloc(cap ? cap : 1);
	char *sliced = malloc(cap ? cap : 1);
	unsigned char *back = malloc(size ? size : 1);
	if (!out || !sliced || !back)
		abort();
	size_t n = usage_base64(data, size, out);
	if (n != cap)
		abort();
	size_t pad_expected = size % 3 ? 3 - size % 3 : 0;
	size_t pad = 0;
	while (pad < n && out[n - 1 - pad] == '=')
		pad++;
	if (pad != pad_expected)
		abort();
	for (size_t i = 0; i < n - pad; i++)
		if (b64val((unsigned char)out[i]) < 0)
			abort();
	size_t m = ref_decode(out, n, back);
	if (m != size || (size && memcmp(back, data, size) != 0))
		abort();

	/* the slicing of l_base64 in src/codec.c: 192-byte slices (a multiple of 3) */
	size_t w = 0;
	for (size_t off = 0; off < size; off += 192) {
		size_t chunk = size - off > 192 ? 192 : size - off;
		w += usage_base64(data + off, chunk, sliced + w);
		if (w > cap)
			abort();
	}
	if (w != n || (n && memcmp(out, sliced, n) != 0))
		abort();
	free(out);
	free(sliced);
	free(back);
	return 0;
}
