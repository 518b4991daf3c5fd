-- usage.cli.report.forecast: the fair-use forecast (usage.forecast) in the report's HTML page: the month's
-- cumulative requests by day (the month to date, counted), the projection to the month's end with its band,
-- and the allowance line, in one chart (usage.cli.report.chart.plot), beside the figures it draws.
--   local s = forecast_chart.series(result)   -- the numbers the chart draws (each day of the month)
--   local svg = forecast_chart.svg(result)
--   local html = forecast_chart.section(result)  -- <section id="forecast">: the figures and the chart
-- Every number comes from the result: the days counted and their requests (result.inputs.days), the rate
-- of each weekday (result.method.weekdays[w].rate: the projection's estimate of each day left, and of each
-- day of the month the source lacks), the band's ratios (result.method.band), the allowance; the chart's
-- last projected point is result.projection.requests, its band's ends band.low and band.high (the same
-- rounding as usage.forecast).

local interval = require "usage.base.interval"
local text = require "usage.base.text"
local sanitize = require "usage.base.sanitize"
local fdays = require "usage.forecast.days"
local words = require "usage.forecast.words"
local chart = require "usage.cli.report.chart"

local M = {}

local format, concat = string.format, table.concat
local esc = sanitize.xml
local round = fdays.round

local COLORS = { month_to_date = "#1f77b4", projection = "#ff7f0e", band = "#ff7f0e", allowance = "#d62728",
             today = "#555555" }

