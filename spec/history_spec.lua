-- usage.history without a server: the periods a report compares with (usage.base.interval), the org-aware
-- aggregation (usage.base.rows), the comparison of two periods (usage.history.compare: changes absolute and
-- in percent, new, gone, renamed, no data, exact 64-bit differences), the org view (usage.history.by_org),
-- and the report's renderings of comparisons and org views in every format, checked by real parsers
-- (spec/support/outputs.py). Every expectation is computed here from the rows the spec made.

local interval = require "usage.base.interval"
local rows_mod = require "usage.base.rows"
local history = require "usage.history"
local hcompare = require "usage.history.compare"
local aggregate = require "usage.cli.report.aggregate"
local rcompare = require "usage.cli.report.compare"
local rformats = require "usage.cli.report.formats"
local page = require "usage.cli.report.page"
local chart = require "usage.cli.report.chart"
local fchart = require "usage.cli.report.forecast"
local forecast = require "usage.forecast"
local verdicts = require "support.verdicts"

local HAS_INTEGERS = math.type ~= nil
local D = interval.parse_date

-- an aggregates row
local function row(t)
  return { date = t.date, oauthClient = t.client and { id = t.client, name = t.name } or nil, templateUri = t.uri,
           httpMethod = t.method, requestCount = t.requests, status200 = t.s200 or t.requests, status300 = t.s300 or 0,
           status400 = t.s400 or 0, status429 = t.s429 or 0, status500 = t.s500 or 0 }
end

