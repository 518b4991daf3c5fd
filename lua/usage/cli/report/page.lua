-- usage.cli.report.page: the report as one self-contained HTML page (no scripts, no external resources):
-- the title with the days, the totals, the status-class panel (2xx/3xx/4xx/429/5xx shares, as the admin
-- UI's API Usage view shows them), the chart (usage.cli.report.chart) and the tables of the top clients,
-- endpoints and client x endpoint pairs, with the same cells as the table format (usage.cli.report.aggregate.display).
-- Every text goes through usage.base.sanitize.xml (valid UTF-8, no character XML forbids, controls and BIDI
-- overrides shown).

local text = require "usage.base.text"
local aggregate = require "usage.cli.report.aggregate"
local chart = require "usage.cli.report.chart"

local M = {}

local format, concat = string.format, table.concat
local esc = chart.xml_escape

local STYLE = "body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#222}" ..
  "table{border-collapse:collapse;margin:8px 0 24px}th,td{padding:3px 10px;border-bottom:1px solid #ddd;" ..
  "text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}" ..
  ".classes{display:flex;gap:12px;margin:12px 0 20px}.class{border:1px solid #ddd;border-radius:4px;padding:8px 14px}" ..
  ".class b{display:block;font-size:20px}.bar{height:6px;background:#1f77b4;margin-top:6px}"

local function html_table(id, headers, rows, numeric)
  numeric = numeric or aggregate.NUMERIC
  local out = { format('<table id="%s"><thead><tr>', id) }
  for _, h in ipairs(headers) do out[#out + 1] = "<th>" .. esc(h) .. "</th>" end
  out[#out + 1] = "</tr></thead><tbody>\n"
  for _, row in ipairs(rows) do
    out[#out + 1] = "<tr>"
    for i, cell in ipairs(row) do
      out[#out + 1] = (numeric[i] and '<td class="n">' or "<td>") .. esc(cell) .. "</td>"
    end
    out[#out + 1] = "</tr>\n"
  end
  out[#out + 1] = "</tbody></table>\n"
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

-- html(r, d, opts) -> text. opts: title (with the days), days_label, scale, chart
function M.html(r, d, opts)
  local svg = chart.svg(r, { days_label = opts.days_label, scale = opts.scale, chart = opts.chart }):gsub("^<%?xml[^\n]*\n", "")
  local by = chart.WHAT[r.rank_by]
  local function section(kind, rows)
    if r.only then return format("Top %s with %s, by %s", kind, chart.WHAT[r.only], by) end
    return "Top " .. kind .. " by " .. by
  end
  return concat {
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>', esc(opts.title), "</title>\n",
    "<style>", STYLE, "</style></head><body>\n",
    "<h1>", esc(opts.title), "</h1>\n",
    '<p id="summary">', esc(format("%s requests by %s OAuth clients on %s endpoints.", text.thousands(r.total.requests),
      text.thousands(r.client_count), text.thousands(r.endpoint_count))), "</p>\n",
    "<h2>Status classes</h2>\n", panel(r, d),
    svg,
    "<h2>", esc(section("OAuth clients", d.clients)), "</h2>\n", html_table("clients", aggregate.CLIENT_HEADERS, d.clients),
    "<h2>", esc(section("endpoints", d.endpoints)), "</h2>\n", html_table("endpoints", aggregate.ENDPOINT_HEADERS, d.endpoints),
    "<h2>", esc(section("client x endpoint pairs", d.pairs or {})), "</h2>\n",
    html_table("pairs", aggregate.PAIR_HEADERS, d.pairs or {}, aggregate.PAIR_NUMERIC),
    "</body></html>\n",
  }
end

return M
