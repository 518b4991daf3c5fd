-- genesys-usage metrics: the Prometheus text exposition (usage.prometheus) of the usage per OAuth client
-- for the last complete UTC day and for the month to date, with the collector's figures and what the
-- client saw. Month to date is the 1st of yesterday's month through yesterday, so on the 1st of a month
-- it is still the whole previous month. One aggregates job by day over the month to date gives both
-- periods (yesterday is its last day). With --output FILE the file is replaced atomically, as
-- node_exporter's textfile collector needs; a failed run leaves it as it was.
local core = require "usage.core"
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
  more = "Write them for node_exporter's textfile collector with --output (atomic). A failed run exits non-zero " ..
         "(75: try again later, 77: credentials or permission, 1: anything else) and leaves the file as it was: " ..
         "alert on the age of genesys_usage_collect_success_timestamp_seconds.",
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
  local plan, why = prometheus.plan { now = ctx.now }
  if not plan then failure.usage(why, M.name) end
  ctx.plan = plan
  ctx.days = plan.month
  local ok, err = days_mod.check_job_start(ctx.days, ctx.now)
  if not ok then failure.usage(err, M.name) end
  ctx.days_text = "last complete day " .. plan.day.label .. "; month to date " .. days_mod.describe(ctx.days)
end

function M.calls(ctx)
  return { { flow = flows.by_name.aggregates, params = {}, name = "metrics", opts = {},
             body = prometheus.job_body(ctx.plan) } }
end

function M.run(ctx)
  local started = core.now()
  local acc = prometheus.periods(ctx.plan)
  run.each_page(ctx, run.start(ctx, M.calls(ctx)[1]), function(rows) acc:add_rows(rows) end)
  ctx.term:done()
  local exact, why = acc:exact()
  if not exact then failure.runtime(why) end -- (a wrong total is never published; the file stays as it was)
  local periods = acc:result()
  local problems = {}
  local text = prometheus.render {
    usage = { day = periods.day, month = periods.month },
    collector = { success_timestamp = core.time(), duration = core.now() - started, errors = 0 },
    client = ctx.client:stats(),
    max_clients = ctx.options["max-clients"],
    problems = problems,
  }
  if problems[1] then failure.runtime(problems[1]) end
  ctx.out.fh:write(text)
end

return M
