/* fuzz_json: the JSON bridge of src/json.c and src/jscan.c (core.json_decoder) in a Lua 5.4 state with
 * Debian's lua-cjson loaded by require "cjson".
 * The first input byte picks one of two cjson instances (bit 0): the client's settings (lua/usage/base/json.lua:
 * decode_max_depth 200, decode_invalid_numbers off) or cjson's defaults (depth 1000, NaN, Infinity and
 * hex numbers accepted), so the bridge also walks 1000-deep values and non-finite numbers; its other bits
 * give a limit of JSON values (0: none, else 4 * bits).
 * The rest is decoded by cjson alone (the reference) and through the bridge. Checks:
 *   - the bridge never raises: it returns the value, or nil plus a string (and a kind) when cjson rejects
 *     the text, when the text holds more values than the limit, or when a number is refused;
 *   - a value with a number that is not finite is refused; a number is refused ("range") only when the
 *     reference holds one that is not finite or of magnitude 10^15 or more;
 *   - with a limit, a value the bridge returns has at most that many values (the scan never undercounts);
 *   - otherwise the two values have the same shape (types, keys, array lengths, identical strings: no
 *     string of the text is ever taken for a number), and every number is: an integer when the reference
 *     is integral and within 2^53 (the same value), an integer whose double is the reference's when the
 *     reference is above 2^53 (an exact long literal), the identical float when not integral. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "../src/json.h"

static lua_State *L;
static int ref_raw[2], ref_bridge[2];

static void die(const char *why)
{
	fprintf(stderr, "fuzz_json: %s\n", why);
	abort();
}

static void init(void)
{
	static const char *setup =
	    "local cjson = require 'cjson'\n"
	    "local client = cjson.new()\n"
	    "client.decode_max_depth(200)\n"
	    "client.decode_invalid_numbers(false)\n"
	    "local defaults = cjson.new()\n"
	    "return client.decode, defaults.decode\n";
	L = luaL_newstate();
	if (!L)
		die("luaL_newstate");
	luaL_openlibs(L);
	if (luaL_dostring(L, setup) != LUA_OK)
		die(lua_tostring(L, -1));
	for (int i = 0; i < 2; i++) {
		lua_pushvalue(L, 1 + i);
		ref_raw[i] = luaL_ref(L, LUA_REGISTRYINDEX);
		lua_pushcfunction(L, usage_json_decoder);
		lua_pushvalue(L, 1 + i);
		lua_call(L, 1, 1);
		ref_bridge[i] = luaL_ref(L, LUA_REGISTRYINDEX);
	}
	lua_settop(L, 0);
}

static void same(lua_State *S, int raw, int got, int depth);

static void same_number(lua_State *S, int raw, int got)
{
	if (lua_isinteger(S, raw)) {
		/* cjson 2.1.0 gives floats only; if a build ever gives integers they must stay as they are */
		if (!lua_isinteger(S, got) || lua_tointeger(S, raw) != lua_tointeger(S, got))
			die("an integer changed");
		return;
	}
	double d = lua_tonumber(S, raw);
	int integral = isfinite(d) && floor(d) == d;
	if (lua_isinteger(S, got)) {
		if (!integral)
			die("a non-integral number became an integer");
		if ((double)lua_tointeger(S, got) != d)
			die("an integer does not round to the number cjson read");
		if (fabs(d) < 9007199254740992.0 && lua_tointeger(S, got) != (lua_Integer)d)
			die("an integer below 2^53 has another value than the number");
		return;
	}
	if (integral && fabs(d) <= 9007199254740992.0)
		die("an integral number within 2^53 was not made an integer");
	if (fabs(d) > 9007199254740992.0)
		die("a float above 2^53 was returned (it should be an exact integer or refused)");
	double g = lua_tonumber(S, got);
	if (isnan(d) ? !isnan(g) : memcmp(&d, &g, sizeof d) != 0)
		die("a float changed");
}

/* the largest magnitude of a number in the value at idx (inf when one is not finite) */
static double largest(lua_State *S, int idx, int depth)
{
	if (lua_type(S, idx) == LUA_TNUMBER) {
		double d = lua_tonumber(S, idx);
		return isfinite(d) ? fabs(d) : INFINITY;
	}
	if (lua_type(S, idx) != LUA_TTABLE || depth > 1200)
		return 0;
	luaL_checkstack(S, 4, "fuzz_json walk");
	double m = 0;
	lua_pushnil(S);
	while (lua_next(S, idx)) {
		double x = largest(S, lua_gettop(S), depth + 1);
		if (x > m)
			m = x;
		lua_pop(S, 1);
	}
	return m;
}

