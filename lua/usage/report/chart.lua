-- usage.report.chart: the report's chart as a self-contained SVG (no scripts, no external fonts, images
-- or styles): one line per top OAuth client of its daily requests, 429 responses or 5xx responses
-- (--chart), over every day covered (days without usage at 0), axes with labels, a legend with the
-- clients' names (XML-escaped) and totals, a tooltip (<title>) on each point. The y axis is linear, or
-- logarithmic when the top clients' peaks differ by more than 100x (scale "auto").
--   chart.svg(r, { title =, days_label =, scale = "auto"|"linear"|"log", chart = "requests"|"429"|"5xx" })

local text = require "usage.cli.text"
local aggregate = require "usage.report.aggregate"

local M = {}

local format, concat, floor = string.format, table.concat, math.floor

function M.xml_escape(s)
  s = tostring(s):gsub("[%z\1-\8\11\12\14-\31\127]", "")
  return (s:gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }))
end
local esc = M.xml_escape

local PALETTE = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                  "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173" }
M.PALETTE = PALETTE

M.WHAT = { requests = "requests", ["429"] = "429 responses", ["5xx"] = "5xx responses" }

-- 1234567 -> "1.2M"
function M.short_number(v)
  for _, u in ipairs { { 1e12, "T" }, { 1e9, "G" }, { 1e6, "M" }, { 1e3, "K" } } do
    if v >= u[1] then
      local x = v / u[1]
      return ((x >= 100 or x == floor(x)) and format("%.0f", x) or format("%.1f", x)) .. u[2]
    end
  end
  return v == floor(v) and format("%.0f", v) or format("%.2g", v)
end

-- Lua 5.1's math.log has no base argument (math.log(x, 10) is ln x there); math.log10 is exact on powers of ten
local log10 = math.log10 or function(x) return math.log(x, 10) end

local function nice_step(range, ticks)
  local raw = range / ticks
  local mag = 10 ^ floor(log10(raw))
  for _, m in ipairs { 1, 2, 5, 10 } do
    if raw <= m * mag then return m * mag end
  end
  return 10 * mag
end

