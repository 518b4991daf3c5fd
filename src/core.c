/* core.c: luaopen_usage_core, the module table of usage.core, libcurl's one-time global init,
 * and the clocks. */
#include "codec.h"
#include "files.h"
#include "http.h"
#include "json.h"
#include "multi.h"
#include "signals.h"
#include "url.h"

#include <pthread.h>
#include <unistd.h>
#include <time.h>

#define USAGE_CORE_VERSION "0.2.0"

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_OK;

/* Once per process, whatever the number of Lua states or nginx pool threads loading the module.
 * libcurl is never globally cleaned up: other code in the process may still use it. */
static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_ALL);
}

static int l_now(lua_State *L)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
	return 1;
}

static int l_time(lua_State *L)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
	return 1;
}

/* core.isatty(fd) -> whether the file descriptor (0, 1, 2) is a terminal */
static int l_isatty(lua_State *L)
{
	lua_Integer fd = luaL_checkinteger(L, 1);
	luaL_argcheck(L, fd >= 0 && fd <= 1024, 1, "not a file descriptor");
	lua_pushboolean(L, isatty((int)fd) == 1);
	return 1;
}

static void push_features(lua_State *L)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
	lua_newtable(L);
	lua_pushstring(L, v->version);
	lua_setfield(L, -2, "curl");
	lua_pushstring(L, v->ssl_version ? v->ssl_version : "");
	lua_setfield(L, -2, "ssl");
	lua_pushboolean(L, (v->features & CURL_VERSION_HTTP2) != 0);
	lua_setfield(L, -2, "http2");
	lua_pushboolean(L, (v->features & CURL_VERSION_LIBZ) != 0);
	lua_setfield(L, -2, "gzip");
	lua_pushboolean(L, USAGE_HAS_INTEGERS);
	lua_setfield(L, -2, "integers");
}

USAGE_EXPORT int luaopen_usage_core(lua_State *L)
{
	static const luaL_Reg functions[] = {
		{"session", usage_session_new},
		{"multi", usage_multi_new},
		{"json_decoder", usage_json_decoder},
		{"now", l_now},
		{"time", l_time},
		{"isatty", l_isatty},
		{NULL, NULL},
	};
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return luaL_error(L, "curl_global_init failed: %s", curl_easy_strerror(global_rc));
	usage_session_register(L);
	usage_multi_register(L);
	usage_file_register(L);
	luaL_newlib(L, functions);
	luaL_setfuncs(L, usage_codec_functions, 0);
	luaL_setfuncs(L, usage_url_functions, 0);
	luaL_setfuncs(L, usage_signal_functions, 0);
	luaL_setfuncs(L, usage_file_functions, 0);
	push_features(L);
	lua_setfield(L, -2, "features");
	lua_pushliteral(L, USAGE_CORE_VERSION);
	lua_setfield(L, -2, "_VERSION");
	return 1;
}