--[[ series(result) -> {
  first, last (day numbers of the month), n (its days), today (position of today, nil after the month),
  dates = { "YYYY-MM-DD" per position },
  counted = { [k] = true } (days held and counted), estimated = { [k] = true } (days the projection estimates),
  actual = { [k] = cumulative counted requests } (positions 1 .. today-1: the month to date so far),
  projection = { [k] = cumulative requests with the estimates } (from the day before the first estimated one
               to the month's end; nil without a projection),
  low, high = { [k] = the band's cumulative ends } (same positions; nil without a band),
  month_to_date, projected, band_low, band_high, allowance (the figures, as the result has them) } ]]
function M.series(r)
  local m = r.month
  local first, last = interval.parse_date(m.first), interval.parse_date(m.last)
  local T = interval.parse_date(r.today.date)
  local n = last - first + 1
  local held = {}
  for _, d in ipairs(r.inputs and r.inputs.days or {}) do
    if d.known then held[d.date] = d.requests or 0 end
  end
  local p = r.projection
  local rate = {}
  for w = 1, 7 do
    local wd = r.method and r.method.weekdays and r.method.weekdays[w]
    rate[w] = wd and wd.rate or nil
  end
  local band = r.method and r.method.band
  local s = { first = first, last = last, n = n, dates = {}, counted = {}, estimated = {}, actual = {},
              month_to_date = r.month_to_date.requests, allowance = r.allowance.requests,
              projected = p and p.requests or nil, band_low = p and p.band and p.band.low or nil,
              band_high = p and p.band and p.band.high or nil }
  if T >= first and T <= last then s.today = T - first + 1 end
  local counted_cum, est_cum = 0, 0
  local first_est
  local counted_at, est_at = {}, {}
  for k = 1, n do
    local d = first + k - 1
    local date = interval.date(d)
    s.dates[k] = date
    if d < T and held[date] ~= nil then
      s.counted[k] = true
      counted_cum = counted_cum + held[date]
    elseif p then
      s.estimated[k] = true
      first_est = first_est or k
      est_cum = est_cum + (rate[fdays.weekday(d)] or 0)
    end
    counted_at[k], est_at[k] = counted_cum, est_cum
    if d < T then s.actual[k] = counted_cum end
  end
  if p and first_est then
    s.projection, s.low, s.high = {}, band and {} or nil, band and {} or nil
    -- from the last day before any estimate (where the lines part; the first estimated day on the 1st)
    for k = math.max(1, first_est - 1), n do
      s.projection[k] = counted_at[k] + est_at[k]
      if band then
        s.low[k] = counted_at[k] + est_at[k] * band.low_ratio
        s.high[k] = counted_at[k] + est_at[k] * band.high_ratio
      end
    end
  end
  return s
end

local function p_of(r) return r.projection end

local function day_word(date)
  return fdays.day_label(interval.parse_date(date))
end

-- svg(result [, opts]) -> the chart (opts.title)
function M.svg(r, opts)
  opts = opts or {}
  local s = M.series(r)
  local C = COLORS
  local series = {}
  series[#series + 1] = {
    name = "month to date", class = "month-to-date", color = C.month_to_date, values = s.actual,
    legend = chart.legend_text("month to date", chart.short_number(s.month_to_date)),
    tooltip = function(k, v)
      return format("%s: %s requests counted from the 1st%s", day_word(s.dates[k]), text.thousands(round(v)),
                    s.counted[k] and "" or " (this day is not in the source: not counted)")
    end,
  }
  local bands
  if s.projection then
    series[#series + 1] = {
      name = "projection", class = "projection", color = C.projection, dash = "6 4", values = s.projection,
      legend = chart.legend_text("projection", chart.short_number(s.projected)),
      tooltip = function(k, v)
        return format("%s: %s requests projected from the 1st%s", day_word(s.dates[k]), text.thousands(round(v)),
                      s.estimated[k] and " (estimated)" or "")
      end,
    }
    if s.low then
      bands = { { lo = s.low, hi = s.high, color = C.band,
                  label = format("band: %s - %s requests at the month's end", text.thousands(s.band_low),
                                 text.thousands(s.band_high)),
                  legend = "band (" .. chart.short_number(s.band_low) .. " - " .. chart.short_number(s.band_high) .. ")" } }
    end
  end
  local hlines = { { value = s.allowance, color = C.allowance,
                     label = format("allowance: %s requests a month", text.thousands(s.allowance)),
                     legend = "allowance (" .. chart.short_number(s.allowance) .. ")" } }
  local markers = {}
  if s.today then
    markers[#markers + 1] = { k = s.today, color = C.today, label = "today, " .. r.today.label .. " (not counted)" }
  end
  local extra = {}
  if p_of(r) and not s.band_low then extra[#extra + 1] = "no band (too little history)" end
  if r.runs_out then extra[#extra + 1] = "runs out: " .. r.runs_out.label end
  local mtd = r.month_to_date
  local subtitle = format("month to date: %s; %s", mtd.days.count > 0 and mtd.days.label or "no whole day yet",
                          s.projected and ("projection to " .. day_word(r.month.last)) or "no projection")
  return chart.plot {
    title = opts.title or format("Fair-use forecast, %s: requests from the 1st against the allowance", r.month.name),
    subtitle = subtitle, y_label = "requests from the 1st (cumulative)", scale = "linear", n = s.n,
    xlabel = function(k) return tostring(k) end,
    xcaption = format("day of %s (UTC); today, %s, not counted", r.month.name, r.today.label),
    series = series, bands = bands, hlines = hlines, markers = markers,
    legend_title = "requests, " .. r.month.name,
    legend_extra = extra,
    -- (a band and the allowance have entries of their own: a line of text under the series)
  }
end

-- section(result [, opts]) -> the page's forecast: its figures (a table) and its chart. opts.id: the
-- section's id (default "forecast"; its figures' ids start with it: a page with several stays valid)
function M.section(r, opts)
  opts = opts or {}
  local id = opts.id or "forecast"
  local function row(key, label, figure, share, days)
    return format('<tr id="%s-%s"><th>%s</th><td class="n">%s</td><td class="n">%s</td><td>%s</td></tr>\n',
                  id, key, esc(label), esc(figure or ""), esc(share or ""), esc(days or ""))
  end
  local s = M.series(r)
  local mtd, p, a = r.month_to_date, r.projection, r.allowance
  local out = { format('<section id="%s">\n', id),
    format("<h2>Fair-use forecast, %s (%s)</h2>\n", esc(r.month.name), esc(words.clean(r.org))),
    format("<p>Whole UTC days only: today, %s, is not over and not counted.</p>\n", esc(r.today.label)),
    '<table id="' .. id .. '-figures"><thead><tr><th></th><th>requests</th><th>of the allowance</th><th>days</th></tr></thead><tbody>\n' }
  out[#out + 1] = row("allowance", "allowance", words.thousands(a.requests), "", a.label)
  out[#out + 1] = row("month-to-date", "month to date", words.thousands(mtd.requests), words.pct(mtd.share),
    mtd.days.count > 0 and mtd.days.label or ("no whole day of " .. r.month.name .. " yet"))
  if mtd.missing and mtd.missing.count > 0 then
    out[#out + 1] = row("missing", "not in the source", "", "", mtd.missing.label .. " (estimated like the days left)")
  end
  if p then
    out[#out + 1] = row("projection", "projection", words.thousands(p.requests), words.pct(p.share),
      format("%s: %d counted + %d estimated", p.days.label, p.counted.days.count, p.estimated.days.count))
    if p.band then
      out[#out + 1] = row("band", "band", words.thousands(p.band.low) .. " - " .. words.thousands(p.band.high),
        words.pct(p.band.low_share) .. " - " .. words.pct(p.band.high_share), p.band_note or "the quietest and the busiest of the last weeks")
    else
      out[#out + 1] = row("band", "band", "-", "", p.band_note or "")
    end
    out[#out + 1] = row("overage", "overage", words.thousands(r.overage.requests), "",
      r.overage.requests > 0 and ("expected beyond the allowance in " .. r.month.name) or "none expected")
  else
    out[#out + 1] = row("projection", "projection", "-", "", "no projection (see the notes)")
  end
  out[#out + 1] = row("runs-out", "runs out", "", "", words.runs_out(r))
  out[#out + 1] = "</tbody></table>\n"
  out[#out + 1] = (M.svg(r, opts):gsub("^<%?xml[^\n]*\n", ""))
  if r.notes and #r.notes > 0 then
    out[#out + 1] = '<ul id="' .. id .. '-notes">'
    for _, note in ipairs(r.notes) do out[#out + 1] = "<li>" .. esc(note) .. "</li>" end
    out[#out + 1] = "</ul>\n"
  end
  out[#out + 1] = "</section>\n"
  return concat(out), s
end

return M
