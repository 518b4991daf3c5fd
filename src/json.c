/* json.c: decoding through a private lua-cjson instance, then one walk over the decoded value that
 *  - refuses numbers that are not finite (1e400 decodes to inf: no count can be that), and
 *  - on Lua 5.3+, turns integral floats into integers: lua-cjson 2.1.0 decodes every number as a float
 *    there, and the API's counts are int64 (exact below 2^53, which is what the decoder's strtod keeps).
 * LuaJIT has no integer subtype: there doubles are the numbers and the walk only checks them. */
#include "json.h"

#include <math.h>

#define MAX_DEPTH 1100 /* above cjson's default decode_max_depth of 1000 */

/* Check (and on 5.3+ convert) the number on top of the stack; 0 when it is not finite. */
static inline int number_on_top(lua_State *L, int convert)
{
	lua_Number d = lua_tonumber(L, -1);
	if (!isfinite(d))
		return 0;
#if USAGE_HAS_INTEGERS
	lua_Integer i;
	if (convert && !lua_isinteger(L, -1) && lua_numbertointeger(d, &i) && (lua_Number)i == d) {
		lua_pop(L, 1);
		lua_pushinteger(L, i);
	}
#else
	(void)convert;
#endif
	return 1;
}

/* -> 1, or 0 at the first number that is not finite (or a value nested deeper than MAX_DEPTH) */
static int walk(lua_State *L, int t, int depth, int convert)
{
	if (depth > MAX_DEPTH || !lua_checkstack(L, 4))
		return 0;
	size_t n = usage_rawlen(L, t);
	if (n > 0) { /* an array: keys 1..n only */
		for (size_t i = 1; i <= n; i++) {
			lua_rawgeti(L, t, (lua_Integer)i);
			int ty = lua_type(L, -1), ok = 1;
			if (ty == LUA_TNUMBER) {
				ok = number_on_top(L, convert);
				if (ok && convert) {
					lua_rawseti(L, t, (lua_Integer)i);
					continue;
				}
			} else if (ty == LUA_TTABLE) {
				ok = walk(L, lua_gettop(L), depth + 1, convert);
			}
			lua_pop(L, 1);
			if (!ok)
				return 0;
		}
		return 1;
	}
	lua_pushnil(L);
	while (lua_next(L, t)) {
		int ty = lua_type(L, -1), ok = 1;
		if (ty == LUA_TNUMBER) {
			ok = number_on_top(L, convert);
			if (ok && convert) {
				lua_pushvalue(L, -2);
				lua_insert(L, -2);
				lua_rawset(L, t); /* assigning to an existing field during traversal is allowed */
				continue;
			}
		} else if (ty == LUA_TTABLE) {
			ok = walk(L, lua_gettop(L), depth + 1, convert);
		}
		lua_pop(L, 1);
		if (!ok) {
			lua_pop(L, 1); /* the key */
			return 0;
		}
	}
	return 1;
}

int usage_json_check(lua_State *L, int idx, int convert)
{
	idx = usage_absindex(L, idx);
	if (lua_type(L, idx) == LUA_TNUMBER) {
		lua_pushvalue(L, idx);
		int ok = number_on_top(L, convert);
		lua_replace(L, idx);
		return ok;
	}
	if (lua_type(L, idx) == LUA_TTABLE)
		return walk(L, idx, 0, convert);
	return 1;
}

/* upvalues: the decode function, and whether it already gives integers */
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
	if (!usage_json_check(L, -1, !lua_toboolean(L, lua_upvalueindex(2)))) {
		lua_pushnil(L);
		lua_pushliteral(L, "a number is out of range (not finite)");
		return 2;
	}
	return 1;
}

/* core.json_decoder(decode [, gives_integers]) */
int usage_json_decoder(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TFUNCTION);
	lua_settop(L, 2);
	lua_pushboolean(L, lua_toboolean(L, 2));
	lua_replace(L, 2);
	lua_pushcclosure(L, decode_text, 2);
	return 1;
}
