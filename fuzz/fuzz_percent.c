/* fuzz_percent: usage_pct_encode (src/parse.c).
 * Checks, for any input: the output fits the documented 3*n bound exactly sized by ASan, holds only
 * RFC 3986 unreserved characters and %XX triplets with upper-case hex digits, escapes exactly the
 * bytes that are not unreserved, and decodes (with the decoder below, written independently) back
 * to the input byte for byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/parse.h"

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.' || c == '_' || c == '~';
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1; /* lower-case hex is not what the encoder promises */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* exactly the documented capacity: any write past 3*n is a heap overflow */
	char *out = malloc(size ? size * 3 : 1);
	unsigned char *back = malloc(size ? size : 1);
	if (!out || !back)
		abort();
	size_t n = usage_pct_encode((const char *)data, size, out);
	if (n > size * 3)
		abort();

	size_t expect = 0;
	for (size_t i = 0; i < size; i++)
		expect += unreserved(data[i]) ? 1 : 3;
	if (n != expect)
		abort();

	size_t o = 0;
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)out[i];
		if (c == '%') {
			if (i + 2 >= n)
				abort(); /* a truncated triplet */
			int hi = hexval((unsigned char)out[i + 1]), lo = hexval((unsigned char)out[i + 2]);
			if (hi < 0 || lo < 0)
				abort();
			unsigned char v = (unsigned char)(hi * 16 + lo);
			if (unreserved(v))
				abort(); /* an unreserved byte must not be escaped */
			back[o++] = v;
			i += 3;
		} else {
			if (!unreserved(c))
				abort();
			back[o++] = c;
			i++;
		}
		if (o > size)
			abort();
	}
	if (o != size || (size && memcmp(back, data, size) != 0))
		abort();
	free(out);
	free(back);
	return 0;
}
