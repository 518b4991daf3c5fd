-- genesys-usage report answers "who causes our 429s" (issue #14): rankings by requests, 429 and 5xx
-- checked against the fake's raw records, absolute counts beside the ratios, the status-class panel,
-- the daily series in JSON and CSV, the chart of the figure asked for, the days in every title, and the
-- HTML page as a real browser (headless Chromium) reads it.

local H = require "helper"
local nginx = require "support.nginx"
local support = require "support.cli"
local usage = require "usage"
local json = require "usage.base.json"
local aggregate = require "usage.cli.report.aggregate"
local page = require "usage.cli.report.page"
local chart = require "usage.cli.report.chart"

local read_file = nginx.read_file

local function lines_of(s)
  local out = {}
  for line in s:gmatch("([^\n]*)\n") do out[#out + 1] = (line:gsub("\r$", "")) end
  return out
end

-- the DOM of an HTML file as headless Chromium builds it (fails, not skips, without Chromium)
local function dom_of(path)
  local exe = nginx.run("command -v chromium >/dev/null 2>&1")
  assert(exe, "chromium is not installed: `make deps` installs it (Debian package chromium)")
  local profile = nginx.temp_dir("usage-chromium")
  local out = profile .. "/dom.html"
  local cmd = "timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run " ..
              "--disable-background-networking --disable-component-update --disable-sync --user-data-dir=" ..
              nginx.sh_quote(profile) .. " --dump-dom " .. nginx.sh_quote("file://" .. path) .. " >" ..
              nginx.sh_quote(out) .. " 2>" .. nginx.sh_quote(profile .. "/stderr")
  local ran = nginx.run(cmd)
  local dom, err = read_file(out) or "", read_file(profile .. "/stderr") or ""
  nginx.remove_dir(profile)
  assert(ran and dom:find("</html>", 1, true), "chromium failed:\n" .. nginx.tail(err, 20))
  return dom
end

local function count(s, pattern) return select(2, s:gsub(pattern, "")) end

describe("genesys-usage report", function()
  local fake, t
  local days = usage.interval.days(7)

  local fixture = support.with_fake()
  setup(function() fake, t = fixture.start() end)
  teardown(fixture.stop)

  local ok = support.ok

  -- the fake's raw records of the days, summed per client and per endpoint
  local function raw()
    local clients, endpoints, total = {}, {}, { requests = 0, status429 = 0, status500 = 0 }
    for _, rec in ipairs(fake:data(days.first, days.last)) do
      local c = clients[rec.clientId] or { id = rec.clientId, name = rec.clientName, requests = 0, status429 = 0, status500 = 0 }
      local k = rec.httpMethod .. " " .. rec.templateUri
      local e = endpoints[k] or { requests = 0, status429 = 0, status500 = 0 }
      for _, f in ipairs { "requests", "status429", "status500" } do
        c[f], e[f], total[f] = c[f] + rec[f], e[f] + rec[f], total[f] + rec[f]
      end
      clients[rec.clientId], endpoints[k] = c, e
    end
    return clients, endpoints, total
  end

  for _, rank in ipairs { { "requests", "requests" }, { "429", "status429" }, { "5xx", "status500" } } do
    it("ranks clients and endpoints by " .. rank[1] .. " as the raw records do (JSON)", function()
      local clients, endpoints, total = raw()
      local r = ok(t:run { "report", "--last", "7d", "--top", "5", "--rank-by", rank[1], "--format", "json" })
      local v = json.decode(r.out)
      assert.equal(rank[1], v.rankBy)
      assert.equal(days.label, v.days.label)
      assert.equal(total.requests, v.totals.requests)
      assert.equal(total.status429, v.totals.status429)
      assert.equal(5, #v.clients)
      local sorted = {}
      for _, c in pairs(clients) do sorted[#sorted + 1] = c end
      table.sort(sorted, function(a, b) return a[rank[2]] > b[rank[2]] end)
      for i, c in ipairs(v.clients) do
        assert.equal(i, c.rank)
        -- the i-th figure of the raw ranking (clients with equal figures may come in either order), and
        -- the figures of this very client
        assert.equal(sorted[i][rank[2]], c[rank[2]])
        local raw_c = clients[c.oauthClientId]
        assert.is_table(raw_c, c.oauthClientId)
        assert.equal(raw_c.requests, c.requests)
        assert.equal(raw_c.status429, c.status429)
        assert.equal(raw_c.status500, c.status500)
        assert.near(raw_c.status429 / raw_c.requests, c.ratio429, 1e-6)
        assert.equal(7, #c.daily)
        local sum = 0
        for k, d in ipairs(c.daily) do
          assert.equal(usage.interval.date(days.first_day + k - 1), d.date)
          sum = sum + d[rank[2] == "requests" and "requests" or rank[2]]
        end
        assert.equal(c[rank[2] == "requests" and "requests" or rank[2]], sum)
        if i > 1 then assert.is_true(v.clients[i - 1][rank[2]] >= c[rank[2]]) end
      end
      assert.is_true(#v.endpoints > 0)
      for i, e in ipairs(v.endpoints) do
        assert.equal(endpoints[e.httpMethod .. " " .. e.templateUri].requests, e.requests)
        if i > 1 then assert.is_true(v.endpoints[i - 1][rank[2]] >= e[rank[2]]) end
      end
      assert.equal(7, #v.daily)
      local shares = 0
      for _, c in ipairs(v.statusClasses) do
        if c.class ~= "429" then shares = shares + c.share end
      end
      assert.near(1, shares, 1e-4) -- 2xx+3xx+4xx+5xx (429 is part of 4xx)
    end)
  end

  it("prints the days, the status classes and the 429 and 5xx counts beside the ratios (table)", function()
    local r = ok(t:run { "report", "--last", "7d", "--top", "3", "--rank-by", "429" })
    local ls = lines_of(r.out)
    local title = "Genesys Cloud API usage, " .. days.label .. " (UTC): "
    assert.equal(title, ls[1]:sub(1, #title))
    assert.truthy(ls[1]:find("^[%d,]+ requests by %d+ OAuth clients", #title + 1), ls[1])
    assert.truthy(ls[2]:find("^Status classes: 2xx [%d.]+%% %([%d,]+%)  3xx"), ls[2])
    assert.truthy(r.out:find("Top 3 OAuth clients by 429 responses", 1, true))
    assert.truthy(r.out:find("#  OAuth client", 1, true))
    for _, h in ipairs { "requests", "share", "429", "429 ratio", "5xx", "5xx ratio" } do
      assert.truthy(r.out:find("  " .. h, 1, true), h)
    end
  end)

  it("writes the records and the daily series as CSV", function()
    local r = ok(t:run { "report", "--last", "7d", "--top", "3", "--output", t:path("r.csv"), "--quiet" })
    local ls = lines_of(read_file(t:path("r.csv")))
    assert.equal("section,rank,date,oauthClientId,oauthClientName,httpMethod,templateUri,requests,share," ..
                 "status429,ratio429,status500,ratio5xx", ls[1])
    local sections = {}
    for i = 2, #ls do
      local s = ls[i]:match("^([%w_]+),")
      sections[s] = (sections[s] or 0) + 1
    end
    assert.same({ client = 3, endpoint = 3, pair = 3, day = 7, client_day = 21 }, sections)
    assert.equal("", r.out)
  end)

  it("charts the figure asked for, infers SVG and HTML from --output, writes side files atomically", function()
    local svg = t:path("c.svg")
    ok(t:run { "report", "--last", "7d", "--chart", "5xx", "--output", svg, "--quiet" })
    local s = read_file(svg)
    assert.truthy(s:find("^<%?xml"))
    assert.truthy(s:find("5xx responses per day", 1, true))
    assert.truthy(s:find(days.label, 1, true))
    local html, side = t:path("p.html"), t:path("side.svg")
    local r = ok(t:run { "report", "--last", "7d", "--rank-by", "429", "--output", html, "--svg", side, "--verbose" })
    assert.truthy(read_file(html):find("^<!DOCTYPE html>"))
    assert.truthy(read_file(side):find("429 responses per day", 1, true)) -- the chart follows --rank-by
    assert.truthy(r.err:find("chart written to " .. side, 1, true), r.err)
    assert.equal(0, #support.temp_files(t.dir))
  end)

  it("says so when the days have no usage", function()
    fake:config { result_rows = 0 }
    local okr, r = pcall(t.run, t, { "report", "--last", "7d" })
    fake:config { result_rows = false }
    assert.is_true(okr, tostring(r))
    ok(r)
    assert.equal(3, count(r.out, "%(no usage in these days%)")) -- clients, endpoints, pairs
  end)

  it("makes an HTML page that headless Chromium reads as intended", function()
    local path = t:path("report.html")
    ok(t:run { "report", "--last", "7d", "--top", "4", "--rank-by", "429", "--output", path, "--quiet" })
    local dom = dom_of(path)
    assert.truthy(dom:find("<h1>Genesys Cloud API usage, " .. days.label .. "</h1>", 1, true))
    local clients = dom:match('<table id="clients">(.-)</table>')
    assert.truthy(clients, "no clients table")
    assert.equal(4, count(clients:match("<tbody>(.-)</tbody>"), "<tr>"))
    assert.equal(5, count(dom:match('<div class="classes" id="status%-classes">(.-)\n') or "", 'class="class"'))
    assert.equal(4, count(dom, "<polyline"))
    assert.truthy(dom:find("Top OAuth clients by 429 responses", 1, true))
    assert.is_nil(dom:find("<script", 1, true))
  end)

  it("escapes hostile names: Chromium sees text, not elements", function()
    local agg = aggregate.new()
    local evil = '</td><script>alert(1)</script><img src=x onerror=alert(2)>"\'&'
    aggregate.add_row(agg, { date = "2026-01-01", requestCount = 10, status429 = 3,
                             oauthClient = { id = evil, name = evil }, httpMethod = evil, templateUri = evil })
    local r = aggregate.rank(agg, { top = 5, days = { "2026-01-01" } })
    local path = t:path("evil.html")
    nginx.write_file(path, page.html(r, aggregate.display(r), { title = evil, days_label = evil }))
    local dom = dom_of(path)
    assert.is_nil(dom:find("<script", 1, true))
    assert.is_nil(dom:find("<img", 1, true))
    assert.truthy(dom:find("&lt;/td&gt;&lt;script&gt;", 1, true))
    assert.equal("A &amp; B &lt;x&gt; &quot;q&quot; &#39;s&#39;", chart.xml_escape("A & B <x> \"q\" 's'"))
  end)
end)
