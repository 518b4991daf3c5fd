-- genesys-usage metrics: the Prometheus text exposition (usage.prometheus) of the usage per OAuth client
-- for the last complete UTC day and for the month to date, with the collector's figures and what the
-- client saw. Month to date is the 1st of yesterday's month through yesterday, so on the 1st of a month
-- it is still the whole previous month. One aggregates job by day over the month to date gives both
-- periods (yesterday is its last day). With --output FILE the file is replaced atomically, as
-- node_exporter's textfile collector needs; a failed run leaves it as it was.
local core = require "usage.core"
local interval = require "usage.interval"
local flows = require "usage.flows"
local prometheus = require "usage.prometheus"
local run = require "usage.cli.run"
local flags = require "usage.cli.flags"
local failure = require "usage.cli.failure"
local days_mod = require "usage.cli.days"

local M = {
  name = "metrics",
  summary = "Prometheus metrics of the usage per OAuth client (yesterday, month to date).",
  about = "Prometheus metrics of the usage per OAuth client: the last complete UTC day and the month to date " ..
          "(the 1st of yesterday's month through yesterday: on the 1st of a month, the whole previous month), " ..
          "the collector's figures and the client's own (requests, retries, 429s, logins, rate-limit headers).",
  more = "Write them for node_exporter's textfile collector with --output (atomic). A failed run exits 1 and " ..
         "leaves the file as it was: alert on the age of genesys_usage_collect_success_timestamp_seconds.",
  examples = {
    "--verbose",
    "--output /var/lib/prometheus/node-exporter/genesys_usage.prom --quiet",
  },
  extra = {
    { name = "max-clients", arg = "N", convert = flags.number("max-clients", { min = 1, max = 1e6 }, true),
      doc = string.format("at most N OAuth-client series per period; the rest are summed as client_id=\"other\" " ..
                          "(default %d)", prometheus.DEFAULT_MAX_CLIENTS) },
  },
}

function M.prepare(ctx)
  local yesterday = interval.yesterday(ctx.now)
  ctx.yesterday = yesterday
  ctx.days = interval.month(yesterday.first:sub(1, 7), ctx.now)
  local ok, why = days_mod.check_job_start(ctx.days, ctx.now)
  if not ok then failure.usage(why, M.name) end
  ctx.days_text = "last complete day " .. yesterday.label .. "; month to date " .. days_mod.describe(ctx.days)
end

function M.calls(ctx)
  return { { flow = flows.by_name.aggregates, params = {}, name = "metrics", opts = {},
             body = { interval = ctx.days.jobs, granularity = "Day", groupBy = { "OauthClientId", "OauthClientName" } } } }
end

function M.run(ctx)
  local started = core.now()
  local day, month = prometheus.client_totals(), prometheus.client_totals()
  local yesterday = ctx.yesterday.first
  run.each_page(ctx, run.start(ctx, M.calls(ctx)[1]), function(rows)
    for _, row in ipairs(rows) do
      month:add(row)
      if type(row.date) == "string" and row.date:sub(1, 10) == yesterday then day:add(row) end
    end
  end)
  ctx.term:done()
  ctx.out.fh:write(prometheus.render {
    usage = {
      day = { first = yesterday, last = yesterday, clients = day:clients() },
      month = { first = ctx.days.first, last = ctx.days.last, clients = month:clients() },
    },
    collector = { success_timestamp = core.time(), duration = core.now() - started, errors = 0 },
    client = ctx.client:stats(),
    max_clients = ctx.options["max-clients"],
  })
end

return M
