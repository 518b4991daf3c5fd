-- usage.history over a real store (SQLite and a real PostgreSQL) filled by store:sync from the fake cloud,
-- and over the API through the fake: a span past the API's year, the same report from both sources, the
-- previous year and the previous period, several orgs (the org view, the consolidated view, an org without
-- rows, days missing in one period), a client renamed between the periods, exact counts past 2^31 and
-- 2^53, the forecast's input from the store, and every format of the report valid. Every expectation is
-- computed from what the fake served (fake:data, its raw records) or from the rows the spec stored.

local store = require "usage.store"
local history = require "usage.history"
local interval = require "usage.base.interval"
local rows_mod = require "usage.base.rows"
local forecast = require "usage.forecast"
local aggregate = require "usage.cli.report.aggregate"
local rcompare = require "usage.cli.report.compare"
local rformats = require "usage.cli.report.formats"
local page = require "usage.cli.report.page"
local chart = require "usage.cli.report.chart"
local support = require "support.store"
local verdicts = require "support.verdicts"
local H = require "helper"

local COUNTS = rows_mod.COUNTS
local HAS_INTEGERS = math.type ~= nil
local DAY = 86400

local NOW = os.time()
local T = interval.day_of(NOW)
local function date(d) return interval.date(d) end

-- the raw records of the fake for first..last (day numbers), summed as a report sums them (independent of
-- usage.base.rows): total, per client id, per endpoint, per pair, per day
local function raw(fake, first, last)
  local out = { total = {}, clients = {}, endpoints = {}, pairs = {}, daily = {}, names = {} }
  for _, c in ipairs(COUNTS) do out.total[c] = 0 end
  local function add(map, key, rec)
    local t = map[key]
    if not t then
      t = {}
      for _, c in ipairs(COUNTS) do t[c] = 0 end
      map[key] = t
    end
    for _, c in ipairs(COUNTS) do t[c] = t[c] + rec[c] end
  end
  for _, rec in ipairs(fake:data(date(first), date(last))) do
    add(out, "total", rec)
    add(out.clients, rec.clientId, rec)
    add(out.endpoints, rec.httpMethod .. " " .. rec.templateUri, rec)
    add(out.pairs, rec.clientId .. " " .. rec.httpMethod .. " " .. rec.templateUri, rec)
    add(out.daily, rec.date, rec)
    out.names[rec.clientId] = rec.clientName
  end
  return out
end

local function count(map)
  local n = 0
  for _ in pairs(map) do n = n + 1 end
  return n
end

-- an aggregation's entries of one org, keyed as raw() keys them
local function of_org(agg, org)
  local out = { clients = {}, pairs = {}, total = agg.orgs[org] }
  for _, c in pairs(agg.clients) do
    if c.org == org then out.clients[c.id] = c end
  end
  for _, p in pairs(agg.pairs) do
    if p.client.org == org then out.pairs[p.client.id .. " " .. p.method .. " " .. p.template_uri] = p end
  end
  return out
end

local function same_counts(want, got, what)
  assert(got, what .. ": missing")
  for _, c in ipairs(COUNTS) do assert.equal(want[c], got[c], what .. " " .. c) end
end

-- the aggregation of one org against the fake's raw records
local function assert_raw(agg, org, r, single)
  local mine = of_org(agg, org)
  same_counts(r.total, mine.total, org .. " total")
  assert.equal(count(r.clients), count(mine.clients), org .. ": clients")
  for id, t in pairs(r.clients) do
    same_counts(t, mine.clients[id], org .. " client " .. id)
    assert.equal(r.names[id], mine.clients[id].name)
  end
  assert.equal(count(r.pairs), count(mine.pairs), org .. ": pairs")
  for k, t in pairs(r.pairs) do same_counts(t, mine.pairs[k], org .. " pair " .. k) end
  if single then -- (endpoints and days are summed over the orgs)
    same_counts(r.total, agg.total, "total")
    assert.equal(count(r.endpoints), count(agg.endpoints))
    for k, t in pairs(r.endpoints) do same_counts(t, agg.endpoints[k], "endpoint " .. k) end
    for d, t in pairs(r.daily) do same_counts(t, agg.daily[d], "day " .. d) end
  end
