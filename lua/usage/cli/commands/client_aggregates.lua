-- genesys-usage client-aggregates: the usage aggregates job of one OAuth client (new generation), as
-- aggregates; --job ID reads an existing one.
local run = require "usage.cli.run"
local formats = require "usage.cli.formats"

return {
  name = "client-aggregates",
  flow = "client_aggregates",
  formats = formats.ROW_FORMATS,
  aliases = { ["sort-by"] = { "sort" } },
  about = "Usage aggregates job of one OAuth client (new generation), streamed page by page.",
  examples = {
    "e1757718-6cd5-497a-8c0a-8a7aa9d882fd --last 30d --group-by OrganizationId,TemplateUri",
    "e1757718-6cd5-497a-8c0a-8a7aa9d882fd --job 6b1c3e4d-... -f json",
  },
  run = function(ctx) return run.rows(ctx) end,
}
