-- genesys-usage report over usage.history (issues 20, 21): --compare previous-period | previous-year with each
-- client's and endpoint's change checked against the fake's raw records of both periods, in every format;
-- a client that is new or gone; the previous year the API no longer serves (a usage error naming the days
-- it serves and the store, before any job); --by org and the consolidated view of several orgs (--profile a
-- --profile b, --all-profiles); the fair-use forecast on the HTML page, as headless Chromium reads it.
-- With --store (SQLite and a real PostgreSQL, filled by the library's store:sync from the fake): the same
-- report as the API for the days both hold, a span past the API's year, --compare previous-year from the
-- store; a store with hostile client names (control characters, spreadsheet formulas) and a missing day.
-- A comparison over the API runs both periods' jobs at once: every job of both periods (and orgs) is
-- submitted before either period's last page is read (the fake's log), the bytes of every format are those
-- of the same run one period after the other, and the progress line names both periods (the hostile side:
-- spec/cli_report_compare_spec.lua).

local support = require "support.cli"
local nginx = require "support.nginx"
local usage = require "usage"
local json = require "usage.base.json"
local text = require "usage.base.text"
local interval = require "usage.base.interval"
local forecast = require "usage.forecast"
local H = require "helper"
local store = require "usage.store"
local stores = require "support.store"

local DAY = 86400

local read_file = nginx.read_file
local ok = support.ok

local PROFILES = table.concat({
  "[acme]", 'client_credentials = "demo-client"', 'client_secret = "demo-secret"',
  "[globex]", 'client_credentials = "org-viewer"', 'client_secret = "org-viewer-secret"', "",
}, "\n")

local COMPARE_COLUMNS = "section,rank,date,previousDate,oauthClientId,oauthClientName,previousOauthClientName," ..
  "httpMethod,templateUri,state,requests,previousRequests,change,changePercent,status429,previousStatus429," ..
  "change429,status500,previousStatus500,change500"

local FORMATS = { "table", "csv", "json", "ndjson", "svg", "html" }

