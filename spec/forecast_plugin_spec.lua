-- usage.forecast.plugin: the output is read strictly by the Monitoring Plugins Development Guidelines
-- (status line "SERVICE STATUS - text | perfdata", then detail lines; perfdata
-- 'label'=value[UOM];[warn];[crit];[min];[max]; exit status 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN), and each
-- status boundary is checked.
local forecast = require "usage.forecast"
local plugin = require "usage.forecast.plugin"
local interval = require "usage.base.interval"

local UOMS = { [""] = true, s = true, ms = true, us = true, ["%"] = true, B = true, KB = true, MB = true,
               TB = true, c = true }
local NUMBER = "^%-?%d*%.?%d+$"

local function number(s, what)
  assert(s:match(NUMBER) or s:match("^%-?%d+%.?$"), what .. ": not a plain decimal number: '" .. s .. "'")
  return assert(tonumber(s), what)
end

-- a threshold in the range format: [@][start:]end, start "~" for minus infinity, end empty for infinity
local function range(s, what)
  if s == "" then return nil end
  local body = s:gsub("^@", "")
  local a, b = body:match("^([^:]*):(.*)$")
  if not a then a, b = "0", body end
  if a ~= "~" and a ~= "" then number(a, what .. " start") end
  if b ~= "" then number(b, what .. " end") end
  return s
end

