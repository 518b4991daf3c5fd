-- The rock: what the rockspecs declare, and what luarocks does with them. The second half runs
-- luarocks 3 offline (--deps-mode=none: Debian's lua-cjson; no rock server) on a snapshot of the
-- working tree: `luarocks pack` of the versioned rockspec, `luarocks build` of the source rock, and
-- the Lua 5.4 and LuaJIT builds installed side by side in one tree. Under `lua5.4 busted` the single
-- installs are for Lua 5.4, under `luajit busted` for LuaJIT; the build for another PUC Lua (the
-- rockspec says 5.1 to 5.4) is for 5.3 under `lua5.4 busted`, for 5.1 under `luajit busted`.
local sys = require "support.nginx"
local sh, read_file = sys.sh_quote, sys.read_file

local JIT = type(jit) == "table"
local LUAJIT_INC = os.getenv("LUAJIT_INC") or "/usr/include/luajit-2.1"
local FLAVOURS = {
  lua54 = { lua_version = "5.4", interp = "lua5.4", command = "genesys-usage", engine = "(Lua 5.4)", flags = "" },
  luajit = { lua_version = "5.1", interp = "luajit", command = "genesys-usage-luajit", engine = "(LuaJIT",
             flags = "LUA_INCDIR=" .. sh(LUAJIT_INC) },
}
-- PUC Lua 5.1 and 5.3: their own trees (a 5.1 tree holds either PUC Lua's build or LuaJIT's), luarocks'
-- default headers for the version
FLAVOURS.lua51 = { lua_version = "5.1", interp = "lua5.1", command = "genesys-usage", engine = "(Lua 5.1)", flags = "" }
FLAVOURS.lua53 = { lua_version = "5.3", interp = "lua5.3", command = "genesys-usage", engine = "(Lua 5.3)", flags = "" }
local MINE = JIT and FLAVOURS.luajit or FLAVOURS.lua54
local OTHER = JIT and FLAVOURS.lua54 or FLAVOURS.luajit
local PUC = JIT and FLAVOURS.lua51 or FLAVOURS.lua53
local SCM = "genesys-usage-scm-1.rockspec"
local URL = "git+https://github.com/lua-genesys-usage/lua-genesys-usage.git"
local VERSION = require("usage")._VERSION
local VERSIONED = "genesys-usage-" .. VERSION .. "-1.rockspec"
-- what rock.mk compiles with (the project's warnings, as in the Makefile)
local WARN = "-Wall -Wextra -Wshadow -Wstrict-prototypes"

local function read(path) return assert(read_file(path), "cannot read " .. path) end

-- a rockspec as luarocks loads it: a chunk run in an empty environment
local function load_rockspec(path)
  local env = {}
  local chunk = assert((loadstring or load)(read(path), "@" .. path, "t", env))
  if setfenv then setfenv(chunk, env) end
  chunk()
  return env
end

-- runs cmd through sh; returns its output (stdout and stderr) and whether it exited 0
local function capture(cmd)
  local p = io.popen("(" .. cmd .. ") 2>&1; echo \"<exit $?>\"")
  local out = p:read("*a")
  p:close()
  local code = out:match("<exit (%d+)>%s*$")
  return (out:gsub("<exit %d+>%s*$", "")), code == "0"
end

local function lines(cmd)
  local out, ok = capture(cmd)
  assert(ok, cmd .. "\n" .. out)
  local t = {}
  for line in out:gmatch("[^\n]+") do t[#t + 1] = line end
  return t
end

-- every Lua module of the working tree, as a path under lua/ (usage/init.lua, ...)
local function lua_files()
  local t = {}
  for _, path in ipairs(lines("find lua -name '*.lua' | sort")) do t[#t + 1] = path:sub(5) end
  return t
end

describe("the rockspecs", function()
  local scm, versioned = load_rockspec(SCM), load_rockspec(VERSIONED)

  it("are " .. SCM .. " and " .. VERSIONED .. " for usage._VERSION, the versioned one written from the scm one", function()
    assert.same({ VERSIONED, SCM }, lines("ls *.rockspec | sort"))
    local interp = JIT and "luajit" or "lua5.4"
    local out, ok = capture("LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/" .. interp .. "/?.so;;' " ..
      interp .. " tools/gen_rockspec.lua --check")
    assert(ok, "the versioned rockspec is out of date (run `make rockspec`):\n" .. out)
    assert.equal(VERSION, require("usage.core")._VERSION)
    assert.matches("^%d+%.%d+%.%d+$", VERSION)
  end)

  it("name the rock genesys-usage, pin the release to the tag v" .. VERSION .. " and declare the run-time dependencies", function()
    for _, spec in ipairs { scm, versioned } do
      assert.equal("3.0", spec.rockspec_format)
      assert.equal("genesys-usage", spec.package)
      assert.equal(URL, spec.source.url)
      assert.same({ "lua >= 5.1, <= 5.4", "lua-cjson >= 2.1.0", "argparse >= 0.7" }, spec.dependencies)
    end
    assert.equal("scm-1", scm.version)
    assert.is_nil(scm.source.tag)
    assert.equal(VERSION .. "-1", versioned.version)
    assert.equal("v" .. VERSION, versioned.source.tag)
  end)

  it("build with rock.mk, declare libcurl by its library only and leave the command unwrapped", function()
    for _, spec in ipairs { scm, versioned } do
      assert.same({ CURL = { library = "curl" } }, spec.external_dependencies)
      assert.equal("make", spec.build.type)
      assert.equal("rock.mk", spec.build.makefile)
      assert.is_nil(spec.build.modules)
      assert.same({ "docs", "examples" }, spec.build.copy_directories)
      assert.is_false(spec.deploy.wrap_bin_scripts)
      for _, var in ipairs { "CC", "CFLAGS", "LIBFLAG", "LUA_INCDIR", "CURL_INCDIR", "CURL_LIBDIR" } do
        assert.equal("$(" .. var .. ")", spec.build.build_variables[var], var)
      end
      for _, var in ipairs { "PREFIX", "LUADIR", "LIBDIR", "BINDIR", "ROCKS_TREE", "LUA", "LUA_BINDIR" } do
        assert.equal("$(" .. var .. ")", spec.build.install_variables[var], var)
      end
    end
    assert.truthy(read("rock.mk"):find("WARN        := " .. WARN .. "\n", 1, true))
    assert.truthy(read("Makefile"):find("WARN       := " .. WARN .. "\n", 1, true))
  end)

  it("pass luarocks lint", function()
    for _, file in ipairs { SCM, VERSIONED } do
      local out, ok = capture("luarocks lint " .. file)
      assert(ok, file .. ":\n" .. out)
    end
  end)

  it("are the only name of the rock in the tree (no usage-scm-1.rockspec left)", function()
    local out = capture("git grep --untracked -n -e 'usage-scm-1' -e 'install usage\\b' -- . ':!spec/packaging_spec.lua'")
    local stale = {}
    for line in out:gmatch("[^\n]+") do
      if line:gsub("genesys%-usage%-scm%-1", ""):find("usage%-scm%-1") or line:find("install usage%f[^%w]") then
        stale[#stale + 1] = line
      end
    end
    assert.same({}, stale)
  end)
end)

describe("luarocks with the rock", function()
  local work, src

  -- luarocks (for flavour's Lua version, or the default one) run in dir (default: the work directory);
  -- the user's luarocks configuration is left out
  local function luarocks(flavour, args, dir)
    return capture("cd " .. sh(dir or work) .. " && LUAROCKS_CONFIG=" .. sh(work .. "/config.lua") .. " luarocks " ..
      (flavour and "--lua-version=" .. flavour.lua_version .. " " or "") .. args)
  end

  -- flavour's interpreter, with the paths of `tree` only, requires usage: the module and its core come from the tree
  local function assert_requires(flavour, tree)
    local lua, lib = tree .. "/share/lua/" .. flavour.lua_version, tree .. "/lib/lua/" .. flavour.lua_version
    local code = "package.path=" .. ("%q"):format(lua .. "/?.lua;" .. lua .. "/?/init.lua;") .. "..package.path " ..
      "package.cpath=" .. ("%q"):format(lib .. "/?.so;") .. "..package.cpath " ..
      "local u = require 'usage' " ..
      -- (PUC Lua 5.1 has no package.searchpath)
      "local search = package.searchpath or function(name, path) name = name:gsub('%.', '/') " ..
      "for t in path:gmatch('[^;]+') do local f = t:gsub('%?', name) local h = io.open(f) " ..
      "if h then h:close() return f end end end " ..
      "print(u._VERSION, search('usage', package.path), search('usage.core', package.cpath))"
    local out, ok = capture("cd " .. sh(work) .. " && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 " ..
      flavour.interp .. " -e " .. sh(code))
    assert(ok, out)
    assert.equal(VERSION .. "\t" .. lua .. "/usage/init.lua\t" .. lib .. "/usage/core.so\n", out)
  end

  -- the installed command runs, under flavour's interpreter, with the tree's modules
  local function assert_command(flavour, tree)
    local path = tree .. "/bin/" .. flavour.command
    local launcher = read(path)
    assert.matches("^#!/bin/sh\n", launcher)
    assert.matches("exec '[^']*/" .. flavour.interp .. "' ", launcher)
    local out, ok = capture("cd " .. sh(work) .. " && env -u LUA_PATH -u LUA_CPATH " .. sh(path) .. " --version")
    assert(ok, out)
    assert.truthy(out:find("genesys-usage " .. VERSION .. " " .. flavour.engine, 1, true), out)
  end

  -- every module of the working tree is installed for flavour
  local function assert_modules(flavour, tree)
    for _, file in ipairs(lua_files()) do
      local installed = tree .. "/share/lua/" .. flavour.lua_version .. "/" .. file
      assert.equal(read("lua/" .. file), read_file(installed), installed)
    end
  end

  local function assert_build_log(log)
    assert.truthy(log:find(WARN, 1, true), log)
    assert.truthy(log:find("-lcurl", 1, true), log)
    assert.is_nil(log:find("warning:", 1, true), log)
  end

  lazy_setup(function()
    work = sys.temp_dir("packaging")
    sys.write_file(work .. "/config.lua", "-- empty: the system configuration only\n")
    -- a git repository of the working tree (tracked and untracked files, as `git ls-files` sees them)
    -- in a directory named as luarocks names its clone of the project's URL
    src = work .. "/lua-genesys-usage"
    local list = {}
    for _, file in ipairs(lines("git ls-files -co --exclude-standard")) do
      if read_file(file) then list[#list + 1] = file end
    end
    sys.write_file(work .. "/files", table.concat(list, "\n") .. "\n")
    assert(sys.run("mkdir " .. sh(src) .. " && tar -cf - -T " .. sh(work .. "/files") .. " | tar -xf - -C " .. sh(src)))
    local out, ok = capture("cd " .. sh(src) .. " && git init -q && git add -A && " ..
      "git -c user.name=spec -c user.email=spec@localhost commit -q -m snapshot && git tag v" .. VERSION)
    assert(ok, out)
  end)

  lazy_teardown(function()
    if work then sys.remove_dir(work) end
  end)

  it("packs a source rock from " .. VERSIONED .. " that `luarocks build --deps-mode=none` installs alone in a tree", function()
    -- the release rockspec with its source pointed at the snapshot repository (tagged as a release is):
    -- for a real release `luarocks pack` clones the project's URL at the tag instead
    local text, n = read(VERSIONED):gsub(URL:gsub("%p", "%%%0"), "git+file://" .. src)
    assert.equal(1, n)
    sys.write_file(work .. "/" .. VERSIONED, text)
    local out, ok = luarocks(nil, "pack " .. VERSIONED)
    assert(ok, out)
    local rock = work .. "/genesys-usage-" .. VERSION .. "-1.src.rock"
    assert.truthy(read_file(rock), out)

    local tree = work .. "/alone"
    out, ok = luarocks(MINE, "build --deps-mode=none " .. sh(rock) .. " --tree " .. sh(tree) .. " " .. MINE.flags)
    assert(ok, out)
    assert_build_log(out)
    assert_requires(MINE, tree)
    assert_command(MINE, tree)
    assert.same({ MINE.command }, lines("ls " .. sh(tree .. "/bin")))
  end)

  it("installs the Lua 5.4 and the LuaJIT builds side by side, each with its command; removing one keeps the other", function()
    local tree = work .. "/both"
    for _, flavour in ipairs { FLAVOURS.lua54, FLAVOURS.luajit } do
      local out, ok = luarocks(flavour, "make --deps-mode=none " .. SCM .. " --tree " .. sh(tree) .. " " .. flavour.flags,
        src)
      assert(ok, out)
      assert_build_log(out)
    end
    assert.same({ "genesys-usage", "genesys-usage-luajit" }, lines("ls " .. sh(tree .. "/bin") .. " | sort"))
    for _, flavour in ipairs { FLAVOURS.lua54, FLAVOURS.luajit } do
      assert_modules(flavour, tree)
      assert_requires(flavour, tree)
      assert_command(flavour, tree)
    end

    -- the other interpreter's install goes; this one's is untouched
    local out, ok = luarocks(OTHER, "remove genesys-usage --tree " .. sh(tree))
    assert(ok, out)
    assert.same({ MINE.command }, lines("ls " .. sh(tree .. "/bin")))
    assert.is_nil(read_file(tree .. "/lib/lua/" .. OTHER.lua_version .. "/usage/core.so"))
    assert_requires(MINE, tree)
    assert_command(MINE, tree)
  end)

  it("builds for PUC Lua " .. PUC.lua_version .. " with luarocks' own headers, and the command runs under lua" ..
     PUC.lua_version, function()
    local tree = work .. "/lua" .. PUC.lua_version
    local out, ok = luarocks(PUC, "make --deps-mode=none " .. SCM .. " --tree " .. sh(tree), src)
    assert(ok, out)
    assert_build_log(out)
    assert.truthy(out:find("-I'/usr/include/lua" .. PUC.lua_version .. "'", 1, true), out)
    assert.same({ PUC.command }, lines("ls " .. sh(tree .. "/bin")))
    assert_modules(PUC, tree)
    assert_requires(PUC, tree)
    assert_command(PUC, tree)
  end)
end)
