-- usage.report: the `genesys-usage report` command: who spends the API quota.
-- Two aggregates jobs run concurrently (usage.gather), both by day over the same interval and filters:
--   clients:   groupBy OauthClientId, OauthClientName  -> totals and a daily series per OAuth client
--   endpoints: groupBy TemplateUri, HttpMethod         -> totals per endpoint
-- Rows are folded into sums as pages arrive (memory grows with clients x days and endpoints, not rows).
-- Output: the top N of each as a table, csv, json or ndjson; optionally a self-contained SVG chart
-- of daily requests per top client (lines, no scripts, no external resources) or an HTML page.

local models = require "usage.models"
local interval_mod = require "usage.interval"
local json = require "usage.json"
local output = require "usage.cli_output"

local M = {}

local format, concat, floor = string.format, table.concat, math.floor
local number_text = output.number_text

---------------------------------------------------------------------------------------------------
-- aggregation

local function new_totals()
  return { requests = 0, status200 = 0, status300 = 0, status400 = 0, status429 = 0, status500 = 0 }
end

-- the totals kept and the row field (OrganizationPublicApiUsage) each one adds up
local COUNTS = { requests = "requestCount", status200 = "status200", status300 = "status300",
                 status400 = "status400", status429 = "status429", status500 = "status500" }

local function add_counts(t, row)
  for k, field in pairs(COUNTS) do
    local v = row[field]
    if type(v) == "number" then t[k] = t[k] + v end
  end
end

function M.new_aggregate()
  return { clients = {}, endpoints = {}, days = {}, total = new_totals() }
end

-- fold one row of the clients job
function M.add_client_row(agg, row)
  local c = type(row.oauthClient) == "table" and row.oauthClient or {}
  local id = type(c.id) == "string" and c.id or ""
  local name = type(c.name) == "string" and c.name or ""
  local key = id ~= "" and id or ("name:" .. name)
  local entry = agg.clients[key]
  if not entry then
    entry = new_totals()
    entry.id, entry.name, entry.daily = id, name, {}
    agg.clients[key] = entry
  end
  if entry.name == "" and name ~= "" then entry.name = name end
  add_counts(entry, row)
  add_counts(agg.total, row)
  local day = type(row.date) == "string" and row.date:sub(1, 10) or nil
  if day then
    local n = type(row.requestCount) == "number" and row.requestCount or 0
    entry.daily[day] = (entry.daily[day] or 0) + n
    agg.days[day] = true
  end
end

-- fold one row of the endpoints job
function M.add_endpoint_row(agg, row)
  local method = type(row.httpMethod) == "string" and row.httpMethod or ""
  local uri = type(row.templateUri) == "string" and row.templateUri or ""
  local key = method .. " " .. uri
  local entry = agg.endpoints[key]
  if not entry then
    entry = new_totals()
    entry.method, entry.uri = method, uri
    agg.endpoints[key] = entry
  end
  add_counts(entry, row)
end

local function ratio(part, whole)
  if whole == 0 then return 0 end
  return part / whole
end