-- parse_perfdata(text) -> array of { label, value, uom, warn, crit, min, max }; raises on anything the
-- guidelines do not allow
local function parse_perfdata(s)
  local out, i, n = {}, 1, #s
  while true do
    i = s:find("[^ ]", i)
    if not i then break end
    local label
    if s:sub(i, i) == "'" then
      local buf, j = {}, i + 1
      while true do
        local c = s:sub(j, j)
        assert(c ~= "", "unterminated quoted label in: " .. s)
        if c == "'" then
          if s:sub(j + 1, j + 1) == "'" then buf[#buf + 1] = "'" j = j + 2 else break end
        else
          buf[#buf + 1] = c
          j = j + 1
        end
      end
      label, i = table.concat(buf), j + 1
    else
      label = s:match("^[^ =']+", i)
      assert(label, "bad label at byte " .. i .. " of: " .. s)
      i = i + #label
    end
    assert(label ~= "", "an empty label")
    assert(not label:find("=", 1, true), "a label with '=': " .. label)
    assert(not label:find("[%c|]"), "a label with a control character or |: " .. label)
    assert(s:sub(i, i) == "=", "expected '=' after the label " .. label)
    local item = s:match("^[^ ]+", i + 1)
    assert(item, "no value for " .. label)
    i = i + 1 + #item
    local value, uom, rest = item:match("^([%-%d%.]+)([^;%d%-%.]*)(.*)$")
    assert(value, label .. ": bad value in " .. item)
    assert(UOMS[uom], label .. ": unknown unit '" .. uom .. "'")
    local fields = {}
    assert(rest == "" or rest:sub(1, 1) == ";", label .. ": garbage after the value: " .. rest)
    for f in rest:gmatch(";([^;]*)") do fields[#fields + 1] = f end
    assert(#fields <= 4, label .. ": more than warn;crit;min;max")
    out[#out + 1] = {
      label = label, value = number(value, label), uom = uom,
      warn = range(fields[1] or "", label .. " warn"), crit = range(fields[2] or "", label .. " crit"),
      min = (fields[3] or "") ~= "" and number(fields[3], label .. " min") or nil,
      max = (fields[4] or "") ~= "" and number(fields[4], label .. " max") or nil,
    }
  end
  return out
end

local WORDS = { OK = 0, WARNING = 1, CRITICAL = 2, UNKNOWN = 3 }

-- parse(output, status) -> { status word, text, perf (by label), details (lines) }: the whole plugin output
local function parse(out, status)
  assert.equal("\n", out:sub(-1), "the output must end with a newline")
  local lines = {}
  for l in out:gmatch("([^\n]*)\n") do lines[#lines + 1] = l end
  assert.is_true(#lines >= 1)
  local first = lines[1]
  local bar = first:find("|", 1, true)
  local text = bar and first:sub(1, bar - 1) or first
  local word, rest = text:match("^GENESYS USAGE (%u+) %- (.+)$")
  assert(word, "bad status line: " .. first)
  assert(WORDS[word], "unknown status word " .. word)
  assert.equal(WORDS[word], status, "the exit status and the status word disagree")
  assert.is_nil(text:find("[%c]"))
  local perf = {}
  if bar then
    for _, p in ipairs(parse_perfdata(first:sub(bar + 1))) do
      assert.is_nil(perf[p.label], "label given twice: " .. p.label)
      perf[p.label] = p
    end
  end
  for k = 2, #lines do
    assert.is_nil(lines[k]:find("|", 1, true), "a detail line with '|' starts performance data: " .. lines[k])
    assert.is_nil(lines[k]:find("%c"), "a control character in: " .. lines[k])
  end
  return { word = word, text = rest, perf = perf, details = { (table.unpack or unpack)(lines, 2) } }
end

local function at(s) return assert(interval.parse_instant(s)) end

-- on 1 April, 40,000 requests every day of March: the projection is 30 x 40,000 = 1,200,000 exactly
local function april_first(allowance, opts)
  local now = at("2026-04-01T06:00:00Z")
  local span = forecast.span(now)
  local rows = {}
  for d = span.first_day, span.last_day do
    rows[#rows + 1] = { date = interval.date(d), client_id = "a", client_name = "A", requests = 40000 }
  end
  local r = assert(forecast.compute { now = now, org = "acme", allowance = allowance, rows = rows })
  assert.equal(1200000, r.projection.requests)
  return forecast.plugin(r, opts)
end

describe("usage.forecast.plugin", function()
  it("follows the guidelines' parser itself (a self-check of this spec's parser)", function()
    local p = parse_perfdata("'a b'=1;2;3;0;10 c=5% 'it''s'=0.5s;~:10;@5:8 d=10c;;;0")
    assert.equal("a b", p[1].label)
    assert.equal(10, p[1].max)
    assert.equal("%", p[2].uom)
    assert.equal("it's", p[3].label)
    assert.equal("~:10", p[3].warn)
    assert.equal("c", p[4].uom)
    for _, bad in ipairs { "a=1x", "'a=1", "a b=1", "a=1e5", "a=1;2;3;4;5;6", "=1", "a==1", "a=1;x" } do
      assert.has_error(function() parse_perfdata(bad) end, nil, bad)
    end
  end)

  it("80% exactly is OK, one request more is WARNING, 100% exactly WARNING, above it CRITICAL", function()
    local cases = {
      { 1500000, "OK" },          -- 1,200,000 / 1,500,000 = 80%
      { 1499999, "WARNING" },     -- 80.00005%
      { 1200000, "WARNING" },     -- 100%: the allowance used up, no overage yet
      { 1199999, "CRITICAL" },    -- 100.00008%
      { 5000000, "OK" },
    }
    for _, c in ipairs(cases) do
      local out, status = april_first(c[1])
      local p = parse(out, status)
      assert.equal(c[2], p.word, c[1] .. ": " .. out)
      assert.equal(1200000, p.perf.projected.value)
      assert.is_true(math.abs(c[1] * 0.8 - tonumber(p.perf.projected.warn)) < 1e-6)
      assert.equal(c[1], tonumber(p.perf.projected.crit))
      assert.equal(0, p.perf.projected.min)
      assert.equal("%", p.perf.projected_pct.uom)
      assert.equal("80", p.perf.projected_pct.warn)
      assert.equal("100", p.perf.projected_pct.crit)
      assert.equal(c[1], p.perf.allowance.value)
      assert.equal(0, p.perf.month_to_date.value)
      assert.equal(0, p.perf.month_to_date_days.value)
      assert.equal(30, p.perf.month_to_date_days.max)
    end
  end)

  it("takes other thresholds, as numbers or text, and refuses ranges", function()
    local _, status = april_first(1500000, { warning = 50, critical = "79.9" })
    assert.equal(plugin.CRITICAL, status)
    _, status = april_first(1500000, { warning = "79.99", critical = 90 })
    assert.equal(plugin.WARNING, status)
    local out
    out, status = april_first(1500000, { warning = 85, critical = 95 })
    assert.equal(plugin.OK, status)
    assert.equal("85", parse(out, status).perf.projected_pct.warn)
    for _, bad in ipairs { "10:20", "@80", "~:5", "-5", "eighty", "", "1e2" } do
      local t, err = plugin.thresholds(bad, nil)
      assert.is_nil(t, bad)
      assert.truthy(err:find("--warning", 1, true), bad)
    end
    assert.same({ warning = 80, critical = 100 }, plugin.thresholds())
    assert.has_error(function() april_first(1500000, { warning = "x" }) end)
  end)

  it("UNKNOWN when there is no projection, and for an error message, on one line without '|'", function()
    local now = at("2026-03-15T08:00:00Z")
    local r = assert(forecast.compute { now = now, allowance = 1000, rows = {}, known = {} })
    local out, status = forecast.plugin(r)
    local p = parse(out, status)
    assert.equal("UNKNOWN", p.word)
    assert.truthy(p.text:find("no day of history", 1, true))
    out, status = forecast.plugin_unknown("login failed | 401\nsecond line")
    p = parse(out, status)
    assert.equal("UNKNOWN", p.word)
    assert.equal(3, status)
    assert.equal("login failed / 401 second line", p.text)
  end)

  it("the runaway case reads like an answer, with the band and the called-out client", function()
    -- as in forecast_spec "a runaway client from the 10th": projected 256 M of 140 M
    local now = at("2026-03-20T09:00:00Z")
    local span = forecast.span(now)
    local rows = {}
    for d = span.first_day, span.last_day do
      local date = interval.date(d)
      rows[#rows + 1] = { date = date, client_id = "crm", client_name = "CRM Sync", requests = 3000000 }
      rows[#rows + 1] = { date = date, client_id = "wfm", client_name = "WFM Export", requests = 1000000 }
      if date >= "2026-03-10" then
        rows[#rows + 1] = { date = date, client_id = "run", client_name = "Runaway | 'Sync' = x\n", requests = 6000000 }
      end
    end
    local r = assert(forecast.compute { now = now, org = "acme", allowance = assert(forecast.allowance { licenses = "cx3=1000" }),
                                        rows = rows })
    local out, status = forecast.plugin(r, { perf_clients = 3 })
    local p = parse(out, status)
    assert.equal("CRITICAL", p.word)
    assert.equal(2, status)
    assert.truthy(p.text:find("projected 256,000,000 requests in March 2026, 182.9% of the allowance of 140,000,000",
      1, true), p.text)
    assert.truthy(p.text:find("runs out 20 March 2026", 1, true))
    assert.equal(256000000, p.perf.projected.value)
    assert.equal(256000000, p.perf.projected_low.value)
    assert.equal(136000000, p.perf.month_to_date.value)
    assert.equal(19, p.perf.month_to_date_days.value)
    -- the hostile client name: quoted, without ' = | or a newline, and still recognisable
    local found
    for label, item in pairs(p.perf) do
      if label:find("^client Runaway") then found = item end
    end
    assert.truthy(found, out)
    assert.equal("client Runaway / _Sync_ _ x ", found.label)
    assert.equal(132000000, found.value)
    local details = table.concat(p.details, "\n")
    assert.truthy(details:find("Month to date: 136,000,000 requests, 1-19 March 2026 (19 days)", 1, true))
    assert.truthy(details:find("Called out: Runaway / 'Sync' = x  (first request 10 March 2026): new: 6,000,000 requests a day", 1, true), details)
    assert.truthy(details:find("Runs out: 20 March 2026 at the current rate", 1, true))
  end)

  it("a new org without a band gives no band figures, and says why", function()
    local now = at("2026-03-15T08:00:00Z")
    local span = forecast.span(now)
    local rows = {}
    for d = span.first_day, span.last_day do
      local date = interval.date(d)
      if date >= "2026-03-08" then rows[#rows + 1] = { date = date, client_id = "a", requests = 4000000 } end
    end
    local r = assert(forecast.compute { now = now, allowance = 140000000, rows = rows })
    local out, status = forecast.plugin(r)
    local p = parse(out, status)
    assert.equal("OK", p.word)                -- 7 x 4 M + 17 x 4 M = 96 M: 68.6%
    assert.is_nil(p.perf.projected_low)
    assert.truthy(out:find("Band: none (fewer than two complete weeks", 1, true))
    assert.truthy(out:find("Note: projection from 7 days of history", 1, true))
  end)
end)
