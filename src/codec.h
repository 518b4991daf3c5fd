/* codec.h: Lua bindings of parse.c (encoders and header parsers). */
#ifndef USAGE_CODEC_H
#define USAGE_CODEC_H

#include "compat.h"

extern const luaL_Reg usage_codec_functions[];

#endif
