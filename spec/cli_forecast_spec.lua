-- genesys-usage forecast (issue #21, the command line's part): the demo org, over its allowance, as a monitoring
-- plugin (CRITICAL 2, a status line whose performance data the plugin guidelines accept), the thresholds moved
-- (OK 0, WARNING 1), any failure in plugin format UNKNOWN 3 (a server error, a usage error argparse finds, the
-- network), the text naming the runaway client and its days, the JSON equal to the library's result and to
-- an independent recomputation from the fake's raw rows, the 1st of a month labelled, --store (a store the
-- library synced: the same figures; one that lacks days or holds a week: labelled). The command's clock is
-- moved by libfaketime (the fake's `today` and runaway with it), so the figures do not depend on the day the
-- spec runs.
local support = require "support.cli"
local usage = require "usage"
local forecast = require "usage.forecast"
local json = require "usage.base.json"
local recompute = require("support.forecast_recompute").recompute

local interval = require "usage.base.interval"

local NOW_TEXT, TODAY, RUNAWAY_START = "2026-03-20 10:00:00", "2026-03-20", "2026-03-13"
local NOW = assert(usage.interval.parse_instant("2026-03-20T10:00:00Z"))
local HOME = "d89a08f4-0a78-436c-9a69-7f980fb26104" -- the fake's home organization
local RUNAWAY = "Callback Scheduler"                  -- the fake's runaway client

-- a performance data item as the Monitoring Plugins Development Guidelines write it:
-- 'label'=value[UOM];[warn];[crit];[min];[max] (the label quoted, values plain decimals)
local NUM = "%-?%d+%.?%d*"
local function perf_items(s)
  local items, i = {}, 1
  while i <= #s do
    local label, value, uom, rest, j = s:match("^'([^'=]+)'=(" .. NUM .. ")([%%a-zA-Z]*)([^ ]*)()", i)
    assert(label, "performance data not in the guidelines' format at byte " .. i .. ": " .. s:sub(i))
    assert(uom == "" or uom == "%" or uom == "s" or uom == "ms" or uom == "us" or uom == "B" or uom == "KB" or
           uom == "MB" or uom == "TB" or uom == "c", "unit " .. uom)
    assert(rest == "" or rest:match("^;[%d%.]*;[%d%.]*;[%d%.]*$") or rest:match("^;[%d%.]*;[%d%.]*;[%d%.]*;[%d%.]*$")
           or rest:match("^;[%d%.]*;[%d%.]*$") or rest:match("^;[%d%.]*$"), "thresholds of " .. label .. ": " .. rest)
    local f = {}
    for x in (rest .. ";"):gmatch(";([^;]*)") do f[#f + 1] = x end
    items[label] = { value = tonumber(value), uom = uom, warn = f[1], crit = f[2], min = f[3], max = f[4] }
    if s:sub(j, j) == " " then j = j + 1 end
    i = j
  end
  return items
end

-- the plugin's answer: "GENESYS USAGE STATE - text | perfdata" and detail lines; the exit status its state
local STATES = { OK = 0, WARNING = 1, CRITICAL = 2, UNKNOWN = 3 }
local function plugin(r)
  local first = r.out:match("^([^\n]*)\n")
  assert(first, "no status line:\n" .. support.show(r))
  local state, text, perf = first:match("^GENESYS USAGE (%u+) %- ([^|]+) | (.+)$")
  if not state then state, text = first:match("^GENESYS USAGE (%u+) %- ([^|]+)$") end
  assert(state, "not a plugin status line: " .. first)
  assert.equal(STATES[state], r.code, "the exit status is the state:\n" .. support.show(r))
  local details = r.out:sub(#first + 2)
  assert.is_nil(details:find("|", 1, true), "a detail line with '|' would start performance data")
  return { state = state, text = text, perf = perf and perf_items(perf) or {}, details = details }
end

describe("genesys-usage forecast", function()
  local fake, t
  local fixture = support.with_fake()
  setup(function() fake, t = fixture.start() end)
  teardown(fixture.stop)
  before_each(function()
    fake:reset()
    fake:config { lifecycle = { polls = 0 }, today = TODAY, runaway = { start = RUNAWAY_START } }
  end)

  -- the command at 2026-03-20 10:00 UTC (or `at`)
  local function run(args, at, env)
    local argv = { "forecast", "--poll-interval", "0.01" }
    for _, a in ipairs(args) do argv[#argv + 1] = a end
    return t:run(argv, { faketime = at or NOW_TEXT, env = env })
  end

  local function dump(r)
    return support.show(r) .. "\n--- fake error log:\n" .. fake:error_log():sub(-2000)
  end

  it("the demo org over its allowance: CRITICAL 2, performance data the plugin guidelines accept", function()
    local r = run { "--licenses", "cx3=1000", "--format", "plugin" }
    local p = plugin(r)
    assert.equal("CRITICAL", p.state, dump(r))
    assert.equal(2, r.code)
    assert.equal("", r.err)
    assert.truthy(p.text:find("^default: projected [%d,]+ requests in March 2026, [%d.]+%% of the allowance of " ..
                              "140,000,000"), p.text)
    assert.truthy(p.text:find("called out: " .. RUNAWAY, 1, true), p.text)
    local pp = p.perf.projected
    assert.truthy(pp and pp.value > 140000000, r.out)
    assert.equal("112000000", pp.warn)
    assert.equal("140000000", pp.crit)
    assert.equal("0", pp.min)
    assert.equal("%", p.perf.projected_pct.uom)
    assert.equal("80", p.perf.projected_pct.warn)
    assert.equal("100", p.perf.projected_pct.crit)
    assert.equal(140000000, p.perf.allowance.value)
    assert.equal(19, p.perf.month_to_date_days.value) -- 1-19 March: today, the 20th, is not counted
    assert.equal("31", p.perf.month_to_date_days.max)
    assert.truthy(p.details:find("Month to date: [%d,]+ requests, 1%-19 March 2026 %(19 days%), [%d.]+%% of the " ..
                                 "allowance %(today, 20 March 2026, not counted%)"), p.details)
    assert.truthy(p.details:find("\nRuns out: %d+ March 2026 at the current rate"), p.details)
  end)

  it("the thresholds moved: OK 0 and WARNING 1; in text and JSON the exit status stays 0", function()
    local ok = plugin(run { "--licenses", "cx3=1000", "-f", "plugin", "--warning", "900", "--critical", "1000" })
    assert.equal("OK", ok.state)
    assert.equal("900", ok.perf.projected_pct.warn)
    assert.equal("1260000000", ok.perf.projected.warn)
    local warn = plugin(run { "--licenses", "cx3=1000", "--format=plugin", "--warning", "50", "--critical", "1000" })
    assert.equal("WARNING", warn.state)
    assert.equal("1000", warn.perf.projected_pct.crit)
    -- an allowance the month fits in: OK with the default thresholds
    local big = plugin(run { "--allowance", "10,000,000,000", "-fplugin" })
    assert.equal("OK", big.state)
    assert.truthy(big.text:find("fits the month", 1, true), big.text)
    -- text: CRITICAL said, exit 0
    local text = run { "--licenses", "cx3=1000" }
    assert.equal(0, text.code, dump(text))
    assert.truthy(text.out:find("\nThresholds: CRITICAL: the projection is above 100%% of the allowance " ..
                                "%(exit status 0; %-%-format plugin would exit 2%)\n"), text.out)
    local j = run { "--licenses", "cx3=1000", "--format", "json" }
    assert.equal(0, j.code, dump(j))
    local doc = json.decode(j.out)
    assert.equal("CRITICAL", doc.alert.status)
    assert.equal(80, doc.alert.warning)
  end)

  it("any failure in plugin format is one UNKNOWN line on stdout and exit 3; elsewhere the usual statuses", function()
    -- a server error (no retry: a Retry-After past the client's limit)
    fake:fault { fault = "status", status = 503, retry_after = 100000, count = -1,
                 match = { method = "POST", path = "/aggregates/query/jobs" } }
    local r = run { "--licenses", "cx3=1000", "--format", "plugin" }
    assert.equal(3, r.code, dump(r))
    assert.truthy(support.one_line(r.out), r.out)
    assert.truthy(r.out:find("^GENESYS USAGE UNKNOWN %- .*HTTP 503"), r.out)
    assert.equal("", r.err)
    local text = run { "--licenses", "cx3=1000" }
    assert.equal(75, text.code, dump(text))
    assert.equal("", text.out)
    assert.truthy(support.one_line(text.err) and text.err:find("HTTP 503", 1, true), text.err)
    fake:clear_faults()
    -- usage errors: one argparse finds, and ones the command finds
    for _, args in ipairs {
      { "--format", "plugin", "--bogus" },
      { "--format", "plugin" },                                         -- no allowance
      { "--format", "plugin", "--licenses", "cx9=10" },
      { "--format", "plugin", "--licenses", "cx3=1000", "--warning", "10:20" },
      { "--format", "plugin", "--licenses", "cx3=1000", "--warning", "120" },
    } do
      local u = run(args)
      assert.equal(3, u.code, dump(u))
      assert.truthy(support.one_line(u.out) and u.out:find("^GENESYS USAGE UNKNOWN %- "), u.out)
      assert.equal("", u.err)
      args[2] = "text"
      local plain = run(args) -- (the same in text: a usage error, 2)
      assert.equal(2, plain.code, dump(plain))
    end
    -- the network, and credentials refused
    local net = run { "--licenses", "cx3=1000", "-f", "plugin", "--base-url", "http://127.0.0.1:1" }
    assert.equal(3, net.code, dump(net))
    assert.truthy(net.out:find("^GENESYS USAGE UNKNOWN %- "), net.out)
    local bad = run({ "--licenses", "cx3=1000", "-f", "plugin" }, nil,
                    { GENESYSCLOUD_OAUTHCLIENT_SECRET = "not-the-secret" })
    assert.equal(3, bad.code, dump(bad))
    assert.is_nil(bad.out:find("not-the-secret", 1, true))
    local refused = run({ "--licenses", "cx3=1000" }, nil, { GENESYSCLOUD_OAUTHCLIENT_SECRET = "not-the-secret" })
    assert.equal(77, refused.code, dump(refused))
  end)

  it("the text: month to date, projection and band, overage, the day it runs out, the runaway by name", function()
    local r = run { "--licenses", "cx3=1000" }
    assert.equal(0, r.code, dump(r))
    local out = r.out
    assert.truthy(out:find("^API usage forecast for default, March 2026 %(today, 20 March 2026, is not over: " ..
                           "not counted%)"), out)
    assert.truthy(out:find("\nmonth to date +[%d,]+ +[%d.]+%% +1%-19 March 2026 %(19 days%)"), out)
    assert.truthy(out:find("\nprojection +[%d,]+ +[%d.]+%% +1%-31 March 2026 %(31 days%): 19 counted %+ 12 estimated"),
                  out)
    assert.truthy(out:find("\n  low +[%d,]+"), out)
    assert.truthy(out:find("\n  high +[%d,]+"), out)
    assert.truthy(out:find("\noverage +[%d,]+ +[%d.]+%% +expected beyond the allowance in March 2026"), out)
    assert.truthy(out:find("\nruns out +%d+ March 2026 at the current rate %(estimated%)"), out)
    assert.truthy(out:find("against 1%-19 February 2026 %(19 days%)"), out)
    -- the runaway, called out by name, with its days
    assert.truthy(out:find("\n  " .. RUNAWAY .. " +[%d,]+ +[%d,]+ +[%d.]+%% +%+[%d,.]+%% +grown\n"), out)
    assert.truthy(out:find("\nCalled out:\n  " .. RUNAWAY .. ": grown x[%d.]+: [%d,]+ requests a day over 13%-19 " ..
                           "March 2026 %(7 days%)"), out)
    -- several orgs' labels come from --org
    local o = run { "--licenses", "cx3=1000", "--org", "acme" }
    assert.truthy(o.out:find("^API usage forecast for acme, "), o.out)
  end)

  it("JSON: the method and its inputs, figures equal to the library's and to a recomputation from raw rows", function()
    local r = run { "--licenses", "cx3=1000", "--format", "json" }
    assert.equal(0, r.code, dump(r))
    local doc = json.decode(r.out)
    assert.equal("genesys-usage forecast", doc.kind)
    assert.equal("2026-03-20", doc.today.date)
    assert.equal("weekday run rate", doc.method.name)
    assert.truthy(#doc.inputs.days >= 28)
    -- the library, in this process, at the same instant against the same fake
    local client = usage.new { base_url = fake.base_url, client_id = "demo-client", client_secret = "demo-secret",
                               poll = { interval = 0.01 } }
    local lib = assert(forecast.from_api(client, { now = NOW, allowance = assert(forecast.allowance {
      licenses = "cx3=1000" }), org = "default" }))
    client:close()
    assert.equal(lib.month_to_date.requests, doc.month_to_date.requests)
    assert.equal(lib.projection.requests, doc.projection.requests)
    assert.equal(lib.projection.band.low, doc.projection.band.low)
    assert.equal(lib.projection.band.high, doc.projection.band.high)
    assert.equal(lib.overage.requests, doc.overage.requests)
    assert.equal(lib.runs_out.date, doc.runs_out.date)
    assert.equal(#lib.clients, #doc.clients)
    -- an independent implementation of the documented method, from the rows the fake holds
    local span = forecast.span(NOW)
    local data, known = {}, {}
    for d = span.first_day, span.last_day do known[interval.date(d)] = true end
    for _, row in ipairs(fake:data(span.first, span.last, { scope = "org" })) do
      assert.equal(HOME, row.organizationId)
      data[row.clientId] = data[row.clientId] or {}
      data[row.clientId][row.date] = (data[row.clientId][row.date] or 0) + row.requests
    end
    local want = recompute(data, known, TODAY, 140000000)
    assert.equal(want.mtd, doc.month_to_date.requests)
    assert.equal(want.projection, doc.projection.requests)
    assert.equal(want.low, doc.projection.band.low)
    assert.equal(want.high, doc.projection.band.high)
    for _, c in ipairs(doc.clients) do assert.equal(want.clients[c.id], c.projection.requests, c.name) end
    assert.truthy(want.projection > 140000000)
  end)

  it("the 1st of a month: no whole day yet, labelled; the whole month estimated", function()
    fake:config { today = "2026-04-01", runaway = { start = "2026-03-25" } }
    local r = run({ "--licenses", "cx3=1000" }, "2026-04-01 08:00:00")
    assert.equal(0, r.code, dump(r))
    assert.truthy(r.out:find("today, 1 April 2026, is not over", 1, true), r.out)
    assert.truthy(r.out:find("\nmonth to date +0 +0%.0%% +none yet: no whole day of April 2026"), r.out)
    assert.truthy(r.out:find(": 0 counted %+ 30 estimated"), r.out)
    assert.truthy(r.out:find("\nvs last month +%- +no whole day of this month yet"), r.out)
    local p = plugin(run({ "--licenses", "cx3=1000", "--format", "plugin" }, "2026-04-01 08:00:00"))
    assert.equal(0, p.perf.month_to_date_days.value)
    assert.truthy(p.details:find("Month to date: 0 requests, no whole day yet", 1, true), p.details)
  end)

  it("--store: the same figures from a store the library synced; the days it lacks said, estimated", function()
    local store = require "usage.store"
    local span = forecast.span(NOW)
    local path = t:path("usage.sqlite3")
    local st = assert(store.open(path))
    local client = usage.new { base_url = fake.base_url, client_id = "demo-client", client_secret = "demo-secret",
                               poll = { interval = 0.01 } }
    local summary, err = st:sync(client, { org = "acme", first = span.first, now = NOW })
    assert(summary, tostring(err))
    assert.equal(span.last, summary.last)
    local api = run { "--licenses", "cx3=1000", "--format", "json", "--org", "acme" }
    assert.equal(0, api.code, dump(api))
    local mark = #fake:log()
    local r = run { "--licenses", "cx3=1000", "--format", "json", "--store", path, "--org", "acme" }
    assert.equal(0, r.code, dump(r))
    assert.equal(mark, #fake:log(), "--store sends nothing")
    local a, b = json.decode(api.out), json.decode(r.out)
    assert.equal("store", b.source.kind)
    for _, k in ipairs { "month_to_date", "projection", "overage" } do assert.equal(a[k].requests, b[k].requests, k) end
    assert.equal(a.projection.band.low, b.projection.band.low)
    assert.equal(a.projection.band.high, b.projection.band.high)
    assert.equal(a.runs_out.date, b.runs_out.date)
    assert.equal(#a.clients, #b.clients)
    for i, c in ipairs(a.clients) do
      assert.equal(c.id, b.clients[i].id)
      assert.equal(c.projection.requests, b.clients[i].projection.requests, c.name)
      assert.equal(c.status, b.clients[i].status, c.name)
    end
    -- the text and the plugin from the store too
    local text = run { "--licenses", "cx3=1000", "--store", path, "--org", "acme" }
    assert.equal(0, text.code, dump(text))
    assert.truthy(text.out:find("\nCalled out:\n  " .. RUNAWAY, 1, true), text.out)
    local p = plugin(run { "--licenses", "cx3=1000", "-f", "plugin", "--store", path, "--org", "acme" })
    assert.equal("CRITICAL", p.state)
    -- a store that lacks the last 5 days: they are estimated, never counted as 0, and said
    local path2 = t:path("behind.sqlite3")
    local st2 = assert(store.open(path2))
    assert(st2:sync(client, { org = "acme", first = span.first, now = NOW - 5 * 86400 }))
    st:close()
    st2:close()
    client:close()
    local behind = run { "--licenses", "cx3=1000", "--store", path2, "--org", "acme" }
    assert.equal(0, behind.code, dump(behind))
    assert.truthy(behind.out:find("\n +missing from the source: 15%-19 March 2026 %(5 days%)"), behind.out)
    assert.truthy(behind.out:find("\nmonth to date +[%d,]+ +[%d.]+%% +1%-14 March 2026 %(14 days%)"), behind.out)
    assert.truthy(behind.out:find(": 14 counted %+ 17 estimated"), behind.out)
    assert.truthy(behind.err:find("the store lacks 15-19 March 2026 (5 days) of the 47 the forecast reads: they " ..
                                  "are estimated, never counted as 0", 1, true), behind.err)
    local bpr = run { "--licenses", "cx3=1000", "-f", "plugin", "--store", path2, "--org", "acme" }
    assert.equal("", bpr.err) -- (a plugin writes nothing on stderr: the detail says the days)
    local bp = plugin(bpr)
    assert.truthy(bp.details:find("\nMissing from the source %(estimated%): 15%-19 March 2026 %(5 days%)\n"),
                  bp.details)
    local bj = json.decode(run({ "--licenses", "cx3=1000", "-f", "json", "--store", path2, "--org", "acme" }).out)
    assert.equal(5, bj.month_to_date.missing.count)
    assert.truthy(bj.month_to_date.requests < a.month_to_date.requests)
    -- a store that holds one week: a labelled answer on 7 days of history, no band, nobody called out
    local path3 = t:path("week.sqlite3")
    local st3 = assert(store.open(path3))
    local c3 = usage.new { base_url = fake.base_url, client_id = "demo-client", client_secret = "demo-secret",
                           poll = { interval = 0.01 } }
    assert(st3:sync(c3, { org = "acme", first = "2026-03-13", now = NOW }))
    st3:close()
    c3:close()
    local week = run { "--licenses", "cx3=1000", "--store", path3, "--org", "acme" }
    assert.equal(0, week.code, dump(week))
    assert.truthy(week.out:find("(7 days of history)", 1, true), week.out)
    assert.truthy(week.out:find("\n  band +%- +"), week.out)
    assert.is_nil(week.out:find("\nCalled out:", 1, true), week.out)
    assert.truthy(week.out:find("\nNotes:\n", 1, true), week.out)
    assert.truthy(week.out:find("\nvs last month +%- +the same days of last month are not in the source\n"), week.out)
    local wp = plugin(run { "--licenses", "cx3=1000", "-f", "plugin", "--store", path3, "--org", "acme" })
    assert.truthy(wp.details:find("\nBand: none %("), wp.details)
    -- no such org in the store, no store: failures (UNKNOWN in plugin format)
    local none = run { "--licenses", "cx3=1000", "--store", path, "--org", "globex" }
    assert.equal(1, none.code, dump(none))
    assert.truthy(none.err:find("the store has no org 'globex' (it has: acme)", 1, true), none.err)
    local missing = run { "--licenses", "cx3=1000", "--store", t:path("nothing.sqlite3"), "-f", "plugin" }
    assert.equal(3, missing.code, dump(missing))
    assert.truthy(missing.out:find("^GENESYS USAGE UNKNOWN %- .*no store at"), missing.out)
  end)

  it("a client name a server sends reaches the terminal escaped: no C1 control, no BIDI override", function()
    -- (the fake's names are plain: the rows are made here, as the job would hand them to the command)
    local rows = {}
    for d = interval.parse_date("2026-02-01"), interval.parse_date("2026-03-19") do
      local date = interval.date(d)
      rows[#rows + 1] = { date = date, client_id = "a", client_name = "Steady", requests = 1000000 }
      rows[#rows + 1] = { date = date, client_id = "b", client_name = "Ex\226\128\174port\194\155[2J|x",
                          requests = date >= "2026-03-13" and 9000000 or 1000 }
    end
    local r = assert(forecast.compute { now = NOW, org = "acme\226\128\174", allowance = 140000000, rows = rows })
    local text = forecast.text(r)
    local out = forecast.plugin(r)
    for _, s in ipairs { text, out, (forecast.plugin_unknown("x\194\155y\226\128\174")) } do
      assert.is_nil(s:find("\226\128\174", 1, true), s)
      assert.is_nil(s:find("\194\155", 1, true), s)
    end
    assert.truthy(text:find("Ex\\u202eport\\x9b[2J/x", 1, true), text)
    assert.truthy(out:find("called out: Ex\\u202eport\\x9b[2J/x (", 1, true), out)
  end)

  it("plugin format checks one org; --dry-run sends nothing and names the days", function()
    local d = run { "--licenses", "cx3=1000", "--dry-run" }
    assert.equal(0, d.code, dump(d))
    assert.truthy(d.out:find("the forecast reads 1 February %- 19 March 2026 %(UTC, 47 days%)"), d.out)
    assert.truthy(d.out:find('"groupBy":["OauthClientId","OauthClientName"]', 1, true), d.out)
    local nginx = require "support.nginx"
    assert(nginx.run("mkdir -p " .. nginx.sh_quote(t:path(".gc"))))
    nginx.write_file(t:path(".gc/config.toml"), '[acme]\nclient_credentials = "demo-client"\n' ..
                     'client_secret = "demo-secret"\n[globex]\nclient_credentials = "org-viewer"\n' ..
                     'client_secret = "org-viewer-secret"\n')
    assert(nginx.run("chmod 600 " .. nginx.sh_quote(t:path(".gc/config.toml"))))
    local two = run { "--all-profiles", "--licenses", "cx3=1000", "-f", "plugin" }
    assert.equal(3, two.code, dump(two))
    assert.truthy(two.out:find("one org", 1, true), two.out)
    -- several orgs in JSON: an array, one forecast each, labelled with its profile
    local j = run { "--all-profiles", "--licenses", "acme=cx3=1000", "--allowance", "globex=75000000", "-f", "json" }
    assert.equal(0, j.code, dump(j))
    local docs = json.decode(j.out)
    assert.equal(2, #docs)
    assert.equal("acme", docs[1].org)
    assert.equal(140000000, docs[1].allowance.requests)
    assert.equal("globex", docs[2].org)
    assert.equal(75000000, docs[2].allowance.requests)
  end)
end)
