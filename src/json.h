/* json.h: the JSON bridge over lua-cjson. */
#ifndef USAGE_JSON_H
#define USAGE_JSON_H

#include "compat.h"

/* core.json_decoder(decode [, gives_integers]) -> a function(text [, max_values]) returning the decoded
 * value, or nil, message [, kind]: kind "limit" when the text holds more than max_values JSON values
 * (checked before decoding), "range" for a number this runtime cannot hold exactly (not finite; beyond
 * int64, or above 2^53 on LuaJIT; above 2^53 with a fraction or exponent); no kind when cjson refused the
 * text. On Lua 5.3+ every integral number becomes an integer, exact to int64 (json.c says how). */
int usage_json_decoder(lua_State *L);
/* Check the value at idx (recursively): 0 when it holds a number that is not finite; with convert, turn
 * integral floats into integers on Lua 5.3+. */
int usage_json_check(lua_State *L, int idx, int convert);

#endif
