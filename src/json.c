/* json.c: decoding through a private lua-cjson instance, with a pass over the text before (jscan.c) and a
 * walk over the decoded value after. Every number the server sends is a count (int64 in the API); the
 * bridge returns it only if this runtime holds it exactly:
 *  - Lua 5.3+: integers. lua-cjson 2.1.0 decodes every number with strtod (9007199254740993 comes back
 *    as 9007199254740992), so integer literals of 16+ digits are taken from the raw text instead: the text
 *    is rewritten with each one as a string made of a control character no string of the text holds and
 *    the literal, and the walk turns those strings into exact integers. Other integral numbers become
 *    integers too (exact: below 2^53).
 *  - LuaJIT (doubles): integers up to 2^53.
 * Refused (nil, message, "range"): a number that is not finite (1e400), an integer literal beyond int64
 * (or, on LuaJIT, above 2^53), and a number above 2^53 written with a fraction or an exponent (1e17: not
 * an exact count). A number with a fraction or an exponent is read as the nearest double, as every JSON
 * reader does. An optional limit on the number of JSON values is checked on the text, before
 * anything is decoded (nil, message, "limit"). */
#include "json.h"
#include "jscan.h"

#include <math.h>
#include <string.h>

#define MAX_DEPTH 1100 /* above cjson's default decode_max_depth of 1000 */
#define TWO53 9007199254740992.0

enum { OK = 0, NOT_FINITE, INEXACT };

/* Check (and on 5.3+ convert) the number on top of the stack. */
static inline int number_on_top(lua_State *L, int convert)
{
#if USAGE_HAS_INTEGERS
	if (lua_isinteger(L, -1))
		return OK;
#endif
	lua_Number d = lua_tonumber(L, -1);
	if (!isfinite(d))
		return NOT_FINITE;
	if (d > TWO53 || d < -TWO53)
		return INEXACT;
#if USAGE_HAS_INTEGERS
	if (convert && d == floor(d)) {
		lua_pop(L, 1);
		lua_pushinteger(L, (lua_Integer)d);
	}
#else
	(void)convert;
#endif
	return OK;
}

/* The string on top made by usage_json_mark_longs (mark, then the literal) -> its exact integer on top;
 * 0 when the string is not one (left as it is). */
static int marked_on_top(lua_State *L, int mark)
{
#if USAGE_HAS_INTEGERS
	size_t n;
	const char *s = lua_tolstring(L, -1, &n);
	if (mark < 0 || n < 2 || (unsigned char)s[0] != (unsigned)mark)
		return 0;
	size_t i = 1;
	int negative = s[i] == '-';
	if (negative)
		i++;
	unsigned long long u = 0;
	for (; i < n; i++)
		u = u * 10 + (unsigned)(s[i] - '0'); /* digits only, within int64: checked by the scan */
	lua_Integer v = negative ? (lua_Integer)(-(long long)(u - 1) - 1) : (lua_Integer)u;
	lua_pop(L, 1);
	lua_pushinteger(L, v);
	return 1;
#else
	(void)L;
	(void)mark;
	return 0;
#endif
}

typedef struct {
	int convert; /* turn integral floats into integers (5.3+ with a cjson that gives floats) */
	int mark;    /* the control character of marked long literals, or -1 */
	int why;     /* NOT_FINITE or INEXACT at a failure */
} walk_state;

/* -> 1, or 0 at the first refused number (or a value nested deeper than MAX_DEPTH) */
static int walk(lua_State *L, int t, int depth, walk_state *w)
{
	if (depth > MAX_DEPTH || !lua_checkstack(L, 4))
		return 0;
	size_t n = usage_rawlen(L, t);
	if (n > 0) { /* an array: keys 1..n only */
		for (size_t i = 1; i <= n; i++) {
			lua_rawgeti(L, t, (lua_Integer)i);
			int ty = lua_type(L, -1), ok = 1;
			if (ty == LUA_TNUMBER) {
				int r = number_on_top(L, w->convert);
				ok = r == OK;
				if (!ok)
					w->why = r;
				else if (w->convert) {
					lua_rawseti(L, t, (lua_Integer)i);
					continue;
				}
			} else if (ty == LUA_TSTRING && w->mark >= 0) {
				if (marked_on_top(L, w->mark)) {
					lua_rawseti(L, t, (lua_Integer)i);
					continue;
				}
			} else if (ty == LUA_TTABLE) {
				ok = walk(L, lua_gettop(L), depth + 1, w);
			}
			lua_pop(L, 1);
			if (!ok)
				return 0;
		}
		return 1;
	}
	lua_pushnil(L);
	while (lua_next(L, t)) {
		int ty = lua_type(L, -1), ok = 1, set = 0;
		if (ty == LUA_TNUMBER) {
			int r = number_on_top(L, w->convert);
			ok = r == OK;
			if (!ok)
				w->why = r;
			set = ok && w->convert;
		} else if (ty == LUA_TSTRING && w->mark >= 0) {
			set = marked_on_top(L, w->mark);
		} else if (ty == LUA_TTABLE) {
			ok = walk(L, lua_gettop(L), depth + 1, w);
		}
		if (set) {
			lua_pushvalue(L, -2);
			lua_insert(L, -2);
			lua_rawset(L, t); /* assigning to an existing field during traversal is allowed */
			continue;
		}
		lua_pop(L, 1);
		if (!ok) {
			lua_pop(L, 1); /* the key */
			return 0;
		}
	}
	return 1;
}

