-- genesys-usage summary: the daily usage of one OAuth client (getOauthClientUsageSummary, polled until
-- Complete). The API's ?days=N covers today (never complete) and the N-1 days before; with the days
-- flags (--last 7d, --from/--to, ...) the command asks for enough days and keeps the ones asked for.
local run = require "usage.cli.run"
local formats = require "usage.cli.formats"
local failure = require "usage.cli.failure"
local days_mod = require "usage.cli.days"
local interval = require "usage.interval"

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
    ctx.opts.days = string.format("%d", today - ctx.days.first_day + 1)
  else
    local default = ctx.flags.flow.submit_op.query.days.default
    ctx.days = days_mod.recent(tonumber(ctx.opts.days or default), ctx.now)
  end
end

-- The rows of the days the command asked the API for but not the user (today, the days before the first)
-- go silently; any other row dated outside the days is left out by the writer, which says so.
function M.run(ctx)
  local first, last = ctx.days.first, ctx.days.last
  local today = interval.day_of(ctx.now)
  local asked = tonumber(ctx.opts.days or ctx.flags.flow.submit_op.query.days.default) or 1
  local asked_first = interval.date(today - asked + 1)
  local asked_last = interval.date(today)
  return run.rows(ctx, function(row)
    local day = type(row.date) == "string" and row.date:sub(1, 10)
    return not day or (day >= first and day <= last) or day < asked_first or day > asked_last
  end)
end

return M
