-- genesys-usage summary: the daily usage of one OAuth client (getOauthClientUsageSummary, polled until
-- Complete). The API's ?days=N covers today (never complete) and the N-1 days before; with the days
-- flags (--last 7d, --from/--to, ...) the command asks for enough days and keeps the ones asked for.
local flows = require "usage.flows"
local interval = require "usage.base.interval"
local help = require "usage.cli.help"
local call = require "usage.cli.call"
local days_mod = require "usage.cli.days"
local output = require "usage.cli.output"
local connection = require "usage.cli.connection"
local term = require "usage.cli.term"
local listing = require "usage.cli.listing"
local failure = require "usage.cli.failure"

local M = { name = "summary" }

local FLOW = flows.by_name.client_summary

function M.add_to(parser)
  local cmd = help.command(parser, {
    name = M.name, flow = FLOW,
    summary = "Daily usage summary of one OAuth client.",
    about = "Daily usage summary of one OAuth client: with --days N the API's last N days (today included, " ..
            "incomplete), with the days flags (--last 7d, --from/--to, ...) exactly those days.",
    examples = {
      "e1757718-6cd5-497a-8c0a-8a7aa9d882fd --last 7d",
      "e1757718-6cd5-497a-8c0a-8a7aa9d882fd --days 30 --format json",
    },
  })
  call.add_target(cmd, FLOW)
  days_mod.add(cmd)
  call.add_query(cmd, FLOW)
  output.add(cmd, output.ROW_FORMATS)
  connection.add(cmd)
  term.add(cmd)
  return cmd
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

-- the days of the call (listing's adjust): with the days flags, ?days=N large enough for them and the rows
-- kept to them; with ?days=N alone, the days the rows carry
local function adjust(c, now)
  local today = interval.day_of(now)
  local default = FLOW.submit_op.query.days.default
  if c.days then
    if c.opts.days then failure.usage("give --days or the days flags (--last, --from, ...), not both", M.name) end
    -- enough days under both readings of ?days=N (with or without today): the rows are then cut to the days
    if not c.days.empty then c.opts.days = string.format("%d", today - c.days.first_day + 1) end
    -- With the days flags, the rows of the days the command asked the API for but not the user (today, the
    -- days before the first) go silently; any other row dated outside the days is left out by the writer,
    -- which says so.
    local first, last = c.days.first, c.days.last
    local asked = tonumber(c.opts.days or default) or 1
    local asked_first = interval.date(today - asked) -- (?days=N under both readings: ending today or yesterday)
    local asked_last = interval.date(today)
    return function(row)
      local day = type(row.date) == "string" and row.date:sub(1, 10)
      return not day or (day >= first and day <= last) or day < asked_first or day > asked_last
    end
  end
  -- ?days=N as given: whether those N days end today or yesterday is not documented, so the period is
  -- said from the dates of the rows, and only guessed here (for --dry-run and the window note)
  local api_days = tonumber(c.opts.days or default)
  c.days = days_mod.recent(api_days, now)
  c.days_text = string.format("the API's last %d days (?days=%d; whether they end today or yesterday is not " ..
                              "documented: the output names the days of the rows)", api_days, api_days)
  c.window_note = c.window_note or days_mod.window_note(c.days, now)
  -- the period printed is the one of the rows' dates, whatever ?days=N means
  return nil, function(rows, meta)
    local d = days_of_rows(rows, now)
    if d then
      meta.days = d
      meta.header = M.name .. ", the days of the rows for ?days=" .. api_days .. ": " .. days_mod.describe(d)
    else
      meta.days = nil
      meta.header = M.name .. ": no rows for ?days=" .. api_days
    end
    return d
  end
end

function M.run(args, session)
  listing.run(args, session, FLOW, adjust)
end

return M
