-- genesys-usage summary: the daily usage of one OAuth client (getOauthClientUsageSummary, polled until
-- Complete). The API's ?days=N covers today (never complete) and the N-1 days before; with the days
-- flags (--last 7d, --from/--to, ...) the command asks for enough days and keeps the ones asked for.
local run = require "usage.cli.run"
local formats = require "usage.cli.formats"
local failure = require "usage.cli.failure"
local days_mod = require "usage.cli.days"
local interval = require "usage.base.interval"

local M = {
  name = "summary",
  flow = "client_summary",
  formats = formats.ROW_FORMATS,
  days = "optional",
  summary = "Daily usage summary of one OAuth client.",
  about = "Daily usage summary of one OAuth client: with --days N the API's last N days (today included, " ..
          "incomplete), with the days flags (--last 7d, --from/--to, ...) exactly those days.",
  examples = {
    "e1757718-6cd5-497a-8c0a-8a7aa9d882fd --last 7d",
    "e1757718-6cd5-497a-8c0a-8a7aa9d882fd --days 30 --format json",
  },
}

function M.prepare(ctx)
  local today = interval.day_of(ctx.now)
  if ctx.days then
    if ctx.opts.days then failure.usage("give --days or the days flags (--last, --from, ...), not both", M.name) end
    -- enough days under both readings of ?days=N (with or without today): the rows are then cut to the days
    if not ctx.days.empty then ctx.opts.days = string.format("%d", today - ctx.days.first_day + 1) end
  else
    -- ?days=N as given: whether those N days end today or yesterday is not documented, so the period is
    -- said from the dates of the rows (M.run), and only guessed here (for --dry-run and the window note)
    local default = ctx.flags.flow.submit_op.query.days.default
    ctx.api_days = tonumber(ctx.opts.days or default)
    ctx.days = days_mod.recent(ctx.api_days, ctx.now)
    ctx.days_from_rows = true
    ctx.days_text = string.format("the API's last %d days (?days=%d; whether they end today or yesterday is not " ..
                                  "documented: the output names the days of the rows)", ctx.api_days, ctx.api_days)
    ctx.window_note = ctx.window_note or days_mod.window_note(ctx.days, ctx.now)
  end
end

-- the Days of the dates the rows carry (nil without a dated row)
local function days_of_rows(rows, now)
  local first, last
  for _, row in ipairs(rows) do
    local day = type(row.date) == "string" and interval.parse_date(row.date:sub(1, 10))
    if day then
      if not first or day < first then first = day end
      if not last or day > last then last = day end
    end
  end
  if not first then return nil end
  local d = interval.days_of(first, last)
  d.partial = last >= interval.day_of(now) or nil -- (today's figures are never complete)
  return d
end

-- With the days flags, the rows of the days the command asked the API for but not the user (today, the
-- days before the first) go silently; any other row dated outside the days is left out by the writer,
-- which says so.
function M.run(ctx)
  if ctx.days_from_rows then
    -- the period printed is the one of the rows' dates, whatever ?days=N means
    return run.rows(ctx, nil, function(rows)
      local d = days_of_rows(rows, ctx.now)
      if d then
        ctx.meta.days = d
        ctx.meta.header = M.name .. ", the days of the rows for ?days=" .. ctx.api_days .. ": " .. days_mod.describe(d)
      else
        ctx.meta.days = nil
        ctx.meta.header = M.name .. ": no rows for ?days=" .. ctx.api_days
      end
      ctx.days = d or ctx.days
    end)
  end
  local first, last = ctx.days.first, ctx.days.last
  local today = interval.day_of(ctx.now)
  local asked = tonumber(ctx.opts.days or ctx.flags.flow.submit_op.query.days.default) or 1
  local asked_first = interval.date(today - asked) -- (?days=N under both readings: ending today or yesterday)
  local asked_last = interval.date(today)
  return run.rows(ctx, function(row)
    local day = type(row.date) == "string" and row.date:sub(1, 10)
    return not day or (day >= first and day <= last) or day < asked_first or day > asked_last
  end)
end

return M
