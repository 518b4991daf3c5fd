/* codec.c: core.percent_encode, core.base64, core.parse_uint, core.parse_retry_after,
 * core.parse_headers, core.has_crlf. */
#include "codec.h"
#include "http.h"
#include "parse.h"

#include <stdlib.h>
#include <time.h>

/* The output of one slice of an encoder: what usage_prepbuffsize is asked for, never more than it can give
 * (luaL_prepbuffer alone guarantees only LUAL_BUFFERSIZE, 512 bytes on a 32-bit Lua 5.4). */
#define OUT_CHUNK (USAGE_PREPBUFF_MAX < 768 ? USAGE_PREPBUFF_MAX : (size_t)768)
#define PCT_IN_CHUNK (OUT_CHUNK / 3)       /* a byte becomes at most 3 */
#define B64_IN_CHUNK (OUT_CHUNK / 4 * 3)   /* 3 bytes become 4: a multiple of 3 until the last slice */

_Static_assert(OUT_CHUNK >= 4 && PCT_IN_CHUNK * 3 <= OUT_CHUNK && (B64_IN_CHUNK + 2) / 3 * 4 <= OUT_CHUNK,
               "an encoder's slice must fit what usage_prepbuffsize gives");

static int l_percent_encode(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	while (n > 0) {
		size_t chunk = n > PCT_IN_CHUNK ? PCT_IN_CHUNK : n;
		char *out = usage_prepbuffsize(&b, chunk * 3);
		size_t w = usage_pct_encode(s, chunk, out);
		luaL_addsize(&b, w);
		s += chunk;
		n -= chunk;
	}
	luaL_pushresult(&b);
	return 1;
}

static int l_base64(lua_State *L)
{
	size_t n;
	const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	while (n > 0) {
		size_t chunk = n > B64_IN_CHUNK ? B64_IN_CHUNK : n;
		char *out = usage_prepbuffsize(&b, (chunk + 2) / 3 * 4);
		size_t w = usage_base64(s, chunk, out);
		luaL_addsize(&b, w);
		s += chunk;
		n -= chunk;
	}
	luaL_pushresult(&b);
	return 1;
}

static int l_parse_uint(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	long long v;
	if (!usage_parse_uint(s, n, &v))
		return 0;
	usage_pushcount(L, v);
	return 1;
}

/* core.parse_retry_after(value [, now_unix]) -> seconds | nothing */
static int l_parse_retry_after(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	double now = luaL_optnumber(L, 2, (double)time(NULL));
	double secs;
	if (!usage_parse_retry_after(s, n, now, &secs))
		return 0;
	lua_pushnumber(L, secs);
	return 1;
}

static int l_parse_headers(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	usage_push_headers(L, s, n);
	return 1;
}

static int l_has_crlf(lua_State *L)
{
	size_t n;
	const char *s = luaL_checklstring(L, 1, &n);
	lua_pushboolean(L, usage_has_crlf(s, n));
	return 1;
}

const luaL_Reg usage_codec_functions[] = {
	{"percent_encode", l_percent_encode},
	{"base64", l_base64},
	{"parse_uint", l_parse_uint},
	{"parse_retry_after", l_parse_retry_after},
	{"parse_headers", l_parse_headers},
	{"has_crlf", l_has_crlf},
	{NULL, NULL},
};
