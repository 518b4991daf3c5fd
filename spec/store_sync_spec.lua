-- store:sync against the fake cloud, one spec body for SQLite and PostgreSQL: the backfill of the window
-- the service serves, later syncs that fetch only what is new, several orgs at once, and syncs that fail,
-- lose their connection, are interrupted (SIGINT) or killed (SIGKILL) halfway: whole days only, and the
-- next run completes. Every expectation is what the fake served (an aggregates job run by the spec).
local store = require "usage.store"
local usage = require "usage"
local interval = require "usage.base.interval"
local rows_mod = require "usage.base.rows"
local fakecloud = require "fakecloud"
local support = require "support.store"
local cli = require "support.cli"
local nginx = require "support.nginx"
local H = require "helper"

local COUNTS = rows_mod.COUNTS

local function today() return interval.day_of(os.time()) end

-- per-day totals as the API answers them: { ["YYYY-MM-DD"] = { requests =, status200 =, ... } }
local function api_daily(client, first, last)
  local out = {}
  for _, span in ipairs(interval.split(first, last, 90)) do
    local rows = assert(client:aggregates({ interval = interval.days_of(span.first, span.last).jobs,
                                            granularity = "Day" }):all())
    for _, r in ipairs(rows) do
      local n = rows_mod.normalize(r)
      local t = out[n.date] or {}
      for _, c in ipairs(COUNTS) do t[c] = (t[c] or 0) + n[c] end
      out[n.date] = t
    end
  end
  return out
end

local function store_daily(s, first, last, org)
  local r = assert(s:usage { first = interval.date(first), last = interval.date(last), by = "org", org = org })
  local out = {}
  for _, row in ipairs(r.rows) do out[row.date] = row end
  return out, r
end

-- every day of first..last: the store's totals equal the API's (a day without API rows: zeros)
local function assert_days_equal(api, stored, first, last, only_stored)
  local checked = 0
  for d = first, last do
    local ds = interval.date(d)
    local got = stored[ds]
    if got or not only_stored then
      assert(got, "the store lacks " .. ds)
      local want = api[ds] or {}
      for _, c in ipairs(COUNTS) do
        assert.equal(want[c] or 0, got[c], ds .. " " .. c)
      end
      checked = checked + 1
    end
  end
  return checked
end

