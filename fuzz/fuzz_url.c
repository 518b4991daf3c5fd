/* fuzz_url: core.parse_url and core.resolve_url (src/url.c, libcurl's URL API) in a Lua 5.4 state.
 * The first input byte picks the call: parse_url(text), parse_url(text, true) (proxies), or
 * resolve_url(base, reference) with the text split at its first newline. Checks:
 *   - neither raises: a table, or nil plus a string;
 *   - a parsed URL's fields are strings (port an integer in 0..65535, loopback a boolean);
 *   - parsing the normalized url again gives the same loopback verdict, and for a loopback URL the same
 *     origin (libcurl's own normalization is not idempotent for every malformed host, e.g. a stray "%" in
 *     a proxy's host, but a verdict that lets plain http through must be);
 *   - a resolved URL parses, as http or https. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <curl/curl.h>

#include "../src/url.h"

static lua_State *L;

static void die(const char *why)
{
	fprintf(stderr, "fuzz_url: %s\n", why);
	abort();
}

static void init(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	L = luaL_newstate();
	if (!L)
		die("luaL_newstate");
	luaL_openlibs(L);
	lua_newtable(L);
	luaL_setfuncs(L, usage_url_functions, 0);
	lua_setglobal(L, "core");
}

/* call core.<fn> with nargs values on the stack above it; leaves 2 results; dies if it raised */
static void call(const char *fn, int nargs)
{
	lua_getglobal(L, "core");
	lua_getfield(L, -1, fn);
	lua_remove(L, -2);
	lua_insert(L, -(nargs + 1));
	if (lua_pcall(L, nargs, 2, 0) != LUA_OK)
		die(lua_tostring(L, -1));
}

static const char *field(int t, const char *key)
{
	lua_getfield(L, t, key);
	const char *v = NULL;
	if (!lua_isnil(L, -1)) {
		if (lua_type(L, -1) != LUA_TSTRING)
			die("a field is not a string");
		v = lua_tostring(L, -1);
	}
	lua_pop(L, 1);
	return v;
}

/* the parse result at top-2 (value) top-1 (message) */
static void check_parse(int any_scheme)
{
	int v = lua_gettop(L) - 1;
	if (lua_isnil(L, v)) {
		if (lua_type(L, v + 1) != LUA_TSTRING)
			die("nil without a message");
		return;
	}
	if (!lua_istable(L, v))
		die("parse_url gave neither a table nor nil");
	const char *url = field(v, "url");
	const char *origin = field(v, "origin");
	field(v, "host");
	field(v, "path");
	lua_getfield(L, v, "port");
	if (!lua_isnil(L, -1) && (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0 || lua_tointeger(L, -1) > 65535))
		die("bad port");
	lua_pop(L, 1);
	lua_getfield(L, v, "loopback");
	if (!lua_isboolean(L, -1))
		die("loopback is not a boolean");
	int loopback = lua_toboolean(L, -1);
	lua_pop(L, 1);
	if (!url)
		die("no normalized url");
	/* the normalized form parses again to itself */
	lua_pushstring(L, url);
	lua_pushboolean(L, any_scheme);
	call("parse_url", 2);
	int w = lua_gettop(L) - 1;
	if (!lua_istable(L, w))
		die("the normalized url does not parse");
	const char *url2 = field(w, "url");
	const char *origin2 = field(w, "origin");
	lua_getfield(L, w, "loopback");
	int loopback2 = lua_toboolean(L, -1);
	lua_pop(L, 1);
	if (!url2)
		die("the normalized url has no url");
	if (loopback != loopback2)
		die("the loopback verdict changed");
	if (loopback && ((origin == NULL) != (origin2 == NULL) || (origin && strcmp(origin, origin2) != 0)))
		die("the origin of a loopback URL changed");
	lua_pop(L, 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!L)
		init();
	if (size < 1)
		return 0;
	int mode = data[0] % 3;
	const char *text = (const char *)data + 1;
	size_t n = size - 1;
	lua_settop(L, 0);
	if (mode < 2) {
		lua_pushlstring(L, text, n);
		lua_pushboolean(L, mode == 1);
		call("parse_url", 2);
		check_parse(mode == 1);
	} else {
		const char *nl = memchr(text, '\n', n);
		size_t a = nl ? (size_t)(nl - text) : n;
		lua_pushlstring(L, text, a);
		lua_pushlstring(L, nl ? nl + 1 : "", nl ? n - a - 1 : 0);
		call("resolve_url", 2);
		if (lua_isstring(L, 1) && !lua_isnil(L, 1)) {
			lua_pushvalue(L, 1);
			call("parse_url", 1);
			if (!lua_istable(L, -2))
				die("a resolved URL does not parse");
		} else if (lua_type(L, 2) != LUA_TSTRING) {
			die("nil without a message");
		}
	}
	lua_settop(L, 0);
	lua_gc(L, LUA_GCCOLLECT, 0);
	return 0;
}
