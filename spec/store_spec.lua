-- usage.store: one spec body, run against SQLite and against a real PostgreSQL server (support.postgres).
-- Exact counts, days stored whole, reads grouped by SQL, the schema and its views read by plain SQL, and
-- what a store must withstand (not a database, a newer schema, read-only, locked, a full disk, hostile
-- strings, a password in the URL).
local store = require "usage.store"
local interval = require "usage.base.interval"
local lock = require "usage.store.lock"
local support = require "support.store"
local nginx = require "support.nginx"

local HAS_INT = math.type ~= nil
local api_row = support.api_row

-- the decimal text of a whole number (an integer, or a double that holds a whole number exactly)
local function dec(v)
  if HAS_INT and math.type(v) == "integer" then return string.format("%d", v) end
  return string.format("%.0f", v)
end

local function day(s) return assert(interval.parse_date(s)) end

-- a client that must not be called (the specs here never reach the network)
local NO_CLIENT = { aggregates = function() error("this spec must not reach the API") end }

-- expected sums of API rows, grouped as store:usage groups them
local function expected(rows, key_of)
  local out = {}
  for _, r in ipairs(rows) do
    local k = key_of(r)
    local e = out[k]
    if not e then
      e = { requests = 0, status200 = 0, status300 = 0, status400 = 0, status429 = 0, status500 = 0 }
      out[k] = e
    end
    e.requests = e.requests + r.requestCount
    e.status200 = e.status200 + r.status200
    e.status300 = e.status300 + r.status300
    e.status400 = e.status400 + r.status400
    e.status429 = e.status429 + r.status429
    e.status500 = e.status500 + r.status500
  end
  return out
end

