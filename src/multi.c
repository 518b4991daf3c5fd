/* multi.c: usage.core.multi. multi:add(session, request) starts a transfer, multi:perform(wait)
 * moves every transfer forward, waiting up to `wait` seconds for activity, and returns the sessions
 * whose transfers finished (their outcome is read with session:result()). The Lua scheduler uses it
 * as its only blocking point, for timers too. Every curl_multi_* call is checked: a failure is answered
 * nil, code, message (code "no_memory" or "transport"), never raised. */
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

CURLMcode usage_multi_detach(lua_State *L, usage_session *s)
{
	usage_multi *m = s->multi;
	if (!m)
		return CURLM_OK;
	CURLMcode mc = curl_multi_remove_handle(m->multi, s->easy);
	if (mc != CURLM_OK)
		s->broken = mc; /* the handle may still be the multi's: never reused (see http.h) */
	unlink_session(m, s);
	s->multi = NULL;
	luaL_unref(L, LUA_REGISTRYINDEX, s->ref);
	s->ref = LUA_NOREF;
	return mc;
}

/* core.multi() -> multi | nil, code, message */
int usage_multi_new(lua_State *L)
{
	usage_multi *m = lua_newuserdata(L, sizeof *m);
	memset(m, 0, sizeof *m);
	m->closed = 1;
	luaL_setmetatable(L, USAGE_MULTI_MT);
	m->multi = curl_multi_init();
	if (!m->multi) {
		lua_pushnil(L);
		lua_pushliteral(L, "no_memory");
		lua_pushliteral(L, "curl_multi_init failed");
		return 3;
	}
	m->closed = 0;
	return 1;
}

/* multi:close() -> true | nil, code, message (the handle is released either way; __gc ignores the answer) */
static int l_multi_close(lua_State *L)
{
	usage_multi *m = luaL_checkudata(L, 1, USAGE_MULTI_MT);
	CURLMcode first = CURLM_OK;
	const char *call = NULL;
	if (m->closed) {
		lua_pushboolean(L, 1);
		return 1;
	}
	while (m->sessions) {
		CURLMcode mc = usage_multi_detach(L, m->sessions);
		if (mc != CURLM_OK && first == CURLM_OK) {
			first = mc;
			call = "curl_multi_remove_handle";
		}
	}
	CURLMcode mc = curl_multi_cleanup(m->multi);
	if (mc != CURLM_OK && first == CURLM_OK) {
		first = mc;
		call = "curl_multi_cleanup";
	}
	m->multi = NULL;
	m->closed = 1;
	if (first != CURLM_OK)
		return usage_push_multi_failure(L, call, first);
	lua_pushboolean(L, 1);
	return 1;
}

/* multi:add(session, request) -> true | nil, code, message (libcurl refused the setup or the handle)
 *   | raises on bad arguments or a busy session */
static int l_multi_add(lua_State *L)
{
	usage_multi *m = check_multi(L, 1);
	usage_session *s = usage_check_session(L, 2);
	if (s->multi)
		return luaL_error(L, "session is already in a multi transfer");
	if (usage_session_refuse(L, s))
		return 3;
	if (!usage_session_prepare(L, s, 3))
		return usage_session_push_failure(L, s);
	s->done = 0;
	CURLMcode mc = curl_multi_add_handle(m->multi, s->easy);
	if (mc != CURLM_OK)
		return usage_push_multi_failure(L, "curl_multi_add_handle", mc);
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

/* multi:remove(session) -> true | nil, code, message: abandon its transfer (when libcurl cannot take the
 * handle back, the session is broken: see http.h) */
static int l_multi_remove(lua_State *L)
{
	usage_multi *m = check_multi(L, 1);
	usage_session *s = usage_check_session(L, 2);
	CURLMcode mc = CURLM_OK;
	if (s->multi == m)
		mc = usage_multi_detach(L, s);
	s->done = 0;
	if (mc != CURLM_OK)
		return usage_push_multi_failure(L, "curl_multi_remove_handle", mc);
	lua_pushboolean(L, 1);
	return 1;
}

/* the session of an easy handle: CURLINFO_PRIVATE, else (should libcurl not answer) a look through the list */
static usage_session *session_of(usage_multi *m, CURL *easy)
{
	usage_session *s = NULL;
	if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&s) == CURLE_OK && s && s->multi == m && s->easy == easy)
		return s;
	for (s = m->sessions; s; s = s->next)
		if (s->easy == easy)
			return s;
	return NULL;
}

/* Move finished transfers into the array at index t; returns how many. */
static int collect(lua_State *L, usage_multi *m, int t, int n)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(m->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		usage_session *s = session_of(m, msg->easy_handle);
		if (!s)
			continue;
		s->result = msg->data.result;
		s->done = 1;
		lua_rawgeti(L, LUA_REGISTRYINDEX, s->ref);
		lua_rawseti(L, t, ++n);
		usage_multi_detach(L, s);
	}
	return n;
}

/* multi:perform(wait_seconds) -> array of sessions whose transfers finished, transfers still running
 *   | nil, code, message (a curl_multi_* call failed: the transfers under way stay added; the caller
 *     abandons them with multi:remove and closes the multi).
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
		return usage_push_multi_failure(L, "curl_multi_perform", mc);
	n = collect(L, m, t, n);
	if (n == 0 && wait > 0) {
		int timeout_ms = (int)usage_to_bounded(wait * 1000 + 0.5, INT_MAX);
#if LIBCURL_VERSION_NUM >= 0x074200
		mc = curl_multi_poll(m->multi, NULL, 0, timeout_ms, NULL);
		if (mc != CURLM_OK)
			return usage_push_multi_failure(L, "curl_multi_poll", mc);
#else
		mc = curl_multi_wait(m->multi, NULL, 0, timeout_ms, NULL);
		if (mc != CURLM_OK)
			return usage_push_multi_failure(L, "curl_multi_wait", mc);
#endif
		mc = curl_multi_perform(m->multi, &running);
		if (mc != CURLM_OK)
			return usage_push_multi_failure(L, "curl_multi_perform", mc);
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
