-- usage.cli.days: the days a command covers. Usage data are daily totals in UTC and today is never
-- complete, so every command works on whole UTC days that end at the latest with yesterday:
--   --last Nd | Nw     the N complete days (N weeks) before today; hours and minutes are refused
--   --from DAY [--to DAY]  both days included (--to defaults to yesterday)
--   --yesterday, --this-month (its complete days), --last-month, --month YYYY-MM
--   --interval START/END   dates: both days included, as --from/--to; instants: the days that
--                          [START, END) touches (an END at 00:00 leaves its day out), said in a note
-- Each generation is then sent the interval that means exactly those days (usage.base.interval: `jobs` for
-- the new generation, whose end is inclusive; `query` for the old one, whose end is exclusive).
-- The flags are an option group a command includes:
--   days.add(cmd)                        -- the Days group of an argparse command (one of its flags at most)
--   local d, note = days.read(args, now) -- argparse's result -> Days (usage.base.interval's, + label) and a
--                                        -- note to say | nil (no days flag given); a bad one: a usage error
--   days.given(args)                     -- the name of the days flag given, or nil

local interval = require "usage.base.interval"
local text = require "usage.base.text"
local window = require "usage.api.window"
local failure = require "usage.cli.failure"

local M = {}

local DAY = interval.DAY
local unpack = table.unpack or unpack -- luacheck: ignore (Lua 5.1 / LuaJIT global)

-- the flags, in the order of --help; `value` = the metavariable of flags that take one; each lands in
-- argparse's result under its name in snake_case (--this-month: args.this_month)
local FLAGS = {
  { name = "last", value = "Nd", doc = "the N complete UTC days before today (7d, 30d; 2w = 14 days)" },
  { name = "from", value = "DAY", doc = "the first day, YYYY-MM-DD (with --to: both days included)" },
  { name = "to", value = "DAY", doc = "the last day, YYYY-MM-DD (with --from; default yesterday)" },
  { name = "yesterday", doc = "yesterday (UTC)" },
  { name = "this-month", doc = "the complete days of this month (the 1st to yesterday)" },
  { name = "last-month", doc = "the whole previous month" },
  { name = "month", value = "YYYY-MM", doc = "a whole month (this month: up to yesterday)" },
  { name = "interval", value = "START/END",
    doc = "dates (2026-11-01/2026-11-30, both included) or ISO-8601 instants (rounded to the whole UTC days " ..
          "that [START, END) touches, said on stderr)" },
}
-- the flags that choose the days (one of them at most)
local EXCLUSIVE = { "last", "from", "yesterday", "this-month", "last-month", "month", "interval" }

local function key(name) return (name:gsub("%-", "_")) end

-- add(cmd): the Days group of an argparse command, the flags that choose the days excluding each other
function M.add(cmd)
  local all, by_name = {}, {}
  for i, d in ipairs(FLAGS) do
    local o = d.value and cmd:option("--" .. d.name, d.doc):argname(d.value) or cmd:flag("--" .. d.name, d.doc)
    all[i], by_name[d.name] = o:overwrite(false), o
  end
  cmd:group("Days (whole UTC days; today is never complete)", unpack(all))
  local exclusive = {}
  for i, name in ipairs(EXCLUSIVE) do exclusive[i] = by_name[name] end
  cmd:mutex(unpack(exclusive))
end

-- given(args) -> the name of a days flag given (--to included), or nil
function M.given(args)
  for _, d in ipairs(FLAGS) do
    if args[key(d.name)] ~= nil then return d.name end
  end
  return nil
end

-- empty_month(now) -> the Days of this month on its 1st: no complete day yet (count 0, first the 1st, last
-- the day before: an empty range; no interval to send). That is an answer, not a usage error: a daily cron
-- job with --this-month gets an empty month-to-date on the 1st and exit 0.
local function empty_month(now)
  local today = interval.day_of(now)
  local y, m = interval.civil_from_days(today)
  local month = interval.label(today, today):match("^%d+ (.*)$") -- "December 2026"
  return { first = interval.date(today), last = interval.date(today - 1), first_day = today, last_day = today - 1,
           count = 0, empty = true, month = string.format("%04d-%02d", y, m),
           label = month .. " to date, no complete day yet" }
end

-- "30 November 2026 (UTC, 30 days)"
function M.describe(days)
  if days.empty then return days.label .. " (UTC, 0 days)" end
  local text = days.label .. " (UTC, " .. days.count .. (days.count == 1 and " day" or " days")
  if days.partial then text = text .. "; " .. interval.label(days.last_day, days.last_day) .. " is not over yet" end
  return text .. ")"
end

local function last_days(v, now)
  local n, unit = tostring(v):match("^(%d%d?%d?%d?%d?)([dw])$")
  if not n then
    if tostring(v):match("^%d+[smh]$") then
      return nil, "--last " .. v .. ": usage data are whole UTC days (daily totals, today never complete), so " ..
                  "--last takes days or weeks: 1d, 7d, 30d, 2w"
    end
    return nil, "--last: expected a number of days or weeks such as 7d or 2w, got " .. string.format("%q", v)
  end
  n = tonumber(n) * (unit == "w" and 7 or 1)
  if n < 1 then return nil, "--last: at least one day (1d)" end
  return interval.days(n, now)
