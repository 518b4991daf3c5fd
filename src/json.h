/* json.h: the JSON bridge over lua-cjson. */
#ifndef USAGE_JSON_H
#define USAGE_JSON_H

#include "compat.h"

/* core.json_decoder(decode) -> a function(text) returning the decoded value, or nil, message;
 * on Lua 5.3+ every integral number in it becomes an integer. */
int usage_json_decoder(lua_State *L);
/* Turn integral floats of the value at idx (recursively) into integers; no-op on LuaJIT. */
void usage_json_integers(lua_State *L, int idx);

#endif