-- a result of usage.history made from rows { org = , row }: its aggregation, its days, each org's coverage
local function result(first, last, list, coverage)
  local days = assert(interval.span(first, last))
  local agg = rows_mod.aggregation { client_days = true, endpoints = true, pairs = true, orgs = true }
  for _, item in ipairs(list) do
    local n = rows_mod.normalize(item.row)
    n.org = item.org
    agg:add_normalized(n)
  end
  local res = { first = days.first, last = days.last, count = days.count, label = days.label, days = days,
                dates = history.dates_of(days), aggregation = agg, orgs = {}, missing = {}, complete = true,
                missing_set = {}, notes = {} }
  for i, c in ipairs(coverage) do
    local missing = c.missing or {}
    res.orgs[i] = { org = c.org, days = days.count, covered = c.covered or (days.count - #missing), missing = missing,
                    complete = #missing == 0, total = agg:org(c.org) }
    for _, d in ipairs(missing) do
      if not res.missing_set[d] then res.missing[#res.missing + 1] = d end
      res.missing_set[d] = true
      res.complete = false
    end
  end
  table.sort(res.missing)
  return res
end

-- the sums of a list of { org, row } per key, independently of usage.base.rows
local function sums(list, key_of)
  local out = {}
  for _, item in ipairs(list) do
    local k = key_of(item)
    if k then
      local t = out[k] or { requests = 0, status429 = 0, status500 = 0 }
      t.requests = t.requests + item.row.requestCount
      t.status429 = t.status429 + (item.row.status429 or 0)
      t.status500 = t.status500 + (item.row.status500 or 0)
      out[k] = t
    end
  end
  return out
end

local function client_key(item) return item.org .. "/" .. item.row.oauthClient.id end

-- the verdict of real parsers on a text (json, ndjson, csv, svg, html, terminal)
local function verdict(mode, text_)
  return verdicts { { mode, text_ } }[1]
end

describe("usage.base.interval: the periods a report compares with", function()
  local function span(a, b) return assert(interval.span(a, b)) end

  it("the previous period: the same number of days just before", function()
    local p = assert(interval.previous_period(span("2026-11-01", "2026-11-30")))
    assert.equal("2026-10-02", p.first)
    assert.equal("2026-10-31", p.last)
    assert.equal(30, p.count)
    assert.equal("2-31 October 2026", p.label)
    -- across a year, and from a Days table of interval.days
    p = assert(interval.previous_period(span("2026-01-01", "2026-01-07")))
    assert.equal("2025-12-25", p.first)
    assert.equal("2025-12-31", p.last)
    local week = assert(interval.days(7, os.time()))
    p = assert(interval.previous_period(week))
    assert.equal(week.first_day - 7, p.first_day)
    assert.equal(week.first_day - 1, p.last_day)
  end)

  it("the previous year: the same dates a year earlier; 29 February becomes 28 February, and the last day of " ..
     "February stays the last day of February", function()
    local cases = {
      { "2026-11-01", "2026-11-30", "2025-11-01", "2025-11-30" },
      { "2029-02-01", "2029-02-28", "2028-02-01", "2028-02-29" }, -- the whole February against the whole February
      { "2028-02-01", "2028-02-29", "2027-02-01", "2027-02-28" },
      { "2028-02-29", "2028-03-05", "2027-02-28", "2027-03-05" }, -- 6 days and 6 days
      { "2029-02-28", "2029-03-03", "2028-02-29", "2028-03-03" }, -- 4 days and 4 days
      { "2028-02-28", "2028-02-28", "2027-02-28", "2027-02-28" }, -- not the last day of a leap February
      { "2029-01-01", "2029-12-31", "2028-01-01", "2028-12-31" }, -- a whole year against a whole (leap) year
      { "2026-01-01", "2026-01-01", "2025-01-01", "2025-01-01" },
    }
    for _, c in ipairs(cases) do
      local p = assert(interval.previous_year(span(c[1], c[2])))
      assert.equal(c[3], p.first, c[1] .. ".." .. c[2])
      assert.equal(c[4], p.last, c[1] .. ".." .. c[2])
      assert.equal(D(c[4]) - D(c[3]) + 1, p.count)
    end
    -- every day of 2020..2031: a year back keeps the month and the day, but for 28/29 February
    for d = D("2020-01-01"), D("2031-12-31") do
      local y, m, dd = interval.civil_from_days(d)
      local y2, m2, d2 = interval.civil_from_days(interval.year_before(d))
      assert.equal(y - 1, y2)
      assert.equal(m, m2)
      if not (m == 2 and dd >= 28) then assert.equal(dd, d2) end
      if m == 2 and dd == 29 then assert.equal(28, d2) end
    end
  end)

  it("names the comparisons, and refuses what is none", function()
    local s = span("2026-03-01", "2026-03-31")
    assert.same(interval.previous_year(s), interval.compare_period(s, "previous-year"))
    assert.same(interval.previous_period(s), interval.compare_period(s, "previous-period"))
    local none, why = interval.compare_period(s, "last-decade")
    assert.is_nil(none)
    assert.matches("previous%-period or previous%-year", why)
    assert.is_nil(interval.previous_year { first = "2026-03-05", last = "2026-03-01" })
    assert.is_nil(interval.previous_period { first = "not a day", last = "2026-03-01" })
    assert.is_nil((interval.span("2026-02-30", "2026-03-01")))
    -- a span may hold today and later days (a store's days; interval.range refuses them)
    local today = interval.day_of(os.time())
    assert.equal(2, assert(interval.span(today, today + 1)).count)
  end)
end)

describe("usage.base.rows: an aggregation of several orgs", function()
  it("never merges clients of different orgs, keeps each org's totals and lists an org without rows", function()
    local agg = rows_mod.aggregation { client_days = true, endpoints = true, pairs = true, orgs = true }
    local list = {
      { org = "acme", row = row { date = "2026-11-01", client = "c1", name = "Sync", uri = "api/v2/a", method = "GET", requests = 10, s429 = 2 } },
      { org = "globex", row = row { date = "2026-11-01", client = "c1", name = "Sync (globex)", uri = "api/v2/a", method = "GET", requests = 7 } },
      { org = "acme", row = row { date = "2026-11-02", client = "c2", name = "Bot", uri = "api/v2/b", method = "POST", requests = 5, s500 = 1 } },
    }
    for _, item in ipairs(list) do
      local n = rows_mod.normalize(item.row)
      n.org = item.org
      agg:add_normalized(n)
    end
    agg:org("empty")
    local clients = agg:list("clients")
    assert.equal(3, #clients)
    local by = {}
    for _, c in ipairs(clients) do by[c.org .. "/" .. c.id] = c end
    local want = sums(list, client_key)
    for k, t in pairs(want) do assert.equal(t.requests, by[k].requests, k) end
    assert.equal("Sync (globex)", by["globex/c1"].name)
    assert.equal(17, agg.endpoints["GET api/v2/a"].requests) -- an endpoint is the API's: summed over the orgs
    assert.equal(3, #agg:list("pairs"))
    assert.equal(15, agg.orgs.acme.requests)
    assert.equal(10, agg.orgs.acme.daily["2026-11-01"].requests)
    assert.equal(0, agg.orgs.empty.requests)
    assert.equal(22, agg.total.requests)
    -- the org view: every org, most requests first, each with its top clients
    local view = history.by_org({ aggregation = agg, orgs = {} }, { top = 1 })
    assert.same({ "acme", "globex", "empty" }, { view[1].org, view[2].org, view[3].org })
    assert.equal(1, #view[1].clients)
    assert.equal("c1", view[1].clients[1].id)
    assert.equal(2, view[1].client_count)
    assert.equal(0, #view[3].clients)
    assert.near(15 / 22, view[1].share, 1e-12)
    assert.equal(2 / 15, view[1].classes[4].share) -- 429
  end)
end)

describe("usage.history.compare", function()
  local cur_rows = {
    { org = "acme", row = row { date = "2026-11-08", client = "steady", name = "CRM Sync", uri = "api/v2/users", method = "GET", requests = 1200, s429 = 30 } },
    { org = "acme", row = row { date = "2026-11-09", client = "steady", name = "CRM Sync", uri = "api/v2/users", method = "GET", requests = 800 } },
    { org = "acme", row = row { date = "2026-11-08", client = "newcomer", name = "Recording Export", uri = "api/v2/recordings", method = "GET", requests = 5000, s500 = 4 } },
    { org = "acme", row = row { date = "2026-11-09", client = "renamed", name = "Quality Dashboard v2", uri = "api/v2/users", method = "GET", requests = 300 } },
    { org = "globex", row = row { date = "2026-11-09", client = "steady", name = "CRM Sync", uri = "api/v2/users", method = "GET", requests = 50 } },
  }
  local prev_rows = {
    { org = "acme", row = row { date = "2026-11-01", client = "steady", name = "CRM Sync", uri = "api/v2/users", method = "GET", requests = 1000, s429 = 10 } },
    { org = "acme", row = row { date = "2026-11-01", client = "leaver", name = "Old Bridge", uri = "api/v2/old", method = "PUT", requests = 400 } },
    { org = "acme", row = row { date = "2026-11-02", client = "renamed", name = "Quality Dashboard", uri = "api/v2/users", method = "GET", requests = 600 } },
    { org = "acme", row = row { date = "2026-11-02", client = "idle", name = "Idle", uri = "api/v2/users", method = "GET", requests = 0 } },
    { org = "globex", row = row { date = "2026-11-02", client = "steady", name = "CRM Sync", uri = "api/v2/users", method = "GET", requests = 50 } },
  }
  local all = { { org = "acme" }, { org = "globex" } }
  local function cmp_of(c_rows, p_rows, c_cov, p_cov)
    local cur = result("2026-11-08", "2026-11-14", c_rows, c_cov or all)
    local prev = result("2026-11-01", "2026-11-07", p_rows, p_cov or all)
    return history.compare(cur, prev, { how = "previous-period" }), cur, prev
  end

  it("gives each client's, endpoint's, pair's and org's change: absolute, percent, new, gone, renamed", function()
    local cmp = cmp_of(cur_rows, prev_rows)
    local want_c, want_p = sums(cur_rows, client_key), sums(prev_rows, client_key)
    local seen = {}
    for _, e in ipairs(cmp.clients) do
      local k = e.org .. "/" .. e.id
      seen[k] = true
      local c, p = want_c[k] or { requests = 0, status429 = 0 }, want_p[k] or { requests = 0, status429 = 0 }
      assert.equal(c.requests, e.current.requests, k)
      assert.equal(p.requests, e.previous.requests, k)
      assert.equal(c.requests - p.requests, e.change.requests, k)
      assert.equal(c.status429 - p.status429, e.change.status429, k)
      if p.requests > 0 then
        assert.near((c.requests - p.requests) / p.requests, e.percent.requests, 1e-12)
      else
        assert.is_nil(e.percent.requests, k) -- a percent change from 0 is none
      end
      local state = (c.requests > 0 and p.requests > 0) and "both" or (c.requests > 0 and "new") or
                    (p.requests > 0 and "gone") or "none"
      assert.equal(state, e.state, k)
    end
    for k in pairs(want_c) do assert.is_true(seen[k], k) end
    for k in pairs(want_p) do assert.is_true(seen[k], k) end
    local by = {}
    for _, e in ipairs(cmp.clients) do by[e.org .. "/" .. e.id] = e end
    assert.equal("new", by["acme/newcomer"].state)
    assert.equal("gone", by["acme/leaver"].state)
    assert.equal("none", by["acme/idle"].state)
    assert.equal("Quality Dashboard v2", by["acme/renamed"].name) -- one client, renamed between the periods
    assert.equal("Quality Dashboard", by["acme/renamed"].previous_name)
    assert.is_nil(by["acme/steady"].previous_name)
    assert.is_true(by["acme/steady"] ~= by["globex/steady"]) -- the same id in two orgs: two clients
    -- totals, status classes, orgs, endpoints, pairs
    local tc, tp = 0, 0
    for _, i in ipairs(cur_rows) do tc = tc + i.row.requestCount end
    for _, i in ipairs(prev_rows) do tp = tp + i.row.requestCount end
    assert.equal(tc - tp, cmp.total.change.requests)
    assert.equal(cmp.classes[1].current, cmp.total.current.status200)
    assert.near(cmp.total.current.status200 / tc - cmp.total.previous.status200 / tp, cmp.classes[1].share_change, 1e-12)
    local orgs = {}
    for _, o in ipairs(cmp.orgs) do orgs[o.org] = o end
    assert.equal(0, orgs.globex.change.requests)
    assert.equal(0, orgs.globex.percent.requests)
    local ep = {}
    for _, e in ipairs(cmp.endpoints) do ep[e.method .. " " .. e.template_uri] = e end
    assert.equal("new", ep["GET api/v2/recordings"].state)
    assert.equal("gone", ep["PUT api/v2/old"].state)
    assert.equal(1200 + 800 + 300 + 50 - (1000 + 600 + 0 + 50), ep["GET api/v2/users"].change.requests)
    assert.equal(#cmp.pairs, 6)
    assert.is_true(cmp.complete)
  end)

  it("orders by the larger of the two periods, by the current one, or by the change", function()
    local cmp = cmp_of(cur_rows, prev_rows)
    local function ids(list)
      local out = {}
      for i, e in ipairs(list) do out[i] = e.org .. "/" .. e.id end
      return out
    end
    -- larger: the newcomer (5,000 now), steady (2,000 now), renamed (600 before), leaver (400 before), ...
    assert.same({ "acme/newcomer", "acme/steady", "acme/renamed", "acme/leaver", "globex/steady", "acme/idle" },
                ids(cmp.clients))
    -- current: those of this period first; the leaver (400 before) before the idle one (nothing)
    assert.same({ "acme/newcomer", "acme/steady", "acme/renamed", "globex/steady", "acme/leaver", "acme/idle" },
                ids(hcompare.sort(cmp.clients, "requests", "current")))
    -- change: +5,000, +1,000, -400, -300, then no change (the current figure breaks the tie)
    assert.same({ "acme/newcomer", "acme/steady", "acme/leaver", "acme/renamed", "globex/steady", "acme/idle" },
                ids(hcompare.sort(cmp.clients, "requests", "change")))
    assert.has_error(function() hcompare.sort(cmp.clients, "requests", "sideways") end)
  end)

  it("says nothing about an org a period has no day of (no data), and compares with an empty period", function()
    -- globex: no day of the previous period in the source
    local cmp = cmp_of(cur_rows, prev_rows, nil, { { org = "acme" }, { org = "globex", covered = 0,
      missing = history.dates_of(assert(interval.span("2026-11-01", "2026-11-07"))) } })
    for _, e in ipairs(cmp.clients) do
      if e.org == "globex" then
        assert.equal("unknown", e.state)
        assert.is_nil(e.change.requests)
        assert.is_nil(e.percent.requests)
      end
    end
    assert.is_false(cmp.complete)
    assert.equal(7, #cmp.previous.missing)
    -- an empty previous period (held, no usage): everything is new, nothing unknown
    cmp = cmp_of(cur_rows, {})
    for _, e in ipairs(cmp.clients) do assert.equal("new", e.state) end
    assert.is_nil(cmp.total.percent.requests)
    -- both periods empty: no entries, totals 0, state none
    cmp = cmp_of({}, {})
    assert.equal(0, #cmp.clients)
    assert.equal("none", cmp.total.state)
    assert.equal(0, cmp.total.change.requests)
  end)

  it("compares counts exactly past 2^31 and, where the interpreter holds them, past 2^53", function()
    local big = 3000000000 -- past 2^31: exact under every interpreter
    local function one(org, date, n) return { org = org, row = row { date = date, client = "c", name = "c", uri = "u", method = "GET", requests = n } } end
    local cmp = cmp_of({ one("acme", "2026-11-08", big) }, { one("acme", "2026-11-01", 1) })
    assert.equal(big - 1, cmp.total.change.requests)
    assert.is_nil(cmp.inexact)
    if HAS_INTEGERS then
      -- Lua 5.3+: integers to 2^63-1
      local max = math.maxinteger
      local a = math.tointeger(2 ^ 53) + 1
      cmp = cmp_of({ one("acme", "2026-11-08", a) }, { one("acme", "2026-11-01", 3) })
      assert.equal(a - 3, cmp.total.change.requests)
      assert.equal("9007199254740990", string.format("%d", cmp.total.change.requests))
      cmp = cmp_of({ one("acme", "2026-11-08", max) }, { one("acme", "2026-11-01", 0) })
      assert.equal(max, cmp.total.change.requests)
      cmp = cmp_of({ one("acme", "2026-11-08", 0) }, { one("acme", "2026-11-01", max) })
      assert.equal(-max, cmp.total.change.requests)
      assert.equal("gone", cmp.total.state)
      -- a sum past 2^63-1: not exact, said, and no change printed for it
      cmp = cmp_of({ one("acme", "2026-11-08", max), one("acme", "2026-11-09", 1) }, { one("acme", "2026-11-01", 1) })
      assert.is_string(cmp.inexact)
      assert.matches("2^63-1", cmp.inexact, 1, true)
    else
      -- doubles: exact to 2^53-1
      local max = 2 ^ 53 - 1
      cmp = cmp_of({ one("acme", "2026-11-08", max) }, { one("acme", "2026-11-01", 1) })
      assert.equal(max - 1, cmp.total.change.requests)
      assert.is_nil(cmp.inexact)
      cmp = cmp_of({ one("acme", "2026-11-08", max), one("acme", "2026-11-09", 1) }, { one("acme", "2026-11-01", 1) })
      assert.is_string(cmp.inexact)
      assert.matches("2^53-1", cmp.inexact, 1, true)
    end
  end)
end)

describe("the report's renderings of comparisons and org views", function()
  local hostile = "=HYPERLINK(\"x\")\226\128\174 evil\0name \255<script>"
  local cur_rows = {
    { org = "acme", row = row { date = "2026-11-08", client = "c1", name = hostile, uri = "api/v2/users/{id}", method = "GET", requests = 3000000000, s429 = 7, s500 = 2 } },
    { org = "acme", row = row { date = "2026-11-10", client = "c2", name = "Bot", uri = "api/v2/x", method = "POST", requests = 40 } },
    { org = "globex", row = row { date = "2026-11-09", client = "c1", name = "Sync", uri = "api/v2/users/{id}", method = "GET", requests = 20 } },
  }
  local prev_rows = {
    { org = "acme", row = row { date = "2026-11-01", client = "c1", name = "Old name", uri = "api/v2/users/{id}", method = "GET", requests = 1000, s429 = 1 } },
    { org = "acme", row = row { date = "2026-11-03", client = "c3", name = "Leaver", uri = "api/v2/y", method = "DELETE", requests = 5 } },
  }
  local cov_c = { { org = "acme" }, { org = "globex", missing = { "2026-11-12" } } }
  local cov_p = { { org = "acme", missing = { "2026-11-02" } }, { org = "globex", covered = 0,
                  missing = history.dates_of(assert(interval.span("2026-11-01", "2026-11-07"))) } }

  local function outputs(r, d, title)
    return {
      { "terminal", rformats.table(r, d, title) }, { "csv", rformats.csv(r, true) }, { "json", rformats.json(r, {}) },
      { "ndjson", rformats.ndjson(r) }, { "svg", chart.svg(r, { pairs = true, days_label = "days" }) },
      { "html", page.html(r, d, { title = title or "t", days_label = "days" }) },
    }
  end

  it("writes a comparison in every format, valid, both periods named, the figures those of the comparison", function()
    local cur = result("2026-11-08", "2026-11-14", cur_rows, cov_c)
    local prev = result("2026-11-01", "2026-11-07", prev_rows, cov_p)
    local cmp = history.compare(cur, prev, { how = "previous-period" })
    for _, by_org in ipairs { false, true } do
      local r = rcompare.rank(cmp, { top = 5, rank_by = "requests", by_org = by_org })
      local d = rcompare.display(r)
      local outs = outputs(r, d)
      local values = verdicts(outs)
      for i, o in ipairs(outs) do
        local v = values[i]
        if o[1] ~= "csv" and o[1] ~= "ndjson" then
          assert.truthy(o[2]:find("8-14 November 2026", 1, true), o[1])
          assert.truthy(o[2]:find("1-7 November 2026", 1, true), o[1])
        end
        if o[1] == "svg" or o[1] == "html" then assert.is_nil(o[2]:find("<script>", 1, true), o[1]) end
        local nul = o[2]:find("\0", 1, true)
        assert.is_nil(nul, o[1] .. ": " .. (nul and o[2]:sub(nul - 200, nul + 20) or ""))
        if o[1] == "json" then
          assert.equal("previous-period", v.compare)
          assert.equal("2026-11-08", v.days.first)
          assert.equal("2026-11-07", v.previousDays.last)
          assert.same(prev.missing, v.previousDays.missing) -- the days some org lacks
          assert.same(history.dates_of(prev.days), v.previousDays.missing)
          assert.same({ "2026-11-02" }, v.coverage.previous[1].missing)
          assert.equal(cmp.total.current.requests, v.totals.current.requests)
          assert.equal(cmp.total.change.requests, v.totals.change.requests)
          assert.equal(by_org, v.byOrg)
          local c1
          for _, c in ipairs(v.clients) do if c.oauthClientId == "c1" and c.org == "acme" then c1 = c end end
          assert.equal(3000000000 - 1000, c1.change.requests)
          assert.equal("Old name", c1.previousOauthClientName)
          assert.near((3000000000 - 1000) / 1000, c1.changePercent.requests, 1e-6)
          assert.equal(7, #c1.daily)
          for _, c in ipairs(v.clients) do
            if c.org == "globex" then assert.equal("unknown", c.state) end
          end
          if by_org then assert.equal(2, #v.orgs) end
        elseif o[1] == "csv" then
          local header = v[1]
          assert.equal("org", header[3])
          local sections = {}
          for i = 2, #v do sections[v[i][1]] = (sections[v[i][1]] or 0) + 1 end
          assert.equal(1, sections.total)
          assert.equal(7, sections.day)
          local missing = 0
          for _, cov in ipairs { cov_c, cov_p } do
            for _, c in ipairs(cov) do missing = missing + #(c.missing or {}) end
          end
          assert.equal(missing, sections.missing_day) -- a record for each day an org lacks in either period
          if by_org then assert.equal(2, sections.org) end
          -- the formula is neutralised, the change exact
          assert.truthy(rformats.csv(r):find("'=HYPERLINK", 1, true))
          assert.truthy(rformats.csv(r):find(",2999999000,", 1, true))
        elseif o[1] == "terminal" then
          assert.truthy(o[2]:find("(was Old name)", 1, true))
          assert.truthy(o[2]:find("+2,999,999,000", 1, true))
          assert.truthy(o[2]:find("no day of it at all", 1, true))
        end
      end
    end
  end)

  it("writes the org view and the consolidated view of several orgs in every format, days missing said", function()
    local cur = result("2026-11-08", "2026-11-14", cur_rows, { { org = "acme" }, { org = "globex", missing = { "2026-11-12" } },
                                                              { org = "empty" } })
    for _, by_org in ipairs { false, true } do
      local r = aggregate.rank(aggregate.from_history(cur), { top = 5, rank_by = "requests", by_org = by_org })
      local d = aggregate.display(r)
      local outs = outputs(r, d, "Genesys Cloud API usage, " .. cur.label)
      local values = verdicts(outs)
      for i, o in ipairs(outs) do
        local v = values[i]
        if o[1] == "json" then
          assert.equal(3, #v.orgs)
          assert.same({ "2026-11-12" }, v.days.missing)
          assert.is_false(v.days.complete)
          local orgs_in_clients = {}
          for _, c in ipairs(v.clients) do orgs_in_clients[c.org] = true end
          assert.is_true(orgs_in_clients.acme and orgs_in_clients.globex)
          if by_org then
            local by = {}
            for _, x in ipairs(v.orgs) do by[x.org] = x end
            assert.equal(3000000040, by.acme.totals.requests)
            assert.equal(0, by.empty.totals.requests)
            assert.equal(0, #by.empty.clients)
            assert.equal(2, #by.acme.clients)
            assert.equal(6, by.globex.covered)
          end
        elseif o[1] == "csv" then
          local sections = {}
          for i = 2, #v do sections[v[i][1]] = (sections[v[i][1]] or 0) + 1 end
          assert.equal(1, sections.missing_day)
          assert.equal(by_org and 3 or nil, sections.org)
        elseif o[1] == "terminal" then
          assert.truthy(o[2]:find("in 3 orgs", 1, true))
          assert.truthy(o[2]:find("org globex: 12 November 2026 (1 day) not in the source", 1, true))
          if by_org then
            assert.truthy(o[2]:find("Top 3 orgs by requests", 1, true))
            assert.truthy(o[2]:find("6 of 7 days", 1, true))
          end
        end
      end
    end
    -- one org: no org column, the CSV of the report as before
    local one = result("2026-11-08", "2026-11-14", { cur_rows[2] }, { { org = "acme" } })
    local r = aggregate.rank(aggregate.from_history(one), { top = 5 })
    assert.equal(rformats.CSV_COLUMNS[3], verdict("csv", rformats.csv(r))[1][3])
  end)
end)

describe("the forecast's chart (usage.cli.report.forecast)", function()
  -- the worked example of docs/forecast.md: Friday 20 March 2026, 1,000 CX 3 seats
  local NOW = assert(interval.parse_instant("2026-03-20T10:00:00Z"))
  local function rows_of(skip)
    local out = {}
    local span = forecast.span(NOW)
    for d = span.first_day, span.last_day do
      local date = interval.date(d)
      if not (skip and skip[date]) then
        local wd = (d + 3) % 7 + 1
        local crm = (wd >= 6) and 1500000 or ((date >= "2026-02-20" and date <= "2026-02-26") and 3600000 or 4000000)
        out[#out + 1] = { date = date, client_id = "crm", client_name = "CRM Sync", requests = crm }
        if date >= "2026-03-10" then
          out[#out + 1] = { date = date, client_id = "rec", client_name = "Recording Export", requests = 5000000 }
        end
      end
    end
    return out
  end

  it("draws the numbers of usage.forecast: the month to date, the projection, its band, the allowance", function()
    local result_ = assert(forecast.compute { now = NOW, org = "acme", allowance = 140000000, rows = rows_of() })
    local s = fchart.series(result_)
    assert.equal(31, s.n)
    assert.equal(20, s.today)
    assert.equal(result_.month_to_date.requests, s.actual[19])
    assert.is_nil(s.actual[20])
    assert.equal(result_.projection.requests, math.floor(s.projection[31] + 0.5))
    assert.equal(result_.projection.band.low, math.floor(s.low[31] + 0.5))
    assert.equal(result_.projection.band.high, math.floor(s.high[31] + 0.5))
    assert.equal(s.actual[19], s.projection[19]) -- the lines part after the last counted day
    -- the day the cumulative projection passes the allowance is the forecast's runs-out day
    local passed
    for k = 1, s.n do
      local v = s.projection[k] or s.actual[k]
      if v > 140000000 then passed = k break end
    end
    assert.equal(result_.runs_out.date, s.dates[passed])
    local svg = fchart.svg(result_)
    verdict("svg", svg)
    assert.truthy(svg:find("210,700,000 requests projected from the 1st", 1, true))
    assert.truthy(svg:find("allowance: 140,000,000 requests a month", 1, true))
    assert.truthy(svg:find("band: 204,220,000 - 212,860,000", 1, true))
    local html = fchart.section(result_)
    verdict("html", "<!DOCTYPE html><html><body>" .. html .. "</body></html>")
  end)

  it("a day of the month missing from the source is estimated on the projection, not counted", function()
    local result_ = assert(forecast.compute { now = NOW, org = "acme", allowance = 140000000,
      rows = rows_of { ["2026-03-04"] = true }, known = function(date) return date ~= "2026-03-04" end })
    local s = fchart.series(result_)
    assert.is_nil(s.counted[4])
    assert.is_true(s.estimated[4])
    assert.equal(s.actual[3], s.actual[4]) -- not counted
    assert.equal(result_.month_to_date.requests, s.actual[19])
    assert.equal(result_.projection.requests, math.floor(s.projection[31] + 0.5))
    assert.is_true(s.projection[4] > s.actual[4])
    -- the 1st of the month: no whole day, the whole month estimated from the day before
    local first = assert(interval.parse_instant("2026-03-01T08:00:00Z"))
    result_ = assert(forecast.compute { now = first, org = "acme", allowance = 140000000, rows = rows_of() })
    s = fchart.series(result_)
    assert.equal(1, s.today)
    assert.is_nil(next(s.actual))
    assert.equal(result_.projection.requests, math.floor(s.projection[31] + 0.5))
    verdict("svg", fchart.svg(result_))
    -- no history at all: no projection, the chart draws the allowance alone
    result_ = assert(forecast.compute { now = NOW, org = "acme", allowance = 140000000, rows = {}, known = {} })
    s = fchart.series(result_)
    assert.is_nil(s.projection)
    verdict("svg", fchart.svg(result_))
  end)
end)
