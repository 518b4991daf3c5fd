-- genesys-usage client-aggregates: the usage aggregates job of one OAuth client (new generation), as
-- aggregates; --job ID reads an existing one.
local flows = require "usage.flows"
local listing = require "usage.cli.listing"

return listing.command {
  name = "client-aggregates", flow = flows.by_name.client_aggregates,
  about = "Usage aggregates job of one OAuth client (new generation), streamed page by page.",
  examples = {
    "e1757718-6cd5-497a-8c0a-8a7aa9d882fd --last 30d --group-by OrganizationId,TemplateUri",
    "e1757718-6cd5-497a-8c0a-8a7aa9d882fd --job 6b1c3e4d-... -f json",
  },
  aliases = { ["sort-by"] = { "sort" } },
}
