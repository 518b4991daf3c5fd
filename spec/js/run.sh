#!/bin/sh
# The official JavaScript SDK against the fake cloud: starts the fake (spec/fakecloud launcher), runs
# spec/js/acceptance.js, stops the fake. Ends with "N passed, M failed" (plus "SKIPPED: ..." without npm).
cd "$(dirname "$0")/../.." || exit 2
LUA=${LUA:-lua5.4}
case "$LUA" in *jit*) build=luajit ;; *) build=lua5.4 ;; esac
LUA_PATH="lua/?.lua;lua/?/init.lua;spec/?.lua;spec/?/init.lua;;" \
LUA_CPATH="build/$build/?.so;;" \
  exec "$LUA" spec/js/run.lua
