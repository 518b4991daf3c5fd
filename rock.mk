# rock.mk: how luarocks builds and installs genesys-usage (the rockspecs' build.type = "make").
#
# luarocks runs `make -f rock.mk` and then `make -f rock.mk install`, passing its own variables (the
# rockspecs' build_variables and install_variables). Every src/*.c is compiled and every lua/**.lua
# installed, so adding a module or a C file needs no edit here or in the rockspecs.
#
# The build follows the Lua version of the rocks tree (ROCKS_TREE = <tree>/lib/luarocks/rocks-<ver>):
#   5.4 (5.3)  usage.core against LUA_INCDIR; the command is `genesys-usage`, run by $(LUA)
#   5.1        LuaJIT: usage.core needs LuaJIT 2.1's headers (LUA_INCDIR=/usr/include/luajit-2.1);
#              the command is `genesys-usage-luajit`, run by luajit: $(LUAJIT) if set (environment or
#              command line), else $(LUA) if it is a LuaJIT, else <tree>/bin/luajit (OpenResty's
#              tree), $(LUA_BINDIR)/luajit, the first luajit on PATH
# Two names, so that both builds live in one tree: luarocks keeps one manifest per Lua version and
# moves aside (to NAME~) a command that the other version's manifest owns.
# The command is a sh launcher, not a Lua script, so luarocks copies it as it is (the rockspecs also
# set deploy.wrap_bin_scripts = false) instead of writing its own wrapper, which runs the version's
# default interpreter (lua5.1 for 5.1, which cannot load the core). The launcher runs the rock's copy
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
COMMAND := $(if $(filter 5.1,$(LUA_VER)),genesys-usage-luajit,genesys-usage)
ENTRY   := $(PREFIX)/libexec/genesys-usage
SETPATH := package.path="$(TREE)/share/lua/$(LUA_VER)/?.lua;$(TREE)/share/lua/$(LUA_VER)/?/init.lua;"..package.path \
           package.cpath="$(TREE)/lib/lua/$(LUA_VER)/?.so;"..package.cpath

.PHONY: all install

# always compiled afresh: a 5.4 and a LuaJIT build of one checkout share this output path
all:
	@if grep -Eq 'define[[:space:]]+LUA_VERSION_NUM[[:space:]]+501' '$(LUA_INCDIR)/lua.h' && \
	    [ ! -f '$(LUA_INCDIR)/luajit.h' ]; then \
	  echo "rock.mk: the 5.1 build of usage.core needs LuaJIT 2.1's headers, not $(LUA_INCDIR):" >&2; \
	  echo "rock.mk: add LUA_INCDIR=/usr/include/luajit-2.1 (OpenResty: <prefix>/luajit/include/luajit-2.1)" >&2; \
	  exit 1; \
	fi
	@mkdir -p $(dir $(CORE))
	$(CC) $(CFLAGS) $(WARN) -fPIC -fvisibility=hidden -I'$(LUA_INCDIR)' $(if $(CURL_INCDIR),-I'$(CURL_INCDIR)') \
	  $(LIBFLAG) -o $(CORE) $(SRC) $(if $(CURL_LIBDIR),-L'$(CURL_LIBDIR)') -lcurl -pthread

install:
	@test -f $(CORE) || { echo "rock.mk: build first (make -f rock.mk)" >&2; exit 1; }
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
	if [ '$(LUA_VER)' = 5.1 ]; then \
	  if [ -n '$(LUAJIT)' ]; then interp='$(LUAJIT)'; else \
	    case "$${interp##*/}" in luajit*) ;; *) interp=; \
	      for c in '$(TREE)/bin/luajit' '$(LUA_BINDIR)/luajit' "$$(command -v luajit)"; do \
	        if [ -n "$$c" ] && [ -x "$$c" ]; then interp=$$c; break; fi; \
	      done;; \
	    esac; \
	  fi; \
	fi; \
	if [ -z "$$interp" ] || [ ! -x "$$interp" ]; then \
	  echo "rock.mk: no interpreter for the command ($${interp:-LuaJIT for a 5.1 build}): set LUAJIT=/path/to/luajit" >&2; \
	  exit 1; \
	fi; \
	echo "rock.mk: $(BINDIR)/$(COMMAND) runs $$interp"; \
	{ echo '#!/bin/sh'; \
	  echo '# $(COMMAND): the genesys-usage command for the Lua $(LUA_VER) tree $(TREE), written by rock.mk'; \
	  printf "exec '%s' -e '%s' '%s' \"\$$@\"\n" "$$interp" '$(SETPATH)' '$(ENTRY)'; \
	} > '$(BINDIR)/$(COMMAND)' && chmod 755 '$(BINDIR)/$(COMMAND)'
