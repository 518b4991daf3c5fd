-- The report's HTML page as a real browser (headless Chromium) lays it out: the forecast's chart (issue 21:
-- the month to date by day, the projection with its band, the allowance line, labelled with its days) with
-- the numbers usage.forecast gives; a comparison's chart of both periods; the org view. A measuring script
-- is added to a copy of each page (the page itself has none) and writes what the browser laid out into the
-- DOM that --dump-dom prints: every drawn element inside its SVG's view box, no page wider than the window,
-- no figure cut off.

local usage = require "usage"
local history = require "usage.history"
local forecast = require "usage.forecast"
local interval = require "usage.base.interval"
local aggregate = require "usage.cli.report.aggregate"
local rcompare = require "usage.cli.report.compare"
local page = require "usage.cli.report.page"
local text = require "usage.base.text"
local nginx = require "support.nginx"
local H = require "helper"
local cjson = require("cjson").new()

local MEASURE = [[
<script>
(function () {
  var out = { svgs: [], overflow: [], clipped: [] };
  document.querySelectorAll('svg').forEach(function (svg, i) {
    var vb = svg.viewBox.baseVal;
    var s = { id: svg.closest('section') ? svg.closest('section').id : '', width: vb.width, height: vb.height,
              series: {}, dashed: 0, bands: svg.querySelectorAll('polygon.band').length,
              hlines: svg.querySelectorAll('g.hline').length, markers: svg.querySelectorAll('g.marker').length,
              last: {} };
    // (screen boxes: transforms such as the rotated axis title applied)
    var box = svg.getBoundingClientRect();
    svg.querySelectorAll('text, line, polyline, polygon, circle, rect').forEach(function (el) {
      var b = el.getBoundingClientRect();
      if (b.left < box.left - 0.5 || b.top < box.top - 0.5 || b.right > box.right + 0.5 || b.bottom > box.bottom + 0.5) {
        out.overflow.push('svg ' + i + ' ' + el.tagName + ' "' + (el.textContent || '').slice(0, 60) + '" ' +
                          [b.left - box.left, b.top - box.top, b.width, b.height].join(','));
      }
    });
    svg.querySelectorAll('g.series').forEach(function (g) {
      var name = g.getAttribute('data-series') || ('s' + Object.keys(s.series).length);
      var circles = g.querySelectorAll('circle');
      s.series[name] = circles.length;
      if (circles.length) s.last[name] = circles[circles.length - 1].textContent;
      if (g.querySelector('polyline[stroke-dasharray]')) s.dashed++;
    });
    s.texts = Array.prototype.map.call(svg.querySelectorAll('text'), function (t) { return t.textContent; });
    out.svgs.push(s);
  });
  var root = document.documentElement;
  out.page = { scroll: root.scrollWidth, client: root.clientWidth };
  document.querySelectorAll('td, th, h1, h2, h3, p').forEach(function (el) {
    if (el.scrollWidth > el.clientWidth + 1 && !el.closest('.wide')) out.clipped.push(el.textContent.slice(0, 80));
  });
  var figures = {};
  document.querySelectorAll('#forecast-figures tr[id]').forEach(function (tr) {
    figures[tr.id] = Array.prototype.map.call(tr.querySelectorAll('td'), function (td) { return td.textContent; });
  });
  out.figures = figures;
  var pre = document.createElement('pre');
  pre.id = 'measured';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
]]

-- the DOM of a page as headless Chromium lays it out, and what the measuring script saw
local function browse(html)
  assert(nginx.run("command -v chromium >/dev/null 2>&1"), "chromium is not installed (Debian package chromium)")
  assert.is_nil(html:find("<script", 1, true), "the page itself has a script")
  local dir = nginx.temp_dir("usage-history-page")
  local path = dir .. "/page.html"
  nginx.write_file(path, (html:gsub("</body></html>", MEASURE .. "</body></html>")))
  local out = dir .. "/dom.html"
  local ran = nginx.run("timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run " ..
    "--disable-background-networking --disable-component-update --disable-sync --window-size=1280,2000 " ..
    "--user-data-dir=" .. nginx.sh_quote(dir .. "/profile") .. " --dump-dom " .. nginx.sh_quote("file://" .. path) ..
    " >" .. nginx.sh_quote(out) .. " 2>" .. nginx.sh_quote(dir .. "/stderr"))
  local dom, err = nginx.read_file(out) or "", nginx.read_file(dir .. "/stderr") or ""
  nginx.remove_dir(dir)
  assert(ran and dom:find("</html>", 1, true), "chromium failed:\n" .. nginx.tail(err, 20))
  local json = dom:match('<pre id="measured">(.-)</pre>')
  assert(json, "the measuring script did not run:\n" .. nginx.tail(err, 20))
  json = json:gsub("&quot;", '"'):gsub("&lt;", "<"):gsub("&gt;", ">"):gsub("&#39;", "'"):gsub("&amp;", "&")
  return dom, cjson.decode(json)
end

local function laid_out(m)
  assert.same({}, m.overflow, "drawn outside its SVG")
  assert.same({}, m.clipped, "text cut off")
  assert.is_true(m.page.scroll <= m.page.client, "the page is wider than the window: " .. m.page.scroll)
end

describe("the report's page in headless Chromium", function()
  local fake, client
  setup(function()
    fake = H.start { config = { lifecycle = { polls = 0 } } }
    client = H.client(fake)
  end)
  teardown(function() if fake then fake:stop() end end)

  it("shows the forecast: month to date, projection and band, allowance, the numbers of usage.forecast", function()
    local allowance = assert(forecast.allowance { licenses = "cx3=1000" })
    local fc = assert(forecast.from_api(client, { allowance = allowance, org = "acme" }))
    local days = assert(usage.interval.days(30))
    local res = assert(history.from_api(client, { org = "acme" }):read { days = days })
    local r = aggregate.rank(aggregate.from_history(res), { top = 5 })
    local title = "Genesys Cloud API usage, " .. days.label
    local dom, m = browse(page.html(r, aggregate.display(r), { title = title, days_label = days.label, forecast = fc }))
    laid_out(m)
    assert.truthy(dom:find('<section id="forecast">', 1, true))
    assert.truthy(dom:find("Fair-use forecast, " .. fc.month.name, 1, true))
    -- the figures beside the chart are the forecast's
    local f = m.figures
    assert.equal(text.thousands(fc.allowance.requests), f["forecast-allowance"][1])
    assert.equal(text.thousands(fc.month_to_date.requests), f["forecast-month-to-date"][1])
    assert.equal(fc.month_to_date.days.count > 0 and fc.month_to_date.days.label or
                 ("no whole day of " .. fc.month.name .. " yet"), f["forecast-month-to-date"][3])
    assert.equal(text.thousands(fc.projection.requests), f["forecast-projection"][1])
    if fc.projection.band then
      assert.equal(text.thousands(fc.projection.band.low) .. " - " .. text.thousands(fc.projection.band.high),
                   f["forecast-band"][1])
    end
    -- the chart: its series, band, allowance line and today's marker, labelled with the days
    local chart
    for _, s in ipairs(m.svgs) do if s.id == "forecast" then chart = s end end
    assert.is_table(chart, "no chart in the forecast's section")
    assert.equal(fc.month_to_date.days.count, chart.series["month-to-date"])
    assert.is_true(chart.series.projection > 0)
    assert.equal(1, chart.hlines)
    assert.equal(fc.projection.band and 1 or 0, chart.bands)
    assert.equal(1, chart.markers)
    assert.truthy(chart.last.projection:find(text.thousands(fc.projection.requests) .. " requests projected", 1, true),
                  chart.last.projection)
    if fc.month_to_date.days.count > 0 then
      assert.truthy(chart.last["month-to-date"]:find(text.thousands(fc.month_to_date.requests) .. " requests counted", 1, true))
    end
    local all = table.concat(chart.texts, "\n")
    assert.truthy(all:find("today, " .. fc.today.label .. ", not counted", 1, true))
    assert.truthy(all:find("allowance (140M)", 1, true))
  end)

  it("(the measure itself sees a drawing outside its SVG, a cut cell and a page too wide)", function()
    local html = '<!DOCTYPE html>\n<html><head><style>td{max-width:40px;overflow:hidden;white-space:nowrap}</style>' ..
      '</head><body><svg width="100" height="50" viewBox="0 0 100 50"><text x="90" y="20">far too long a text</text>' ..
      '</svg><table><tr><td>a cell much wider than forty pixels</td></tr></table><div style="width:3000px">x</div>' ..
      '</body></html>'
    local _, m = browse(html)
    assert.equal(1, #m.overflow)
    assert.equal(1, #m.clipped)
    assert.is_true(m.page.scroll > m.page.client)
  end)

  it("shows a comparison: both periods' days, each client's two lines", function()
    local src = history.from_api(client, { org = "acme" })
    local cmp = assert(src:compare { days = assert(usage.interval.days(14)), compare = "previous-period" })
    local r = rcompare.rank(cmp, { top = 5 })
    local dom, m = browse(page.html(r, rcompare.display(r), {}))
    laid_out(m)
    assert.truthy(dom:find("<h1>Genesys Cloud API usage, " .. cmp.current.label, 1, true))
    assert.truthy(dom:find(cmp.previous.label, 1, true))
    local chart = m.svgs[1]
    assert.equal(5, chart.dashed) -- one dashed line (the previous period) per client
    local n = 0
    for _ in pairs(chart.series) do n = n + 1 end
    assert.equal(10, n)
    local all = table.concat(chart.texts, "\n")
    assert.truthy(all:find("solid: " .. cmp.current.label, 1, true))
    assert.truthy(all:find("dashed: " .. cmp.previous.label, 1, true))
    assert.truthy(all:find(cmp.previous.first:sub(6), 1, true)) -- the previous period's dates under the axis
  end)

  it("shows the org view: the orgs, and each org's top clients", function()
    local c2 = H.client(fake, { client_id = H.clients.org_viewer.id, client_secret = H.clients.org_viewer.secret })
    local src = history.from_api({ { client = client, org = "acme" }, { client = c2, org = "globex" } })
    local days = assert(usage.interval.days(7))
    local res = assert(src:read { days = days })
    local r = aggregate.rank(aggregate.from_history(res), { top = 4, by_org = true })
    local dom, m = browse(page.html(r, aggregate.display(r), { title = "usage, " .. days.label, days_label = days.label }))
    laid_out(m)
    local orgs = dom:match('<table id="orgs">(.-)</table>')
    assert.truthy(orgs, "no table of orgs")
    assert.equal(2, select(2, orgs:gsub("<tr>", "")) - 1)
    for i = 1, 2 do
      local t = dom:match('<table id="org%-clients%-' .. i .. '">(.-)</table>')
      assert.truthy(t)
      assert.equal(4, select(2, t:match("<tbody>(.-)</tbody>"):gsub("<tr>", "")))
    end
    assert.truthy(dom:find("in 2 orgs", 1, true))
    assert.equal(2, (function() local k = 0 for _ in pairs(m.svgs[1].series) do k = k + 1 end return k end)())
  end)
end)