end

-- --interval START/END -> Days, note | nil, message
local function interval_days(v, now)
  local a, b = tostring(v):match("^([^/]+)/([^/]+)$")
  if not a then
    return nil, "--interval: expected START/END: two dates such as 2026-11-01/2026-11-30, or two ISO-8601 instants"
  end
  local ta, a_time = interval.parse_instant(a)
  if not ta then return nil, string.format("--interval: the start %q: %s", a, a_time) end
  local tb, b_time = interval.parse_instant(b)
  if not tb then return nil, string.format("--interval: the end %q: %s", b, b_time) end
  local first, last = interval.day_of(ta), interval.day_of(tb)
  if b_time and tb == last * DAY then last = last - 1 end -- an instant at 00:00 ends the day before
  if tb < ta or last < first then return nil, "--interval: the end is before the start (it covers no day)" end
  local days, why = interval.range(interval.date(first), interval.date(last), now)
  if not days then return nil, "--interval: " .. why end
  local rounded = (a_time and ta ~= first * DAY) or (b_time and tb ~= (last + 1) * DAY)
  return days, rounded and ("--interval " .. v .. " counts whole UTC days: " .. M.describe(days)) or nil
end

local function from_to(from, to, now)
  local last = to
  if not last then
    local y = interval.yesterday(now)
    last = y.last
  end
  local days, why = interval.range(from, last, now)
  if not days then return nil, "--from/--to: " .. why end
  return days
end

-- resolve(flags, now) -> Days, note | nil (no day flag given) | false, message (a usage error).
-- flags: argparse's result (this_month = true, last = "7d", ...)
local function resolve(flags, now)
  if flags.to and not flags.from then return false, "--to needs --from" end
  local given
  for _, name in ipairs(EXCLUSIVE) do
    if flags[key(name)] then
      if given then return false, "give only one of --" .. given .. " and --" .. name end
      given = name
    end
  end
  if not given then return nil end
  local days, why
  if given == "last" then days, why = last_days(flags.last, now)
  elseif given == "from" then days, why = from_to(flags.from, flags.to, now)
  elseif given == "yesterday" then days = interval.yesterday(now)
  elseif given == "this-month" or (given == "month" and flags.month == empty_month(now).month) then
    days, why = interval.this_month(now)
    if not days and interval.day_of(now) == interval.parse_date(empty_month(now).month .. "-01") then
      days = empty_month(now)
      return days, "--" .. given .. ": today is the 1st, so " .. days.label ..
                   " (usage is complete up to yesterday): nothing to read, an empty output"
    end
  elseif given == "last-month" then days, why = interval.last_month(now)
  elseif given == "month" then days, why = interval.month(flags.month, now)
  else days, why = interval_days(flags.interval, now) end -- (why: the note of a rounded interval)
  if not days then
    why = tostring(why)
    return false, why:find("^%-%-") and why or ("--" .. given .. ": " .. why)
  end
  return days, why
end

-- read(args, now) -> Days, note (or nil: a rounded --interval, the 1st of a month) | nil: no days flag given.
-- A usage error (exit 2) for days that cannot be read.
-- The longest span a command reads: 100 years of days (from a history store: the API itself serves one
-- year). Every day of a span may become a line, a point or a cell of the output, so a mistyped year
-- (--from 0001-01-01) is a usage error, not a 300 MB chart.
local MAX_SPAN_DAYS = 36525

function M.read(args, now)
  local days, note = resolve(args, now)
  if days == false then failure.usage(note, args.command) end
  if days and days.count and days.count > MAX_SPAN_DAYS then
    failure.usage(string.format("%s: more days than a command reads at once (%s, 100 years): is the year right?",
                                M.describe(days), text.thousands(MAX_SPAN_DAYS)), args.command)
  end
  return days, note
end

-- check_job_start(days, now) -> true | nil, message: an aggregates job starts at most one year ago, read
-- strictly (no earlier than now minus one year, as an instant): the message names the first day it can use
function M.check_job_start(days, now)
  if days.empty then return true end
  local ok = window.check_start(days.first_day * DAY, now)
  if ok then return true end
  local limit = window.one_year_ago(now)
  local first = window.first_allowed_day(now)
  return nil, string.format("the days start on %s, but an aggregates job may start at most one year ago: read " ..
                            "strictly (now minus one year is %s), the first day it can use is %s (--from %s, or " ..
                            "--last %dd)", days.first, interval.format(limit), interval.date(first),
                            interval.date(first), interval.day_of(now) - first)
end

-- window_note(days, now) -> a warning when days of an old-generation query lie past the one-year window,
-- or nil. How far back that generation serves data is not documented: the command neither promises nor
-- refuses those days, it says so.
function M.window_note(days, now)
  if days.empty then return nil end
  local first = window.first_allowed_day(now)
  if days.first_day >= first then return nil end
  return string.format("the days before %s are more than a year ago: how far back this (old-generation) query " ..
                       "serves data is not documented, so rows for them may be missing", interval.date(first))
end

-- recent(n, now) -> the Days of today and the n-1 days before: what the summary's ?days=n covers
function M.recent(n, now)
  local today = interval.day_of(now)
  local d = interval.days_of(today - n + 1, today)
  d.partial = true
  return d
end

return M
