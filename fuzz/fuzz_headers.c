/* fuzz_headers: usage_header_next (src/parse.c), the iterator over a raw response header block.
 * The input is copied into a heap buffer of exactly its size (no terminating NUL), so any read past
 * the end is an ASan report. Checks, for any input:
 *   - the loop terminates: every call that returns 1 moves *pos strictly forward, *pos never exceeds
 *     the length, and there are never more fields than lines;
 *   - name and value spans lie inside the buffer, the name is non-empty, has no colon, starts and
 *     ends with a non-blank, and holds no LF (a header name never spans lines; a bare CR inside a
 *     line is just a byte to this parser);
 *   - the value has no leading or trailing blank;
 *   - the field is the one the line says: the name is the text before the first colon of the line the
 *     field starts on (compared with an independent scan below).
 * The block is also split at an arbitrary point and parsed again from that position, as a caller
 * resuming the iteration would. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/parse.h"

static int blank(char c)
{
	return c == ' ' || c == '\t';
}

static void check_field(const char *buf, size_t len, const usage_header_field *f)
{
	const char *end = buf + len;
	if (f->name < buf || f->name > end || f->name_len == 0 || f->name_len > (size_t)(end - f->name))
		abort();
	if (f->value < buf || f->value > end || f->value_len > (size_t)(end - f->value))
		abort();
	if (blank(f->name[0]) || blank(f->name[f->name_len - 1]))
		abort();
	for (size_t i = 0; i < f->name_len; i++)
		if (f->name[i] == ':' || f->name[i] == '\n')
			abort();
	if (f->value_len && (blank(f->value[0]) || blank(f->value[f->value_len - 1])))
		abort();
	/* the value starts after the name's colon */
	if (f->value < f->name + f->name_len)
		abort();
}

/* The name by an independent scan: the start of the field's line up to its first colon, trimmed.
 * A caller resuming at `from` makes that position a line start. */
static void check_name(const char *buf, size_t from, size_t len, const usage_header_field *f)
{
	const char *line = f->name; /* back to the start of its line (the first position parsed counts as one) */
	while (line > buf + from && line[-1] != '\n')
		line--;
	const char *colon = line;
	while (*colon != ':') {
		if (*colon == '\n' || colon + 1 >= buf + len)
			abort(); /* no colon on the field's first line */
		colon++;
	}
	const char *a = line, *b = colon;
	while (a < b && blank(*a))
		a++;
	while (b > a && blank(b[-1]))
		b--;
	if (a != f->name || (size_t)(b - a) != f->name_len)
		abort();
}

static size_t run(const char *buf, size_t len, size_t pos)
{
	const size_t from = pos;
	usage_header_field f;
	size_t lines = 1, fields = 0;
	for (size_t i = 0; i < len; i++)
		lines += buf[i] == '\n';
	for (;;) {
		size_t before = pos;
		memset(&f, 0, sizeof f);
		int got = usage_header_next(buf, len, &pos, &f);
		if (pos > len)
			abort();
		if (!got)
			break;
		if (pos <= before)
			abort();
		check_field(buf, len, &f);
		check_name(buf, from, len, &f);
		if (++fields > lines)
			abort();
	}
	/* at the end it stays at the end */
	size_t again = pos;
	if (usage_header_next(buf, len, &again, &f) != 0 || again != pos)
		abort();
	return fields;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	if (!buf)
		abort();
	if (size)
		memcpy(buf, data, size);
	run(buf, size, 0);
	if (size > 1) /* resume from a position chosen by the input */
		run(buf, size, (size_t)data[0] % size);
	free(buf);
	return 0;
}