-- ranked lists: requests descending, then by name
function M.rank(agg, top)
  local clients, endpoints = {}, {}
  for _, c in pairs(agg.clients) do clients[#clients + 1] = c end
  for _, e in pairs(agg.endpoints) do endpoints[#endpoints + 1] = e end
  table.sort(clients, function(a, b)
    if a.requests ~= b.requests then return a.requests > b.requests end
    if a.name ~= b.name then return a.name < b.name end
    return a.id < b.id
  end)
  table.sort(endpoints, function(a, b)
    if a.requests ~= b.requests then return a.requests > b.requests end
    if a.uri ~= b.uri then return a.uri < b.uri end
    return a.method < b.method
  end)
  local total = agg.total.requests
  local out = { total = agg.total, client_count = #clients, endpoint_count = #endpoints, clients = {}, endpoints = {} }
  for i = 1, math.min(top, #clients) do
    local c = clients[i]
    out.clients[i] = { rank = i, id = c.id, name = c.name, requests = c.requests, status429 = c.status429,
                       status500 = c.status500, share = ratio(c.requests, total),
                       ratio429 = ratio(c.status429, c.requests), ratio5xx = ratio(c.status500, c.requests),
                       daily = c.daily }
  end
  for i = 1, math.min(top, #endpoints) do
    local e = endpoints[i]
    out.endpoints[i] = { rank = i, method = e.method, templateUri = e.uri, requests = e.requests,
                         status429 = e.status429, status500 = e.status500, share = ratio(e.requests, total),
                         ratio429 = ratio(e.status429, e.requests), ratio5xx = ratio(e.status500, e.requests) }
  end
  local days = {}
  for d in pairs(agg.days) do days[#days + 1] = d end
  table.sort(days)
  out.days = days
  return out
end

---------------------------------------------------------------------------------------------------
-- the jobs

local function copy(t)
  local out = {}
  for k, v in pairs(t) do
    if type(v) == "table" then
      local c = {}
      for i, x in ipairs(v) do c[i] = x end
      out[k] = c
    else
      out[k] = v
    end
  end
  return out
end

-- the bodies of the two jobs: the caller's interval and filters plus grouping by day
function M.bodies(body)
  local metrics = {}
  for i, m in ipairs(models.enums.aggregate_metrics) do metrics[i] = m end
  local clients = copy(body)
  clients.granularity, clients.metrics, clients.groupBy = "Day", metrics, { "OauthClientId", "OauthClientName" }
  local endpoints = copy(body)
  endpoints.granularity, endpoints.metrics, endpoints.groupBy = "Day", metrics, { "TemplateUri", "HttpMethod" }
  return clients, endpoints
end

-- collect(ctx) -> aggregate | nil, err
function M.collect(ctx)
  local client, usage = ctx.client, ctx.usage
  local agg = M.new_aggregate()
  local clients_body, endpoints_body = M.bodies(ctx.body)
  local status = ctx.status
  local progress = { clients = {}, endpoints = {} }
  local t0 = ctx.now and ctx.now() or 0
  local function draw()
    if not (status and status.progress_on) then return end
    local c, e = progress.clients, progress.endpoints
    status:draw(format("report: clients %s, endpoints %s  polls %d  pages %d  rows %d  %.1fs",
      tostring(c.state or "submitting"), tostring(e.state or "submitting"), (c.polls or 0) + (e.polls or 0),
      (c.pages or 0) + (e.pages or 0), (c.rows or 0) + (e.rows or 0), ctx.now() - t0))
  end
  local function job(name, body, fold)
    return function()
      local pager = client:aggregates(body, {
        page_size = ctx.page_size,
        on_progress = function(s) progress[name] = s; draw() end,
      })
      while true do
        local page, err = pager:next_page()
        if page == nil then return nil, err end
        if page == false then return true end
        for i = 1, #page do fold(agg, page[i]) end
      end
    end
  end
  local results, errs = usage.gather {
    job("clients", clients_body, M.add_client_row),
    job("endpoints", endpoints_body, M.add_endpoint_row),
  }
  if status then status:done() end
  for i = 1, 2 do
    if not results[i] then return nil, errs[i] end
  end
  return agg
end

---------------------------------------------------------------------------------------------------
-- text formats

local function percent(x)
  if x > 0 and x < 0.00005 then return "<0.01%" end
  return format("%.2f%%", x * 100)
end

local function fraction(x)
  return tonumber(format("%.6f", x))
end

-- the rows of csv and ndjson: one record per ranked client or endpoint
local CSV_COLUMNS = { "section", "rank", "oauthClient.id", "oauthClient.name", "httpMethod", "templateUri",
                      "requests", "share", "status429", "ratio429", "status500", "ratio5xx" }

local function records(r)
  local out = {}
  for _, c in ipairs(r.clients) do
    out[#out + 1] = { section = "client", rank = c.rank, oauthClient = { id = c.id, name = c.name },
                      requests = c.requests, share = fraction(c.share), status429 = c.status429,
                      ratio429 = fraction(c.ratio429), status500 = c.status500, ratio5xx = fraction(c.ratio5xx) }
  end
  for _, e in ipairs(r.endpoints) do
    out[#out + 1] = { section = "endpoint", rank = e.rank, httpMethod = e.method, templateUri = e.templateUri,
                      requests = e.requests, share = fraction(e.share), status429 = e.status429,
                      ratio429 = fraction(e.ratio429), status500 = e.status500, ratio5xx = fraction(e.ratio5xx) }
  end
  return out
end

local function csv_text(r)
  local lines = { output.csv_line(CSV_COLUMNS) }
  for _, rec in ipairs(records(r)) do
    local cells = {}
    for i, col in ipairs(CSV_COLUMNS) do
      local a, b = col:match("^([^.]+)%.(.+)$")
      local v
      if a then v = type(rec[a]) == "table" and rec[a][b] or nil else v = rec[col] end
      if type(v) == "number" and (col == "share" or col:match("^ratio")) then
        cells[i] = format("%.6f", v)
      else
        cells[i] = output.cell_text(v)
      end
    end
    lines[#lines + 1] = output.csv_line(cells)
  end
  return concat(lines)
end

local function json_value(r, interval_text)
  local recs = records(r)
  local clients, endpoints = json.array(), json.array()
  for _, rec in ipairs(recs) do
    local section = rec.section
    rec.section = nil
    if section == "client" then clients[#clients + 1] = rec else endpoints[#endpoints + 1] = rec end
  end
  return {
    interval = interval_text,
    totals = { requests = r.total.requests, status429 = r.total.status429, status500 = r.total.status500,
               oauthClients = r.client_count, endpoints = r.endpoint_count },
    topClients = clients,
    topEndpoints = endpoints,
  }
end

local function table_text(r, interval_text, top)
  local out = {}
  out[#out + 1] = format("API usage %s: %s requests (429: %s, 5xx: %s) by %d OAuth client%s on %d endpoint%s",
    interval_text, number_text(r.total.requests), percent(ratio(r.total.status429, r.total.requests)),
    percent(ratio(r.total.status500, r.total.requests)), r.client_count, r.client_count == 1 and "" or "s",
    r.endpoint_count, r.endpoint_count == 1 and "" or "s")
  out[#out + 1] = ""
  out[#out + 1] = format("Top %d OAuth clients by requests", math.min(top, r.client_count))
  local rows = {}
  for i, c in ipairs(r.clients) do
    rows[i] = { tostring(c.rank), (c.name:gsub("%c", " ")), c.id, number_text(c.requests), percent(c.share),
                percent(c.ratio429), percent(c.ratio5xx) }
  end
  local align = { "right", nil, nil, "right", "right", "right", "right" }
  local function add_table(headers)
    if #rows == 0 then
      out[#out + 1] = "(no usage in this interval)"
      return
    end
    for _, l in ipairs(output.render(headers, rows, align)) do out[#out + 1] = l end
  end
  add_table { "#", "OAuth client", "client id", "requests", "share", "429 ratio", "5xx ratio" }
  out[#out + 1] = ""
  out[#out + 1] = format("Top %d endpoints by requests", math.min(top, r.endpoint_count))
  rows = {}
  for i, e in ipairs(r.endpoints) do
    rows[i] = { tostring(e.rank), e.method, (e.templateUri:gsub("%c", " ")), number_text(e.requests),
                percent(e.share), percent(e.ratio429), percent(e.ratio5xx) }
  end
  add_table { "#", "method", "templateUri", "requests", "share", "429 ratio", "5xx ratio" }
  return concat(out, "\n") .. "\n"
end

---------------------------------------------------------------------------------------------------
-- the chart

local function xml_escape(s)
  s = tostring(s):gsub("[%z\1-\8\11\12\14-\31]", "")
  return (s:gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }))
end
M.xml_escape = xml_escape

local PALETTE = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                  "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173" }

-- 1234567 -> "1.2M"
local function short_number(v)
  local units = { { 1e12, "T" }, { 1e9, "G" }, { 1e6, "M" }, { 1e3, "K" } }
  for _, u in ipairs(units) do
    if v >= u[1] then
      local x = v / u[1]
      local text = x >= 100 and format("%.0f", x) or (x == floor(x) and format("%.0f", x) or format("%.1f", x))
      return text .. u[2]
    end
  end
  if v == floor(v) then return format("%.0f", v) end
  return format("%.2g", v)
end
M.short_number = short_number

local function nice_step(range, ticks)
  local raw = range / ticks
  local mag = 10 ^ floor(math.log(raw, 10))
  for _, m in ipairs { 1, 2, 5, 10 } do
    if raw <= m * mag then return m * mag end
  end
  return 10 * mag
end

-- all days from the first to the last (yyyy-MM-dd), filling gaps
local function day_range(days, interval_text)
  local first, last
  local a, b = interval_mod.parse(interval_text or "")
  if a then
    first = floor(a / 86400)
    last = floor(((b > a) and (b - 1) or b) / 86400)
    local _, bt = interval_text:match("^([^/]+)/([^/]+)$")
    if bt and not bt:find("T") then last = floor(b / 86400) end -- a date-only end is inclusive
  end
  for _, d in ipairs(days) do
    local t = interval_mod.parse_instant(d)
    if t then
      local n = floor(t / 86400)
      if not first or n < first then first = n end
      if not last or n > last then last = n end
    end
  end
  local out = {}
  if not first then return out end
  if last - first > 400 then first = last - 400 end
  for n = first, last do out[#out + 1] = interval_mod.format(n * 86400, true) end
  return out
end

-- svg(r, opts) -> text. opts: interval (text), scale ("auto"|"linear"|"log"), title
function M.svg(r, opts)
  opts = opts or {}
  local days = day_range(r.days, opts.interval)
  local series = r.clients
  local W, H = 980, 520
  local left, right, top, bottom = 78, 270, 56, 64
  local pw, ph = W - left - right, H - top - bottom
  local maxv, minpeak, maxpeak, minv = 0, nil, 0, nil
  for _, c in ipairs(series) do
    local peak = 0
    for _, d in ipairs(days) do
      local v = c.daily[d] or 0
      if v > peak then peak = v end
      if v > 0 and (not minv or v < minv) then minv = v end
    end
    if peak > maxv then maxv = peak end
    if peak > 0 and (not minpeak or peak < minpeak) then minpeak = peak end
    if peak > maxpeak then maxpeak = peak end
  end
  local scale = opts.scale or "auto"
  if scale == "auto" then scale = (minpeak and maxpeak / minpeak > 100) and "log" or "linear" end

  local ymap, ticks = nil, {}
  if scale == "log" then
    local lo = 0
    if minv then lo = floor(math.log(minv, 10)) end
    local hi = math.max(lo + 1, math.ceil(math.log(math.max(maxv, 10), 10)))
    ymap = function(v)
      local l = v > 0 and math.log(v, 10) or lo
      if l < lo then l = lo end
      return top + ph - (l - lo) / (hi - lo) * ph
    end
    local step = math.max(1, math.ceil((hi - lo) / 8))
    for e = lo, hi, step do ticks[#ticks + 1] = 10 ^ e end
  else
    local hi = maxv > 0 and maxv or 1
    local step = nice_step(hi, 5)
    local top_tick = math.ceil(hi / step) * step
    ymap = function(v) return top + ph - v / top_tick * ph end
    local v = 0
    while v <= top_tick + step / 2 do
      ticks[#ticks + 1] = v
      v = v + step
    end
  end
  local n = #days
  local function xmap(i)
    if n <= 1 then return left + pw / 2 end
    return left + (i - 1) / (n - 1) * pw
  end

  local out = {}
  local function add(...) out[#out + 1] = concat({ ... }) end
  local title = opts.title or format("Daily API requests of the top %d OAuth clients", #series)
  add('<?xml version="1.0" encoding="UTF-8"?>\n')
  add(format('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" ' ..
             'font-family="Helvetica, Arial, sans-serif" font-size="12">\n', W, H, W, H))
  add("<title>", xml_escape(title), "</title>\n")
  add(format('<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>\n', W, H))
  add(format('<text x="%d" y="24" font-size="16" font-weight="bold">%s</text>\n', left, xml_escape(title)))
  if opts.interval then
    add(format('<text x="%d" y="42" fill="#555555">%s (UTC), %s scale</text>\n', left,
               xml_escape(opts.interval), scale))
  end
  -- grid and y axis
  add('<g class="y-axis" stroke="#e0e0e0">\n')
  for _, t in ipairs(ticks) do
    local y = ymap(t)
    add(format('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>\n', left, y, left + pw, y))
  end
  add("</g>\n")
  add('<g class="y-labels" text-anchor="end" fill="#333333">\n')
  for _, t in ipairs(ticks) do
    add(format('<text x="%d" y="%.1f">%s</text>\n', left - 8, ymap(t) + 4, xml_escape(short_number(t))))
  end
  add("</g>\n")
  add(format('<text transform="translate(18 %d) rotate(-90)" text-anchor="middle" fill="#333333">' ..
             'requests per day%s</text>\n', top + ph / 2, scale == "log" and " (log scale)" or ""))
  -- x axis
  add(format('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333333"/>\n', left, top + ph, left + pw, top + ph))
  add(format('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333333"/>\n', left, top, left, top + ph))
  local every = math.max(1, math.ceil(n / 10))
  add('<g class="x-labels" text-anchor="middle" fill="#333333">\n')
  for i, d in ipairs(days) do
    if (i - 1) % every == 0 or i == n then
      local x = xmap(i)
      add(format('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#333333"/>\n', x, top + ph, x, top + ph + 4))
      add(format('<text x="%.1f" y="%d">%s</text>\n', x, top + ph + 18, xml_escape(d:sub(6))))
    end
  end
  add("</g>\n")
  add(format('<text x="%.1f" y="%d" text-anchor="middle" fill="#333333">day (UTC, %s to %s)</text>\n',
             left + pw / 2, H - 18, xml_escape(days[1] or "-"), xml_escape(days[n] or "-")))
  -- series
  for i, c in ipairs(series) do
    local color = PALETTE[(i - 1) % #PALETTE + 1]
    local pts = {}
    for k, d in ipairs(days) do pts[k] = format("%.1f,%.1f", xmap(k), ymap(c.daily[d] or 0)) end
    local name = c.name ~= "" and c.name or c.id
    add(format('<g class="series" stroke="%s" fill="%s">\n', color, color))
    add(format('<polyline fill="none" stroke-width="2" points="%s"><title>%s</title></polyline>\n',
               concat(pts, " "), xml_escape(name)))
    for k, d in ipairs(days) do
      add(format('<circle cx="%.1f" cy="%.1f" r="2.5"><title>%s %s: %s requests</title></circle>\n',
                 xmap(k), ymap(c.daily[d] or 0), xml_escape(name), d, number_text(c.daily[d] or 0)))
    end
    add("</g>\n")
  end
  -- legend
  local lx = left + pw + 24
  add(format('<g class="legend" fill="#333333"><text x="%d" y="%d" font-weight="bold">OAuth client ' ..
             '(requests)</text>\n', lx, top + 4))
  for i, c in ipairs(series) do
    local y = top + 8 + i * 20
    local color = PALETTE[(i - 1) % #PALETTE + 1]
    local name = c.name ~= "" and c.name or c.id
    if #name > 28 then name = name:sub(1, 27):gsub("[\128-\191]*$", ""):gsub("[\192-\255]$", "") .. "…" end
    add(format('<rect x="%d" y="%d" width="14" height="4" fill="%s"/>\n', lx, y - 6, color))
    add(format('<text x="%d" y="%d">%s (%s)</text>\n', lx + 20, y, xml_escape(name),
               xml_escape(short_number(c.requests))))
  end
  if #series == 0 then
    add(format('<text x="%d" y="%d">no usage in this interval</text>\n', lx, top + 28))
  end
  add("</g>\n</svg>\n")
  return concat(out)
end

function M.html(r, opts)
  local svg = M.svg(r, opts):gsub("^<%?xml[^\n]*\n", "")
  local function tbl(headers, rows)
    local out = { "<table><thead><tr>" }
    for _, h in ipairs(headers) do out[#out + 1] = "<th>" .. xml_escape(h) .. "</th>" end
    out[#out + 1] = "</tr></thead><tbody>\n"
    for _, row in ipairs(rows) do
      out[#out + 1] = "<tr>"
      for i, cell in ipairs(row) do
        out[#out + 1] = (i == 1 or i >= 4) and "<td class=\"n\">" or "<td>"
        out[#out + 1] = xml_escape(cell) .. "</td>"
      end
      out[#out + 1] = "</tr>\n"
    end
    out[#out + 1] = "</tbody></table>\n"
    return concat(out)
  end
  local crow, erow = {}, {}
  for i, c in ipairs(r.clients) do
    crow[i] = { tostring(c.rank), c.name, c.id, number_text(c.requests), percent(c.share), percent(c.ratio429),
                percent(c.ratio5xx) }
  end
  for i, e in ipairs(r.endpoints) do
    erow[i] = { tostring(e.rank), e.method, e.templateUri, number_text(e.requests), percent(e.share),
                percent(e.ratio429), percent(e.ratio5xx) }
  end
  local title = "Genesys Cloud API usage " .. (opts.interval or "")
  return concat {
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>", xml_escape(title), "</title>\n",
    "<style>body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#222}",
    "table{border-collapse:collapse;margin:8px 0 24px}th,td{padding:3px 10px;border-bottom:1px solid #ddd;",
    "text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}</style></head><body>\n",
    "<h1>", xml_escape(title), "</h1>\n",
    "<p>", xml_escape(format("%s requests (429: %s, 5xx: %s) by %d OAuth clients on %d endpoints.",
      number_text(r.total.requests), percent(ratio(r.total.status429, r.total.requests)),
      percent(ratio(r.total.status500, r.total.requests)), r.client_count, r.endpoint_count)), "</p>\n",
    svg,
    "<h2>Top OAuth clients by requests</h2>\n",
    tbl({ "#", "OAuth client", "client id", "requests", "share", "429 ratio", "5xx ratio" }, crow),
    "<h2>Top endpoints by requests</h2>\n",
    tbl({ "#", "method", "templateUri", "requests", "share", "429 ratio", "5xx ratio" }, erow),
    "</body></html>\n",
  }
end

---------------------------------------------------------------------------------------------------
-- the command

-- run(ctx) -> true | nil, err
-- ctx: usage, client, body (interval and filters), top, format, out (file handle), svg, html, scale,
--      page_size, status (stderr manager), now, write_file(path, text)
function M.run(ctx)
  local agg, err = M.collect(ctx)
  if not agg then return nil, err end
  local r = M.rank(agg, ctx.top or 10)
  local interval_text = ctx.body.interval
  local fmt = ctx.format or "table"
  local out = ctx.out
  if fmt == "table" then
    out:write(table_text(r, interval_text, ctx.top or 10))
  elseif fmt == "csv" then
    out:write(csv_text(r))
  elseif fmt == "json" then
    out:write(json.encode(json_value(r, interval_text)), "\n")
  else -- ndjson
    for _, rec in ipairs(records(r)) do out:write(json.encode(rec), "\n") end
  end
  local chart_opts = { interval = interval_text, scale = ctx.scale }
  if ctx.svg then
    ctx.write_file(ctx.svg, M.svg(r, chart_opts))
    if ctx.status then ctx.status:note("chart written to " .. ctx.svg) end
  end
  if ctx.html then
    ctx.write_file(ctx.html, M.html(r, chart_opts))
    if ctx.status then ctx.status:note("page written to " .. ctx.html) end
  end
  return true
end

return M
