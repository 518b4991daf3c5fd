-- The development rockspec. genesys-usage-<version>-1.rockspec is written from this one by
-- `make rockspec` (tools/gen_rockspec.lua): edit this file, then run it.
rockspec_format = "3.0"
package = "genesys-usage"
version = "scm-1"
source = {
  url = "git+https://github.com/lua-genesys-usage/lua-genesys-usage.git",
}
description = {
  summary = "Genesys Cloud Usage API client: libcurl + lua-cjson core, polling and paging as coroutines",
  detailed = [[
A client for the Genesys Cloud Usage API for Lua 5.1 to 5.4, LuaJIT and OpenResty (the Lua module `usage`).
The 11 operations, OAuth client credentials with token reuse and re-login, retries that honour
Retry-After, submit-then-poll and cursor paging as one call or a row iterator, concurrent queries on
one libcurl multi handle, a client-side rate limit, and the genesys-usage command line (installed as
genesys-usage for Lua 5.1 to 5.4 and genesys-usage-luajit for LuaJIT, the 5.4 and LuaJIT builds side by
side in one tree).
]],
  homepage = "https://github.com/lua-genesys-usage/lua-genesys-usage",
  license = "MIT",
  labels = { "genesys", "http", "curl", "openresty" },
}
dependencies = {
  "lua >= 5.1, <= 5.4",
  "lua-cjson >= 2.1.0",
  "argparse >= 0.7",
}
external_dependencies = {
  CURL = { library = "curl" },
}
build = {
  -- rock.mk: usage.core from src/*.c, every lua/**.lua, and a command named for the interpreter
  type = "make",
  makefile = "rock.mk",
  build_variables = {
    CC = "$(CC)", CFLAGS = "$(CFLAGS)", LIBFLAG = "$(LIBFLAG)", LUA_INCDIR = "$(LUA_INCDIR)",
    CURL_INCDIR = "$(CURL_INCDIR)", CURL_LIBDIR = "$(CURL_LIBDIR)",
  },
  install_variables = {
    PREFIX = "$(PREFIX)", LUADIR = "$(LUADIR)", LIBDIR = "$(LIBDIR)", BINDIR = "$(BINDIR)",
    ROCKS_TREE = "$(ROCKS_TREE)", LUA = "$(LUA)", LUA_BINDIR = "$(LUA_BINDIR)",
  },
  copy_directories = { "docs", "examples" },
}
deploy = {
  wrap_bin_scripts = false, -- the command is a sh launcher that picks its interpreter (rock.mk)
}
test = {
  type = "busted",
}