/* the number of JSON values in the value at idx (a table and each scalar it holds count one each) */
static size_t count_values(lua_State *S, int idx, int depth)
{
	if (lua_type(S, idx) != LUA_TTABLE || depth > 1200)
		return 1;
	luaL_checkstack(S, 4, "fuzz_json walk");
	size_t n = 1;
	lua_pushnil(S);
	while (lua_next(S, idx)) {
		n += count_values(S, lua_gettop(S), depth + 1);
		lua_pop(S, 1);
	}
	return n;
}

static void same(lua_State *S, int raw, int got, int depth)
{
	if (depth > 1200)
		die("deeper than any decoder allows");
	luaL_checkstack(S, 6, "fuzz_json walk");
	int t = lua_type(S, raw);
	if (t != lua_type(S, got))
		die("types differ");
	switch (t) {
	case LUA_TNUMBER:
		same_number(S, raw, got);
		break;
	case LUA_TSTRING: {
		size_t a, b;
		const char *x = lua_tolstring(S, raw, &a), *y = lua_tolstring(S, got, &b);
		if (a != b || memcmp(x, y, a) != 0)
			die("strings differ");
		break;
	}
	case LUA_TTABLE: {
		if (lua_rawlen(S, raw) != lua_rawlen(S, got))
			die("array lengths differ");
		size_t nraw = 0, ngot = 0;
		lua_pushnil(S);
		while (lua_next(S, raw)) { /* key -2, raw value -1 */
			nraw++;
			lua_pushvalue(S, -2);
			lua_rawget(S, got);
			same(S, lua_gettop(S) - 1, lua_gettop(S), depth + 1);
			lua_pop(S, 2);
		}
		lua_pushnil(S);
		while (lua_next(S, got)) {
			ngot++;
			lua_pop(S, 1);
		}
		if (nraw != ngot)
			die("key counts differ");
		break;
	}
	case LUA_TNIL:
	case LUA_TBOOLEAN:
		if (lua_toboolean(S, raw) != lua_toboolean(S, got))
			die("booleans differ");
		break;
	case LUA_TLIGHTUSERDATA: /* cjson.null */
		if (lua_touserdata(S, raw) != lua_touserdata(S, got))
			die("null differs");
		break;
	default:
		die("unexpected type in a decoded value");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!L)
		init();
	if (size < 1)
		return 0;
	int which = data[0] & 1;
	int limit = (data[0] >> 1) * 4;
	const char *text = (const char *)data + 1;
	size_t n = size - 1;

	lua_settop(L, 0);
	/* the reference: cjson alone, protected */
	lua_rawgeti(L, LUA_REGISTRYINDEX, ref_raw[which]);
	lua_pushlstring(L, text, n);
	int raw_ok = lua_pcall(L, 1, 1, 0) == LUA_OK; /* 1: value or message */

	/* the bridge: must not raise whatever the text */
	lua_rawgeti(L, LUA_REGISTRYINDEX, ref_bridge[which]);
	lua_pushlstring(L, text, n);
	lua_pushinteger(L, limit);
	if (lua_pcall(L, 2, 3, 0) != LUA_OK)
		die(lua_tostring(L, -1)); /* 2..4: value, nil, nil | nil, message [, kind] */
	const char *kind = lua_tostring(L, 4);

	if (!lua_isnil(L, 2) && !lua_isnil(L, 3))
		die("a value and a message");
	if (lua_isnil(L, 2) && lua_type(L, 3) != LUA_TSTRING)
		die("nil without a message");
	if (kind && strcmp(kind, "limit") == 0) {
		if (!limit)
			die("a limit hit without a limit");
	} else if (!raw_ok) {
		if (!lua_isnil(L, 2))
			die("the bridge accepted text cjson rejects");
	} else {
		double m = largest(L, 1, 0);
		if (!isfinite(m) && !lua_isnil(L, 2))
			die("the bridge did not refuse a number that is not finite");
		if (lua_isnil(L, 2)) {
			if (!kind || strcmp(kind, "range") != 0)
				die("the bridge failed on text cjson accepts, without saying why");
			if (!(m >= 999999999999999.0))
				die("a number was refused though every number is below 10^15");
		} else {
			same(L, 1, 2, 0);
			if (limit && count_values(L, 2, 0) > (size_t)limit)
				die("more values than the limit were decoded");
		}
	}
	lua_settop(L, 0);
	/* free this input's garbage now: libFuzzer runs a leak check after every input whose mallocs
	 * and frees do not match, which a lazily collected heap would trigger on almost every input */
	lua_gc(L, LUA_GCCOLLECT, 0);
	return 0;
}
