-- usage.forecast: the method on synthetic daily rows whose answers are worked out by hand in the comments.
-- Dates: 1 March 2026 is a Sunday; March has 31 days, February 28, April 30. "M" = million requests.
local forecast = require "usage.forecast"
local interval = require "usage.base.interval"
local words = require "usage.forecast.words"

local M = 1000000

local function at(s) return assert(interval.parse_instant(s)) end

-- rows for every day of the forecast's span (1st of last month .. yesterday): fn(date, weekday) returns
-- { { id, name, requests }, ... } (weekday 1 = Monday .. 7 = Sunday)
local function gen(now, fn)
  local span = forecast.span(now)
  local rows = {}
  for d = span.first_day, span.last_day do
    local date = interval.date(d)
    for _, c in ipairs(fn(date, (d + 3) % 7 + 1) or {}) do
      rows[#rows + 1] = { date = date, client_id = c[1], client_name = c[2], requests = c[3] }
    end
  end
  return rows
end

local function run(now, rows, opts)
  local o = { now = now, org = "acme", allowance = 140 * M, rows = rows }
  for k, v in pairs(opts or {}) do o[k] = v end
  return assert(forecast.compute(o))
end

local function client(r, id)
  for _, c in ipairs(r.clients) do if c.id == id then return c end end
end

local function near(expected, actual, tolerance, what)
  assert(math.abs(expected - actual) <= (tolerance or 1), (what or "value") .. ": expected " .. expected ..
    ", got " .. tostring(actual))
end

local function has_note(r, pattern)
  for _, n in ipairs(r.notes) do if n:find(pattern) then return true end end
  return false
end

describe("usage.forecast.compute", function()
  it("a flat 4 M a day org: month to date, projection, no overage, a zero-width band", function()
    -- now 15 March 10:00: today (15th) not counted. Month to date 1-14 March = 14 x 4 M = 56 M.
    -- Every weekday's mean over 15 Feb - 14 Mar is 4 M; 15-31 March (17 days) = 68 M; projection 124 M,
    -- 124/140 = 88.57% of the allowance. Weeks all 28 M: band 124 M - 124 M. Never passes 140 M: runs_out nil.
    local now = at("2026-03-15T10:00:00Z")
    local r = run(now, gen(now, function() return { { "a", "CRM Sync", 3 * M }, { "b", "WFM Export", 1 * M } } end))
    assert.equal(56 * M, r.month_to_date.requests)
    assert.equal(14, r.month_to_date.days.count)
    assert.equal("2026-03-01", r.month_to_date.days.first)
    assert.equal("2026-03-14", r.month_to_date.days.last)
    assert.equal("1-14 March 2026 (14 days)", r.month_to_date.days.label)
    assert.equal("2026-03-15", r.today.date)
    assert.is_false(r.today.counted)
    assert.equal(124 * M, r.projection.requests)
    assert.equal(17, r.projection.estimated.days.count)
    assert.equal("15-31 March 2026 (17 days)", r.projection.estimated.days.label)
    near(124 / 140, r.projection.share, 1e-12, "share")
    assert.equal(124 * M, r.projection.band.low)
    assert.equal(124 * M, r.projection.band.high)
    assert.equal(0, r.overage.requests)
    assert.is_nil(r.runs_out)
    assert.equal(0, r.vs_last_month.change)  -- 1-14 Feb (56 M) against 1-14 March (56 M)
    assert.equal("1-14 February 2026 (14 days)", r.vs_last_month.last.days.label)
    assert.equal(2, #r.clients)
    assert.equal("a", r.clients[1].id)                -- most projected first
    assert.equal(42 * M, r.clients[1].month_to_date.requests)      -- 14 x 3 M
    assert.equal(93 * M, r.clients[1].projection.requests)         -- 42 M + 17 x 3 M
    near(93 / 140, r.clients[1].projection.share, 1e-12)
    assert.equal(0, #r.called_out)
    assert.equal(28, r.projection.history_days)
    for _, wd in ipairs(r.method.weekdays) do
      assert.equal(4, #wd.requests)
      assert.equal(4 * M, wd.mean)
    end
  end)

  it("a weekday / weekend pattern is projected weekday by weekday", function()
    -- weekdays 5 M, Saturdays and Sundays 1 M. now 15 March (a Sunday).
    -- 1-14 March: 10 weekdays, 4 weekend days (1, 7, 8, 14): 50 + 4 = 54 M.
    -- 15-31 March: 12 weekdays, 5 weekend days (15, 21, 22, 28, 29): 60 + 5 = 65 M. Projection 119 M.
    -- (A flat mean of the 28 days, 108/28 M a day, would give 54 + 17 x 3.857 = 119.57 M.)
    local now = at("2026-03-15T00:00:01Z")
    local r = run(now, gen(now, function(_, wd) return { { "a", "A", wd >= 6 and 1 * M or 5 * M } } end))
    assert.equal(54 * M, r.month_to_date.requests)
    assert.equal(119 * M, r.projection.requests)
    assert.equal(65 * M, r.projection.estimated.requests)
    assert.equal(5 * M, r.method.weekdays[1].mean)   -- Monday
    assert.equal(1 * M, r.method.weekdays[7].mean)   -- Sunday
    assert.equal(3, r.method.weekdays[7].estimated_days)  -- Sundays 15, 22, 29
  end)

  it("a runaway client from the 10th is called out and projected at its new pace", function()
    -- CRM Sync 3 M and WFM Export 1 M every day; Runaway Sync 6 M a day from 10 March. now 20 March (Friday).
    -- Month to date 1-19 March: 19 x 4 M + 10 x 6 M (10-19) = 136 M (97.1% of 140 M).
    -- Runaway Sync: first request 10 March, within the last 28 days (20 Feb - 19 Mar), and its last 7 days
    -- (13-19 March) 6 M a day, x 31 days >= 1% of 140 M: called out "new". (W1-W3, 20 Feb - 12 Mar, hold
    -- 3 of its days: 18/21 = 0.857 M a day.)
    -- Projection: 20-31 March (12 days) x (3 + 1 + 6) M = 120 M; 136 + 120 = 256 M; overage 116 M.
    -- Runs out: 136 M after the 19th, + 10 M on the 20th = 146 M > 140 M: 20 March (today, estimated).
    -- Same days of last month: 1-19 Feb = 76 M; 136/76 - 1 = +78.9%.
    local now = at("2026-03-20T09:00:00Z")
    local r = run(now, gen(now, function(date)
      local out = { { "crm", "CRM Sync", 3 * M }, { "wfm", "WFM Export", 1 * M } }
      if date >= "2026-03-10" then out[3] = { "run", "Runaway Sync", 6 * M } end
      return out
    end))
    assert.equal(136 * M, r.month_to_date.requests)
    assert.equal(256 * M, r.projection.requests)
    assert.equal(116 * M, r.overage.requests)
    assert.equal("2026-03-20", r.runs_out.date)
    assert.is_true(r.runs_out.estimated)
    assert.is_false(r.runs_out.passed)
    near(136 / 76 - 1, r.vs_last_month.change, 1e-12)
    assert.equal(1, #r.called_out)
    local run_c = r.called_out[1]
    assert.equal("Runaway Sync", run_c.name)
    assert.equal("new", run_c.status)
    assert.equal("2026-03-10", run_c.first_seen)
    near(18 * M / 21, run_c.base_daily, 1e-6)
    assert.equal(6 * M, run_c.recent_daily)
    local c = client(r, "run")
    assert.equal(60 * M, c.month_to_date.requests)
    assert.equal(132 * M, c.projection.requests)     -- 60 M + 12 x 6 M
    assert.equal("new", words.vs_last(c.vs_last_month))
    assert.equal("run", r.clients[1].id)
    -- the steady clients' weeks (28 M each) give a band of zero width
    assert.equal(256 * M, r.projection.band.low)
    assert.equal(256 * M, r.projection.band.high)
    -- the same with the plain 28-day mean for everyone would have been 136 + 12 x (4 + 10 x 6 / 28) = 209.7 M
    assert.is_true(r.projection.requests > 209.8 * M)
  end)

  it("the worked example of docs/forecast.md", function()
    -- CRM Sync: 4 M a weekday, 1.5 M a weekend day, but 3.6 M a weekday over 20-26 February; Recording Export
    -- 5 M a day from 10 March. Today 20 March (a Friday).
    -- 1-19 March: 14 weekdays, 5 weekend days (1, 7, 8, 14, 15): 14 x 4 + 5 x 1.5 = 63.5 M; Recording Export
    -- 10-19 March: 10 x 5 = 50 M. Month to date 113.5 M.
    -- CRM Sync's weekday means over 20 Feb - 19 Mar: Monday-Friday (3.6 + 4 + 4 + 4)/4 = 3.9 M, Saturday and
    -- Sunday 1.5 M. Recording Export, new (first request 10 March), at its last 7 days: 5 M a day.
    -- 20-31 March: 8 weekdays (20, 23-27, 30, 31) and 4 weekend days (21, 22, 28, 29):
    -- CRM Sync 8 x 3.9 + 4 x 1.5 = 37.2 M, Recording Export 12 x 5 = 60 M: 97.2 M; projection 210.7 M.
    -- Band: CRM Sync's weeks 20-26 Feb 5 x 3.6 + 2 x 1.5 = 21 M, the three others 23 M; mean 22.5 M;
    -- low 113.5 + 97.2 x 21/22.5 = 204.22 M, high 113.5 + 97.2 x 23/22.5 = 212.86 M.
    -- Runs out: 113.5, then 20th +8.9 = 122.4, 21st +6.5 = 128.9, 22nd +6.5 = 135.4, 23rd +8.9 = 144.3 > 140.
    -- 1-19 February: 14 weekdays, 5 weekend days: 63.5 M; 113.5 / 63.5 - 1 = +78.7%.
    local now = at("2026-03-20T07:30:00Z")
    local r = run(now, gen(now, function(date, wd)
      local v = wd >= 6 and 1.5 * M or 4 * M
      if wd < 6 and date >= "2026-02-20" and date <= "2026-02-26" then v = 3.6 * M end
      local out = { { "crm", "CRM Sync", v } }
      if date >= "2026-03-10" then out[2] = { "rec", "Recording Export", 5 * M } end
      return out
    end))
    assert.equal(113500000, r.month_to_date.requests)
    assert.equal(210700000, r.projection.requests)
    assert.equal(204220000, r.projection.band.low)
    assert.equal(212860000, r.projection.band.high)
    assert.equal(70700000, r.overage.requests)
    assert.equal("2026-03-23", r.runs_out.date)
    near(113.5 / 63.5 - 1, r.vs_last_month.change, 1e-12)
    assert.equal("new", r.called_out[1].status)
    assert.equal(3.9 * M, client(r, "crm").rates[1])
  end)

  it("the band comes from the quietest and the busiest of the last four weeks", function()
    -- now 15 March. Weeks of the window: 15-21 Feb 3.6 M/day (25.2 M), 22-28 Feb 4 M (28 M), 1-7 Mar 4.4 M
    -- (30.8 M), 8-14 Mar 4 M (28 M); 1-14 Feb 4 M. Each weekday's mean: (3.6 + 4 + 4.4 + 4)/4 = 4 M.
    -- Month to date: 7 x 4.4 + 7 x 4 = 58.8 M. Estimate 17 x 4 = 68 M; projection 126.8 M.
    -- Weeks: mean 28 M, quietest 25.2 (x0.9), busiest 30.8 (x1.1), four weeks so no widening:
    -- low 58.8 + 68 x 0.9 = 120.0 M, high 58.8 + 68 x 1.1 = 133.6 M.
    local now = at("2026-03-15T12:00:00Z")
    local r = run(now, gen(now, function(date)
      local v = 4 * M
      if date >= "2026-02-15" and date <= "2026-02-21" then v = 3.6 * M end
      if date >= "2026-03-01" and date <= "2026-03-07" then v = 4.4 * M end
      return { { "a", "A", v } }
    end))
    near(58.8 * M, r.month_to_date.requests, 0.5)
    assert.equal(126800000, r.projection.requests)
    assert.equal(120000000, r.projection.band.low)
    assert.equal(133600000, r.projection.band.high)
    assert.equal(4, r.method.band.weeks)
    assert.equal(1, r.method.band.widen)
    assert.is_nil(r.projection.band_note)
  end)

  it("the 1st of the month: no whole day yet, the whole month estimated, nothing to compare", function()
    -- now 1 April 06:00, 4 M every day in March. Month to date: no day, 0. Projection: 30 x 4 M = 120 M.
    local now = at("2026-04-01T06:00:00Z")
    local r = run(now, gen(now, function() return { { "a", "A", 4 * M } } end))
    assert.equal(0, r.month_to_date.requests)
    assert.equal(0, r.month_to_date.days.count)
    assert.equal("no day", r.month_to_date.days.label)
    assert.equal(120 * M, r.projection.requests)
    assert.equal(30, r.projection.estimated.days.count)
    assert.equal(0, r.vs_last_month.this.days.count)
    assert.is_nil(r.vs_last_month.change)
    assert.is_true(has_note(r, "today is the 1st"))
    assert.equal("2026-03-04", r.method.window.first)  -- the last 28 days: 4-31 March
    assert.equal("2026-03-31", r.method.window.last)
  end)

  it("missing days are estimated, a known day without requests counts as zero", function()
    -- 4 M every day; the source lacks 5 and 6 March (Thursday, Friday); 9 March (Monday) is held with no row.
    -- Month to date: 1-14 March held except 5, 6 (12 days), one of them zero: 11 x 4 = 44 M.
    -- Weekday means over 15 Feb - 14 Mar (26 days held): Thursday 19, 26 Feb, 12 Mar = 4 M; Friday 4 M;
    -- Monday 16, 23 Feb, 2, 9 Mar = (4 + 4 + 4 + 0)/4 = 3 M; the rest 4 M.
    -- Estimated: 5, 6 March (8 M) and 15-31 March: 14 days at 4 M + 3 Mondays (16, 23, 30) at 3 M = 65 M;
    -- 73 M in all; projection 117 M.
    -- Band: complete weeks 15-21 Feb (28 M), 22-28 Feb (28 M), 8-14 Mar (24 M): k = 3, mean 80/3 M;
    -- quietest x0.9, busiest x1.05; widened by d2(4)/d2(3) = 2.059/1.693:
    -- low = 44 + 73 x (1 - 1.21618 x 0.1), high = 44 + 73 x (1 + 1.21618 x 0.05).
    -- Same days of last month: 1-14 except 5, 6 in both: 44 M against 48 M: -8.33%.
    local now = at("2026-03-15T08:00:00Z")
    local rows = gen(now, function(date)
      if date == "2026-03-09" then return {} end
      return { { "a", "A", 4 * M } }
    end)
    local known = function(date) return date ~= "2026-03-05" and date ~= "2026-03-06" end
    local r = run(now, rows, { known = known })
    assert.equal(44 * M, r.month_to_date.requests)
    assert.equal(12, r.month_to_date.days.count)
    assert.equal("1-4, 7-14 March 2026 (12 days)", r.month_to_date.days.label)
    assert.equal(2, r.month_to_date.missing.count)
    assert.equal(3 * M, r.method.weekdays[1].mean)
    assert.equal(3, #r.method.weekdays[4].requests)      -- Thursdays: one missing
    assert.equal(117 * M, r.projection.requests)
    assert.equal(19, r.projection.estimated.days.count)
    local widen = 2.059 / 1.693
    near(44 * M + 73 * M * (1 - widen * 0.1), r.projection.band.low, 1)
    near(44 * M + 73 * M * (1 + widen * 0.05), r.projection.band.high, 1)
    assert.equal(3, r.method.band.weeks)
    assert.truthy(r.projection.band_note:find("widened", 1, true))
    near(44 / 48 - 1, r.vs_last_month.change, 1e-12)
    assert.equal(12, r.vs_last_month.last.days.count)
    assert.is_true(has_note(r, "not in the source, estimated like the remaining days %(not counted as zero%): 5%-6 March 2026 %(2 days%)"))
    -- the rows of 5 and 6 March were given but the source said it does not hold those days: left out
    assert.is_true(has_note(r, "did not list as held"))
  end)

  it("a new org with a week of history: each weekday from one day, no band, labelled", function()
    -- The API answers no rows before 8 March (the org went live then). 8 Mar (Sun) 1 M, 9-13 Mar 5 M,
    -- 14 Mar (Sat) 1 M. The days before the first request count as zero but are not run-rate history.
    -- Month to date: 2 + 25 = 27 M over 1-14 March. Rates: Sat/Sun 1 M, weekdays 5 M (one day each).
    -- 15-31 March: 12 weekdays + 5 weekend days = 65 M; projection 92 M (65.7%).
    local now = at("2026-03-15T08:00:00Z")
    local rows = gen(now, function(date, wd)
      if date < "2026-03-08" then return {} end
      return { { "a", "New App", wd >= 6 and 1 * M or 5 * M } }
    end)
    local r = run(now, rows)
    assert.equal(27 * M, r.month_to_date.requests)
    assert.equal(14, r.month_to_date.days.count)
    assert.equal(92 * M, r.projection.requests)
    assert.equal(7, r.projection.history_days)
    assert.is_nil(r.projection.band)
    assert.truthy(r.projection.band_note:find("fewer than two complete weeks", 1, true))
    assert.equal("2026-03-08", r.method.history.first)
    assert.is_false(r.method.classified)
    assert.is_true(has_note(r, "projection from 7 days of history"))
    assert.is_true(has_note(r, "no request at all before 8 March 2026"))
    assert.is_true(has_note(r, "history too short"))
    assert.is_nil(r.vs_last_month.change)              -- nothing last month
    -- read as zero days instead, the 28-day means would be a quarter of the truth (27 + 65/4 = 43.25 M),
    -- but the app is then called out as new and projected at its last 7 days: the same 92 M
    local z = run(now, rows, { leading_zero_days = "zero" })
    assert.equal("new", z.called_out[1].status)
    assert.equal(92 * M, z.projection.requests)
    assert.equal(28, z.projection.history_days)
  end)

  it("no history at all: no projection, and says so; an idle org projects zero", function()
    local now = at("2026-03-15T08:00:00Z")
    local r = run(now, {}, { known = {} })
    assert.is_nil(r.projection)
    assert.is_nil(r.overage)
    assert.equal(0, r.month_to_date.requests)
    assert.equal(0, r.month_to_date.days.count)
    assert.equal(14, r.month_to_date.missing.count)
    assert.is_true(has_note(r, "no projection"))
    local idle = run(now, {})
    assert.equal(0, idle.projection.requests)
    assert.equal(14, idle.month_to_date.days.count)
  end)

  it("a client that stopped is called out as dropped and projected at zero", function()
    -- Old Export 3 M a day until 7 March, then nothing; Web 1 M every day. now 15 March.
    -- Old Export: W1-W3 (15 Feb - 7 Mar) 3 M a day, last 7 days 0: dropped. Month to date 7 x 3 + 14 x 1 =
    -- 35 M; estimate 17 x 1 M (Web only) = 17 M; projection 52 M.
    local now = at("2026-03-15T08:00:00Z")
    local r = run(now, gen(now, function(date)
      local out = { { "web", "Web", 1 * M } }
      if date <= "2026-03-07" then out[2] = { "old", "Old Export", 3 * M } end
      return out
    end))
    assert.equal(35 * M, r.month_to_date.requests)
    assert.equal(52 * M, r.projection.requests)
    assert.equal("dropped", r.called_out[1].status)
    assert.equal(21 * M, client(r, "old").projection.requests)
  end)

  it("a new client is called out by name, and its days before it started do not count as zeros", function()
    -- Base 4 M a day; Bot 2 M a day from 9 March (Monday); now 15 March. Nothing from Bot before: "new".
    -- Its last 7 days (8-14 March): 8 March is before its start, so Sunday takes the mean of 9-14 March (2 M).
    -- Bot: month to date 6 x 2 = 12 M, projection 12 + 17 x 2 = 46 M. Org: 56 + 12 + 17 x 6 = 170 M.
    local now = at("2026-03-15T08:00:00Z")
    local r = run(now, gen(now, function(date)
      local out = { { "base", "Base", 4 * M } }
      if date >= "2026-03-09" then out[2] = { "bot", "Bot", 2 * M } end
      return out
    end))
    assert.equal("new", r.called_out[1].status)
    assert.equal("Bot", r.called_out[1].name)
    assert.equal(2 * M, r.called_out[1].recent_daily)               -- its days since it started
    assert.equal("9-14 March 2026 (6 days)", r.called_out[1].recent_days.label)
    assert.equal(46 * M, client(r, "bot").projection.requests)
    assert.equal(170 * M, r.projection.requests)
  end)

  it("a small client that doubles is not called out (below 1% of the allowance over a month)", function()
    -- Tiny: 10,000 a day, then 40,000 for the last 7 days: x4, but (40,000 - 10,000) x 31 = 930,000 < 1.4 M.
    local now = at("2026-03-15T08:00:00Z")
    local rows = gen(now, function(date)
      return { { "base", "Base", 4 * M }, { "tiny", "Tiny", date >= "2026-03-08" and 40000 or 10000 } }
    end)
    local r = run(now, rows)
    assert.equal(0, #r.called_out)
    assert.equal("steady", client(r, "tiny").status)
    -- with a threshold of 0.5% it is
    local r2 = run(now, rows, { min_share = 0.005 })
    assert.equal("grown", r2.called_out[1].status)
  end)

  it("rows of several days and templates add up; the latest name wins; bad rows are counted, not trusted", function()
    local now = at("2026-03-15T08:00:00Z")
    local rows = gen(now, function(date)
      local name = date >= "2026-03-10" and "New Name" or "Old Name"
      return { { "a", name, 2 * M }, { "a", name, 2 * M } }
    end)
    rows[#rows + 1] = { date = "2026-03-15", client_id = "a", requests = 999 * M }          -- today: left out
    rows[#rows + 1] = { date = "2026-03-20", client_id = "a", requests = 999 * M }          -- future
    rows[#rows + 1] = { date = "2026-02-30", client_id = "a", requests = 999 * M }          -- no such date
    rows[#rows + 1] = { date = "2026-03-03", client_id = "a", requests = -5 }               -- negative
    rows[#rows + 1] = { date = "2026-03-03", client_id = "a", requests = 0 / 0 }            -- NaN
    rows[#rows + 1] = { date = "2026-03-03", client_id = "a", requests = math.huge }
    rows[#rows + 1] = "not a row"
    rows[#rows + 1] = { date = "2025-01-01", client_id = "a", requests = 999 * M }          -- before the span
    local r = run(now, rows)
    assert.equal(56 * M, r.month_to_date.requests)
    assert.equal(124 * M, r.projection.requests)
    assert.equal("New Name", r.clients[1].name)
    assert.is_true(has_note(r, "^2 rows for today or later"))
    assert.is_true(has_note(r, "^5 rows without a valid date"))
  end)

  it("refuses rows of several organizations unless one is chosen", function()
    local now = at("2026-03-15T08:00:00Z")
    local rows = {
      { date = "2026-03-10", client_id = "a", organization_id = "org-1", requests = 5 },
      { date = "2026-03-10", client_id = "a", organization_id = "org-2", requests = 7 },
    }
    local r, err = forecast.compute { now = now, allowance = 100, rows = rows }
    assert.is_nil(r)
    assert.truthy(err:find("2 organizations (org-1, org-2)", 1, true))
    r = assert(forecast.compute { now = now, allowance = 100, rows = rows, organization_id = "org-2" })
    assert.equal(7, r.month_to_date.requests)
  end)

  it("takes the days a source holds in every documented form", function()
    local now = at("2026-03-15T08:00:00Z")
    local rows = gen(now, function() return { { "a", "A", 1 } } end)
    local forms = {
      { first = "2026-03-01", last = "2026-03-14" },
      { { first = "2026-03-01", last = "2026-03-04" }, { first = "2026-03-05", last = "2026-03-14" } },
      (function() local t = {} for d = 1, 14 do t[#t + 1] = string.format("2026-03-%02d", d) end return t end)(),
      (function() local t = {} for d = 1, 14 do t[string.format("2026-03-%02d", d)] = true end return t end)(),
      function(date) return date >= "2026-03-01" end,
      assert(interval.range("2026-03-01", "2026-03-14", now)),
    }
    for i, known in ipairs(forms) do
      local r = run(now, rows, { known = known })
      assert.equal(14, r.month_to_date.days.count, "form " .. i)
      assert.equal(0, r.month_to_date.missing.count, "form " .. i)
      assert.equal(14, r.projection.history_days, "form " .. i)
    end
    assert.has_error(function() run(now, rows, { known = { "March 1st" } }) end)
    assert.has_error(function() run(now, rows, { known = 42 }) end)
  end)

  it("raises on programmer errors, not on data", function()
    assert.has_error(function() forecast.compute() end)
    assert.has_error(function() forecast.compute { rows = {} } end)                  -- no allowance
    assert.has_error(function() forecast.compute { rows = {}, allowance = -1 } end)
    assert.has_error(function() forecast.compute { rows = {}, allowance = 10, now = "today" } end)
    assert.has_error(function() forecast.compute { allowance = 10 } end)             -- no rows
    assert.has_error(function() forecast.compute { rows = {}, allowance = 10, growth = 0.5 } end)
  end)

  it("every figure says which days it covers", function()
    local now = at("2026-03-20T09:00:00Z")
    local r = run(now, gen(now, function() return { { "a", "A", 4 * M } } end))
    local function has_days(t, what)
      assert.is_table(t.days, what .. " has no days")
      assert.is_string(t.days.label, what)
      assert.is_number(t.days.count, what)
    end
    has_days(r.month_to_date, "month_to_date")
    has_days(r.projection, "projection")
    has_days(r.projection.counted, "projection.counted")
    has_days(r.projection.estimated, "projection.estimated")
    has_days(r.projection.band, "band")
    has_days(r.overage, "overage")
    has_days(r.vs_last_month.this, "vs_last_month.this")
    has_days(r.vs_last_month.last, "vs_last_month.last")
    for _, c in ipairs(r.clients) do
      has_days(c.month_to_date, "client month_to_date")
      has_days(c.vs_last_month.this, "client vs_last_month")
    end
    assert.equal("1-31 March 2026 (31 days)", r.projection.days.label)
  end)

  it("the API span: the 1st of last month through yesterday, within one year and one job", function()
    local s = forecast.span(at("2026-03-20T09:00:00Z"))
    assert.equal("2026-02-01", s.first)
    assert.equal("2026-03-19", s.last)
    assert.equal("2026-02-01T00:00:00Z/2026-03-19T23:59:59.999Z", s.jobs)
    s = forecast.span(at("2026-03-01T00:00:00Z"))        -- the 1st: all of February
    assert.equal("2026-02-01", s.first)
    assert.equal("2026-02-28", s.last)
    s = forecast.span(at("2024-03-01T12:00:00Z"))        -- leap year: 28 days back is 2 February, but
    assert.equal("2024-02-01", s.first)                  -- the comparison needs 1 February
    s = forecast.span(at("2026-01-31T12:00:00Z"))
    assert.equal("2025-12-01", s.first)
    assert.is_true(s.count <= 62)
    local body = forecast.job_body(s)
    assert.same({ "OauthClientId", "OauthClientName" }, body.groupBy)
    assert.equal("Day", body.granularity)
  end)
end)

describe("usage.forecast.fetch", function()
  -- a client whose aggregates job answers the given pages
  local function client_of(pages)
    return { aggregates = function()
      local i = 0
      return { jobs = { "job-1" }, next_page = function()
        i = i + 1
        if pages[i] then return pages[i] end
        return false
      end }
    end }
  end

  it("sums the job's rows by day and client, and refuses a sum that cannot be exact", function()
    local now = os.time { year = 2026, month = 12, day = 6, hour = 12 }
    local day = interval.date(interval.day_of(now) - 1)
    local client = { oauthClient = { id = "c1", name = "One" } }
    local row = function(n) return { date = day, oauthClient = client.oauthClient, requests = n } end
    local input = assert(forecast.fetch(client_of { { row(3), row(4) } }, { now = now }))
    assert.equal(1, #input.rows)
    assert.equal(7, input.rows[1].requests)
    local big = math.type and math.maxinteger or 2 ^ 53
    local bad, err = forecast.fetch(client_of { { row(big), row(big) } }, { now = now })
    assert.is_nil(bad)
    assert.equal("inexact", err.code)
  end)
end)
