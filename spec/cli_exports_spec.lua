-- The command line's modules (lua/usage/cli/**.lua) say what they are for: every name one exports has a
-- caller in another file that requires it, a command module exports its interface and nothing else, the
-- requires are at the top of each file, and the program's name is written in one place.

local read_file = require("support.nginx").read_file
local sources = require "support.sources"
local list, exports = sources.list, sources.exports

local function module_of(path)
  return (path:gsub("^lua/", ""):gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", "."))
end

-- the code of a source without its comments (a line's text from "--" on; a string holding "--" loses its
-- end, which can only hide a name from these checks, never invent one)
local function code_of(src)
  local out = {}
  for line in (src .. "\n"):gmatch("([^\n]*)\n") do out[#out + 1] = (line:gsub("%-%-.*$", "")) end
  return table.concat(out, "\n")
end

-- the exports of `path` that no other file uses: a user requires the module by name and writes .name or :name
local function unused(path, texts)
  local mod = module_of(path)
  local out = {}
  for name in pairs(exports(texts[path])) do
    local used = false
    for other, text in pairs(texts) do
      if other ~= path and (text:find('"' .. mod .. '"', 1, true) or text:find("'" .. mod .. "'", 1, true))
         and text:find("[%.:]" .. name .. "%f[^%w_]") then
        used = true
        break
      end
    end
    if not used then out[#out + 1] = name end
  end
  table.sort(out)
  return out
end

local COMMAND_INTERFACE = { name = true, add_to = true, run = true }

describe("the command line's modules", function()
  local cli = list("find lua/usage/cli -name '*.lua' | sort")
  local files = list("find lua bin spec bench tools examples docs -name '*.lua' | sort")
  files[#files + 1] = "bin/genesys-usage"
  local texts = {}
  for _, f in ipairs(files) do texts[f] = assert(read_file(f), f) end

  it("export only names another file uses", function()
    local dead = {}
    assert.is_true(#cli > 25, #cli)
    for _, path in ipairs(cli) do
      if not path:match("^lua/usage/cli/commands/") then
        for _, name in ipairs(unused(path, texts)) do dead[#dead + 1] = path .. ": " .. name end
      end
    end
    assert.same({}, dead)
  end)

  it("would see a dead export", function()
    local fake = "zz" .. "_fake" -- (made here: this file holds no text of the fake module's name)
    local path, user = "lua/usage/cli/" .. fake .. ".lua", "lua/usage/cli/zz_user.lua"
    texts[path] = "local M = {}\nM.dead = 1\nfunction M.called() end\nfunction M.also_dead() end\nreturn M\n"
    texts[user] = 'local f = require "usage.cli.' .. fake .. '"\nf.called()\nlocal dead, also_dead = 1, 2\n'
    finally(function() texts[path], texts[user] = nil, nil end)
    assert.same({ "also_dead", "dead" }, unused(path, texts))
  end)

  it("are commands with name, add_to and run, each in the list of commands", function()
    local listed = texts["lua/usage/cli/commands/init.lua"]
    local n = 0
    for _, path in ipairs(cli) do
      local mod = module_of(path)
      if path:match("^lua/usage/cli/commands/") and mod ~= "usage.cli.commands" then
        n = n + 1
        -- (the module as loaded: a listing command is built by usage.cli.listing.command)
        local cmd = require(mod)
        for name in pairs(cmd) do
          assert.truthy(COMMAND_INTERFACE[name], path .. " exports " .. name .. ", not part of a command's interface")
        end
        assert.truthy(type(cmd.add_to) == "function" and type(cmd.run) == "function", path .. " lacks add_to or run")
        assert.truthy(listed:find('"' .. mod .. '"', 1, true), mod .. " is not in usage.cli.commands")
        assert.equal("string", type(cmd.name), path)
      end
    end
    assert.equal(#require("usage.cli.commands"), n)
  end)

  it("leave the command modules to the list of commands: no other module requires one", function()
    local others = {}
    for _, f in ipairs(files) do
      if f:match("^lua/") and f ~= "lua/usage/cli/commands/init.lua" and code_of(texts[f]):find("usage%.cli%.commands%.") then
        others[#others + 1] = f
      end
    end
    assert.same({}, others)
  end)

  it("require what they need at the top of the file, before any function", function()
    local late = {}
    for _, path in ipairs(cli) do
      local code = code_of(texts[path])
      local first_function = code:find("%f[%w_]function%f[^%w_]") or (#code + 1)
      local at = 1
      while true do
        local s = code:find("%f[%w_]require%f[^%w_]", at)
        if not s then break end
        if s > first_function then
          local line = select(2, code:sub(1, s):gsub("\n", "")) + 1
          late[#late + 1] = path .. ":" .. line
        end
        at = s + 1
      end
    end
    assert.same({}, late)
  end)

  it("name the program in usage.cli.program alone", function()
    local program = require "usage.cli.program"
    assert.equal("genesys-usage", program.NAME)
    local others = {}
    for _, path in ipairs(cli) do
      if path ~= "lua/usage/cli/program.lua" and code_of(texts[path]):find("genesys%-usage") then
        others[#others + 1] = path
      end
    end
    if code_of(texts["bin/genesys-usage"]):find('"genesys%-usage"') then others[#others + 1] = "bin/genesys-usage" end
    assert.same({}, others)
  end)
end)
