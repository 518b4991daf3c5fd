/* compat.h: the few differences between Lua 5.4 and LuaJIT 2.1 (Lua 5.1 API) that the core uses.
 * Everything else in src/ is written once against the common subset. */
#ifndef USAGE_COMPAT_H
#define USAGE_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM == 501
/* LuaJIT 2.1 already provides luaL_setfuncs, luaL_newlib, luaL_testudata, luaL_setmetatable. */
#  define usage_rawlen(L, i) lua_objlen((L), (i))
#  define USAGE_HAS_INTEGERS 0
static inline int usage_absindex(lua_State *L, int i)
{
	return (i > 0 || i <= LUA_REGISTRYINDEX) ? i : lua_gettop(L) + i + 1;
}
#elif LUA_VERSION_NUM >= 503
#  define usage_rawlen(L, i) lua_rawlen((L), (i))
#  define usage_absindex(L, i) lua_absindex((L), (i))
#  define USAGE_HAS_INTEGERS 1
#else
#  error "usage.core needs Lua 5.3+ or LuaJIT 2.1"
#endif

#if defined(__GNUC__)
#  define USAGE_EXPORT __attribute__((visibility("default")))
#else
#  define USAGE_EXPORT
#endif

/* Push an exact count: an integer on 5.3+, a double (exact below 2^53) on LuaJIT. */
static inline void usage_pushcount(lua_State *L, long long v)
{
#if USAGE_HAS_INTEGERS
	lua_pushinteger(L, (lua_Integer)v);
#else
	lua_pushnumber(L, (lua_Number)v);
#endif
}

/* Register the methods of a userdata type: metatable `name` with __index = itself. */
static inline void usage_newclass(lua_State *L, const char *name, const luaL_Reg *methods)
{
	if (luaL_newmetatable(L, name)) {
		luaL_setfuncs(L, methods, 0);
		lua_pushvalue(L, -1);
		lua_setfield(L, -2, "__index");
		lua_pushstring(L, name);
		lua_setfield(L, -2, "__name");
	}
	lua_pop(L, 1);
}

#endif
