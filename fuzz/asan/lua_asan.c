/* lua_asan: a minimal stand-in for the `lua5.4` / `luajit` command, built with the sanitizers so
 * that the ASan runtime is loaded first (no LD_PRELOAD, which would leak into every child process
 * the specs start: nginx, sh, mktemp...). It runs `script [args...]` the way lua.c does for busted:
 * global `arg` (arg[0] = script, arg[-1] = this program), the script's arguments as `...`, errors
 * with a traceback on stderr and exit status 1, and lua_close before exiting. Lua 5.4's lua.c
 * switches the collector to generational mode; so does this launcher, to keep the behaviour the
 * specs see.
 *
 * dlclose is a no-op in this process: C modules (usage.core, libcurl, OpenSSL, cjson...) stay
 * mapped until exit, so that LeakSanitizer, which checks at exit after lua_close has unloaded every
 * module, can still symbolize their frames (leaks in usage.core must be reported with file and line)
 * and libcurl's process-wide state stays reachable rather than showing up as lost. */
#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

int dlclose(void *handle);
int dlclose(void *handle)
{
	(void)handle;
	return 0;
}

static int traceback(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);
	if (!msg) {
		if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
			return 1;
		msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	}
	luaL_traceback(L, L, msg, 1);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s script [args...]\n", argv[0]);
		return 2;
	}
	lua_State *L = luaL_newstate();
	if (!L) {
		fprintf(stderr, "%s: cannot create a Lua state\n", argv[0]);
		return 1;
	}
	luaL_openlibs(L);
#if LUA_VERSION_NUM >= 504
	lua_gc(L, LUA_GCGEN, 0, 0);
#endif
	lua_createtable(L, argc - 2, 2);
	for (int i = 0; i < argc; i++) {
		lua_pushstring(L, argv[i]);
		lua_rawseti(L, -2, i - 1);
	}
	lua_setglobal(L, "arg");

	int status;
	lua_pushcfunction(L, traceback);
	int handler = lua_gettop(L);
	status = luaL_loadfile(L, argv[1]);
	if (status == 0) {
		luaL_checkstack(L, argc, "too many arguments");
		for (int i = 2; i < argc; i++)
			lua_pushstring(L, argv[i]);
		status = lua_pcall(L, argc - 2, 0, handler);
	}
	if (status != 0) {
		const char *msg = lua_tostring(L, -1);
		fprintf(stderr, "%s: %s\n", argv[0], msg ? msg : "(error object is not a string)");
		fflush(stderr);
	}
	lua_close(L);
	return status == 0 ? 0 : 1;
}