end

-- the verdict of real parsers on every format of a report (support.verdicts: one Python for them all)
local function all_formats_valid(r, d, title)
  local texts = {
    { "terminal", rformats.table(r, d, title or "t") }, { "csv", rformats.csv(r) }, { "json", rformats.json(r, {}) },
    { "ndjson", rformats.ndjson(r) }, { "svg", chart.svg(r, { pairs = true, days_label = "d" }) },
    { "html", page.html(r, d, { title = title or "t", days_label = "d" }) },
  }
  local values = verdicts(texts)
  local parsed = {}
  for i, x in ipairs(texts) do parsed[x[1]] = { text = x[2], value = values[i] } end
  return parsed
end

for _, B in ipairs(support.backends()) do
  describe("usage.history over a store (" .. B.name .. ") and the API", function()
    local fake, client, client2, s, target
    local opened = {}

    setup(function()
      B:start()
      fake = H.start { config = { lifecycle = { polls = 0 } } }
      -- (validate = false: the first sync asks for days of a year ago, as the service answered them then)
      client = H.client(fake, { validate = false })
      client2 = H.client(fake, { client_id = H.clients.org_viewer.id, client_secret = H.clients.org_viewer.secret })
      target = B:target("history")
      s = assert(store.open(target))
      -- a year ago: the fake's today and the sync's clock a year back, the days T-400 .. T-366
      fake:config { today = date(T - 365) }
      assert(s:sync(client, { org = "acme", now = NOW - 365 * DAY, first = date(T - 400) }))
      -- now: the last 70 days of acme, the last 30 of globex (another client of the same org: its own label)
      fake:config { today = false }
      assert(s:sync(client, { org = "acme", first = date(T - 70) }))
      assert(s:sync(client2, { org = "globex", first = date(T - 30) }))
      -- an org whose days are stored, without a request
      assert(s:put("empty", date(T - 70), date(T - 1), {}))
    end)
    teardown(function()
      for _, x in ipairs(opened) do x:close() end
      if s then s:close() end
      if fake then fake:stop() end
      B:stop()
    end)

    it("reads a span past the API's year from the store: what the fake served, the days missing said", function()
      local src = history.from_store(s)
      local span = interval.days_of(T - 400, T - 366)
      local r = assert(src:read { days = span, org = "acme" })
      assert.is_true(r.complete)
      assert.same({}, r.missing)
      assert.equal("store", r.source.kind)
      assert.equal(B.name, r.source.backend)
      assert_raw(r.aggregation, "acme", raw(fake, T - 400, T - 366), true)
      -- the API cannot: the span is before its year, and the error says who holds it
      local api = history.from_api(client, { org = "acme" })
      local none, err = api:read { days = span }
      assert.is_nil(none)
      assert.equal("outside_window", err.code)
      assert.matches("history store", err.message, 1, true)
      assert.matches(span.label, err.message, 1, true)
      -- a span over both stored stretches: the days between are missing, and said
      r = assert(src:read { first = date(T - 400), last = date(T - 1), org = "acme" })
      assert.is_false(r.complete)
      assert.equal((T - 71) - (T - 365) + 1, #r.missing)
      assert.equal(date(T - 365), r.missing[1])
      assert.equal(35 + 70, r.orgs[1].covered)
      local whole = raw(fake, T - 400, T - 366)
      local recent = raw(fake, T - 70, T - 1)
      assert.equal(whole.total.requests + recent.total.requests, r.aggregation.total.requests)
      local report = aggregate.rank(aggregate.from_history(r), { top = 5 })
      local out = all_formats_valid(report, aggregate.display(report), "Genesys Cloud API usage, " .. r.label)
      assert.truthy(out.terminal.text:find("not in the source", 1, true))
      assert.equal(#r.missing, #out.json.value.days.missing)
      -- the store reads the span's sums and the days' sums from one snapshot: the same as two plain reads
      local both = assert(s:usage_many { { days = span, org = "acme", by = "client", per = "span" },
                                         { days = span, org = "acme", by = "org", per = "day" } })
      local one = assert(s:usage { days = span, org = "acme", by = "client", per = "span" })
      assert.same(one.rows, both[1].rows)
      assert.equal(span.count, #both[2].rows)
      -- a question that fails ends the snapshot: the next read works
      local none, err = s:usage_many { { days = span, org = "acme" }, { days = span, org = "initech" } }
      assert.is_nil(none)
      assert.equal("unknown_org", err.code)
      assert.is_false(s.db.in_tx)
      assert(src:read { days = span, org = "acme" })
      -- a store opened read-only is read the same way
      local ro = assert(store.open(target, { readonly = true }))
      opened[#opened + 1] = ro
      local r2 = assert(history.from_store(ro):read { days = span, org = "acme" })
      assert.equal(r.aggregation.total.requests - recent.total.requests, r2.aggregation.total.requests)
    end)

    it("gives the same report from the store and from the API for the days both hold", function()
      local span = interval.days_of(T - 30, T - 1)
      local from_store = assert(history.from_store(s):read { days = span, org = "acme" })
      local from_api = assert(history.from_api(client, { org = "acme" }):read { days = span })
      local want = raw(fake, T - 30, T - 1)
      assert_raw(from_store.aggregation, "acme", want, true)
      assert_raw(from_api.aggregation, "acme", want, true)
      assert.equal("api", from_api.source.kind)
      assert.is_true(from_api.complete)
      local a = aggregate.rank(aggregate.from_history(from_store), { top = 10, rank_by = "429" })
      local b = aggregate.rank(aggregate.from_history(from_api), { top = 10, rank_by = "429" })
      assert.equal(rformats.csv(a), rformats.csv(b))
      -- past 90 days the API's job is split by the library: the same figures again
      local long = interval.days_of(T - 120, T - 1)
      fake:clear_log()
      local r = assert(history.from_api(client, { org = "acme" }):read { days = long })
      assert.equal(2, #H.requests(fake, "/aggregates/query/jobs$", "POST"))
      assert_raw(r.aggregation, "acme", raw(fake, T - 120, T - 1), true)
    end)

    it("compares with the previous year from the store (the API says it cannot), every format", function()
      local span = interval.days_of(T - 34, T - 1)
      local before = assert(interval.previous_year(span))
      local src = history.from_store(s)
      local cmp = assert(src:compare { days = span, org = "acme", compare = "previous-year" })
      assert.equal(before.label, cmp.previous.label)
      assert.is_true(cmp.complete)
      local cur, prev = raw(fake, span.first_day, span.last_day), raw(fake, before.first_day, before.last_day)
      assert.equal(cur.total.requests - prev.total.requests, cmp.total.change.requests)
      local seen = 0
      for _, e in ipairs(cmp.clients) do
        local c, p = cur.clients[e.id] or { requests = 0, status429 = 0 }, prev.clients[e.id] or { requests = 0, status429 = 0 }
        assert.equal(c.requests, e.current.requests, e.id)
        assert.equal(p.requests, e.previous.requests, e.id)
        assert.equal(c.requests - p.requests, e.change.requests, e.id)
        assert.equal(c.status429 - p.status429, e.change.status429, e.id)
        if p.requests > 0 then assert.near((c.requests - p.requests) / p.requests, e.percent.requests, 1e-12) end
        seen = seen + 1
      end
      local keys = {}
      for id in pairs(cur.clients) do keys[id] = true end
      for id in pairs(prev.clients) do keys[id] = true end
      assert.equal(count(keys), seen)
      for k, t in pairs(cur.endpoints) do
        local found
        for _, e in ipairs(cmp.endpoints) do if e.key == k then found = e end end
        assert.equal(t.requests - ((prev.endpoints[k] or {}).requests or 0), found.change.requests, k)
      end
      -- the API: the previous year is outside its window, and it says so
      local none, err = history.from_api(client, { org = "acme" }):compare { days = span, compare = "previous-year" }
      assert.is_nil(none)
      assert.equal("outside_window", err.code)
      assert.matches("the previous year", err.message, 1, true)
      assert.matches("history store", err.message, 1, true)
      -- every format, both periods named
      local r = rcompare.rank(cmp, { top = 5 })
      local out = all_formats_valid(r, rcompare.display(r))
      assert.equal(before.first, out.json.value.previousDays.first)
      assert.equal(span.last, out.json.value.days.last)
      assert.equal(cmp.total.change.requests, out.json.value.totals.change.requests)
      assert.truthy(out.html.text:find(before.label, 1, true))
      assert.truthy(out.svg.text:find(before.label, 1, true))
      assert.equal(math.max(span.count, before.count), #out.json.value.daily)
    end)

    it("views several orgs: by org, consolidated (never merged), an org without rows, days missing in one period", function()
      local src = history.from_store(s)
      local span = interval.days_of(T - 28, T - 1)
      local res = assert(src:read { days = span })
      assert.same({ "acme", "empty", "globex" }, { res.orgs[1].org, res.orgs[2].org, res.orgs[3].org })
      local want = raw(fake, T - 28, T - 1)
      assert_raw(res.aggregation, "acme", want)
      assert_raw(res.aggregation, "globex", want) -- the same org's usage under a second label: a second org
      assert.equal(2 * want.total.requests, res.aggregation.total.requests)
      assert.equal(2 * count(want.clients), count(res.aggregation.clients)) -- never merged across orgs
      assert.equal(0, res.aggregation.orgs.empty.requests)
      assert.is_true(res.complete)
      local view = history.by_org(res, { top = 3 })
      assert.equal(3, #view)
      assert.equal("empty", view[3].org)
      assert.equal(0, view[3].client_count)
      assert.near(0.5, view[1].share, 1e-12)
      -- the previous period: globex has 2 of its 28 days (T-30, T-29), acme all, empty all
      local cmp = assert(src:compare { days = span, compare = "previous-period" })
      assert.is_false(cmp.complete)
      local cov = {}
      for _, o in ipairs(cmp.previous.orgs) do cov[o.org] = o end
      assert.equal(2, cov.globex.covered)
      assert.equal(26, #cov.globex.missing)
      assert.equal(28, cov.acme.covered)
      local prev_g = raw(fake, T - 30, T - 29)
      for _, o in ipairs(cmp.orgs) do
        if o.org == "globex" then
          assert.equal(want.total.requests - prev_g.total.requests, o.change.requests)
        elseif o.org == "empty" then
          assert.equal("none", o.state)
          assert.equal(0, o.change.requests)
        end
      end
      -- and the previous year: globex has no day of it at all: nothing can be said about its clients
      local py = assert(src:compare { days = interval.days_of(T - 14, T - 1), compare = "previous-year" })
      for _, e in ipairs(py.clients) do
        if e.org == "globex" then assert.equal("unknown", e.state) end
        if e.org == "acme" then assert.is_true(e.state ~= "unknown") end
      end
      -- every format of both views and of the comparison by org
      for _, by_org in ipairs { false, true } do
        local r = aggregate.rank(aggregate.from_history(res), { top = 5, by_org = by_org })
        local out = all_formats_valid(r, aggregate.display(r), "Genesys Cloud API usage, " .. res.label)
        assert.equal(3, #out.json.value.orgs)
        assert.equal("org", out.csv.value[1][3])
        local rc = rcompare.rank(cmp, { top = 5, by_org = by_org })
        out = all_formats_valid(rc, rcompare.display(rc))
        if by_org then
          assert.equal(3, #out.json.value.orgs)
          assert.truthy(out.terminal.text:find("2 of 28 days", 1, true))
        end
      end
    end)

    it("compares a client renamed between the periods, and a previous period without data", function()
      local target = B:target("renamed")
      local s2 = assert(store.open(target))
      opened[#opened + 1] = s2
      local a, b = T - 20, T - 11 -- the previous period
      local c, d = T - 10, T - 1  -- this one
      local function r_(day, id, name, n) return support.api_row { date = date(day), client = id, name = name, uri = "api/v2/x", method = "GET", requests = n } end
      local prev_rows, cur_rows = {}, {}
      for day = a, b do prev_rows[#prev_rows + 1] = r_(day, "q", "Quality Dashboard", 100 + day % 7) end
      for day = c, d do cur_rows[#cur_rows + 1] = r_(day, "q", "Quality Dashboard v2", 300 + day % 5) end
      assert(s2:put("acme", date(a), date(b), prev_rows))
      assert(s2:put("acme", date(c), date(d), cur_rows))
      assert(s2:put("fresh", date(c), date(d), { r_(d, "z", "Zendesk Bridge", 42) }))
      local cmp = assert(history.from_store(s2):compare { first = date(c), last = date(d), compare = "previous-period" })
      local want_c, want_p = 0, 0
      for _, x in ipairs(cur_rows) do want_c = want_c + x.requestCount end
      for _, x in ipairs(prev_rows) do want_p = want_p + x.requestCount end
      local q, z
      for _, e in ipairs(cmp.clients) do
        if e.id == "q" then q = e elseif e.id == "z" then z = e end
      end
      assert.equal("Quality Dashboard v2", q.name)
      assert.equal("Quality Dashboard", q.previous_name)
      assert.equal(want_c - want_p, q.change.requests)
      assert.equal("both", q.state)
      assert.equal("unknown", z.state) -- fresh has no day of the previous period
      assert.is_nil(z.change.requests)
      local r = rcompare.rank(cmp, { top = 5 })
      local out = all_formats_valid(r, rcompare.display(r))
      assert.truthy(out.terminal.text:find("Quality Dashboard v2 (was Quality Dashboard)", 1, true))
      assert.truthy(out.terminal.text:find("org fresh: " .. interval.label(a, b) .. " (10 days) not in the source", 1, true))
      local json_q
      for _, x in ipairs(out.json.value.clients) do if x.oauthClientId == "q" then json_q = x end end
      assert.equal("Quality Dashboard", json_q.previousOauthClientName)
      -- an empty period: the days are held, nothing was used
      assert(s2:put("acme", date(T - 30), date(T - 21), {}))
      cmp = assert(history.from_store(s2):compare { first = date(a), last = date(b), org = "acme", compare = "previous-period" })
      assert.equal("new", cmp.total.state)
      assert.is_nil(cmp.total.percent.requests)
      assert.equal(want_p, cmp.total.change.requests)
    end)

    it("compares exact counts past 2^31 and, where the interpreter holds them, past 2^53", function()
      -- past 2^31, from the fake (count_offset on Bulk Export Service, one day)
      local day = T - 5
      fake:config { count_offset = { date = date(day), value = 3000000000 } }
      local want = raw(fake, T - 7, T - 1)
      local prev = raw(fake, T - 14, T - 8)
      assert(s:sync(client, { org = "big", first = date(T - 14) }))
      fake:config { count_offset = false }
      local src = history.from_store(s)
      local cmp = assert(src:compare { first = date(T - 7), last = date(T - 1), org = "big", compare = "previous-period" })
      local heavy
      for _, e in ipairs(cmp.clients) do if e.id == H.HEAVY then heavy = e end end
      assert.is_true(heavy.current.requests > 2 ^ 31)
      assert.equal(want.clients[H.HEAVY].requests, heavy.current.requests)
      assert.equal(want.clients[H.HEAVY].requests - prev.clients[H.HEAVY].requests, heavy.change.requests)
      assert.equal(want.total.requests - prev.total.requests, cmp.total.change.requests)
      local r = rcompare.rank(cmp, { top = 3 })
      local out = all_formats_valid(r, rcompare.display(r))
      assert.truthy(out.json.text:find('"requests":' .. string.format("%.0f", heavy.current.requests), 1, true))
      if HAS_INTEGERS then
        -- past 2^53: Lua 5.4 holds it exactly (the fake adds in 64-bit integers)
        -- (2^53 + 10,000,001: the change stays past 2^53 whatever the other days hold)
        fake:config { count_offset = { date = date(day), value = "9007199264740993" } }
        local want2 = raw(fake, T - 7, T - 1)
        assert(s:sync(client, { org = "huge", first = date(T - 14) }))
        fake:config { count_offset = false }
        cmp = assert(src:compare { first = date(T - 7), last = date(T - 1), org = "huge", compare = "previous-period" })
        for _, e in ipairs(cmp.clients) do if e.id == H.HEAVY then heavy = e end end
        assert.equal(math.type(heavy.current.requests), "integer")
        assert.equal(want2.clients[H.HEAVY].requests, heavy.current.requests)
        local change = want2.clients[H.HEAVY].requests - prev.clients[H.HEAVY].requests
        assert.is_true(change > 2 ^ 53)
        assert.equal(change, heavy.change.requests)
        r = rcompare.rank(cmp, { top = 3 })
        out = all_formats_valid(r, rcompare.display(r))
        assert.truthy(out.json.text:find('"requests":' .. string.format("%d", heavy.current.requests), 1, true))
        assert.truthy(out.csv.text:find("," .. string.format("%d", change) .. ",", 1, true))
      else
        -- LuaJIT: a count of 2^53 cannot be held exactly: the read says so, never a rounded figure
        assert(s:put("huge", date(T - 3), date(T - 3), { support.api_row { date = date(T - 3), client = "h", name = "h",
          uri = "api/v2/x", method = "GET", requests = 2 ^ 53 } }))
        local none, err = src:read { first = date(T - 7), last = date(T - 1), org = "huge" }
        assert.is_nil(none)
        assert.equal("inexact", err.code)
      end
    end)

    it("gives the forecast the store's days: the same forecast as from the API", function()
      local allowance = assert(forecast.allowance { licenses = "cx3=1000" })
      local input = assert(history.from_store(s):forecast_input { org = "acme", now = NOW })
      assert.equal("store", input.source.kind)
      local from_store = assert(forecast.compute { now = NOW, org = "acme", allowance = allowance, rows = input.rows,
                                                   known = input.known, source = input.source })
      local from_api = assert(forecast.from_api(client, { now = NOW, org = "acme", allowance = allowance }))
      assert.equal(from_api.month_to_date.requests, from_store.month_to_date.requests)
      assert.same(from_api.projection, from_store.projection)
      assert.same(from_api.runs_out, from_store.runs_out)
      -- a day the store lacks: not counted, estimated, and said
      local gap = T - 2
      for _, t in ipairs { "usage_rows", "stored_days" } do
        assert(s:sql("DELETE FROM " .. t .. " WHERE org_key = (SELECT org_key FROM orgs WHERE label = 'globex') AND day = ?",
                     date(gap)))
      end
      input = assert(history.from_store(s):forecast_input { org = "globex", now = NOW })
      local known = {}
      for _, x in ipairs(input.known) do known[x] = true end
      assert.is_nil(known[date(gap)])
      local want_missing = {}
      for d = input.span.first_day, input.span.last_day do
        if d < T - 30 or d == gap then want_missing[#want_missing + 1] = date(d) end -- (globex: the last 30 days)
      end
      assert.same(want_missing, input.source.missing)
      assert.equal(input.span.count - #want_missing, #input.known)
    end)
  end)
end
