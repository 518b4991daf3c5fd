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

-- the y axis: map(value) -> y (finite, inside the plot), and at most a dozen tick values. peaks: the
-- largest value of each series (for "auto": log when they differ by more than 100x); values: every value
-- drawn (series, bands, lines)
local function y_axis(peaks, values, scale, top, height)
  local maxv, minv, lo_peak, hi_peak = 0, nil, nil, 0
  for _, v in ipairs(values) do
    v = plotted(v)
    if v > maxv then maxv = v end
    if v > 0 and (not minv or v < minv) then minv = v end
  end
  for _, peak in ipairs(peaks) do
    peak = plotted(peak)
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

--[[ plot(p) -> SVG text: lines over positions 1..p.n (days), for every chart of the report
  p.title, p.subtitle (the days, under the title: text, or function(scale) -> text), p.y_label, p.scale ("auto" | "linear" | "log")
  p.n, p.xlabel(k) -> the text under position k (some are drawn, at most a dozen), p.xsub(k) -> a second
       line under it (or nil), p.xcaption (under the axis)
  p.series = { { name, color, dash = "6 4" | nil, values = { [k] = v | nil (no point) },
                 tooltip = function(k, v) -> text, legend = text } }
  p.shade = { [k] = true }, p.shade_label: positions drawn on grey (days the source lacks)
  p.bands = { { lo = { [k] = v }, hi = { [k] = v }, color, label, legend } }: an area between two lines
  p.hlines = { { value, label, color, legend } }: horizontal lines (the allowance)
  p.markers = { { k, label, color } }: vertical lines (today)
  p.legend_title, p.height_below, p.below(add, H): more below the plot (the pairs of the report's SVG)
]]
function M.plot(p)
  local W, H = 980, 520
  local left, right, top, bottom = 78, 270, 56, 64
  local pw, ph = W - left - right, H - top - bottom
  local n = p.n
  local peaks, values = {}, {}
  for _, sr in ipairs(p.series) do
    local peak = 0
    for k = 1, n do
      local v = sr.values[k]
      if v ~= nil then
        values[#values + 1] = v
        if plotted(v) > peak then peak = plotted(v) end
      end
    end
    peaks[#peaks + 1] = peak
  end
  for _, b in ipairs(p.bands or {}) do
    for k = 1, n do
      if b.hi[k] ~= nil then values[#values + 1] = b.hi[k] end
      if b.lo[k] ~= nil then values[#values + 1] = b.lo[k] end
    end
  end
  for _, l in ipairs(p.hlines or {}) do values[#values + 1] = l.value end
  local ymap, ticks, scale = y_axis(peaks, values, p.scale or "auto", top, ph)
  local function xmap(k) return n <= 1 and (left + pw / 2) or (left + (k - 1) / (n - 1) * pw) end

  local out = {}
  local function add(...) out[#out + 1] = concat({ ... }) end
  local HT = H + (p.height_below or 0)
  add('<?xml version="1.0" encoding="UTF-8"?>\n')
  add(format('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" ' ..
             'font-family="Helvetica, Arial, sans-serif" font-size="12">\n', W, HT, W, HT))
  add("<title>", esc(p.title), "</title>\n")
  add(format('<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>\n', W, HT))
  add(format('<text x="%d" y="24" font-size="16" font-weight="bold">%s</text>\n', left, esc(text.cut(sanitize.display(p.title), 110))))
  local subtitle = p.subtitle
  if type(subtitle) == "function" then subtitle = subtitle(scale) end
  if subtitle then
    add(format('<text x="%d" y="42" fill="#555555">%s</text>\n', left, esc(text.cut(sanitize.display(subtitle), 130))))
  end
  -- days the source lacks: grey columns
  if p.shade and next(p.shade) then
    local half = n <= 1 and pw / 2 or pw / (n - 1) / 2
    add('<g class="missing" fill="#eeeeee">\n')
    for k = 1, n do
      if p.shade[k] then
        local x0, x1 = math.max(left, xmap(k) - half), math.min(left + pw, xmap(k) + half)
        add(format('<rect x="%.1f" y="%d" width="%.1f" height="%d"><title>%s</title></rect>\n', x0, top, x1 - x0, ph,
                   esc(p.shade_label or "not in the source")))
      end
    end
    add("</g>\n")
  end
  add('<g class="y-axis" stroke="#e0e0e0">\n')
  for _, t in ipairs(ticks) do add(format('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>\n', left, ymap(t), left + pw, ymap(t))) end
  add('</g>\n<g class="y-labels" text-anchor="end" fill="#333333">\n')
  for _, t in ipairs(ticks) do add(format('<text x="%d" y="%.1f">%s</text>\n', left - 8, ymap(t) + 4, esc(M.short_number(t)))) end
  add("</g>\n")
  add(format('<text transform="translate(18 %d) rotate(-90)" text-anchor="middle" fill="#333333">%s%s</text>\n',
             top + ph / 2, esc(p.y_label or ""), scale == "log" and " (log scale)" or ""))
  add(format('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333333"/>\n', left, top + ph, left + pw, top + ph))
  add(format('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333333"/>\n', left, top, left, top + ph))
  local every = math.max(1, math.ceil(n / 10))
  add('<g class="x-labels" text-anchor="middle" fill="#333333">\n')
  for k = 1, n do
    if (k - 1) % every == 0 or k == n then
      local x = xmap(k)
      add(format('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#333333"/>\n', x, top + ph, x, top + ph + 4))
      add(format('<text x="%.1f" y="%d">%s</text>\n', x, top + ph + 18, esc(p.xlabel(k) or "")))
      local sub = p.xsub and p.xsub(k)
      if sub then add(format('<text x="%.1f" y="%d" fill="#777777">%s</text>\n', x, top + ph + 31, esc(sub))) end
    end
  end
  add("</g>\n")
  if p.xcaption then
    add(format('<text x="%.1f" y="%d" text-anchor="middle" fill="#333333">%s</text>\n', left + pw / 2, H - 18,
               esc(text.cut(sanitize.display(p.xcaption), 110))))
  end
  for _, b in ipairs(p.bands or {}) do
    local upper, lower = {}, {}
    for k = 1, n do
      if b.hi[k] ~= nil and b.lo[k] ~= nil then
        upper[#upper + 1] = format("%.1f,%.1f", xmap(k), ymap(b.hi[k]))
        table.insert(lower, 1, format("%.1f,%.1f", xmap(k), ymap(b.lo[k])))
      end
    end
    if #upper > 0 then
      add(format('<polygon class="band" fill="%s" fill-opacity="0.25" stroke="none" points="%s"><title>%s</title></polygon>\n',
                 b.color, concat(upper, " ") .. " " .. concat(lower, " "), esc(b.label or "")))
    end
  end
  for _, l in ipairs(p.hlines or {}) do
    local y = ymap(l.value)
    add(format('<g class="hline" stroke="%s"><line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke-width="2"><title>%s</title></line></g>\n',
               l.color, left, y, left + pw, y, esc(l.label or "")))
  end
  for _, m in ipairs(p.markers or {}) do
    local x = xmap(m.k)
    add(format('<g class="marker" stroke="%s"><line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke-dasharray="2 3"><title>%s</title></line></g>\n',
               m.color or "#555555", x, top, x, top + ph, esc(m.label or "")))
  end
  for _, sr in ipairs(p.series) do
    local color = sr.color
    add(format('<g class="series" stroke="%s" fill="%s"%s>\n', color, color,
               sr.class and format(' data-series="%s"', esc(sr.class)) or ""))
    -- a polyline per run of positions with a value
    local run = {}
    local function flush()
      if #run > 0 then
        add(format('<polyline fill="none" stroke-width="2"%s points="%s"><title>%s</title></polyline>\n',
                   sr.dash and format(' stroke-dasharray="%s"', sr.dash) or "", concat(run, " "), esc(sr.name)))
      end
      run = {}
    end
    for k = 1, n do
      local v = sr.values[k]
      if v ~= nil then run[#run + 1] = format("%.1f,%.1f", xmap(k), ymap(v)) else flush() end
    end
    flush()
    if not sr.no_points then
      for k = 1, n do
        local v = sr.values[k]
        if v ~= nil then
          add(format('<circle cx="%.1f" cy="%.1f" r="2.5"><title>%s</title></circle>\n', xmap(k), ymap(v),
                     esc(sr.tooltip and sr.tooltip(k, v) or (sr.name .. ": " .. text.thousands(v)))))
        end
      end
    end
    add("</g>\n")
  end
  local lx = left + pw + 24
  add(format('<g class="legend" fill="#333333"><text x="%d" y="%d" font-weight="bold">%s</text>\n',
             lx, top + 4, esc(text.cut(sanitize.display(p.legend_title or ""), 36))))
  local y = top + 8
  -- the legend's entries of a list (series, lines, bands): a swatch of each one's colour and its label
  local function entries(list, band)
    for _, e in ipairs(list or {}) do
      if e.legend then
        y = y + 20
        add(band and format('<rect x="%d" y="%d" width="14" height="10" fill="%s" fill-opacity="0.25"/>\n',
                            lx, y - 9, e.color)
                  or format('<rect x="%d" y="%d" width="14" height="4" fill="%s"/>\n', lx, y - 6, e.color))
        add(format('<text x="%d" y="%d">%s</text>\n', lx + 20, y, esc(e.legend)))
      end
    end
  end
  entries(p.series)
  entries(p.hlines)
  entries(p.bands, true)
  for _, extra in ipairs(p.legend_extra or {}) do
    y = y + 20
    add(format('<text x="%d" y="%d" fill="#555555">%s</text>\n', lx, y, esc(text.cut(sanitize.display(extra), 36))))
  end
  if p.empty then add(format('<text x="%d" y="%d">%s</text>\n', lx, top + 28, esc(p.empty))) end
  add("</g>\n")
  if p.below then p.below(add, H) end
  add("</svg>\n")
  return concat(out)
end

-- a legend entry: a name cut to fit beside the plot, and a figure
local function legend_text(name, figure)
  return text.cut(sanitize.display(name), 28) .. " (" .. figure .. ")"
end
M.legend_text = legend_text

-- the dates of a report as positions: "11-01" under each tick
local function date_label(days)
  return function(k) return days[k] and days[k]:sub(6) or "" end
end

-- the positions of the days the source lacks (a report over usage.history)
local function shade_of(r)
  local set = r.missing
  if not set or not next(set) then return nil end
  local out = {}
  for k, d in ipairs(r.days) do if set[d] then out[k] = true end end
  return out
end

-- a comparison's change, short: "+1,234" (the pairs under the chart say "(+1,234 against before)")
local WHAT_SHORT = "before"
local function signed_short(v)
  if v == nil then return "n/a" end
  return (v > 0 and "+" or "") .. text.thousands(v)
end

-- the pairs listed under the report's standalone chart
local function pairs_below(r)
  local pair_list = r.pairs or {}
  return 36 + 18 * math.max(1, #pair_list), function(add, H)
    local left = 78
    local by = M.WHAT[r.rank_by or "requests"]
    local head = r.only and format("Top client x endpoint pairs with %s, by %s", M.WHAT[r.only], by)
                 or ("Top client x endpoint pairs by " .. by)
    add(format('<g class="pairs" fill="#333333"><text x="%d" y="%d" font-weight="bold">%s</text>\n', left, H + 12,
               esc(head)))
    for i, pr in ipairs(pair_list) do
      local name = (pr.name and pr.name ~= "") and pr.name or ((pr.id and pr.id ~= "") and pr.id or "-")
      local org = pr.org and r.org_column and (text.cut(sanitize.display(pr.org), 20) .. ": ") or ""
      local requests = pr.requests or (pr.current and pr.current.requests)
      local s429 = pr.status429 or (pr.current and pr.current.status429)
      local s500 = pr.status500 or (pr.current and pr.current.status500)
      local change = pr.change and format(" (%s against %s)", signed_short(pr.change.requests), WHAT_SHORT) or ""
      add(format('<text x="%d" y="%d">%d. %s%s: %s %s: %s requests, %s 429, %s 5xx%s</text>\n', left, H + 12 + 18 * i, i,
                 esc(org), esc(text.cut(sanitize.display(name), 40)), esc(pr.method or ""),
                 esc(text.cut(sanitize.display(pr.templateUri or pr.template_uri or ""), 70)),
                 esc(text.thousands(requests)), esc(text.thousands(s429)), esc(text.thousands(s500)), esc(change)))
    end
    if #pair_list == 0 then add(format('<text x="%d" y="%d">none</text>\n', left, H + 30)) end
    add("</g>\n")
  end
end

local compare_svg -- (below: a comparison's chart)

function M.svg(r, opts)
  opts = opts or {}
  if r.kind == "compare" then return compare_svg(r, opts) end
  local days = r.days
  local key = aggregate.RANK_BY[opts.chart or "requests"]
  local what = M.WHAT[opts.chart or "requests"]
  -- the org view draws the orgs; else the top clients
  local by_org = r.orgs and true or false
  local entries = by_org and r.orgs or r.clients
  local series = {}
  for i, c in ipairs(entries) do
    local name = by_org and c.org or ((c.name ~= "" and c.name) or c.id)
    if r.org_column and not by_org and c.org then name = name .. " (" .. c.org .. ")" end
    local values = {}
    for k, d in ipairs(days) do values[k] = c.daily[d] and c.daily[d][key] or 0 end
    series[i] = { name = name, color = PALETTE[(i - 1) % #PALETTE + 1], values = values,
                  tooltip = function(k, v) return format("%s %s: %s %s", name, days[k], text.thousands(v), what) end,
                  legend = legend_text(name, M.short_number(c[key])) }
  end
  local below_h, below
  if opts.pairs then below_h, below = pairs_below(r) end
  local shade = shade_of(r)
  return M.plot {
    title = opts.title or format("Daily %s of the top %d %s", what, #series, by_org and "orgs" or "OAuth clients"),
    subtitle = opts.days_label and function(scale) return opts.days_label .. " (UTC), " .. scale .. " scale" end or nil,
    y_label = what .. " per day", scale = opts.scale or "auto", n = #days, xlabel = date_label(days),
    xcaption = format("day (UTC, %s to %s)", days[1] or "-", days[#days] or "-"),
    series = series, shade = shade, shade_label = "not in the source (not counted)",
    legend_title = format("%s (%s)", by_org and "org" or "OAuth client", what),
    legend_extra = shade and { "grey: days not in the source" } or nil,
    empty = #series == 0 and "no usage in these days" or nil,
    height_below = below_h, below = below,
  }
end

-- the comparison: each top client's days in this period (solid) and in the other (dashed, the same
-- colour), day k of one against day k of the other
compare_svg = function(r, opts)
  opts = opts or {}
  local key = aggregate.RANK_BY[opts.chart or "requests"]
  local what = M.WHAT[opts.chart or "requests"]
  local cdays, pdays = r.days, r.previous_days
  local n = math.max(#cdays, #pdays)
  local entries = r.orgs or r.clients
  local series = {}
  local shown = math.min(#entries, 8)
  for i = 1, shown do
    local c = entries[i]
    local name = r.orgs and c.org or ((c.name ~= "" and c.name) or c.id)
    if r.org_column and not r.orgs and c.org then name = name .. " (" .. c.org .. ")" end
    local color = PALETTE[(i - 1) % #PALETTE + 1]
    local cur, prev = {}, {}
    for k = 1, n do
      if cdays[k] then cur[k] = (c.daily_current[cdays[k]] or {})[key] or 0 end
      if pdays[k] then prev[k] = (c.daily_previous[pdays[k]] or {})[key] or 0 end
    end
    series[#series + 1] = { name = name, color = color, values = cur, legend = legend_text(name, M.short_number(c.current[key])),
      tooltip = function(k, v) return format("%s %s: %s %s", name, cdays[k], text.thousands(v), what) end }
    series[#series + 1] = { name = name .. " (" .. r.how_words .. ")", color = color, dash = "6 4", values = prev,
      tooltip = function(k, v) return format("%s %s: %s %s (%s)", name, pdays[k], text.thousands(v), what, r.how_words) end }
  end
  local shade = {}
  local cmiss, pmiss = {}, {}
  for _, d in ipairs(r.current.missing or {}) do cmiss[d] = true end
  for _, d in ipairs(r.previous.missing or {}) do pmiss[d] = true end
  for k = 1, n do
    if (cdays[k] and cmiss[cdays[k]]) or (pdays[k] and pmiss[pdays[k]]) then shade[k] = true end
  end
  local below_h, below
  if opts.pairs then below_h, below = pairs_below(r) end
  return M.plot {
    title = opts.title or format("Daily %s of the top %d %s, against %s", what, shown, r.orgs and "orgs" or "OAuth clients",
                                 r.how_words),
    subtitle = function(scale)
      return "solid: " .. (r.current.label or "") .. "; dashed: " .. (r.previous.label or "") .. " (UTC), " .. scale .. " scale"
    end,
    y_label = what .. " per day", scale = opts.scale or "auto", n = n,
    xlabel = function(k) return cdays[k] and cdays[k]:sub(6) or "" end,
    xsub = function(k) return pdays[k] and pdays[k]:sub(6) or nil end,
    xcaption = format("day (UTC): %s to %s; under it, %s to %s", cdays[1] or "-", cdays[#cdays] or "-",
                      pdays[1] or "-", pdays[#pdays] or "-"),
    series = series, shade = next(shade) and shade or nil, shade_label = "a day not in the source in one of the periods",
    legend_title = format("%s (%s)", r.orgs and "org" or "OAuth client", what),
    legend_extra = { "solid: " .. (r.current.label or ""), "dashed: " .. (r.previous.label or "") },
    empty = #series == 0 and "no usage in either period" or nil,
    height_below = below_h, below = below,
  }
end

return M
