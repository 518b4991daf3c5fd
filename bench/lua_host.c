/* bench/lua_host.c: a minimal Lua 5.4 host (lua5.4 SCRIPT ARGS... with `arg` set), linked against the static
 * liblua5.4.a so that callgrind names the interpreter's functions (luaV_execute, luaH_resize, ...): the
 * packaged lua5.4 is stripped. Built by bench/callgrind.lua; the C modules it loads (usage.core, cjson) are
 * not linked to liblua, so they bind to this copy of the interpreter. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s SCRIPT [ARGS...]\n", argv[0]);
		return 2;
	}
	lua_State *L = luaL_newstate();
	if (!L)
		return 1;
	luaL_openlibs(L);
	lua_createtable(L, argc, 1);
	for (int i = 0; i < argc; i++) {
		lua_pushstring(L, argv[i]);
		lua_rawseti(L, -2, i - 1); /* arg[0] is the script, as lua.c does */
	}
	lua_setglobal(L, "arg");
	int status = luaL_loadfile(L, argv[1]);
	if (status == LUA_OK) {
		for (int i = 2; i < argc; i++)
			lua_pushstring(L, argv[i]);
		status = lua_pcall(L, argc - 2, 0, 0);
	}
	if (status != LUA_OK)
		fprintf(stderr, "%s\n", lua_tostring(L, -1));
	lua_close(L);
	return status == LUA_OK ? 0 : 1;
}
