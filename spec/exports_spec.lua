-- No exported name without a caller outside its file: every name a library module exports (M.name = ...,
-- function M.name) is used by another file (the library, the command line, a spec, a benchmark, an
-- example, a doc generator), named as a string elsewhere (a table of names re-exported), or documented in
-- README.md / docs/*.md as public API. A name nobody uses is local, so that a reader knows what a module's
-- contract is.

local read_file = require("support.nginx").read_file
local sources = require "support.sources"
local list, exports = sources.list, sources.exports

-- the names a text uses: x.name, obj:name, name = (a field of a table handed over), "name"
local function used_names(text)
  local out = {}
  for name in text:gmatch("[%.:]([%a_][%w_]*)") do out[name] = true end
  for name in text:gmatch("([%a_][%w_]*)%s*=[^=]") do out[name] = true end
  for name in text:gmatch("[\"']([%a_][%w_]*)[\"']") do out[name] = true end
  return out
end

describe("exported names", function()
  local files = list("find lua bin spec bench tools examples docs -name '*.lua' | sort")
  files[#files + 1] = "bin/genesys-usage"
  local texts = {}
  for _, f in ipairs(files) do texts[f] = assert(read_file(f), f) end
  local docs = assert(read_file("README.md"))
  for _, d in ipairs(list("ls docs/*.md")) do docs = docs .. assert(read_file(d)) end

  local documented = {}
  for name in docs:gmatch("[%.:]([%a_][%w_]*)") do documented[name] = true end
  local names_of = {}
  local function unused(path)
    local out = {}
    for name in pairs(exports(texts[path])) do
      local used = documented[name]
      for other, text in pairs(texts) do
        if used then break end
        if other ~= path then
          names_of[other] = names_of[other] or used_names(text)
          used = names_of[other][name]
        end
      end
      if not used then out[#out + 1] = name end
    end
    table.sort(out)
    return out
  end

  it("every library module's exports have a caller outside their file", function()
    local dead, checked = {}, 0
    for _, path in ipairs(files) do
      if path:match("^lua/usage/") and not path:match("^lua/usage/cli/") then
        checked = checked + 1
        for _, name in ipairs(unused(path)) do dead[#dead + 1] = path .. ": " .. name end
      end
    end
    assert.is_true(checked > 30, checked)
    assert.same({}, dead)
  end)

  it("would see a dead export", function()
    local dead = "zz" .. "_exported_for_nobody" -- (made here: the name itself is in no file)
    local used = "zz" .. "_exported_and_called"
    texts["lua/usage/base/fake_dead.lua"] = "local M = {}\nM." .. dead .. " = 1\nfunction M." .. used .. "() end\nreturn M\n"
    texts["lua/usage/fake_user.lua"] = "local d = require 'x'\nd." .. used .. "()\n"
    finally(function()
      texts["lua/usage/base/fake_dead.lua"], texts["lua/usage/fake_user.lua"] = nil, nil
      names_of["lua/usage/fake_user.lua"] = nil
    end)
    assert.same({ dead }, unused("lua/usage/base/fake_dead.lua"))
  end)
end)
