-- What differs between the Luas the rockspec promises (5.1, 5.2, 5.3, 5.4, LuaJIT 2.1), checked under each
-- by the unit layer (`make unit`): the C core loads with its features, counts are exact integers where Lua
-- has them and doubles exact to 2^53 elsewhere, text of numbers is the same everywhere, gather gives the
-- same answers (one after another on PUC Lua 5.1, which cannot yield across pcall), logarithms with a
-- base, and the command line starts.

local core = require "usage.core"
local json = require "usage.base.json"
local text = require "usage.base.text"
local nginx = require "support.nginx"

local LUAJIT = type(jit) == "table"
local VERSION = _VERSION:match("%d+%.%d+")
local INTEGERS = math.type ~= nil -- an integer subtype: 5.3 and later
local INTERP = LUAJIT and "luajit" or ("lua" .. VERSION)

describe("every Lua the rockspec promises", function()
  it("loads the core built for this interpreter, which knows whether Lua has integers", function()
    local path = package.searchpath and package.searchpath("usage.core", package.cpath)
    -- build/<interpreter>, or its sanitized twin build/asan-<interpreter> under make asan
    if path then assert.matches("build/[%w%-]*" .. INTERP:gsub("%.", "%%.") .. "/usage/core%.so$", path) end
    assert.equal(INTEGERS, core.features.integers)
    assert.equal("0.2.0", core._VERSION)
  end)

  it("gives counts as integers on 5.3+, and as doubles exact to 2^53 on 5.1, 5.2 and LuaJIT", function()
    local big = core.parse_uint("9007199254740993") -- 2^53 + 1
    local text_of = '{"count": 9007199254740993, "small": 2147483648}'
    local data, why = json.decode(text_of)
    if INTEGERS then
      -- the C bridge reads long integer literals from the text: exact past 2^53 (lua-cjson alone gives 2^53)
      assert(data, why)
      assert.equal("integer", math.type(big))
      assert.equal(9007199254740993, big)
      assert.equal(9007199254740993, data.count)
      assert.equal("integer", math.type(data.count))
      assert.equal("integer", math.type(data.small))
    else
      assert.equal(2 ^ 53, big) -- the nearest double: 2^53 + 1 has none
      -- a count these numbers cannot hold is refused, never rounded
      assert.is_nil(data)
      assert.truthy(tostring(why):find("2^53", 1, true), why)
      data = assert(json.decode('{"small": 2147483648}'))
    end
    assert.equal(2147483648, data.small)
    assert.equal(2 ^ 53 - 1, core.parse_uint("9007199254740991")) -- exact everywhere
    -- as text: whole numbers in full, never 1e+15, in every Lua
    assert.equal("9007199254740991", text.number(core.parse_uint("9007199254740991")))
    assert.equal("1,000,000,000,000,000", text.thousands(core.parse_uint("1000000000000000")))
    assert.equal('{"n":3000000000,"x":0.5}', json.encode { n = core.parse_uint("3000000000"), x = 0.5 })
    assert.equal("2.5", text.number(2.5))
  end)

  it("runs gathered functions to the same answers, concurrently where a coroutine can yield across pcall", function()
    local gather = require "usage.runtime.gather"
    assert.equal(VERSION ~= "5.1" or LUAJIT, gather.concurrent)
    local usage = require "usage"
    local order = {}
    local results, errs = usage.gather {
      function() order[#order + 1] = "a"; return 1 end,
      function() order[#order + 1] = "b"; return nil, "no" end,
      function() error("raised", 0) end,
      function() return select(2, pcall(error, "inside a pcall", 0)) end,
    }
    assert.same({ 1 }, { results[1] })
    assert.same({ nil, "no" }, { results[2], errs[2] })
    assert.equal("raised", errs[3])
    assert.equal("inside a pcall", results[4])
    assert.same({ "a", "b" }, order)
    -- a wait of the runtime inside a gathered function (a yield there, a sleep on PUC 5.1)
    local rt = require "usage.runtime"
    local t0 = core.now()
    results = usage.gather { function() return rt.current().sleep(0.01) end, function() return rt.current().name end }
    assert.is_true(results[1])
    assert.equal(gather.concurrent and "gather" or "blocking", results[2])
    assert.is_true(core.now() - t0 >= 0.009)
  end)

  it("draws logarithmic axes with powers of ten (math.log has no base on 5.1)", function()
    local chart = require "usage.cli.report.chart"
    local days = { "2026-01-01", "2026-01-02" }
    local function client(id, peak)
      return { id = id, name = id, requests = peak,
               daily = { [days[1]] = { requests = 1 }, [days[2]] = { requests = peak } } }
    end
    local svg = chart.svg({ days = days, clients = { client("big", 20000), client("small", 5) } }, { scale = "auto" })
    assert.matches("log scale", svg, 1, true)
    -- the y axis ticks of a log scale from 1 to 20,000: 1, 10, 100, 1K, 10K, 100K
    for _, want in ipairs { ">1<", ">10<", ">100<", ">1K<", ">10K<", ">100K<" } do
      assert.matches(want, svg, 1, true)
    end
    assert.is_nil(svg:find(">1e", 1, true))
  end)

  it("starts the command line (help and version need no server)", function()
    local cmd = "cd " .. nginx.sh_quote(nginx.absolute(".")) .. " && LUA_PATH='lua/?.lua;lua/?/init.lua;;' " ..
                "LUA_CPATH='build/" .. INTERP .. "/?.so;;' " .. INTERP .. " bin/genesys-usage "
    for _, args in ipairs { "--version", "--help", "help aggregates" } do
      local p = assert(io.popen(cmd .. args .. " 2>&1; echo \"exit=$?\""))
      local out = p:read("*a")
      p:close()
      assert.matches("exit=0\n$", out, nil, false)
      assert.is_nil(out:find("internal error", 1, true), out)
    end
  end)
end)
