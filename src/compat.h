/* compat.h: the differences between the Lua C APIs the core builds against (Lua 5.1, 5.2, 5.3, 5.4 and
 * LuaJIT 2.1), decided by what the headers really provide, never by the version number alone:
 *   - LUA_VERSION_NUM: 501 for PUC Lua 5.1 and for LuaJIT alike;
 *   - LuaJIT: LUAJIT_VERSION (luajit.h, beside its lua.h), and its lauxlib.h defines luaL_newlib (LuaJIT 2.1
 *     has the 5.2 auxiliary functions luaL_setfuncs, luaL_setmetatable, luaL_testudata; PUC 5.1 has none);
 *   - an integer subtype (math.type, lua_isinteger): 5.3 and later. Lua 5.1, 5.2 and LuaJIT have only
 *     doubles as numbers: counts are exact below 2^53 there.
 * Everything else in src/ is written once against the common subset, with the names below. */
#ifndef USAGE_COMPAT_H
#define USAGE_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM == 501 && defined(__has_include)
#  if __has_include(<luajit.h>)
#    include <luajit.h> /* LUAJIT_VERSION, only when LuaJIT's headers are the ones on the path */
#  endif
#endif

#if !defined(LUA_VERSION_NUM) || LUA_VERSION_NUM < 501 || LUA_VERSION_NUM > 504
#  error "usage.core builds against Lua 5.1, 5.2, 5.3, 5.4 or LuaJIT 2.1"
#endif

/* ---------- 5.2 auxiliary functions missing from PUC Lua 5.1 (LuaJIT 2.1 has them) ---------- */

#if LUA_VERSION_NUM == 501 && !defined(luaL_newlib)
#  define USAGE_COMPAT_AUX52 1
static inline void usage_compat_setfuncs(lua_State *L, const luaL_Reg *l, int nup)
{
	luaL_checkstack(L, nup + 1, "too many upvalues");
	for (; l->name; l++) {
		for (int i = 0; i < nup; i++)
			lua_pushvalue(L, -nup);
		lua_pushcclosure(L, l->func, nup);
		lua_setfield(L, -(nup + 2), l->name);
	}
	lua_pop(L, nup);
}
#  define luaL_setfuncs(L, l, nup) usage_compat_setfuncs((L), (l), (nup))
#  define luaL_newlibtable(L, l) lua_createtable((L), 0, (int)(sizeof(l) / sizeof((l)[0]) - 1))
#  define luaL_newlib(L, l) (luaL_newlibtable((L), (l)), luaL_setfuncs((L), (l), 0))

static inline void usage_compat_setmetatable(lua_State *L, const char *tname)
{
	luaL_getmetatable(L, tname);
	lua_setmetatable(L, -2);
}
#  define luaL_setmetatable(L, t) usage_compat_setmetatable((L), (t))

static inline void *usage_compat_testudata(lua_State *L, int ud, const char *tname)
{
	void *p = lua_touserdata(L, ud);
	if (!p || !lua_getmetatable(L, ud))
		return NULL;
	luaL_getmetatable(L, tname);
	int same = lua_rawequal(L, -1, -2);
	lua_pop(L, 2);
	return same ? p : NULL;
}
#  define luaL_testudata(L, ud, t) usage_compat_testudata((L), (ud), (t))
#else
#  define USAGE_COMPAT_AUX52 0
#endif

/* ---------- lengths and indices: lua_objlen and no lua_absindex before 5.2 ---------- */

#if LUA_VERSION_NUM == 501
#  define usage_rawlen(L, i) lua_objlen((L), (i))
static inline int usage_absindex(lua_State *L, int i)
{
	return (i > 0 || i <= LUA_REGISTRYINDEX) ? i : lua_gettop(L) + i + 1;
}
#else
#  define usage_rawlen(L, i) lua_rawlen((L), (i))
#  define usage_absindex(L, i) lua_absindex((L), (i))
#endif

/* ---------- numbers: an integer subtype from 5.3 on ---------- */

#if LUA_VERSION_NUM >= 503
#  define USAGE_HAS_INTEGERS 1
#else
#  define USAGE_HAS_INTEGERS 0
#endif

/* ---------- buffers: luaL_prepbuffsize from 5.2 on; before, luaL_prepbuffer's LUAL_BUFFERSIZE bytes ----------
 * usage_prepbuffsize(B, n) gives room for n bytes; n must be at most USAGE_PREPBUFF_MAX (a compile-time
 * constant: every caller sizes its chunks by it). LUAL_BUFFERSIZE is small on some builds (512 on a 32-bit
 * Lua 5.4): never assume what luaL_prepbuffer alone guarantees. */
#if LUA_VERSION_NUM >= 502
#  define usage_prepbuffsize(B, n) luaL_prepbuffsize((B), (n))
#  define USAGE_PREPBUFF_MAX ((size_t)16384)
#else
#  define usage_prepbuffsize(B, n) ((void)(n), luaL_prepbuffer(B))
#  define USAGE_PREPBUFF_MAX ((size_t)(LUAL_BUFFERSIZE))
#endif

#if defined(__GNUC__)
#  define USAGE_EXPORT __attribute__((visibility("default")))
#else
#  define USAGE_EXPORT
#endif

/* Push an exact count: an integer on 5.3+, a double (exact below 2^53) on 5.1, 5.2 and LuaJIT. */
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
