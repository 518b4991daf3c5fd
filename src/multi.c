/* multi.c: usage.core.multi. multi:add(session, request) starts a transfer, multi:perform(wait)
 * moves every transfer forward, waiting up to `wait` seconds for activity, and returns the sessions
 * whose transfers finished (their outcome is read with session:result()). The Lua scheduler uses it
 * as its only blocking point, for timers too. */
#include "multi.h"

#include <string.h>

static usage_multi *check_multi(lua_State *L, int idx)
{
	usage_multi *m = luaL_checkudata(L, idx, USAGE_MULTI_MT);
	if (m->closed)
		luaL_argerror(L, idx, "multi is closed");
	return m;
}

static void unlink_session(usage_multi *m, usage_session *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		m->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
	m->count--;
}

void usage_multi_detach(lua_State *L, usage_session *s)
{
	usage_multi *m = s->multi;
	if (!m)
		return;
	curl_multi_remove_handle(m->multi, s->easy);
	unlink_session(m, s);
	s->multi = NULL;
	luaL_unref(L, LUA_REGISTRYINDEX, s->ref);
	s->ref = LUA_NOREF;
}

int usage_multi_new(lua_State *L)
{
	usage_multi *m = lua_newuserdata(L, sizeof *m);
	memset(m, 0, sizeof *m);
	m->closed = 1;
	luaL_setmetatable(L, USAGE_MULTI_MT);
	m->multi = curl_multi_init();
	if (!m->multi)
		return luaL_error(L, "curl_multi_init failed");
	m->closed = 0;
	return 1;
}

static int l_multi_close(lua_State *L)
{
	usage_multi *m = luaL_checkudata(L, 1, USAGE_MULTI_MT);
	if (m->closed)
		return 0;
	while (m->sessions)
		usage_multi_detach(L, m->sessions);
	curl_multi_cleanup(m->multi);
	m->multi = NULL;
	m->closed = 1;
	return 0;
}

/* multi:add(session, request) -> true | raises on bad arguments or a busy session */
static int l_multi_add(lua_State *L)
{
	usage_multi *m = check_multi(L, 1);
	usage_session *s = usage_check_session(L, 2);
	if (s->multi)
		return luaL_error(L, "session is already in a multi transfer");
	usage_session_prepare(L, s, 3);
	s->done = 0;
	CURLMcode mc = curl_multi_add_handle(m->multi, s->easy);
	if (mc != CURLM_OK)
		return luaL_error(L, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
	lua_pushvalue(L, 2);
	s->ref = luaL_ref(L, LUA_REGISTRYINDEX);
	s->multi = m;
	s->next = m->sessions;
	s->prev = NULL;
	if (m->sessions)
		m->sessions->prev = s;
	m->sessions = s;
	m->count++;
	lua_pushboolean(L, 1);
	return 1;
}

/* multi:remove(session): abandon its transfer */
static int l_multi_remove(lua_State *L)
{
	usage_multi *m = check_multi(L, 1);
	usage_session *s = usage_check_session(L, 2);
	if (s->multi == m)
		usage_multi_detach(L, s);
	s->done = 0;
	return 0;
}

/* Move finished transfers into the array at index t; returns how many. */
static int collect(lua_State *L, usage_multi *m, int t, int n)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(m->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		usage_session *s = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
		if (!s || s->multi != m)
			continue;
		s->result = msg->data.result;
		s->done = 1;
		lua_rawgeti(L, LUA_REGISTRYINDEX, s->ref);
		lua_rawseti(L, t, ++n);
		usage_multi_detach(L, s);
	}
	return n;
}

/* multi:perform(wait_seconds) -> array of sessions whose transfers finished, transfers still running.
 * Waits up to wait_seconds (0: do not wait) when nothing finished yet; with no transfer at all it
 * simply sleeps that long, which makes it the scheduler's timer too. */
static int l_multi_perform(lua_State *L)
{
	usage_multi *m = check_multi(L, 1);
	double wait = luaL_optnumber(L, 2, 0);
	int running = 0, n = 0;
	CURLMcode mc;
	if (!(wait >= 0))
		wait = 0;
	if (wait > 86400)
		wait = 86400;
	lua_newtable(L);
	int t = lua_gettop(L);
	mc = curl_multi_perform(m->multi, &running);
	if (mc != CURLM_OK)
		return luaL_error(L, "curl_multi_perform: %s", curl_multi_strerror(mc));
	n = collect(L, m, t, n);
	if (n == 0 && wait > 0) {
		int timeout_ms = (int)(wait * 1000 + 0.5);
#if LIBCURL_VERSION_NUM >= 0x074200
		mc = curl_multi_poll(m->multi, NULL, 0, timeout_ms, NULL);
#else
		mc = curl_multi_wait(m->multi, NULL, 0, timeout_ms, NULL);
#endif
		if (mc != CURLM_OK)
			return luaL_error(L, "curl_multi_poll: %s", curl_multi_strerror(mc));
		mc = curl_multi_perform(m->multi, &running);
		if (mc != CURLM_OK)
			return luaL_error(L, "curl_multi_perform: %s", curl_multi_strerror(mc));
		n = collect(L, m, t, n);
	}
	lua_pushinteger(L, m->count);
	return 2;
}

static int l_multi_count(lua_State *L)
{
	usage_multi *m = luaL_checkudata(L, 1, USAGE_MULTI_MT);
	lua_pushinteger(L, m->closed ? 0 : m->count);
	return 1;
}

static int l_multi_tostring(lua_State *L)
{
	usage_multi *m = luaL_checkudata(L, 1, USAGE_MULTI_MT);
	lua_pushfstring(L, "usage.core.multi (%s%p)", m->closed ? "closed, " : "", (void *)m);
	return 1;
}

void usage_multi_register(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{"add", l_multi_add},
		{"remove", l_multi_remove},
		{"perform", l_multi_perform},
		{"count", l_multi_count},
		{"close", l_multi_close},
		{"__gc", l_multi_close},
#if LUA_VERSION_NUM >= 504
		{"__close", l_multi_close},
#endif
		{"__tostring", l_multi_tostring},
		{NULL, NULL},
	};
	usage_newclass(L, USAGE_MULTI_MT, methods);
}
