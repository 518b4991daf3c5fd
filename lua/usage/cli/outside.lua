-- usage.cli.outside: rows dated outside the days a command asked for. A server may send rows of other
-- days (a bug, a lie, a job read with the wrong days): printed, they would be read as the days the output
-- names, and summed into its totals. They are left out, and counted, so that the command can say on
-- stderr how many there were and which dates they carried:
--   genesys-usage: left out 2 rows dated outside 24-30 November 2026 (UTC): 2020-01-01, 2026-12-05
-- A row is inside when its date (YYYY-MM-DD, or an instant on that day) is one of the days; with
-- granularity Week or Month, when the week (7 days from its date) or the calendar month of its date
-- overlaps the days (a bucket may start before the first day). A row without a date, or with one that is
-- no date, is outside.
--   local f = outside.new(days, granularity)   -- days: usage.cli.days' Days (first_day, last_day, label)
--   if f:keep(row.date) then ... end
--   local note = f:note()                      -- nil when nothing was left out

local interval = require "usage.base.interval"
local sanitize = require "usage.base.sanitize"

local M = {}

local SHOWN = 10 -- dates listed in the note (then "and N more")

local Filter = {}
Filter.__index = Filter

function M.new(days, granularity)
  return setmetatable({ first = days.first_day, last = days.last_day, label = days.label,
                        granularity = granularity or "Day", count = 0, dates = {}, distinct = 0, seen = {} }, Filter)
end

-- the day number of a row's date, or nil when it is none
local function day_of(date)
  if type(date) ~= "string" then return nil end
  local y, m, d = date:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)")
  if not y then return nil end
  local rest = date:sub(11)
  if rest ~= "" and not rest:match("^T[%d:%.]+Z$") and not rest:match("^T[%d:%.]+[%+%-]00:?00$") then return nil end
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  local day = interval.days_from_civil(y, m, d)
  local y2, m2, d2 = interval.civil_from_days(day)
  if y2 ~= y or m2 ~= m or d2 ~= d then return nil end -- 2026-02-31
  return day, y, m
end

-- the last day of the bucket that starts on `day`
local function bucket_end(self, day, y, m)
  if self.granularity == "Week" then return day + 6 end
  if self.granularity == "Month" then
    local ny, nm = y, m + 1
    if nm == 13 then ny, nm = y + 1, 1 end
    return interval.days_from_civil(ny, nm, 1) - 1
  end
  return day
end

-- keep(date) -> true when a row of that date belongs to the days; else it is counted as left out
function Filter:keep(date)
  local day, y, m = day_of(date)
  if day and day <= self.last and bucket_end(self, day, y, m) >= self.first then return true end
  self.count = self.count + 1
  local shown = type(date) == "string" and sanitize.display(date:sub(1, 40)) or "(no date)"
  if not self.seen[shown] then
    self.seen[shown] = true
    self.distinct = self.distinct + 1
    if #self.dates < 1000 then self.dates[#self.dates + 1] = shown end
  end
  return false
end

-- note() -> the line for stderr (without the program's name), or nil when no row was left out
function Filter:note()
  if self.count == 0 then return nil end
  table.sort(self.dates)
  local list = {}
  for i = 1, math.min(#self.dates, SHOWN) do list[i] = self.dates[i] end
  local more = self.distinct - #list
  return string.format("left out %d row%s dated outside %s (UTC): %s%s", self.count, self.count == 1 and "" or "s",
                       self.label, table.concat(list, ", "),
                       more > 0 and string.format(" and %d more date%s", more, more == 1 and "" or "s") or "")
end

return M
