-- genesys-usage query: the organization's usage totals, old generation (postUsageQuery, then polled
-- until Complete), by day, week or month.
local flows = require "usage.flows"
local help = require "usage.cli.help"
local call = require "usage.cli.call"
local days = require "usage.cli.days"
local output = require "usage.cli.output"
local connection = require "usage.cli.connection"
local term = require "usage.cli.term"
local listing = require "usage.cli.listing"

local M = { name = "query" }

local FLOW = flows.by_name.query

function M.add_to(parser)
  local cmd = help.command(parser, {
    name = M.name, flow = FLOW,
    about = "Organization usage totals (old-generation query): submit, poll until Complete, print the rows.",
    examples = {
      "--last 7d --group-by OAuthClientId --metric Requests,Status429",
      "--last-month --granularity Week --group-by TemplateUri,HttpMethod --output month.csv",
    },
  })
  call.add_target(cmd, FLOW)
  days.add(cmd)
  call.add_query(cmd, FLOW)
  output.add(cmd, output.ROW_FORMATS)
  connection.add(cmd)
  term.add(cmd)
  return cmd
end

function M.run(args, session)
  listing.run(args, session, FLOW)
end

return M
