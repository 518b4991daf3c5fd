-- genesys-usage client-query: the usage of one OAuth client, old generation (postOauthClientUsageQuery,
-- then polled until Complete).
local run = require "usage.cli.run"
local formats = require "usage.cli.formats"

return {
  name = "client-query",
  flow = "client_query",
  formats = formats.ROW_FORMATS,
  about = "Usage of one OAuth client (old-generation query), by day, week or month.",
  examples = {
    "e1757718-6cd5-497a-8c0a-8a7aa9d882fd --last 30d --group-by TemplateUri",
    "--client-id e1757718-6cd5-497a-8c0a-8a7aa9d882fd --yesterday -f json",
  },
  run = function(ctx) return run.rows(ctx) end,
}
