-- usage.cli.report.page: the report as one self-contained HTML page (no scripts, no external resources):
-- the title with the days, the totals, the status-class panel (2xx/3xx/4xx/429/5xx shares, as the admin
-- UI's API Usage view shows them), the chart (usage.cli.report.chart) and the tables of the top clients,
-- endpoints and client x endpoint pairs, with the same cells as the table format (usage.cli.report.aggregate.display).
-- Every text goes through usage.base.sanitize.xml (valid UTF-8, no character XML forbids, controls and BIDI
-- overrides shown).
-- Over usage.history: the days the source lacks are said under the summary (and shaded on the chart), the
-- tables have an org column when the report covers several orgs, and the org view (r.orgs) lists the orgs
-- and each org's top clients. A comparison (usage.cli.report.compare) gets its own title with both periods,
-- the changes in the summary, the status classes of both, the chart of both and the change columns.
-- opts.forecast (a usage.forecast result) adds the forecast's figures and chart (usage.cli.report.forecast).

local text = require "usage.base.text"
local aggregate = require "usage.cli.report.aggregate"
local chart = require "usage.cli.report.chart"
local rformats = require "usage.cli.report.formats"
local rcompare = require "usage.cli.report.compare"
local fchart = require "usage.cli.report.forecast"

local M = {}

local format, concat = string.format, table.concat
local esc = chart.xml_escape

local STYLE = "body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#222}" ..
  "table{border-collapse:collapse;margin:8px 0 24px}th,td{padding:3px 10px;border-bottom:1px solid #ddd;" ..
  "text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}" ..
  ".classes{display:flex;gap:12px;margin:12px 0 20px}.class{border:1px solid #ddd;border-radius:4px;padding:8px 14px}" ..
  ".class b{display:block;font-size:20px}.bar{height:6px;background:#1f77b4;margin-top:6px}" ..
  ".missing{color:#a04000}#forecast-figures th{text-align:left}svg{max-width:100%;height:auto}" ..
  ".wide{overflow-x:auto;max-width:100%}td.n{white-space:nowrap}"

local function html_table(id, headers, rows, numeric)
  numeric = numeric or aggregate.NUMERIC
  local out = { format('<div class="wide"><table id="%s"><thead><tr>', id) }
  for _, h in ipairs(headers) do out[#out + 1] = "<th>" .. esc(h) .. "</th>" end
  out[#out + 1] = "</tr></thead><tbody>\n"
  for _, row in ipairs(rows) do
    out[#out + 1] = "<tr>"
    for i, cell in ipairs(row) do
      out[#out + 1] = (numeric[i] and '<td class="n">' or "<td>") .. esc(cell) .. "</td>"
    end
    out[#out + 1] = "</tr>\n"
  end
  out[#out + 1] = "</tbody></table></div>\n"
  return concat(out)
end

-- the width of a share's bar: 1 to 120 pixels (a share that is no number, or beyond 0..1, stays inside)
local function bar_width(share)
  if not text.finite(share) or share < 0 then return 1 end
  return math.max(1, math.min(share, 1) * 120)
end

local function panel(r, d)
  local out = { '<div class="classes" id="status-classes">' }
  for i, c in ipairs(d.classes) do
    out[#out + 1] = format('<div class="class" data-class="%s">%s<b>%s</b>%s responses<div class="bar" style="width:%.0fpx">' ..
                           '</div></div>', esc(c.name), esc(c.name), esc(c.share), esc(c.count),
                           bar_width(r.classes[i].share))
  end
  out[#out + 1] = "</div>\n<p>429 responses are part of 4xx.</p>\n"
  return concat(out)
end

local function missing_html(lines)
  if #lines == 0 then return "" end
  local out = { '<div id="missing">' }
  for _, l in ipairs(lines) do out[#out + 1] = '<p class="missing">' .. esc(l) .. "</p>" end
  out[#out + 1] = "</div>\n"
  return concat(out)
end

-- the forecast's sections: opts.forecast (one result of usage.forecast) or opts.forecasts (one per org: the
-- ids of the second and later sections end in -2, -3, ...)
local function forecast_html(opts)
  local list = opts.forecasts or { opts.forecast }
  local out = {}
  for i, f in ipairs(list) do out[i] = (fchart.section(f, { id = i == 1 and "forecast" or ("forecast-" .. i) })) end
  return concat(out)
end

local compare_html -- (below: the page of a comparison)

-- html(r, d, opts) -> text. opts: title (with the days), days_label, scale, chart, forecast (a result of
-- usage.forecast: its figures and chart are added) or forecasts (several, one per org)
function M.html(r, d, opts)
  if r.kind == "compare" then return compare_html(r, d, opts) end
  local svg = chart.svg(r, { days_label = opts.days_label, scale = opts.scale, chart = opts.chart }):gsub("^<%?xml[^\n]*\n", "")
  local by = chart.WHAT[r.rank_by]
  local function section(kind, rows)
    if r.only then return format("Top %s with %s, by %s", kind, chart.WHAT[r.only], by) end
    return "Top " .. kind .. " by " .. by
  end
  local orgs = (r.org_column and r.org_count and r.org_count > 1) and format(" in %s orgs", text.thousands(r.org_count)) or ""
  local body = {}
  if d.orgs then
    body[#body + 1] = "<h2>" .. esc(section("orgs", d.orgs)) .. "</h2>\n"
    body[#body + 1] = html_table("orgs", aggregate.ORG_HEADERS, d.orgs, aggregate.ORGS_NUMERIC)
    for i, o in ipairs(d.org_sections) do
      local classes = {}
      for k, c in ipairs(o.classes) do classes[k] = format("%s %s", c.name, c.share) end
      body[#body + 1] = format('<h3>%s</h3>\n<p class="org-summary">%s</p>\n', esc(o.org),
        esc(format("%s requests; status classes: %s", text.thousands(o.figures.requests), concat(classes, ", "))))
      body[#body + 1] = html_table("org-clients-" .. i, aggregate.CLIENT_HEADERS, o.clients)
    end
  else
    body[#body + 1] = "<h2>" .. esc(section("OAuth clients", d.clients)) .. "</h2>\n"
    body[#body + 1] = html_table("clients", d.client_headers or aggregate.CLIENT_HEADERS, d.clients, d.client_numeric)
  end
  return concat {
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>', esc(opts.title), "</title>\n",
    "<style>", STYLE, "</style></head><body>\n",
    "<h1>", esc(opts.title), "</h1>\n",
    '<p id="summary">', esc(format("%s requests by %s OAuth clients on %s endpoints%s.", text.thousands(r.total.requests),
      text.thousands(r.client_count), text.thousands(r.endpoint_count), orgs)), "</p>\n",
    missing_html(rformats.missing_lines(r.history)),
    "<h2>Status classes</h2>\n", panel(r, d),
    svg,
    forecast_html(opts),
    concat(body),
    "<h2>", esc(section("endpoints", d.endpoints)), "</h2>\n", html_table("endpoints", aggregate.ENDPOINT_HEADERS, d.endpoints),
    "<h2>", esc(section("client x endpoint pairs", d.pairs or {})), "</h2>\n",
    html_table("pairs", d.pair_headers or aggregate.PAIR_HEADERS, d.pairs or {}, d.pair_numeric or aggregate.PAIR_NUMERIC),
    "</body></html>\n",
  }
end

-- the status classes of both periods: this period's share, the other's, the change in points
local function compare_panel(r, d)
  local out = { '<div class="classes" id="status-classes">' }
  for i, c in ipairs(d.classes) do
    out[#out + 1] = format('<div class="class" data-class="%s">%s<b>%s</b>was %s (%s)<br>%s responses, was %s' ..
                           '<div class="bar" style="width:%.0fpx"></div></div>', esc(c.name), esc(c.name), esc(c.share),
                           esc(c.previous_share), esc(c.points), esc(c.current), esc(c.previous),
                           bar_width(r.classes[i].share_current or 0))
  end
  out[#out + 1] = "</div>\n<p>429 responses are part of 4xx.</p>\n"
  return concat(out)
end

compare_html = function(r, d, opts)
  opts = opts or {}
  local title = rformats.compare_title(r)
  local svg = chart.svg(r, { scale = opts.scale, chart = opts.chart }):gsub("^<%?xml[^\n]*\n", "")
  local by = chart.WHAT[r.rank_by]
  local function section(kind)
    local s = r.only and format("Top %s with %s, by %s", kind, chart.WHAT[r.only], by) or ("Top " .. kind .. " by " .. by)
    return s .. ", against " .. r.how_words
  end
  local t = r.total
  local missing = rformats.missing_lines(r.current, "this period")
  for _, l in ipairs(rformats.missing_lines(r.previous, r.how_words)) do missing[#missing + 1] = l end
  if t.state == "unknown" then missing[#missing + 1] = "No day of one of the periods is in the source: there is nothing to compare." end
  local body = {}
  if d.orgs then
    body[#body + 1] = "<h2>" .. esc(section("orgs")) .. "</h2>\n"
    body[#body + 1] = html_table("orgs", d.org_headers, d.orgs, d.org_numeric)
    for i, o in ipairs(d.org_sections) do
      body[#body + 1] = format('<h3>%s</h3>\n<p class="org-summary">%s</p>\n', esc(o.org),
                               esc("requests " .. rformats.change_words(o.figures, "requests")))
      body[#body + 1] = html_table("org-clients-" .. i, d.org_client_headers, o.clients, d.org_client_numeric)
    end
  else
    body[#body + 1] = "<h2>" .. esc(section("OAuth clients")) .. "</h2>\n"
    body[#body + 1] = html_table("clients", d.client_headers, d.clients, d.client_numeric)
  end
  return concat {
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>', esc(title), "</title>\n",
    "<style>", STYLE, "</style></head><body>\n",
    "<h1>", esc(title), "</h1>\n",
    '<p id="summary">', esc(format("Requests %s; 429 %s; 5xx %s. OAuth clients %s against %s; endpoints %s against %s.",
      rformats.change_words(t, "requests"), rformats.change_words(t, "status429"), rformats.change_words(t, "status500"),
      text.thousands(r.counts.current.clients), text.thousands(r.counts.previous.clients),
      text.thousands(r.counts.current.endpoints), text.thousands(r.counts.previous.endpoints))), "</p>\n",
    missing_html(missing),
    "<h2>Status classes</h2>\n", compare_panel(r, d),
    svg,
    forecast_html(opts),
    concat(body),
    "<h2>", esc(section("endpoints")), "</h2>\n", html_table("endpoints", d.endpoint_headers, d.endpoints, d.endpoint_numeric),
    "<h2>", esc(section("client x endpoint pairs")), "</h2>\n", html_table("pairs", d.pair_headers, d.pairs, d.pair_numeric),
    "</body></html>\n",
  }
end

return M
