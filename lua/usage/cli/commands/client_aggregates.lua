-- genesys-usage client-aggregates: the usage aggregates job of one OAuth client (new generation), as
-- aggregates; --job ID reads an existing one.
local flows = require "usage.flows"
local help = require "usage.cli.help"
local call = require "usage.cli.call"
local days = require "usage.cli.days"
local output = require "usage.cli.output"
local connection = require "usage.cli.connection"
local term = require "usage.cli.term"
local listing = require "usage.cli.listing"

local M = { name = "client-aggregates" }

local FLOW = flows.by_name.client_aggregates

function M.add_to(parser)
  local cmd = help.command(parser, {
    name = M.name, flow = FLOW,
    about = "Usage aggregates job of one OAuth client (new generation), streamed page by page.",
    examples = {
      "e1757718-6cd5-497a-8c0a-8a7aa9d882fd --last 30d --group-by OrganizationId,TemplateUri",
      "e1757718-6cd5-497a-8c0a-8a7aa9d882fd --job 6b1c3e4d-... -f json",
    },
  })
  call.add_target(cmd, FLOW)
  days.add(cmd)
  call.add_query(cmd, FLOW, { aliases = { ["sort-by"] = { "sort" } } })
  output.add(cmd, output.ROW_FORMATS)
  connection.add(cmd)
  term.add(cmd)
  return cmd
end

function M.run(args, session)
  listing.run(args, session, FLOW)
end

return M
