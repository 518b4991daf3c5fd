-- usage.forecast against the fake cloud: one aggregates job over the days the method needs, and figures equal
-- to those recomputed independently (spec/support/forecast_recompute.lua) from the raw rows the fake served.
-- Nothing here depends on the fake's particular volumes: the expectations come from its raw records.
local H = require "helper"
local forecast = require "usage.forecast"
local interval = require "usage.base.interval"
local json = require "usage.base.json"
local recompute = require("support.forecast_recompute").recompute

local HOME = "d89a08f4-0a78-436c-9a69-7f980fb26104" -- the fake's home organization

describe("usage.forecast against the fake cloud", function()
  local fake
  setup(function() fake = H.start() end)
  teardown(function() if fake then fake:stop() end end)
  before_each(function() fake:reset() end)

  local function dump()
    return "\n--- fake error log:\n" .. fake:error_log():sub(-3000)
  end

  it("one job, grouped by client and day, over the 1st of last month through yesterday", function()
    local now = os.time()
    local allowance = assert(forecast.allowance { licenses = "cx3=1000" })
    local r, err = forecast.from_api(H.client(fake), { now = now, allowance = allowance, org = "acme" })
    assert(r, tostring(err) .. dump())
    local posts = H.requests(fake, "/api/v2/usage/aggregates/query/jobs$", "POST")
    assert.equal(1, #posts)
    local body = json.decode(posts[1].body)
    local span = forecast.span(now)
    assert.equal(span.jobs, body.interval)
    assert.equal("Day", body.granularity)
    assert.same({ "OauthClientId", "OauthClientName" }, body.groupBy)
    assert.same({ "Requests" }, body.metrics)
    assert.equal("api", r.source.kind)
    assert.equal(span.first, r.inputs.first)
    assert.equal(span.last, r.inputs.last)
  end)

  it("its figures equal those recomputed from the raw rows the fake served", function()
    local now = os.time()
    local A = 140000000
    local r, err = forecast.from_api(H.client(fake), { now = now, allowance = A, org = "acme" })
    assert(r, tostring(err) .. dump())
    local span = forecast.span(now)
    if interval.date(interval.day_of(os.time())) ~= r.today.date then
      pending("the UTC day changed during the spec: run it again")
      return
    end
    local raw = fake:data(span.first, span.last, { scope = "org" })
    assert.is_true(#raw > 0)
    local data, known, names = {}, {}, {}
    for d = span.first_day, span.last_day do known[interval.date(d)] = true end
    for _, row in ipairs(raw) do
      assert.equal(HOME, row.organizationId)
      data[row.clientId] = data[row.clientId] or {}
      data[row.clientId][row.date] = (data[row.clientId][row.date] or 0) + row.requests
      names[row.clientId] = row.clientName
    end
    local want = recompute(data, known, r.today.date, A)
    assert.equal(want.mtd, r.month_to_date.requests)
    assert.equal(want.projection, r.projection and r.projection.requests)
    assert.equal(want.low, r.projection.band and r.projection.band.low)
    assert.equal(want.high, r.projection.band and r.projection.band.high)
    local n = 0
    for id in pairs(want.clients) do
      n = n + 1
      local found
      for _, c in ipairs(r.clients) do if c.id == id then found = c end end
      assert.truthy(found, "client " .. id .. " missing")
      assert.equal(names[id], found.name)
      assert.equal(want.clients[id], found.projection.requests, found.name)
    end
    assert.equal(n, #r.clients)
    -- every output renders the same figures
    local out, status = forecast.plugin(r)
    assert.truthy(out:find("'projected'=" .. string.format("%.0f", r.projection.requests) .. ";", 1, true), out)
    assert.is_true(status >= 0 and status <= 2)
    assert.truthy(forecast.text(r):find(require("usage.base.text").thousands(r.projection.requests), 1, true))
    assert.equal(r.projection.requests, json.decode(forecast.json(r)).projection.requests)
  end)

  it("a failing job gives nil and the error, and the plugin says UNKNOWN", function()
    fake:fault { fault = "job_failed", count = 1 }
    local r, err = forecast.from_api(H.client(fake), { allowance = 1000 })
    assert.is_nil(r)
    assert.equal("query_failed", err.code)
    local out, status = forecast.plugin_unknown(tostring(err))
    assert.equal(3, status)
    assert.truthy(out:find("^GENESYS USAGE UNKNOWN %- "))
  end)
end)
