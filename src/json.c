/* json.c: decoding through a private lua-cjson instance, then counts made Lua integers.
 * lua-cjson 2.1.0 decodes every number as a float under Lua 5.3+; the API's counts are int64, so
 * the bridge walks the decoded value once and converts integral floats (exact below 2^53, which is
 * what the decoder's strtod keeps). LuaJIT has no integer subtype: there doubles are the numbers. */
#include "json.h"

#define MAX_DEPTH 1100 /* above cjson's default decode_max_depth of 1000 */

#if USAGE_HAS_INTEGERS
/* Replace the number on top of the stack by an integer when it is an integral float. */
static inline void integer_on_top(lua_State *L)
{
	lua_Number d = lua_tonumber(L, -1);
	lua_Integer i;
	if (!lua_isinteger(L, -1) && lua_numbertointeger(d, &i) && (lua_Number)i == d) {
		lua_pop(L, 1);
		lua_pushinteger(L, i);
	}
}

static void walk(lua_State *L, int t, int depth)
{
	if (depth > MAX_DEPTH)
		luaL_error(L, "JSON value nested too deeply");
	luaL_checkstack(L, 4, "JSON value nested too deeply");
	size_t n = usage_rawlen(L, t);
	if (n > 0) { /* an array: keys 1..n only */
		for (size_t i = 1; i <= n; i++) {
			lua_rawgeti(L, t, (lua_Integer)i);
			int ty = lua_type(L, -1);
			if (ty == LUA_TNUMBER) {
				integer_on_top(L);
				lua_rawseti(L, t, (lua_Integer)i);
			} else {
				if (ty == LUA_TTABLE)
					walk(L, lua_gettop(L), depth + 1);
				lua_pop(L, 1);
			}
		}
		return;
	}
	lua_pushnil(L);
	while (lua_next(L, t)) {
		int ty = lua_type(L, -1);
		if (ty == LUA_TNUMBER) {
			integer_on_top(L);
			lua_pushvalue(L, -2);
			lua_insert(L, -2);
			lua_rawset(L, t); /* assigning to an existing field during traversal is allowed */
		} else {
			if (ty == LUA_TTABLE)
				walk(L, lua_gettop(L), depth + 1);
			lua_pop(L, 1);
		}
	}
}
#endif

void usage_json_integers(lua_State *L, int idx)
{
#if USAGE_HAS_INTEGERS
	idx = usage_absindex(L, idx);
	if (lua_type(L, idx) == LUA_TNUMBER) {
		lua_pushvalue(L, idx);
		integer_on_top(L);
		lua_replace(L, idx);
	} else if (lua_type(L, idx) == LUA_TTABLE) {
		walk(L, idx, 0);
	}
#else
	(void)L;
	(void)idx;
#endif
}

static int decode_text(lua_State *L)
{
	luaL_checkstring(L, 1);
	lua_settop(L, 1);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_pushvalue(L, 1);
	if (lua_pcall(L, 1, 1, 0) != 0) {
		lua_pushnil(L);
		lua_insert(L, -2);
		return 2; /* nil, cjson's message */
	}
	usage_json_integers(L, -1);
	return 1;
}

int usage_json_decoder(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TFUNCTION);
	lua_settop(L, 1);
	lua_pushcclosure(L, decode_text, 1);
	return 1;
}
