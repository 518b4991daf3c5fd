# hardening.mk: sanitizers, valgrind and fuzzing of the C core (usage.core), and the fault matrix.
# Included by the Makefile (`include hardening.mk`, at its end); run from the repository root.
# docs/hardening.md says what each target checks, how to run it, and the latest results.
#
#   make asan         every spec under ASan+UBSan, Lua 5.4 and LuaJIT    (ASAN_SPECS=, ASAN_INTERPS=)
#   make valgrind     memcheck: 10,000-request workload + a spec subset    (VALGRIND_REQUESTS=, VALGRIND_SPECS=)
#   make fuzz         libFuzzer targets, FUZZ_SECONDS each (default 60)    (FUZZ_TARGETS=)
#   make fault-matrix spec/fault_matrix_spec.lua under both interpreters (also part of `make test`)

# keep the Makefile's default goal even if this file is included before its first target
HARDEN_PREV_GOAL := $(.DEFAULT_GOAL)

# defaults for what the Makefile normally defines (so this file also works alone: make -f hardening.mk)
LUA54      ?= lua5.4
LUAJIT     ?= luajit
BUSTED     ?= /usr/bin/busted
LUA54_INC  ?= /usr/include/lua5.4
LUAJIT_INC ?= /usr/include/luajit-2.1
CURL_LIBS  ?= -lcurl
WARN       ?= -Wall -Wextra -Wshadow -Wstrict-prototypes
LUA54_LIB  ?= -llua5.4
LUAJIT_LIB ?= -lluajit-5.1

HARDEN_SRC := $(wildcard src/*.c)
HARDEN_HDR := $(wildcard src/*.h)

# ---------------------------------------------------------------- asan

ASAN_CC      ?= gcc
# float-cast-overflow is not part of "undefined" in GCC: a double out of its integer type's range is a report
ASAN_FLAGS   := -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all -fno-omit-frame-pointer \
                -g -O1
ASAN_INTERPS ?= lua5.4 luajit
ASAN_SPECS   ?=

build/asan-lua5.4/usage/core.so: $(HARDEN_SRC) $(HARDEN_HDR)
	@mkdir -p $(dir $@)
	$(ASAN_CC) $(ASAN_FLAGS) $(WARN) -fPIC -shared -fvisibility=hidden -I$(LUA54_INC) -o $@ $(HARDEN_SRC) $(CURL_LIBS) -pthread

build/asan-luajit/usage/core.so: $(HARDEN_SRC) $(HARDEN_HDR)
	@mkdir -p $(dir $@)
	$(ASAN_CC) $(ASAN_FLAGS) $(WARN) -fPIC -shared -fvisibility=hidden -I$(LUAJIT_INC) -o $@ $(HARDEN_SRC) $(CURL_LIBS) -pthread

# the interpreters: the sanitized launcher linked to the system's Lua library (see fuzz/asan/lua_asan.c)
build/asan-lua5.4/lua5.4: fuzz/asan/lua_asan.c
	@mkdir -p $(dir $@)
	$(ASAN_CC) $(ASAN_FLAGS) $(WARN) -I$(LUA54_INC) -o $@ $< $(LUA54_LIB) -rdynamic

build/asan-luajit/luajit: fuzz/asan/lua_asan.c
	@mkdir -p $(dir $@)
	$(ASAN_CC) $(ASAN_FLAGS) $(WARN) -I$(LUAJIT_INC) -o $@ $< $(LUAJIT_LIB) -rdynamic

asan-build: $(foreach i,$(ASAN_INTERPS),build/asan-$(i)/usage/core.so build/asan-$(i)/$(i))

# the spec suite builds build/lua5.4 and build/luajit too: the CLI specs run the command line in a
# plain interpreter (uninstrumented) and the OpenResty specs load the LuaJIT core into nginx
asan-lua5.4: build/asan-lua5.4/usage/core.so build/asan-lua5.4/lua5.4 build
	@sh fuzz/asan/run.sh lua5.4 build/asan-lua5.4/lua5.4 build/asan-lua5.4 $(BUSTED) $(ASAN_SPECS)

asan-luajit: build/asan-luajit/usage/core.so build/asan-luajit/luajit build
	@sh fuzz/asan/run.sh luajit build/asan-luajit/luajit build/asan-luajit $(BUSTED) $(ASAN_SPECS)

asan: $(foreach i,$(ASAN_INTERPS),asan-$(i))

# ---------------------------------------------------------------- valgrind

VALGRIND          ?= valgrind
VALGRIND_REQUESTS ?= 10000
VALGRIND_SPECS    ?= spec/core_spec.lua spec/json_spec.lua spec/client_spec.lua spec/flows_spec.lua

valgrind-workload: build
	@sh fuzz/valgrind/run.sh workload $(LUA54) $(VALGRIND) $(VALGRIND_REQUESTS)

valgrind-specs: build
	@if [ -n "$(strip $(VALGRIND_SPECS))" ]; then \
	  sh fuzz/valgrind/run.sh specs $(LUA54) $(VALGRIND) $(BUSTED) $(VALGRIND_SPECS); \
	else echo "SKIP valgrind specs (VALGRIND_SPECS is empty)"; fi

valgrind: valgrind-workload valgrind-specs

# ---------------------------------------------------------------- fuzz

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= percent base64 headers retry_after json url
FUZZ_FLAGS   := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

# the C sources and libraries each target links (recipes expand them with $* = the target name)
FUZZ_SRC_percent     := src/parse.c
FUZZ_SRC_base64      := src/parse.c
FUZZ_SRC_headers     := src/parse.c
FUZZ_SRC_retry_after := src/parse.c
FUZZ_SRC_json        := src/json.c src/jscan.c
FUZZ_SRC_url         := src/url.c
FUZZ_LIBS_json        = -I$(LUA54_INC) $(LUA54_LIB) -lm
FUZZ_LIBS_url         = -I$(LUA54_INC) $(LUA54_LIB) $(CURL_LIBS)
FUZZ_LIBS_retry_after := -lm

build/fuzz/fuzz_%: fuzz/fuzz_%.c $(HARDEN_SRC) $(HARDEN_HDR)
	@mkdir -p $(dir $@)
	@$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(FUZZ_SRC_$*) $(FUZZ_LIBS_$*) || { \
	  echo "fuzz: '$(FUZZ_CC) -fsanitize=fuzzer' failed; on Debian: apt-get install clang libclang-rt-14-dev"; exit 1; }
	@echo "built $@"

fuzz-build: $(foreach t,$(FUZZ_TARGETS),build/fuzz/fuzz_$(t))

fuzz: fuzz-build
	@fail=0; for t in $(FUZZ_TARGETS); do \
	  sh fuzz/run.sh $$t $(FUZZ_SECONDS) || fail=1; \
	done; exit $$fail

# ---------------------------------------------------------------- fault matrix

fault-matrix: build
	@$(LUA54) $(BUSTED) spec/fault_matrix_spec.lua && $(LUAJIT) $(BUSTED) spec/fault_matrix_spec.lua && \
	  echo "fault matrix: build/fault-matrix-lua5.4.md, build/fault-matrix-luajit.md"

# ---------------------------------------------------------------- CI

hardening-ci:
	@sh .ci/hardening

.PHONY: asan asan-build asan-lua5.4 asan-luajit valgrind valgrind-workload valgrind-specs \
        fuzz fuzz-build fault-matrix hardening-ci

.DEFAULT_GOAL := $(HARDEN_PREV_GOAL)
