-- genesys-usage client-query: the usage of one OAuth client, old generation (postOauthClientUsageQuery,
-- then polled until Complete).
local flows = require "usage.flows"
local listing = require "usage.cli.listing"

return listing.command {
  name = "client-query", flow = flows.by_name.client_query,
  about = "Usage of one OAuth client (old-generation query), by day, week or month.",
  examples = {
    "e1757718-6cd5-497a-8c0a-8a7aa9d882fd --last 30d --group-by TemplateUri",
    "--client-id e1757718-6cd5-497a-8c0a-8a7aa9d882fd --yesterday -f json",
  },
}