local function lines_of(s)
  local out = {}
  for line in s:gmatch("([^\n]*)\n") do out[#out + 1] = (line:gsub("\r$", "")) end
  return out
end

-- "5 December 2026 (1 day)": a date as the report names days (usage.history.dates_label)
local function history_label(d) return require("usage.history").dates_label { d } end

local function count(s, pattern) return select(2, s:gsub(pattern, "")) end

-- the DOM of an HTML file as headless Chromium builds it (fails, not skips, without Chromium)
local function dom_of(path)
  assert(nginx.run("command -v chromium >/dev/null 2>&1"), "chromium is not installed (Debian package chromium)")
  local profile = nginx.temp_dir("usage-chromium")
  local out = profile .. "/dom.html"
  local ran = nginx.run("timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run " ..
    "--disable-background-networking --disable-component-update --disable-sync --user-data-dir=" ..
    nginx.sh_quote(profile) .. " --dump-dom " .. nginx.sh_quote("file://" .. path) .. " >" .. nginx.sh_quote(out) ..
    " 2>" .. nginx.sh_quote(profile .. "/stderr"))
  local dom, err = read_file(out) or "", read_file(profile .. "/stderr") or ""
  nginx.remove_dir(profile)
  assert(ran and dom:find("</html>", 1, true), "chromium failed:\n" .. nginx.tail(err, 20))
  assert.is_nil(dom:find("<script", 1, true))
  return dom
end

-- the fake's raw records of a span, summed per client id, per endpoint and in all
local function raw(fake, days)
  local out = { clients = {}, endpoints = {}, names = {}, total = { requests = 0, status429 = 0, status500 = 0 } }
  local function add(map, key, rec)
    local t = map[key] or { requests = 0, status429 = 0, status500 = 0 }
    for _, f in ipairs { "requests", "status429", "status500" } do t[f] = t[f] + rec[f] end
    map[key] = t
  end
  for _, rec in ipairs(fake:data(days.first, days.last)) do
    add(out.clients, rec.clientId, rec)
    add(out.endpoints, rec.httpMethod .. " " .. rec.templateUri, rec)
    for _, f in ipairs { "requests", "status429", "status500" } do out.total[f] = out.total[f] + rec[f] end
    out.names[rec.clientId] = rec.clientName
  end
  return out
end

local function figure(map, key, f) return map[key] and map[key][f] or 0 end

-- the state of a key in two raw sums
local function state_of(cur, prev, key)
  local c, p = figure(cur, key, "requests"), figure(prev, key, "requests")
  if c > 0 and p > 0 then return "both" elseif c > 0 then return "new" elseif p > 0 then return "gone" end
  return "none"
end

-- period(text) -> "this" | "previous" (the words of a job note or a failure)
local function period_of(s)
  if s:find("this period", 1, true) then return "this" end
  if s:find("the previous period", 1, true) then return "previous" end
end

-- the request log of one run, by period: the seq of each submit (by its interval) and of each job read
-- (by the job ids the --verbose notes give each period)
local function by_period(entries, r, spans)
  local ids = {}
  for who, id in r.err:gmatch("genesys%-usage: ([^\n]-): job (%S+) started") do ids[id] = period_of(who) end
  local out = { this = { submits = {}, reads = {} }, previous = { submits = {}, reads = {} } }
  for _, e in ipairs(entries) do
    local path = e.path or ""
    if e.method == "POST" and path:find("/aggregates/query/jobs", 1, true) then
      local start = (e.body or ""):match('"interval":"(%d%d%d%d%-%d%d%-%d%d)')
      for p, d in pairs(spans) do
        if start == d.first then table.insert(out[p].submits, e.seq) end
      end
    elseif e.method == "GET" then
      local id = path:match("/aggregates/query/jobs/([^/?]+)")
      if id and ids[id] then table.insert(out[ids[id]].reads, e.seq) end
    end
  end
  return out
end

local function max_of(list)
  local m = -math.huge
  for _, v in ipairs(list) do if v > m then m = v end end
  return m
end

-- whether the periods ran together: every submit of both periods comes before the last read of each
local function together(log)
  local last_submit = math.max(max_of(log.this.submits), max_of(log.previous.submits))
  return last_submit < max_of(log.this.reads) and last_submit < max_of(log.previous.reads)
end

local function show_log(log)
  return string.format("this period: submits %s, reads %s; the previous period: submits %s, reads %s",
    table.concat(log.this.submits, " "), table.concat(log.this.reads, " "),
    table.concat(log.previous.submits, " "), table.concat(log.previous.reads, " "))
end

describe("genesys-usage report over usage.history", function()
  local fake, t
  local fixture = support.with_fake()
  setup(function()
    fake, t = fixture.start()
    assert(nginx.run("mkdir -p " .. nginx.sh_quote(t:path(".gc"))))
    nginx.write_file(t:path(".gc/config.toml"), PROFILES)
    assert(nginx.run("chmod 600 " .. nginx.sh_quote(t:path(".gc/config.toml"))))
  end)
  teardown(fixture.stop)

  local function log_mark()
    local l = fake:log()
    return l[#l] and l[#l].seq or 0
  end
  local function submits_since(mark)
    local n = 0
    for _, e in ipairs(fake:log()) do
      if e.seq > mark and e.method == "POST" and (e.path or ""):find("/api/v2/usage/", 1, true) then n = n + 1 end
    end
    return n
  end

  it("compares with the previous period: every client's and endpoint's change is the raw records' (JSON)", function()
    local days = usage.interval.days(7)
    local prev = interval.previous_period(days)
    local cur_raw, prev_raw = raw(fake, days), raw(fake, prev)
    local r = ok(t:run { "report", "--last", "7d", "--compare", "previous-period", "--top", "1000", "--format", "json" })
    local v = json.decode(r.out)
    assert.equal("previous-period", v.compare)
    assert.equal(days.label, v.days.label)
    assert.equal(prev.label, v.previousDays.label)
    assert.equal(prev.first, v.previousDays.first)
    assert.is_true(v.complete)
    assert.equal(cur_raw.total.requests, v.totals.current.requests)
    assert.equal(prev_raw.total.requests, v.totals.previous.requests)
    assert.equal(cur_raw.total.requests - prev_raw.total.requests, v.totals.change.requests)
    assert.equal(cur_raw.total.status429 - prev_raw.total.status429, v.totals.change.status429)
    local seen = {}
    for _, c in ipairs(v.clients) do
      seen[c.oauthClientId] = true
      local id = c.oauthClientId
      assert.equal(figure(cur_raw.clients, id, "requests"), c.current.requests, id)
      assert.equal(figure(prev_raw.clients, id, "requests"), c.previous.requests, id)
      assert.equal(c.current.requests - c.previous.requests, c.change.requests)
      assert.equal(figure(cur_raw.clients, id, "status500") - figure(prev_raw.clients, id, "status500"), c.change.status500)
      assert.equal(state_of(cur_raw.clients, prev_raw.clients, id), c.state, id)
      assert.equal(7, #c.daily)
    end
    for id in pairs(cur_raw.clients) do assert.truthy(seen[id], id) end
    for id in pairs(prev_raw.clients) do assert.truthy(seen[id], id) end
    local states = {}
    for _, e in ipairs(v.endpoints) do
      local k = e.httpMethod .. " " .. e.templateUri
      assert.equal(figure(cur_raw.endpoints, k, "requests"), e.current.requests, k)
      assert.equal(figure(prev_raw.endpoints, k, "requests"), e.previous.requests, k)
      assert.equal(state_of(cur_raw.endpoints, prev_raw.endpoints, k), e.state, k)
      states[k] = e.state
    end
    -- the runaway's endpoint started within these days: new, and its change in percent says nothing
    assert.equal("new", states["GET api/v2/conversations/callbacks"])
    for k = 1, 7 do
      assert.equal(interval.date(days.first_day + k - 1), v.daily[k].date)
      assert.equal(interval.date(prev.first_day + k - 1), v.daily[k].previousDate)
    end
  end)

  it("says which client is new and which is gone (a weekday-only client, Saturday against Friday)", function()
    local today = interval.day_of(os.time())
    local sat = today - 1
    while (sat + 3) % 7 ~= 5 do sat = sat - 1 end -- (day 0, 1 January 1970, was a Thursday: 3)
    local cur, prev = interval.days_of(sat, sat), interval.days_of(sat - 1, sat - 1)
    local cur_raw, prev_raw = raw(fake, cur), raw(fake, prev)
    local gone
    for id in pairs(prev_raw.clients) do
      if figure(cur_raw.clients, id, "requests") == 0 and figure(prev_raw.clients, id, "requests") > 0 then gone = id end
    end
    assert.truthy(gone, "the fake has no weekday-only client")
    local v = json.decode(ok(t:run { "report", "--from", cur.first, "--to", cur.first, "--compare", "previous-period",
                                     "--top", "1000", "--format", "json" }).out)
    local found
    for _, c in ipairs(v.clients) do
      if c.oauthClientId == gone then found = c end
    end
    assert.is_table(found, gone)
    assert.equal("gone", found.state)
    assert.equal(0, found.current.requests)
    assert.equal(-found.previous.requests, found.change.requests)
    -- the table says it in words, and the other way round (Monday against Sunday) it is new
    local r = ok(t:run { "report", "--from", cur.first, "--to", cur.first, "--compare", "previous-period", "--top", "1000" })
    local name = prev_raw.names[gone]
    local line
    for _, l in ipairs(lines_of(r.out)) do
      if l:find(name, 1, true) and l:find(gone, 1, true) then line = line or l end
    end
    assert.truthy(line and line:find("%sgone%s"), line)
    local mon = sat + 2
    if mon < today then
      v = json.decode(ok(t:run { "report", "--from", interval.date(mon), "--to", interval.date(mon), "--compare",
                                 "previous-period", "--top", "1000", "--format", "json" }).out)
      for _, c in ipairs(v.clients) do
        if c.oauthClientId == gone then assert.equal("new", c.state) end
      end
    end
  end)

  it("writes a comparison in every format, each naming both periods' days", function()
    local days = usage.interval.days(7)
    local prev = interval.previous_period(days)
    -- table
    local r = ok(t:run { "report", "--last", "7d", "--compare", "previous-period", "--top", "3" })
    local ls = lines_of(r.out)
    assert.equal("Genesys Cloud API usage, " .. days.label .. " (7 days) against " .. prev.label ..
                 " (7 days) (the previous period) (UTC)", ls[1])
    assert.truthy(ls[2]:find("^Requests [%d,]+ against [%d,]+: [+-][%d,]+"), ls[2])
    assert.truthy(r.out:find("Top 3 OAuth clients by requests, against the previous period", 1, true))
    assert.truthy(r.out:find("requests   previous", 1, true))
    -- CSV: both periods' days on each day record; the days on stderr
    local csv = t:path("cmp.csv")
    r = ok(t:run { "report", "--last", "7d", "--compare", "previous-period", "--top", "3", "--output", csv, "--verbose" })
    ls = lines_of(read_file(csv))
    assert.equal(COMPARE_COLUMNS, ls[1])
    local sections, day_lines = {}, {}
    for i = 2, #ls do
      local s = ls[i]:match("^([%w_]+),")
      sections[s] = (sections[s] or 0) + 1
      if s == "day" then day_lines[#day_lines + 1] = ls[i] end
    end
    assert.same({ total = 1, client = 3, endpoint = 3, pair = 3, day = 7 }, sections)
    assert.equal("day,," .. days.first .. "," .. prev.first .. ",", day_lines[1]:sub(1, 27))
    assert.truthy(r.err:find(prev.label, 1, true), r.err)
    -- NDJSON: one object a line, the same records
    r = ok(t:run { "report", "--last", "7d", "--compare", "previous-period", "--top", "3", "--format", "ndjson" })
    ls = lines_of(r.out)
    assert.equal(17, #ls)
    local first = json.decode(ls[1])
    assert.equal("total", first.section)
    assert.equal(first.requests - first.previousRequests, first.change)
    local last = json.decode(ls[#ls])
    assert.equal(days.last, last.date)
    assert.equal(prev.last, last.previousDate)
    -- SVG: both periods, solid and dashed
    local svg = t:path("cmp.svg")
    ok(t:run { "report", "--last", "7d", "--compare", "previous-period", "--top", "3", "--output", svg })
    local s = read_file(svg)
    assert.truthy(s:find("solid: " .. days.label, 1, true))
    assert.truthy(s:find("dashed: " .. prev.label, 1, true))
    -- HTML, as Chromium reads it
    local html = t:path("cmp.html")
    ok(t:run { "report", "--last", "7d", "--compare", "previous-period", "--top", "4", "--output", html })
    local dom = dom_of(html)
    assert.truthy(dom:find("<h1>Genesys Cloud API usage, " .. days.label .. " (7 days) against " .. prev.label, 1, true))
    assert.equal(4, count(dom:match('<table id="clients">.-<tbody>(.-)</tbody>'), "<tr>"))
    assert.equal(4, count(dom, 'stroke%-dasharray="6 4"'))
    assert.truthy(dom:find("against the previous period", 1, true))
  end)

  it("refuses the previous year the API no longer serves, before any job: its days, and --store", function()
    local days = usage.interval.days(7)
    local before = interval.previous_year(days)
    local mark = log_mark()
    local r = t:run { "report", "--last", "7d", "--compare", "previous-year" }
    assert.equal(2, r.code, support.show(r))
    assert.equal("", r.out)
    assert.truthy(r.err:find(before.label, 1, true), r.err)
    assert.truthy(r.err:find("starts before the year the Usage API serves", 1, true), r.err)
    assert.truthy(r.err:find("--store PATH|URL", 1, true), r.err)
    assert.truthy(r.err:find("sync", 1, true), r.err)
    assert.is_nil(r.err:find("store:sync", 1, true), r.err) -- (the command line's words, not the library's)
    assert.equal(0, submits_since(mark))
    -- --dry-run says the same, and shows both jobs of a comparison it can run
    r = t:run { "report", "--last", "7d", "--compare", "previous-year", "--dry-run" }
    assert.equal(2, r.code, support.show(r))
    assert.truthy(r.err:find("--store PATH|URL", 1, true), r.err)
    r = ok(t:run { "report", "--last", "7d", "--compare", "previous-period", "--dry-run" })
    assert.equal(2, count(r.out, "POST /api/v2/usage/aggregates/query/jobs"))
    assert.truthy(r.out:find('"interval":"' .. interval.previous_period(days).first .. "T00:00:00Z/", 1, true), r.out)
    assert.equal(0, submits_since(mark))
    -- and a previous period that reaches past the year, the same
    r = t:run { "report", "--last", "300d", "--compare", "previous-period" }
    assert.equal(2, r.code, support.show(r))
    assert.truthy(r.err:find("the previous period", 1, true), r.err)
  end)

  it("reports several orgs in one run: the consolidated view, --by org, in every format", function()
    local days = usage.interval.days(7)
    local want = raw(fake, days)
    -- (both profiles read the fake's home org: each org's figures are the raw records', the total twice)
    local v = json.decode(ok(t:run { "report", "--profile", "acme", "--profile", "globex", "--by", "org", "--last", "7d",
                                     "--top", "3", "--format", "json" }).out)
    assert.is_true(v.byOrg)
    assert.equal(2, #v.orgs)
    local labels = {}
    for i, o in ipairs(v.orgs) do
      labels[i] = o.org
      assert.equal(want.total.requests, o.totals.requests)
      assert.equal(7, o.days)
      assert.equal(7, o.covered)
      assert.equal(3, #o.clients)
      assert.equal(7, #o.daily)
    end
    table.sort(labels)
    assert.same({ "acme", "globex" }, labels)
    assert.equal(2 * want.total.requests, v.totals.requests)
    for _, c in ipairs(v.clients) do assert.truthy(c.org == "acme" or c.org == "globex") end
    -- the consolidated view without --by: every client and pair with its org
    local csv = t:path("orgs.csv")
    ok(t:run { "report", "--all-profiles", "--last", "7d", "--top", "3", "--output", csv })
    local ls = lines_of(read_file(csv))
    assert.equal("section,rank,org,date,oauthClientId,oauthClientName,httpMethod,templateUri,requests,share," ..
                 "status429,ratio429,status500,ratio5xx", ls[1])
    assert.truthy(ls[2]:find("^client,1,acme,") or ls[2]:find("^client,1,globex,"), ls[2])
    -- the table: the orgs, then each org's clients
    local r = ok(t:run { "report", "--all-profiles", "--by", "org", "--last", "7d", "--top", "2" })
    assert.truthy(r.out:find("in 2 orgs", 1, true))
    assert.truthy(r.out:find("Top 2 orgs by requests", 1, true))
    assert.truthy(r.out:find("Top 2 OAuth clients of acme by requests", 1, true))
    assert.truthy(r.out:find("Top 2 OAuth clients of globex by requests", 1, true))
    -- NDJSON sections
    r = ok(t:run { "report", "--all-profiles", "--by", "org", "--last", "7d", "--top", "2", "--format", "ndjson" })
    local sections = {}
    for _, l in ipairs(lines_of(r.out)) do
      local rec = json.decode(l)
      sections[rec.section] = (sections[rec.section] or 0) + 1
    end
    assert.equal(2, sections.org)
    assert.equal(4, sections.org_client)
    assert.equal(14, sections.org_day)
    -- a comparison by org
    v = json.decode(ok(t:run { "report", "--all-profiles", "--by", "org", "--compare", "previous-period", "--last", "7d",
                               "--top", "2", "--format", "json" }).out)
    local prev = raw(fake, interval.previous_period(days))
    assert.equal(2, #v.orgs)
    for _, o in ipairs(v.orgs) do
      assert.equal(want.total.requests - prev.total.requests, o.change.requests)
      assert.equal(2, #o.clients)
    end
    -- the HTML page, as Chromium reads it, and the SVG of the orgs
    local html = t:path("orgs.html")
    ok(t:run { "report", "--all-profiles", "--by", "org", "--last", "7d", "--top", "3", "--output", html })
    local dom = dom_of(html)
    assert.equal(2, count(dom:match('<table id="orgs">.-<tbody>(.-)</tbody>'), "<tr>"))
    assert.equal(3, count(dom:match('<table id="org%-clients%-2">.-<tbody>(.-)</tbody>'), "<tr>"))
    local svg = t:path("orgs.svg")
    ok(t:run { "report", "--all-profiles", "--by", "org", "--last", "7d", "--output", svg })
    assert.truthy(read_file(svg):find(">org (requests)</text>", 1, true))
    -- one org of a run is labelled by --org; --org with several profiles is a usage error
    v = json.decode(ok(t:run { "report", "--org", "Acme EMEA", "--by", "org", "--last", "7d", "--format", "json" }).out)
    assert.equal("Acme EMEA", v.orgs[1].org)
    r = t:run { "report", "--org", "x", "--all-profiles", "--last", "7d" }
    assert.equal(2, r.code, support.show(r))
  end)

  it("answers on the 1st of a month (no whole day yet): an empty report, the forecast; a comparison refused", function()
    local first = os.date("!%Y-%m-01 10:00:00")
    local r = ok(t:run({ "report", "--all-profiles", "--by", "org", "--this-month" }, { faketime = first }))
    assert.truthy(r.out:find("no complete day yet (UTC): 0 requests", 1, true), r.out)
    assert.truthy(r.out:find("(no usage in these days)", 1, true))
    local html = t:path("first.html")
    ok(t:run({ "report", "--this-month", "--licenses", "cx3=1000", "--output", html }, { faketime = first }))
    local page = read_file(html)
    assert.truthy(page:find('<section id="forecast">', 1, true))
    assert.truthy(page:find('<tr id="forecast-month-to-date"><th>month to date</th><td class="n">0</td>', 1, true))
    r = t:run({ "report", "--this-month", "--compare", "previous-period" }, { faketime = first })
    assert.equal(2, r.code, support.show(r))
    assert.truthy(r.err:find("there is nothing to compare", 1, true), r.err)
  end)

  it("adds the fair-use forecast to the HTML page: month to date, projection, band, allowance (Chromium)", function()
    local html = t:path("forecast.html")
    ok(t:run { "report", "--last", "7d", "--licenses", "cx3=1000", "--output", html })
    local client = H.client(fake)
    local fc = assert(forecast.from_api(client, { allowance = assert(forecast.allowance { licenses = "cx3=1000" }),
                                                  org = "default" }))
    client:close()
    local dom = dom_of(html)
    local section = dom:match('<section id="forecast">(.-)</section>')
    assert.truthy(section, "no forecast section")
    local function cell(id)
      return section:match('<tr id="forecast%-' .. id:gsub("%-", "%%-") .. '">.-<td class="n">(.-)</td>')
    end
    assert.equal("140,000,000", cell("allowance"))
    assert.equal(text.thousands(fc.month_to_date.requests), cell("month-to-date"))
    if fc.projection then
      assert.equal(text.thousands(fc.projection.requests), cell("projection"))
      assert.equal(1, count(section, '<polygon class="band"') + (fc.projection.band and 0 or 1))
    end
    assert.equal(1, count(section, '<g class="hline"'))
    assert.truthy(section:find('data-series="month-to-date"', 1, true))
    assert.truthy(section:find("allowance (140M)", 1, true))
    -- the report itself is still there, before it
    assert.truthy(dom:find('<table id="clients">', 1, true))
    -- two orgs, two allowances: a section each, ids that stay unique
    ok(t:run { "report", "--all-profiles", "--last", "7d", "--allowance", "acme=140000000", "--allowance",
               "globex=75000000", "--output", html })
    dom = dom_of(html)
    assert.truthy(dom:find('<section id="forecast">', 1, true))
    assert.truthy(dom:find('<section id="forecast-2">', 1, true))
    assert.equal(1, count(dom, 'id="forecast%-allowance"'))
    assert.truthy(dom:find('<tr id="forecast%-2%-allowance">.-75,000,000'))
    -- a format without the page is a usage error, as is an org without an allowance
    local r = t:run { "report", "--last", "7d", "--allowance", "140000000" }
    assert.equal(2, r.code, support.show(r))
    assert.truthy(r.err:find("HTML page", 1, true), r.err)
    r = t:run { "report", "--all-profiles", "--last", "7d", "--allowance", "acme=1000", "--output", html }
    assert.equal(2, r.code, support.show(r))
    assert.truthy(r.err:find("no allowance for org globex", 1, true), r.err)
  end)

  describe("--compare over the API: both periods at once", function()
    -- (proved from the fake's request log, not from timings; the same run with usage.gather one function
    -- after the other, support.cli.sequential, is the order before the periods ran together)
    local sequential
    setup(function() sequential = support.sequential(t) end)
    local function since(mark)
      local out = {}
      for _, e in ipairs(fake:log()) do if e.seq > mark then out[#out + 1] = e end end
      return out
    end

    local days = interval.days(14)
    local spans = { this = days, previous = interval.previous_period(days) }

    it("submits every job of both periods before either period's last page is read (the fake's log)", function()
      local args = { "report", "--last", "14d", "--compare", "previous-period", "--page-size", "500", "--verbose",
                     "--format", "json" }
      local mark = log_mark()
      local r = ok(t:run(args))
      local log = by_period(since(mark), r, spans)
      assert.equal(1, #log.this.submits, show_log(log))
      assert.equal(1, #log.previous.submits, show_log(log))
      assert(#log.this.reads >= 2 and #log.previous.reads >= 2, show_log(log))
      assert(together(log), "the periods ran one after the other: " .. show_log(log) .. "\n" .. support.show(r))
      -- the check can fail: the same run, sequential, reads this period to its end before submitting the other
      mark = log_mark()
      local s = ok(t:run(args, { script = sequential }))
      local slog = by_period(since(mark), s, spans)
      assert(not together(slog), "the sequential run looks concurrent: " .. show_log(slog))
      assert(max_of(slog.this.reads) < slog.previous.submits[1], show_log(slog))
    end)

    it("submits both orgs' jobs of both periods together (--all-profiles --by org)", function()
      local args = { "report", "--all-profiles", "--by", "org", "--last", "14d", "--compare", "previous-period",
                     "--page-size", "500", "--verbose", "--format", "json" }
      local mark = log_mark()
      local r = ok(t:run(args))
      local log = by_period(since(mark), r, spans)
      assert.equal(2, #log.this.submits, show_log(log))
      assert.equal(2, #log.previous.submits, show_log(log))
      assert(together(log), show_log(log) .. "\n" .. support.show(r))
      -- each job's note names its org and its period
      for _, org in ipairs { "acme", "globex" } do
        for _, p in ipairs { "this period", "the previous period" } do
          assert.truthy(r.err:find("org " .. org .. ", " .. p .. ": job ", 1, true), r.err)
        end
      end
    end)

    it("writes the same bytes as the sequential run, in every format, one org and two", function()
      for _, orgs in ipairs { {}, { "--all-profiles", "--by", "org" } } do
        for _, fmt in ipairs(FORMATS) do
          local args = { "report", "--last", "14d", "--compare", "previous-period", "--top", "5", "--format", fmt }
          for _, a in ipairs(orgs) do args[#args + 1] = a end
          local a = ok(t:run(args))
          local b = ok(t:run(args, { script = sequential }))
          assert(#a.out > 200, support.show(a))
          assert(a.out == b.out, fmt .. " " .. table.concat(orgs, " ") .. ": the outputs differ\n" .. support.show(a) ..
                 "\n" .. support.show(b))
          assert.equal(b.err, a.err)
        end
      end
    end)

    it("draws one progress line that names both periods (and both orgs)", function()
      local r = ok(t:run({ "report", "--last", "14d", "--compare", "previous-period", "--format", "csv" },
                         { env = { GENESYS_USAGE_PROGRESS = "1" } }))
      assert.truthy(r.err:find("report: this period %a+, the previous period %a+  polls %d+  pages %d+  rows [%d,]+"),
                    r.err)
      assert.truthy(r.err:find("this period: job %S+ started"), r.err)
      assert.truthy(r.err:find("the previous period: job %S+ started"), r.err)
      r = ok(t:run({ "report", "--all-profiles", "--last", "14d", "--compare", "previous-period", "--format", "csv" },
                   { env = { GENESYS_USAGE_PROGRESS = "1" } }))
      for _, name in ipairs { "acme this period", "acme the previous period", "globex this period",
                              "globex the previous period" } do
        assert.truthy(r.err:find(name .. " %a+"), r.err)
      end
    end)
  end)
end)

for _, B in ipairs(stores.backends()) do
  describe("genesys-usage report --store (" .. B.name .. ")", function()
    local fake, t, target
    local NOW = os.time()
    local T = interval.day_of(NOW)
    local function date(d) return interval.date(d) end

    setup(function()
      B:start()
      fake = H.start { config = { lifecycle = { polls = 0 } } }
      t = support.new { base_url = fake.base_url }
      -- (validate = false: the first sync asks for days of a year ago, as the service answered them then)
      local client = H.client(fake, { validate = false })
      target = B:target("report")
      local s = assert(store.open(target))
      fake:config { today = date(T - 365) }
      assert(s:sync(client, { org = "default", now = NOW - 365 * DAY, first = date(T - 400) }))
      fake:config { today = false }
      assert(s:sync(client, { org = "default", first = date(T - 40) }))
      -- an org of hostile names: a client that stops, one that starts, a day missing in this period
      local function row(d, id, name, n)
        return { date = date(d), oauthClient = { id = id, name = name }, templateUri = "api/v2/users/{userId}",
                 httpMethod = "GET", requestCount = n, status200 = n - 1, status300 = 0, status400 = 1,
                 status429 = 1, status500 = 0 }
      end
      local GONE, NEW = '=HYPERLINK("http://evil.example/x","click")', "@SUM(1+1)\27[31mred\7\r\nline2"
      assert(s:put("hostile", date(T - 6), date(T - 4), { row(T - 6, "c-gone", GONE, 10), row(T - 5, "c-gone", GONE, 20),
                                                          row(T - 4, "c-both", "+cmd|' /C calc'!A0", 5) }))
      assert(s:put("hostile", date(T - 3), date(T - 3), { row(T - 3, "c-new", NEW, 7), row(T - 3, "c-both", "-2+3", 6) }))
      assert(s:put("hostile", date(T - 1), date(T - 1), { row(T - 1, "c-new", NEW, 8) }))
      s:close()
      client:close()
    end)
    teardown(function()
      if t then t:cleanup() end
      if fake then fake:stop() end
      B:stop()
    end)

    it("gives the same report as the API for the days both hold, in every format", function()
      for _, fmt in ipairs { "table", "csv", "json", "ndjson", "svg" } do
        local from_store = ok(t:run { "report", "--store", target, "--org", "default", "--last", "30d", "--top", "5",
                                      "--format", fmt })
        local from_api = ok(t:run { "report", "--last", "30d", "--top", "5", "--format", fmt })
        if fmt == "json" then -- (the store's adds what it holds of each org: orgs, notes, byOrg)
          local a, b = json.decode(from_api.out), json.decode(from_store.out)
          assert.same({ { org = "default", days = 30, covered = 30, missing = {} } }, b.orgs)
          b.orgs, b.notes, b.byOrg = nil, nil, nil
          assert.same(a, b)
        else
          assert.equal(from_api.out, from_store.out, fmt)
        end
      end
      -- (a comparison of the last 14 days: both periods within the days the store holds)
      local v = json.decode(ok(t:run { "report", "--store", target, "--org", "default", "--last", "14d", "--compare",
                                       "previous-period", "--format", "json" }).out)
      local w = json.decode(ok(t:run { "report", "--last", "14d", "--compare", "previous-period", "--format",
                                       "json" }).out)
      assert.same(w.totals, v.totals)
      assert.same(w.clients, v.clients)
    end)

    it("reads a span past the API's year, and compares with the previous year from the store", function()
      local span = interval.days_of(T - 400, T - 366)
      local want = raw(fake, span)
      local v = json.decode(ok(t:run { "report", "--store", target, "--org", "default", "--from", span.first, "--to",
                                       span.last, "--format", "json" }).out)
      assert.equal(span.label, v.days.label)
      assert.is_true(v.days.complete)
      assert.equal(want.total.requests, v.totals.requests)
      assert.equal(want.total.status429, v.totals.status429)
      -- the API cannot: a usage error before any job
      local r = t:run { "report", "--from", span.first, "--to", span.last }
      assert.equal(2, r.code, support.show(r))
      -- the previous year of the last 30 days, from the store
      local days = interval.days_of(T - 30, T - 1)
      local before = interval.previous_year(days)
      v = json.decode(ok(t:run { "report", "--store", target, "--org", "default", "--last", "30d", "--compare",
                                 "previous-year", "--top", "1000", "--format", "json" }).out)
      assert.equal("previous-year", v.compare)
      assert.equal(before.label, v.previousDays.label)
      assert.is_true(v.complete)
      local cur_raw, prev_raw = raw(fake, days), raw(fake, before)
      assert.equal(cur_raw.total.requests, v.totals.current.requests)
      assert.equal(prev_raw.total.requests, v.totals.previous.requests)
      for _, c in ipairs(v.clients) do
        assert.equal(figure(cur_raw.clients, c.oauthClientId, "requests") -
                     figure(prev_raw.clients, c.oauthClientId, "requests"), c.change.requests)
      end
      -- the store's orgs: all of them by default, an org it does not hold is a usage error naming them
      v = json.decode(ok(t:run { "report", "--store", target, "--last", "7d", "--by", "org", "--format", "json" }).out)
      local labels = {}
      for i, o in ipairs(v.orgs) do labels[i] = o.org end
      table.sort(labels)
      assert.same({ "default", "hostile" }, labels)
      r = t:run { "report", "--store", target, "--org", "initech", "--last", "7d" }
      assert.equal(2, r.code, support.show(r))
      assert.truthy(r.err:find("holds no org initech (it holds: default, hostile)", 1, true), r.err)
    end)

    it("draws the forecast from the store: its month to date is the API's", function()
      local html = t:path("store-forecast.html")
      ok(t:run { "report", "--store", target, "--org", "default", "--last", "7d", "--licenses", "cx3=1000",
                 "--output", html })
      local client = H.client(fake)
      local fc = assert(forecast.from_api(client, { allowance = assert(forecast.allowance { licenses = "cx3=1000" }),
                                                    org = "default" }))
      client:close()
      local page = read_file(html)
      assert.truthy(page:find('<section id="forecast">', 1, true))
      assert.truthy(page:find('<tr id="forecast-month-to-date"><th>month to date</th><td class="n">' ..
                              text.thousands(fc.month_to_date.requests) .. "</td>", 1, true))
      assert.truthy(page:find('<tr id="forecast-allowance"><th>allowance</th><td class="n">140,000,000</td>', 1, true))
    end)

    it("says the day a period lacks and neutralises hostile names (CSV, table, JSON)", function()
      local args = { "report", "--store", target, "--org", "hostile", "--from", date(T - 3), "--to", date(T - 1),
                     "--compare", "previous-period" }
      local function run(fmt)
        local a = {}
        for i, x in ipairs(args) do a[i] = x end
        a[#a + 1], a[#a + 2] = "--format", fmt
        return ok(t:run(a))
      end
      local v = json.decode(run("json").out)
      assert.is_false(v.complete)
      assert.same({ date(T - 2) }, v.days.missing)
      assert.is_true(v.previousDays.complete)
      local states = {}
      for _, c in ipairs(v.clients) do states[c.oauthClientId] = c end
      assert.equal("gone", states["c-gone"].state)
      assert.equal(-30, states["c-gone"].change.requests)
      assert.equal("new", states["c-new"].state)
      assert.equal(15, states["c-new"].current.requests)
      assert.equal("both", states["c-both"].state)
      assert.equal(6 - 5, states["c-both"].change.requests)
      -- CSV: formulas start with ', no control character, the missing day as a record
      local csv = run("csv").out
      assert.is_nil(csv:find("[%z\1-\9\11\12\14-\31\127]"))
      assert.truthy(csv:find(",\"'=HYPERLINK(\"\"http://evil.example/x\"\",\"\"click\"\")\",", 1, true), csv)
      assert.truthy(csv:find(",\"'@SUM(1+1)\239\191\189[31mred\239\191\189\r\nline2\",", 1, true), csv)
      assert.truthy(csv:find(",'+cmd|' /C calc'!A0,", 1, true) or csv:find(",\"'+cmd|' /C calc'!A0\",", 1, true), csv)
      assert.truthy(csv:find(",'-2+3,", 1, true), csv) -- (its current name; the previous one beside it)
      assert.truthy(csv:find("\r\nmissing_day,,," .. date(T - 2) .. ",", 1, true) or
                    csv:find("\r\nmissing_day,," .. date(T - 2) .. ",", 1, true), csv)
      -- the raw CSV keeps the formulas (for a program), still without a control character
      local raw_csv = ok(t:run { "report", "--store", target, "--org", "hostile", "--from", date(T - 3), "--to",
                                 date(T - 1), "--compare", "previous-period", "--format", "csv", "--raw-csv" }).out
      assert.truthy(raw_csv:find(",\"@SUM(1+1)", 1, true), raw_csv)
      assert.is_nil(raw_csv:find("[%z\1-\9\11\12\14-\31\127]"))
      -- the table: the missing day said, gone and new in words, no control character
      local out = run("table").out
      assert.is_nil(out:find("[%z\1-\9\11-\31\127]"))
      assert.truthy(out:find("this period, missing days: " .. history_label(date(T - 2)) .. " not in the source", 1, true),
                    out)
      assert.truthy(out:find("%sgone%s"))
      assert.truthy(out:find("%snew%s"))
      -- NDJSON: each line is JSON, with the missing day
      local found
      for _, l in ipairs(lines_of(run("ndjson").out)) do
        local rec = json.decode(l)
        if rec.section == "missing_day" then found = rec.date end
      end
      assert.equal(date(T - 2), found)
    end)
  end)
end
