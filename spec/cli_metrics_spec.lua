-- genesys-usage metrics (issue #13, the command line's part; issues #20 and #21, their Prometheus parts): the
-- Prometheus exposition of the usage per OAuth client for the last complete UTC day and the month to date,
-- checked by `promtool check metrics` (the spec fails without promtool: `make deps` installs the Debian package
-- prometheus), its figures against the fake's raw records, --output written atomically for node_exporter's
-- textfile collector; the org label on every series (--org, the profile's name, "default"); several orgs in
-- one run (--profile a --profile b, --all-profiles), one client and one job each, run at once; the fair-use
-- forecast's gauges from the same one job when an allowance is given (--licenses, --allowance [ORG=]N).

local nginx = require "support.nginx"
local support = require "support.cli"
local exposition = require "support.exposition"
local usage = require "usage"
local forecast = require "usage.forecast"
local recompute = require("support.forecast_recompute").recompute

local read_file = nginx.read_file
local interval = usage.interval

local HEAVY = "e1757718-6cd5-497a-8c0a-8a7aa9d882fd" -- Bulk Export Service: active every day

local function promtool(path)
  assert(nginx.run("command -v promtool >/dev/null 2>&1"),
         "promtool is missing: `make deps` installs it (Debian package prometheus)")
  local fh = io.popen("promtool check metrics < " .. nginx.sh_quote(path) .. " 2>&1; echo \"rc=$?\"")
  local out = fh:read("*a")
  fh:close()
  return out
end

-- the gc CLI's profiles of two orgs (two OAuth clients of the fake with usage:organization:view)
local PROFILES = table.concat({
  "[acme]", 'client_credentials = "demo-client"', 'client_secret = "demo-secret"',
  "[globex]", 'client_credentials = "org-viewer"', 'client_secret = "org-viewer-secret"', "",
}, "\n")
local BROKEN = '[broken]\nclient_credentials = "no-perms"\nclient_secret = "no-perms-secret"\n'

-- variables that an explicit --profile must not read (they would make every org the no-perms client)
local NO_PERMS_ENV = { GENESYSCLOUD_OAUTHCLIENT_ID = "no-perms", GENESYSCLOUD_OAUTHCLIENT_SECRET = "no-perms-secret" }

-- the fake's log entries after `mark` (a seq), and the last seq now
local function log_since(fake, mark)
  local out = {}
  for _, e in ipairs(fake:log()) do
    if e.seq > mark then out[#out + 1] = e end
  end
  return out
end
local function log_mark(fake)
  local l = fake:log()
  return l[#l] and l[#l].seq or 0
end
local function job_posts(entries)
  local out = {}
  for _, e in ipairs(entries) do
    if e.method == "POST" and e.path:find("/aggregates/query/jobs$") then out[#out + 1] = e end
  end
  return out
end

-- every sample's org label, as a set
local function orgs_of(families)
  local orgs, unlabelled = {}, {}
  for _, f in ipairs(families) do
    for _, s in ipairs(f.samples) do
      if s.labels.org then orgs[s.labels.org] = true else unlabelled[#unlabelled + 1] = s.line end
    end
  end
  return orgs, unlabelled
end

-- the fake's raw requests of a client over first..last
local function raw_sum(fake, first, last, client_id)
  local sum = 0
  for _, rec in ipairs(fake:data(first, last)) do
    if rec.clientId == client_id then sum = sum + rec.requests end
  end
  return sum
end

describe("genesys-usage metrics", function()
  local fake, t
  local yesterday = interval.yesterday()
  local month = interval.month(yesterday.first:sub(1, 7))

  local fixture = support.with_fake()
  setup(function()
    fake, t = fixture.start()
    assert(nginx.run("mkdir -p " .. nginx.sh_quote(t:path(".gc"))))
  end)
  teardown(fixture.stop)
  local function profiles(text) -- (0600, as a file holding secrets should be: no permission warning)
    nginx.write_file(t:path(".gc/config.toml"), text)
    assert(nginx.run("chmod 600 " .. nginx.sh_quote(t:path(".gc/config.toml"))))
  end

  it("passes promtool check metrics and holds both periods, the collector's and the client's figures", function()
    local path = t:path("usage.prom")
    local r = t:run { "metrics", "--output", path, "--quiet" }
    assert.equal(0, r.code, support.show(r))
    assert.equal("", r.out)
    local out = promtool(path)
    assert.equal("rc=0\n", out, "promtool check metrics:\n" .. out)
    local text = read_file(path)
    local _, by = exposition.parse(text)
    local function v(name, labels) return (exposition.sample(by, name, labels)) end
    -- the periods: the last complete day, and the 1st of its month through it
    assert.equal(interval.parse_instant(yesterday.first), v("genesys_usage_period_start_timestamp_seconds", { period = "day" }))
    assert.equal(interval.parse_instant(month.first), v("genesys_usage_period_start_timestamp_seconds", { period = "month" }))
    assert.equal(interval.parse_instant(yesterday.first) + 86400, v("genesys_usage_period_end_timestamp_seconds", { period = "month" }))
    -- a client's figures are the fake's raw sums
    assert.equal(raw_sum(fake, yesterday.first, yesterday.first, HEAVY),
                 v("genesys_usage_oauth_client_requests", { client_id = HEAVY, client_name = "Bulk Export Service", period = "day" }))
    assert.equal(raw_sum(fake, month.first, month.last, HEAVY),
                 v("genesys_usage_oauth_client_requests", { client_id = HEAVY, period = "month" }))
    assert.truthy(v("genesys_usage_oauth_client_responses", { class = "429", client_id = HEAVY, period = "month" }))
    assert.equal(1, v("genesys_usage_collect_success"))
    assert.truthy(v("genesys_usage_collect_success_timestamp_seconds") > 1.7e9)
    assert.truthy(v("genesys_usage_collect_duration_seconds") >= 0)
    assert.equal(1, v("genesys_usage_api_logins_total"))
    assert.truthy(v("genesys_usage_api_requests_total") >= 3)
    assert.equal(300, v("genesys_usage_api_ratelimit_allowed"))
    -- no allowance: no forecast gauges
    assert.is_nil(by.genesys_usage_month_to_date_requests)
  end)

  it("labels every series with org: --org LABEL, else the --profile name, else default", function()
    profiles(PROFILES)
    local cases = {
      { args = {}, org = "default" },
      { args = { "--profile", "acme" }, org = "acme", env = NO_PERMS_ENV }, -- (the explicit profile wins)
      { args = { "--profile", "globex", "--org", "Globex Corp \"EU\"" }, org = "Globex Corp \"EU\"" },
      { args = { "--org", "eu-prod" }, org = "eu-prod" },
    }
    for _, c in ipairs(cases) do
      local args = { "metrics", "--quiet" }
      for _, a in ipairs(c.args) do args[#args + 1] = a end
      local r = t:run(args, { env = c.env })
      assert.equal(0, r.code, support.show(r))
      local families = exposition.parse(r.out)
      assert.is_true(#families >= 10)
      local orgs, unlabelled = orgs_of(families)
      assert.same({}, unlabelled)
      assert.same({ [c.org] = true }, orgs)
    end
  end)

  it("several orgs in one run: one valid exposition, one client and one job per org, run at once", function()
    profiles(PROFILES)
    fake:config { latency = 0.2 } -- (every answer waits: orgs queried one after the other could not overlap)
    local mark = log_mark(fake)
    local path = t:path("orgs.prom")
    local r = t:run({ "metrics", "--profile", "acme", "--profile", "globex", "--output", path, "--quiet" },
                    { env = NO_PERMS_ENV })
    fake:config { latency = 0 }
    assert.equal(0, r.code, support.show(r))
    local out = promtool(path)
    assert.equal("rc=0\n", out, "promtool check metrics:\n" .. out)
    local text = read_file(path)
    -- each family once, with one HELP and one TYPE (the parser raises otherwise), every series labelled
    local families, by = exposition.parse(text)
    local _, help_lines = text:gsub("\n# HELP ", "")
    local _, type_lines = text:gsub("\n# TYPE ", "")
    assert.equal(#families, help_lines + (text:find("^# HELP ") and 1 or 0))
    assert.equal(#families, type_lines)
    local orgs, unlabelled = orgs_of(families)
    assert.same({}, unlabelled)
    assert.same({ acme = true, globex = true }, orgs)
    for _, f in ipairs(families) do
      local seen = {}
      for _, s in ipairs(f.samples) do seen[s.labels.org] = true end
      assert.same({ acme = true, globex = true }, seen, f.name)
    end
    -- both orgs' figures (the fake has one home organization: the same sums under both labels)
    local want = raw_sum(fake, month.first, month.last, HEAVY)
    for _, org in ipairs { "acme", "globex" } do
      assert.equal(want, exposition.sample(by, "genesys_usage_oauth_client_requests",
                                           { org = org, client_id = HEAVY, period = "month" }))
      assert.equal(1, exposition.sample(by, "genesys_usage_api_logins_total", { org = org }))
    end
    -- one job per org, each by its own OAuth client (the profiles', not the variables')
    local entries = log_since(fake, mark)
    local posts = job_posts(entries)
    assert.equal(2, #posts)
    local by_client = {}
    for _, e in ipairs(posts) do by_client[e.client_id] = (by_client[e.client_id] or 0) + 1 end
    assert.same({ ["demo-client"] = 1, ["org-viewer"] = 1 }, by_client)
    -- at once: each org's requests began before the other's ended
    local span = {}
    for _, e in ipairs(entries) do
      if e.client_id then
        local s = span[e.client_id] or { first = e.seq, last = e.seq }
        s.first, s.last = math.min(s.first, e.seq), math.max(s.last, e.seq)
        span[e.client_id] = s
      end
    end
    local a, b = span["demo-client"], span["org-viewer"]
    assert.truthy(a and b)
    assert.is_true(a.first < b.last and b.first < a.last, "the two orgs were queried one after the other")
  end)

  it("--all-profiles: one org per profile; a failing org fails the run and leaves the file as it was", function()
    profiles(PROFILES)
    local path = t:path("all.prom")
    local r = t:run { "metrics", "--all-profiles", "--output", path, "--quiet" }
    assert.equal(0, r.code, support.show(r))
    local text = read_file(path)
    assert.same({ acme = true, globex = true }, (orgs_of((exposition.parse(text)))))
    profiles(PROFILES .. BROKEN)
    local f = t:run { "metrics", "--all-profiles", "--output", path }
    assert.equal(77, f.code, support.show(f)) -- EX_NOPERM: the org whose client lacks the permission
    assert.truthy(support.one_line(f.err), f.err)
    assert.truthy(f.err:find("org broken: ", 1, true), f.err)
    assert.truthy(support.no_trace(f), f.err)
    assert.equal(text, read_file(path))
    assert.equal(0, #support.temp_files(t.dir))
    -- usage errors, before anything is sent
    local mark = log_mark(fake)
    for _, c in ipairs {
      { { "--all-profiles", "--profile", "acme" }, "--all-profiles takes every profile" },
      { { "--profile", "acme", "--profile", "acme" }, "profile acme is given twice" },
      { { "--profile", "acme", "--profile", "globex", "--org", "x" }, "--org labels one org" },
      { { "--profile", "acme", "--profile", "nope" }, "no profile nope" },
    } do
      local args = { "metrics" }
      for _, a in ipairs(c[1]) do args[#args + 1] = a end
      local u = t:run(args)
      assert.equal(2, u.code, support.show(u))
      assert.truthy(u.err:find(c[2], 1, true), u.err)
    end
    -- a profile name that cannot be a label (the TOML file may quote any key)
    profiles(PROFILES .. '["tab\\there"]\nclient_credentials = "demo-client"\nclient_secret = "demo-secret"\n')
    local u = t:run { "metrics", "--all-profiles" }
    assert.equal(2, u.code, support.show(u))
    assert.truthy(u.err:find("cannot be an org label", 1, true), u.err)
    assert.same({}, log_since(fake, mark))
  end)

  it("with an allowance, the forecast's gauges come from the same one job, as the fake's raw rows give them", function()
    local now = os.time()
    local mark = log_mark(fake)
    local path = t:path("forecast.prom")
    local r = t:run { "metrics", "--licenses", "cx3=1000", "--output", path, "--quiet" }
    assert.equal(0, r.code, support.show(r))
    local out = promtool(path)
    assert.equal("rc=0\n", out, "promtool check metrics:\n" .. out)
    local today = interval.date(interval.day_of(now))
    if interval.date(interval.day_of(os.time())) ~= today then
      pending("the UTC day changed during the spec: run it again")
      return
    end
    -- one job: from the 1st of last month (the forecast's span) through yesterday
    local span = forecast.span(now)
    local posts = job_posts(log_since(fake, mark))
    assert.equal(1, #posts)
    local body = require("cjson").decode(posts[1].body)
    assert.equal(span.jobs, body.interval)
    local _, by = exposition.parse(read_file(path))
    local A = forecast.allowance { licenses = "cx3=1000" }.requests
    local function v(name, labels) return (exposition.sample(by, name, labels or { org = "default" })) end
    assert.equal(A, v("genesys_usage_allowance_requests"))
    -- the forecast, recomputed from the raw rows the fake served (an implementation that shares no code)
    local data, known = {}, {}
    for d = span.first_day, span.last_day do known[interval.date(d)] = true end
    for _, row in ipairs(fake:data(span.first, span.last, { scope = "org" })) do
      data[row.clientId] = data[row.clientId] or {}
      data[row.clientId][row.date] = (data[row.clientId][row.date] or 0) + row.requests
    end
    local want = recompute(data, known, today, A)
    assert.equal(want.mtd, v("genesys_usage_month_to_date_requests"))
    assert.equal(want.projection, v("genesys_usage_projected_requests"))
    assert.equal(want.low, v("genesys_usage_projected_low_requests"))
    assert.equal(want.high, v("genesys_usage_projected_high_requests"))
    for id, projection in pairs(want.clients) do
      assert.equal(projection, v("genesys_usage_oauth_client_projected_requests", { org = "default", client_id = id }))
    end
    assert.equal(interval.parse_instant(today), v("genesys_usage_month_to_date_end_timestamp_seconds"))
    -- and the usage figures are those of the month, not of the longer job
    assert.equal(raw_sum(fake, month.first, month.last, HEAVY),
                 v("genesys_usage_oauth_client_requests", { org = "default", client_id = HEAVY, period = "month" }))
  end)

  it("gives each org its allowance: ORG= for one org, without it for the others; an org without one is a usage error", function()
    profiles(PROFILES)
    local two = { "metrics", "--quiet", "--profile", "acme", "--profile", "globex" }
    local function run(...)
      local args = {}
      for _, a in ipairs(two) do args[#args + 1] = a end
      for _, a in ipairs { ... } do args[#args + 1] = a end
      return t:run(args)
    end
    local function allowance(text, org)
      local _, by = exposition.parse(text)
      return (exposition.sample(by, "genesys_usage_allowance_requests", { org = org }))
    end
    local r = run("--allowance", "acme=140,000,000", "--licenses", "globex=cx1=100,cx3-concurrent=5")
    assert.equal(0, r.code, support.show(r))
    assert.equal(140000000, allowance(r.out, "acme"))
    assert.equal(forecast.allowance { licenses = "cx1=100,cx3-concurrent=5" }.requests, allowance(r.out, "globex"))
    r = run("--allowance", "1000000", "--allowance", "globex=5000000")
    assert.equal(0, r.code, support.show(r))
    assert.equal(1000000, allowance(r.out, "acme"))
    assert.equal(5000000, allowance(r.out, "globex"))
    -- an org's own licences beat the allowance given for every org
    r = run("--allowance", "1000000", "--licenses", "acme=cx3=1000")
    assert.equal(0, r.code, support.show(r))
    assert.equal(forecast.allowance { licenses = "cx3=1000" }.requests, allowance(r.out, "acme"))
    assert.equal(1000000, allowance(r.out, "globex"))
    local mark = log_mark(fake)
    for _, c in ipairs {
      { { "--allowance", "acme=140000000" }, "no allowance for org globex: give --allowance globex=N" },
      { { "--allowance", "initech=5", "--allowance", "5" }, "--allowance initech=5: initech is not an org of this run (orgs: acme, globex)" },
      { { "--allowance", "acme=5", "--allowance", "acme=6" }, "--allowance: org acme is given twice" },
      { { "--allowance", "5", "--allowance", "6" }, "--allowance is given twice without ORG=" },
      { { "--licenses", "acme=cx9=5", "--allowance", "5" }, "org acme: --licenses: unknown licence tier 'cx9'" },
      { { "--allowance", "acme=0", "--allowance", "5" }, "org acme: --allowance: the allowance must be a whole number" },
    } do
      local u = run((table.unpack or unpack)(c[1])) -- luacheck: ignore
      assert.equal(2, u.code, support.show(u))
      assert.truthy(support.one_line(u.err), u.err)
      assert.truthy(u.err:find(c[2], 1, true), u.err)
    end
    assert.same({}, log_since(fake, mark))
  end)

  it("caps the client series, and leaves the file as it was when a run fails", function()
    local path = t:path("capped.prom")
    local r = t:run { "metrics", "--max-clients", "3", "--output", path, "--quiet" }
    assert.equal(0, r.code, support.show(r))
    local text = read_file(path)
    assert.equal(3, select(2, text:gsub('genesys_usage_oauth_client_requests{[^\n]*period="day"}', "")))
    assert.truthy(text:find('client_id="other"', 1, true))
    local f = t:run({ "metrics", "--output", path },
                    { env = { GENESYSCLOUD_OAUTHCLIENT_ID = "no-perms", GENESYSCLOUD_OAUTHCLIENT_SECRET = "no-perms-secret" } })
    assert.equal(77, f.code) -- EX_NOPERM
    assert.truthy(support.one_line(f.err), f.err)
    assert.equal(text, read_file(path))
    assert.equal(0, #support.temp_files(t.dir))
  end)

  it("prints to stdout, and its --dry-run names the days and each org", function()
    local r = t:run { "metrics", "--quiet" }
    assert.equal(0, r.code, support.show(r))
    assert.truthy(r.out:find("# TYPE genesys_usage_oauth_client_requests gauge", 1, true))
    local d = t:run { "metrics", "--dry-run" }
    assert.truthy(d.out:find("last complete day " .. yesterday.label, 1, true), d.out)
    assert.truthy(d.out:find(month.jobs, 1, true), d.out)
    profiles(PROFILES)
    local mark = log_mark(fake)
    d = t:run { "metrics", "--dry-run", "--all-profiles", "--licenses", "cx3=1000" }
    assert.equal(0, d.code, support.show(d))
    assert.truthy(d.out:find("# org acme (profile acme); allowance 1,000 CX 3", 1, true), d.out)
    assert.truthy(d.out:find("# org globex (profile globex)", 1, true), d.out)
    assert.truthy(d.out:find("OAuth client org-viewer (profile globex", 1, true), d.out)
    assert.truthy(d.out:find(forecast.span(os.time()).jobs, 1, true), d.out)
    assert.same({}, log_since(fake, mark))
  end)
end)
