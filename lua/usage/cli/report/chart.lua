-- usage.cli.report.chart: the report's chart as a self-contained SVG (no scripts, no external fonts, images
-- or styles): one line per top OAuth client of its daily requests, 429 responses or 5xx responses
-- (--chart), over every day covered (days without usage at 0), axes with labels, a legend with the
-- clients' names (XML-escaped) and totals, a tooltip (<title>) on each point. The y axis is linear, or
-- logarithmic when the top clients' peaks differ by more than 100x (scale "auto").
--   chart.svg(r, { title =, days_label =, scale = "auto"|"linear"|"log", chart = "requests"|"429"|"5xx" })
-- No value can break it: the axes have at most a dozen ticks whatever the counts (1.7e308, 2^63-1, NaN,
-- infinities, negative counts, all zero), every coordinate is a finite number inside the plot (values
-- below 0 or not numbers are drawn at 0, above the top at the top; tooltips and the legend say the
-- value as it is), and every text is valid XML (usage.base.sanitize.xml).

local text = require "usage.base.text"
local sanitize = require "usage.base.sanitize"
local aggregate = require "usage.cli.report.aggregate"

local M = {}

local format, concat, floor = string.format, table.concat, math.floor
local finite = text.finite

local MAX_VALUE = 1.7976931348623157e308 -- the largest finite double

M.xml_escape = sanitize.xml
local esc = M.xml_escape

local PALETTE = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                  "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173" }

M.WHAT = { requests = "requests", ["429"] = "429 responses", ["5xx"] = "5xx responses" }

-- a value as the chart draws it: a finite number from 0 to MAX_VALUE (NaN and below 0: 0)
local function plotted(v)
  if type(v) ~= "number" or v ~= v or v <= 0 then return 0 end
  if v > MAX_VALUE then return MAX_VALUE end
  return v
end

-- 1234567 -> "1.2M"; NaN and the infinities as words, never a format error or "-nan"
function M.short_number(v)
  if type(v) ~= "number" then return tostring(v) end
  if not finite(v) then return v ~= v and "NaN" or (v > 0 and "inf" or "-inf") end
  if v < 0 then return "-" .. M.short_number(-v) end
  for _, u in ipairs { { 1e12, "T" }, { 1e9, "G" }, { 1e6, "M" }, { 1e3, "K" } } do
    if v >= u[1] then
      local x = v / u[1]
      if x >= 1e6 then return format("%.3g", v) end -- beyond 1000T: 1.7e+308, not 170000...000T
      return ((x >= 100 or x == floor(x)) and format("%.0f", x) or format("%.1f", x)) .. u[2]
    end
  end
  return v == floor(v) and format("%.0f", v) or format("%.2g", v)
end

-- Lua 5.1's math.log has no base argument (math.log(x, 10) is ln x there); math.log10 is exact on powers of ten
local log10 = math.log10 or function(x) return math.log(x, 10) end

-- a round step (1, 2 or 5 times a power of ten) of at least range / ticks; range is finite and > 0
local function nice_step(range, ticks)
  local raw = range / ticks
  local e = floor(log10(raw))
  if e > 307 then e = 307 elseif e < -307 then e = -307 end
  local mag = 10 ^ e
  for _, m in ipairs { 1, 2, 5 } do
    if raw <= m * mag then return m * mag end
  end
  return 10 * mag -- (finite: mag is at most 1e307)
end