-- the y axis: map(value) -> y, and the tick values
local function y_axis(series, key, days, scale, top, height)
  local maxv, minv, lo_peak, hi_peak = 0, nil, nil, 0
  for _, c in ipairs(series) do
    local peak = 0
    for _, d in ipairs(days) do
      local v = c.daily[d] and c.daily[d][key] or 0
      if v > peak then peak = v end
      if v > 0 and (not minv or v < minv) then minv = v end
    end
    maxv = math.max(maxv, peak)
    if peak > 0 and (not lo_peak or peak < lo_peak) then lo_peak = peak end
    hi_peak = math.max(hi_peak, peak)
  end
  if scale == "auto" then scale = (lo_peak and hi_peak / lo_peak > 100) and "log" or "linear" end
  local ticks = {}
  if scale == "log" then
    local lo = minv and floor(log10(minv)) or 0
    local hi = math.max(lo + 1, math.ceil(log10(math.max(maxv, 10))))
    for e = lo, hi, math.max(1, math.ceil((hi - lo) / 8)) do ticks[#ticks + 1] = 10 ^ e end
    return function(v)
      local l = v > 0 and log10(v) or lo
      return top + height - (math.max(l, lo) - lo) / (hi - lo) * height
    end, ticks, scale
  end
  local step = nice_step(maxv > 0 and maxv or 1, 5)
  local top_tick = math.ceil((maxv > 0 and maxv or 1) / step) * step
  for i = 0, floor(top_tick / step + 0.5) do ticks[#ticks + 1] = i * step end
  return function(v) return top + height - v / top_tick * height end, ticks, scale
end

function M.svg(r, opts)
  opts = opts or {}
  local days, series = r.days, r.clients
  local key = aggregate.RANK_BY[opts.chart or "requests"]
  local what = M.WHAT[opts.chart or "requests"]
  local W, H = 980, 520
  local left, right, top, bottom = 78, 270, 56, 64
  local pw, ph = W - left - right, H - top - bottom
  local ymap, ticks, scale = y_axis(series, key, days, opts.scale or "auto", top, ph)
  local n = #days
  local function xmap(i) return n <= 1 and (left + pw / 2) or (left + (i - 1) / (n - 1) * pw) end
  local function value(c, d) return c.daily[d] and c.daily[d][key] or 0 end

  local out = {}
  local function add(...) out[#out + 1] = concat({ ... }) end
  local title = opts.title or format("Daily %s of the top %d OAuth clients", what, #series)
  add('<?xml version="1.0" encoding="UTF-8"?>\n')
  add(format('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" ' ..
             'font-family="Helvetica, Arial, sans-serif" font-size="12">\n', W, H, W, H))
  add("<title>", esc(title), "</title>\n")
  add(format('<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>\n', W, H))
  add(format('<text x="%d" y="24" font-size="16" font-weight="bold">%s</text>\n', left, esc(title)))
  if opts.days_label then
    add(format('<text x="%d" y="42" fill="#555555">%s (UTC), %s scale</text>\n', left, esc(opts.days_label), scale))
  end
  add('<g class="y-axis" stroke="#e0e0e0">\n')
  for _, t in ipairs(ticks) do add(format('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>\n', left, ymap(t), left + pw, ymap(t))) end
  add('</g>\n<g class="y-labels" text-anchor="end" fill="#333333">\n')
  for _, t in ipairs(ticks) do add(format('<text x="%d" y="%.1f">%s</text>\n', left - 8, ymap(t) + 4, esc(M.short_number(t)))) end
  add("</g>\n")
  add(format('<text transform="translate(18 %d) rotate(-90)" text-anchor="middle" fill="#333333">%s per day%s</text>\n',
             top + ph / 2, what, scale == "log" and " (log scale)" or ""))
  add(format('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333333"/>\n', left, top + ph, left + pw, top + ph))
  add(format('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333333"/>\n', left, top, left, top + ph))
  local every = math.max(1, math.ceil(n / 10))
  add('<g class="x-labels" text-anchor="middle" fill="#333333">\n')
  for i, d in ipairs(days) do
    if (i - 1) % every == 0 or i == n then
      local x = xmap(i)
      add(format('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#333333"/>\n', x, top + ph, x, top + ph + 4))
      add(format('<text x="%.1f" y="%d">%s</text>\n', x, top + ph + 18, esc(d:sub(6))))
    end
  end
  add("</g>\n")
  add(format('<text x="%.1f" y="%d" text-anchor="middle" fill="#333333">day (UTC, %s to %s)</text>\n',
             left + pw / 2, H - 18, esc(days[1] or "-"), esc(days[n] or "-")))
  for i, c in ipairs(series) do
    local color = PALETTE[(i - 1) % #PALETTE + 1]
    local name = c.name ~= "" and c.name or c.id
    local pts = {}
    for k, d in ipairs(days) do pts[k] = format("%.1f,%.1f", xmap(k), ymap(value(c, d))) end
    add(format('<g class="series" stroke="%s" fill="%s">\n', color, color))
    add(format('<polyline fill="none" stroke-width="2" points="%s"><title>%s</title></polyline>\n', concat(pts, " "), esc(name)))
    for k, d in ipairs(days) do
      add(format('<circle cx="%.1f" cy="%.1f" r="2.5"><title>%s %s: %s %s</title></circle>\n', xmap(k),
                 ymap(value(c, d)), esc(name), d, text.thousands(value(c, d)), what))
    end
    add("</g>\n")
  end
  local lx = left + pw + 24
  add(format('<g class="legend" fill="#333333"><text x="%d" y="%d" font-weight="bold">OAuth client (%s)</text>\n',
             lx, top + 4, what))
  for i, c in ipairs(series) do
    local y = top + 8 + i * 20
    add(format('<rect x="%d" y="%d" width="14" height="4" fill="%s"/>\n', lx, y - 6, PALETTE[(i - 1) % #PALETTE + 1]))
    add(format('<text x="%d" y="%d">%s (%s)</text>\n', lx + 20, y, esc(text.cut(c.name ~= "" and c.name or c.id, 28)),
               esc(M.short_number(c[key]))))
  end
  if #series == 0 then add(format('<text x="%d" y="%d">no usage in these days</text>\n', lx, top + 28)) end
  add("</g>\n</svg>\n")
  return concat(out)
end

return M
