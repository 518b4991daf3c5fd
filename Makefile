# lua-genesys-usage: build, test, demo, bench, hardening.
# Everything runs from the source tree; `luarocks make` installs the same files (built by rock.mk).

LUA54      ?= lua5.4
LUAJIT     ?= luajit
BUSTED     ?= /usr/bin/busted
CC         ?= cc
CFLAGS     ?= -O2 -g
WARN       := -Wall -Wextra -Wshadow -Wstrict-prototypes
LUA51_INC  ?= /usr/include/lua5.1
LUA52_INC  ?= /usr/include/lua5.2
LUA53_INC  ?= /usr/include/lua5.3
LUA54_INC  ?= /usr/include/lua5.4
LUAJIT_INC ?= /usr/include/luajit-2.1
CURL_LIBS  ?= -lcurl
FAKE_PORT  ?= 8089

SRC     := $(wildcard src/*.c)
HDR     := $(wildcard src/*.h)
SO54    := build/lua5.4/usage/core.so
SOJIT   := build/luajit/usage/core.so

# one core per Lua: build/<interpreter>/usage/core.so, from one source (src/compat.h decides by the headers).
# 5.4 and LuaJIT always (the full suite runs under them); 5.1, 5.2 and 5.3 when their headers are present
# (`make deps` installs them; `make unit` fails, naming what is missing, without them).
INC_lua5.1 := $(LUA51_INC)
INC_lua5.2 := $(LUA52_INC)
INC_lua5.3 := $(LUA53_INC)
INC_lua5.4 := $(LUA54_INC)
INC_luajit := $(LUAJIT_INC)
OPTIONAL_CORES := $(foreach v,lua5.1 lua5.2 lua5.3,$(if $(wildcard $(INC_$(v))/lua.h),build/$(v)/usage/core.so))
CORES   := $(SO54) $(SOJIT) $(OPTIONAL_CORES)
# for the specs: the LD_PRELOAD shim that makes chosen libcurl calls fail and logs the options the core sets
# (spec/curl_fault_spec.lua, spec/support/curlfault.c), and a Lua 5.4 core whose conversions saturate at a
# 32-bit long and size_t, as on a 32-bit machine (spec/core_limits_spec.lua)
CURLFAULT := build/test/curlfault.so
NARROW    := build/test/narrow-lua5.4/usage/core.so

DEB_PACKAGES := lua5.4 liblua5.4-dev luajit2 libluajit2-5.1-dev libcurl4-openssl-dev lua-cjson \
                lua-busted luarocks nginx libnginx-mod-http-lua prometheus prometheus-node-exporter lua-argparse chromium \
                lua5.1 liblua5.1-0-dev lua5.2 liblua5.2-dev lua5.3 liblua5.3-dev \
                lua-dbi-sqlite3 lua-dbi-postgresql sqlite3 postgresql faketime

.PHONY: all deps build unit test demo fake example bench bench-store rockspec clean

all: build

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "deps: installing$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	else \
	  echo "deps: missing Debian packages:$$missing"; \
	  echo "deps: run: sudo apt-get install -y$$missing"; exit 1; \
	fi

build: $(CORES) $(CURLFAULT) $(NARROW)

build/%/usage/core.so: $(SRC) $(HDR)
	@test -f '$(INC_$*)/lua.h' || { echo "make: no Lua headers for $* in '$(INC_$*)' (make deps)" >&2; exit 1; }
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -fPIC -shared -fvisibility=hidden -I$(INC_$*) -o $@ $(SRC) $(CURL_LIBS) -pthread

$(NARROW): $(SRC) $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -DUSAGE_LONG_LIMIT=2147483647L -DUSAGE_SIZE_LIMIT=4294967295u -fPIC -shared \
	  -fvisibility=hidden -I$(LUA54_INC) -o $@ $(SRC) $(CURL_LIBS) -pthread

$(CURLFAULT): spec/support/curlfault.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -fPIC -shared -o $@ $< -Wl,--no-as-needed $(CURL_LIBS) -ldl

# the specs that need no server (spec/unit.lua lists them) under Lua 5.1, 5.2, 5.3, 5.4 and LuaJIT
unit: build
	@sh spec/run.sh --unit

# `make unit`, then every spec under Lua 5.4 and LuaJIT, then the JavaScript SDK acceptance
test: build
	@sh spec/run.sh

demo: deps build
	@sh examples/demo.sh

fake: build
	@LUA_PATH="lua/?.lua;lua/?/init.lua;spec/?.lua;spec/?/init.lua;;" LUA_CPATH="build/lua5.4/?.so;;" \
	  $(LUA54) spec/fakecloud/run.lua --port $(FAKE_PORT)

# the Lua API example, against a fake started with `make fake` (FAKE_PORT) in another terminal
example: build
	@GENESYS_USAGE_BASE_URL=$${GENESYS_USAGE_BASE_URL-http://127.0.0.1:$(FAKE_PORT)} \
	  LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/lua5.4/?.so;;" $(LUA54) examples/quickstart.lua

bench: build
	@$(LUA54) bench/run.lua

# the history store (usage.store, SQLite) against the sqlite3 shell: bench/store.lua, bench/README.md
bench-store: build
	@$(LUA54) bench/store.lua

# genesys-usage-<usage._VERSION>-1.rockspec from genesys-usage-scm-1.rockspec (spec/packaging_spec checks it)
rockspec: $(SO54)
	@LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/lua5.4/?.so;;" $(LUA54) tools/gen_rockspec.lua

clean:
	rm -rf build out

# asan, valgrind, fuzz, fault-matrix, hardening-ci (docs/hardening.md)
include hardening.mk
