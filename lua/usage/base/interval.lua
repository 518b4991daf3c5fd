-- usage.base.interval: ISO-8601 instants and intervals (START/END), and durations such as "7d".

local M = {}

local floor = math.floor

-- integer division that LuaJIT understands too (it has no // operator)
local function idiv(a, b)
  return floor(a / b)
end

local function days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = idiv((y >= 0 and y or y - 399), 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = idiv((153 * mp + 2), 5) + d - 1
  local doe = yoe * 365 + idiv(yoe, 4) - idiv(yoe, 100) + doy
  return era * 146097 + doe - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = idiv((z >= 0 and z or z - 146096), 146097)
  local doe = z - era * 146097
  local yoe = idiv(doe - idiv(doe, 1460) + idiv(doe, 36524) - idiv(doe, 146096), 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + idiv(yoe, 4) - idiv(yoe, 100))
  local mp = idiv((5 * doy + 2), 153)
  local d = doy - idiv((153 * mp + 2), 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  return m <= 2 and y + 1 or y, m, d
end

local function month_days(y, m)
  local leap = (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0
  return ({ 31, leap and 29 or 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 })[m]
end

-- parse_instant("2025-01-31T10:00:00.000Z") -> unix seconds, has_time | nil, reason
-- ISO 8601 as people write it: a date alone (00:00 UTC), or a date, "T" and HH:MM[:SS[.fff]] with a zone:
-- "Z", "+01", "+0100" or "+01:00" (or none: UTC); "t" and "z" in lower case too; "," as the decimal sign.
-- The result is UTC: an offset is taken away.
function M.parse_instant(s)
  if type(s) ~= "string" then return nil, "not a string" end
  local y, mo, d, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not y then return nil, "expected YYYY-MM-DD" end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo < 1 or mo > 12 or d < 1 or d > month_days(y, mo) then return nil, "no such date" end
  local secs = days_from_civil(y, mo, d) * 86400
  if rest == "" then return secs, false end
  local hh, mi, tail = rest:match("^[Tt](%d%d):(%d%d)(.*)$")
  if not hh then return nil, "expected THH:MM after the date" end
  local ss, frac = 0, 0
  local s2, tail2 = tail:match("^:(%d%d)(.*)$")
  if s2 then
    ss, tail = tonumber(s2), tail2
    local f, tail3 = tail:match("^[%.,](%d+)(.*)$")
    if f then frac, tail = tonumber("0." .. f), tail3 end
  end
  hh, mi = tonumber(hh), tonumber(mi)
  if hh > 23 or mi > 59 or ss > 60 then return nil, "no such time" end
  local offset = 0
  if tail == "Z" or tail == "z" or tail == "" then
    offset = 0
  else
    local sign, oh, om = tail:match("^([+-])(%d%d):?(%d%d)$")
    if not sign then
      sign, oh = tail:match("^([+-])(%d%d)$")
      om = "00"
    end
    if not sign then return nil, "bad time zone (use Z, +HH, +HHMM or +HH:MM)" end
    if tonumber(oh) > 23 or tonumber(om) > 59 then return nil, "bad time zone offset" end
    offset = (tonumber(oh) * 3600 + tonumber(om) * 60) * (sign == "+" and 1 or -1)
  end
  return secs + hh * 3600 + mi * 60 + ss + frac - offset, true
end

-- parse("START/END") -> start, end (unix seconds), info | nil, reason
function M.parse(s)
  if type(s) ~= "string" then return nil, "the interval must be a string START/END" end
  local a, b = s:match("^([^/]+)/([^/]+)$")
  if not a then return nil, "expected START/END, e.g. 2025-01-01T00:00:00Z/2025-02-01T00:00:00Z" end
  local start, why = M.parse_instant(a)
  if not start then return nil, "bad start '" .. a .. "': " .. why end
  local finish, why2 = M.parse_instant(b)
  if not finish then return nil, "bad end '" .. b .. "': " .. why2 end
  return start, finish
end

-- format(unix_seconds [, date_only]) -> "2025-01-31T00:00:00Z" or "2025-01-31"
function M.format(t, date_only)
  t = math.floor(t)
  local days = idiv(t, 86400)
  local rem = t - days * 86400
  local y, m, d = civil_from_days(days)
  if date_only then return string.format("%04d-%02d-%02d", y, m, d) end
  return string.format("%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, idiv(rem, 3600), idiv(rem % 3600, 60), rem % 60)
end

-- format_ms(unix_seconds) -> "2025-01-31T10:00:00.250Z": UTC with milliseconds (the API's documented
-- yyyy-MM-ddTHH:mm:ss.SSSZ), the milliseconds left out when there are none
local function format_ms(t)
  local whole = floor(t)
  local ms = floor((t - whole) * 1000 + 0.5)
  if ms >= 1000 then whole, ms = whole + 1, 0 end
  local text = M.format(whole)
  if ms == 0 then return text end
  return text:sub(1, -2) .. string.format(".%03dZ", ms)
end

-- normalize("START/END") -> "START/END" in UTC | nil, reason. An interval already written in UTC with "Z"
-- (or as dates) comes back as it is; one with offsets or lower-case letters is rewritten in UTC:
-- normalize("2026-11-03t08:00+01/2026-11-04T10:00:00+0100") -> "2026-11-03T07:00:00Z/2026-11-04T09:00:00Z"
local CANONICAL = "^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d[%.%d]*Z$"
function M.normalize(text)
  local start, finish = M.parse(text)
  if not start then return nil, finish end
  local a, b = text:match("^([^/]+)/([^/]+)$")
  local function one(part, t)
    if part:match(CANONICAL) or part:match("^%d%d%d%d%-%d%d%-%d%d$") then return part end
    return format_ms(t)
  end
  return one(a, start) .. "/" .. one(b, finish)
end

local units = { s = 1, m = 60, h = 3600, d = 86400, w = 7 * 86400 }

-- duration("7d") -> 604800 | nil, reason
function M.duration(s)
  local n, u = tostring(s):match("^(%d+)([smhdw]?)$")
  if not n then return nil, "expected a duration such as 90s, 30m, 24h, 7d or 2w" end
  return tonumber(n) * units[u ~= "" and u or "s"]
end

-- last(seconds, now) -> "START/END" ending now (UTC, whole seconds)
function M.last(seconds, now)
  now = math.floor(now or os.time())
  return M.format(now - seconds) .. "/" .. M.format(now)
end

---------------------------------------------------------------------------------------------------
-- Whole UTC days. Usage data is daily aggregates in UTC and today is never complete, so the helpers
-- below build intervals of whole days that end at the latest with yesterday. Each returns a Days table:
--   first, last   "YYYY-MM-DD", both included;  count   the number of days
--   jobs          the interval for the new generation (aggregates jobs), whose start and end are both
--                 inclusive: "FIRSTT00:00:00Z/LASTT23:59:59.999Z"
--   query         the interval for the old generation (query, client query, simple search): the same
--                 "FIRSTT00:00:00Z/LASTT23:59:59.999Z". Whether that generation reads its end as inclusive or
--                 exclusive is not documented (it is said to count the days overlapping [start, end)); an end
--                 at the last millisecond of the last day counts the same days under both readings
--   label         the days in words: "30 November 2026", "1-30 November 2026",
--                 "28 October - 3 November 2026", "28 December 2025 - 3 January 2026"
-- `now` (Unix seconds) defaults to the clock; errors are nil, message.

local DAY = 86400
M.DAY = DAY

local MONTHS = { "January", "February", "March", "April", "May", "June", "July", "August", "September",
                 "October", "November", "December" }

-- day number (days since 1970-01-01) of a Unix time
local function day_of(t) return floor(t / DAY) end
M.day_of = day_of

-- "YYYY-MM-DD" -> day number | nil, reason
function M.parse_date(s)
  if type(s) ~= "string" or not s:match("^%d%d%d%d%-%d%d%-%d%d$") then return nil, "expected a date YYYY-MM-DD" end
  local t, why = M.parse_instant(s)
  if not t then return nil, why end
  return day_of(t)
end

function M.date(day) return M.format(day * DAY, true) end

function M.label(first, last)
  local y1, m1, d1 = civil_from_days(first)
  local y2, m2, d2 = civil_from_days(last)
  if first == last then return string.format("%d %s %d", d1, MONTHS[m1], y1) end
  if y1 == y2 and m1 == m2 then return string.format("%d-%d %s %d", d1, d2, MONTHS[m1], y1) end
  if y1 == y2 then return string.format("%d %s - %d %s %d", d1, MONTHS[m1], d2, MONTHS[m2], y1) end
  return string.format("%d %s %d - %d %s %d", d1, MONTHS[m1], y1, d2, MONTHS[m2], y2)
end

-- the Days of day numbers first..last
local function days(first, last)
  return {
    first = M.date(first), last = M.date(last), count = last - first + 1,
    first_day = first, last_day = last,
    jobs = M.date(first) .. "T00:00:00Z/" .. M.date(last) .. "T23:59:59.999Z",
    query = M.date(first) .. "T00:00:00Z/" .. M.date(last) .. "T23:59:59.999Z",
    label = M.label(first, last),
  }
end

local function today(now) return day_of(now or os.time()) end

-- range("2026-11-01", "2026-11-30" [, now]) -> Days: both days included; a day from today on is refused
function M.range(first, last, now)
  local a, why = M.parse_date(first)
  if not a then return nil, "bad first day '" .. tostring(first) .. "': " .. why end
  local b, why2 = M.parse_date(last)
  if not b then return nil, "bad last day '" .. tostring(last) .. "': " .. why2 end
  if b < a then return nil, "the last day " .. last .. " is before the first day " .. first end
  if b >= today(now) then
    return nil, "the last day " .. last .. " is not over yet (usage is complete up to yesterday, " ..
                M.date(today(now) - 1) .. ", UTC)"
  end
  return days(a, b)
end

-- days(n [, now]) -> the n complete days before today (ending with yesterday)
function M.days(n, now)
  if type(n) ~= "number" or n < 1 or n ~= floor(n) then return nil, "the number of days must be a whole number >= 1" end
  local t = today(now)
  return days(t - n, t - 1)
end

function M.yesterday(now)
  local t = today(now)
  return days(t - 1, t - 1)
end

-- month("2026-11" [, now]) -> the days of that month; the current month up to yesterday
function M.month(text, now)
  local y, m = tostring(text):match("^(%d%d%d%d)%-(%d%d)$")
  y, m = tonumber(y), tonumber(m)
  if not y or m < 1 or m > 12 then return nil, "expected a month YYYY-MM, got '" .. tostring(text) .. "'" end
  local first = days_from_civil(y, m, 1)
  local last = first + month_days(y, m) - 1
  local t = today(now)
  if first >= t then return nil, "the month " .. text .. " has no complete day yet" end
  if last >= t then last = t - 1 end
  return days(first, last)
end

-- this_month([now]) -> the complete days of this month (none on its first day: nil, message)
function M.this_month(now)
  local y, m = civil_from_days(today(now))
  return M.month(string.format("%04d-%02d", y, m), now)
end

function M.last_month(now)
  local y, m = civil_from_days(today(now))
  if m == 1 then y, m = y - 1, 12 else m = m - 1 end
  return M.month(string.format("%04d-%02d", y, m), now)
end

-- covered(text, generation) -> first, last day numbers that an interval counts: the new generation
-- ("jobs") counts every day from the start's through the end's, the old one those overlapping [start, end)
function M.covered(text, generation)
  local a, b = M.parse(text)
  if not a then return nil, b end
  local first, last = day_of(a), day_of(b)
  if generation ~= "jobs" and b == floor(b / DAY) * DAY then last = last - 1 end
  if last < first then return nil, "the interval covers no day" end
  return first, last
end

-- years_before(now, years [, lenient]) -> Unix time `years` calendar years before now: as an instant (the
-- same time of day; 29 February goes to 1 March, the later of the two possible readings), or with lenient
-- the same calendar date at 00:00 UTC (29 February goes to 28). usage.api.window reads the service's window
-- with it.
function M.years_before(now, years, lenient)
  now = now or os.time()
  local day = day_of(now)
  local y, m, d = civil_from_days(day)
  y = y - years
  if m == 2 and d == 29 then
    if lenient then d = 28 else m, d = 3, 1 end
  end
  if lenient then return days_from_civil(y, m, d) * DAY end
  return days_from_civil(y, m, d) * DAY + (now - day * DAY)
end

-- split(first, last, max_days [, granularity]) -> array of { first, last } day numbers: consecutive spans
-- of at most max_days covering first..last; with "Week" or "Month" they end on bucket boundaries (weeks
-- start on Monday, months on the 1st) so that no bucket is cut in two
function M.split(first, last, max_days, granularity)
  local out = {}
  local a = first
  while a <= last do
    local b = math.min(last, a + max_days - 1)
    if b < last and (granularity == "Week" or granularity == "Month") then
      local c = b
      while c >= a do
        local next_day = c + 1
        local starts
        if granularity == "Week" then
          starts = (next_day + 3) % 7 == 0 -- 1970-01-01 was a Thursday: day 4 is a Monday
        else
          local _, _, dd = civil_from_days(next_day)
          starts = dd == 1
        end
        if starts then break end
        c = c - 1
      end
      if c >= a then b = c end -- (a bucket never exceeds max_days, so a boundary is always found)
    end
    out[#out + 1] = { first = a, last = b }
    a = b + 1
  end
  return out
end

M.days_of = days
M.days_from_civil = days_from_civil
M.civil_from_days = civil_from_days

---------------------------------------------------------------------------------------------------
-- Periods to compare with. A span of whole days (a Days table) and the span a report compares it with:
--   previous_period(d)  the same number of days just before: 1-30 November -> 2-31 October
--   previous_year(d)    the same dates one year earlier: 1-30 November 2026 -> 1-30 November 2025. Each end
--                       moves to the same calendar date a year back, except around 29 February:
--                         29 February becomes 28 February (the year before has none), and
--                         28 February, the last day of a February of 28 days, becomes 29 February when the
--                         year before is a leap year,
--                       so that the last day of February stays the last day of February: a whole February
--                       compares with the whole February before it (1-28 February 2029 with 1-29 February
--                       2028; 1-29 February 2028 with 1-28 February 2027), and a whole month or year with
--                       the whole month or year before. The two periods then differ by that one day, and
--                       both are labelled with their days.
--   compare_period(d, how) how = "previous-period" | "previous-year" (also previous_period, previous_year)
-- Each returns a Days table (first, last, count, first_day, last_day, jobs, query, label), or nil, message
-- for something that is no span or no known comparison.

local function leap(y) return (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0 end

-- year_before(day) -> the day number of the same calendar date one year earlier (see above)
function M.year_before(day)
  local y, m, d = civil_from_days(day)
  if m == 2 and d == 29 then return days_from_civil(y - 1, 2, 28) end
  if m == 2 and d == 28 and leap(y - 1) then return days_from_civil(y - 1, 2, 29) end
  return days_from_civil(y - 1, m, d)
end

-- the day numbers of a Days table (or of { first = "YYYY-MM-DD", last = ... })
local function span_days(d)
  if type(d) ~= "table" then return nil, "expected a span of days (a Days table: first, last)" end
  local a, b = d.first_day, d.last_day
  if type(a) ~= "number" or type(b) ~= "number" then
    local why
    a, why = M.parse_date(d.first)
    if not a then return nil, "bad first day '" .. tostring(d.first) .. "': " .. why end
    b, why = M.parse_date(d.last)
    if not b then return nil, "bad last day '" .. tostring(d.last) .. "': " .. why end
  end
  if b < a then return nil, "the last day " .. M.date(b) .. " is before the first day " .. M.date(a) end
  return a, b
end

-- span(first, last) -> the Days of any span of whole days (dates "YYYY-MM-DD", or day numbers), today and
-- later included (a store or a comparison may need them; interval.range refuses them)
function M.span(first, last)
  local a, b = span_days { first = first, last = last, first_day = type(first) == "number" and first or nil,
                           last_day = type(last) == "number" and last or nil }
  if not a then return nil, b end
  return days(a, b)
end

function M.previous_period(d)
  local a, b = span_days(d)
  if not a then return nil, b end
  local n = b - a + 1
  return days(a - n, a - 1)
end

function M.previous_year(d)
  local a, b = span_days(d)
  if not a then return nil, b end
  return days(M.year_before(a), M.year_before(b))
end

M.COMPARE = { "previous-period", "previous-year" }

function M.compare_period(d, how)
  if how == "previous-period" or how == "previous_period" then return M.previous_period(d) end
  if how == "previous-year" or how == "previous_year" then return M.previous_year(d) end
  return nil, "unknown comparison '" .. tostring(how) .. "' (previous-period or previous-year)"
end

return M
