-- genesys-usage sync (issue #20): the history store brought up to date from the command line, against the
-- fake cloud: the first run backfills the year the service serves, the second fetches only the last days
-- again, two orgs in one run, a store another sync holds (75, naming the holder), a PostgreSQL URL whose
-- password never shows, a file that is not a database (1), a directory that cannot be written (77), and no
-- progress line unless stderr is a terminal.

local cli = require "support.cli"
local nginx = require "support.nginx"
local postgres = require "support.postgres"
local H = require "helper"
local usage = require "usage"
local store = require "usage.store"
local lock = require "usage.store.lock"
local window = require "usage.api.window"

local interval = usage.interval
local sh_quote, read_file = nginx.sh_quote, nginx.read_file

local S = require "support.sync"
local PROFILES, esc, sqlite = S.PROFILES, S.esc, S.sqlite

-- the intervals of the aggregates jobs the fake was sent since the log was cleared
local function job_intervals(fake)
  local out = {}
  for _, e in ipairs(H.requests(fake, "/aggregates/query/jobs$", "POST")) do
    out[#out + 1] = usage.json.decode(e.body).interval
  end
  table.sort(out)
  return out
end

local show = cli.show

describe("genesys-usage sync", function()
  local fixture = cli.with_fake()
  local fake, t
  setup(function() fake, t = fixture.start() end)
  teardown(function() fixture.stop() end)
  before_each(function() fake:clear_log() end)

  local function sync(args, opts) return S.run(t, args, opts) end
  local served = S.served -- (the whole days the service serves now: the window of a first run)

  it("backfills the year on the first run, then fetches only the last days again", function()
    local path = t:path("backfill.sqlite3")
    local first, last, count = served()
    local r = sync { "--store", path, "--org", "acme" }
    assert.equal(0, r.code, show(r))
    assert.equal("", r.err) -- (stderr is a file: no progress, no notes)
    assert.matches("^synced acme into " .. esc(path) .. ": " .. count .. " days added, 0 replaced, [%d,]+ rows, " ..
                   "%d+ jobs in [%d.]+ s; the store holds " .. esc(interval.label(first, last)) .. " %(" .. count ..
                   " days%)\n$", r.out)
    local jobs = job_intervals(fake)
    assert.equal(math.ceil(count / 90), #jobs)
    assert.matches("^" .. esc(interval.date(first)) .. "T00:00:00", jobs[1])
    assert.equal(tostring(count), sqlite(path, "SELECT count(*) FROM stored_days"):match("%d+"))
    -- the store's rows are the fake's: the sum of every day
    local want = 0
    for _, rec in ipairs(fake:data(interval.date(first), interval.date(last))) do want = want + rec.requests end
    assert.equal(tostring(math.floor(want)), sqlite(path, "SELECT CAST(sum(requests) AS TEXT) FROM usage_rows"):match("%d+"))

    fake:clear_log()
    r = sync { "--store", path, "--org", "acme" }
    assert.equal(0, r.code, show(r))
    assert.matches("^synced acme into .*: 0 days added, 3 replaced, [%d,]+ rows, 1 job in [%d.]+ s; the store " ..
                   "holds " .. esc(interval.label(first, last)) .. " %(" .. count .. " days%)\n$", r.out)
    jobs = job_intervals(fake)
    assert.equal(1, #jobs)
    assert.equal(interval.date(last - 2) .. "T00:00:00Z/" .. interval.date(last) .. "T23:59:59.999Z", jobs[1])

    -- --refresh-days 0: nothing to fetch
    fake:clear_log()
    r = sync { "--store", path, "--org", "acme", "--refresh-days", "0" }
    assert.equal(0, r.code, show(r))
    assert.matches(": nothing to fetch in [%d.]+ s; the store holds", r.out)
    assert.equal(0, #job_intervals(fake))
    -- a bad --refresh-days is a usage error naming the flag
    r = sync { "--store", path, "--refresh-days", "3.5" }
    assert.equal(2, r.code)
    assert.matches("%-%-refresh%-days", r.err)
  end)

  it("syncs two orgs in one run, each labelled with its profile", function()
    local home = t:path("home2")
    assert(nginx.run("mkdir -p " .. sh_quote(home .. "/.gc")))
    nginx.write_file(home .. "/.gc/config.toml", PROFILES)
    local path = t:path("two.sqlite3")
    local _, _, count = served()
    local r = sync({ "--store", path, "--all-profiles" }, { home = home })
    assert.equal(0, r.code, show(r))
    local lines = {}
    for l in r.out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal(2, #lines, r.out)
    assert.matches("^synced acme into .*: " .. count .. " days added", lines[1])
    assert.matches("^synced globex into .*: " .. count .. " days added", lines[2])
    assert.equal("acme|" .. count .. "\nglobex|" .. count .. "\n",
                 sqlite(path, "SELECT o.label, count(*) FROM stored_days d JOIN orgs o ON o.org_key = d.org_key " ..
                              "GROUP BY o.label ORDER BY o.label"))
    -- --org with several profiles is refused
    r = sync({ "--store", path, "--profile", "acme", "--profile", "globex", "--org", "x" }, { home = home })
    assert.equal(2, r.code)
    assert.matches("%-%-org labels one org", r.err)
  end)

  it("a failed job: the others' days stored and said, exit 1; 5xx after the retries: exit 75; the next run completes", function()
    local path = t:path("failing.sqlite3")
    local first, last, count = served()
    fake:fault { fault = "job_failed", count = 1 }
    local r = sync { "--store", path, "--org", "acme" }
    fake:clear_faults()
    assert.equal(1, r.code, show(r))
    -- the summary of what was stored, then the error
    assert.matches("^sync of acme into " .. esc(path) .. " failed: %d+ days added, 0 replaced, [%d,]+ rows, %d+ jobs " ..
                   "%(1 failed%) in [%d.]+ s; the store holds [^\n]+ %(%d+ days%); not stored %(the next run fetches them%): " ..
                   "[^\n]+ %(%d+ days, job [%x-]+%)\n$", r.out)
    assert.matches("^genesys%-usage: error: 1 of %d+ jobs of org 'acme' failed %(" .. esc(interval.date(first)) .. "%.%.", r.err)
    local stored = tonumber(sqlite(path, "SELECT count(*) FROM stored_days"):match("%d+"))
    assert.is_true(stored > 0 and stored < count, tostring(stored))
    -- the service answers 503 to every job: a passing failure
    local path2 = t:path("unavailable.sqlite3")
    fake:fault { fault = "status", status = 503, count = -1, match = { method = "POST" } }
    r = sync { "--store", path2, "--org", "acme" }
    fake:clear_faults()
    assert.equal(75, r.code, show(r))
    assert.matches("5 of 5 jobs of org .acme. failed .*Service Unavailable", r.err)
    -- the next run fetches what is missing
    r = sync { "--store", path, "--org", "acme" }
    assert.equal(0, r.code, show(r))
    assert.matches("^synced acme into .*: " .. (count - stored) .. " days added, 3 replaced, .*the store holds " ..
                   esc(interval.label(first, last)) .. " %(" .. count .. " days%)\n$", r.out)
  end)

  it("Ctrl-C: exit 130, whole days stored, the lock released; the next run completes", function()
    local path = t:path("interrupted.sqlite3")
    local _, _, count = served()
    fake:config { latency = 0.05 }
    local p = t:spawn({ "sync", "--store", path, "--org", "acme", "--poll-interval", "0.01" },
                      { env = { GENESYS_USAGE_PROGRESS = "1" } })
    local seen = p:wait_for("jobs [1-4]/5", 60)
    p:signal("INT")
    local rc = p:wait(20)
    fake:config { latency = 0 }
    if not rc then p:stop() end
    assert.is_true(seen, p:stderr())
    assert.equal(130, rc, p:stderr())
    assert.matches("genesys%-usage: interrupted %(SIGINT%)", p:stderr())
    assert.equal("interrupted", sqlite(path, "SELECT status FROM syncs ORDER BY sync_id DESC LIMIT 1"):match("%a+"))
    assert.equal("0", sqlite(path, "SELECT count(*) FROM sync_lock"):match("%d+"))
    -- whole days: every stored day has rows (the fake has usage every day), no row of a day not stored
    assert.equal("0", sqlite(path, "SELECT count(*) FROM usage_rows u WHERE NOT EXISTS (SELECT 1 FROM stored_days d " ..
                                   "WHERE d.org_key = u.org_key AND d.day = u.day)"):match("%d+"))
    local stored = tonumber(sqlite(path, "SELECT count(*) FROM stored_days"):match("%d+"))
    assert.is_true(stored < count, tostring(stored))
    local r = sync { "--store", path, "--org", "acme" }
    assert.equal(0, r.code, show(r))
    assert.matches(": " .. (count - stored) .. " days added, ", r.out)
    assert.matches("the store holds [^\n]+ %(" .. count .. " days%)\n$", r.out)
  end)

  it("a store another sync holds: exit 75 with what holds it, nothing changed", function()
    local path = t:path("held.sqlite3")
    local holder = assert(store.open(path))
    assert(holder:reading(function() return lock.acquire(holder, "sync of org elsewhere") end))
    local r = sync { "--store", path, "--lock-wait", "0.5" }
    holder:close()
    assert.equal(75, r.code, show(r))
    assert.equal("", r.out)
    assert.matches("^genesys%-usage: store: the store " .. esc(path) .. " is busy: a sync %(sync of org elsewhere%) " ..
                   "holds it: pid " .. lock.me().pid .. " on host .*; waited 0.5 s %(lock_wait%) %(try again later%)\n$",
                   r.err)
    assert.equal("0", sqlite(path, "SELECT count(*) FROM stored_days"):match("%d+"))
    assert.equal(0, #job_intervals(fake)) -- (the jobs wait for the lock: none was sent)
  end)

  it("a file that is not a database: exit 1, the file unchanged", function()
    local path = t:path("junk.sqlite3")
    nginx.write_file(path, "junk junk junk\n")
    local r = sync { "--store", path }
    assert.equal(1, r.code, show(r))
    assert.matches("not a genesys%-usage store", r.err)
    assert.equal("junk junk junk\n", read_file(path))
    -- a bad target: 2
    r = sync { "--store", "https://example.com/store" }
    assert.equal(2, r.code, show(r))
    assert.matches("%-%-store: a store is a SQLite file", r.err)
  end)

  it("a directory that cannot be written: exit 77 (run as nobody when root)", function()
    local root = nginx.running_as_root()
    local dir = t:path("ro")
    assert(nginx.run("mkdir -p " .. sh_quote(dir) .. " && chmod 755 " .. sh_quote(t.dir) ..
                     (root and (" && chown nobody " .. sh_quote(dir)) or "") .. " && chmod 555 " .. sh_quote(dir)))
    local base = t:next_base()
    local cd, cmd = t:command({ "sync", "--store", dir .. "/s.sqlite3", "--poll-interval", "0.01" }, { home = dir },
                              base)
    if root then cmd = "runuser -u nobody -- " .. cmd end
    os.execute(cd .. cmd .. "; echo $? >" .. sh_quote(base .. ".rc"))
    local r = { code = tonumber(read_file(base .. ".rc")), out = read_file(base .. ".out") or "",
                err = read_file(base .. ".err") or "" }
    assert(nginx.run("chmod 755 " .. sh_quote(dir)))
    assert.equal(77, r.code, show(r))
    assert.matches("store: cannot open " .. esc(dir) .. "/s.sqlite3", r.err)
  end)

  it("draws progress only when stderr is a terminal", function()
    local path = t:path("progress.sqlite3")
    local r = sync({ "--store", path, "--org", "acme" }, { env = { GENESYS_USAGE_PROGRESS = "1" } })
    assert.equal(0, r.code, show(r))
    assert.matches("\r\27%[Ksync: jobs %d+/%d+, days %d+/%d+, rows [%d,]+", r.err)
    assert.matches("genesys%-usage: syncing acme into " .. esc(path), r.err)
    r = sync { "--store", path, "--org", "acme" }
    assert.equal(0, r.code, show(r))
    assert.equal("", r.err)
    r = sync({ "--store", path, "--org", "acme", "--quiet" }, { env = { GENESYS_USAGE_PROGRESS = "1" } })
    assert.equal(0, r.code, show(r))
    assert.equal("", r.err)
  end)

  describe("into PostgreSQL", function()
    local pg
    setup(function() pg = postgres.start() end)
    teardown(function() if pg then pg:stop() end end)

    it("never shows the URL's password (stdout, stderr, errors)", function()
      local PASSWORD = "Tr0ub4dor-3x"
      local url = S.pg_store(pg, "syncer", "synced", PASSWORD)
      local r = sync({ "--store", url, "--org", "acme", "--verbose" }, { env = { GENESYS_USAGE_PROGRESS = "1" } })
      assert.equal(0, r.code, show(r))
      assert.matches("^synced acme into postgresql://syncer@127.0.0.1:" .. pg.port .. "/synced: %d+ days added", r.out)
      assert.matches("syncing acme into postgresql://syncer@", r.err, 1, true)
      for _, s in ipairs { r.out, r.err } do assert.is_nil(s:find("Tr0ub4dor", 1, true), s) end
      local _, _, count = served()
      assert.equal(tostring(count), pg:psql("synced", "SELECT count(*) FROM stored_days"):match("%d+"))
      -- refused (a wrong password) and unreachable: the password is not shown either
      for _, bad in ipairs {
        "postgresql://syncer:Tr0ub4dor-WRONG@127.0.0.1:" .. pg.port .. "/synced",
        "postgresql://syncer:" .. PASSWORD .. "@127.0.0.1:" .. nginx.pick_port() .. "/synced",
      } do
        r = sync { "--store", bad, "--org", "acme", "--verbose" }
        assert.equal(75, r.code, show(r))
        assert.matches("postgresql://syncer@127.0.0.1:%d+/synced", r.err)
        for _, s in ipairs { r.out, r.err } do assert.is_nil(s:find("Tr0ub4dor", 1, true), s) end
      end
    end)
  end)
end)

-- --store on the aggregates listing and on metrics: the store's rows of the asked days, the same figures
-- as the service's jobs, any span (past the service's year), the days the store lacks said
describe("--store on aggregates and metrics", function()
  local fixture = cli.with_fake()
  local fake, t, path
  setup(function()
    fake, t = fixture.start()
    path = t:path("read.sqlite3")
    local r = t:run({ "sync", "--store", path, "--org", "acme", "--poll-interval", "0.01" })
    assert.equal(0, r.code, show(r))
  end)
  teardown(function() fixture.stop() end)
  before_each(function() fake:clear_log() end)

  local function sorted_lines(s)
    local out = {}
    for l in s:gmatch("[^\n]+") do out[#out + 1] = l end
    table.sort(out)
    return out
  end

  it("aggregates --store: the rows of the service's job, by day, week and month, without a job", function()
    for _, extra in ipairs { {}, { "--granularity", "Week" }, { "--granularity", "Month" },
                             { "--group-by", "OauthClientId", "--http-method", "GET" } } do
      local args = { "aggregates", "--last", "40d", "--group-by", "HttpMethod,TemplateUri", "-f", "ndjson" }
      for _, a in ipairs(extra) do args[#args + 1] = a end
      local api = cli.ok(t:run(args))
      fake:clear_log()
      args[#args + 1] = "--store"
      args[#args + 1] = path
      local stored = cli.ok(t:run(args, { env = { GENESYSCLOUD_OAUTHCLIENT_ID = false,
                                                  GENESYSCLOUD_OAUTHCLIENT_SECRET = false } }))
      assert.equal(0, #H.requests(fake, ".", nil), "the store's listing sent a request")
      assert.is_true(#api.out > 1000)
      assert.same(sorted_lines(api.out), sorted_lines(stored.out), table.concat(extra, " "))
    end
    -- the table says where the rows come from, and its totals are the API's
    local r = cli.ok(t:run { "aggregates", "--last", "7d", "--store", path })
    local api = cli.ok(t:run { "aggregates", "--last", "7d" })
    assert.matches("^aggregates: [^\n]+ %(UTC, 7 days%), from the store " .. esc(path) .. " %(org acme%)\n", r.out)
    assert.equal(api.out:match("total %(7 rows%)[^\n]+"), r.out:match("total %(7 rows%)[^\n]+"))
  end)

  it("aggregates --store: a span past the service's year, the days the store lacks said", function()
    local first = window.first_allowed_day(os.time())
    local from, to = interval.date(first - 10), interval.date(first + 4)
    -- the service cannot answer it
    local r = t:run { "aggregates", "--from", from, "--to", to }
    assert.equal(2, r.code, show(r))
    r = t:run { "aggregates", "--from", from, "--to", to, "--store", path, "-f", "json" }
    assert.equal(0, r.code, show(r))
    local doc = usage.json.decode(r.out)
    assert.equal(15, doc.days.count)
    assert.equal(path, doc.store.where)
    assert.equal("acme", doc.store.org)
    assert.equal(10, #doc.store.missing)
    assert.equal(from, doc.store.missing[1])
    for _, row in ipairs(doc.rows) do assert.is_true(row.date >= interval.date(first), row.date) end
    assert.is_true(#doc.rows > 0)
    assert.matches("genesys%-usage: the store lacks 10 of the 15 days of org acme: ", r.err)
    assert.matches("%(not counted%)\n$", r.err)
  end)

  it("aggregates --store refuses what the store cannot answer (exit 2)", function()
    for _, case in ipairs {
      { { "--group-by", "UserId" }, "the history store keeps the OAuth client" },
      { { "--platform", "PublicAPI" }, "keeps no platform" },
      { { "--org", "nobody" }, "no such org in the store" },
    } do
      local args = { "aggregates", "--last", "7d", "--store", path }
      for _, a in ipairs(case[1]) do args[#args + 1] = a end
      local r = t:run(args)
      assert.equal(2, r.code, show(r))
      assert.matches(case[2], r.err, 1, true)
    end
    local r = t:run { "aggregates", "--job", "6b1c3e4d-0000-4000-8000-000000000000", "--store", path }
    assert.equal(2, r.code, show(r))
    assert.matches("leave out --store", r.err, 1, true)
  end)

  it("metrics --store: the exposition of the service's job, the forecast too, without a job", function()
    local function samples(text)
      local out = {}
      for l in text:gmatch("[^\n]+") do
        -- (what only a run against the service has: the client's counters; the collector's times)
        if not l:find("^#") and not l:find("collect_") and not l:find("_timestamp_seconds{", 1, false)
           and not l:find("genesys_usage_api_") and not l:find("ratelimit") then
          out[#out + 1] = l
        end
      end
      table.sort(out)
      return out
    end
    local api = cli.ok(t:run { "metrics", "--org", "acme", "--allowance", "140000000" })
    fake:clear_log()
    local stored = cli.ok(t:run { "metrics", "--store", path, "--allowance", "140000000" })
    assert.equal(0, #H.requests(fake, ".", nil))
    assert.is_true(#samples(api.out) > 100)
    assert.same(samples(api.out), samples(stored.out))
    assert.matches('genesys_usage_month_to_date_requests{org="acme"}', stored.out, 1, true)
    assert.equal("", stored.err)
    -- a day the store lacks is said; --profile with --store is refused
    local y = interval.date(interval.day_of(os.time()) - 1)
    local copy = t:path("lacking.sqlite3")
    assert(nginx.run("cp " .. sh_quote(path) .. " " .. sh_quote(copy)))
    sqlite(copy, "DELETE FROM usage_rows WHERE day = '" .. y .. "'; DELETE FROM stored_days WHERE day = '" .. y .. "'")
    local r = cli.ok(t:run { "metrics", "--store", copy })
    assert.matches("genesys%-usage: org acme: the store " .. esc(copy) .. " lacks 1 of the %d+ days [^:]+: " ..
                   esc(interval.label(interval.parse_date(y), interval.parse_date(y))) .. " %(1 day%) %(not counted: sync it%)\n$",
                   r.err)
    r = t:run { "metrics", "--store", path, "--profile", "acme" }
    assert.equal(2, r.code, show(r))
  end)

  it("says that weeks start on Monday (UTC): a note on a terminal and in the JSON", function()
    local r = cli.ok(t:run({ "aggregates", "--last", "14d", "--granularity", "Week", "-f", "json" },
                           { env = { GENESYS_USAGE_PROGRESS = "1" } }))
    assert.matches("genesys-usage: weeks are taken to start on Monday (UTC): each week's row is dated its Monday",
                   r.err, 1, true)
    local doc = usage.json.decode(r.out)
    assert.equal("Monday (UTC)", doc.weekStart)
    for _, row in ipairs(doc.rows) do
      assert.equal(0, (interval.parse_date(row.date) + 3) % 7, row.date .. " is no Monday") -- (day 0 was a Thursday)
    end
    r = cli.ok(t:run({ "aggregates", "--last", "14d", "--granularity", "Week", "--store", path, "-f", "json" },
                     { env = { GENESYS_USAGE_PROGRESS = "1" } }))
    assert.matches("weeks are taken to start on Monday (UTC)", r.err, 1, true)
    assert.equal("Monday (UTC)", usage.json.decode(r.out).weekStart)
    -- days, not weeks: no such note
    r = cli.ok(t:run({ "aggregates", "--last", "14d", "-f", "json" }, { env = { GENESYS_USAGE_PROGRESS = "1" } }))
    assert.is_nil(r.err:find("Monday", 1, true))
    assert.is_nil(usage.json.decode(r.out).weekStart)
    -- the old generation's query too
    r = cli.ok(t:run({ "query", "--last", "14d", "--granularity", "Week" }, { env = { GENESYS_USAGE_PROGRESS = "1" } }))
    assert.matches("weeks are taken to start on Monday (UTC)", r.err, 1, true)
  end)
end)
