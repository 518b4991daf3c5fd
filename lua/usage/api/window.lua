-- usage.api.window: the days an aggregates job may start on. The service refuses a start "more than a year
-- ago" (usage.api.limits.WINDOW_YEARS); the documentation leaves open whether that is a date or now minus a
-- year as an instant (docs/service.md, "Readings the documentation leaves open"), and the client takes the
-- strict one: every interval it builds starts at or after now minus a year. The public API gives these
-- functions as usage.interval.one_year_ago, first_allowed_day, one_year, check_start and one_year_before.

local interval = require "usage.base.interval"
local limits = require "usage.api.limits"

local M = {}

local DAY = interval.DAY

-- one_year_before(now) -> Unix time of the same calendar date a year back, 00:00 UTC (29 February -> 28):
-- the lenient reading of the limit (a date), kept for callers; the library itself takes the strict one
function M.one_year_before(now)
  return interval.years_before(now, limits.WINDOW_YEARS, true)
end

-- one_year_ago(now) -> Unix time of now minus a year, as an instant (the strict reading); 29 February goes
-- to 1 March
function M.one_year_ago(now)
  return interval.years_before(now, limits.WINDOW_YEARS)
end

-- first_allowed_day(now) -> the day number of the first whole UTC day that starts no earlier than
-- one_year_ago(now): the first day an interval the client builds may begin with
function M.first_allowed_day(now)
  local t = M.one_year_ago(now)
  local day = interval.day_of(t)
  if day * DAY < t then day = day + 1 end
  return day
end

-- one_year(now) -> the Days an aggregates job may cover now, read strictly: first_allowed_day(now) through
-- yesterday (364 or 365 days; the longest backfill a client can build)
function M.one_year(now)
  return interval.days_of(M.first_allowed_day(now), interval.day_of(now or os.time()) - 1)
end

-- check_start(start [, now]) -> true | nil, message, first_day: the strict reading of "the start cannot be
-- more than a year ago" for a start given as Unix seconds: no earlier than one_year_ago(now). The message
-- names the first whole UTC day that may start an interval (first_day, "YYYY-MM-DD").
function M.check_start(start, now)
  now = now or os.time()
  local limit = M.one_year_ago(now)
  if start >= limit then return true end
  local first = interval.date(M.first_allowed_day(now))
  return nil, string.format("starts on %s, more than a year ago: an aggregates job may start at most one year " ..
                            "ago (read strictly: not before %s, now minus one year), so the first whole day it can " ..
                            "use is %s", interval.format(start, start % DAY == 0), interval.format(limit), first), first
end

return M
