/* fuzz_json: the JSON bridge of src/json.c (core.json_decoder) in a Lua 5.4 state with Debian's
 * lua-cjson loaded by require "cjson".
 * The first input byte picks one of two cjson instances: the client's settings (lua/usage/json.lua:
 * decode_max_depth 200, decode_invalid_numbers off) or cjson's defaults (depth 1000, NaN, Infinity
 * and hex numbers accepted), so the bridge also walks 1000-deep values and non-finite numbers.
 * The rest is decoded twice: by cjson alone (the reference) and through the bridge. Checks:
 *   - the bridge never raises: it returns the value, or nil plus a string when cjson rejects the text
 *     or the value holds a number that is not finite (1e400, and NaN/Infinity under cjson's defaults),
 *     exactly then;
 *   - the two values have the same shape (types, keys, array lengths, strings);
 *   - every number that is integral and in the int64 range became a Lua integer of the same value,
 *     every other number stayed the same float (NaN stays NaN): integers only where integral. */
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

/* 1 when the value at idx holds a number that is not finite */
static int has_nonfinite(lua_State *S, int idx, int depth)
{
	if (lua_type(S, idx) == LUA_TNUMBER)
		return !isfinite(lua_tonumber(S, idx));
	if (lua_type(S, idx) != LUA_TTABLE || depth > 1200)
		return 0;
	luaL_checkstack(S, 4, "fuzz_json walk");
	int found = 0;
	lua_pushnil(S);
	while (!found && lua_next(S, idx)) {
		found = has_nonfinite(S, lua_gettop(S), depth + 1);
		lua_pop(S, 1);
	}
	if (found)
		lua_pop(S, 1); /* the key */
	return found;
}

static void same_number(lua_State *S, int raw, int got)
{
	if (lua_isinteger(S, raw)) {
		/* cjson 2.1.0 gives floats only; if a build ever gives integers they must stay as they are */
		if (!lua_isinteger(S, got) || lua_tointeger(S, raw) != lua_tointeger(S, got))
			die("an integer changed");
		return;
	}
	double d = lua_tonumber(S, raw);
	int integral = isfinite(d) && floor(d) == d && d >= -9223372036854775808.0 && d < 9223372036854775808.0;
	if (integral) {
		if (!lua_isinteger(S, got))
			die("an integral number was not made an integer");
		if ((double)lua_tointeger(S, got) != d)
			die("an integer has another value than the number");
	} else {
		if (lua_isinteger(S, got))
			die("a non-integral number became an integer");
		double g = lua_tonumber(S, got);
		if (isnan(d) ? !isnan(g) : memcmp(&d, &g, sizeof d) != 0)
			die("a float changed");
	}
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
	if (lua_pcall(L, 1, 2, 0) != LUA_OK)
		die(lua_tostring(L, -1)); /* 2: value, nil | nil, message */

	if (raw_ok && has_nonfinite(L, 1, 0)) {
		if (!lua_isnil(L, 2) || lua_type(L, 3) != LUA_TSTRING)
			die("the bridge did not refuse a number that is not finite");
	} else if (raw_ok) {
		if (lua_isnil(L, 2) && !lua_isnil(L, 1))
			die("the bridge failed on text cjson accepts");
		same(L, 1, 2, 0);
	} else {
		if (!lua_isnil(L, 2) || lua_type(L, 3) != LUA_TSTRING)
			die("the bridge did not answer nil, message on text cjson rejects");
	}
	lua_settop(L, 0);
	/* free this input's garbage now: libFuzzer runs a leak check after every input whose mallocs
	 * and frees do not match, which a lazily collected heap would trigger on almost every input */
	lua_gc(L, LUA_GCCOLLECT, 0);
	return 0;
}