describe("usage.store sync plan", function()
  local plan = require("usage.store.sync").plan
  local function spans_of(stored_list, first, last, refresh)
    local stored = {}
    for _, d in ipairs(stored_list) do stored[d] = true end
    local spans, n = plan(stored, first, last, refresh)
    local out = {}
    for i, sp in ipairs(spans) do out[i] = { sp.first, sp.last } end
    return out, n
  end

  it("backfills the whole window in jobs of at most 90 days", function()
    local spans, n = spans_of({}, 1000, 1363, 3)
    assert.same({ { 1000, 1089 }, { 1090, 1179 }, { 1180, 1269 }, { 1270, 1359 }, { 1360, 1363 } }, spans)
    assert.equal(364, n)
  end)

  it("then fetches the days it lacks and the last refresh_days days it has", function()
    local stored = {}
    for d = 1000, 1360 do stored[#stored + 1] = d end
    assert.same({ { 1358, 1363 } }, (spans_of(stored, 1000, 1363, 3)))
    assert.same({ { 1361, 1363 } }, (spans_of(stored, 1000, 1363, 0)))
    -- a hole in the middle, and the refresh days counted among the stored ones
    local holed = {}
    for d = 1000, 1363 do if d < 1100 or d > 1104 then holed[#holed + 1] = d end end
    local spans, n = spans_of(holed, 1000, 1363, 3)
    assert.same({ { 1100, 1104 }, { 1361, 1363 } }, spans)
    assert.equal(8, n)
    -- everything stored, nothing to refresh: nothing to do
    local all = {}
    for d = 1000, 1363 do all[#all + 1] = d end
    assert.same({}, (spans_of(all, 1000, 1363, 0)))
  end)
end)


-- what a sync would fetch (s:sync_plan, read-only, without the lock), and the ids of a sync's jobs in its
-- progress and its summary (failed, and the jobs an interrupt left unstarted), with a scripted client
describe("usage.store sync_plan and the jobs' ids", function()
  local errors = require "usage.base.errors"
  local store_sync = require "usage.store.sync"
  local dir, n = nil, 0
  setup(function()
    local p = io.popen("mktemp -d")
    dir = p:read("*l")
    p:close()
  end)
  teardown(function() if dir then nginx.run("rm -rf " .. nginx.sh_quote(dir)) end end)
  local function path() n = n + 1 return dir .. "/s" .. n .. ".sqlite3" end

  local now = os.time()
  local yesterday = interval.day_of(now) - 1
  local first = yesterday - 199 -- (200 days: jobs of 90, 90 and 20 days)

  -- a client whose k-th job is script[k] (default: accepted as "job-k", no rows): "fail" (accepted, then
  -- Failed), "refused" (no job: a 503 to the submission), "interrupt" (accepted, then a signal)
  local function scripted(script)
    local k = 0
    return { aggregates = function(_, _, opts)
      k = k + 1
      local what, id, done = script[k], "job-" .. k, false
      local pager = {}
      function pager.next_page()
        if done then return false end
        if what == "refused" then return nil, errors.new { code = "http", status = 503, message = "unavailable" } end
        pager.id = id
        opts.on_progress { state = "submitted", id = id }
        if what == "fail" then return nil, errors.new { code = "query_failed", message = "ended Failed", id = id } end
        if what == "interrupt" then
          return nil, errors.new { code = "interrupted", signal = "INT", message = "interrupted" }
        end
        done = true
        return {}
      end
      return pager
    end }
  end

  it("plans from a read-only store, while another sync holds it, without writing", function()
    local target = path()
    local w = assert(store.open(target))
    assert(w:put("acme", interval.date(first), interval.date(yesterday - 10), {}))
    assert(w:reading(function() return lock.acquire(w, "sync of org elsewhere") end))
    local r = assert(store.open(target, { readonly = true }))
    local p = assert(r:sync_plan { org = "acme", now = now, first = interval.date(first) })
    assert.equal(interval.date(first), p.first)
    assert.equal(interval.date(yesterday), p.last)
    assert.equal(200, p.days)
    assert.equal(190, p.stored)
    assert.equal(13, p.fetch)
    assert.equal(10, p.lacking)
    assert.same({ first = interval.date(yesterday - 12), last = interval.date(yesterday - 10), count = 3 }, p.refreshed)
    assert.same({ { first = interval.date(yesterday - 12), last = interval.date(yesterday), days = 13 } }, p.spans)
    -- an org the store lacks: the whole window, in jobs of 90 days; refresh_days 0: no refreshed days
    p = assert(r:sync_plan { org = "globex", now = now, first = interval.date(first), refresh_days = 0 })
    assert.equal(0, p.stored)
    assert.equal(200, p.lacking)
    assert.is_nil(p.refreshed)
    assert.same({ 90, 90, 20 }, { p.spans[1].days, p.spans[2].days, p.spans[3].days })
    -- nothing was written: no org globex, no sync row; the lock is still the other's
    assert.same({ { "acme" } }, assert(r:sql("SELECT label FROM orgs ORDER BY label")))
    assert.same({ { "0" } }, assert(r:sql("SELECT CAST(count(*) AS TEXT) FROM syncs")))
    assert.same({ { "sync of org elsewhere" } }, assert(r:sql("SELECT purpose FROM sync_lock")))
    -- a first day before the window, a bad option: as sync
    local _, err = r:sync_plan { org = "acme", now = now, first = interval.date(first - 400) }
    assert.equal("bad_span", err.code)
    assert.has_error(function() r:sync_plan { org = "" } end)
    r:close()
    assert.equal("closed", select(2, r:sync_plan { org = "acme" }).code)
    w:close()
    -- no store at all: the plan of an empty one
    p = assert(store_sync.preview(nil, { org = "acme", now = now, refresh_days = 3, first = interval.date(first) }))
    assert.equal(200, p.fetch)
    assert.equal(3, #p.spans)
    local missing = path()
    local none, nerr = store.open(missing, { readonly = true })
    assert.is_nil(none)
    assert.equal("no_store", nerr.code)
  end)

  it("a failed job's id in the progress, the summary and the error; a refused one has none", function()
    local s = assert(store.open(path()))
    local events = {}
    local r, err = s:sync(scripted { "fail", "refused" }, { org = "acme", now = now, first = interval.date(first),
                                                           concurrency = 1, on_progress = function(p)
                                                             events[#events + 1] = p
                                                           end })
    assert.is_nil(r)
    assert.equal("query_failed", err.code)
    assert.equal("2 of 3 jobs of org 'acme' failed (" .. interval.date(first) .. ".." .. interval.date(first + 89) ..
                 ", job job-1; the days of the others are stored): ended Failed", err.message)
    local sm = err.summary
    assert.equal("failed", sm.status)
    assert.equal(2, #sm.failed)
    assert.equal("job-1", sm.failed[1].job_id)
    assert.is_nil(sm.failed[2].job_id)
    assert.is_nil(sm.skipped)
    local submitted, failed, stored = {}, {}, {}
    for _, e in ipairs(events) do
      if e.state == "submitted" then submitted[#submitted + 1] = e.job_id end
      if e.state == "failed" then failed[#failed + 1] = e.job_id or "none" end
      if e.state == "stored" then stored[#stored + 1] = e.job_id end
    end
    assert.same({ "job-1", "job-3" }, submitted)
    assert.same({ "job-1", "none" }, failed)
    assert.same({ "job-3" }, stored)
    s:close()
  end)

  it("an interrupt: the job's id, and the jobs never started said skipped", function()
    local s = assert(store.open(path()))
    local r, err = s:sync(scripted { "interrupt" }, { org = "acme", now = now, first = interval.date(first),
                                                     concurrency = 1 })
    assert.is_nil(r)
    assert.equal("interrupted", err.code)
    local sm = err.summary
    assert.equal("interrupted", sm.status)
    assert.equal("job-1", sm.failed[1].job_id)
    assert.same({ { first = interval.date(first + 90), last = interval.date(first + 179), reason = "interrupted" },
                  { first = interval.date(first + 180), last = interval.date(yesterday), reason = "interrupted" } },
                sm.skipped)
    s:close()
  end)
end)

do
  describe("usage.store default file", function()
    it("is $XDG_DATA_HOME/genesys-usage/usage.sqlite3, else ~/.local/share/genesys-usage/, made private", function()
      local dir = nginx.temp_dir("usage-store-home")
      finally(function() nginx.remove_dir(dir) end)
      local code = [[
        local store = require "usage.store"
        print(store.default_path())
        local s = assert(store.open())
        print(s.where)
        s:close()
      ]]
      local rc, out, err = support.lua(code, { env = { XDG_DATA_HOME = dir .. "/xdg", HOME = dir .. "/home" } })
      assert.equal(0, rc, err)
      assert.equal((dir .. "/xdg/genesys-usage/usage.sqlite3\n"):rep(2), out)
      assert.truthy(nginx.read_file(dir .. "/xdg/genesys-usage/usage.sqlite3"))
      local p = io.popen("stat -c %a " .. nginx.sh_quote(dir .. "/xdg/genesys-usage"))
      assert.equal("700", p:read("*l"))
      p:close()
      rc, out, err = support.lua(code, { env = { XDG_DATA_HOME = "relative/ignored", HOME = dir .. "/home" } })
      assert.equal(0, rc, err)
      assert.equal((dir .. "/home/.local/share/genesys-usage/usage.sqlite3\n"):rep(2), out)
    end)
  end)
end

for _, B in ipairs(support.backends()) do
  describe("usage.store (" .. B.name .. ")", function()
    setup(function() B:start() end)
    teardown(function() B:stop() end)

    local opened = {}
    local function open(name, opts)
      local target = B:target(name)
      local s, err = store.open(target, opts)
      assert(s, tostring(err))
      opened[#opened + 1] = s
      return s, target
    end
    after_each(function()
      for _, s in ipairs(opened) do s:close() end
      opened = {}
    end)

    describe("opening", function()
      it("creates the schema, records its version, and does not migrate twice", function()
        local s, target = open("fresh")
        assert.equal(store.SCHEMA_VERSION, s:schema_version())
        assert.equal(B.name, s.backend)
        local info = {}
        for _, r in ipairs(B:lines(target, "SELECT key, value FROM store_info")) do info[r[1]] = r[2] end
        assert.equal("genesys-usage", info.application)
        assert.equal(tostring(store.SCHEMA_VERSION), info.schema_version)
        assert.truthy(info.created_at:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$"))
        s:close()
        local s2 = assert(store.open(target))
        opened[#opened + 1] = s2
        assert.equal("1", B:shell(target, "SELECT count(*) FROM schema_migrations"):match("%d+"))
        -- every view answers plain SQL
        for _, view in ipairs { "usage_daily", "daily_by_client", "daily_by_endpoint", "daily_totals",
                                "monthly_by_client", "monthly_totals", "client_latest_names",
                                "client_name_history", "sync_state" } do
          assert.equal("0", B:shell(target, "SELECT count(*) FROM " .. view):match("%d+"), view)
        end
      end)

      it("close is idempotent; a closed store says so", function()
        local s = open("closing")
        assert.is_true(s:close())
        assert.is_false(s:close())
        assert.truthy(tostring(s):find("closed", 1, true))
        local r, err = s:usage { first = "2026-01-01", last = "2026-01-02" }
        assert.is_nil(r)
        assert.equal("closed", err.code)
        if _VERSION == "Lua 5.4" then -- a to-be-closed variable closes it at the end of its scope
          local target = B:target("closing2")
          local f = assert(load("local store, target = ... local s <close> = assert(store.open(target)) return s"))
          local s2 = f(store, target)
          assert.is_true(s2.closed)
        end
        if B.name == "postgresql" then -- the garbage collector closes a store nobody holds
          local target = B:target("collected")
          local function sessions()
            return tonumber(B.pg:psql("postgres", "SELECT count(*) FROM pg_stat_activity WHERE datname = 'collected'"):match("%d+"))
          end
          do local _ = assert(store.open(target)) end
          assert.equal(1, sessions())
          collectgarbage()
          collectgarbage()
          for _ = 1, 100 do -- (the server ends the session a moment after the client left)
            if sessions() == 0 then break end
            nginx.sleep(0.02)
          end
          assert.equal(0, sessions())
        end
      end)

      it("raises for programmer errors only", function()
        assert.has_error(function() store.open(42) end)
        assert.has_error(function() store.open(B:target("badopts"), { busy_timeout = "10" }) end)
        assert.has_error(function() store.open(B:target("badopts"), { nope = true }) end)
        local s = open("prog")
        assert.has_error(function() s:usage {} end)
        assert.has_error(function() s:usage { first = "2026-01-01", last = "2026-01-02", by = "user" } end)
        assert.has_error(function() s:usage { first = "2026-01-01", last = "2026-01-02", per = "week" } end)
        assert.has_error(function() s:sync(NO_CLIENT, {}) end) -- no org
        assert.has_error(function() s:sync({}, { org = "a" }) end)
        assert.has_error(function() s:put("", "2026-01-01", "2026-01-01", {}) end)
        -- a bad day is a runtime error (it may come from a user), not a raise
        local r, err = s:usage { first = "2026-13-01", last = "2026-12-31" }
        assert.is_nil(r)
        assert.equal("bad_span", err.code)
      end)
    end)

    describe("exact counts", function()
      -- values around 2^31, 2^32, 2^53 and 2^63; under LuaJIT only those a double holds exactly
      local values = { 2147483647, 2147483648, 2147483649, 3000000000, 4294967296, 2 ^ 53 - 1, 2 ^ 53,
                       2 ^ 53 + 2, 2 ^ 62 }
      if HAS_INT then
        values = { 2147483647, 2147483648, 2147483649, 3000000000, 4294967296, math.tointeger(2 ^ 53) - 1, math.tointeger(2 ^ 53),
                   math.tointeger(2 ^ 53) + 1, math.tointeger(2 ^ 53) + 2, math.tointeger(2 ^ 62), math.maxinteger }
      end

      it("stores and reads back every count exactly, one a day", function()
        local s, target = open("exact")
        local rows, first = {}, day("2026-01-01")
        for i, v in ipairs(values) do
          rows[i] = api_row { date = interval.date(first + i - 1), client = "c", uri = "u", method = "GET",
                              requests = v, s200 = v, s300 = v, s400 = v, s429 = v, s500 = v }
        end
        assert(s:put("acme", "2026-01-01", interval.date(first + #values - 1), rows))
        -- as text (exact under every interpreter)
        local r = assert(s:usage { first = "2026-01-01", last = interval.date(first + #values - 1), by = "org",
                                   counts = "string" })
        assert.equal(#values, #r.rows)
        for i, v in ipairs(values) do
          for _, c in ipairs { "requests", "status200", "status300", "status400", "status429", "status500" } do
            assert.equal(dec(v), r.rows[i][c], c .. " of day " .. i)
          end
        end
        -- as the database holds them: integers, not text or floats
        local lines = B:lines(target, B.name == "sqlite" and
          "SELECT day, CAST(requests AS TEXT), typeof(requests), typeof(status500) FROM usage_rows ORDER BY day" or
          "SELECT day, requests::text, pg_typeof(requests), pg_typeof(status500) FROM usage_rows ORDER BY day")
        for i, v in ipairs(values) do
          assert.equal(dec(v), lines[i][2])
          assert.equal(B.name == "sqlite" and "integer" or "bigint", lines[i][3])
          assert.equal(lines[i][3], lines[i][4])
        end
        -- as numbers: exact, or (LuaJIT, 2^53 and up) an error, never a rounded figure
        for i, v in ipairs(values) do
          local d = interval.date(first + i - 1)
          local one, err = s:usage { first = d, last = d, by = "client" }
          if HAS_INT or v < 2 ^ 53 then
            assert(one, tostring(err))
            assert.equal(v, one.rows[1].requests)
            if HAS_INT then assert.equal("integer", math.type(one.rows[1].requests)) end
          else
            assert.is_nil(one)
            assert.equal("inexact", err.code)
            assert.truthy(err.message:find(dec(v), 1, true))
          end
        end
      end)

      it("sums in SQL exactly past 2^31 and 2^53, and refuses a sum past 2^63-1", function()
        local s = open("sums")
        local big = HAS_INT and (math.tointeger(2 ^ 53) - 1) or (2 ^ 53 - 1)
        local rows = {
          api_row { date = "2026-02-01", client = "a", uri = "u", method = "GET", requests = 1500000000 },
          api_row { date = "2026-02-01", client = "b", uri = "u", method = "GET", requests = 1500000001 },
          api_row { date = "2026-02-02", client = "a", uri = "u", method = "GET", requests = big },
          api_row { date = "2026-02-02", client = "b", uri = "u", method = "GET", requests = 3 },
        }
        assert(s:put("acme", "2026-02-01", "2026-02-02", rows))
        local d1 = assert(s:usage { first = "2026-02-01", last = "2026-02-01", by = "org", per = "span" })
        assert.equal(3000000001, d1.rows[1].requests) -- past 2^31
        local d2t = assert(s:usage { first = "2026-02-02", last = "2026-02-02", by = "org", per = "span",
                                     counts = "string" })
        assert.equal("9007199254740994", d2t.rows[1].requests) -- 2^53 - 1 + 3
        local d2, err = s:usage { first = "2026-02-02", last = "2026-02-02", by = "org", per = "span" }
        if HAS_INT then
          assert.equal(math.tointeger(2 ^ 53) + 2, d2.rows[1].requests)
        else
          assert.is_nil(d2)
          assert.equal("inexact", err.code)
        end
        -- 2^62 + 2^62 = 2^63: beyond what a store holds, an error under both backends
        local q = HAS_INT and math.tointeger(2 ^ 62) or 2 ^ 62
        assert(s:put("acme", "2026-03-01", "2026-03-02", {
          api_row { date = "2026-03-01", client = "a", uri = "u", method = "GET", requests = q },
          api_row { date = "2026-03-02", client = "a", uri = "u", method = "GET", requests = q },
        }))
        for _, counts in ipairs { "number", "string" } do
          local r, oerr = s:usage { first = "2026-03-01", last = "2026-03-02", by = "client", per = "span",
                                    counts = counts }
          assert.is_nil(r)
          assert.equal("overflow", oerr.code)
          assert.truthy(oerr.message:find("2^63-1", 1, true), oerr.message)
        end
      end)

      it("adds up two rows of one key in SQL (a client renamed during the day)", function()
        local s = open("dupes")
        assert(s:put("acme", "2026-02-01", "2026-02-01", {
          api_row { date = "2026-02-01", client = "a", name = "Old name", uri = "u", method = "GET", requests = 5 },
          api_row { date = "2026-02-01", client = "a", name = "New name", uri = "u", method = "GET", requests = 7 },
        }))
        local r = assert(s:usage { first = "2026-02-01", last = "2026-02-01", by = "client" })
        assert.equal(1, #r.rows)
        assert.equal(12, r.rows[1].requests)
        assert.equal("Old name", r.rows[1].client_name) -- both seen that day: the greatest name, one rule
        local names = assert(s:client_names { org = "acme" })
        assert.equal(2, #names)
      end)
    end)

    describe("days", function()
      it("replaces an org's days whole; a day without usage is a stored day; again is the same", function()
        local s, target = open("replace")
        local a, b = day("2026-04-01"), day("2026-04-10")
        local rows = support.rows_for(a, b)
        local first = assert(s:put("acme", "2026-04-01", "2026-04-10", rows))
        assert.same({ days = 10, added = 10, replaced = 0, rows = #rows }, first)
        local again = assert(s:put("acme", "2026-04-01", "2026-04-10", rows))
        assert.same({ days = 10, added = 0, replaced = 10, rows = #rows }, again)
        assert.equal(tostring(#rows), B:shell(target, "SELECT count(*) FROM usage_rows"):match("%d+"))
        -- days 3..5 again with one row only, and day 6 with none: the old rows of those days are gone
        local one = api_row { date = "2026-04-04", client = "solo", uri = "x", method = "GET", requests = 1 }
        assert.same({ days = 4, added = 0, replaced = 4, rows = 1 },
                    assert(s:put("acme", "2026-04-03", "2026-04-06", { one })))
        local daily = assert(s:usage { first = "2026-04-01", last = "2026-04-12", by = "org" })
        local totals = {}
        for _, r in ipairs(daily.rows) do totals[r.date] = r.requests end
        local exp = expected(rows, function(r) return r.date end)
        for d = a, b do
          local ds = interval.date(d)
          if ds == "2026-04-04" then assert.equal(1, totals[ds])
          elseif ds >= "2026-04-03" and ds <= "2026-04-06" then assert.equal(0, totals[ds], ds)
          else assert.equal(exp[ds].requests, totals[ds], ds) end
        end
        assert.equal(10, #daily.rows) -- the stored days, with zeros; not the two days never stored
        assert.same({ "2026-04-11", "2026-04-12" }, daily.orgs[1].missing)
        assert.is_false(daily.complete)
        assert.equal(10, daily.orgs[1].stored)
      end)

      it("refuses a bad row and stores nothing of its days", function()
        local s = open("badrows")
        local good = api_row { date = "2026-05-01", client = "a", uri = "u", method = "GET", requests = 10 }
        assert(s:put("acme", "2026-05-01", "2026-05-02", { good }))
        local bad = {
          { "negative", api_row { date = "2026-05-01", client = "a", uri = "u", method = "GET", requests = -1 } },
          { "fraction", api_row { date = "2026-05-01", client = "a", uri = "u", method = "GET", requests = 1.5 } },
          { "text count", { date = "2026-05-01", oauthClient = { id = "a" }, templateUri = "u", httpMethod = "GET",
                            requestCount = "12" } },
          { "boolean count", { date = "2026-05-01", oauthClient = { id = "a" }, status200 = true } },
          { "false requests", { date = "2026-05-01", oauthClient = { id = "a" }, requests = false } },
          { "table count", { date = "2026-05-01", oauthClient = { id = "a" }, status500 = {} } },
          { "infinite", api_row { date = "2026-05-01", client = "a", uri = "u", method = "GET", requests = math.huge } },
          { "outside the days", api_row { date = "2026-05-07", client = "a", uri = "u", method = "GET", requests = 1 } },
          { "no date", { oauthClient = { id = "a" }, requestCount = 1 } },
          { "not an object", "row" },
          { "a 2 kB templateUri", api_row { date = "2026-05-01", client = "a", uri = string.rep("x", 2048),
                                           method = "GET", requests = 1 } },
        }
        for _, case in ipairs(bad) do
          local r, err = s:put("acme", "2026-05-01", "2026-05-02", { good, case[2] })
          assert.is_nil(r, case[1])
          assert.equal("bad_row", err.code, case[1])
          local u = assert(s:usage { first = "2026-05-01", last = "2026-05-02", by = "org" })
          assert.equal(10, u.rows[1].requests, case[1]) -- what was stored is still there, unchanged
          assert.equal(2, u.orgs[1].stored)
        end
      end)
    end)

    describe("reads", function()
      local s, target
      local rows_a, rows_b
      local A, Z = day("2026-01-20"), day("2026-03-05")
      setup(function()
        target = B:target("reads")
        s = assert(store.open(target))
        rows_a = support.rows_for(A, Z)
        rows_b = support.rows_for(A + 10, Z, { clients = 2, uris = 4 })
        for _, r in ipairs(rows_b) do r.requestCount = r.requestCount * 3 end
        assert(s:put("acme", interval.date(A), interval.date(Z), rows_a))
        assert(s:put("globex", interval.date(A + 10), interval.date(Z), rows_b))
      end)
      teardown(function() s:close() end)

      local function check(opts, rows_by_org, key_of, label)
        local r = assert(s:usage(opts))
        local got = {}
        for _, row in ipairs(r.rows) do
          local k = key_of(row)
          assert.is_nil(got[k], "twice: " .. k)
          got[k] = row.requests
        end
        local want = {}
        for org, rows in pairs(rows_by_org) do
          for k, e in pairs(expected(rows, function(x) return key_of(x, org) end)) do want[k] = (want[k] or 0) + e.requests end
        end
        assert.same(want, got, label)
        return r
      end

      local function month(d) return d:sub(1, 7) end
      local function in_span(rows, first, last)
        local out = {}
        for _, r in ipairs(rows) do if r.date >= first and r.date <= last then out[#out + 1] = r end end
        return out
      end

      it("groups by day, month or span and by client, endpoint, both or org, for one org or all", function()
        local first, last = "2026-02-01", "2026-02-28"
        local sa, sb = in_span(rows_a, first, last), in_span(rows_b, first, last)
        local function api_key(parts)
          return function(x, org)
            local t = {}
            for _, p in ipairs(parts) do
              if p == "org" then t[#t + 1] = x.org or org
              elseif p == "day" then t[#t + 1] = x.date
              elseif p == "month" then t[#t + 1] = x.month or month(x.date)
              elseif p == "client" then t[#t + 1] = x.client_id or (x.oauthClient and x.oauthClient.id)
              elseif p == "endpoint" then t[#t + 1] = (x.template_uri or x.templateUri) .. " " .. (x.http_method or x.httpMethod)
              end
            end
            return table.concat(t, "|")
          end
        end
        for _, by in ipairs { "client_endpoint", "client", "endpoint", "org" } do
          for _, per in ipairs { "day", "month", "span" } do
            local parts = { "org" }
            if per ~= "span" then parts[#parts + 1] = per end
            if by == "client" or by == "client_endpoint" then parts[#parts + 1] = "client" end
            if by == "endpoint" or by == "client_endpoint" then parts[#parts + 1] = "endpoint" end
            local r = check({ first = first, last = last, by = by, per = per }, { acme = sa, globex = sb },
                            api_key(parts), by .. "/" .. per)
            assert.equal(2, #r.orgs)
            -- one org
            check({ first = first, last = last, by = by, per = per, org = "globex" }, { globex = sb },
                  api_key(parts), by .. "/" .. per .. " globex")
            -- both orgs added up
            local merged_parts = {}
            for i = 2, #parts do merged_parts[#merged_parts + 1] = parts[i] end
            local function mkey(x, _) return api_key(merged_parts)(x) end
            if #merged_parts > 0 then
              check({ first = first, last = last, by = by, per = per, merge_orgs = true }, { acme = sa, globex = sb },
                    mkey, by .. "/" .. per .. " merged")
            end
          end
        end
      end)

      it("gives rows the shape of usage.rows.normalize, the days covered and the missing ones", function()
        local r = assert(s:usage { first = "2026-01-25", last = "2026-02-02", org = { "acme", "globex" } })
        local row = r.rows[1]
        for _, f in ipairs { "org", "date", "client_id", "client_name", "template_uri", "http_method", "requests",
                             "status200", "status300", "status400", "status429", "status500" } do
          assert.is_not_nil(row[f], f)
        end
        assert.equal("Client " .. row.client_id:match("%d+"), row.client_name)
        assert.equal("25 January - 2 February 2026", r.label)
        assert.equal(9, r.days)
        local cov = {}
        for _, c in ipairs(r.orgs) do cov[c.org] = c end
        assert.equal(9, cov.acme.stored)
        assert.same({}, cov.acme.missing)
        assert.same({ "2026-01-25", "2026-01-26", "2026-01-27", "2026-01-28", "2026-01-29" }, cov.globex.missing)
        assert.equal("2026-01-30", cov.globex.first_stored)
        assert.is_false(r.complete)
        -- by day: in date order, the biggest first within a day
        for i = 2, #r.rows do
          local p, q = r.rows[i - 1], r.rows[i]
          assert.is_true(p.date < q.date or (p.date == q.date and (p.org < q.org or
            (p.org == q.org and p.requests >= q.requests))))
        end
        -- months carry their first day and the month
        local m = assert(s:usage { first = "2026-01-20", last = "2026-03-05", by = "org", per = "month", org = "acme" })
        assert.same({ "2026-01-01", "2026-02-01", "2026-03-01" }, { m.rows[1].date, m.rows[2].date, m.rows[3].date })
        assert.equal("2026-02", m.rows[2].month)
        -- streaming: the same rows, none kept
        local seen = 0
        local st = assert(s:usage { first = "2026-01-25", last = "2026-02-02", org = { "acme", "globex" },
                                    on_row = function() seen = seen + 1 end })
        assert.is_nil(st.rows)
        assert.equal(#r.rows, seen)
        assert.equal(seen, st.row_count)
        -- an org the store does not have
        local none, err = s:usage { first = "2026-01-25", last = "2026-02-02", org = "initech" }
        assert.is_nil(none)
        assert.equal("unknown_org", err.code)
        assert.truthy(err.message:find("acme, globex", 1, true))
      end)

      it("has views that plain SQL reads with the same figures", function()
        local lib = assert(s:usage { first = "2026-01-20", last = "2026-03-05", by = "org", per = "day" })
        local want = {}
        for _, r in ipairs(lib.rows) do want[#want + 1] = { r.org, r.date, tostring(r.requests) } end
        local got = B:lines(target, "SELECT org, day, requests FROM daily_totals ORDER BY day, org")
        assert.same(want, got)
        local mlib = assert(s:usage { first = "2026-01-01", last = "2026-03-31", by = "client", per = "month" })
        local mwant = {}
        for _, r in ipairs(mlib.rows) do mwant[r.org .. r.month .. r.client_id] = tostring(r.requests) .. "|" .. r.client_name end
        local mgot = {}
        for _, l in ipairs(B:lines(target, "SELECT org, month, client_id, requests, client_name FROM monthly_by_client")) do
          mgot[l[1] .. l[2] .. l[3]] = l[4] .. "|" .. l[5]
        end
        assert.same(mwant, mgot)
        local totals = B:lines(target, "SELECT org, month, days_stored, requests FROM monthly_totals ORDER BY org, month")
        assert.same({ "acme", "2026-01", "12" }, { totals[1][1], totals[1][2], totals[1][3] })
        assert.same({ "globex", "2026-03", "5" }, { totals[6][1], totals[6][2], totals[6][3] })
        local ep = B:lines(target, "SELECT count(*) FROM daily_by_endpoint WHERE org = 'acme' AND day = '2026-02-01'")
        local epl = assert(s:usage { first = "2026-02-01", last = "2026-02-01", by = "endpoint", org = "acme" })
        assert.equal(tostring(#epl.rows), ep[1][1])
        local st = B:lines(target, "SELECT org, days_stored, first_day, last_day FROM sync_state ORDER BY org")
        assert.same({ { "acme", "45", "2026-01-20", "2026-03-05" }, { "globex", "35", "2026-01-30", "2026-03-05" } }, st)
        local orgs = assert(s:orgs())
        assert.equal(45, orgs[1].days_stored)
        assert.equal("2026-01-30", orgs[2].first_day)
      end)

      it("keeps every name a client had, and names it by the latest", function()
        local a = day("2026-06-01")
        local rows = {}
        for i = 0, 5 do
          rows[#rows + 1] = api_row { date = interval.date(a + i), client = "renamed", name = i < 3 and "Before" or "After",
                                      uri = "u", method = "GET", requests = 1 }
        end
        assert(s:put("acme", "2026-06-01", "2026-06-06", rows))
        local hist = assert(s:client_names { org = "acme", client_id = "renamed" })
        assert.same({ { org = "acme", client_id = "renamed", client_name = "Before", first_day = "2026-06-01",
                        last_day = "2026-06-03", days = 3 },
                      { org = "acme", client_id = "renamed", client_name = "After", first_day = "2026-06-04",
                        last_day = "2026-06-06", days = 3 } }, hist)
        local r = assert(s:usage { first = "2026-06-01", last = "2026-06-02", by = "client", org = "acme" })
        assert.equal("After", r.rows[1].client_name)
      end)
    end)

    describe("withstands", function()
      it("server strings full of SQL, NUL and invalid UTF-8: data, stored the same by both backends", function()
        local s, target = open("hostile")
        local evil = {
          client = "x'); DROP TABLE usage_rows; --",
          name = "Robert\0'); DELETE FROM orgs; -- \255\254",
          uri = "api/v2/?;'\"\\%_$1 :x ?1 @a",
          method = "GET\0POST",
        }
        assert(s:put("acme", "2026-07-01", "2026-07-01", {
          api_row { date = "2026-07-01", client = evil.client, name = evil.name, uri = evil.uri, method = evil.method,
                    requests = 42 },
        }))
        local r = assert(s:usage { first = "2026-07-01", last = "2026-07-01" })
        local row = r.rows[1]
        assert.equal(evil.client, row.client_id)
        assert.equal("Robert\239\191\189'); DELETE FROM orgs; -- \239\191\189\239\191\189", row.client_name)
        assert.equal(evil.uri, row.template_uri)
        assert.equal("GET\239\191\189POST", row.http_method)
        assert.equal(42, row.requests)
        -- every table is still there and holds what it should
        assert.equal("1", B:shell(target, "SELECT count(*) FROM usage_rows"):match("%d+"))
        assert.equal("1", B:shell(target, "SELECT count(*) FROM orgs"):match("%d+"))
        local again = assert(s:usage { first = "2026-07-01", last = "2026-07-01", by = "client" })
        assert.equal(evil.client, again.rows[1].client_id)
      end)

      it("a newer schema: refused, never modified", function()
        local s, target = open("newer")
        s:close()
        B:shell(target, "UPDATE store_info SET value = '99' WHERE key = 'schema_version'")
        local before = B.name == "sqlite" and nginx.read_file(target) or
                       B:shell(target, "SELECT key, value FROM store_info ORDER BY key")
        for _, opts in ipairs { {}, { readonly = true } } do
          local s2, err = store.open(target, opts)
          assert.is_nil(s2)
          assert.equal("newer_schema", err.code)
          assert.truthy(err.message:find("schema version 99", 1, true), err.message)
          assert.truthy(err.message:find("not modified", 1, true), err.message)
        end
        local after = B.name == "sqlite" and nginx.read_file(target) or
                      B:shell(target, "SELECT key, value FROM store_info ORDER BY key")
        assert.equal(before, after)
        assert.equal("1", B:shell(target, "SELECT count(*) FROM schema_migrations"):match("%d+"))
      end)

      it("a database that is not a store: refused, left as it is", function()
        local target = B:target("other")
        if B.name == "sqlite" then
          -- not a database at all
          local junk = string.rep("this is not a database\n", 200)
          nginx.write_file(target, junk)
          local s, err = store.open(target)
          assert.is_nil(s)
          assert.equal("not_a_store", err.code)
          assert.truthy(err.message:find(target, 1, true))
          assert.equal(junk, nginx.read_file(target))
          -- a database of something else
          os.remove(target)
          B:shell(target, "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total INTEGER)")
          local before = nginx.read_file(target)
          s, err = store.open(target)
          assert.is_nil(s)
          assert.equal("not_a_store", err.code)
          assert.truthy(err.message:find("invoices", 1, true))
          assert.equal(before, nginx.read_file(target))
        else
          B:shell(target, "CREATE TABLE usage_rows (id integer)")
          local s, err = store.open(target)
          assert.is_nil(s)
          assert.equal("not_a_store", err.code)
          assert.equal("usage_rows", B:shell(target, "SELECT string_agg(table_name, ',') FROM information_schema.tables " ..
                                                     "WHERE table_schema = 'public'"):match("[%w_,]+"))
          -- unrelated tables are fine: a team's database may hold other things
          local t2 = B:target("shared")
          B:shell(t2, "CREATE TABLE invoices (id integer)")
          local s2 = assert(store.open(t2))
          s2:close()
        end
      end)

      it("read-only: reads work, writes fail clearly, nothing changes", function()
        local s, target = open("ro")
        assert(s:put("acme", "2026-08-01", "2026-08-01",
                     { api_row { date = "2026-08-01", client = "a", uri = "u", method = "GET", requests = 5 } }))
        s:close()
        -- opened read-only by the caller
        local r = assert(store.open(target, { readonly = true }))
        opened[#opened + 1] = r
        assert.equal(5, assert(r:usage { first = "2026-08-01", last = "2026-08-01", by = "org" }).rows[1].requests)
        local no, err = r:put("acme", "2026-08-01", "2026-08-01", {})
        assert.is_nil(no)
        assert.equal("readonly", err.code)
        no, err = r:sync(NO_CLIENT, { org = "acme" })
        assert.is_nil(no)
        assert.equal("readonly", err.code)
        r:close()
        if B.name == "sqlite" then
          -- a missing file is not created by a read-only open
          local nothing, nerr = store.open(B.dir .. "/missing.sqlite3", { readonly = true })
          assert.is_nil(nothing)
          assert.equal("no_store", nerr.code)
          assert.is_nil(nginx.read_file(B.dir .. "/missing.sqlite3"))
          -- a read-only file and a read-only directory, by file permissions (as root: checked as nobody)
          local root = nginx.running_as_root()
          assert(nginx.run("chmod 711 " .. nginx.sh_quote(B.dir))) -- (mktemp -d made it private)
          local dir = B.dir .. "/rodir"
          assert(nginx.run("mkdir -p " .. nginx.sh_quote(dir) .. " && cp " .. nginx.sh_quote(target) .. " " ..
                           nginx.sh_quote(dir .. "/s.sqlite3")))
          local file = dir .. "/s.sqlite3"
          local before = nginx.read_file(file)
          local code = [[
            local store = require "usage.store"
            local s, err = store.open(]] .. string.format("%q", file) .. [[)
            if not s then print("OPEN", err.code, err.message) return end
            local r = s:usage { first = "2026-08-01", last = "2026-08-01", by = "org" }
            print("READ", r and r.rows[1].requests)
            local ok, werr = s:put("acme", "2026-08-01", "2026-08-01", {})
            print("PUT", ok and "ok" or werr.code, werr and werr.message)
          ]]
          local function attempt(setup_cmd)
            assert(nginx.run(setup_cmd))
            local rc, out, errout = support.lua(code, { user = root and "nobody" or nil })
            assert.equal(0, rc, errout)
            return out
          end
          local q = nginx.sh_quote
          -- the file read-only (its directory writable)
          local out = attempt((root and ("chown -R nobody " .. q(dir) .. " && ") or "") .. "chmod 755 " .. q(dir) ..
                              " && chmod 444 " .. q(file))
          assert.matches("READ\t5", out)
          assert.matches("PUT\treadonly\t.*read%-only", out)
          -- the directory read-only (the file writable: SQLite cannot make its journal)
          out = attempt("chmod 644 " .. q(file) .. " && " .. (root and ("chown root " .. q(dir) .. " && ") or "") ..
                        "chmod 555 " .. q(dir))
          assert.matches("READ\t5", out)
          assert.matches("PUT\treadonly\t.*directory is read%-only", out)
          assert(nginx.run("chmod 755 " .. q(dir)))
          assert.equal(before, nginx.read_file(file))
        else
          -- a role that may only read
          B.pg:sql("DROP ROLE IF EXISTS reader")
          B.pg:sql("CREATE ROLE reader LOGIN")
          B:shell(target, "GRANT USAGE ON SCHEMA public TO reader; GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader")
          local url = target:gsub("postgres@", "reader@")
          local rd = assert(store.open(url))
          opened[#opened + 1] = rd
          assert.equal(5, assert(rd:usage { first = "2026-08-01", last = "2026-08-01", by = "org" }).rows[1].requests)
          local ok, perr = rd:put("acme", "2026-08-01", "2026-08-01", {})
          assert.is_nil(ok)
          assert.equal("permission", perr.code)
          local still = assert(store.open(target))
          opened[#opened + 1] = still
          assert.equal(5, assert(still:usage { first = "2026-08-01", last = "2026-08-01", by = "org" }).rows[1].requests)
        end
      end)

      it("a store held by another sync: waits lock_wait, then says what holds it", function()
        local s1, target = open("locked")
        local token = assert(s1:reading(function() return lock.acquire(s1, "sync of org acme") end))
        assert.truthy(token)
        local s2 = assert(store.open(target, { lock_wait = 0.5 }))
        opened[#opened + 1] = s2
        local t0 = nginx.now()
        local r, err = s2:sync(NO_CLIENT, { org = "acme" })
        local waited = nginx.now() - t0
        assert.is_nil(r)
        assert.equal("locked", err.code)
        assert.is_true(waited >= 0.5)
        local me = lock.me()
        assert.truthy(err.message:find("sync of org acme", 1, true), err.message)
        assert.truthy(err.message:find("pid " .. me.pid .. " on host " .. me.host, 1, true), err.message)
        assert.truthy(err.message:find("waited 0.5 s", 1, true), err.message)
        -- released: the next one gets it
        s1:close()
        assert.truthy(s2:reading(function() return lock.acquire(s2, "sync of org acme") end))
        s2:close()
        -- a holder whose process is gone is stale: taken over
        local gone = tonumber(io.popen("sh -c 'echo $$'"):read("*l"))
        B:shell(target, string.format("INSERT INTO sync_lock (id, token, host, pid, pid_start, started_at, heartbeat_at, " ..
          "purpose) VALUES (1, 't', '%s', %d, '1', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 'sync of org x')",
          me.host, gone))
        local s3 = assert(store.open(target, { lock_wait = 0 }))
        opened[#opened + 1] = s3
        assert.truthy(s3:reading(function() return lock.acquire(s3, "sync of org acme") end))
      end)

      if B.name == "sqlite" then
        it("a file another program has locked: waits busy_timeout, then says so", function()
          local s, target = open("filelock")
          s:close()
          -- the sqlite3 shell holds an exclusive lock for 3 s
          local done = B.dir .. "/filelock.done"
          os.execute("(sqlite3 " .. nginx.sh_quote(target) .. " 'BEGIN EXCLUSIVE' 'DELETE FROM sync_lock' " ..
                     "'.shell sleep 3' 'ROLLBACK'; touch " .. nginx.sh_quote(done) .. ") >/dev/null 2>&1 &")
          nginx.sleep(0.5)
          local t0 = nginx.now()
          local s2, err = store.open(target, { busy_timeout = 0.3 })
          assert.is_nil(s2)
          assert.equal("busy", err.code)
          assert.truthy(err.message:find("another program", 1, true), err.message)
          assert.is_true(nginx.now() - t0 >= 0.3)
          for _ = 1, 300 do
            if nginx.read_file(done) then break end
            nginx.sleep(0.05)
          end
          local s3 = assert(store.open(target))
          s3:close()
        end)

        it("a full disk: a clear error, what was stored is kept, later writes work", function()
          local s, target = open("full")
          local a = day("2026-09-01")
          local small = support.rows_for(a, a + 1)
          assert(s:put("acme", "2026-09-01", "2026-09-02", small))
          s:close()
          local pages = tonumber(B:shell(target, "PRAGMA page_count"):match("%d+"))
          local f = assert(store.open(target, { pragmas = { max_page_count = pages + 3 } }))
          opened[#opened + 1] = f
          local big = support.rows_for(a, a + 60, { clients = 20, uris = 20 })
          local r, err = f:put("acme", "2026-09-01", interval.date(a + 60), big)
          assert.is_nil(r)
          assert.equal("full", err.code)
          assert.truthy(err.message:find("full", 1, true))
          local u = assert(f:usage { first = "2026-09-01", last = interval.date(a + 60), by = "org" })
          assert.equal(2, #u.rows)
          assert.equal(expected(small, function(x) return x.date end)["2026-09-01"].requests, u.rows[1].requests)
          f:close()
          local g = assert(store.open(target))
          opened[#opened + 1] = g
          assert(g:put("acme", "2026-09-01", interval.date(a + 60), big))
        end)
      end

      if B.name == "postgresql" then
        it("a PostgreSQL password never appears in an error, tostring, a field or the database", function()
          local password = "S3cr3t'pw-" .. tostring(os.time())
          B.pg:role("secretuser", password)
          local db = B:target("secret")
          B:shell(db, "GRANT ALL ON SCHEMA public TO secretuser")
          local enc = password:gsub("'", "%%27")
          local url = "postgresql://secretuser:" .. enc .. "@127.0.0.1:" .. B.pg.port .. "/secret"
          local texts = {}
          local function collect(v, depth)
            depth = depth or 0
            if type(v) == "string" then texts[#texts + 1] = v
            elseif type(v) == "table" and depth < 6 then
              texts[#texts + 1] = tostring(v)
              for k, x in pairs(v) do collect(k, depth + 1); collect(x, depth + 1) end
            end
          end
          local s = assert(store.open(url))
          opened[#opened + 1] = s
          collect(tostring(s)); collect(s.where)
          assert(s:put("acme", "2026-10-01", "2026-10-01", {}))
          local _, e1 = s:sql("SELECT * FROM no_such_table")
          collect(e1); collect(tostring(e1))
          -- the password in the query instead, a wrong one, a database that does not exist
          for _, u in ipairs {
            "postgresql://secretuser@127.0.0.1:" .. B.pg.port .. "/secret?password=" .. enc,
            "postgresql://secretuser:wrong" .. enc .. "@127.0.0.1:" .. B.pg.port .. "/secret",
            "postgresql://secretuser:" .. enc .. "@127.0.0.1:" .. B.pg.port .. "/nowhere",
            "postgresql://secretuser:" .. enc .. "@127.0.0.1:1/secret",
            "postgresql://secretuser:" .. enc .. "@127.0.0.1:" .. B.pg.port .. "/secret?bogus=1",
          } do
            local ok, err = store.open(u)
            if ok then
              collect(tostring(ok))
              ok:close()
            else
              collect(err); collect(tostring(err))
            end
          end
          local ok, lerr = store.open(url, { lock_wait = 0 })
          opened[#opened + 1] = ok
          s:reading(function() return lock.acquire(s, "sync of org acme") end)
          local _, e2 = ok:sync(NO_CLIENT, { org = "acme" })
          collect(e2); collect(tostring(e2)); collect(lerr)
          collect(B:shell(db, "SELECT * FROM sync_lock")); collect(B:shell(db, "SELECT * FROM store_info"))
          collect(B:shell(db, "SELECT * FROM syncs"))
          for _, t in ipairs(texts) do
            assert.is_nil(t:find(password, 1, true), t)
            assert.is_nil(t:find(enc, 1, true), t)
          end
          assert.truthy(#texts > 20)
        end)
      end
    end)
  end)
end
