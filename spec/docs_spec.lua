-- The docs that derive from code are current, and the README covers the public API.
local read_file = require("support.nginx").read_file
local function read(path) return assert(read_file(path), "cannot read " .. path) end

describe("docs", function()
  it("docs/operations.md is what docs/gen_operations.lua writes from the operations table", function()
    local interp = jit and "luajit" or "lua5.4"
    local p = io.popen(interp .. " docs/gen_operations.lua")
    local generated = p:read("*a")
    p:close()
    assert.equal(generated, read("docs/operations.md"))
  end)

  it("docs/cli.md ends with the help of every command, as docs/gen_cli_help.lua prints it", function()
    local interp = jit and "luajit" or "lua5.4"
    local p = io.popen(interp .. " docs/gen_cli_help.lua")
    local generated = p:read("*a")
    p:close()
    local doc = read("docs/cli.md")
    local marker = "a spec\nchecks that they are current).\n"
    local at = doc:find(marker, 1, true)
    assert.truthy(at, "docs/cli.md lacks the reference section")
    assert.equal(generated, doc:sub(at + #marker), "docs/cli.md: run `lua5.4 docs/gen_cli_help.lua` for its reference")
  end)

  it("the README starts with make demo and make test", function()
    local readme = read("README.md")
    local demo = readme:find("make demo", 1, true)
    local test = readme:find("make test", 1, true)
    assert.truthy(demo and test)
    assert.is_true(demo < 200 and test < 300)
  end)

  it("the README documents every client method and every flow", function()
    local readme = read("README.md")
    for _, op in ipairs(require("usage.api.operations").list) do
      assert.truthy(readme:find(op.name, 1, true), op.name .. " missing from README.md")
    end
    for _, flow in ipairs { "client:query", "client:client_query", "client:client_summary", "client:search",
                            "client:aggregates", "client:client_aggregates", "usage.gather", "genesys-usage" } do
      assert.truthy(readme:find(flow, 1, true), flow .. " missing from README.md")
    end
  end)

  it("the README's client options are the options usage.new accepts, all of them", function()
    local readme = read("README.md")
    local usage = require "usage"
    local section = assert(readme:match("### Creating a client(.-)\n### "), "README.md: no '### Creating a client'")
    -- every name in backquotes in the first column of the option table
    local documented, n = {}, 0
    for cell in section:gmatch("\n| ([^|\n]+) |") do
      for name in cell:gmatch("`([%w_]+)`") do
        if not documented[name] then documented[name], n = true, n + 1 end
      end
    end
    local accepted, m = {}, 0
    for _, name in ipairs(require("usage.api.params").client.names) do accepted[name], m = true, m + 1 end
    assert.is_true(m >= 20, m)
    for name in pairs(accepted) do assert.truthy(documented[name], name .. " is missing from the README's table") end
    for name in pairs(documented) do
      assert.truthy(accepted[name], name .. " is in the README's table but not an option")
      local _, err = pcall(usage.new, { access_token = "t0k3n-0k", [name] = {} })
      assert.is_nil(tostring(err):find("'" .. name .. "' is unknown", 1, true), name)
    end
    assert.equal(m, n)
    -- the check itself can fail: an unknown option is refused as such
    local _, err = pcall(usage.new, { access_token = "t0k3n-0k", no_such_option = {} })
    assert.truthy(tostring(err):find("'no_such_option' is unknown", 1, true), tostring(err))
  end)

  it("the repository stands alone: no file points at the references outside it (docs/service.md instead)", function()
    -- (the names are built here, so that this file does not name them itself)
    local names = { "API" .. "-FACTS", "API" .. "_FACTS", "DESIGN" .. ".md", "/work/" .. "shared" }
    local p = io.popen("git ls-files 2>/dev/null || find . -type f -not -path './.git/*' -not -path './build/*' | sed 's#^\\./##'")
    local hits, n = {}, 0
    for path in p:lines() do
      if not path:match("^fuzz/corpus/") then
        local text = read_file(path)
        if text then
          n = n + 1
          for _, name in ipairs(names) do
            if text:find(name, 1, true) then hits[#hits + 1] = path .. ": " .. name end
          end
        end
      end
    end
    p:close()
    assert.is_true(n > 100, n)
    assert.same({}, hits)
  end)

  it("examples/quickstart.lua runs against the fake cloud #integration", function()
    local H = require "helper"
    local fake = H.start()
    finally(function() fake:stop() end)
    local interp = jit and "luajit" or "lua5.4"
    local p = io.popen("GENESYS_USAGE_BASE_URL=" .. fake.base_url .. " LUA_PATH='lua/?.lua;lua/?/init.lua;;' " ..
                       "LUA_CPATH='build/" .. interp .. "/?.so;;' " .. interp .. " examples/quickstart.lua 2>&1; echo \"exit=$?\"")
    local out = p:read("*a")
    p:close()
    assert.matches("exit=0", out, 1, true)
    local days = require("usage").interval.days(7)
    assert.matches("Top OAuth clients, " .. days.label .. " (UTC):", out, 1, true)
    assert.matches(require("usage").interval.last_month().label .. ": %d+ endpoints", out)
    assert.matches("raw call:%s+usage: HTTP 404", out)
  end)
end)