static int check_value(lua_State *L, int idx, walk_state *w)
{
	idx = usage_absindex(L, idx);
	if (lua_type(L, idx) == LUA_TNUMBER) {
		lua_pushvalue(L, idx);
		int r = number_on_top(L, w->convert);
		lua_replace(L, idx);
		w->why = r;
		return r == OK;
	}
	if (lua_type(L, idx) == LUA_TSTRING && w->mark >= 0) {
		lua_pushvalue(L, idx);
		marked_on_top(L, w->mark);
		lua_replace(L, idx);
		return 1;
	}
	if (lua_type(L, idx) == LUA_TTABLE)
		return walk(L, idx, 0, w);
	return 1;
}

int usage_json_check(lua_State *L, int idx, int convert)
{
	walk_state w = {convert, -1, OK};
	return check_value(L, idx, &w);
}

static int refuse(lua_State *L, const char *message, const char *kind)
{
	lua_pushnil(L);
	lua_pushstring(L, message);
	lua_pushstring(L, kind);
	return 3;
}

/* decode(text [, max_values]) -> value | nil, message [, "range" | "limit"]
 * upvalues: the decode function, and whether it already gives integers */
static int decode_text(lua_State *L)
{
	size_t n;
	const char *text = luaL_checklstring(L, 1, &n);
	lua_Number max = luaL_optnumber(L, 2, 0);
	if (!(max >= 0))
		return luaL_argerror(L, 2, "a limit of values must be 0 (none) or more");
	size_t max_values = max >= 1e15 ? 0 : (size_t)max;
	lua_settop(L, 1);
	usage_jscan scan;
	if (!usage_json_scan(text, n, max_values, &scan)) {
		lua_pushnil(L);
		lua_pushfstring(L, "more than %d JSON values", (int)(max_values > 0x7fffffff ? 0x7fffffff : max_values));
		lua_pushliteral(L, "limit");
		return 3;
	}
	walk_state w = {!lua_toboolean(L, lua_upvalueindex(2)), -1, OK};
	lua_pushvalue(L, lua_upvalueindex(1));
	if (scan.longs > 0) {
#if USAGE_HAS_INTEGERS
		if (scan.over64 > 0)
			return refuse(L, "a number out of range (an integer beyond int64)", "range");
		w.mark = usage_json_free_control(&scan);
		if (w.mark < 0)
			return refuse(L, "a number out of range (an integer above 2^53 that this answer's strings leave no "
			                 "way to read exactly)", "range");
		/* the copy lives in a userdata: collected even if pushing the string raises */
		char *out = lua_newuserdata(L, n + 8 * scan.longs);
		size_t len = usage_json_mark_longs(text, n, w.mark, out);
		lua_pushlstring(L, out, len);
		lua_remove(L, -2);
#else
		if (scan.over53 > 0)
			return refuse(L, "a number out of range (an integer above 2^53: LuaJIT's numbers are doubles, which "
			                 "cannot hold it exactly)", "range");
		lua_pushvalue(L, 1);
#endif
	} else {
		lua_pushvalue(L, 1);
	}
	if (lua_pcall(L, 1, 1, 0) != 0) {
		lua_pushnil(L);
		lua_insert(L, -2);
		return 2; /* nil, cjson's message */
	}
	if (!check_value(L, -1, &w)) {
		if (w.why == OK)
			return refuse(L, "a value nested too deeply", "range");
		if (w.why == INEXACT)
			return refuse(L, "a number out of range (above 2^53, written with a fraction or an exponent: not an "
			                 "exact count)", "range");
		return refuse(L, "a number out of range (not finite)", "range");
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
