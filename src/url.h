/* url.h: URLs parsed by libcurl's own URL API (curl_url), so that what the Lua side checks is exactly
 * what libcurl will connect to. */
#ifndef USAGE_URL_H
#define USAGE_URL_H

#include "compat.h"

extern const luaL_Reg usage_url_functions[];

/* 1 when host (as curl_url gives it: "localhost", "127.0.0.1", "[::1]") is a loopback address. */
int usage_is_loopback(const char *host);

#endif
