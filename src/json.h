/* json.h: the JSON bridge over lua-cjson. */
#ifndef USAGE_JSON_H
#define USAGE_JSON_H

#include "compat.h"

/* core.json_decoder(decode [, gives_integers]) -> a function(text) returning the decoded value, or nil,
 * message; numbers that are not finite are refused, and on Lua 5.3+ (unless the decoder already gives
 * integers) every integral number becomes an integer. */
int usage_json_decoder(lua_State *L);
/* Check the value at idx (recursively): 0 when it holds a number that is not finite; with convert, turn
 * integral floats into integers on Lua 5.3+. */
int usage_json_check(lua_State *L, int idx, int convert);

#endif
