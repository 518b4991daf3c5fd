-- genesys-usage query: the organization's usage totals, old generation (postUsageQuery, then polled
-- until Complete), by day, week or month.
local run = require "usage.cli.run"
local formats = require "usage.cli.formats"

return {
  name = "query",
  flow = "query",
  formats = formats.ROW_FORMATS,
  about = "Organization usage totals (old-generation query): submit, poll until Complete, print the rows.",
  examples = {
    "--last 7d --group-by OAuthClientId --metric Requests,Status429",
    "--last-month --granularity Week --group-by TemplateUri,HttpMethod --output month.csv",
  },
  run = function(ctx) return run.rows(ctx) end,
}
