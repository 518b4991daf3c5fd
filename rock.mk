# rock.mk: how luarocks builds and installs genesys-usage (the rockspecs' build.type = "make").
#
# luarocks runs `make -f rock.mk` and then `make -f rock.mk install`, passing its own variables (the
# rockspecs' build_variables and install_variables). Every src/*.c is compiled and every lua/**.lua
# installed, so adding a module or a C file needs no edit here or in the rockspecs.
#
# usage.core is compiled against LUA_INCDIR, whatever Lua it holds (src/compat.h decides by the headers:
# Lua 5.1, 5.2, 5.3, 5.4 or LuaJIT 2.1). The command follows the headers too:
#   PUC Lua (5.1 to 5.4)  `genesys-usage`, run by $(LUA)
#   LuaJIT (a 5.1 tree whose LUA_INCDIR holds luajit.h, e.g. LUA_INCDIR=/usr/include/luajit-2.1)
#                         `genesys-usage-luajit`, run by luajit: $(LUAJIT) if set (environment or command
#                         line), else $(LUA) if it is a LuaJIT, else <tree>/bin/luajit (OpenResty's tree),
#                         $(LUA_BINDIR)/luajit, the first luajit on PATH
# Two names, so that the Lua 5.4 and the LuaJIT builds live in one tree: luarocks keeps one manifest per
# Lua version and moves aside (to NAME~) a command that the other version's manifest owns.
# The command is a sh launcher, not a Lua script, so luarocks copies it as it is (the rockspecs also
# set deploy.wrap_bin_scripts = false) instead of writing its own wrapper, which runs the version's
# default interpreter (lua5.1 for 5.1, which cannot load a core built for LuaJIT). The launcher runs the rock's copy
# of bin/genesys-usage with the tree's module directories first on package.path and package.cpath;
# the tree's paths are written into it at install time, as luarocks does for its own wrappers.

CC          ?= cc
CFLAGS      ?= -O2 -fPIC
LIBFLAG     ?= -shared
WARN        := -Wall -Wextra -Wshadow -Wstrict-prototypes
LUA_INCDIR  ?= /usr/include/lua5.4
CURL_INCDIR ?=
CURL_LIBDIR ?=
LUAJIT      ?=

SRC  := $(sort $(wildcard src/*.c))
CORE := build/rock/usage/core.so

# install: the rock's directories (PREFIX, LUADIR, LIBDIR, BINDIR), the tree and its Lua version
LUA_VER := $(patsubst rocks-%,%,$(notdir $(ROCKS_TREE)))
TREE    := $(patsubst %/lib/luarocks/rocks-$(LUA_VER),%,$(ROCKS_TREE))
# the build notes which Lua its headers were (install gets no LUA_INCDIR from luarocks)
ENGINE_FILE := build/rock/engine
ENGINE  := $(if $(wildcard $(LUA_INCDIR)/luajit.h),luajit,lua)
BUILT   := $(shell cat $(ENGINE_FILE) 2>/dev/null)
COMMAND := $(if $(filter luajit,$(BUILT)),genesys-usage-luajit,genesys-usage)
ENTRY   := $(PREFIX)/libexec/genesys-usage
SETPATH := package.path="$(TREE)/share/lua/$(LUA_VER)/?.lua;$(TREE)/share/lua/$(LUA_VER)/?/init.lua;"..package.path \
           package.cpath="$(TREE)/lib/lua/$(LUA_VER)/?.so;"..package.cpath

.PHONY: all install

# always compiled afresh: a 5.4 and a LuaJIT build of one checkout share this output path
all:
	@test -f '$(LUA_INCDIR)/lua.h' || { echo "rock.mk: no lua.h in LUA_INCDIR='$(LUA_INCDIR)'" >&2; exit 1; }
	@mkdir -p $(dir $(CORE))
	@echo $(ENGINE) > $(ENGINE_FILE)
	$(CC) $(CFLAGS) $(WARN) -fPIC -fvisibility=hidden -I'$(LUA_INCDIR)' $(if $(CURL_INCDIR),-I'$(CURL_INCDIR)') \
	  $(LIBFLAG) -o $(CORE) $(SRC) $(if $(CURL_LIBDIR),-L'$(CURL_LIBDIR)') -lcurl -pthread

install:
	@test -f $(CORE) && test -n '$(BUILT)' || { echo "rock.mk: build first (make -f rock.mk)" >&2; exit 1; }
	@test -n '$(PREFIX)' && test -n '$(LUADIR)' && test -n '$(LIBDIR)' && test -n '$(BINDIR)' || \
	  { echo "rock.mk: install needs PREFIX, LUADIR, LIBDIR and BINDIR (luarocks passes them)" >&2; exit 1; }
	@test -n '$(LUA_VER)' && test '$(TREE)' != '$(ROCKS_TREE)' || \
	  { echo "rock.mk: ROCKS_TREE='$(ROCKS_TREE)' is not <tree>/lib/luarocks/rocks-<version>" >&2; exit 1; }
	mkdir -p '$(LIBDIR)/usage' '$(BINDIR)' '$(PREFIX)/libexec'
	cp $(CORE) '$(LIBDIR)/usage/core.so'
	cd lua && for f in $$(find . -name '*.lua' | sort); do \
	  mkdir -p "$(LUADIR)/$${f%/*}" && cp "$$f" "$(LUADIR)/$$f" || exit 1; \
	done
	cp bin/genesys-usage '$(ENTRY)'
	@interp='$(LUA)'; \
	if [ '$(BUILT)' = luajit ]; then \
	  if [ -n '$(LUAJIT)' ]; then interp='$(LUAJIT)'; else \
	    case "$${interp##*/}" in luajit*) ;; *) interp=; \
	      for c in '$(TREE)/bin/luajit' '$(LUA_BINDIR)/luajit' "$$(command -v luajit)"; do \
	        if [ -n "$$c" ] && [ -x "$$c" ]; then interp=$$c; break; fi; \
	      done;; \
	    esac; \
	  fi; \
	fi; \
	if [ -z "$$interp" ] || [ ! -x "$$interp" ]; then \
	  echo "rock.mk: no interpreter for the command ($${interp:-LuaJIT for a LuaJIT build}): set LUAJIT=/path/to/luajit" >&2; \
	  exit 1; \
	fi; \
	echo "rock.mk: $(BINDIR)/$(COMMAND) runs $$interp"; \
	{ echo '#!/bin/sh'; \
	  echo '# $(COMMAND): the genesys-usage command for the Lua $(LUA_VER) tree $(TREE), written by rock.mk'; \
	  printf "exec '%s' -e '%s' '%s' \"\$$@\"\n" "$$interp" '$(SETPATH)' '$(ENTRY)'; \
	} > '$(BINDIR)/$(COMMAND)' && chmod 755 '$(BINDIR)/$(COMMAND)'
