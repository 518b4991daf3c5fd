-- genesys-usage sync for automation: --dry-run (each org's plan read from the store opened read-only: the
-- days to fetch, the refresh days, the jobs of at most 90 days and their intervals; no lock, nothing written,
-- no request, not even a login), --format json (one document: each org's days, rows, jobs, the days not
-- stored and why, the ids of the failed jobs, the exit status), and the ids of the failed jobs on the text
-- line. A hostile server's job ids (a secret echoed, C1 controls, BIDI overrides, control characters) never
-- leave unredacted or raw; a PostgreSQL URL's password never shows.

local cli = require "support.cli"
local nginx = require "support.nginx"
local hostile = require "support.hostile"
local postgres = require "support.postgres"
local H = require "helper"
local usage = require "usage"
local store = require "usage.store"
local lock = require "usage.store.lock"

local S = require "support.sync"

local interval = usage.interval
local sh_quote, read_file = nginx.sh_quote, nginx.read_file
local show = cli.show
local esc, sqlite, served = S.esc, S.sqlite, S.served

local function lines_of(s)
  local out = {}
  for l in s:gmatch("[^\n]+") do out[#out + 1] = l end
  return out
end

-- the number of jobs of at most 90 days of n consecutive days
local function jobs_of(n) return math.ceil(n / 90) end

describe("genesys-usage sync --dry-run and --format json", function()
  local fixture = cli.with_fake()
  local fake, t
  setup(function() fake, t = fixture.start() end)
  teardown(function() fixture.stop() end)
  before_each(function() fake:clear_log() end)

  local function sync(args, opts) return S.run(t, args, opts) end

  local function sent() return #H.requests(fake, ".", nil) end

  it("--dry-run on a store that does not exist yet: every served day, in jobs of 90 days; nothing created or sent", function()
    local path = t:path("new.sqlite3")
    local first, last, count = served()
    local r = sync { "--store", path, "--org", "acme", "--dry-run" }
    assert.equal(0, r.code, show(r))
    assert.equal("", r.err)
    assert.equal(0, sent(), "the dry run sent a request")
    assert.is_nil(read_file(path), "the dry run created the store")
    assert.matches("^# genesys%-usage sync %-%-dry%-run: the plan is read from the store " .. esc(path) ..
                   ", which does not exist yet %(a sync would create it%); nothing is written, nothing is sent " ..
                   "%(not even a login%)\n# org acme\n", r.out)
    assert.matches("# the service serves " .. esc(interval.label(first, last)) .. " %(" .. count ..
                   " days, UTC%); the store holds 0 of them\n", r.out)
    assert.matches("# a sync would fetch " .. count .. " days: " .. count .. " the store lacks\n", r.out)
    assert.matches("# as " .. jobs_of(count) .. " aggregates jobs of at most 90 days %(the API's limit%)", r.out)
    assert.matches("#   job 1: " .. esc(interval.label(first, first + 89)) .. " %(90 days%)\n", r.out)
    -- the requests, as other commands' --dry-run print them: the login, then each job's body
    local posts = 0
    for _ in r.out:gmatch("\nPOST /api/v2/usage/aggregates/query/jobs\n") do posts = posts + 1 end
    assert.equal(jobs_of(count), posts)
    assert.matches('"interval":"' .. esc(interval.date(first)) .. 'T00:00:00Z/' ..
                   esc(interval.date(first + 89)) .. 'T23:59:59.999Z"', r.out)
    assert.matches("# credentials: OAuth client demo%-client %(GENESYSCLOUD_OAUTHCLIENT_ID; the secret is not shown%)",
                   r.out)
    assert.is_nil(r.out:find("demo-secret", 1, true))
    -- the JSON plan: the same jobs, arrays as arrays
    r = sync { "--store", path, "--org", "acme", "--dry-run", "--format", "json" }
    assert.equal(0, r.code, show(r))
    assert.equal(0, sent())
    local doc = usage.json.decode(r.out)
    assert.is_true(doc.dryRun)
    assert.is_false(doc.storeExists)
    assert.is_false(doc.sent)
    assert.equal(0, doc.status)
    assert.equal(path, doc.store)
    local o = doc.orgs[1]
    assert.equal("acme", o.org)
    assert.same({ first = interval.date(first), last = interval.date(last), count = count,
                  label = interval.label(first, last) }, o.days)
    assert.equal(count, o.fetch)
    assert.equal(count, o.lacking)
    assert.equal(0, o.stored)
    assert.equal(jobs_of(count), #o.jobs)
    assert.equal(interval.date(first) .. "T00:00:00Z/" .. interval.date(first + 89) .. "T23:59:59.999Z",
                 o.jobs[1].interval)
    assert.equal(90, o.jobs[1].count)
    assert.is_nil(read_file(path))
  end)

  it("--dry-run reads a store another sync holds, read-only: the refresh days, no lock, nothing written", function()
    local path = t:path("held.sqlite3")
    local first, last, count = served()
    cli.ok(sync { "--store", path, "--org", "acme" })
    -- a hole of 5 days in the middle
    local a = first + 100
    sqlite(path, "DELETE FROM usage_rows WHERE day BETWEEN '" .. interval.date(a) .. "' AND '" ..
                 interval.date(a + 4) .. "'; DELETE FROM stored_days WHERE day BETWEEN '" .. interval.date(a) ..
                 "' AND '" .. interval.date(a + 4) .. "'")
    local holder = assert(store.open(path))
    assert(holder:reading(function() return lock.acquire(holder, "sync of org elsewhere") end))
    local before = sqlite(path, "SELECT count(*), max(sync_id) FROM syncs; SELECT token FROM sync_lock")
    assert(nginx.run("chmod 444 " .. sh_quote(path))) -- (read-only: it must not need to write)
    fake:clear_log()
    local r = sync { "--store", path, "--org", "acme", "--dry-run", "--lock-wait", "0" }
    local rj = sync { "--store", path, "--org", "acme", "--dry-run", "-f", "json", "--refresh-days", "5" }
    assert(nginx.run("chmod 644 " .. sh_quote(path)))
    local after = sqlite(path, "SELECT count(*), max(sync_id) FROM syncs; SELECT token FROM sync_lock")
    holder:close()
    assert.equal(0, r.code, show(r))
    assert.equal(0, sent())
    assert.equal(before, after)
    assert.matches("the plan is read from the store " .. esc(path) .. " %(opened read%-only, no lock taken%)", r.out)
    assert.matches("the store holds " .. (count - 5) .. " of them\n", r.out)
    assert.matches("# a sync would fetch 8 days: 5 the store lacks, and the last 3 it holds again " ..
                   "%(%-%-refresh%-days 3: " .. esc(interval.label(last - 2, last)) .. "%)\n", r.out)
    assert.matches("# as 2 aggregates jobs of at most 90 days", r.out)
    assert.matches("#   job 1: " .. esc(interval.label(a, a + 4)) .. " %(5 days%)\n#   job 2: " ..
                   esc(interval.label(last - 2, last)) .. " %(3 days%)\n", r.out)
    assert.equal(0, rj.code, show(rj))
    local o = usage.json.decode(rj.out).orgs[1]
    assert.equal(10, o.fetch)
    assert.equal(5, o.lacking)
    assert.same({ first = interval.date(last - 4), last = interval.date(last), count = 5,
                  label = interval.label(last - 4, last) }, o.refreshed)
    assert.equal(2, #o.jobs)
    -- nothing to fetch: the jobs stay an array, and no request is printed
    r = sync { "--store", path, "--org", "nobody-yet", "--dry-run" }
    assert.equal(0, r.code, show(r))
    assert.matches("# org nobody%-yet\n# the service serves [^\n]+; the store holds 0 of them\n", r.out)
    cli.ok(sync { "--store", path, "--org", "acme" })
    r = sync { "--store", path, "--org", "acme", "--dry-run", "--refresh-days", "0" }
    assert.equal(0, r.code, show(r))
    assert.matches("# nothing to fetch: a sync would send no job %(and no login%)\n$", r.out)
    r = sync { "--store", path, "--org", "acme", "--dry-run", "--refresh-days", "0", "-f", "json" }
    assert.matches('"jobs":%[%]', r.out)
    assert.matches('"refreshed":null', r.out)
  end)

  it("--dry-run with --all-profiles: each org's plan, each its own credentials, nothing sent", function()
    local home = S.profiles(t, "home-plan")
    local path = t:path("two.sqlite3")
    local _, _, count = served()
    cli.ok(sync({ "--store", path, "--profile", "acme" }, { home = home }))
    fake:clear_log()
    local r = sync({ "--store", path, "--all-profiles", "--dry-run" }, { home = home })
    assert.equal(0, r.code, show(r))
    assert.equal(0, sent())
    assert.matches("\n# org acme %(profile acme%)\n# the service serves [^\n]+; the store holds " .. count ..
                   " of them\n# a sync would fetch 3 days: the last 3", r.out)
    assert.matches("\n# org globex %(profile globex%)\n# the service serves [^\n]+; the store holds 0 of them\n" ..
                   "# a sync would fetch " .. count .. " days", r.out)
    assert.matches("OAuth client org%-viewer", r.out)
    for _, s in ipairs { "demo-secret", "org-viewer-secret" } do assert.is_nil(r.out:find(s, 1, true)) end
    local doc = usage.json.decode(cli.ok(sync({ "--store", path, "--all-profiles", "--dry-run", "-f", "json" },
                                               { home = home })).out)
    assert.equal(2, #doc.orgs)
    assert.equal("globex", doc.orgs[2].profile)
    assert.equal(jobs_of(count), #doc.orgs[2].jobs)
    assert.equal(0, sent())
  end)

  it("--format json: one document per run, the text line only by default", function()
    local path = t:path("json.sqlite3")
    local first, last, count = served()
    local r = sync { "--store", path, "--org", "acme", "--format", "json" }
    assert.equal(0, r.code, show(r))
    assert.equal("", r.err)
    local doc = usage.json.decode(r.out)
    assert.equal("sync", doc.command)
    assert.equal(0, doc.status)
    assert.equal(path, doc.store)
    local o = doc.orgs[1]
    assert.equal("acme", o.org)
    assert.equal("ok", o.status)
    assert.equal(0, o.exitStatus)
    assert.equal(count, o.daysAdded)
    assert.equal(jobs_of(count), o.jobs)
    assert.equal(0, o.jobsFailed)
    assert.is_true(o.rows > 0)
    assert.same({ first = interval.date(first), last = interval.date(last), days = count, missing = 0 }, o.stored)
    assert.equal(usage.json.null, o.error)
    assert.matches('"failed":%[%]', r.out)
    assert.matches('"skipped":%[%]', r.out)
    assert.equal(1, #lines_of(r.out))
    -- the rows are the store's
    assert.equal(tostring(o.rows), sqlite(path, "SELECT count(*) FROM usage_rows"):match("%d+"))
    -- a bad format is a usage error
    r = sync { "--store", path, "--org", "acme", "--format", "csv" }
    assert.equal(2, r.code, show(r))
    assert.matches("%-%-format", r.err)
  end)

  it("a failed job: the text line and the JSON name its id; the exit status is kept", function()
    local first = served()
    local seen = {}
    for _, fmt in ipairs { "text", "json" } do
      local path = t:path("failed-" .. fmt .. ".sqlite3")
      fake:fault { fault = "job_failed", count = 1 }
      local r = sync { "--store", path, "--org", "acme", "--format", fmt }
      fake:clear_faults()
      assert.equal(1, r.code, show(r))
      local failed = {}
      for _, j in ipairs(fake:jobs()) do
        if j.outcome == "failed" and not seen[j.id] then failed[#failed + 1] = j.id end
      end
      assert.equal(1, #failed, show(r))
      local id = failed[1]
      seen[id] = true
      assert.matches("^genesys%-usage: error: 1 of %d+ jobs of org 'acme' failed %(" .. esc(interval.date(first)) ..
                     "%.%.[%d-]+, job " .. esc(id) .. "; ", r.err)
      if fmt == "text" then
        assert.matches("^sync of acme into " .. esc(path) .. " failed: [^\n]+; not stored %(the next run fetches " ..
                       "them%): " .. esc(interval.label(first, first + 89)) .. " %(90 days, job " .. esc(id) .. "%)\n$",
                       r.out)
      else
        local doc = usage.json.decode(r.out)
        assert.equal(1, doc.status)
        local o = doc.orgs[1]
        assert.equal("failed", o.status)
        assert.equal(1, o.exitStatus)
        assert.equal("query_failed", o.error.code)
        assert.matches("^1 of %d+ jobs of org 'acme' failed", o.error.message)
        assert.equal(1, #o.failed)
        assert.equal(id, o.failed[1].jobId)
        assert.equal(interval.date(first), o.failed[1].first)
        assert.equal(90, o.failed[1].count)
        assert.equal("query_failed", o.failed[1].code)
        assert.equal(1, o.jobsFailed)
      end
      fake:clear_log()
    end
    -- 503 to every job: 75 in the JSON too
    local path = t:path("unavailable.sqlite3")
    fake:fault { fault = "status", status = 503, count = -1, match = { method = "POST", path = "/aggregates/" } }
    local r = sync { "--store", path, "--org", "acme", "-f", "json" }
    fake:clear_faults()
    assert.equal(75, r.code, show(r))
    local doc = usage.json.decode(r.out)
    assert.equal(75, doc.status)
    assert.equal(75, doc.orgs[1].exitStatus)
    assert.equal(0, doc.orgs[1].daysAdded)
    assert.equal(usage.json.null, doc.orgs[1].stored)
    assert.equal(usage.json.null, doc.orgs[1].failed[1].jobId) -- (no job was accepted)
  end)

  it("a store another sync holds: exit 75, and the JSON says so for every org", function()
    local home = S.profiles(t, "home-held")
    local path = t:path("held-json.sqlite3")
    local holder = assert(store.open(path))
    assert(holder:reading(function() return lock.acquire(holder, "sync of org elsewhere") end))
    local r = sync({ "--store", path, "--all-profiles", "--lock-wait", "0.2", "-f", "json" }, { home = home })
    holder:close()
    assert.equal(75, r.code, show(r))
    local doc = usage.json.decode(r.out)
    assert.equal(75, doc.status)
    assert.equal(2, #doc.orgs)
    for _, o in ipairs(doc.orgs) do
      assert.equal("failed", o.status)
      assert.equal("locked", o.error.code)
      assert.equal(75, o.exitStatus)
      assert.equal(usage.json.null, o.days)
    end
    assert.matches("^genesys%-usage: store: org acme %(and 1 more org failed%): ", r.err)
  end)

  describe("into PostgreSQL", function()
    local pg
    setup(function() pg = postgres.start() end)
    teardown(function() if pg then pg:stop() end end)

    it("--dry-run and --format json never show the URL's password", function()
      local PASSWORD = "Pl4n-S3cret-pw"
      local url = S.pg_store(pg, "planner", "planned", PASSWORD)
      local shown = "postgresql://planner@127.0.0.1:" .. pg.port .. "/planned"
      local _, _, count = served()
      local function clean(r)
        for _, s in ipairs { r.out, r.err } do assert.is_nil(s:find("S3cret", 1, true), s) end
      end
      -- an empty database: no store yet, nothing created
      local r = sync({ "--store", url, "--org", "acme", "--dry-run", "--verbose" }, { env = { GENESYS_USAGE_PROGRESS = "1" } })
      assert.equal(0, r.code, show(r))
      clean(r)
      assert.matches("from the store " .. esc(shown) .. ", which does not exist yet", r.out)
      assert.equal("0", pg:psql("planned", "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"):match("%d+"))
      assert.equal(0, sent())
      r = sync({ "--store", url, "--org", "acme", "--format", "json", "--verbose" },
               { env = { GENESYS_USAGE_PROGRESS = "1" } })
      assert.equal(0, r.code, show(r))
      clean(r)
      local doc = usage.json.decode(r.out)
      assert.equal(shown, doc.store)
      assert.equal(count, doc.orgs[1].daysAdded)
      fake:clear_log()
      r = sync { "--store", url, "--org", "acme", "--dry-run" }
      assert.equal(0, r.code, show(r))
      clean(r)
      assert.matches("from the store " .. esc(shown) .. " %(opened read%-only, no lock taken%)", r.out)
      assert.matches("the store holds " .. count .. " of them\n# a sync would fetch 3 days", r.out)
      r = sync { "--store", url, "--org", "acme", "--dry-run", "-f", "json" }
      assert.equal(0, r.code, show(r))
      clean(r)
      assert.equal(shown, usage.json.decode(r.out).store)
      assert.equal(0, sent())
      -- unreachable: the store cannot be read, exit 75, the password not shown
      r = sync { "--store", "postgresql://planner:" .. PASSWORD .. "@127.0.0.1:" .. nginx.pick_port() .. "/planned",
                 "--org", "acme", "--dry-run", "-f", "json" }
      assert.equal(75, r.code, show(r))
      clean(r)
      assert.equal("", r.out)
    end)
  end)
end)

-- the ids a hostile server gives its jobs leave redacted and made safe, in the text and in the JSON
describe("genesys-usage sync against a hostile server", function()
  local TOKEN = "tok-" .. string.rep("Zx9", 30)
  local ID, SECRET = "hostile-sync-client", "hostile-Sync-Secret-4Kd"
  local srv, t

  setup(function()
    srv = hostile.start()
    t = cli.new { base_url = srv.base_url, client_id = ID, client_secret = SECRET }
  end)
  teardown(function()
    if srv then srv:stop() end
    if t then t:cleanup() end
  end)

  -- every job accepted with the id `id` (JSON text), then Failed with a message echoing the secret
  local function failing(id)
    srv:script(hostile.with_login(TOKEN, [[
return function(req)
  if req.method == "POST" then return 200, nil, [==[{"id":]] .. id .. [[}]==] end
  return 200, nil, '{"queryStatus":"Failed","errorBody":{"message":"nope ]] .. SECRET .. [[ ]] .. TOKEN .. [["}}'
end]]))
  end

  local function check(cond, r, what)
    if not cond then error((what or "assertion failed") .. "\n" .. cli.show(r) .. "\n" .. srv:diagnostics(), 2) end
  end

  local function no_secret(r)
    for _, s in ipairs { r.out, r.err } do
      check(not s:find(SECRET, 1, true), r, "the client secret leaked")
      check(not s:find(TOKEN, 1, true), r, "the token leaked")
    end
  end

  it("a job id echoing the secret, with a C1 CSI and a BIDI override: redacted, shown escaped, valid JSON", function()
    failing([["job-]] .. SECRET .. [[-\u009b31m-\u202eevil"]])
    for _, fmt in ipairs { "text", "json" } do
      local path = t:path("hostile-" .. fmt .. ".sqlite3")
      local r = t:run { "sync", "--store", path, "--org", "acme", "-f", fmt, "--poll-interval", "0.01",
                        "--refresh-days", "0" }
      check(r.code == 1, r, "exit 1 expected")
      no_secret(r)
      -- (the JSON holds the id exactly, as JSON data: the project's JSON carries what the server sent, as
      -- valid UTF-8 and escaped where JSON needs it; only text for people shows such characters escaped)
      for _, s in ipairs(fmt == "text" and { r.out, r.err } or { r.err }) do
        check(not s:find("\194\155", 1, true), r, "a raw C1 CSI was written")
        check(not s:find("\226\128\174", 1, true), r, "a raw BIDI override was written")
      end
      if fmt == "text" then
        check(r.out:find("job job-", 1, true) and r.out:find("\\x9b31m-\\u202eevil)", 1, true), r,
              "the text line names the job, escaped")
      else
        local doc = usage.json.decode(r.out)
        check(doc.status == 1, r, "status 1")
        local f = doc.orgs[1].failed[1]
        check(f and f.jobId == "job-[REDACTED]-\194\155" .. "31m-\226\128\174evil", r, "the JSON names the job")
        check(not f.jobId:find(SECRET, 1, true), r, "the JSON's job id holds the secret")
      end
    end
  end)

  it("a job id with control characters is refused by the library: no id, nothing raw", function()
    failing([["job-\u001b[2J-\r\nX"]])
    local path = t:path("controls.sqlite3")
    local r = t:run { "sync", "--store", path, "--org", "acme", "-f", "json", "--poll-interval", "0.01",
                      "--refresh-days", "0" }
    check(r.code == 1, r, "exit 1 expected")
    no_secret(r)
    for _, s in ipairs { r.out, r.err } do check(not s:find("\27", 1, true), r, "a raw escape was written") end
    local doc = usage.json.decode(r.out)
    local f = doc.orgs[1].failed[1]
    check(f.jobId == usage.json.null, r, "no usable id: null")
    check(f.code == "bad_response", r, "bad_response")
    r = t:run { "sync", "--store", path, "--org", "acme", "--poll-interval", "0.01", "--refresh-days", "0" }
    check(r.code == 1, r, "exit 1 expected")
    check(not r.out:find("\27", 1, true) and not r.out:find(", job ", 1, true), r, "no id on the line")
  end)
end)