local function job_posts(fake)
  local out = {}
  for _, e in ipairs(H.requests(fake, "/aggregates/query/jobs$", "POST")) do
    local body = usage.json.decode(e.body)
    out[#out + 1] = body.interval
  end
  return out
end

for _, B in ipairs(support.backends()) do
  describe("store:sync (" .. B.name .. ")", function()
    local fake, client
    setup(function()
      B:start()
      fake = H.start { config = { lifecycle = { polls = 0 } } }
      client = H.client(fake)
    end)
    teardown(function()
      if fake then fake:stop() end
      B:stop()
    end)
    before_each(function()
      fake:reset()
      fake:config { lifecycle = { polls = 0 } }
      fake:clear_log()
    end)

    local opened = {}
    local function open(name, opts)
      local target = B:target(name)
      local s = assert(store.open(target, opts))
      opened[#opened + 1] = s
      return s, target
    end
    after_each(function()
      for _, s in ipairs(opened) do s:close() end
      opened = {}
    end)

    it("backfills every whole day the service serves, then fetches only the new and the last days", function()
      local s = open("backfill")
      local first, last = require("usage.api.window").first_allowed_day(os.time()), today() - 1
      local events = {}
      local summary = assert(s:sync(client, { org = "acme", on_progress = function(p) events[#events + 1] = p end }))
      assert.equal("ok", summary.status)
      assert.equal(interval.date(first), summary.first)
      assert.equal(interval.date(last), summary.last)
      assert.equal(last - first + 1, summary.days_added)
      assert.equal(0, summary.days_replaced)
      assert.equal(math.ceil((last - first + 1) / 90), summary.jobs)
      assert.equal(summary.jobs, #job_posts(fake))
      -- the days and their totals are what the API answers for them
      local api = api_daily(client, first, last)
      local stored, r = store_daily(s, first, last, "acme")
      assert.is_true(r.complete)
      assert.equal(last - first + 1, assert_days_equal(api, stored, first, last))
      local n = 0
      for _ in pairs(api) do n = n + 1 end
      assert.is_true(n > 300) -- the fake has usage on most days
      -- the rows of a job's days, client x endpoint, are the API's rows
      local span = interval.days_of(last - 20, last)
      local want = {}
      for _, row in ipairs(assert(client:aggregates({ interval = span.jobs, granularity = "Day",
                                                       groupBy = store.GROUP_BY }):all())) do
        local x = rows_mod.normalize(row)
        local k = table.concat({ x.date, x.client_id, x.template_uri, x.http_method }, "|")
        want[k] = (want[k] or 0) + x.requests
      end
      local got = {}
      for _, x in ipairs(assert(s:usage { first = span.first, last = span.last }).rows) do
        got[table.concat({ x.date, x.client_id, x.template_uri, x.http_method }, "|")] = x.requests
      end
      assert.same(want, got)
      -- progress: planned, pages, each job stored, done
      assert.equal("planned", events[1].state)
      assert.equal(summary.jobs, events[1].jobs)
      assert.equal("done", events[#events].state)
      assert.equal(summary.rows, events[#events].rows)
      assert.equal(summary.days_added, events[#events].days_done)
      local stored_events = 0
      for _, e in ipairs(events) do if e.state == "stored" then stored_events = stored_events + 1 end end
      assert.equal(summary.jobs, stored_events)

      -- again: the last 3 days only, replaced; nothing else changes
      fake:clear_log()
      local again = assert(s:sync(client, { org = "acme" }))
      assert.same({ 1, 3, 0, 3 }, { again.jobs, again.days_planned, again.days_added, again.days_replaced })
      assert.same({ interval.days_of(last - 2, last).jobs }, job_posts(fake))
      assert_days_equal(api, (store_daily(s, first, last, "acme")), first, last)
      -- refresh_days = 0 and nothing missing: no job at all
      fake:clear_log()
      local none = assert(s:sync(client, { org = "acme", refresh_days = 0 }))
      assert.equal(0, none.jobs)
      assert.same({}, job_posts(fake))
      -- days lost in the middle are fetched again, and only they
      local hole_a, hole_b = first + 100, first + 104
      assert(s:sql("DELETE FROM stored_days WHERE day >= ? AND day <= ?", interval.date(hole_a), interval.date(hole_b)))
      assert(s:sql("DELETE FROM usage_rows WHERE day >= ? AND day <= ?", interval.date(hole_a), interval.date(hole_b)))
      local _, holed = store_daily(s, first, last, "acme")
      assert.equal(5, #holed.orgs[1].missing)
      fake:clear_log()
      local refill = assert(s:sync(client, { org = "acme", refresh_days = 0 }))
      assert.same({ 1, 5, 5, 0 }, { refill.jobs, refill.days_planned, refill.days_added, refill.days_replaced })
      assert.same({ interval.days_of(hole_a, hole_b).jobs }, job_posts(fake))
      assert_days_equal(api, (store_daily(s, first, last, "acme")), first, last)
      -- the sync history
      local orgs = assert(s:orgs())
      assert.equal("acme", orgs[1].org)
      assert.equal(last - first + 1, orgs[1].days_stored)
      assert.equal("ok", orgs[1].last_sync.status)
      assert.equal(5, orgs[1].last_sync.days_added)
    end)

    it("syncs several orgs at once over one connection, each row labelled with its org", function()
      local fake2 = H.start { config = { lifecycle = { polls = 0 }, latency = 0.01 } }
      finally(function() fake2:stop() end)
      fake:config { latency = 0.01 }
      local client2 = H.client(fake2)
      local s = open("orgs")
      local first, last = today() - 60, today() - 1
      local results, errs = s:sync_orgs({ { client = client, org = "acme" }, { client = client2, org = "globex" } },
                                        { first = interval.date(first), page_size = 200 })
      assert(results[1], tostring(errs[1]))
      assert(results[2], tostring(errs[2]))
      assert.equal("acme", results[1].org)
      assert.equal("globex", results[2].org)
      -- the two orgs' requests overlapped in time (the syncs ran together)
      local log1, log2 = fake:log(), fake2:log()
      assert.is_true(log1[1].time < log2[#log2].time and log2[1].time < log1[#log1].time)
      for _, case in ipairs { { "acme", client }, { "globex", client2 } } do
        local api = api_daily(case[2], first, last)
        local stored, r = store_daily(s, first, last, case[1])
        assert.is_true(r.complete)
        assert_days_equal(api, stored, first, last)
      end
      local both = assert(s:usage { first = interval.date(first), last = interval.date(last), by = "org", per = "span" })
      assert.same({ "acme", "globex" }, { both.rows[1].org < both.rows[2].org and both.rows[1].org or both.rows[2].org,
                                          both.rows[1].org < both.rows[2].org and both.rows[2].org or both.rows[1].org })
      -- one org's job fails while the other's pages: its rollback takes nothing of the other's rows
      fake2:clear_log()
      assert(s:sql("DELETE FROM stored_days"))
      assert(s:sql("DELETE FROM usage_rows"))
      local fast = H.client(fake2, { retry = false })
      local injected = false
      results, errs = s:sync_orgs({ { client = client, org = "acme" }, { client = fast, org = "globex" } },
                                  { first = interval.date(first), page_size = 200, on_progress = function(p)
                                      if p.org == "globex" and p.state == "paging" and not injected then
                                        injected = true -- its next pages fail
                                        fake2:fault { fault = "status", status = 500, count = -1,
                                                      match = { method = "GET" } }
                                      end
                                    end })
      assert.is_true(injected)
      assert(results[1], tostring(errs[1]))
      assert.is_nil(results[2])
      assert.equal(500, errs[2].status)
      assert.equal("failed", errs[2].summary.status)
      local api = api_daily(client, first, last)
      local stored = store_daily(s, first, last, "acme")
      assert_days_equal(api, stored, first, last)
      local cov = assert(s:coverage { first = interval.date(first), last = interval.date(last), org = "globex" })
      assert.equal(0, cov[1].stored)
    end)

    it("a failed job: its days are missing, the others stored; the next sync completes", function()
      local s = open("failedjob")
      local first, last = today() - 200, today() - 1
      fake:fault { fault = "job_failed", count = 1 }
      local r, err = s:sync(client, { org = "acme", first = interval.date(first) })
      assert.is_nil(r)
      assert.equal("query_failed", err.code)
      local sm = err.summary
      assert.same({ "failed", 1, 3 }, { sm.status, sm.jobs_failed, sm.jobs })
      assert.truthy(err.message:find("1 of 3 jobs of org 'acme' failed", 1, true), err.message)
      local bad_a, bad_b = interval.parse_date(sm.failed[1].first), interval.parse_date(sm.failed[1].last)
      local api = api_daily(client, first, last)
      local stored, cov = store_daily(s, first, last, "acme")
      assert.equal(bad_b - bad_a + 1, #cov.orgs[1].missing)
      assert.equal(sm.failed[1].first, cov.orgs[1].missing[1])
      assert_days_equal(api, stored, first, last, true)
      local orgs = assert(s:orgs())
      assert.equal("failed", orgs[1].last_sync.status)
      assert.truthy(orgs[1].last_sync.error:find("query_failed", 1, true))
      local again = assert(s:sync(client, { org = "acme", first = interval.date(first) }))
      assert.equal(bad_b - bad_a + 1, again.days_added)
      assert_days_equal(api, (store_daily(s, first, last, "acme")), first, last)
    end)

    it("a callback that raises mid-job: the job is rolled back, the lock released, the error returned", function()
      local s, target = open("raising")
      local first = today() - 20
      local r, err = s:sync(client, { org = "acme", first = interval.date(first), page_size = 100,
                                      on_progress = function(p)
                                        if p.state == "paging" then error("a bug in the caller's callback") end
                                      end })
      assert.is_nil(r)
      assert.equal("internal", err.code)
      assert.truthy(err.message:find("a bug in the caller's callback", 1, true), err.message)
      local cov = assert(s:coverage { first = interval.date(first), last = interval.date(today() - 1), org = "acme" })
      assert.equal(0, cov[1].stored)
      assert.equal("0", B:shell(target, "SELECT count(*) FROM usage_rows"):match("%d+"))
      local ok = assert(s:sync(client, { org = "acme", first = interval.date(first) }))
      assert.equal(20, ok.days_added)
    end)

    it("a connection lost halfway: the job is rolled back, whole days only, the next sync completes", function()
      local s, target = open("lost")
      local first, last = today() - 150, today() - 1
      local cut = false
      local hook
      if B.name == "postgresql" then
        -- the database connection: the server ends the store's session while a job writes
        hook = function(p)
          if p.state == "paging" and not cut and p.jobs_done >= 1 then
            cut = true
            B.pg:sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = " ..
                     "'genesys-usage' AND datname = 'lost'")
          end
        end
      else
        -- the API connection: every later page of the job is dropped
        hook = function(p)
          if p.state == "paging" and not cut and p.jobs_done >= 1 then
            cut = true
            fake:fault { fault = "drop", count = -1, match = { method = "GET" } }
          end
        end
      end
      local flaky = H.client(fake, { retry = { max_retries = 1, max_retry_time = 2 } })
      local r, err = s:sync(flaky, { org = "acme", first = interval.date(first), page_size = 100, concurrency = 1,
                                     on_progress = hook })
      assert.is_true(cut)
      assert.is_nil(r)
      if B.name == "postgresql" then assert.equal("connection", err.code, tostring(err)) end
      assert.equal("failed", err.summary.status)
      assert.equal(1, err.summary.jobs_failed)
      s:close()
      fake:clear_faults()
      local s2 = assert(store.open(target))
      opened[#opened + 1] = s2
      local api = api_daily(client, first, last)
      local stored, cov = store_daily(s2, first, last, "acme")
      assert.equal(90, cov.orgs[1].stored) -- the first job (90 days) was stored, the second not at all
      assert_days_equal(api, stored, first, last, true)
      assert(s2:sync(client, { org = "acme", first = interval.date(first) }))
      assert_days_equal(api, (store_daily(s2, first, last, "acme")), first, last)
    end)

    describe("in its own process", function()
      local t
      setup(function() t = cli.new { base_url = fake.base_url } end)
      teardown(function() t:cleanup() end)
      local SCRIPT = cli.REPO .. "/spec/support/store_run.lua"

      local function spawn(target, args, env)
        local argv = { target, "acme" }
        for _, a in ipairs(args or {}) do argv[#argv + 1] = a end
        return t:spawn(argv, { script = SCRIPT, raw = true, env = env })
      end

      local function show(p)
        return "stderr:\n" .. nginx.tail(p:stderr(), 30) .. "\nstdout:\n" .. p:stdout() .. "\nfake:\n" ..
               nginx.tail(fake:error_log(), 10)
      end

      -- the store's days are whole: each one stored equals the API's day
      local function check_whole(target, first, last)
        local s = assert(store.open(target))
        finally(function() s:close() end)
        local stored, cov = store_daily(s, first, last, "acme")
        local api = api_daily(client, first, last)
        assert_days_equal(api, stored, first, last, true)
        return cov.orgs[1]
      end

      it("killed halfway (SIGKILL): whole days only; the next sync takes the stale lock over and completes", function()
        local target = B:target("killed")
        fake:config { latency = 0.02 }
        local first, last = today() - 150, today() - 1
        local p = spawn(target, { "first=" .. interval.date(first), "page_size=100" })
        finally(function() p:stop() end)
        -- a job stored, another one writing: kill it there
        assert(p:wait_for("\nstored [^\n]+\npaging", 60) or p:wait_for("^stored [^\n]+\npaging", 1), show(p))
        p:signal("KILL")
        assert.equal(137, p:wait(10), show(p))
        fake:config { latency = 0 }
        local cov = check_whole(target, first, last)
        -- the jobs are 90 and 60 days: one of them is stored whole, the other not at all
        assert.is_true(cov.stored == 90 or cov.stored == 60, "stored " .. cov.stored)
        if B.name == "sqlite" then -- the dead sync's lock row is still there
          assert.equal("1", B:shell(target, "SELECT count(*) FROM sync_lock"):match("%d+"))
        end
        local s = assert(store.open(target, { lock_wait = 0 }))
        opened[#opened + 1] = s
        local sm = assert(s:sync(client, { org = "acme", first = interval.date(first) }))
        assert.equal(150 - cov.stored, sm.days_added)
        assert.is_true(check_whole(target, first, last).complete)
      end)

      it("interrupted (SIGINT, usage.trap_signals): stops at once, whole days, the lock released", function()
        local target = B:target("interrupted")
        fake:config { latency = 0.02 }
        local first, last = today() - 150, today() - 1
        local p = spawn(target, { "first=" .. interval.date(first), "page_size=100", "trap=1" })
        finally(function() p:stop() end)
        assert(p:wait_for("paging", 60), show(p))
        p:signal("INT")
        assert.equal(130, p:wait(10), show(p))
        assert.truthy(p:stdout():find('"status":"interrupted"', 1, true), show(p))
        assert.truthy(p:stderr():find("interrupted", 1, true), show(p))
        fake:config { latency = 0 }
        local cov = check_whole(target, first, last)
        assert.is_true(cov.stored < 150)
        assert.equal("0", B:shell(target, "SELECT count(*) FROM sync_lock"):match("%d+"))
        assert.equal("interrupted", B:shell(target, "SELECT status FROM syncs ORDER BY sync_id DESC LIMIT 1"):match("%a+"))
        local s = assert(store.open(target))
        opened[#opened + 1] = s
        assert(s:sync(client, { org = "acme", first = interval.date(first) }))
        assert.is_true(check_whole(target, first, last).complete)
      end)

      it("two syncs of one store never interleave: the second waits, or says what holds the store", function()
        local target = B:target("twice")
        -- the first sync holds the store for at least 4 s: its job's first page is slow
        fake:fault { fault = "slow", delay = 4, count = 1, match = { method = "GET", path = "/aggregates/query/jobs/" } }
        local first = today() - 60
        local p = spawn(target, { "first=" .. interval.date(first), "page_size=500" })
        finally(function() p:stop() end)
        assert(p:wait_for("planned", 60), show(p))
        local s = assert(store.open(target, { lock_wait = 0.3 }))
        opened[#opened + 1] = s
        local r, err = s:sync(client, { org = "acme", first = interval.date(first) })
        assert.is_nil(r)
        assert.equal("locked", err.code)
        assert.truthy(err.message:find("pid " .. p.pid, 1, true), err.message)
        assert.truthy(err.message:find("sync of org acme", 1, true), err.message)
        -- with time to wait, the second sync runs after the first: only the last days are left to it
        local w = assert(store.open(target, { lock_wait = 120 }))
        opened[#opened + 1] = w
        local sm = assert(w:sync(client, { org = "acme", first = interval.date(first) }))
        assert.equal(0, p:wait(30), show(p))
        assert.truthy(p:stdout():find('"status":"ok"', 1, true), show(p))
        assert.same({ 1, 0, 3 }, { sm.jobs, sm.days_added, sm.days_replaced })
        assert.is_true(check_whole(target, first, today() - 1).complete)
      end)
    end)
  end)
end
