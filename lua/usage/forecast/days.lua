-- usage.forecast.days: sets of whole UTC days (day numbers, as usage.base.interval counts them: days since
-- 1970-01-01), their labels, and the forms in which a source says which days it holds.

local interval = require "usage.base.interval"
local json = require "usage.base.json"

local M = {}

local floor = math.floor

M.WEEKDAYS = { "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday" }

-- weekday(day) -> 1 (Monday) .. 7 (Sunday); 1970-01-01, day 0, was a Thursday
function M.weekday(day)
  return (day + 3) % 7 + 1
end

-- the first and last day numbers of the month of a day, and its name ("March 2026")
local MONTHS = { "January", "February", "March", "April", "May", "June", "July", "August", "September",
                 "October", "November", "December" }
function M.month_of(day)
  local y, m = interval.civil_from_days(day)
  local first = interval.days_from_civil(y, m, 1)
  local ny, nm = y, m + 1
  if nm == 13 then ny, nm = y + 1, 1 end
  local last = interval.days_from_civil(ny, nm, 1) - 1
  return first, last, MONTHS[m] .. " " .. y
end

-- day_label(day) -> "15 March 2026"
function M.day_label(day)
  return interval.label(day, day)
end

-- runs(sorted day numbers) -> array of { first, last }
local function runs(list)
  local out = {}
  for _, d in ipairs(list) do
    local r = out[#out]
    if r and d == r[2] + 1 then r[2] = d else out[#out + 1] = { d, d } end
  end
  return out
end

local function plural(n, word)
  return n .. " " .. word .. (n == 1 and "" or "s")
end
M.plural = plural

--[[ set(list) -> a Days object for JSON and labels, from an array of day numbers (any order, no repeats):
  { count, first, last ("YYYY-MM-DD", absent when empty),
    dates (array of "YYYY-MM-DD", only when the days have gaps: else they are first..last),
    label ("1-14 March 2026 (14 days)", "1-4 March 2026, 7-14 March 2026 (12 days)", "no day") }
]]
function M.set(list)
  local sorted = {}
  for i, d in ipairs(list) do sorted[i] = d end
  table.sort(sorted)
  local n = #sorted
  local dates = json.array()
  for i, d in ipairs(sorted) do dates[i] = interval.date(d) end
  if n == 0 then return { count = 0, dates = dates, label = "no day" } end
  local rs = runs(sorted)
  local label
  if #rs <= 8 then
    -- runs within one month share its name: "1-9, 11-14 March 2026"; groups of months apart by "; "
    local groups, last_month = {}, nil
    for _, r in ipairs(rs) do
      local y1, m1, d1 = interval.civil_from_days(r[1])
      local y2, m2, d2 = interval.civil_from_days(r[2])
      if y1 == y2 and m1 == m2 then
        local part = d1 == d2 and tostring(d1) or (d1 .. "-" .. d2)
        local month = MONTHS[m1] .. " " .. y1
        if last_month == month then
          local g = groups[#groups]
          g[#g + 1] = part
        else
          groups[#groups + 1] = { part, month = month }
        end
        last_month = month
      else
        groups[#groups + 1] = { interval.label(r[1], r[2]) }
        last_month = nil
      end
    end
    local parts = {}
    for i, g in ipairs(groups) do parts[i] = table.concat(g, ", ") .. (g.month and " " .. g.month or "") end
    label = table.concat(parts, "; ")
  else
    label = interval.label(sorted[1], sorted[n]) .. " without " .. plural(sorted[n] - sorted[1] + 1 - n, "day")
  end
  return {
    count = n, first = interval.date(sorted[1]), last = interval.date(sorted[n]),
    dates = (#rs > 1) and dates or nil,
    label = label .. " (" .. plural(n, "day") .. ")",
  }
end

-- range(first, last) -> array of the day numbers first..last (empty when last < first)
function M.range(first, last)
  local out = {}
  for d = first, last do out[#out + 1] = d end
  return out
end

local function date_day(s, what)
  local d = type(s) == "string" and interval.parse_date(s)
  if not d then
    error("usage.forecast: " .. what .. " must be a date YYYY-MM-DD, got " .. string.format("%q", tostring(s)), 4)
  end
  return d
end

--[[ known(spec, first, last) -> table day -> true for the days of first..last that the source holds.
  spec:
    nil                        every day of first..last (the API: a job over those days covers each of them,
                               a day without rows is a day without requests)
    function(date) -> boolean  asked for each "YYYY-MM-DD"
    { first =, last = }        one span of days, both included (a usage.interval Days table fits)
    { "2026-03-01", ... }      an array of dates
    { { first =, last = }, ... }  an array of spans
    { ["2026-03-01"] = true, ... }  a set of dates
  A malformed spec raises (it is the caller's programming error, not data).
]]
function M.known(spec, first, last)
  local out = {}
  if spec == nil then
    for d = first, last do out[d] = true end
    return out
  end
  local function add_span(a, b)
    local fa, fb = date_day(a, "known.first"), date_day(b, "known.last")
    for d = math.max(fa, first), math.min(fb, last) do out[d] = true end
  end
  if type(spec) == "function" then
    for d = first, last do
      if spec(interval.date(d)) then out[d] = true end
    end
    return out
  end
  if type(spec) ~= "table" then
    error("usage.forecast: known must be nil, a function or a table, got " .. type(spec), 3)
  end
  if spec.first ~= nil or spec.last ~= nil then
    add_span(spec.first, spec.last)
    return out
  end
  if #spec > 0 then
    for _, item in ipairs(spec) do
      if type(item) == "table" then
        add_span(item.first, item.last)
      else
        local d = date_day(item, "an item of known")
        if d >= first and d <= last then out[d] = true end
      end
    end
    return out
  end
  for k, v in pairs(spec) do
    local d = date_day(k, "a key of known")
    if v and d >= first and d <= last then out[d] = true end
  end
  return out
end

-- the same number, rounded to the nearest whole request (halves up)
function M.round(x)
  return floor(x + 0.5)
end

return M