-- the y axis: map(value) -> y (finite, inside the plot), and at most a dozen tick values
local function y_axis(series, key, days, scale, top, height)
  local maxv, minv, lo_peak, hi_peak = 0, nil, nil, 0
  for _, c in ipairs(series) do
    local peak = 0
    for _, d in ipairs(days) do
      local v = plotted(c.daily[d] and c.daily[d][key])
      if v > peak then peak = v end
      if v > 0 and (not minv or v < minv) then minv = v end
    end
    maxv = math.max(maxv, peak)
    if peak > 0 and (not lo_peak or peak < lo_peak) then lo_peak = peak end
    hi_peak = math.max(hi_peak, peak)
  end
  if scale == "auto" then scale = (lo_peak and hi_peak / lo_peak > 100) and "log" or "linear" end
  local ticks = {}
  local bottom = top + height
  if scale == "log" then
    -- decades from the smallest value's to the largest's (10^-300 .. 10^308: all finite, all > 0)
    local lo = minv and floor(log10(minv)) or 0
    if lo < -300 then lo = -300 elseif lo > 307 then lo = 307 end
    local hi = math.ceil(log10(math.max(maxv, 10)))
    if hi > 308 then hi = 308 end
    if hi < lo + 1 then hi = lo + 1 end
    local step = math.max(1, math.ceil((hi - lo) / 8))
    for k = 0, 11 do
      local e = lo + k * step
      if e > hi then break end
      ticks[#ticks + 1] = 10 ^ e
    end
    return function(v)
      v = plotted(v)
      local l = v > 0 and log10(v) or lo
      if l < lo then l = lo elseif l > hi then l = hi end
      return bottom - (l - lo) / (hi - lo) * height
    end, ticks, scale
  end
  if maxv <= 0 then maxv = 1 end
  local step = nice_step(maxv, 5)
  -- the top tick: the first multiple of step at or above maxv (at most 6 steps), unless that overflows
  local n = math.ceil(maxv / step)
  if n > 10 then n = 10 end
  local top_tick = n * step
  if not finite(top_tick) or top_tick < maxv then top_tick = maxv end
  for k = 0, n do
    local t = k * step
    if t > top_tick then break end
    ticks[#ticks + 1] = t
  end
  return function(v)
    local f = plotted(v) / top_tick
    if f > 1 then f = 1 end
    return bottom - f * height
  end, ticks, scale
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
  -- opts.pairs: the top client x endpoint pairs listed under the chart (the standalone SVG of the report)
  local pair_list = opts.pairs and r.pairs or {}
  local HT = H + (opts.pairs and (36 + 18 * math.max(1, #pair_list)) or 0)
  add('<?xml version="1.0" encoding="UTF-8"?>\n')
  add(format('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" ' ..
             'font-family="Helvetica, Arial, sans-serif" font-size="12">\n', W, HT, W, HT))
  add("<title>", esc(title), "</title>\n")
  add(format('<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>\n', W, HT))
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
    add(format('<text x="%d" y="%d">%s (%s)</text>\n', lx + 20, y, esc(text.cut(sanitize.display(c.name ~= "" and c.name or c.id), 28)),
               esc(M.short_number(c[key]))))
  end
  if #series == 0 then add(format('<text x="%d" y="%d">no usage in these days</text>\n', lx, top + 28)) end
  add("</g>\n")
  if opts.pairs then
    local by = M.WHAT[r.rank_by or "requests"]
    local head = r.only and format("Top client x endpoint pairs with %s, by %s", M.WHAT[r.only], by)
                 or ("Top client x endpoint pairs by " .. by)
    add(format('<g class="pairs" fill="#333333"><text x="%d" y="%d" font-weight="bold">%s</text>\n', left, H + 12,
               esc(head)))
    for i, p in ipairs(pair_list) do
      local name = p.name ~= "" and p.name or (p.id ~= "" and p.id or "-")
      add(format('<text x="%d" y="%d">%d. %s: %s %s: %s requests, %s 429, %s 5xx</text>\n', left, H + 12 + 18 * i, i,
                 esc(text.cut(sanitize.display(name), 40)), esc(p.method), esc(text.cut(sanitize.display(p.templateUri), 70)), esc(text.thousands(p.requests)),
                 esc(text.thousands(p.status429)), esc(text.thousands(p.status500))))
    end
    if #pair_list == 0 then add(format('<text x="%d" y="%d">none</text>\n', left, H + 30)) end
    add("</g>\n")
  end
  add("</svg>\n")
  return concat(out)
end

return M
