# lua-genesys-usage: build, test, demo, bench, hardening.
# Everything runs from the source tree; `luarocks make` installs the same files (built by rock.mk).

LUA54      ?= lua5.4
LUAJIT     ?= luajit
BUSTED     ?= /usr/bin/busted
CC         ?= cc
CFLAGS     ?= -O2 -g
WARN       := -Wall -Wextra -Wshadow -Wstrict-prototypes
LUA54_INC  ?= /usr/include/lua5.4
LUAJIT_INC ?= /usr/include/luajit-2.1
CURL_LIBS  ?= -lcurl
FAKE_PORT  ?= 8089

SRC     := $(wildcard src/*.c)
HDR     := $(wildcard src/*.h)
SO54    := build/lua5.4/usage/core.so
SOJIT   := build/luajit/usage/core.so

DEB_PACKAGES := lua5.4 liblua5.4-dev luajit2 libluajit2-5.1-dev libcurl4-openssl-dev lua-cjson \
                lua-busted luarocks nginx libnginx-mod-http-lua prometheus prometheus-node-exporter lua-argparse chromium \
                lua5.1 liblua5.1-0-dev lua5.2 liblua5.2-dev lua5.3 liblua5.3-dev \
                lua-dbi-sqlite3 lua-dbi-postgresql sqlite3 postgresql faketime

.PHONY: all deps build test demo fake example bench rockspec clean

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

build: $(SO54) $(SOJIT)

$(SO54): $(SRC) $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -fPIC -shared -fvisibility=hidden -I$(LUA54_INC) -o $@ $(SRC) $(CURL_LIBS) -pthread

$(SOJIT): $(SRC) $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -fPIC -shared -fvisibility=hidden -I$(LUAJIT_INC) -o $@ $(SRC) $(CURL_LIBS) -pthread

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

# genesys-usage-<usage._VERSION>-1.rockspec from genesys-usage-scm-1.rockspec (spec/packaging_spec checks it)
rockspec: $(SO54)
	@LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/lua5.4/?.so;;" $(LUA54) tools/gen_rockspec.lua

clean:
	rm -rf build out

# asan, valgrind, fuzz, fault-matrix, hardening-ci (docs/hardening.md)
include hardening.mk
