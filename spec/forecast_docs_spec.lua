-- docs/forecast.md shows real output (what docs/gen_forecast_sample.lua prints), every family of the
-- forecast's gauges, the licences table as the data holds it, and every public function.
local forecast = require "usage.forecast"
local licenses = require "usage.forecast.licenses"
local nginx = require "support.nginx"

local doc = assert(nginx.read_file("docs/forecast.md"))

describe("docs/forecast.md", function()
  it("shows what docs/gen_forecast_sample.lua prints", function()
    local interp = jit and "luajit" or "lua5.4"
    local build = jit and "build/luajit" or "build/lua5.4"
    local n = 0
    for case, output, block in doc:gmatch("<!%-%- sample: docs/gen_forecast_sample%.lua (%w+) (%w+) %-%->\n```text\n(.-)```") do
      local p = io.popen("LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='" .. build .. "/?.so;;' " .. interp ..
        " docs/gen_forecast_sample.lua " .. case .. " " .. output .. " 2>&1")
      local generated = p:read("*a")
      p:close()
      assert.truthy(#generated > 100, generated)
      assert.equal(generated, block, "docs/forecast.md, sample " .. case .. " " .. output ..
        ": run the generator again (see the top of docs/gen_forecast_sample.lua)")
      n = n + 1
    end
    assert.equal(5, n)
  end)

  it("lists every family of the gauges and every alert of the rule file", function()
    for _, f in ipairs(forecast.FAMILIES) do
      assert.truthy(doc:find("`" .. f.name .. "`", 1, true), f.name .. " is not in docs/forecast.md")
    end
    local rules = assert(nginx.read_file("examples/prometheus/genesys-usage-rules.yml"))
    local n = 0
    for name in rules:gmatch("alert: (%w+)") do
      assert.truthy(doc:find("`" .. name .. "`", 1, true), name .. " is not in docs/forecast.md")
      n = n + 1
    end
    assert.equal(5, n)
  end)

  it("holds the licences table the data holds, naming its source", function()
    local function fmt(n) return n and require("usage.base.text").thousands(n) or "-" end
    for _, t in ipairs(licenses.TIERS) do
      local row = "| " .. t.name .. " | `" .. t.key .. "`"
      local at = doc:find(row, 1, true)
      assert.truthy(at, "no row for " .. t.name)
      local line = doc:sub(at, doc:find("\n", at, true))
      assert.truthy(line:find("| " .. fmt(t.named) .. " | " .. fmt(t.concurrent) .. " |", 1, true), line)
    end
    assert.truthy(doc:find("Genesys Resource Center", 1, true))
    assert.truthy(doc:find("fair use policy", 1, true))
  end)

  it("documents every public function", function()
    for k, v in pairs(forecast) do
      if type(v) == "function" then
        assert.truthy(doc:find("`forecast%." .. k .. "[( ]"), "forecast." .. k .. " is not in the reference")
      end
    end
  end)
end)
