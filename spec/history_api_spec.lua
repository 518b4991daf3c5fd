-- usage.history over the Usage API (the fake cloud, and a hostile server): several orgs at once (one client
-- each), a comparison's two periods at once, a failed job, spans outside the API's window, rows dated
-- outside the span, the job's filters (and the same filters over a store), progress per org and period.
-- Expectations come from the fake's raw records.

local store = require "usage.store"
local history = require "usage.history"
local interval = require "usage.base.interval"
local window = require "usage.api.window"
local rows_mod = require "usage.base.rows"
local aggregate = require "usage.cli.report.aggregate"
local rformats = require "usage.cli.report.formats"
local hostile = require "support.hostile"
local nginx = require "support.nginx"
local H = require "helper"
local cjson = require("cjson").new()

local COUNTS = rows_mod.COUNTS
local T = interval.day_of(os.time())
local function date(d) return interval.date(d) end

local function raw_clients(records)
  local out, total = {}, 0
  for _, rec in ipairs(records) do
    out[rec.clientId] = (out[rec.clientId] or 0) + rec.requests
    total = total + rec.requests
  end
  return out, total
end

describe("usage.history over the API", function()
  local fake, c1, c2
  setup(function()
    fake = H.start { config = { lifecycle = { polls = 0 } } }
    c1 = H.client(fake)
    c2 = H.client(fake, { client_id = H.clients.org_viewer.id, client_secret = H.clients.org_viewer.secret })
  end)
  teardown(function() if fake then fake:stop() end end)
  before_each(function()
    fake:clear_faults()
    fake:clear_log()
  end)

  it("reads several orgs at once, one client each, each row labelled with its org", function()
    local progress = {}
    local src = history.from_api({ { client = c1, org = "acme" }, { client = c2, org = "globex" } }, {
      on_progress = function(org) return function() progress[org] = (progress[org] or 0) + 1 end end })
    local span = interval.days_of(T - 14, T - 1)
    local seen = {}
    local info = assert(src:each_page({ days = span }, function(page, org) seen[org] = (seen[org] or 0) + #page end))
    assert.equal(2, #info.coverage)
    fake:clear_log()
    local r = assert(src:read { days = span })
    assert.equal(2, #H.requests(fake, "/aggregates/query/jobs$", "POST"))
    local want, total = raw_clients(fake:data(span.first, span.last))
    assert.equal(2 * total, r.aggregation.total.requests)
    for _, org in ipairs { "acme", "globex" } do
      assert.equal(total, r.aggregation.orgs[org].requests)
      local n = 0
      for _, c in pairs(r.aggregation.clients) do
        if c.org == org then
          n = n + 1
          assert.equal(want[c.id], c.requests, org .. " " .. c.id)
        end
      end
      local w = 0
      for _ in pairs(want) do w = w + 1 end
      assert.equal(w, n)
      assert.is_true(seen[org] > 0)
      assert.is_true((progress[org] or 0) > 0, "no progress for " .. org)
    end
    assert.equal(2, #r.orgs)
    assert.equal(span.count, r.orgs[1].covered)
    assert.same({}, r.missing)
    -- one org of the two
    local one = assert(src:read { days = span, org = "globex" })
    assert.equal(1, #one.orgs)
    assert.equal(total, one.aggregation.total.requests)
    local none, err = src:read { days = span, org = "initech" }
    assert.is_nil(none)
    assert.equal("unknown_org", err.code)
    -- the org view of the API's orgs
    local rep = aggregate.rank(aggregate.from_history(r), { top = 3, by_org = true })
    assert.equal(2, #rep.orgs)
    assert.truthy(rformats.table(rep, aggregate.display(rep), "t"):find("Top 3 OAuth clients of globex", 1, true))
  end)

  it("renders a report read through usage.history exactly as the report renders the job's rows today", function()
    local days = interval.days_of(T - 10, T - 1)
    -- today's path: the job's rows folded by usage.cli.report.aggregate
    local agg = aggregate.new()
    local body = { interval = days.jobs, granularity = "Day", groupBy = history.GROUP_BY, metrics = history.METRICS }
    for row in c1:aggregates(body):rows() do aggregate.add_row(agg, row) end
    local dates = history.dates_of(days)
    local before = aggregate.rank(agg, { top = 5, rank_by = "429", days = dates })
    -- through usage.history
    local res = assert(history.from_api(c1, { org = "acme" }):read { days = days })
    local after = aggregate.rank(aggregate.from_history(res), { top = 5, rank_by = "429" })
    local d1, d2 = aggregate.display(before), aggregate.display(after)
    assert.equal(rformats.table(before, d1, "t"), rformats.table(after, d2, "t"))
    assert.equal(rformats.csv(before), rformats.csv(after))
    assert.equal(rformats.ndjson(before), rformats.ndjson(after))
    local chart = require "usage.cli.report.chart"
    assert.equal(chart.svg(before, { pairs = true, days_label = days.label }), chart.svg(after, { pairs = true, days_label = days.label }))
    local j1 = cjson.decode(rformats.json(before, { days = days }))
    local j2 = cjson.decode(rformats.json(after, {}))
    assert.same({ {}, false }, { j2.notes, j2.byOrg })
    assert.equal(1, #j2.orgs)
    j2.notes, j2.byOrg, j2.orgs = nil, nil, nil
    assert.same(j1, j2)
  end)

  it("returns the error of a failed job, naming its org", function()
    fake:fault { fault = "job_failed", count = 1 }
    local src = history.from_api({ { client = c1, org = "acme" }, { client = c2, org = "globex" } })
    local none, err = src:read { days = interval.days_of(T - 3, T - 1) }
    assert.is_nil(none)
    assert.equal("query_failed", err.code)
    assert.matches("^org %a+: ", err.message)
    local single = history.from_api(c1, { org = "acme" })
    fake:fault { fault = "job_failed", count = 1 }
    none, err = single:read { days = interval.days_of(T - 3, T - 1) }
    assert.is_nil(none)
    assert.equal("query_failed", err.code)
  end)

  it("compares both periods at once: each job's progress names its period, a failure names its period", function()
    local days = interval.days_of(T - 7, T - 1)
    local labels = { ["this period"] = days.label, ["the previous period"] = interval.previous_period(days).label }
    local seen = {}
    local src = history.from_api({ { client = c1, org = "acme" }, { client = c2, org = "globex" } }, {
      on_progress = function(org, period)
        seen[org .. " / " .. tostring(period)] = true
        return function() end
      end })
    assert(src:compare { days = days, compare = "previous-period" })
    assert.same({ ["acme / this period"] = true, ["acme / the previous period"] = true,
                  ["globex / this period"] = true, ["globex / the previous period"] = true }, seen)
    -- one job fails (whichever was submitted first): its period, and its days, lead the message
    fake:fault { fault = "job_failed", count = 1 }
    local none, err = src:compare { days = days, compare = "previous-period" }
    assert.is_nil(none)
    assert.equal("query_failed", err.code)
    assert.truthy(labels[err.period], tostring(err.period))
    local lead = err.period .. " (" .. labels[err.period] .. "): org "
    assert.equal(lead, err.message:sub(1, #lead))
    assert.is_nil(err.message:find("failed too", 1, true))
    -- every job fails: this period's error, which says the other failed too
    fake:fault { fault = "job_failed", count = 4 }
    none, err = src:compare { days = days, compare = "previous-period" }
    assert.is_nil(none)
    assert.equal("this period", err.period)
    assert.truthy(err.message:find("(the previous period failed too)", 1, true), err.message)
    -- a programmer's mistake in one period's read is raised, as before
    assert.has_error(function() src:compare { days = days, compare = "previous-period", filters = "x" } end)
  end)

  it("refuses, before any job, a span outside the API's window, and names the days it serves", function()
    local src = history.from_api(c1, { org = "acme" })
    local first = window.first_allowed_day(os.time())
    local none, err = src:read { days = interval.days_of(first - 5, first + 5) }
    assert.is_nil(none)
    assert.equal("outside_window", err.code)
    assert.matches("5 of its days", err.message, 1, true)
    assert.equal(date(first), err.first_day)
    none, err = src:read { days = interval.days_of(T - 2, T) }
    assert.is_nil(none)
    assert.equal("outside_window", err.code)
    assert.matches("not over yet", err.message, 1, true)
    -- the previous year of any span: the API never has it (the store does)
    none, err = src:compare { days = interval.days_of(T - 7, T - 1), compare = "previous-year" }
    assert.is_nil(none)
    assert.matches("the previous year", err.message, 1, true)
    assert.equal(0, #H.requests(fake, "/aggregates/query/jobs$", "POST"))
    -- the previous period of a recent span is within it
    local cmp = assert(src:compare { days = interval.days_of(T - 7, T - 1), compare = "previous-period" })
    local _, cur = raw_clients(fake:data(date(T - 7), date(T - 1)))
    local _, prev = raw_clients(fake:data(date(T - 14), date(T - 8)))
    assert.equal(cur - prev, cmp.total.change.requests)
    assert.has_error(function() src:compare { days = interval.days_of(T - 7, T - 1), compare = "last-decade" } end)
    assert.has_error(function() src:read {} end)
    assert.has_error(function() history.from_api({ { client = c1, org = "a" }, { client = c2, org = "a" } }) end)
  end)

  it("applies the job's filters; the store applies those it keeps and refuses the others", function()
    local span = interval.days_of(T - 10, T - 1)
    local filters = { oauthClientIds = { H.HEAVY, H.ACME }, httpMethods = { "GET" } }
    local r = assert(history.from_api(c1, { org = "acme" }):read { days = span, filters = filters })
    local want = 0
    for _, rec in ipairs(fake:data(span.first, span.last)) do
      if (rec.clientId == H.HEAVY or rec.clientId == H.ACME) and rec.httpMethod == "GET" then want = want + rec.requests end
    end
    assert.is_true(want > 0)
    assert.equal(want, r.aggregation.total.requests)
    local dir = nginx.temp_dir("usage-history-filters")
    finally(function() nginx.remove_dir(dir) end)
    local s = assert(store.open(dir .. "/s.sqlite3"))
    finally(function() s:close() end)
    assert(s:sync(c1, { org = "acme", first = span.first }))
    local from_store = assert(history.from_store(s):read { days = span, filters = filters })
    for _, c in ipairs(COUNTS) do assert.equal(r.aggregation.total[c], from_store.aggregation.total[c], c) end
    local none, err = history.from_store(s):read { days = span, filters = { platforms = { "PublicAPI" } } }
    assert.is_nil(none)
    assert.equal("unsupported_filter", err.code)
  end)
end)

describe("examples/history.lua", function()
  it("runs against the fake cloud: a store synced, a month, a comparison, the orgs, the forecast", function()
    local fake = H.start { config = { lifecycle = { polls = 0 } } }
    local dir = nginx.temp_dir("usage-history-example")
    finally(function()
      fake:stop()
      nginx.remove_dir(dir)
    end)
    local interp = jit and "luajit" or "lua5.4"
    local p = io.popen("GENESYS_USAGE_BASE_URL=" .. fake.base_url .. " LUA_PATH='lua/?.lua;lua/?/init.lua;;' " ..
                       "LUA_CPATH='build/" .. interp .. "/?.so;;' " .. interp .. " examples/history.lua " ..
                       nginx.sh_quote(dir .. "/s.sqlite3") .. " 2>&1; echo \"exit=$?\"")
    local out = p:read("*a")
    p:close()
    assert.matches("exit=0", out, 1, true)
    local _, month = raw_clients(fake:data(date(T - 30), date(T - 1)))
    local _, cur = raw_clients(fake:data(date(T - 14), date(T - 1)))
    local _, prev = raw_clients(fake:data(date(T - 28), date(T - 15)))
    assert.matches(interval.label(T - 30, T - 1) .. ": " .. string.format("%d", month) .. " requests, 30 of 30 days",
                   out, 1, true)
    assert.matches(interval.label(T - 14, T - 1) .. " against " .. interval.label(T - 28, T - 15) .. ": " ..
                   string.format("%+d", cur - prev) .. " requests", out, 1, true)
    assert.matches("org acme: " .. string.format("%d", month) .. " requests", out, 1, true)
    assert.matches("\nforecast ", out)
  end)
end)

describe("usage.history over a hostile API", function()
  local srv
  setup(function() srv = hostile.start() end)
  teardown(function() if srv then srv:stop() end end)

  it("leaves out rows dated outside the span (and rows without a date), counts and names them", function()
    local inside, outside = date(T - 2), date(T - 40)
    srv:script(hostile.with_login("tok-history", string.format([[
return function(req)
  if req.method == "POST" then return 200, nil, '{"id":"job-1"}' end
  return 200, nil, '{"queryStatus":"Succeeded","entities":[' ..
    '{"date":"%s","oauthClient":{"id":"c1","name":"In"},"templateUri":"api/v2/x","httpMethod":"GET","requestCount":5,"status200":5},' ..
    '{"date":"%s","oauthClient":{"id":"c1","name":"Out"},"templateUri":"api/v2/x","httpMethod":"GET","requestCount":1000,"status200":1000},' ..
    '{"oauthClient":{"id":"c2","name":"No date"},"requestCount":7,"status200":7}]}'
end]], inside, outside)))
    local client = require("usage").new { base_url = srv.base_url, client_id = "hostile-history",
                                          client_secret = "hostile-history-secret", poll = { interval = 0.01 } }
    local r, err = history.from_api(client, { org = "acme" }):read { days = interval.days_of(T - 3, T - 1) }
    assert(r, tostring(err) .. "\n" .. srv:diagnostics())
    assert.equal(5, r.aggregation.total.requests)
    assert.equal(2, r.outside.count)
    assert.same({ "(no date)", outside }, r.outside.dates)
    assert.truthy(r.notes[#r.notes]:find("left out 2 rows dated outside", 1, true))
  end)
end)
