-- The layers of docs/architecture.md hold: every lua/usage/**.lua belongs to one layer of the doc's table,
-- requires only modules of its own layer or a lower one, and the requires form no cycle. The table is
-- parsed from the doc, so the doc stays true; the requires are read from the source (a small Lua lexer:
-- comments and the text of strings never count), so a require anywhere in a file counts, at the top or
-- inside a function.

local read_file = require("support.nginx").read_file

-- every lua/usage/**.lua as module name -> path
local function modules()
  local out = {}
  local p = io.popen("find lua/usage -name '*.lua' | sort")
  for path in p:lines() do
    local name = path:gsub("^lua/", ""):gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")
    out[name] = path
  end
  p:close()
  return out
end

-- the requires of a Lua source: require "x", require 'x', require("x"), require [[x]] (string literals
-- only; a require of a computed name is reported so that it cannot hide an edge)
local function requires(src)
  local out, dynamic = {}, {}
  local i, n = 1, #src
  local last_word, last_line = nil, 1
  local line = 1
  local function long_bracket(at)
    local eqs = src:match("^%[(=*)%[", at)
    if not eqs then return nil end
    local close = "]" .. eqs .. "]"
    local s = at + #eqs + 2
    local e = src:find(close, s, true)
    if not e then error("unfinished long bracket at line " .. line) end
    return src:sub(s, e - 1), e + #close
  end
  while i <= n do
    local c = src:sub(i, i)
    if c == "\n" then
      line = line + 1
      i = i + 1
    elseif src:sub(i, i + 1) == "--" then
      local body, after = long_bracket(i + 2)
      if body then
        for _ in body:gmatch("\n") do line = line + 1 end
        i = after
      else
        local e = src:find("\n", i, true) or n + 1
        i = e
      end
    elseif c == '"' or c == "'" then
      local j = i + 1
      local buf = {}
      while true do
        local d = src:sub(j, j)
        if d == "" then error("unfinished string at line " .. line) end
        if d == "\\" then
          buf[#buf + 1] = src:sub(j, j + 1)
          j = j + 2
        elseif d == c then
          break
        else
          buf[#buf + 1] = d
          j = j + 1
        end
      end
      local text = table.concat(buf)
      if last_word == "require" then out[#out + 1] = { name = text, line = line } end
      last_word = nil
      i = j + 1
    elseif c == "[" and src:match("^%[=*%[", i) then
      local body, after = long_bracket(i)
      if last_word == "require" then out[#out + 1] = { name = body, line = line } end
      for _ in body:gmatch("\n") do line = line + 1 end
      last_word = nil
      i = after
    elseif c:match("[%a_]") then
      local word = src:match("^[%w_]+", i)
      if last_word == "require" then dynamic[#dynamic + 1] = line end
      last_word, last_line = word, line
      i = i + #word
    elseif c == "(" or (c == "," and last_word == "require") then
      i = i + 1 -- require("x"), pcall(require, "x"): the string comes next
    elseif c:match("%s") then
      i = i + 1
    else
      if last_word == "require" and last_line == line and c ~= "(" then dynamic[#dynamic + 1] = line end
      last_word = nil
      i = i + 1
    end
  end
  return out, dynamic
end

-- the layer table of docs/architecture.md: an array of { name, patterns = { "usage.base.*", "usage" } }
local function layers()
  local doc = assert(read_file("docs/architecture.md"))
  local section = assert(doc:match("\n## The layers\n(.-)\n## "), "docs/architecture.md: no '## The layers' section")
  local out = {}
  for row in section:gmatch("\n(|[^\n]+)") do
    local name, cell = row:match("^| ([^|]-) | ([^|]-) |")
    if name and not name:match("^layer") and not name:match("^%-%-%-") then
      local patterns = {}
      for p in cell:gmatch("`([^`]+)`") do patterns[#patterns + 1] = p end
      assert(#patterns > 0, "layer " .. name .. " names no module")
      out[#out + 1] = { name = name, patterns = patterns }
    end
  end
  return out
end

local function matches(pattern, name)
  if pattern:sub(-2) == ".*" then
    local prefix = pattern:sub(1, -2) -- "usage.base."
    return name:sub(1, #prefix) == prefix
  end
  return name == pattern
end

describe("the layers of docs/architecture.md", function()
  local mods = modules()
  local table_ = layers()

  -- module name -> layer index (raises on a module in no layer or in two)
  local function layer_of(name)
    local found
    for i, l in ipairs(table_) do
      for _, p in ipairs(l.patterns) do
        if matches(p, name) then
          assert(not found or found == i, name .. " is in two layers: " .. tostring(table_[found or i].name) ..
                                          " and " .. l.name)
          found = i
        end
      end
    end
    return found
  end

  it("the lexer sees requires and only requires", function()
    local got, dynamic = requires([==[
      local a = require "usage.base.json"   -- require "not.this"
      local b = require('usage.api.limits')
      local c = require [[usage.flows]]
      --[[ require "nor.this" ]]
      local s = "require 'not.a.require'"
      local d = require(name)
      local ok, e = pcall(require, "ngx.semaphore")
    ]==])
    local names = {}
    for _, r in ipairs(got) do names[#names + 1] = r.name end
    assert.same({ "usage.base.json", "usage.api.limits", "usage.flows", "ngx.semaphore" }, names)
    assert.same({ 6 }, dynamic)
  end)

  it("has the layers of the target layout, from the C core to the command line", function()
    local names = {}
    for i, l in ipairs(table_) do names[i] = l.name end
    assert.same({ "C core", "base", "api", "runtime", "exchange", "flows", "client", "services", "facade",
                  "command line" }, names)
  end)

  it("puts every module of lua/usage in exactly one layer, and names no module that is not there", function()
    local n = 0
    for name in pairs(mods) do
      n = n + 1
      assert.truthy(layer_of(name), name .. " (" .. mods[name] .. ") is in no layer of docs/architecture.md")
    end
    assert.is_true(n > 50, n)
    for _, l in ipairs(table_) do
      for _, p in ipairs(l.patterns) do
        local any = p == "usage.core"
        for name in pairs(mods) do any = any or matches(p, name) end
        assert.truthy(any, "docs/architecture.md names " .. p .. " (" .. l.name .. "), which is no module")
      end
    end
  end)

  -- the edges: module -> { required module, line }
  local edges = {}
  for name, path in pairs(mods) do
    local got, dynamic = requires(assert(read_file(path)))
    edges[name] = { list = got, dynamic = dynamic, path = path }
  end

  it("reads every require as a string: no require of a computed name", function()
    for name, e in pairs(edges) do
      assert.same({}, e.dynamic, name .. ": a require of a computed name at line(s) " .. table.concat(e.dynamic, ", "))
    end
  end)

  -- upward(edges) -> the edges that go up, as lines
  local function upward(graph)
    local out = {}
    for name, e in pairs(graph) do
      local from = layer_of(name)
      for _, r in ipairs(e.list) do
        if r.name == "usage" or r.name:match("^usage%.") then
          local to = layer_of(r.name)
          assert.truthy(to, e.path .. ":" .. r.line .. " requires " .. r.name .. ", in no layer")
          if to > from then
            out[#out + 1] = string.format("%s:%d: %s (%s) requires %s (%s)", e.path, r.line, name,
                                          table_[from].name, r.name, table_[to].name)
          end
        end
      end
    end
    table.sort(out)
    return out
  end

  -- cycle(graph) -> "a -> b -> a" | nil (a module requiring itself is a cycle too)
  local function cycle_of(graph)
    local state, stack, cycle = {}, {}, nil
    local function visit(name)
      state[name] = "open"
      stack[#stack + 1] = name
      for _, r in ipairs(graph[name].list) do
        local to = r.name
        if cycle then return end
        if graph[to] then
          if state[to] == "open" then
            local from
            for i, s in ipairs(stack) do if s == to then from = i end end
            cycle = table.concat(stack, " -> ", from) .. " -> " .. to
            return
          elseif not state[to] then
            visit(to)
          end
        end
      end
      stack[#stack] = nil
      state[name] = "done"
    end
    local names = {}
    for name in pairs(graph) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do
      if not state[name] and not cycle then visit(name) end
    end
    return cycle
  end

  it("requires nothing upward: a module requires its own layer or a lower one", function()
    assert.same({}, upward(edges))
  end)

  it("has no cycle among the requires", function()
    local cycle = cycle_of(edges)
    assert.is_nil(cycle, "a cycle of requires: " .. tostring(cycle))
  end)

  it("would see an upward edge and a cycle (the checks can fail)", function()
    local function mod(path, src) return { path = path, list = (requires(src)) } end
    local bad = {
      ["usage.base.text"] = mod("lua/usage/base/text.lua", 'local f = require "usage.cli.failure"'),
      ["usage.cli.failure"] = mod("lua/usage/cli/failure.lua", 'local u = require("usage")'),
      ["usage"] = mod("lua/usage/init.lua", 'local t = require "usage.base.text"'),
    }
    assert.same({ "lua/usage/base/text.lua:1: usage.base.text (base) requires usage.cli.failure (command line)" },
                upward(bad))
    assert.equal("usage -> usage.base.text -> usage.cli.failure -> usage", cycle_of(bad))
    assert.equal("usage.x -> usage.x", cycle_of { ["usage.x"] = mod("x", 'require "usage.x"') })
  end)
end)
