-- genesys-usage aggregates: the organization's usage aggregates job (new generation): submitted (one
-- job per 90 days at most: the library splits longer spans), polled until Succeeded, every page streamed.
-- --job ID reads an existing job instead (its id is printed on stderr when it starts).
local flows = require "usage.flows"
local listing = require "usage.cli.listing"

return listing.command {
  name = "aggregates", flow = flows.by_name.aggregates,
  about = "Organization usage aggregates job (new generation): poll until Succeeded, stream every page.",
  examples = {
    "--last 30d --group-by OauthClientId --sort-by requestCount:Desc",
    "--from 2026-03-01 --to 2026-03-31 --group-by TemplateUri --http-method GET --output march.csv --bom",
    "--last 180d --group-by OauthClientId,TemplateUri --output usage.ndjson",
    "--job 6b1c3e4d-... --format csv",
  },
  aliases = { ["sort-by"] = { "sort" } },
  store = true,
}
