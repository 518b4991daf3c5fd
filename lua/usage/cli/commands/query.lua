-- genesys-usage query: the organization's usage totals, old generation (postUsageQuery, then polled
-- until Complete), by day, week or month.
local flows = require "usage.flows"
local listing = require "usage.cli.listing"

return listing.command {
  name = "query", flow = flows.by_name.query,
  about = "Organization usage totals (old-generation query): submit, poll until Complete, print the rows.",
  examples = {
    "--last 7d --group-by OAuthClientId --metric Requests,Status429",
    "--last-month --granularity Week --group-by TemplateUri,HttpMethod --output month.csv",
  },
}
