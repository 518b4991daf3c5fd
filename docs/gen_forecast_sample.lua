-- Prints the sample outputs of docs/forecast.md from synthetic daily rows (spec/forecast_docs_spec.lua checks
-- that the page shows exactly what this prints):
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/lua5.4/?.so;;' lua5.4 docs/gen_forecast_sample.lua CASE OUTPUT
-- CASE: worked (round figures, redone by hand in the page) or org (a 1,000-seat CX 3 organization with a
-- runaway client); OUTPUT: text, plugin, json (a few fields), prometheus.

local forecast = require "usage.forecast"
local interval = require "usage.base.interval"
local json = require "usage.base.json"

local case, output = arg[1], arg[2]
local M = 1000000

-- rows(now, fn): fn(date, weekday 1..7 Monday..Sunday, day number) -> { { id, name, requests }, ... }
local function rows(now, fn)
  local span = forecast.span(now)
  local out = {}
  for d = span.first_day, span.last_day do
    local date = interval.date(d)
    for _, c in ipairs(fn(date, (d + 3) % 7 + 1, d)) do
      out[#out + 1] = { date = date, client_id = c[1], client_name = c[2], requests = c[3] }
    end
  end
  return out
end

local cases = {}

-- The worked example of the page: CRM Sync makes 4 M requests a weekday and 1.5 M a day at weekends, except
-- 3.6 M a weekday in the week of 20-26 February; Recording Export makes 5 M a day from 10 March. Today: 20 March.
function cases.worked()
  local now = assert(interval.parse_instant("2026-03-20T07:30:00Z"))
  return now, rows(now, function(date, wd)
    local v = wd >= 6 and 1.5 * M or 4 * M
    if wd < 6 and date >= "2026-02-20" and date <= "2026-02-26" then v = 3.6 * M end
    local out = { { "6f0c2d1e-crm", "CRM Sync", v } }
    if date >= "2026-03-10" then out[2] = { "9a41be07-rec", "Recording Export", 5 * M } end
    return out
  end)
end

-- A 1,000-seat CX 3 organization (140 M requests a month): eleven integrations from a few thousand to over
-- a million requests a day, quieter at weekends, +-10% from day to day; a bulk export stuck in a loop
-- since 9 March.
function cases.org()
  local now = assert(interval.parse_instant("2026-03-20T07:30:00Z"))
  local clients = {
    { "b7e2c1a0-0001", "Salesforce Bridge", 1150000, 0.3 }, { "b7e2c1a0-0002", "Quality Dashboard", 610000, 0.2 },
    { "b7e2c1a0-0003", "Data Lake Export", 520000, 1.0 }, { "b7e2c1a0-0004", "Zendesk Bridge", 420000, 0.4 },
    { "b7e2c1a0-0005", "WFM Sync", 380000, 0.8 }, { "b7e2c1a0-0006", "Wallboard", 290000, 1.0 },
    { "b7e2c1a0-0007", "Partner Portal", 240000, 0.5 }, { "b7e2c1a0-0008", "Chat Bot", 180000, 0.9 },
    { "b7e2c1a0-0009", "Survey Sender", 95000, 0.4 }, { "b7e2c1a0-0010", "Intranet Directory", 60000, 0.2 },
    { "b7e2c1a0-0011", "QA Harness (staging)", 8000, 0.1 },
  }
  local seed = 20260320
  local function rnd()
    seed = (seed * 16807) % 2147483647 -- exact in doubles too (LuaJIT)
    return seed / 2147483647
  end
  return now, rows(now, function(date, wd)
    local out = {}
    for _, c in ipairs(clients) do
      out[#out + 1] = { c[1], c[2], math.floor(c[3] * (wd >= 6 and c[4] or 1) * (0.9 + 0.2 * rnd())) }
    end
    if date >= "2026-03-09" then
      out[#out + 1] = { "c03d9f55-0bad", "Recording Bulk Export", math.floor(3900000 * (0.95 + 0.1 * rnd())) }
    end
    return out
  end)
end

if not cases[case] or not ({ text = true, plugin = true, json = true, prometheus = true })[output] then
  io.stderr:write("usage: gen_forecast_sample.lua worked|org text|plugin|json|prometheus\n")
  os.exit(2)
end

local now, data = cases[case]()
local result = assert(forecast.compute {
  now = now, org = "acme", rows = data, allowance = assert(forecast.allowance { licenses = "cx3=1000" }),
})

if output == "text" then
  io.write(forecast.text(result))
elseif output == "plugin" then
  local out, status = forecast.plugin(result)
  io.write(out, "(exit status ", status, ")\n")
elseif output == "json" then
  -- a few fields of the document, one per line
  local doc = forecast.document(result)
  local keep = {
    { "month_to_date", { requests = doc.month_to_date.requests, days = doc.month_to_date.days } },
    { "projection.requests", doc.projection.requests },
    { "projection.estimated", { requests = doc.projection.estimated.requests, days = doc.projection.estimated.days } },
    { "projection.band", doc.projection.band },
    { "method.weekdays[5]", doc.method.weekdays[5] },
    { "method.weeks[1]", doc.method.weeks[1] },
    { "inputs.days[1]", doc.inputs.days[1] },
  }
  for _, k in ipairs(keep) do io.write(k[1], ": ", json.encode(k[2]), "\n") end
else
  io.write(forecast.prometheus(result, { max_clients = 3 }))
end
